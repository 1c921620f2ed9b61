"""Snapshots of a case (privacy.snapshots, decision 0009), on SQLite and PostgreSQL.

A case loaded from its snapshot is the case its events give, to the last attribute
and the last event (whose digest the next event carries): for every version of cases
that between them record every kind of event. The next event after such a load
chains on and verifies. A case's notes and apologies stay packed through a load,
events after the snapshot appending to them, and through the next snapshot; read,
they are the replay's. A snapshot that cannot be used (altered, not one at all,
moved from another case, written by other code, its person erased) is passed over
and the case replayed, as is one in a layout before (a store written at c0d122d;
one sealed under this code's digest but laid out as c0d122d or 22ef399 did). A
snapshot of a 10,000-event case holds every command id: loaded from it, the case
records nothing for a command retried with any id it recorded, the first as the last,
and records one whose id only looks like one of them. An erasure leaves nothing
of the person readable in a snapshot, in the SQLite file or a `pg_dump`. Stores written
before there were snapshots get the table, keep every record and are snapshotted on
first long load. Only a case's latest snapshot is kept (one row in the table), and a
load at a version before it replays the case.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import Snapshot
from eventsourcing.utils import get_topic
from psycopg import sql

from application.service import SNAPSHOT_INTERVAL, Complaints, _mutate_in_order
from domain.chain import record_digest
from domain.commands import (
    AddNote,
    Answer,
    CallBack,
    RecordApology,
    TakeMessage,
)
from domain.complaint import ERASED, CaseNote, Complaint
from domain.complaint.events import PackedList
from privacy.kek import KEK_ENV
from privacy.snapshots import MAGIC, SnapshotUnusableError
from tests.support.samples import kst, sample_intake
from tests.support.scenario import build_scenario
from tests.support.stores import postgres_conninfo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AT = kst("2026-09-21T10:00")


# -- what a full replay gives, and what a load gives -----------------------------------


def replayed(app: Complaints, case_id: uuid.UUID, version: int | None = None) -> Complaint:
    """The case folded from its stored events alone, as if there were no snapshots."""
    with app.keys.one_reading():
        case: Complaint = _mutate_in_order(None, app.events.get(case_id, lte=version))
    return case


def loaded(app: Complaints, case_id: uuid.UUID, version: int | None = None) -> tuple[Any, int]:
    """The case as the repository loads it, with the snapshot it started from (or None)
    and the number of events it applied after it."""
    seen: list[Any] = []

    def projector(aggregate: Any, domain_events: Iterable[Any]) -> Any:
        events = list(domain_events)
        seen.extend(events)
        return _mutate_in_order(aggregate, events)

    with app.keys.one_reading():
        case = app.repository.get(case_id, version=version, projector_func=projector)
    start = seen[0] if seen and isinstance(seen[0], Snapshot) else None
    return (case, start), len(seen) - (start is not None)


def differences(a: Any, b: Any, path: str = "case") -> list[str]:
    """Where two states differ, by value and by type (a tuple is not a list, a moment
    must keep its offset); objects by their attributes."""
    if type(a) is not type(b):
        return [f"{path}: {type(a).__name__} vs {type(b).__name__}"]
    if isinstance(a, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for key in a for d in differences(a[key], b[key], f"{path}.{key}")]
    if isinstance(a, (list, tuple, PackedList)):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, datetime):
        same = a == b and a.isoformat() == b.isoformat() and a.utcoffset() == b.utcoffset()
        return [] if same else [f"{path}: {a.isoformat()} vs {b.isoformat()}"]
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return differences(vars(a), vars(b), path)
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def the_same(a: Complaint, b: Complaint) -> None:
    found = differences(vars(a), vars(b))
    assert not found, "\n".join(found[:20])
    assert a.head_digest == b.head_digest
    assert type(a.last_event) is type(b.last_event)


# -- cases -----------------------------------------------------------------------------


def file_every_other_event(app: Complaints) -> uuid.UUID:
    """A case with the kinds of event the scenario does not record."""
    case = app.file(sample_intake(contact="김민원 010-2222-3333"))
    run = 0

    def perform(action: Any) -> None:
        nonlocal run
        run += 1
        app.perform(case.id, action, at=AT + timedelta(hours=run), command_id=f"a{run}")

    perform(AddNote(text="보호자와 통화", by="lee.service"))
    perform(TakeMessage(for_staff="lee.service", taken_by="kim.casemgr",
                        callback_by=AT + timedelta(days=2), note="오후에 전화 요망"))  # fmt: skip
    perform(CallBack(note="통화 완료", by="lee.service"))
    current = app.get_case(case.id)
    reply = current.commitments["reply"]
    current.reschedule(kind="reply", new_due=reply.due + timedelta(days=1),
                       warn_at=reply.warn_at + timedelta(days=1), added={"2026-09-25": "휴관"},
                       removed={}, at=AT + timedelta(hours=10), command_id="r1")  # fmt: skip
    current.record_appointment(appointment_id="ap-1", kind="visit",
                               start=AT + timedelta(days=1), outcome="done", by="lee.service",
                               at=AT + timedelta(days=1, hours=1), command_id="r2")  # fmt: skip
    current.queue_alarm_notices(alarm="warn", kind="reply", at=AT + timedelta(hours=10),
                                command_id="r2:notices")  # fmt: skip
    current.record_notice_sent(kind="receipt", channel="sms", recipient="resident",
                               at=AT + timedelta(hours=11), command_id="r3")  # fmt: skip
    current.record_notice_failed(kind="answer", recipient="resident", reason="smtp 550",
                                 at=AT + timedelta(hours=12), command_id="r4")  # fmt: skip
    current.record_workflow_restored(found="not found", at=AT + timedelta(hours=13),
                                     command_id="r5")  # fmt: skip
    current.record_erasure(reason="본인 요청", by="park.officer", at=AT + timedelta(hours=14),
                           command_id="r6")  # fmt: skip
    current.add_note(text="삭제 후 메모", by="lee.service", at=AT + timedelta(hours=15),
                     command_id="r7")  # fmt: skip
    app.save(current)
    return case.id


def file_long_case(app: Complaints, events: int, contact: str = "홍길동 010-1234-5678",
                   note: str = "메모") -> uuid.UUID:  # fmt: skip
    """A case of `events` events: assignments back and forth and notes, saved in batches."""
    case = app.file(sample_intake(contact=contact, text=f"{note} 민원"))
    turn = 0
    while case.version < events:
        turn += 1
        at = AT + timedelta(minutes=turn)
        if turn % 5 == 0:
            case.add_note(text=f"{note} #{turn}", by="lee.service", at=at, command_id=f"n{turn}")
        else:
            staff = ("kim.casemgr", "lee.service")[turn % 2]
            case.assign(staff=staff, role="case_manager", by="han.ops", at=at,
                        command_id=f"n{turn}")  # fmt: skip
        if case.version % 40 == 0 or case.version == events:
            app.save(case)
    return case.id


def event_classes() -> set[str]:
    """The names of the kinds of event a case records (not their base classes)."""
    classes = {
        cls
        for name in dir(Complaint)
        if isinstance(cls := getattr(Complaint, name), type)
        and issubclass(cls, Complaint.Event)
        and cls.__qualname__.startswith("Complaint.")
    }
    concrete = {c for c in classes if not any(o is not c and issubclass(o, c) for o in classes)}
    return {c.__name__ for c in concrete} - {"Created"}


# -- the snapshots table, read and altered behind the application ----------------------


class SnapshotRows:
    """The stored snapshot rows of one backend, as someone with database access sees them."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.sqlite = env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"

    def _run(self, statement: str, *values: Any) -> list[Any]:
        if self.sqlite:
            text = statement.replace("{table}", "stored_snapshots").replace("%s", "?")
            plain = [v.hex if isinstance(v, uuid.UUID) else v for v in values]
            with closing(sqlite3.connect(self.env["SQLITE_DBNAME"])) as conn, conn:
                return conn.execute(text, plain).fetchall()
        table = sql.Identifier(self.env["POSTGRES_SCHEMA"], f"{Complaints.name}_snapshots")
        with psycopg.connect(postgres_conninfo(self.env), autocommit=True) as conn:
            cursor = conn.execute(sql.SQL(statement).format(table=table), values)
            return cursor.fetchall() if cursor.description is not None else []

    def versions(self, case_id: uuid.UUID) -> list[int]:
        rows = self._run(
            "SELECT originator_version FROM {table} WHERE originator_id = %s "
            "ORDER BY originator_version",
            case_id,
        )
        return [row[0] for row in rows]

    def state(self, case_id: uuid.UUID, version: int) -> bytes:
        rows = self._run(
            "SELECT state FROM {table} WHERE originator_id = %s AND originator_version = %s",
            case_id,
            version,
        )
        return bytes(rows[0][0])

    def set_state(self, case_id: uuid.UUID, version: int, state: bytes) -> None:
        self._run(
            "UPDATE {table} SET state = %s WHERE originator_id = %s AND originator_version = %s",
            state,
            case_id,
            version,
        )

    def drop(self) -> None:
        self._run("DROP TABLE {table}")

    def insert(self, case_id: uuid.UUID, version: int, topic: str, state: bytes) -> None:
        self._run(
            "INSERT INTO {table} (originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %s)",
            case_id,
            version,
            topic,
            state,
        )


