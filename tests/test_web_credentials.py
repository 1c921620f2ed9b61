"""Staff tokens and residents' secrets: shown once, stored as digests, checked exactly.

The `minwon token` tests run the command in-process on a SQLite store and then
read the store's file byte by byte: the token must not be in it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from cli.main import main
from domain.service import Complaints
from tests.conftest import kst
from web.credentials import AccessToken, ResidentSecret, token_digest, token_id_of

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
    return path


def test_minwon_token_issue_prints_the_token_once_and_stores_only_its_digest(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "issue", "--staff", "lee.service", "--actor", "han.ops"]) == 0
    printed = capsys.readouterr()
    text = printed.out.strip()

    token_id = token_id_of(text)
    assert token_id is not None and printed.out.count("\n") == 1
    assert f"minwon token revoke {token_id}" in printed.err
    stored = store.read_bytes()
    assert text.encode() not in stored
    assert text.split("_")[-1].encode() not in stored
    app = Complaints()
    try:
        token: AccessToken = app.repository.get(AccessToken.create_id(token_id))
    finally:
        app.close()
    assert (token.staff, token.issued_by, token.digest) == (
        "lee.service",
        "han.ops",
        token_digest(text),
    )


def test_minwon_token_revoke_ends_a_token_and_refuses_an_unknown_id(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["token", "issue", "--staff", "han.ops", "--actor", "jung.director"])
    token_id = token_id_of(capsys.readouterr().out.strip())
    assert token_id is not None

    assert main(["token", "revoke", token_id, "--actor", "han.ops"]) == 0
    assert capsys.readouterr().out.strip() == f"token {token_id} of han.ops revoked"
    assert main(["token", "revoke", "000000000000", "--actor", "han.ops"]) == 2
    assert capsys.readouterr().err.strip() == "minwon: no token with id 000000000000"


def test_minwon_token_is_issued_only_to_someone_on_the_roster_or_in_the_directory(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "issue", "--staff", "stranger", "--actor", "han.ops"]) == 2
    assert "neither in the staff directory nor on today's roster" in capsys.readouterr().err
    app = Complaints()
    try:
        issued = app.recorder.select_notifications(
            start=1, limit=100, topics=["web.credentials:AccessToken.Issued"]
        )
    finally:
        app.close()
    assert issued == []


@pytest.mark.parametrize(
    ("command", "actor", "refusal"),
    [
        (["token", "issue", "--staff", "lee.service"], None, "who is acting?"),
        (["token", "issue", "--staff", "lee.service"], "lee.service", "may not manage tokens"),
        (["token", "issue", "--staff", "lee.service"], "yoon.audit", "may not manage tokens"),
        (["token", "revoke", "000000000000"], "kim.casemgr", "may not manage tokens"),
        (["token", "issue", "--staff", "lee.service"], "system", "the engine's own actor"),
    ],
)
def test_only_ops_or_the_director_issue_or_revoke_tokens(
    store: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    actor: str | None,
    refusal: str,
) -> None:
    monkeypatch.delenv("MINWON_ACTOR", raising=False)
    assert main([*command, *(["--actor", actor] if actor else [])]) == 2
    assert refusal in capsys.readouterr().err
    app = Complaints()
    try:
        issued = app.recorder.select_notifications(
            start=1, limit=100, topics=["web.credentials:AccessToken.Issued"]
        )
    finally:
        app.close()
    assert issued == []
