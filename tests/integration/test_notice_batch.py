"""The notices of one alarm sent by one activity (`send_notices`): each delivered and
recorded once, one that can never go out reported without holding the others back,
one whose channel is down tried again without sending the rest twice."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.channels import Channels, FileSmsOutbox
from activities.notices import NoticeActivities
from application.service import Complaints
from domain.complaint import Complaint
from tests.support.mail import DownableMail
from tests.support.samples import sample_intake
from workflows.models import Notice, NoticeBatch


def notice(case: Complaint, kind: str, recipient: str) -> Notice:
    return Notice(
        case_id=str(case.id),
        receipt_code=case.receipt_code,
        kind=kind,  # type: ignore[arg-type]
        recipient=recipient,
        command_id=f"notice-{uuid.uuid4().hex}",
        detail="reply",
        at=case.received_at,
    )


def sent(complaints: Complaints, case: Complaint) -> list[str]:
    return [
        e.kind  # type: ignore[attr-defined]
        for e in complaints.history(case.id)
        if type(e).__name__ == "NoticeSent"
    ]


def test_a_batch_sends_each_notice_once_and_reports_the_undeliverable_one(
    complaints: Complaints, tmp_path: Path
) -> None:
    case = complaints.file(sample_intake(contact="010-1234-5678"))
    mail = DownableMail(tmp_path / "mail")
    sms = tmp_path / "sms.jsonl"
    activities = NoticeActivities(complaints, Channels(email=mail, sms=FileSmsOutbox(sms)))
    batch = NoticeBatch(
        notices=[
            notice(case, "breach", "lee.service"),  # staff: by e-mail
            notice(case, "overdue", "resident"),  # the resident's phone: by SMS
            notice(case, "escalation", "nobody.here"),  # in no directory: never deliverable
        ]
    )

    # The mail server is down: the SMS goes out and is recorded, the e-mail waits, the
    # undeliverable one holds nothing back; the activity fails to be tried again.
    mail.down = True
    with pytest.raises(ApplicationError) as refused:
        ActivityEnvironment().run(activities.send_notices, batch)
    assert refused.value.type == "TemporaryDeliveryError"
    assert not refused.value.non_retryable
    assert "breach to lee.service" in refused.value.message
    assert sent(complaints, case) == ["overdue"]

    # Tried again with the server back: the e-mail goes out, the SMS is not sent twice.
    mail.down = False
    outcomes = ActivityEnvironment().run(activities.send_notices, batch).outcomes
    breach, overdue, escalation = outcomes
    assert breach.delivery is not None and breach.delivery.channel == "email"
    assert overdue.delivery is not None and overdue.delivery.channel == "already sent"
    assert escalation.delivery is None
    assert escalation.failure is not None and "nobody.here" in escalation.failure
    assert sorted(sent(complaints, case)) == ["breach", "overdue"]
    assert len(sms.read_text(encoding="utf-8").splitlines()) == 1
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
    # Each delivery reports the head after its own record: the last is the case's head.
    latest = complaints.get_case(case.id)
    assert breach.delivery.version == latest.version
    assert breach.delivery.head_digest == latest.head_digest


def test_a_batch_is_one_case_s_notices(complaints: Complaints) -> None:
    first, second = complaints.file(sample_intake()), complaints.file(sample_intake())
    with pytest.raises(ValidationError, match="one case"):
        NoticeBatch(notices=[notice(first, "breach", "lee.service"), notice(second, "breach", "x")])
    with pytest.raises(ValidationError):
        NoticeBatch(notices=[])