@pytest.fixture
def fresh(store_env: dict[str, str]) -> Iterator[Callable[[], Complaints]]:
    """Applications as fresh processes open them, each without a cached case."""
    opened: list[Complaints] = []

    def open_one() -> Complaints:
        app = Complaints(env={**store_env, "AGGREGATE_CACHE_MAXSIZE": ""})
        opened.append(app)
        return app

    yield open_one
    for app in opened:
        app.close()


# -- loading from a snapshot is replaying ----------------------------------------------


def test_a_case_loaded_from_a_snapshot_is_the_case_its_events_give_at_every_version(
    fresh: Callable[[], Complaints],
) -> None:
    app = fresh()
    cases = [app.case_id_for_receipt(code) for code in build_scenario(app).codes.values()]
    cases.append(file_every_other_event(app))
    recorded = {type(e).__name__ for case_id in cases for e in app.history(case_id)}
    assert recorded >= event_classes(), f"not covered: {event_classes() - recorded}"

    compared = 0
    for case_id in cases:
        for version in range(1, replayed(app, case_id).version + 1):
            if version > 1:
                # The snapshot before and one event on it.
                (case, start), applied = loaded(app, case_id, version)
                assert start is not None and start.originator_version == version - 1
                assert applied == 1
                the_same(case, replayed(app, case_id, version))
            app.take_snapshot(case_id, version=version)
            (case, start), applied = loaded(app, case_id, version)
            assert start is not None and start.originator_version == version and applied == 0
            the_same(case, replayed(app, case_id, version))
            compared += 1
    assert compared > 50


