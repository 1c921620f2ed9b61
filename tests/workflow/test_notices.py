"""Notices: sent once, at the right moment, in Korean, over a real SMTP conversation."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.channels import Channels, FileSmsOutbox, SmtpEmail, SmtpSettings
from activities.notices import NoticeActivities, resident_channel
from application.service import Complaints
from tests.support.mail import Mailbox, smtp_server
from tests.support.temporal import Stack, running_stack
from workflows.client import act as api_act
from workflows.client import file_complaint
from workflows.complaint import ComplaintWorkflow
from workflows.models import (
    Answer,
    FileComplaintInput,
    Notice,
    NoticeDelivery,
    RecordApology,
    RecordFinding,
    SendInterimReply,
)

pytestmark = pytest.mark.temporal

CANARY = "카나리아-비밀-사연-7731"


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp(mailbox: Mailbox) -> Iterator[SmtpSettings]:
    yield from smtp_server(mailbox)


def channels_for(settings: SmtpSettings, folder: Path) -> Channels:
    return Channels(email=SmtpEmail(settings), sms=FileSmsOutbox(folder / "sms.jsonl"))


def intake(
    category: str = "inquiry", contact: str = "resident@example.kr", **extra: object
) -> FileComplaintInput:
    return FileComplaintInput(
        intake_ref=f"notice-{uuid.uuid4().hex[:12]}",
        channel="email",
        category=category,
        topic="program",
        contact=contact,
        text=f"프로그램 신청 방법을 알려주세요 {CANARY}",
        **extra,  # type: ignore[arg-type]
    )


def sent(stack: Stack, case_id: str) -> list[object]:
    return [
        e for e in stack.complaints.history(uuid.UUID(case_id)) if type(e).__name__ == "NoticeSent"
    ]


def follows(notice_at: object, event_at: object) -> bool:
    """A notice is stamped right after the fact it tells of (the activity's round trip)."""
    return event_at <= notice_at <= event_at + timedelta(minutes=1)  # type: ignore[operator]


def moment_of(stack: Stack, case_id: str, event_name: str) -> object:
    events = [
        e for e in stack.complaints.history(uuid.UUID(case_id)) if type(e).__name__ == event_name
    ]
    assert len(events) == 1, event_name
    return events[0].at  # type: ignore[attr-defined]


async def test_each_notice_of_a_late_case_is_sent_once_at_its_moment_in_korean(
    ts_env: WorkflowEnvironment, tmp_path: Path, mailbox: Mailbox, smtp: SmtpSettings
) -> None:
    async with running_stack(
        ts_env.client, tmp_path, channels=channels_for(smtp, tmp_path)
    ) as stack:
        handle, view = await file_complaint(stack.client, intake(), stack.task_queue)
        reply = view.commitment("reply")
        assert reply is not None
        await ts_env.sleep(timedelta(hours=30))
        await api_act(
            handle,
            SendInterimReply(
                reason="외부 기관 회신 대기",
                new_due=stack.working_days_after(reply.due, 1),
                by="lee.service",
            ),
        )
        now = await ts_env.get_current_time()
        await ts_env.sleep(stack.working_days_after(reply.due, 1) + timedelta(hours=2) - now)
        await api_act(handle, Answer(text="신청은 홈페이지에서 받습니다.", by="lee.service"))
        expected = [
            ("receipt", "resident"),
            ("interim_reply", "resident"),
            ("reminder", "lee.service"),
            ("breach", "lee.service"),
            ("overdue", "resident"),
            ("escalation", "park.officer"),
            ("answer", "resident"),
        ]
        await stack.wait_for_notices(view.case_id, expected)
        records = sent(stack, view.case_id)
        assert sorted((e.kind, e.recipient) for e in records) == sorted(expected)  # type: ignore[attr-defined]
        at = {e.kind: e.at for e in records}  # type: ignore[attr-defined]
        # The receipt goes out right after the case is recorded.
        assert view.received_at <= at["receipt"] <= view.received_at + timedelta(minutes=1)
        assert follows(at["reminder"], moment_of(stack, view.case_id, "CommitmentWarned"))
        assert follows(at["breach"], moment_of(stack, view.case_id, "CommitmentBreached"))
        assert follows(at["escalation"], moment_of(stack, view.case_id, "Escalated"))
        assert follows(at["interim_reply"], moment_of(stack, view.case_id, "InterimReplySent"))
        assert follows(at["answer"], moment_of(stack, view.case_id, "Answered"))

        resident_mail = mailbox.to("resident@example.kr")
        assert len(resident_mail) == 4
        receipt = next(m for m in resident_mail if "접수되었습니다" in m["Subject"])
        assert (
            receipt["Subject"]
            == f"[안심종합사회복지관] 민원이 접수되었습니다 ({view.receipt_code})"
        )
        body = receipt.get_content()
        assert body.startswith("안녕하십니까? 이웃과 함께 하는 안심종합사회복지관입니다.")
        assert "담당자: 서비스제공팀 사회복지사 이서비스 (전화 02-000-1002)" in body
        assert f"접수번호: {view.receipt_code}" in body
        interim = next(m for m in resident_mail if "진행 상황" in m["Subject"])
        assert "지연 사유: 외부 기관 회신 대기" in interim.get_content()
        overdue = next(m for m in resident_mail if "기한이 지났습니다" in m["Subject"])
        assert "'회신 지연·무성의 처리에 대한 불만'(으)로 접수해" in overdue.get_content()
        assert "조사 결과는 3일 이내에" in overdue.get_content()
        answer = next(m for m in resident_mail if "처리 결과" in m["Subject"])
        assert "신청은 홈페이지에서 받습니다." in answer.get_content()
        officer = mailbox.to("park.officer@ansim.example")
        assert len(officer) == 1 and "지정책임관" in officer[0].get_content()
        assert all(m["Message-ID"].endswith("@minwon>") for m in mailbox.received)


async def test_investigation_result_and_apology_reach_the_resident_by_sms(
    ts_env: WorkflowEnvironment, tmp_path: Path, mailbox: Mailbox, smtp: SmtpSettings
) -> None:
    async with running_stack(
        ts_env.client, tmp_path, channels=channels_for(smtp, tmp_path)
    ) as stack:
        handle, view = await file_complaint(
            stack.client, intake("late_reply", contact="010-2345-6789"), stack.task_queue
        )
        await api_act(
            handle,
            RecordFinding(
                fault_confirmed=True, finding="답변 누락을 확인했습니다", by="park.officer"
            ),
        )
        await api_act(handle, RecordApology(mode="public", by="park.officer"))
        expected = [
            ("receipt", "resident"),
            ("investigation_result", "resident"),
            ("apology", "resident"),
        ]
        await stack.wait_for_notices(view.case_id, expected)
        assert sorted((e.kind, e.recipient) for e in sent(stack, view.case_id)) == sorted(expected)  # type: ignore[attr-defined]
        messages = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
        assert {m["to"] for m in messages} == {"01023456789"}
        texts = "\n".join(m["text"] for m in messages)
        assert "잘못이 있었음을 확인하였습니다" in texts
        assert "진심으로 사과드립니다. 이 사과는 복지관 홈페이지에도 공개하였습니다." in texts
        assert mailbox.to("resident@example.kr") == []


async def test_a_receipt_never_echoes_the_complaint_text_private_or_not(
    ts_env: WorkflowEnvironment, tmp_path: Path, mailbox: Mailbox, smtp: SmtpSettings
) -> None:
    # Anyone may give any contact: a receipt that echoed the text would mail their
    # words to that address in the center's name. It says what was promised instead.
    async with running_stack(
        ts_env.client, tmp_path, channels=channels_for(smtp, tmp_path)
    ) as stack:
        _, private = await file_complaint(stack.client, intake(private=True), stack.task_queue)
        _, public = await file_complaint(
            stack.client, intake(contact="open@example.kr"), stack.task_queue
        )
        await stack.wait_for_notices(private.case_id, [("receipt", "resident")])
        await stack.wait_for_notices(public.case_id, [("receipt", "resident")])
        [private_mail] = mailbox.to("resident@example.kr")
        assert CANARY not in private_mail.get_content()
        assert "비공개로 접수하신 민원" in private_mail.get_content()
        [public_mail] = mailbox.to("open@example.kr")
        body = public_mail.get_content()
        assert CANARY not in body and "프로그램 신청" not in body
        assert "보내주신 내용은 이 안내에 적지 않았습니다" in body
        assert f"접수번호는 {public.receipt_code}입니다" in body
        assert "답변: " in body and "까지 알려드리겠습니다" in body
        assert "담당자: 서비스제공팀 사회복지사 이서비스 (전화 02-000-1002)" in body


async def test_a_mail_server_that_keeps_failing_is_retried_then_the_failure_is_recorded(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    refusing = Mailbox(refuse_with="451 4.3.0 Try again later")
    for settings in smtp_server(refusing):
        async with running_stack(
            ts_env.client, tmp_path, channels=channels_for(settings, tmp_path)
        ) as stack:
            handle, view = await file_complaint(stack.client, intake(), stack.task_queue)
            await ts_env.sleep(timedelta(hours=1))
            for _ in range(400):
                current = await handle.query(ComplaintWorkflow.status)
                if current.notices_failed:
                    break
                await ts_env.sleep(timedelta(minutes=5))
            assert current.notices_failed == 1
            assert refusing.attempts == 6  # the policy's maximum_attempts, each a real SMTP try
            case = stack.complaints.get_case(uuid.UUID(view.case_id))
            [failed] = [n for n in case.notices if n["outcome"] == "failed"]
            # A reason code and the server's numeric codes: nothing that names the resident.
            assert failed["kind"] == "receipt"
            assert failed["reason"] == "mail-deferred (SMTP 451 4.3.0)"
            assert sent(stack, view.case_id) == []


async def test_a_refused_address_is_recorded_at_once_without_retrying(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # Real servers repeat the address in their answer: none of it may be kept.
    refusing = Mailbox(refuse_with="550 5.1.1 <resident@example.kr>: Recipient address rejected")
    for settings in smtp_server(refusing):
        async with running_stack(
            ts_env.client, tmp_path, channels=channels_for(settings, tmp_path)
        ) as stack:
            handle, _ = await file_complaint(stack.client, intake(), stack.task_queue)
            for _ in range(200):
                current = await handle.query(ComplaintWorkflow.status)
                if current.notices_failed:
                    break
                await ts_env.sleep(timedelta(seconds=30))
            assert current.notices_failed == 1
            assert refusing.attempts == 1
            case = stack.complaints.get_case(uuid.UUID(current.case_id))
            [failed] = [n for n in case.notices if n["outcome"] == "failed"]
            assert failed["reason"] == "mail-refused (SMTP 550 5.1.1)"
            history = await handle.fetch_history()
            assert "resident@example.kr" not in str(history), "the address reached the history"


def test_sending_the_same_notice_twice_delivers_and_records_it_once(
    tmp_path: Path, mailbox: Mailbox, smtp: SmtpSettings
) -> None:
    from application.service import Intake

    complaints = Complaints(env={"SQLITE_DBNAME": str(tmp_path / "events.db")})
    try:
        fields = intake().model_dump(exclude={"linked_to", "received_at", "restored"})
        case = complaints.file(Intake(**fields, received_at=_now(), linked_to=None))
        notices = NoticeActivities(complaints, channels_for(smtp, tmp_path))
        notice = Notice(
            case_id=str(case.id),
            receipt_code=case.receipt_code,
            kind="receipt",
            recipient="resident",
            command_id="notice-1",
            at=_now(),
        )
        env = ActivityEnvironment()
        first = env.run(notices.send_notice, notice)
        again = env.run(notices.send_notice, notice)
        assert len(mailbox.received) == 1
        names = [type(e).__name__ for e in complaints.history(case.id)]
        assert names.count("NoticeSent") == 1
        # Both report the head with the delivery record: the workflow's anchor.
        head = complaints.get_case(case.id)
        assert names[-1] == "NoticeSent"
        assert first == NoticeDelivery(
            channel="email", version=head.version, head_digest=head.head_digest
        )
        assert again == first.model_copy(update={"channel": "already sent"})
    finally:
        complaints.close()


def _now():  # type: ignore[no-untyped-def]
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Seoul"))


@pytest.mark.parametrize(
    ("contact", "channel"),
    [("a.b@example.kr", "email"), ("010-1234-5678", "sms"), ("+82 10 1234 5678", "sms")],
)
def test_the_residents_channel_follows_the_contact_they_gave(contact: str, channel: str) -> None:
    assert resident_channel(contact)[0] == channel
