"""What makes the audit replay cheap, held to what it must still say (no timings here).

`domain.audit.replay` works out once per event class what its rows show, and
`stored_events` decodes a batch of records inside one reading of the person's key
(bench/replay_verify.py measures the speed). These tests hold the shortcuts to the
plain rules: each row as the straightforward per-event computation makes it, even
where one event class is stored with different attributes; one key read per replay;
a record that no longer decodes stops the replay where it stands, and only there;
the garbage collector, paused while the rows are made, as it was afterwards, however
the replay ends.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterable, Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from application.service import Complaints, event_moment
from domain import audit, disclosure
from domain.chain import is_meta, personal_fields
from domain.commands import Reopen, SendInterimReply
from domain.complaint import Complaint
from tests.support.audit import file_audited_case
from tests.support.samples import kst
from tests.support.stores import StoredRows

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-a0ee20c.db"


def expected_rows(app: Complaints, case_id: Any, *, show_personal: bool) -> list[tuple[Any, ...]]:
    """Each row as the rules say it, one event at a time, from nothing but the events."""
    rows = []
    previous: tuple[str | None, str] = (None, "")
    for event in app.history(case_id):
        name = type(event).__name__
        actor = disclosure.actor_of(event, name, previous)
        command_id = getattr(event, "command_id", None)
        previous = (command_id if isinstance(command_id, str) else None, actor)
        personal = () if show_personal else personal_fields(event)
        details = {
            key: disclosure.masked(key, value) if key in personal else value
            for key, value in vars(event).items()
            if key not in audit.NOT_DETAILS
            and not is_meta(key)
            and not (name == "Received" and key == "received_at")
        }
        # The clocks as a load of the case up to this event has them.
        clocks = tuple(app.get_case(case_id, version=event.originator_version).commitments.values())
        rows.append(
            (
                event.originator_version,
                event_moment(event),
                event.timestamp,
                actor,
                name,
                list(details.items()),  # in their order
                clocks,
                previous[0],
            )
        )
    return rows


def as_made(replayed: audit.Replay) -> list[tuple[Any, ...]]:
    return [
        (
            row.version,
            row.moment,
            row.recorded,
            row.actor,
            row.event,
            list(row.details.items()),
            row.clocks,
            row.command_id,
        )
        for row in replayed.rows
    ]


@pytest.fixture
def old_store(tmp_path: Path) -> Iterator[Complaints]:
    """The store written at a0ee20c (events lacking later fields, the v1 chain), with
    new events appended to one of its cases: the same classes, other attributes."""
    path = tmp_path / "events.db"
    shutil.copy(FIXTURE, path)
    app = Complaints(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)})
    inquiry = Complaint.create_id("fixture-inquiry")
    app.perform(
        inquiry, Reopen(reason="답변 보완 요청", by="lee.service"), at=kst("2026-10-06T10:00"),
        command_id="new-1",
    )  # fmt: skip
    due = app.get_case(inquiry).commitments["reply"].due
    app.perform(
        inquiry,
        SendInterimReply(reason="자료 확인", new_due=due + timedelta(days=1), by="lee.service"),
        at=kst("2026-10-06T11:00"),
        command_id="new-2",
    )
    yield app
    app.close()


@pytest.mark.parametrize("show_personal", [False, True], ids=["masked", "shown"])
@pytest.mark.parametrize(
    "intake_ref", ["fixture-inquiry", "fixture-late-reply", "fixture-callback"]
)
def test_rows_of_old_and_new_records_are_what_the_rules_make_of_each_event(
    old_store: Complaints, intake_ref: str, show_personal: bool
) -> None:
    case_id = Complaint.create_id(intake_ref)
    stored = old_store.history(case_id)
    if intake_ref == "fixture-inquiry":
        # One class stored with two sets of attributes: before and after the commit
        # that added the warning's counting.
        started = [e for e in stored if type(e).__name__ == "InterimReplySent"]
        assert len({tuple(vars(e)) for e in started}) == 2

    replayed = audit.replay(audit.stored_events(old_store, case_id), show_personal=show_personal)

    assert as_made(replayed) == expected_rows(old_store, case_id, show_personal=show_personal)


@pytest.mark.parametrize("show_personal", [False, True], ids=["masked", "shown"])
def test_rows_of_a_case_with_personal_data_are_what_the_rules_make_of_each_event(
    complaints: Complaints, show_personal: bool
) -> None:
    audited = file_audited_case(complaints)

    replayed = audit.replay(
        audit.stored_events(complaints, audited.case_id), show_personal=show_personal
    )

    expected = expected_rows(complaints, audited.case_id, show_personal=show_personal)
    assert as_made(replayed) == expected
    assert any(row[1] != row[2] for row in expected)  # business moments, not records'


def test_a_row_whose_event_left_the_clocks_shares_the_tuple_of_the_row_before(
    complaints: Complaints,
) -> None:
    audited = file_audited_case(complaints)

    rows = audit.replay(audit.stored_events(complaints, audited.case_id)).rows

    for before, row in pairwise(rows):
        same = len(row.clocks) == len(before.clocks) and all(
            a is b for a, b in zip(row.clocks, before.clocks, strict=True)
        )
        assert (row.clocks is before.clocks) == same


def test_a_replay_reads_the_persons_key_once_not_once_per_sealed_event(
    complaints: Complaints, open_complaints: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    audited = file_audited_case(complaints)
    app = open_complaints()
    reads: list[str] = []
    real_read = app.keys._read_key

    def counted(person_id: str) -> bytes | None:
        reads.append(person_id)
        return real_read(person_id)

    monkeypatch.setattr(app.keys, "_read_key", counted)

    replayed = audit.replay(audit.stored_events(app, audited.case_id), show_personal=True)

    # The intake, two apologies and the answer are sealed: one read for the four.
    sealed = [row for row in replayed.rows if row.event in {"Received", "ApologyMade", "Answered"}]
    assert len(sealed) == 4 and replayed.case.contact != "[erased]"
    assert len(reads) == 1


def test_a_record_that_no_longer_decodes_stops_the_replay_at_its_version_only(
    complaints: Complaints, store_env: dict[str, str]
) -> None:
    audited = file_audited_case(complaints)
    broken = audited.middle + 2  # the answer: two apologies before it
    StoredRows(store_env).set_state(audited.case_id, broken, b"{not json")

    with pytest.raises(audit.AuditError, match=f"^version {broken} no longer decodes"):
        audit.replay(audit.stored_events(complaints, audited.case_id))
    # Decoded in the batch that holds the records before it, but never reached: up to
    # the version before it, or to a moment that the event before it is already
    # later than, the replay stands.
    before = audit.replay(audit.stored_events(complaints, audited.case_id, broken - 1))
    assert [row.version for row in before.rows] == list(range(1, broken))
    first_apology = before.rows[audited.middle - 1]
    assert first_apology.event == "ApologyMade" and before.rows[-1].moment > first_apology.moment
    until = audit.replay(
        audit.stored_events(complaints, audited.case_id), as_of=first_apology.moment
    )
    assert [row.version for row in until.rows] == list(range(1, audited.middle + 1))


def collector_seen(events: Iterable[Any], seen: list[bool]) -> Iterator[Any]:
    """The events, noting before each whether the garbage collector is on."""
    for event in events:
        seen.append(gc.isenabled())
        yield event


def failing_after(events: Iterable[Any], count: int) -> Iterator[Any]:
    """The first `count` events, then an error that is not the replay's own."""
    for number, event in enumerate(events):
        if number == count:
            raise RuntimeError("the store went away")
        yield event


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.fixture
def collector_off() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    yield
    if was:
        gc.enable()