def test_the_next_event_after_a_load_from_a_snapshot_chains_on_and_verifies(
    fresh: Callable[[], Complaints], store_env: dict[str, str]
) -> None:
    app = fresh()
    events = SNAPSHOT_INTERVAL + SNAPSHOT_INTERVAL // 2
    case_id = file_long_case(app, events)
    assert SnapshotRows(store_env).versions(case_id) == [SNAPSHOT_INTERVAL]

    later = fresh()  # a process that never saw the case
    (case, start), applied = loaded(later, case_id)
    assert start is not None and start.originator_version == SNAPSHOT_INTERVAL
    assert applied == events - SNAPSHOT_INTERVAL
    the_same(case, replayed(later, case_id))
    the_same(later.get_case(case_id), replayed(later, case_id))

    later.perform(case_id, AddNote(text="스냅샷 뒤의 메모", by="lee.service"),
                  at=AT + timedelta(days=3), command_id="after-snapshot")  # fmt: skip
    assert later.verify(case_id) is None
    before, new = later.recorder.select_events(case_id, gt=events - 1)
    assert new.originator_version == events + 1
    digest = record_digest(before.topic, before.originator_id, events, before.state)
    assert later.get_case(case_id).last_event.prev_digest == digest

    # Loaded from a snapshot of its last event, nothing after: the head is the snapshot's.
    later.take_snapshot(case_id)
    again = fresh()
    (case, start), applied = loaded(again, case_id)
    assert start is not None and start.originator_version == events + 1 and applied == 0
    the_same(case, replayed(again, case_id))
    again.perform(case_id, AddNote(text="또 하나", by="lee.service"),
                  at=AT + timedelta(days=3, hours=1), command_id="after-head-snapshot")  # fmt: skip
    assert again.verify(case_id) is None

    # Saving across the next multiple of the interval snapshots it there.
    last = fresh()
    case = last.get_case(case_id)
    for turn in range(SNAPSHOT_INTERVAL + 10):
        at = AT + timedelta(days=4, minutes=turn)
        case.add_note(text=f"메모 {turn}", by="lee.service", at=at, command_id=f"more-{turn}")
    last.save(case)
    second = 2 * SNAPSHOT_INTERVAL
    assert SnapshotRows(store_env).versions(case_id) == [second]  # the latest alone
    (case, start), applied = loaded(fresh(), case_id)
    assert start is not None and start.originator_version == second
    assert applied == case.version - second
    the_same(case, replayed(last, case_id))
    assert last.verify(case_id) is None


def decoded(items: PackedList[Any]) -> bool:
    """Whether a case's notes or apologies were made from what its snapshot held."""
    return items._items is not None


