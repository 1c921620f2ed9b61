"""`minwon audit replay | verify | export` on a real event store, SQLite and PostgreSQL.

Every command goes through `cli.main.main` to the API app in process
(tests.support.api), which opens the store the environment names, as the server
would; the command is logged in as the auditor yoon.audit unless a test says
otherwise. Tampering goes straight to the stored rows, as in test_persistence.
Temporal is left unreachable here (a port nothing listens on), so `verify` checks
the chains and says the tails were not checked; the anchored tail check is in
test_audit_anchor.
"""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from application.service import Complaints
from cli.main import main
from domain.audit import (
    Anchor,
    ChainCheck,
    Head,
    check_tail,
)
from domain.chain import event_digest
from domain.complaint import Complaint
from domain.disclosure import mask_contact, mask_text, masked
from domain.receipt import ReceiptIndex
from tests.support.api import ApiServer, api_server
from tests.support.audit import CONTACT, TEXT, AuditedCase, file_audited_case, flip_a_digit
from tests.support.samples import kst, sample_intake
from tests.support.stores import StoredRows


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Minwon = Callable[..., Run]


@pytest.fixture
def server(store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiServer]:
    """The API on the test's store, its Temporal unreachable, the command logged in
    as an auditor on the roster."""
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{closed_port}")
    monkeypatch.setenv("MINWON_PAYLOAD_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
    with api_server() as running:
        running.login(monkeypatch, "yoon.audit")
        yield running


@pytest.fixture
def minwon(server: ApiServer, capsys: pytest.CaptureFixture[str]) -> Minwon:
    """`minwon(*args)`: the console command in this process, against the test's server."""
    capsys.readouterr()

    def run(*args: str) -> Run:
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def audited(complaints: Complaints) -> AuditedCase:
    return file_audited_case(complaints)


# -- replay ------------------------------------------------------------------------------


def test_replay_lists_every_event_in_order_with_its_moment_actor_and_masked_personal_data(
    audited: AuditedCase, minwon: Minwon
) -> None:
    text = minwon("audit", "replay", audited.code)
    document = minwon("audit", "replay", audited.code, "--json")

    assert text.code == document.code == 0
    rows = document.json()["rows"]
    assert [row["version"] for row in rows] == list(range(1, 11))
    assert [(row["event"], row["actor"], row["moment"]) for row in rows] == [
        ("Received", "intake", "2026-09-21T10:00:00+09:00"),
        ("CommitmentStarted", "system", "2026-09-21T10:00:00+09:00"),
        ("Assigned", "system", "2026-09-21T10:00:00+09:00"),
        ("Reassigned", "han.ops", "2026-09-21T11:00:00+09:00"),
        ("InterimReplySent", "kim.casemgr", "2026-09-28T14:00:00+09:00"),
        # Recorded by the same command as the interim reply: the same actor.
        ("CommitmentExtended", "kim.casemgr", "2026-09-28T14:00:00+09:00"),
        ("ApologyMade", "park.officer", "2026-09-29T10:00:00+09:00"),
        ("ApologyMade", "park.officer", "2026-09-30T10:00:00+09:00"),
        ("Answered", "kim.casemgr", "2026-10-05T15:30:00+09:00"),
        ("CommitmentMet", "kim.casemgr", "2026-10-05T15:30:00+09:00"),
    ]
    assert rows[0]["details"]["contact"] == "홍** 010-****-5678"
    assert rows[0]["details"]["text"] == f"[가림: {len(TEXT)}자]"
    assert rows[4]["details"]["reason"] == "외부 기관 확인이 필요합니다"
    assert document.json()["state"]["contact"] == "홍** 010-****-5678"
    lines = text.out.splitlines()
    assert lines[0].startswith(f"{audited.code} (case {audited.case_id}): 10 events")
    assert "personal data masked" in lines[0]
    assert re.match(r"\s*4\s+2026-09-21T11:00:00\+09:00\s+han\.ops\s+Reassigned\s", lines[8])
    for output in (text.out, document.out):
        assert "010-1234-5678" not in output and TEXT not in output and "홍길동" not in output


def test_replay_shows_the_clocks_as_they_stood_after_each_event(
    audited: AuditedCase, minwon: Minwon
) -> None:
    rows = minwon("audit", "replay", audited.code, "--json").json()["rows"]

    def reply_clock(version: int) -> dict[str, Any]:
        (clock,) = [c for c in rows[version - 1]["clocks"] if c["kind"] == "reply"]
        return clock

    assert rows[0]["clocks"] == []
    assert reply_clock(2)["due"] == "2026-10-01T18:00:00+09:00"
    # The interim reply itself leaves the clock; the extension that follows moves it.
    assert reply_clock(5)["due"] == "2026-10-01T18:00:00+09:00"
    assert (reply_clock(6)["due"], reply_clock(6)["extensions"]) == ("2026-10-08T18:00:00+09:00", 1)
    assert reply_clock(9)["status"] == "open"
    assert (reply_clock(10)["status"], reply_clock(10)["met_at"]) == (
        "met",
        "2026-10-05T15:30:00+09:00",
    )
    text = minwon("audit", "replay", audited.code).out
    assert "clocks: reply open due 2026-10-08T18:00+09:00" in text
    assert "clocks: reply met due 2026-10-08T18:00+09:00" in text


def test_replay_reveals_personal_data_only_when_asked(
    audited: AuditedCase, minwon: Minwon, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = minwon("audit", "replay", audited.code, "--show-personal", "--json").json()

    assert shown["personal_data"] == "shown"
    assert shown["rows"][0]["details"]["contact"] == CONTACT
    assert shown["rows"][0]["details"]["text"] == TEXT
    assert shown["state"]["text"] == TEXT
    with pytest.raises(SystemExit):
        main(["audit", "replay", "--help"])
    assert "each reveal is written to the access log" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("moment", "version"),
    [
        ("2026-09-28T13:59+09:00", 4),  # just before the interim reply
        ("2026-09-28T14:00+09:00", 6),  # the interim reply and its extension
        ("2026-09-28T05:00+00:00", 6),  # the same instant in UTC
        ("2026-10-01T12:00+09:00", 8),
    ],
)
def test_replay_as_of_a_moment_agrees_with_complaints_as_of(
    audited: AuditedCase, minwon: Minwon, open_complaints: Callable[[], Complaints],
    moment: str, version: int,
) -> None:  # fmt: skip
    expected = open_complaints().as_of(audited.case_id, datetime.fromisoformat(moment))

    document = minwon("audit", "replay", audited.code, "--as-of", moment, "--json").json()

    assert expected.version == version
    assert [row["version"] for row in document["rows"]] == list(range(1, version + 1))
    assert_state_is(document["state"], expected)
    assert document["up_to"]["version"] == version
    assert document["stored_events"] == 10


@pytest.mark.parametrize("version", [1, 5, 6, 10])
def test_replay_up_to_a_version_agrees_with_get_case(
    audited: AuditedCase, minwon: Minwon, open_complaints: Callable[[], Complaints], version: int
) -> None:
    expected = open_complaints().get_case(audited.case_id, version=version)

    document = minwon("audit", "replay", audited.code, "--version", str(version), "--json").json()
    text = minwon("audit", "replay", audited.code, "--version", str(version)).out

    assert [row["version"] for row in document["rows"]] == list(range(1, version + 1))
    assert_state_is(document["state"], expected)
    assert f"up to version {version} of 10" in text.splitlines()[0]
    assert f"state after version {version} " in text


def assert_state_is(state: dict[str, Any], case: Complaint) -> None:
    assert state["version"] == case.version
    assert state["status"] == case.status
    assert state["assignee"] == case.assignee
    assert state["head_digest"] == case.head_digest
    assert state["apologies"] == len(case.apologies)
    assert [(c["kind"], c["status"], c["due"], c["extensions"]) for c in state["commitments"]] == [
        (c.kind, c.status, c.due.isoformat(), c.extensions) for c in case.commitments.values()
    ]


def test_replay_refuses_a_moment_before_the_case_and_a_version_beyond_it(
    audited: AuditedCase, minwon: Minwon
) -> None:
    before = minwon("audit", "replay", audited.code, "--as-of", "2026-09-21T09:59+09:00")
    beyond = minwon("audit", "replay", audited.code, "--version", "11")
    unknown = minwon("audit", "replay", "MW-00000-00000")

    for run in (before, beyond, unknown):
        assert run.code == 2 and run.out == ""
        assert len(run.err.splitlines()) == 1 and run.err.startswith("minwon: ")
    assert "did not exist" in before.err
    assert "no version 11" in beyond.err
    assert "no case with receipt code MW-00000-00000" in unknown.err


def test_a_staff_member_who_is_not_an_auditor_is_refused_a_replay(
    audited: AuditedCase, server: ApiServer, minwon: Minwon, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.login(monkeypatch, "lee.service")

    run = minwon("audit", "replay", audited.code)

    assert (run.code, run.out) == (2, "")
    assert run.err.startswith("minwon: refused: ") and "may not audit" in run.err


def accesses(minwon: Minwon, code: str) -> list[dict[str, str]]:
    """The access log's entries for the person who filed `code`, as the auditor lists them."""
    listing = minwon("audit", "access", "--case", code, "--json")
    assert listing.code == 0, listing
    entries: list[dict[str, str]] = listing.json()["entries"]
    return entries


def test_a_replay_showing_personal_data_is_logged_as_read_by_the_tokens_holder_from_the_api(
    audited: AuditedCase, minwon: Minwon
) -> None:
    masked = minwon("audit", "replay", audited.code)
    shown = minwon("audit", "replay", audited.code, "--show-personal")

    assert masked.code == shown.code == 0
    assert CONTACT in shown.out and CONTACT not in masked.out
    # The masked replay revealed nothing, so only the second one is in the log.
    (entry,) = accesses(minwon, audited.code)
    assert entry["actor"] == "yoon.audit"
    assert entry["action"] == "audit replay --show-personal"
    assert entry["case_id"] == str(audited.case_id)
    assert entry["origin"].startswith("api:")


def test_a_private_case_is_refused_to_the_director_who_audits_but_may_not_see_it(
    complaints: Complaints, server: ApiServer, minwon: Minwon, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The director holds the audit permission, but private cases and personal data are
    # for the case's own people, the designated officer and auditors (domain.access).
    private = complaints.file(sample_intake(private=True, contact=CONTACT, text=TEXT))
    server.login(monkeypatch, "jung.director")

    shown = minwon("audit", "replay", private.receipt_code, "--show-personal")
    masked = minwon("audit", "replay", private.receipt_code)

    for run in (shown, masked):
        assert (run.code, run.out) == (2, "")
        assert run.err.startswith("minwon: refused: ") and "private (비공개)" in run.err
    server.login(monkeypatch, "yoon.audit")
    assert accesses(minwon, private.receipt_code) == []


def test_the_director_sees_a_public_cases_history_masked_but_not_its_personal_data(
    audited: AuditedCase, server: ApiServer, minwon: Minwon, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.login(monkeypatch, "jung.director")

    masked = minwon("audit", "replay", audited.code)
    shown = minwon("audit", "export", audited.code, "--format", "csv", "--show-personal")

    assert masked.code == 0 and "personal data masked" in masked.out
    assert (shown.code, shown.out) == (2, "")
    assert shown.err.startswith("minwon: refused: personal data is shown to")
    server.login(monkeypatch, "yoon.audit")
    assert accesses(minwon, audited.code) == []


# -- export ------------------------------------------------------------------------------


def test_export_as_csv_parses_with_the_csv_module_and_has_the_replayed_rows(
    audited: AuditedCase,
    minwon: Minwon,
    tmp_path: Path,
    open_complaints: Callable[[], Complaints],
) -> None:
    target = tmp_path / "case.csv"

    run = minwon("audit", "export", audited.code, "--format", "csv", "--output", str(target))
    to_stdout = minwon("audit", "export", audited.code, "--format", "csv")

    assert run.code == 0 and f"wrote 10 events of {audited.code}" in run.out
    # utf-8-sig: the file starts with a byte-order mark so Excel reads 한글.
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert rows == list(csv.DictReader(io.StringIO(to_stdout.out)))
    replayed = minwon("audit", "replay", audited.code, "--json").json()["rows"]
    assert [(r["version"], r["moment"], r["actor"], r["event"]) for r in rows] == [
        (str(r["version"]), r["moment"], r["actor"], r["event"]) for r in replayed
    ]
    assert 'contact="홍** 010-****-5678"' in rows[0]["details"]
    assert "010-1234-5678" not in target.read_text(encoding="utf-8-sig")
    assert rows[5]["clocks"] == "reply open due 2026-10-08T18:00+09:00"
    # Each row carries its event's chain digest, to hold the export against the store later.
    stored = open_complaints().history(audited.case_id)
    assert [r["digest"] for r in rows] == [event_digest(e) for e in stored]


def test_export_as_json_parses_and_reveals_personal_data_only_when_asked(
    audited: AuditedCase, minwon: Minwon, tmp_path: Path
) -> None:
    masked = minwon("audit", "export", audited.code, "--format", "json").json()
    target = tmp_path / "case.json"
    minwon(
        "audit", "export", audited.code, "--format", "json", "--output", str(target),
        "--show-personal", "--version", "6",
    )  # fmt: skip
    shown = json.loads(target.read_text(encoding="utf-8"))

    assert [row["version"] for row in masked["rows"]] == list(range(1, 11))
    assert all(len(row["digest"]) == 64 for row in masked["rows"])
    assert masked["rows"][0]["details"]["contact"] == "홍** 010-****-5678"
    assert [row["version"] for row in shown["rows"]] == list(range(1, 7))
    assert shown["rows"][0]["details"]["contact"] == CONTACT
    assert "홍길동" in target.read_text(encoding="utf-8")  # ensure_ascii=False


# -- verify --------------------------------------------------------------------------------


def test_verify_all_on_a_store_of_intact_cases_exits_zero_with_one_line(
    complaints: Complaints, minwon: Minwon
) -> None:
    for _ in range(3):
        file_audited_case(complaints)
    complaints.file(sample_intake())

    run = minwon("audit", "verify", "--all")

    assert run.code == 0, run
    assert re.fullmatch(
        r"4 cases verified, chains intact; "
        r"tail not checked \(Temporal unreachable at 127\.0\.0\.1:\d+\)\n",
        run.out,
    )


def test_verify_one_intact_case_by_receipt_code_or_case_id(
    audited: AuditedCase, minwon: Minwon
) -> None:
    by_code = minwon("audit", "verify", audited.code.lower().replace("-", " "))
    by_id = minwon("audit", "verify", str(audited.case_id), "--no-tail")

    assert by_code.code == by_id.code == 0
    assert by_code.out.startswith("1 case verified, chains intact; tail not checked (Temporal")
    assert by_id.out == "1 case verified, chains intact; tail not checked (--no-tail)\n"


def forge_insert(app: Complaints, rows: StoredRows, case: AuditedCase) -> None:
    """Insert a well-formed event after version middle-1, its digest link correct,
    and move the later events up by one."""
    before = app.get_case(case.case_id, version=case.middle - 1)
    before.make_apology(
        mode="public", by="forger", note="forged", at=kst("2026-09-28T15:00"), command_id="forged"
    )
    (forged,) = before.collect_events()
    stored = app.mapper.to_stored_event(forged)
    for version in range(case.last, case.middle - 1, -1):
        rows.set_version(case.case_id, version, version + 1)
    rows.insert(case.case_id, case.middle, stored.topic, stored.state)


def digest_at(app: Complaints, case_id: uuid.UUID, version: int) -> str:
    (found,) = [e for e in app.history(case_id) if e.originator_version == version]
    return event_digest(found)


@pytest.fixture
def rows(store_env: dict[str, str]) -> StoredRows:
    return StoredRows(store_env)


def tamper(how: str, app: Complaints, rows: StoredRows, case: AuditedCase) -> None:
    middle = case.middle
    if how == "changed byte":
        rows.set_state(case.case_id, middle, flip_a_digit(rows.state(case.case_id, middle)))
    elif how == "undecodable":
        rows.set_state(case.case_id, middle, b"#" + rows.state(case.case_id, middle)[1:])
    elif how == "deleted":
        rows.delete(case.case_id, middle)
    elif how == "reordered":
        first, second = rows.state(case.case_id, middle), rows.state(case.case_id, middle + 1)
        rows.set_state(case.case_id, middle, second)
        rows.set_state(case.case_id, middle + 1, first)
    elif how == "forged insert":
        forge_insert(app, rows, case)
    else:
        raise AssertionError(how)


# how, where the break is reported (relative to the middle event), what is wrong
TAMPERINGS = [
    ("changed byte", 1, "previous-event digest does not match"),
    ("undecodable", 0, "previous-event digest does not match"),
    ("deleted", 0, "event missing or out of order"),
    ("reordered", 0, "previous-event digest does not match"),
    ("forged insert", 1, "previous-event digest does not match"),
]


@pytest.mark.parametrize(("how", "offset", "problem"), TAMPERINGS, ids=[t[0] for t in TAMPERINGS])
def test_verify_catches_tampering_with_a_middle_event_at_the_right_version(
    complaints: Complaints,
    open_complaints: Callable[[], Complaints],
    rows: StoredRows,
    minwon: Minwon,
    how: str,
    offset: int,
    problem: str,
) -> None:
    cases = [file_audited_case(complaints) for _ in range(3)]
    victim = cases[1]
    reader = open_complaints()
    digest_before = digest_at(reader, victim.case_id, victim.middle - 1)
    digest_of_middle = digest_at(reader, victim.case_id, victim.middle)

    tamper(how, complaints, rows, victim)
    one = minwon("audit", "verify", victim.code)
    every = minwon("audit", "verify", "--all")

    expected_version = victim.middle + offset
    for run in (one, every):
        assert run.code == 1, run
        broken = [line for line in run.out.splitlines() if "BROKEN" in line]
        assert broken == [
            f"{victim.code} (case {victim.case_id}): BROKEN at version {expected_version}: "
            f"{problem}"
        ]
    assert every.out.splitlines()[-1].startswith("3 cases verified: 1 broken, 2 intact")
    assert one.out.splitlines()[-1] == "1 case verified: 1 broken, 0 intact"
    expected_line, found_line = one.out.splitlines()[1:3]
    if how == "changed byte":
        assert found_line.split()[-1] == digest_of_middle  # what version middle+1 carries
        assert expected_line.split()[-1] != digest_of_middle
    elif how == "reordered":
        # The later event now in its place carries the digest of the middle one, or,
        # if its personal fields are sealed to their place, no longer opens at all.
        assert expected_line.split()[-1] == digest_before
        assert found_line.split()[-1] == digest_of_middle or "<undecodable:" in found_line
    elif how == "deleted":
        assert (expected_line.split()[-2:], found_line.split()[-2:]) == (
            ["version", str(victim.middle)],
            ["version", str(victim.middle + 1)],
        )
    elif how == "undecodable":
        assert "<undecodable:" in found_line
    assert reader.verify(victim.case_id) is not None  # the service agrees
    assert all(reader.verify(case.case_id) is None for case in (cases[0], cases[2]))


def test_verify_json_reports_the_broken_link_for_machines(
    complaints: Complaints, rows: StoredRows, minwon: Minwon
) -> None:
    cases = [file_audited_case(complaints) for _ in range(2)]
    tamper("deleted", complaints, rows, cases[0])

    run = minwon("audit", "verify", "--all", "--json")

    assert run.code == 1
    document = run.json()
    assert (document["verified"], document["intact"]) == (2, False)
    assert document["broken"] == [
        {
            "case_id": str(cases[0].case_id),
            "receipt_code": cases[0].code,
            "where": "chain",
            "version": cases[0].middle,
            "problem": "event missing or out of order",
            "expected": f"version {cases[0].middle}",
            "found": f"version {cases[0].middle + 1}",
        }
    ]


def test_verify_all_finds_a_case_whose_events_were_all_deleted_through_its_receipt_code(
    complaints: Complaints, rows: StoredRows, minwon: Minwon
) -> None:
    intact, wiped = file_audited_case(complaints), file_audited_case(complaints)
    for version in range(1, wiped.last + 1):
        rows.delete(wiped.case_id, version)

    run = minwon("audit", "verify", "--all")

    assert run.code == 1
    assert f"{wiped.code} (case {wiped.case_id}): BROKEN at version 1: the case has no events" in (
        run.out
    )
    assert intact.code not in run.out
    assert run.out.splitlines()[-1].startswith("2 cases verified: 1 broken, 1 intact")


def test_verify_all_finds_a_case_whose_receipt_index_was_deleted(
    complaints: Complaints, rows: StoredRows, minwon: Minwon
) -> None:
    intact, orphan = file_audited_case(complaints), file_audited_case(complaints)
    rows.delete(ReceiptIndex.create_id(orphan.code), 1)

    run = minwon("audit", "verify", "--all")

    assert run.code == 1
    assert (
        f"{orphan.code} (case {orphan.case_id}): BROKEN at version 1: receipt index: "
        "its receipt code does not lead to it"
    ) in run.out
    assert intact.code not in run.out
    assert run.out.splitlines()[-1].startswith("2 cases verified: 1 broken, 1 intact")


def test_without_the_anchor_a_changed_last_event_passes_the_chain_and_the_tail_is_not_checked(
    audited: AuditedCase, rows: StoredRows, minwon: Minwon
) -> None:
    # The limit the anchor closes (test_audit_anchor): the chain alone cannot see it.
    rows.set_state(audited.case_id, audited.last, flip_a_digit(rows.state(audited.case_id, 10)))

    run = minwon("audit", "verify", audited.code)

    assert run.code == 0
    assert "tail not checked (Temporal unreachable" in run.out


def test_verify_needs_a_code_or_all(minwon: Minwon) -> None:
    run = minwon("audit", "verify")

    assert (run.code, run.err) == (2, "minwon: give a receipt code or --all\n")


# -- the pure pieces -------------------------------------------------------------------------


def test_contacts_keep_only_what_identifies_nobody() -> None:
    assert mask_contact("010-1234-5678") == "010-****-5678"
    assert mask_contact("홍길동 010-1234-5678") == "홍** 010-****-5678"
    assert mask_contact("01012345678") == "010****5678"
    assert mask_contact("hong@example.org") == "h***@example.org"
    assert mask_text("민원 내용") == "[가림: 5자]"
    assert masked("text", "[erased]") == "[erased]"  # an erased person stays erased
    assert masked("contact", "010-1234-5678") == "010-****-5678"


def anchor(version: int, digest: str = "d" * 64, **flags: bool) -> Anchor:
    return Anchor(
        version,
        digest,
        flags.get("final", False),
        flags.get("in_flight", False),
        "running workflow",
    )


def chain(head: int, *after: str, at_anchor: str = "d" * 64) -> ChainCheck:
    """An intact chain ending at `head`; `after` names the events after the anchor."""
    return ChainCheck(None, Head(head, at_anchor if not after else "f" * 64), at_anchor, after)


def test_the_tail_check_tells_a_store_behind_changed_or_ahead_of_its_anchor() -> None:
    assert check_tail(anchor(10), chain(10)).status == "matched"
    assert check_tail(anchor(10, ""), chain(10, at_anchor="x")).status == "matched"  # old view
    changed = check_tail(anchor(10), chain(10, at_anchor="e" * 64)).broken
    assert changed is not None and (changed.version, changed.found) == (10, "e" * 64)
    removed = check_tail(anchor(12), chain(10, at_anchor="")).broken
    assert removed is not None and removed.version == 11
    assert "2 event(s) missing at the end" in removed.problem
    ahead = chain(10, "ApologyMade", "ApologyMade")
    assert check_tail(anchor(8, in_flight=True), ahead).status == "in_flight"
    appended = check_tail(anchor(8), ahead).broken
    assert appended is not None and appended.version == 9
    assert appended.problem == "2 event(s) after the last one the workflow recorded"
    assert check_tail(anchor(8, final=True, in_flight=True), ahead).status == "broken"
    # A notice's delivery record is saved by an activity that does not update the view.
    assert check_tail(anchor(9), chain(10, "NoticeSent")).status == "matched_before"
    # The notice outbox delivers a clock's notices, or gives them up, outside the workflow.
    outbox = check_tail(anchor(8), chain(10, "NoticeSent", "NoticeFailed"))
    assert outbox.status == "matched_before"
    assert "(NoticeFailed, NoticeSent) are not anchored" in outbox.note
    # A queued notice is the workflow's own record: one it never saw is a break.
    assert check_tail(anchor(9), chain(10, "NoticeQueued")).status == "broken"
