"""Staff tokens and residents' secrets: shown once, stored as digests, checked exactly.

The `minwon token` tests run the command in-process against the app on a SQLite
store (tests.support.api), logged in as whoever issues, and then read the store's
file byte by byte: the token must not be in it. `minwon admin bootstrap` opens the
store itself, as it does on the server host.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from application.service import Complaints
from cli.main import main
from domain.calendar import SEOUL
from domain.credentials import AccessToken, ResidentSecret, token_digest, token_id_of
from domain.tokens import token_ids_of
from tests.support.api import ApiServer, api_server
from tests.support.samples import kst

MONDAY = kst("2026-09-21T10:00")


def test_a_token_admits_only_itself_until_it_expires_or_is_revoked() -> None:
    token, text = AccessToken.issue(staff="lee.service", issued_by="han.ops", at=MONDAY, days=30)

    assert token_id_of(text) == token.token_id
    assert token.admits(text, MONDAY + timedelta(days=29))
    assert not token.admits(text + "x", MONDAY)
    assert not token.admits(text, MONDAY + timedelta(days=30))
    token.revoke(by="han.ops", at=MONDAY + timedelta(days=1))
    assert not token.admits(text, MONDAY + timedelta(days=2))
    assert [type(e).__name__ for e in token.collect_events()] == ["Issued", "Revoked"]


def test_a_resident_secret_admits_what_residents_type_and_nothing_else() -> None:
    record, secret = ResidentSecret.issue(uuid.uuid4())
    typed = f"  {secret.lower().replace('-', ' ')} "

    assert record.admits(secret) and record.admits(typed)
    assert not record.admits(secret[:-1] + ("0" if secret[-1] != "0" else "1"))
    assert not record.admits("")
    assert secret not in str(vars(record)) and record.digest != secret


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "events.db"
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.sqlite")
    monkeypatch.setenv("SQLITE_DBNAME", str(path))
    monkeypatch.delenv("MINWON_TOKEN", raising=False)
    return path


@pytest.fixture
def server(store: Path) -> Iterator[ApiServer]:
    with api_server() as running:
        yield running


def test_minwon_token_issue_prints_the_token_once_and_stores_only_its_digest(
    store: Path,
    server: ApiServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.login(monkeypatch, "han.ops")
    assert main(["token", "issue", "--staff", "lee.service"]) == 0
    printed = capsys.readouterr()
    text = printed.out.strip()

    token_id = token_id_of(text)
    assert token_id is not None and printed.out.count("\n") == 1
    assert f"minwon token revoke {token_id}" in printed.err
    stored = store.read_bytes()
    assert text.encode() not in stored
    assert text.split("_")[-1].encode() not in stored
    token: AccessToken = server.complaints.repository.get(AccessToken.create_id(token_id))
    assert (token.staff, token.issued_by, token.digest) == (
        "lee.service",
        "han.ops",
        token_digest(text),
    )


def test_minwon_token_revoke_ends_a_token_and_refuses_an_unknown_id(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server.login(monkeypatch, "jung.director")
    main(["token", "issue", "--staff", "han.ops"])
    token_id = token_id_of(capsys.readouterr().out.strip())
    assert token_id is not None

    server.login(monkeypatch, "han.ops")
    assert main(["token", "revoke", token_id]) == 0
    assert capsys.readouterr().out.strip() == f"token {token_id} of han.ops revoked"
    assert main(["token", "revoke", "000000000000"]) == 2
    assert capsys.readouterr().err.strip() == "minwon: no token with id 000000000000"


def test_minwon_token_is_issued_only_to_someone_on_the_roster_or_in_the_directory(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server.login(monkeypatch, "han.ops")
    assert main(["token", "issue", "--staff", "stranger"]) == 2
    assert "neither in the staff directory nor on today's roster" in capsys.readouterr().err
    assert token_ids_of(server.complaints, "stranger") == []


@pytest.mark.parametrize(
    ("command", "actor", "refusal"),
    [
        (["token", "issue", "--staff", "choi.tour"], None, "not logged in"),
        (["token", "issue", "--staff", "choi.tour"], "lee.service", "may not manage tokens"),
        (["token", "issue", "--staff", "choi.tour"], "yoon.audit", "may not manage tokens"),
        (["token", "revoke", "000000000000"], "kim.casemgr", "may not manage tokens"),
        (["token", "issue", "--staff", "park.officer"], "han.ops", "issued by the director"),
        (["token", "issue", "--staff", "jung.director"], "han.ops", "issued by the director"),
    ],
)
def test_only_ops_or_the_director_issue_or_revoke_tokens_and_only_the_director_the_strongest(
    server: ApiServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    actor: str | None,
    refusal: str,
) -> None:
    target = command[-1] if command[1] == "issue" else None
    before = token_ids_of(server.complaints, target) if target else []
    if actor:
        server.login(monkeypatch, actor)
    assert main(command) == 2
    assert refusal in capsys.readouterr().err
    if target:
        assert token_ids_of(server.complaints, target) == before


# -- minwon admin bootstrap: the first token, on the server host ------------------------------


def test_bootstrap_prints_a_first_token_for_ops_once_and_records_who_ran_it(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["admin", "bootstrap", "--staff", "han.ops"]) == 0
    printed = capsys.readouterr()
    text = printed.out.strip()
    token_id = token_id_of(text)
    assert token_id is not None and text.startswith("mwt_")
    assert "minwon login" in printed.err
    # While han.ops holds a valid token, a second bootstrap is refused…
    assert main(["admin", "bootstrap", "--staff", "han.ops"]) == 2
    assert f"already holds 1 valid token(s) ({token_id})" in capsys.readouterr().err
    # …unless forced, which the token's record says.
    assert main(["admin", "bootstrap", "--staff", "han.ops", "--force"]) == 0
    forced = token_id_of(capsys.readouterr().out.strip())
    app = Complaints()
    try:
        first: AccessToken = app.repository.get(AccessToken.create_id(token_id))
        again: AccessToken = app.repository.get(AccessToken.create_id(str(forced)))
        assert first.issued_by.startswith("admin-bootstrap:")
        assert again.issued_by.startswith("admin-bootstrap-forced:")
        assert first.admits(text, datetime.now(SEOUL))
    finally:
        app.close()


def test_bootstrap_is_only_for_the_director_or_ops(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for staff in ("lee.service", "park.officer", "stranger"):
        assert main(["admin", "bootstrap", "--staff", staff]) == 2
        assert "holds neither the director's nor ops' role" in capsys.readouterr().err
    app = Complaints()
    try:
        assert all(token_ids_of(app, staff) == [] for staff in ("lee.service", "park.officer"))
    finally:
        app.close()