def test_notes_and_apologies_stay_packed_through_a_load_and_are_the_ones_the_events_give(
    fresh: Callable[[], Complaints], store_env: dict[str, str]
) -> None:
    app = fresh()
    case_id = file_long_case(app, 40)
    at = AT + timedelta(days=3)
    awkward = '쉼표, "따옴표"] 백슬래시 \\ 줄\n바꿈'
    app.perform(case_id, Answer(text="답변", by="lee.service"), at=at, command_id="answer")
    app.perform(case_id, AddNote(text=awkward, by="lee.service"),
                at=at + timedelta(minutes=1), command_id="awkward")  # fmt: skip
    app.perform(case_id, RecordApology(mode="phone", by="park.officer", note=awkward),
                at=at + timedelta(minutes=2), command_id="apology-1")  # fmt: skip
    app.perform(case_id, RecordApology(mode="in_person", by="park.officer", note=""),
                at=at + timedelta(minutes=3), command_id="apology-2")  # fmt: skip
    app.take_snapshot(case_id)
    head = app.get_case(case_id).version
    rows = SnapshotRows(store_env)
    assert rows.versions(case_id) == [head]

    later = fresh()  # a process that never saw the case
    (case, start), applied = loaded(later, case_id)
    assert start is not None and start.originator_version == head and applied == 0
    # Loaded, and counted, without one of them made; read, they are the replay's.
    assert len(case.apologies) == 2 and len(case.notes) > 5
    assert not decoded(case.notes) and not decoded(case.apologies)
    got = later.get_case(case_id)
    assert not decoded(got.notes) and not decoded(got.apologies)
    the_same(case, replayed(later, case_id))
    assert case.notes[-1].text == case.apologies[0]["note"] == awkward
    the_same(got, replayed(later, case_id))

    # Added to after the snapshot: a load appends without decoding, and a snapshot of
    # such a case writes the items added beside those it held, still undecoded.
    later.perform(case_id, AddNote(text="스냅샷 뒤", by="lee.service"),
                  at=at + timedelta(hours=1), command_id="after-1")  # fmt: skip
    later.perform(case_id, RecordApology(mode="phone", by="lee.service", note="다시 사과"),
                  at=at + timedelta(hours=2), command_id="after-2")  # fmt: skip
    third = fresh()
    (case, start), applied = loaded(third, case_id)
    assert start is not None and start.originator_version == head and applied == 2
    assert not decoded(case.notes) and not decoded(case.apologies)
    assert len(case.apologies) == 3
    the_same(case, replayed(third, case_id))
    third.take_snapshot(case_id)
    assert rows.versions(case_id) == [head + 2]
    (case, start), applied = loaded(fresh(), case_id)
    assert start is not None and start.originator_version == head + 2 and applied == 0
    the_same(case, replayed(third, case_id))
    assert [a["note"] for a in case.apologies] == [awkward, "", "다시 사과"]

    # A command on one copy of a case changes neither the cached case nor another copy.
    mine, other = third.get_case(case_id), third.get_case(case_id)
    mine.add_note(text="이 사본에만", by="lee.service", at=at + timedelta(hours=3),
                  command_id="copy-only")  # fmt: skip
    assert len(mine.notes) == len(other.notes) + 1 == len(third.get_case(case_id).notes) + 1
    assert third.verify(case_id) is None


UNUSABLE = {
    "altered": "altered or moved",
    "not a snapshot": "not a sealed snapshot",
    "moved": "altered or moved",
    "other code": "written by other code",
}


@pytest.mark.parametrize("damage", list(UNUSABLE))
def test_an_unusable_snapshot_is_passed_over_and_the_case_replayed(
    fresh: Callable[[], Complaints], store_env: dict[str, str], damage: str
) -> None:
    app = fresh()
    events = SNAPSHOT_INTERVAL + 20
    case_id = file_long_case(app, events)
    other_id = file_long_case(app, events + 2)
    rows = SnapshotRows(store_env)
    at = SNAPSHOT_INTERVAL  # the one snapshot of each case (only the latest is kept)
    state = rows.state(case_id, at)
    if damage == "altered":
        rows.set_state(case_id, at, state[:-40] + bytes([state[-40] ^ 1]) + state[-39:])
    elif damage == "not a snapshot":
        rows.set_state(case_id, at, b'{"state": "a snapshot in another format"}')
    elif damage == "moved":
        # The other case's snapshot put in the place of this one's (and ahead of it).
        rows.set_state(case_id, at, rows.state(other_id, at))
        rows.insert(case_id, at + 10, Snapshot.__module__ + ":Snapshot", rows.state(other_id, at))
    else:
        rows.set_state(case_id, at, MAGIC + b"0" * 64 + state[len(MAGIC) + 64 :])

    later = fresh()
    assert later.snapshots is not None
    latest = later.snapshots.recorder.select_events(case_id, desc=True, limit=1)[0]
    with later.keys.one_reading(), pytest.raises(SnapshotUnusableError) as refused:
        later.snapshots.mapper.to_domain_event(latest)
    assert refused.value.why == UNUSABLE[damage]

    (case, start), applied = loaded(later, case_id)
    assert start is None and applied == events  # replayed from its first event
    the_same(case, replayed(later, case_id))
    the_same(later.get_case(case_id), replayed(later, case_id))
    later.perform(case_id, AddNote(text="다시 읽은 뒤", by="lee.service"),
                  at=AT + timedelta(days=3), command_id="after-damage")  # fmt: skip
    assert later.verify(case_id) is None
    the_same(fresh().get_case(case_id), replayed(later, case_id))


