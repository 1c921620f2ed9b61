"""The notice outbox (activities.outbox) on a real store, SQLite and PostgreSQL: an
alarm's notices are queued in the save that records it, and delivered from the store
once each — by one outbox of several, after a restart, through a mail server that
is down for a while, and given up (recorded for ops) when they never can go out."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from activities.channels import Channels, FileEmail, FileSmsOutbox
from activities.notices import NoticeActivities
from activities.outbox import CLAIM, GIVE_UP_AFTER, OUTBOX, NoticeOutbox
from application.service import Complaints
from domain.commands import AddNote, Breach, Escalate, Warn
from domain.complaint import Complaint
from projections.runner import ReadModels
from tests.support.mail import DownableMail
from tests.support.samples import sample_intake


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def outbox_on(
    complaints: Complaints, store_env: dict[str, str], mail: FileEmail, sms: Path, clock: Clock
) -> Iterator[NoticeOutbox]:
    notices = NoticeActivities(complaints, Channels(email=mail, sms=FileSmsOutbox(sms)))
    with ReadModels(store_env, names=tuple(OUTBOX), models=OUTBOX) as models:
        yield NoticeOutbox(complaints, notices, models, clock=clock)


def breached(complaints: Complaints, contact: str = "010-1234-5678") -> tuple[Complaint, datetime]:
    """A case whose reply deadline has just passed, its breach recorded with its notices
    queued (the assignee's and the resident's)."""
    case = complaints.file(sample_intake(contact=contact))
    due = case.commitments["reply"].due
    at = due + timedelta(minutes=1)
    case = complaints.perform(
        case.id, Breach(kind="reply"), at=at, command_id=str(uuid.uuid4()), notify=True
    )
    return case, at


def names(complaints: Complaints, case: Complaint) -> list[str]:
    return [type(e).__name__ for e in complaints.history(case.id)]


def delivered(complaints: Complaints, case: Complaint) -> list[tuple[str, str, str]]:
    """(kind, recipient, outcome) of each notice the case recorded as done."""
    return [
        (e.kind, e.recipient, type(e).__name__)  # type: ignore[attr-defined]
        for e in complaints.history(case.id)
        if type(e).__name__ in ("NoticeSent", "NoticeFailed")
    ]


def test_a_breach_queues_its_notices_in_its_own_save_and_the_outbox_sends_each_once(
    complaints: Complaints, store_env: dict[str, str], tmp_path: Path
) -> None:
    case, at = breached(complaints)
    history = names(complaints, case)
    # Queued right after the breach, in the same save (one version step per event).
    assert history[-3:] == ["CommitmentBreached", "NoticeQueued", "NoticeQueued"]
    mail, sms = DownableMail(tmp_path / "mail"), tmp_path / "sms.jsonl"
    with outbox_on(complaints, store_env, mail, sms, Clock(at)) as outbox:
        done = outbox.deliver()
        assert (done.sent, done.failed, done.deferred) == (2, 0, 0)
        assert delivered(complaints, case) == [
            ("breach", "lee.service", "NoticeSent"),  # the assignee
            ("overdue", "resident", "NoticeSent"),
        ]
        # Nothing left: another round, and another outbox on the store, send nothing.
        assert outbox.deliver().sent == 0
    with outbox_on(complaints, store_env, mail, sms, Clock(at)) as restarted:
        assert restarted.deliver().sent == 0
        assert restarted.view.waiting() == []
    assert len(list((tmp_path / "mail").iterdir())) == 1  # the assignee's e-mail
    assert len(sms.read_text().splitlines()) == 1  # the resident's text


def test_a_mail_server_down_defers_the_notice_and_it_goes_out_once_mended(
    complaints: Complaints, store_env: dict[str, str], tmp_path: Path
) -> None:
    case, at = breached(complaints)
    mail, sms = DownableMail(tmp_path / "mail"), tmp_path / "sms.jsonl"
    clock = Clock(at)
    with outbox_on(complaints, store_env, mail, sms, clock) as outbox:
        mail.down = True
        done = outbox.deliver()
        # The resident's text went; the assignee's e-mail waits for its next try.
        assert (done.sent, done.failed, done.deferred) == (1, 0, 1)
        assert delivered(complaints, case) == [("overdue", "resident", "NoticeSent")]
        mail.down = False
        clock.now = at + timedelta(seconds=5)  # before the first retry (10 s)
        assert outbox.deliver().sent == 0
        clock.now = at + timedelta(seconds=11)
        assert outbox.deliver().sent == 1
        assert delivered(complaints, case) == [
            ("overdue", "resident", "NoticeSent"),
            ("breach", "lee.service", "NoticeSent"),
        ]
        outbox.deliver()
        assert outbox.view.waiting() == []
    assert len(list((tmp_path / "mail").iterdir())) == 1


def test_a_notice_that_never_goes_out_is_recorded_failed_for_ops(
    complaints: Complaints, store_env: dict[str, str], tmp_path: Path
) -> None:
    case, at = breached(complaints)
    mail, sms = DownableMail(tmp_path / "mail"), tmp_path / "sms.jsonl"
    clock = Clock(at)
    mail.down = True
    with outbox_on(complaints, store_env, mail, sms, clock) as outbox:
        tried = 0
        while clock.now < at + GIVE_UP_AFTER + timedelta(minutes=5):
            done = outbox.deliver()
            tried += done.deferred + done.failed
            clock.now += timedelta(seconds=30)
        # Tried again and again with backoff, then given up once, GIVE_UP_AFTER after
        # the first try.
        assert 3 <= tried <= 12
        failed = [e for e in complaints.history(case.id) if type(e).__name__ == "NoticeFailed"]
        assert [(e.kind, e.recipient) for e in failed] == [("breach", "lee.service")]  # type: ignore[attr-defined]
        assert "connection-refused" in failed[0].reason  # type: ignore[attr-defined]
        assert failed[0].at >= at + GIVE_UP_AFTER  # type: ignore[attr-defined]
        outbox.deliver()
        assert outbox.view.waiting() == []
    assert not (tmp_path / "mail").exists() or not list((tmp_path / "mail").iterdir())


def test_a_notice_with_no_way_to_reach_its_recipient_is_given_up_at_once(
    complaints: Complaints, store_env: dict[str, str], tmp_path: Path
) -> None:
    case, at = breached(complaints, contact="방문 예정")  # neither e-mail nor phone
    mail, sms = DownableMail(tmp_path / "mail"), tmp_path / "sms.jsonl"
    with outbox_on(complaints, store_env, mail, sms, Clock(at)) as outbox:
        done = outbox.deliver()
        assert (done.sent, done.failed, done.deferred) == (1, 1, 0)
    assert delivered(complaints, case) == [
        ("breach", "lee.service", "NoticeSent"),
        ("overdue", "resident", "NoticeFailed"),
    ]


def test_two_outboxes_on_one_store_never_hold_the_same_notice(
    open_complaints: Callable[[], Complaints], store_env: dict[str, str], tmp_path: Path
) -> None:
    complaints = open_complaints()
    case, at = breached(complaints)
    mail, sms = DownableMail(tmp_path / "mail"), tmp_path / "sms.jsonl"
    clock = Clock(at)
    with (
        outbox_on(complaints, store_env, mail, sms, clock) as first,
        outbox_on(open_complaints(), store_env, mail, sms, clock) as second,
    ):
        first.models.catch_up()
        # The first outbox claims both, then stops before sending (its process died).
        held = first.view.claim("first/1", at, at + CLAIM, 100)
        assert len(held) == 2
        assert second.deliver().sent == 0  # held by the first: left alone
        assert delivered(complaints, case) == []
        clock.now = at + CLAIM + timedelta(seconds=1)  # the claim ran out
        assert second.deliver().sent == 2
    assert len(delivered(complaints, case)) == 2


def test_a_new_outbox_on_a_store_written_before_it_starts_at_the_end_of_the_log(
    complaints: Complaints, store_env: dict[str, str], tmp_path: Path
) -> None:
    for _ in range(3):
        complaints.file(sample_intake())
    last = complaints.recorder.max_notification_id()
    mail, sms = DownableMail(tmp_path / "mail"), tmp_path / "sms.jsonl"
    with outbox_on(complaints, store_env, mail, sms, Clock(datetime.now().astimezone())) as box:
        assert box.deliver().sent == 0
        assert box.models.position("notice_outbox") == last
    # A notice queued after that point is read and sent. (One queued before any outbox
    # ran is read from the log's start: the first test.)
    case, at = breached(complaints)
    with outbox_on(complaints, store_env, mail, sms, Clock(at)) as box:
        assert box.deliver().sent == 2
    assert len(delivered(complaints, case)) == 2


def test_each_alarm_queues_who_hears_of_it_once(complaints: Complaints) -> None:
    case = complaints.file(sample_intake(contact="010-1234-5678"))
    reply = case.commitments["reply"]

    def queued_after(action: object, at: datetime, command_id: str) -> list[tuple[str, str, str]]:
        before = len(complaints.history(case.id))
        complaints.perform(case.id, action, at=at, command_id=command_id, notify=True)  # type: ignore[arg-type]
        return [
            (e.kind, e.recipient, e.detail)  # type: ignore[attr-defined]
            for e in complaints.history(case.id)[before:]
            if type(e).__name__ == "NoticeQueued"
        ]

    warned = str(uuid.uuid4())
    assert queued_after(Warn(kind="reply"), reply.warn_at, warned) == [
        ("reminder", "lee.service", "reply")
    ]
    # The same alarm again (a step run twice): nothing queued twice.
    assert queued_after(Warn(kind="reply"), reply.warn_at, warned) == []
    late = reply.due + timedelta(minutes=1)
    assert queued_after(Breach(kind="reply"), late, str(uuid.uuid4())) == [
        ("breach", "lee.service", "reply"),
        ("overdue", "resident", "reply"),
    ]
    escalate = Escalate(reason="reply overdue", by="system", trigger="deadline")
    told = queued_after(escalate, late, str(uuid.uuid4()))
    last = complaints.get_case(case.id).escalations[-1]
    assert told == [("escalation", last.to_staff or last.to_role, last.to_role)]
    assert last.to_role == "designated_officer"
    # Only the clocks' alarms queue notices with them.
    with pytest.raises(ValueError, match="not an alarm"):
        queued_after(AddNote(text="전화 드림", by="lee.service"), late, str(uuid.uuid4()))
