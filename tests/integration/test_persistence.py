"""The `Complaints` application on a real event store, SQLite file and PostgreSQL alike.

Every test runs once per backend (`store_env` in conftest). Reads that matter go
through a second `Complaints` instance, so they prove what was stored rather than
what one instance remembers. Tampering goes straight to the stored rows, as someone
with database access would.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from application.service import Complaints
from domain import audit
from domain.chain import Link, event_digest
from domain.commands import Assign, RecordApology, SendInterimReply
from domain.complaint import CaseNotFoundError, Complaint
from tests.support.samples import kst, sample_intake
from tests.support.stores import StoredRows, run_in_threads

OpenComplaints = Callable[[], Complaints]

RECEIPT_ISSUED_TOPIC = "domain.receipt:ReceiptIndex.Issued"


# -- helpers ---------------------------------------------------------------------------


def versions(app: Complaints, case_id: uuid.UUID) -> list[int]:
    return [e.originator_version for e in app.history(case_id)]


def apologise(
    app: Complaints, case_id: uuid.UUID, n: int, *, command_id: str | None = None
) -> None:
    """Record apology number `n`: a command that adds an event each time it is new."""
    app.perform(
        case_id,
        RecordApology(mode="phone", by="park.officer", note=f"apology note {n}"),
        at=kst("2026-09-22T09:00"),
        command_id=command_id or f"apology-{n}",
    )


def stored_event(app: Complaints, case_id: uuid.UUID, version: int) -> Any:
    """One event of a case as the store now decodes it."""
    (found,) = [e for e in app.history(case_id) if e.originator_version == version]
    return found


def file_case_with_apologies(app: Complaints, count: int = 4) -> Complaint:
    """A filed case, (re)assigned, then `count` apologies ("apology note 1", ...)."""
    case = app.file(sample_intake())
    app.perform(
        case.id,
        Assign(staff="kim.casemgr", role="case_manager", by="han.ops"),
        at=kst("2026-09-21T10:30"),
        command_id="assign-1",
    )
    for n in range(1, count + 1):
        apologise(app, case.id, n)
    return app.get_case(case.id)


@pytest.fixture
def stored_rows(store_env: dict[str, str]) -> StoredRows:
    return StoredRows(store_env)


# -- intake ------------------------------------------------------------------------------


def test_filed_intake_is_stored_and_reloads_equal_in_another_instance(
    complaints: Complaints, open_complaints: OpenComplaints
) -> None:
    filed = complaints.file(sample_intake("2026-0921-001"))

    reloaded = open_complaints().get_case(filed.id)

    assert reloaded == filed
    assert reloaded.id == Complaint.create_id("2026-0921-001")
    assert versions(complaints, filed.id) == list(range(1, filed.version + 1))
    assert reloaded.contact == "홍길동 010-1234-5678"
    assert reloaded.received_at == kst("2026-09-21T10:00")
    assert reloaded.commitments["reply"].due == kst("2026-10-01T18:00")


def test_filing_the_same_intake_twice_gives_one_case_and_one_receipt_code(
    complaints: Complaints, open_complaints: OpenComplaints
) -> None:
    intake = sample_intake("2026-0921-002")

    first = complaints.file(intake)
    # A retried intake activity may land on another worker.
    second = open_complaints().file(intake)

    assert second.id == first.id
    assert second.receipt_code == first.receipt_code
    assert versions(complaints, first.id) == list(range(1, first.version + 1))
    issued = complaints.recorder.select_notifications(
        start=None, limit=100, topics=[RECEIPT_ISSUED_TOPIC]
    )
    assert len(issued) == 1


def test_filing_the_same_intake_concurrently_from_several_instances_gives_one_case(
    complaints: Complaints, open_complaints: OpenComplaints
) -> None:
    intake = sample_intake("2026-0921-003")
    instances = [open_complaints() for _ in range(6)]

    filed = run_in_threads([functools.partial(app.file, intake) for app in instances])

    assert {case.id for case in filed} == {Complaint.create_id("2026-0921-003")}
    assert len({case.receipt_code for case in filed}) == 1
    case_id = filed[0].id
    # The intake's events (received, clocks started, routed) were stored once.
    assert versions(complaints, case_id) == list(range(1, filed[0].version + 1))
    assert {case.version for case in filed} == {filed[0].version}
    issued = complaints.recorder.select_notifications(
        start=None, limit=100, topics=[RECEIPT_ISSUED_TOPIC]
    )
    assert len(issued) == 1
    assert complaints.find_by_receipt(filed[0].receipt_code).id == case_id


# -- commands ----------------------------------------------------------------------------


def test_a_command_run_twice_with_the_same_command_id_stores_one_event(
    complaints: Complaints, open_complaints: OpenComplaints
) -> None:
    case = complaints.file(sample_intake())

    apologise(complaints, case.id, 1, command_id="activity-7f3a")
    # Temporal retried the activity on another worker after the first save landed.
    apologise(open_complaints(), case.id, 1, command_id="activity-7f3a")

    assert versions(open_complaints(), case.id) == list(range(1, case.version + 2))
    assert len(complaints.get_case(case.id).apologies) == 1


def test_concurrent_commands_on_one_case_are_all_recorded_in_a_verifiable_chain(
    complaints: Complaints, open_complaints: OpenComplaints
) -> None:
    case = complaints.file(sample_intake())
    # 4 writers x 3 commands: a command loses at most 9 races, within execute's 10 tries.
    writers, each = 4, 3

    def writer(w: int) -> Callable[[], None]:
        app = open_complaints()

        def write() -> None:
            for k in range(each):
                apologise(app, case.id, w * each + k + 1)

        return write

    run_in_threads([writer(w) for w in range(writers)])

    reader = open_complaints()
    total = writers * each
    assert versions(reader, case.id) == list(range(1, case.version + total + 1))
    stored = reader.get_case(case.id)
    assert sorted(a["note"] for a in stored.apologies) == sorted(
        f"apology note {n}" for n in range(1, total + 1)
    )
    assert reader.verify(case.id) is None


# -- reading -------------------------------------------------------------------------------


def test_find_by_receipt_accepts_a_sloppily_typed_code(
    complaints: Complaints, open_complaints: OpenComplaints
) -> None:
    case = complaints.file(sample_intake())
    # Read over the phone: lower case, spaces for dashes, O for zero, l for one.
    sloppy = " " + case.receipt_code.lower().replace("-", " ")
    sloppy = sloppy.replace("0", "o").replace("1", "l") + " "

    found = open_complaints().find_by_receipt(sloppy)

    assert found.id == case.id
    with pytest.raises(CaseNotFoundError):
        complaints.find_by_receipt("MW-00000-00000")


@dataclass(frozen=True)
class InterimReplyCase:
    """Received Mon 9/21 10:00 (reply due 10/1 18:00); on 9/28 14:00 extended to 10/8."""

    case_id: uuid.UUID
    filed: int  # version after intake, all stamped 9/21 10:00
    before: int  # version just before the interim reply
    after: int  # version with the interim reply and the extension


@pytest.fixture
def case_with_interim_reply(complaints: Complaints) -> InterimReplyCase:
    case = complaints.file(sample_intake())
    assigned = complaints.perform(
        case.id,
        Assign(staff="kim.casemgr", role="case_manager", by="han.ops"),
        at=kst("2026-09-21T11:00"),
        command_id="assign-1",
    )
    replied = complaints.perform(
        case.id,
        SendInterimReply(
            kind="reply",
            reason="외부 기관 확인이 필요합니다",
            new_due=kst("2026-10-08T18:00"),
            by="kim.casemgr",
        ),
        at=kst("2026-09-28T14:00"),
        command_id="interim-1",
    )
    return InterimReplyCase(case.id, case.version, assigned.version, replied.version)


def assert_before_interim_reply(case: Complaint) -> None:
    assert case.interim_replies == []
    assert case.commitments["reply"].due == kst("2026-10-01T18:00")
    assert case.commitments["reply"].extensions == 0


def assert_after_interim_reply(case: Complaint) -> None:
    assert [reply["reason"] for reply in case.interim_replies] == ["외부 기관 확인이 필요합니다"]
    assert case.commitments["reply"].due == kst("2026-10-08T18:00")
    assert case.commitments["reply"].extensions == 1


def test_get_case_at_a_version_shows_the_case_before_and_after_the_interim_reply(
    case_with_interim_reply: InterimReplyCase, open_complaints: OpenComplaints
) -> None:
    app, case = open_complaints(), case_with_interim_reply
    assert case.after == case.before + 2  # InterimReplySent, CommitmentExtended

    assert_before_interim_reply(app.get_case(case.case_id, version=case.before))
    assert_after_interim_reply(app.get_case(case.case_id, version=case.after))
    assert_after_interim_reply(app.get_case(case.case_id))


def test_as_of_shows_the_case_as_it_stood_at_a_past_moment(
    case_with_interim_reply: InterimReplyCase, open_complaints: OpenComplaints
) -> None:
    app, case = open_complaints(), case_with_interim_reply

    before = app.as_of(case.case_id, kst("2026-09-28T13:59"))
    at_reply = app.as_of(case.case_id, kst("2026-09-28T14:00"))
    # The same instant given in UTC.
    in_utc = app.as_of(case.case_id, datetime(2026, 9, 28, 5, 0, tzinfo=UTC))

    assert before.version == case.before
    assert_before_interim_reply(before)
    assert at_reply.version == in_utc.version == case.after
    assert_after_interim_reply(at_reply)
    assert_after_interim_reply(in_utc)
    assert app.as_of(case.case_id, kst("2026-09-21T10:10")).version == case.filed
    with pytest.raises(CaseNotFoundError):
        app.as_of(case.case_id, kst("2026-09-21T09:59"))


# -- tamper evidence -------------------------------------------------------------------------


@dataclass(frozen=True)
class ApologisedCase:
    case_id: uuid.UUID
    middle: int  # the second of four apologies: events before and after it


@pytest.fixture
def apologised_case(complaints: Complaints) -> ApologisedCase:
    case = file_case_with_apologies(complaints, count=4)
    (middle,) = [
        e.originator_version
        for e in complaints.history(case.id)
        if getattr(e, "note", None) == "apology note 2"
    ]
    assert 1 < middle < case.version - 1
    return ApologisedCase(case.id, middle)


def test_verify_finds_nothing_wrong_with_an_intact_case(
    apologised_case: ApologisedCase, open_complaints: OpenComplaints
) -> None:
    assert open_complaints().verify(apologised_case.case_id) is None


def test_verify_reports_the_next_link_when_a_byte_of_a_middle_event_is_changed(
    apologised_case: ApologisedCase, stored_rows: StoredRows, open_complaints: OpenComplaints
) -> None:
    app, case_id, middle = open_complaints(), apologised_case.case_id, apologised_case.middle
    original_digest = event_digest(stored_event(app, case_id, middle))
    state = stored_rows.state(case_id, middle)
    # The note is personal data: the store holds it sealed, never in the clear.
    assert b"apology note 2" not in state
    assert state.count(b'"apology-2"') == 1

    stored_rows.set_state(case_id, middle, state.replace(b'"apology-2"', b'"apology-9"'))

    # The altered event still loads: only the chain can tell.
    assert "apology-9" in app.get_case(case_id).command_ids
    broken = app.verify(case_id)
    assert broken is not None
    assert broken.version == middle + 1
    assert broken.problem == "previous-event digest does not match"
    assert broken.found == original_digest
    assert broken.expected == event_digest(stored_event(app, case_id, middle))


def test_verify_reports_a_middle_event_that_no_longer_decodes(
    apologised_case: ApologisedCase, stored_rows: StoredRows, open_complaints: OpenComplaints
) -> None:
    app, case_id, middle = open_complaints(), apologised_case.case_id, apologised_case.middle
    state = stored_rows.state(case_id, middle)

    stored_rows.set_state(case_id, middle, b"#" + state[1:])

    broken = app.verify(case_id)
    assert broken is not None
    assert broken.version == middle
    assert broken.problem == "previous-event digest does not match"
    assert broken.found.startswith("<undecodable:")


def test_verify_reports_a_deleted_middle_event(
    apologised_case: ApologisedCase, stored_rows: StoredRows, open_complaints: OpenComplaints
) -> None:
    app, case_id, middle = open_complaints(), apologised_case.case_id, apologised_case.middle

    stored_rows.delete(case_id, middle)

    broken = app.verify(case_id)
    assert broken is not None
    assert broken.version == middle
    assert broken.problem == "event missing or out of order"
    assert broken.found == f"version {middle + 1}"


def test_verify_reports_two_middle_events_whose_states_were_swapped(
    apologised_case: ApologisedCase, stored_rows: StoredRows, open_complaints: OpenComplaints
) -> None:
    app, case_id, middle = open_complaints(), apologised_case.case_id, apologised_case.middle
    digest_before = event_digest(stored_event(app, case_id, middle - 1))
    digest_of_middle = event_digest(stored_event(app, case_id, middle))
    middle_state = stored_rows.state(case_id, middle)
    following_state = stored_rows.state(case_id, middle + 1)

    stored_rows.set_state(case_id, middle, following_state)
    stored_rows.set_state(case_id, middle + 1, middle_state)

    broken = app.verify(case_id)
    assert broken is not None
    assert broken.version == middle
    assert broken.problem == "previous-event digest does not match"
    assert broken.expected == digest_before
    # The moved event's sealed note is bound to its old place, so it no longer opens.
    assert broken.found == digest_of_middle or "was altered or moved" in broken.found


def test_verify_reports_a_sealed_personal_field_that_was_altered(
    apologised_case: ApologisedCase, stored_rows: StoredRows, open_complaints: OpenComplaints
) -> None:
    app, case_id, middle = open_complaints(), apologised_case.case_id, apologised_case.middle
    state = stored_rows.state(case_id, middle)
    start = state.index(b'"sealed":"') + len(b'"sealed":"')
    flipped = b"A" if state[start + 20 : start + 21] != b"A" else b"B"
    stored_rows.set_state(case_id, middle, state[: start + 20] + flipped + state[start + 21 :])

    broken = app.verify(case_id)
    assert broken is not None
    assert broken.version == middle
    assert "was altered or moved" in broken.found


def test_every_stored_record_reads_as_the_link_its_decoded_event_makes(
    apologised_case: ApologisedCase, stored_rows: StoredRows, open_complaints: OpenComplaints
) -> None:
    # verify reads links straight from the records; they must be what the events give,
    # for personal fields sealed, erased, and a moment stored in another ISO spelling —
    # which the chain, covering the stored bytes, reports as the change it is.
    app, case_id, middle = open_complaints(), apologised_case.case_id, apologised_case.middle
    other = app.file(sample_intake(contact="김철수 010-9876-5432"))
    app.erase_person(
        app.get_case(other.id).person_id, reason="요청", by="ops", at=kst("2026-09-23T09:00")
    )
    state = stored_rows.state(case_id, middle)
    assert state.count(b'"2026-09-22T09:00:00+09:00"') == 1
    stored_rows.set_state(
        case_id, middle, state.replace(b'"2026-09-22T09:00:00+09:00"', b'"2026-09-22 09:00+09:00"')
    )

    for some_case in (case_id, other.id):
        records = app.recorder.select_events(some_case)
        links = [app.mapper.to_chain_link(record) for record in records]
        assert links == [Link.of(app.mapper.to_domain_event(record)) for record in records]
    assert app.verify(other.id) is None
    broken = app.verify(case_id)
    assert broken is not None and broken.version == middle + 1


def test_verify_reads_the_persons_key_once_per_case_not_once_per_sealed_event(
    apologised_case: ApologisedCase,
    open_complaints: OpenComplaints,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = open_complaints()
    reads: list[str] = []
    real_read = app.keys._read_key

    def counted(person_id: str) -> bytes | None:
        reads.append(person_id)
        return real_read(person_id)

    monkeypatch.setattr(app.keys, "_read_key", counted)
    ref = audit.CaseRef(apologised_case.case_id, None)

    assert app.verify(apologised_case.case_id) is None
    assert audit.verify_case(app, ref, "not asked").intact

    # The intake and four apologies are sealed: five events, one person, one read each.
    assert len(reads) == 2 and len(set(reads)) == 1


def test_verify_reports_a_stored_moment_that_no_longer_parses(
    apologised_case: ApologisedCase, stored_rows: StoredRows, open_complaints: OpenComplaints
) -> None:
    app, case_id = open_complaints(), apologised_case.case_id
    last = app.get_case(case_id).version
    state = stored_rows.state(case_id, last)
    assert state.count(b'"2026-09-22T09:00:00+09:00"') == 1

    stored_rows.set_state(
        case_id, last, state.replace(b'"2026-09-22T09:00:00+09:00"', b'"2026-09-32T09:00:00+09:00"')
    )

    # The last event: no later link carries its digest, yet the record is caught.
    broken = app.verify(case_id)
    assert broken is not None
    assert broken.version == last
    assert broken.found.startswith("<undecodable:")


def test_verify_does_not_call_a_case_whose_events_were_all_deleted_intact(
    apologised_case: ApologisedCase, stored_rows: StoredRows, open_complaints: OpenComplaints
) -> None:
    app, case_id = open_complaints(), apologised_case.case_id
    last = app.get_case(case_id).version

    for version in range(1, last + 1):
        stored_rows.delete(case_id, version)

    with pytest.raises(CaseNotFoundError):
        app.verify(case_id)
    with pytest.raises(CaseNotFoundError):
        app.verify(Complaint.create_id("never-filed"))


def test_a_save_lost_to_a_concurrent_writer_does_not_link_the_next_record(
    complaints: Complaints,
) -> None:
    """Two copies of a case race; the loser's records were mapped but never stored, and
    the next command must link to the winner's record, not to the loser's."""
    case = complaints.file(sample_intake())
    first, second = complaints.get_case(case.id), complaints.get_case(case.id)
    first.add_note(text="먼저", by="lee.service", at=kst("2026-09-22T10:00"), command_id="a")
    second.add_note(text="나중", by="lee.service", at=kst("2026-09-22T10:01"), command_id="b")
    complaints.save(first)
    third = complaints.get_case(case.id)  # loaded with the winner's record
    with pytest.raises(IntegrityError):
        complaints.save(second)

    third.add_note(text="그다음", by="lee.service", at=kst("2026-09-22T10:02"), command_id="c")
    complaints.save(third)

    assert complaints.verify(case.id) is None