def test_without_the_snapshot_table_a_case_is_replayed_and_saved_as_before(
    fresh: Callable[[], Complaints], store_env: dict[str, str]
) -> None:
    case_id = file_long_case(fresh(), 120)
    SnapshotRows(store_env).drop()  # CREATE_TABLE=n on a store that lacks the table

    app = Complaints(env={**store_env, "CREATE_TABLE": "n", "AGGREGATE_CACHE_MAXSIZE": ""})
    try:
        the_same(app.get_case(case_id), replayed(app, case_id))
        case = app.get_case(case_id)
        for turn in range(85):  # across multiples of the interval: no snapshot taken
            at = AT + timedelta(days=5, minutes=turn)
            case.add_note(text=f"메모 {turn}", by="lee.service", at=at, command_id=f"m{turn}")
        app.save(case)
        assert app.verify(case_id) is None
        the_same(app.get_case(case_id), replayed(app, case_id))
    finally:
        app.close()


def test_a_case_recorded_before_snapshots_is_snapshotted_on_its_first_long_load(
    fresh: Callable[[], Complaints], store_env: dict[str, str]
) -> None:
    before = Complaints(env={**store_env, "IS_SNAPSHOTTING_ENABLED": "n"})
    try:
        assert before.snapshots is None
        case_id = file_long_case(before, 130)
    finally:
        before.close()
    app = fresh()  # the table is made, and the case has no snapshot
    rows = SnapshotRows(store_env)
    assert rows.versions(case_id) == []
    the_same(app.get_case(case_id), replayed(app, case_id))
    assert rows.versions(case_id) == [130]
    (case, start), applied = loaded(fresh(), case_id)
    assert start is not None and start.originator_version == 130 and applied == 0
    the_same(case, replayed(app, case_id))


# -- only the latest snapshot of a case is kept ---------------------------------------


def test_only_the_latest_snapshot_is_kept_and_a_load_before_it_replays(
    fresh: Callable[[], Complaints], store_env: dict[str, str]
) -> None:
    app = fresh()
    case_id = file_long_case(app, 60)
    rows = SnapshotRows(store_env)
    # Snapshotted at 25 and 50: the row at 25 was deleted when the one at 50 was stored.
    count = rows._run("SELECT COUNT(*) FROM {table} WHERE originator_id = %s", case_id)
    assert count[0][0] == 1
    assert rows.versions(case_id) == [2 * SNAPSHOT_INTERVAL]

    later = fresh()  # a process that never saw the case
    (case, start), applied = loaded(later, case_id, 30)
    assert start is None and applied == 30  # no snapshot at or before 30: replayed
    the_same(case, replayed(later, case_id, 30))
    the_same(later.get_case(case_id, version=30), replayed(later, case_id, 30))
    (case, start), applied = loaded(later, case_id, 55)
    assert start is not None and start.originator_version == 2 * SNAPSHOT_INTERVAL
    assert applied == 5
    the_same(case, replayed(later, case_id, 55))
    the_same(later.get_case(case_id), replayed(later, case_id))

    # A snapshot taken again at a version already stored deletes nothing; one of an
    # earlier version than the latest leaves the latest in place, and both go when
    # a later one is stored.
    later.take_snapshot(case_id, version=2 * SNAPSHOT_INTERVAL)
    assert rows.versions(case_id) == [2 * SNAPSHOT_INTERVAL]
    later.take_snapshot(case_id, version=40)
    assert rows.versions(case_id) == [40, 2 * SNAPSHOT_INTERVAL]
    later.take_snapshot(case_id)
    assert rows.versions(case_id) == [60]
    # Another case's snapshots are not touched.
    other_id = file_long_case(app, 30)
    assert rows.versions(other_id) == [SNAPSHOT_INTERVAL]
    assert rows.versions(case_id) == [60]


# -- a long case's command ids ----------------------------------------------------------

LONG = 10_000
# Command ids a snapshot's search of its ids could mistake: newlines and backslashes,
# the empty id, uuids not written as str(uuid) writes them, a uuid with a suffix.
AWKWARD = ["", "\n", "\\", "\\n", "a\nb", "a\\nb", "x\n", "명령-1",
           "12345678-1234-1234-1234-1234567890AB", "{12345678-1234-1234-1234-1234567890ab}",
           "12345678-1234-1234-1234-1234567890ab:callback"]  # fmt: skip


def command_ids() -> Iterator[str]:
    """The awkward ids first, then mostly uuids (as the workflows give), a uuid with a
    suffix every tenth (as the service derives them), a short one every seventh."""
    yield from AWKWARD
    turn = 0
    while True:
        turn += 1
        made = str(uuid.uuid4())
        yield f"{made}:reply" if turn % 10 == 0 else f"c{turn}" if turn % 7 == 0 else made


def file_case_of_ids(app: Complaints, events: int) -> tuple[uuid.UUID, list[str]]:
    """A case of `events` events, each after its intake recorded by the next of
    `command_ids()`: assignments back and forth, a note every 50th. Returns the ids."""
    case = app.file(sample_intake(contact="긴사건 010-3333-4444"))
    ids, recorded = command_ids(), []
    turn = 0
    while case.version < events:
        turn += 1
        at, command_id, version = AT + timedelta(seconds=turn), next(ids), case.version
        if turn % 50 == 0:
            case.add_note(text=f"메모 #{turn}", by="lee.service", at=at, command_id=command_id)
        else:
            case.assign(staff=("kim.casemgr", "lee.service")[turn % 2], role="case_manager",
                        by="han.ops", at=at, command_id=command_id)  # fmt: skip
        if case.version > version:
            recorded.append(command_id)
        if case.version % 1000 == 0 or case.version == events:
            app.save(case)
    return case.id, recorded


