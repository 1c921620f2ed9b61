"""A case's events declared on the class keep what the records written before say.

`tests/fixtures/store-f4c181d.db` was written by `tests/fixtures/write_events.py` at
f4c181d, when the events were made by `@event("…")` in domain/complaint.py: five cases
that between them record every event class a case has, one with its person erased.
`store-f4c181d.json` keeps the key-encryption key and what that code made of each case
(its head digest, the audit replay's rows and state, the text `minwon audit replay`
showed). Today's code, whose events are classes nested in `Complaint` in the package
domain/complaint/, must read them the same, append to them in the same chain, and
store a new record under the same topic, with the same fields in the same order.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic, resolve_topic

from application.service import Complaints
from cli.main import main
from domain import audit
from domain.commands import AddNote
from domain.complaint import Complaint
from domain.personal_data import FIELDS
from privacy.kek import KEK_ENV
from tests.fixtures.write_events import record_cases
from tests.support.api import api_without_temporal
from tests.support.samples import kst
from web.audit import History, render_history

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STORE = FIXTURES / "store-f4c181d.db"
EXPECTED = json.loads((FIXTURES / "store-f4c181d.json").read_text(encoding="utf-8"))
CASES: dict[str, dict[str, Any]] = EXPECTED["cases"]
OLD_MODULE = "domain.complaint"


def open_copy(folder: Path) -> Complaints:
    # A copy: tests append to it, and the fixture must stay as it was written.
    path = folder / "events.db"
    shutil.copy(STORE, path)
    return Complaints(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            KEK_ENV: EXPECTED[KEK_ENV],
        }
    )


@pytest.fixture
def old_store(tmp_path: Path) -> Iterator[Complaints]:
    app = open_copy(tmp_path)
    yield app
    app.close()


def case_id(intake_ref: str) -> uuid.UUID:
    return uuid.UUID(CASES[intake_ref]["case_id"])


def stored_layout(path: Path) -> dict[str, list[tuple[str, int, list[str]]]]:
    """Each case's records, by intake reference: topic, version and the state's keys
    in their stored order."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events "
            "WHERE topic LIKE 'domain.complaint:%' ORDER BY originator_id, originator_version"
        ).fetchall()
    by_case: dict[str, list[tuple[str, int, list[str]]]] = {}
    refs: dict[str, str] = {}
    for originator, version, topic, state in rows:
        keys = list(json.loads(state))
        if version == 1:
            refs[originator] = json.loads(state)["intake_ref"]
        by_case.setdefault(originator, []).append((topic, version, keys))
    return {refs[originator]: records for originator, records in by_case.items()}


# -- the classes ---------------------------------------------------------------------------


def event_classes() -> dict[str, type[Any]]:
    return {
        name: value
        for name in dir(Complaint)
        if isinstance(value := getattr(Complaint, name), type)
        and issubclass(value, Aggregate.Event)
        and name not in ("Event", "Created")
    }


def test_every_event_class_names_the_topic_its_records_have_always_had() -> None:
    classes = event_classes()

    # The table of personal data names every event a case has: each is declared here.
    assert {f"Complaint.{name}" for name in classes} == {
        name for name in FIELDS if name.startswith("Complaint.")
    }
    assert get_topic(Complaint) == f"{OLD_MODULE}:Complaint"
    for name, event_class in classes.items():
        topic = f"{OLD_MODULE}:Complaint.{name}"
        assert event_class.__qualname__ == f"Complaint.{name}"
        assert get_topic(event_class) == topic
        assert resolve_topic(topic) is event_class
        assert issubclass(event_class, Complaint.Event)
    # The library's name for an aggregate's first event is a case's `Received`.
    assert Complaint.Created is Complaint.Received


# -- the store written at f4c181d ------------------------------------------------------------