def test_the_collector_is_paused_while_the_rows_are_made_and_back_on_after(
    complaints: Complaints, collector_on: None
) -> None:
    audited = file_audited_case(complaints)
    seen: list[bool] = []

    replayed = audit.replay(collector_seen(audit.stored_events(complaints, audited.case_id), seen))

    assert len(seen) == len(replayed.rows) > 1 and not any(seen)
    assert gc.isenabled()


def test_the_collector_is_back_on_however_the_replay_ends(
    complaints: Complaints, store_env: dict[str, str], collector_on: None
) -> None:
    audited = file_audited_case(complaints)
    events = list(audit.stored_events(complaints, audited.case_id))

    # The replay's own errors: an event that is not a complaint's, a version gap, and
    # a record that no longer decodes; then another's, from the events' iterator.
    with pytest.raises(audit.AuditError, match="not an event of a complaint"):
        audit.replay([*events[:3], object()])
    assert gc.isenabled()
    with pytest.raises(audit.AuditError, match="does not apply to the case"):
        audit.replay([*events[:3], *events[4:]])
    assert gc.isenabled()
    StoredRows(store_env).set_state(audited.case_id, audited.middle, b"{not json")
    with pytest.raises(audit.AuditError, match="no longer decodes"):
        audit.replay(audit.stored_events(complaints, audited.case_id))
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="the store went away"):
        audit.replay(failing_after(events, 5))
    assert gc.isenabled()


def test_a_collector_that_was_off_is_left_off(complaints: Complaints, collector_off: None) -> None:
    audited = file_audited_case(complaints)
    events = list(audit.stored_events(complaints, audited.case_id))

    assert len(audit.replay(events).rows) == len(events)
    assert not gc.isenabled()
    with pytest.raises(RuntimeError, match="the store went away"):
        audit.replay(failing_after(events, 5))
    assert not gc.isenabled()