def near_misses(recorded: list[str]) -> list[str]:
    """Ids never recorded that look like recorded ones: a prefix, the same in capitals,
    a uuid whose 16 bytes straddle two recorded uuids'."""
    packed = [uuid.UUID(i).bytes for i in recorded if len(i) == 36 and str(uuid.UUID(i)) == i]
    misses = [
        "a", "a\\", "\n\n", "c", recorded[-1][:-1], recorded[-1].upper(),
        "12345678-1234-1234-1234-1234567890ab",
        str(uuid.UUID(bytes=packed[0][8:] + packed[1][:8])),
        str(uuid.UUID(bytes=packed[-2][4:] + packed[-1][:4])),
    ]  # fmt: skip
    assert not set(misses) & set(recorded)
    return misses


def test_a_snapshot_of_a_long_case_holds_every_command_id_and_a_retry_records_nothing(
    fresh: Callable[[], Complaints], store_env: dict[str, str]
) -> None:
    case_id, recorded = file_case_of_ids(fresh(), LONG)
    assert SnapshotRows(store_env).versions(case_id)[-1] == LONG

    later = fresh()  # a process that never saw the case: it loads the snapshot alone
    (case, start), applied = loaded(later, case_id)
    assert start is not None and start.originator_version == LONG and applied == 0
    whole = replayed(later, case_id)
    the_same(case, whole)
    assert set(case.command_ids) == set(whole.command_ids) >= set(recorded)
    assert len(case.command_ids) == len(whole.command_ids) > LONG - 100

    # A command retried with any id of the history, the first as the last, is
    # accepted and records nothing; one whose id only looks like one records.
    at = AT + timedelta(days=30)
    early = [command_id for command_id in AWKWARD if command_id in recorded]
    assert len(early) >= len(AWKWARD) - 1  # the first may find the case assigned already
    retried = [*early, recorded[20], recorded[len(recorded) // 2], recorded[-1]]
    for command_id in retried:
        assert command_id in later.get_case(case_id).command_ids
        later.perform(case_id, AddNote(text="다시 보낸 명령", by="lee.service"), at=at,
                      command_id=command_id)  # fmt: skip
    assert later.get_case(case_id).version == LONG
    misses = near_misses(recorded)
    for command_id in misses:
        assert command_id not in later.get_case(case_id).command_ids
        later.perform(case_id, AddNote(text="새 명령", by="lee.service"), at=at,
                      command_id=command_id)  # fmt: skip
    assert later.get_case(case_id).version == LONG + len(misses)

    third = fresh()
    case = third.get_case(case_id)
    the_same(case, replayed(third, case_id))
    assert set(case.command_ids) == set(recorded) | set(misses) | set(whole.command_ids)
    assert third.verify(case_id) is None


# -- snapshots written by other code ---------------------------------------------------

OLD_SNAPSHOTS = FIXTURES / "store-c0d122d-snapshots.db"
OLD_EXPECTED = json.loads((FIXTURES / "store-c0d122d-snapshots.json").read_text("utf-8"))


def test_a_snapshot_as_c0d122d_sealed_it_is_passed_over_and_the_case_snapshotted_anew(
    tmp_path: Path,
) -> None:
    """`tests/fixtures/write_snapshots.py` wrote the store at c0d122d: the case's state
    as compressed JSON, its command ids a list, under that code's digest."""
    path = tmp_path / "events.db"
    shutil.copy(OLD_SNAPSHOTS, path)
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path),
           KEK_ENV: OLD_EXPECTED[KEK_ENV], "AGGREGATE_CACHE_MAXSIZE": ""}  # fmt: skip
    case_id = uuid.UUID(OLD_EXPECTED["case_id"])
    rows = SnapshotRows(env)
    assert rows.versions(case_id) == OLD_EXPECTED["snapshots"] == [100]

    app = Complaints(env=env)
    try:
        assert app.snapshots is not None
        record = app.snapshots.recorder.select_events(case_id)[0]
        with app.keys.one_reading(), pytest.raises(SnapshotUnusableError) as refused:
            app.snapshots.mapper.to_domain_event(record)
        assert refused.value.why == "written by other code"
        (case, start), applied = loaded(app, case_id)
        assert start is None and applied == OLD_EXPECTED["version"]
        the_same(case, replayed(app, case_id))
        assert (case.version, case.head_digest) == (
            OLD_EXPECTED["version"], OLD_EXPECTED["head_digest"])  # fmt: skip
        assert sorted(case.command_ids) == OLD_EXPECTED["command_ids"]
        # The load read more than the interval: it snapshots the case in this format.
        app.get_case(case_id)
        assert rows.versions(case_id) == [OLD_EXPECTED["version"]]  # the latest alone
    finally:
        app.close()

    again = Complaints(env=env)
    try:
        (case, start), applied = loaded(again, case_id)
        assert start is not None and start.originator_version == OLD_EXPECTED["version"]
        assert applied == 0
        the_same(case, replayed(again, case_id))
        for command_id in OLD_EXPECTED["command_ids"]:
            again.perform(case_id, AddNote(text="다시", by="lee.service"),
                          at=AT + timedelta(days=40), command_id=command_id)  # fmt: skip
        assert again.get_case(case_id).version == OLD_EXPECTED["version"]
        assert again.verify(case_id) is None
    finally:
        again.close()