@pytest.mark.parametrize("intake_ref", sorted(CASES))
def test_every_case_of_the_f4c181d_store_loads_verifies_and_replays_as_it_did(
    old_store: Complaints, intake_ref: str
) -> None:
    expected = CASES[intake_ref]
    stored = old_store.recorder.select_events(case_id(intake_ref))

    case = old_store.get_case(case_id(intake_ref))
    replayed = audit.replay(audit.stored_events(old_store, case.id), show_personal=True)

    assert [record.topic for record in stored] == expected["topics"]
    assert old_store.verify(case.id) is None
    assert (case.version, case.head_digest) == (expected["version"], expected["head_digest"])
    assert [audit.row_document(row) for row in replayed.rows] == expected["rows"]
    assert audit.state_document(replayed.case, show_personal=True) == expected["state"]
    ref = audit.CaseRef(case.id, case.receipt_code)
    text = render_history(History(ref, replayed, len(stored), None, None))
    assert text == expected["replay_text"]


def test_a_new_event_on_an_f4c181d_case_chains_on_under_the_same_topic(
    old_store: Complaints,
) -> None:
    inquiry = case_id("f4c181d-inquiry")
    old_version = CASES["f4c181d-inquiry"]["version"]

    old_store.perform(
        inquiry,
        AddNote(text="기존 사건에 새 메모", by="kim.casemgr"),
        at=kst("2026-11-17T10:00"),
        command_id="explicit-events-1",
    )
    # The same command again is accepted and records nothing (`@once`).
    old_store.perform(
        inquiry,
        AddNote(text="기존 사건에 새 메모", by="kim.casemgr"),
        at=kst("2026-11-17T10:00"),
        command_id="explicit-events-1",
    )

    records = old_store.recorder.select_events(inquiry)
    assert len(records) == old_version + 1
    assert records[-1].topic == f"{OLD_MODULE}:Complaint.NoteAdded"
    assert old_store.verify(inquiry) is None
    case = old_store.get_case(inquiry)
    assert case.notes[-1].text == "기존 사건에 새 메모"
    assert "explicit-events-1" in case.command_ids
    replayed = audit.replay(audit.stored_events(old_store, inquiry), show_personal=True)
    rows = [audit.row_document(row) for row in replayed.rows]
    assert rows[:-1] == CASES["f4c181d-inquiry"]["rows"]
    assert rows[-1]["event"] == "NoteAdded" and rows[-1]["actor"] == "kim.casemgr"


def test_the_audit_command_replays_and_verifies_the_f4c181d_store_and_what_is_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(STORE, tmp_path / "events.db")
    monkeypatch.setenv(KEK_ENV, EXPECTED[KEK_ENV])

    def minwon(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(args))
        return code, capsys.readouterr().out

    with api_without_temporal(monkeypatch, tmp_path, "yoon.audit") as server:
        for intake_ref, expected in sorted(CASES.items()):
            code, out = minwon("audit", "replay", expected["receipt_code"], "--show-personal")
            assert code == 0, out
            assert out.rstrip("\n") == expected["replay_text"], intake_ref

        inquiry = CASES["f4c181d-inquiry"]
        server.complaints.perform(
            uuid.UUID(inquiry["case_id"]),
            AddNote(text="감사용 새 메모", by="kim.casemgr"),
            at=kst("2026-11-17T11:00"),
            command_id="explicit-events-2",
        )
        code, out = minwon("audit", "replay", inquiry["receipt_code"], "--show-personal", "--json")
        assert code == 0, out
        document = json.loads(out)
        verified, said = minwon("audit", "verify", "--all", "--no-tail")

    assert document["rows"][:-1] == inquiry["rows"]
    assert document["rows"][-1]["event"] == "NoteAdded"
    assert document["rows"][-1]["details"] == {"text": "감사용 새 메모"}
    assert document["state"]["version"] == inquiry["version"] + 1
    assert verified == 0, said
    assert f"{len(CASES)} cases verified, chains intact" in said


def test_todays_code_stores_each_event_as_f4c181d_stored_it(tmp_path: Path) -> None:
    """The same commands, run today on a new store: every record has the topic, and the
    fields in the order, of its counterpart written at f4c181d."""
    path = tmp_path / "today.db"
    app = Complaints(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            KEK_ENV: EXPECTED[KEK_ENV],
        }
    )
    try:
        cases = record_cases(app)
        for case in cases:
            assert app.verify(case.id) is None
    finally:
        app.close()

    copy = tmp_path / "f4c181d.db"
    shutil.copy(STORE, copy)
    assert stored_layout(path) == stored_layout(copy)