@pytest.mark.parametrize("layout", ["c0d122d", "22ef399"])
def test_a_sealed_snapshot_in_a_former_layout_is_passed_over_and_the_case_replayed(
    fresh: Callable[[], Complaints],
    store_env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    layout: str,
) -> None:
    """Sealed with the person's key under this code's digest, but laid out as before:
    as c0d122d laid it out (compressed JSON alone, the command ids a list) or as
    22ef399 did (the command ids packed, the notes and apologies in the JSON). It
    opens, and cannot be read."""
    app = fresh()
    events = SNAPSHOT_INTERVAL + 20
    case_id = file_long_case(app, events)
    rows = SnapshotRows(store_env)
    assert app.snapshots is not None
    mapper = app.snapshots.mapper
    key = app.keys.key(str(app.get_case(case_id).person_id))
    assert key is not None
    place = f"{case_id}:{SNAPSHOT_INTERVAL}:snapshot:".encode() + mapper.code
    head = len(MAGIC) + len(mapper.code) + 1
    raw = rows.state(case_id, SNAPSHOT_INTERVAL)
    plain = AESGCM(key).decrypt(raw[head : head + 12], raw[head + 12 :], place)
    start = 4 + int.from_bytes(plain[:4], "big")
    body = json.loads(zlib.decompress(plain[4:start]))
    packed: dict[str, bytes] = {}
    for name, _, length in body["packed"]:
        packed[name], start = plain[start : start + length], start + length
    assert list(packed) == ["apologies", "notes", "command_ids"]
    case = app.get_case(case_id, version=SNAPSHOT_INTERVAL)
    assert case.notes
    body["state"]["notes"] = [
        {"_type_": get_topic(CaseNote), "_data_": {"text": note.text, "by": note.by,
                                                   "at": {"_type_": "datetime_iso",
                                                          "_data_": note.at.isoformat()}}}
        for note in case.notes
    ]  # fmt: skip
    body["state"]["apologies"] = []
    if layout == "c0d122d":
        del body["packed"]
        body["state"]["command_ids"] = {"_type_": "set", "_data_": sorted(case.command_ids)}
        former = zlib.compress(json.dumps(body).encode(), 1)
    else:
        body["packed"] = [entry for entry in body["packed"] if entry[0] == "command_ids"]
        compressed = zlib.compress(json.dumps(body).encode(), 1)
        former = len(compressed).to_bytes(4, "big") + compressed + packed["command_ids"]
    nonce = os.urandom(12)
    rows.set_state(case_id, SNAPSHOT_INTERVAL,
                   raw[:head] + nonce + AESGCM(key).encrypt(nonce, former, place))  # fmt: skip

    later = fresh()
    with caplog.at_level(logging.WARNING, logger="privacy.snapshots"):
        (case, start_from), applied = loaded(later, case_id)
    assert start_from is None and applied == events
    assert "passed over" in caplog.text
    the_same(case, replayed(later, case_id))
    the_same(later.get_case(case_id), replayed(later, case_id))


# -- erasure ----------------------------------------------------------------------------


def test_an_erasure_leaves_no_snapshot_readable_and_the_case_replays_erased(
    fresh: Callable[[], Complaints], store_env: dict[str, str]
) -> None:
    canary = f"canary{uuid.uuid4().hex[:8]}"
    app = fresh()
    case_id = file_long_case(app, 130, contact=f"{canary}@example.org", note=canary)
    app.perform(case_id, Answer(text=f"{canary} 답변", by="lee.service"),
                at=AT + timedelta(days=3), command_id="answer")  # fmt: skip
    app.perform(case_id, RecordApology(mode="phone", by="park.officer", note=f"{canary} 사과"),
                at=AT + timedelta(days=3, hours=1), command_id="apology")  # fmt: skip
    app.perform(case_id, AddNote(text=f"{canary} 마지막 메모", by="lee.service"),
                at=AT + timedelta(days=3, hours=2), command_id="last-note")  # fmt: skip
    app.take_snapshot(case_id)  # its last event, a note, in it too
    head = app.get_case(case_id).version
    rows = SnapshotRows(store_env)
    taken = [head]  # the latest alone
    assert rows.versions(case_id) == taken
    assert app.snapshots is not None
    with app.keys.one_reading():
        opened = [app.snapshots.mapper.to_domain_event(r)
                  for r in app.snapshots.recorder.select_events(case_id)]  # fmt: skip
    # The snapshots hold the person's data, sealed: what the erasure must reach.
    assert all(canary in s.state["contact"] for s in opened)
    assert canary in opened[-1].state["last_event"].text
    assert canary in opened[-1].state["answer"]

    person = str(app.get_case(case_id).person_id)
    key = app.keys.key(person)
    assert key is not None
    app.erase_person(person, reason="본인 요청", by="park.officer", at=AT + timedelta(days=4))

    later = fresh()
    assert later.snapshots is not None
    assert later.keys.key(person) is None
    for record in later.snapshots.recorder.select_events(case_id):
        with later.keys.one_reading(), pytest.raises(SnapshotUnusableError) as refused:
            later.snapshots.mapper.to_domain_event(record)
        assert refused.value.why == "its person was erased"
        # What is stored is the state sealed under the key the erasure destroyed, and
        # nothing besides: with that key (kept here by the test alone) it opens.
        raw = bytes(record.state)
        start = len(MAGIC) + 65  # the code's digest and a newline
        assert raw.startswith(MAGIC) and raw[start - 1 : start] == b"\n"
        place = f"{case_id}:{record.originator_version}:snapshot:".encode()
        sealed = AESGCM(key).decrypt(raw[start : start + 12], raw[start + 12 :],
                                     place + raw[len(MAGIC) : start - 1])  # fmt: skip
        # The length of the compressed JSON, that JSON, then the apologies, the notes
        # and the command ids, packed: the notes' text is there, as their snapshot holds it.
        packed = 4 + int.from_bytes(sealed[:4], "big")
        body = json.loads(zlib.decompress(sealed[4:packed]))
        assert canary in body["state"]["contact"]
        lengths = {name: length for name, _, length in body["packed"]}
        notes = packed + lengths["apologies"]
        assert canary.encode() in zlib.decompress(sealed[notes + 4 : notes + lengths["notes"]])
    case = later.get_case(case_id)
    the_same(case, replayed(later, case_id))
    assert case.contact == case.text == case.answer == ERASED
    assert {note.text for note in case.notes} == {ERASED}
    assert [apology["note"] for apology in case.apologies] == [ERASED]
    assert later.verify(case_id) is None
    # Nothing new of an erased person is kept: no snapshot is taken of the case again.
    later.take_snapshot(case_id)
    assert rows.versions(case_id) == taken

    if store_env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        store = Path(store_env["SQLITE_DBNAME"])
        for path in (store, store.with_name(store.name + "-wal")):
            if path.exists():
                assert canary.encode() not in path.read_bytes(), path
    else:
        schema = store_env["POSTGRES_SCHEMA"]
        dump = subprocess.run(
            ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-n", schema, "test"],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        assert dump.returncode == 0, dump.stderr
        assert f"{schema}.{Complaints.name}_snapshots".encode() in dump.stdout
        assert canary.encode() not in dump.stdout


# -- stores written before snapshots ---------------------------------------------------


def _tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}


def _events(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT * FROM stored_events ORDER BY rowid").fetchall()


@pytest.mark.parametrize("fixture", ["store-a0ee20c.db", "store-03e633c-credentials.db"])
def test_an_old_store_gets_the_snapshot_table_and_keeps_every_record(
    tmp_path: Path, fixture: str
) -> None:
    path = tmp_path / "events.db"
    shutil.copy(FIXTURES / fixture, path)
    assert "stored_snapshots" not in _tables(path)
    records = _events(path)
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}

    app = Complaints(env={**env, "AGGREGATE_CACHE_MAXSIZE": ""})
    try:
        assert "stored_snapshots" in _tables(path)
        assert _events(path) == records
        cases = [
            uuid.UUID(str(n.originator_id))
            for n in app.notifications()
            if n.topic.endswith(":Complaint.Received")
        ]
        assert len(cases) == (3 if fixture == "store-a0ee20c.db" else 0)
        for case_id in cases:
            assert app.verify(case_id) is None
            app.take_snapshot(case_id)
            (case, start), applied = loaded(app, case_id)
            assert start is not None and applied == 0
            the_same(case, replayed(app, case_id))  # the old chain's digests (v1) too
            # A new event on the case loaded from its snapshot chains on the old ones.
            case.record_notice_sent(kind="receipt", channel="sms", recipient="resident",
                                    at=case.received_at + timedelta(days=30),
                                    command_id="after-snapshot")  # fmt: skip
            app.save(case)
            assert app.verify(case_id) is None
    finally:
        app.close()
    assert _events(path)[: len(records)] == records
