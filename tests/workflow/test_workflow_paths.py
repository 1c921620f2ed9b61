"""Every charter path through ComplaintWorkflow, on the time-skipping test server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from tests.support.processes import wait_until
from tests.support.temporal import Stack, local_activity_markers, running_stack
from workflows.client import act as api_act
from workflows.client import file_complaint
from workflows.complaint import ComplaintWorkflow
from workflows.models import (
    Announce,
    Answer,
    Close,
    DeclineAnnouncement,
    Escalate,
    FileComplaintInput,
    RateSatisfaction,
    RecordApology,
    RecordCorrectiveAction,
    RecordFinding,
    Reopen,
    SendInterimReply,
    TakeMessage,
    Warn,
    Withdraw,
)

pytestmark = pytest.mark.temporal


@pytest_asyncio.fixture
async def stack(ts_env: WorkflowEnvironment, tmp_path) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    async with running_stack(ts_env.client, tmp_path) as running:
        yield running


def intake(category: str = "inquiry", **fields: object) -> FileComplaintInput:
    return FileComplaintInput(
        intake_ref=f"test-{uuid.uuid4().hex[:12]}",
        channel=fields.pop("channel", "homepage"),  # type: ignore[arg-type]
        category=category,
        topic=fields.pop("topic", "program"),  # type: ignore[arg-type]
        contact="010-1234-5678",
        text="프로그램 신청 방법을 알려주세요",
        **fields,  # type: ignore[arg-type]
    )


def event_names(stack: Stack, case_id: str) -> list[str]:
    return [type(e).__name__ for e in stack.complaints.history(uuid.UUID(case_id))]


async def test_a_reply_in_time_keeps_the_commitment_and_the_case_closes(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, _ = await file_complaint(stack.client, intake(), stack.task_queue)
    await ts_env.sleep(timedelta(days=2))
    view = await handle.query(ComplaintWorkflow.status)
    assert view.status == "assigned"
    assert view.assignee == "lee.service"
    answered = await api_act(handle, Answer(text="안내드립니다", by="lee.service"))
    assert answered.commitment("reply").status == "met"
    await api_act(handle, Close(by="lee.service"))
    final = await handle.result()
    assert final.status == "closed"
    names = event_names(stack, final.case_id)
    assert names[:3] == ["Received", "CommitmentStarted", "Assigned"]
    assert "CommitmentMet" in names and "CommitmentBreached" not in names
    # (A reminder's delivery record, written by the notice outbox, may come after it.)
    assert [name for name in names if not name.startswith("Notice")][-1] == "Closed"


async def view_of(handle):  # type: ignore[no-untyped-def]
    return await handle.query(ComplaintWorkflow.status)


async def sleep_until(ts_env: WorkflowEnvironment, moment, slack=timedelta(minutes=1)) -> None:  # type: ignore[no-untyped-def]
    now = await ts_env.get_current_time()
    if moment + slack > now:
        await ts_env.sleep(moment + slack - now)


async def test_a_breach_and_the_escalation_it_sets_off_are_recorded_in_one_step(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    """At a deadline peak each case costs one activity for its breach and its first
    escalation; the next level, due later, is its own step."""
    handle, _ = await file_complaint(stack.client, intake(), stack.task_queue)
    reply = (await view_of(handle)).commitment("reply")
    await sleep_until(ts_env, reply.due)
    view = await view_of(handle)
    await sleep_until(ts_env, view.escalations[0].act_by)
    view = await view_of(handle)
    assert [e.to_role for e in view.escalations] == ["designated_officer", "director"]

    # The store's steps are local activities, each recorded by a marker.
    history = await handle.fetch_history()
    steps = [step["activity_type"] for step in local_activity_markers(history.events)]
    assert steps.count("apply_alarms") == 1
    # The alarms' notices (the reminder; breach, overdue and the officer's escalation;
    # the director's) are queued in the store with their records and sent by the notice
    # outbox: no activity through the server but the receipt's.
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled == ["send_notice"]
    case_id = uuid.UUID(view.case_id)
    queued = [
        e.kind  # type: ignore[attr-defined]
        for e in stack.complaints.history(case_id)
        if type(e).__name__ == "NoticeQueued"
    ]
    assert queued == ["reminder", "breach", "overdue", "escalation", "escalation"]

    def sent() -> list[str]:
        return [
            e.kind  # type: ignore[attr-defined]
            for e in stack.complaints.history(case_id)
            if type(e).__name__ == "NoticeSent"
        ]

    async def all_sent() -> bool:
        return len(sent()) == 6

    await wait_until(all_sent, "the outbox to send the alarms' notices", timeout=30)
    assert sorted(sent()) == sorted(["receipt", *queued])
    # The warning, then the director's escalation: one command each.
    assert steps.count("apply_command") == 2
    events = [
        e
        for e in stack.complaints.history(uuid.UUID(view.case_id))
        if type(e).__name__ in ("CommitmentBreached", "Escalated")
    ]
    assert [type(e).__name__ for e in events] == ["CommitmentBreached", "Escalated", "Escalated"]
    breached, first, second = events
    assert breached.at == first.at  # type: ignore[attr-defined]
    assert second.at >= first.act_by  # type: ignore[attr-defined]
    await stack.wait_for_notices(
        view.case_id,
        [
            ("breach", "lee.service"),
            ("overdue", "resident"),
            ("escalation", "park.officer"),
            ("escalation", "jung.director"),
        ],
    )


async def test_a_late_reply_is_warned_breached_and_escalated_to_the_officer_then_the_director(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, _ = await file_complaint(stack.client, intake(), stack.task_queue)
    view = await view_of(handle)
    reply = view.commitment("reply")
    await sleep_until(ts_env, reply.warn_at)
    assert (await view_of(handle)).commitment("reply").warned
    await sleep_until(ts_env, reply.due)
    view = await view_of(handle)
    assert view.commitment("reply").status == "breached"
    assert [(e.level, e.to_role, e.to_staff, e.trigger) for e in view.escalations] == [
        (1, "designated_officer", "park.officer", "deadline")
    ]
    # The officer has 24 working hours (three working days), not a clock day.
    first = view.escalations[0]
    assert first.act_by is not None
    assert first.act_by > first.at + timedelta(hours=24)
    assert stack.complaints.calendar.working_hours_between(first.at, first.act_by) == 24
    await sleep_until(ts_env, first.at + timedelta(hours=24))
    assert len((await view_of(handle)).escalations) == 1
    await sleep_until(ts_env, first.act_by)
    view = await view_of(handle)
    assert [(e.to_role, e.to_staff) for e in view.escalations][1] == ("director", "jung.director")
    assert view.escalations[1].at >= first.act_by
    names = event_names(stack, view.case_id)
    assert names.index("CommitmentWarned") < names.index("CommitmentBreached")
    assert names.count("Escalated") == 2
    kinds = await stack.wait_for_notices(
        view.case_id,
        [
            ("reminder", "lee.service"),
            ("breach", "lee.service"),
            ("escalation", "park.officer"),
            ("escalation", "jung.director"),
        ],
    )
    assert ("reminder", "lee.service") in kinds
    assert ("breach", "lee.service") in kinds
    assert ("escalation", "park.officer") in kinds
    assert ("escalation", "jung.director") in kinds
    # Answering late still records the answer; the breach stays on the record.
    answered = await api_act(handle, Answer(text="늦어서 죄송합니다", by="lee.service"))
    assert answered.commitment("reply").status == "breached"
    assert answered.commitment("reply").met_at is not None


async def test_an_interim_reply_moves_the_deadline_and_a_second_beyond_the_policy_is_refused(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, _ = await file_complaint(stack.client, intake(), stack.task_queue)
    reply = (await view_of(handle)).commitment("reply")
    await ts_env.sleep(timedelta(days=2))
    # The limit is counted by the calendar: seven more working days.
    assert reply.extend_until is not None
    too_far = reply.extend_until + timedelta(days=1)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await api_act(
            handle,
            SendInterimReply(reason="외부 기관 확인 필요", new_due=too_far, by="lee.service"),
        )
    assert "at most as long as the original period" in str(refused.value.cause)
    # A new due falls at the end of a working day.
    new_due = stack.complaints.calendar.period_ends_around(
        reply.due + timedelta(days=3, hours=-1), "working_days"
    )[1]
    extended = await api_act(
        handle,
        SendInterimReply(reason="외부 기관 확인 필요", new_due=new_due, by="lee.service"),
    )
    assert extended.commitment("reply").due == new_due
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await api_act(
            handle,
            SendInterimReply(
                reason="추가 지연", new_due=new_due + timedelta(days=1), by="lee.service"
            ),
        )
    # A second extension needs the resident's consent (민원 처리에 관한 법률 시행령).
    assert "needs the resident's consent" in str(refused.value.cause)
    await sleep_until(ts_env, reply.due + timedelta(hours=1))
    assert (await view_of(handle)).commitment("reply").status == "open"
    await sleep_until(ts_env, new_due)
    assert (await view_of(handle)).commitment("reply").status == "breached"
    names = event_names(stack, extended.case_id)
    assert names.count("InterimReplySent") == 1
    assert names.count("CommitmentExtended") == 1
    sent = await stack.wait_for_notices(extended.case_id, [("interim_reply", "resident")])
    assert ("interim_reply", "resident") in sent
    accepted = await accepted_update_count(handle)
    assert accepted == 1, "refused interim replies must not enter the workflow history"


async def test_an_opinion_gets_its_result_within_fifteen_working_days(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, _ = await file_complaint(stack.client, intake("opinion"), stack.task_queue)
    view = await view_of(handle)
    result = view.commitment("result")
    expected = stack.complaints.calendar.due(view.received_at, 15, "business").due
    assert result.due == expected
    assert view.assignee == "park.officer"
    await ts_env.sleep(timedelta(days=10))
    answered = await api_act(handle, Answer(text="처리 방향을 안내드립니다", by="park.officer"))
    assert answered.commitment("result").status == "met"


async def test_a_late_reply_complaint_is_investigated_in_three_days_and_fault_needs_an_apology(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    original, _ = await file_complaint(stack.client, intake(), stack.task_queue)
    original_view = await view_of(original)
    complaint, _ = await file_complaint(
        stack.client,
        intake("late_reply", linked_to=original_view.receipt_code),
        stack.task_queue,
    )
    view = await view_of(complaint)
    assert view.linked_to == original_view.case_id
    assert view.investigation == "open"
    investigation = view.commitment("investigation")
    assert investigation.due == stack.complaints.calendar.due(view.received_at, 3, "business").due
    await ts_env.sleep(timedelta(hours=20))
    found = await api_act(
        complaint,
        RecordFinding(fault_confirmed=True, finding="회신 누락 확인", by="park.officer"),
    )
    assert found.apology_required and found.commitment("investigation").status == "met"
    await api_act(complaint, Answer(text="조사 결과를 알려드립니다", by="park.officer"))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await api_act(complaint, Close(by="park.officer"))
    assert "apology" in str(refused.value.cause)
    await api_act(complaint, RecordApology(mode="public", by="park.officer"))
    closed = await api_act(complaint, Close(by="park.officer"))
    assert closed.status == "closed"
    names = event_names(stack, view.case_id)
    expected = ["InvestigationOpened", "InvestigationConcluded", "ApologyMade", "Closed"]
    assert [n for n in names if n in expected] == expected


async def test_a_message_for_an_absent_colleague_breaches_when_the_promised_callback_passes(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, _ = await file_complaint(
        stack.client, intake("callback", channel="phone"), stack.task_queue
    )
    now = await ts_env.get_current_time()
    promised = now + timedelta(hours=4)
    taken = await api_act(
        handle,
        TakeMessage(for_staff="lee.service", taken_by="kim.casemgr", callback_by=promised),
    )
    assert taken.commitment("callback").due == promised
    await sleep_until(ts_env, promised)
    view = await view_of(handle)
    assert view.commitment("callback").status == "breached"
    assert view.escalations[0].to_role == "designated_officer"
    assert "MessageTaken" in event_names(stack, view.case_id)


async def test_ops_escalate_by_hand_up_the_chain_and_no_further(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, _ = await file_complaint(stack.client, intake(), stack.task_queue)
    first = await api_act(handle, Escalate(reason="민원인 재요청", by="han.ops"))
    assert [(e.to_role, e.trigger) for e in first.escalations] == [("designated_officer", "manual")]
    second = await api_act(handle, Escalate(reason="관장 보고 필요", by="han.ops"))
    assert second.escalations[-1].to_role == "director"
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await api_act(handle, Escalate(reason="again", by="han.ops"))
    assert "last level" in str(refused.value.cause)


async def test_a_withdrawn_complaint_stops_its_clocks_and_ends(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, _ = await file_complaint(stack.client, intake(), stack.task_queue)
    await api_act(handle, Withdraw(reason="민원인이 취하", by="lee.service"))
    final = await handle.result()
    assert final.status == "withdrawn"
    assert final.commitment("reply").status == "cancelled"
    assert "CommitmentBreached" not in event_names(stack, final.case_id)


async def test_starting_the_same_complaint_twice_gives_one_workflow_and_one_case(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    same = intake()
    first, first_view = await file_complaint(stack.client, same, stack.task_queue)
    second, view = await file_complaint(stack.client, same, stack.task_queue)
    assert first.result_run_id == second.result_run_id
    assert first_view.receipt_code == view.receipt_code
    assert event_names(stack, view.case_id).count("Received") == 1


async def test_actions_the_case_cannot_take_are_refused_before_they_reach_history(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, _ = await file_complaint(stack.client, intake(), stack.task_queue)
    await view_of(handle)
    refusals = [
        Close(by="lee.service"),  # not answered yet
        Warn(kind="reply"),  # timers only
        RecordFinding(fault_confirmed=False, finding="없음", by="park.officer"),
    ]
    for action in refusals:
        with pytest.raises(WorkflowUpdateFailedError):
            await api_act(handle, action)
    with pytest.raises(WorkflowUpdateFailedError):
        # Malformed input never even decodes into an action.
        await handle.execute_update("act", {"type": "answer", "text": "", "by": "x"})
    assert await accepted_update_count(handle) == 0


async def accepted_update_count(handle) -> int:  # type: ignore[no-untyped-def]
    history = await handle.fetch_history()
    accepted = "workflow_execution_update_accepted_event_attributes"
    return sum(
        1
        for e in history.events
        if e.HasField(accepted)
        and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        == "act"
    )


async def test_a_repeat_visit_is_expedited_and_needs_the_officers_apology(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, view = await file_complaint(
        stack.client, intake("repeat_visit", channel="visit"), stack.task_queue
    )
    assert view.assignee == "park.officer"
    expedited = view.commitment("expedited")
    assert expedited.due == stack.complaints.calendar.due(view.received_at, 1, "business").due
    assert stack.complaints.calendar.working_hours_between(view.received_at, expedited.due) == 8
    await api_act(handle, Answer(text="바로 처리해 드렸습니다", by="park.officer"))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await api_act(handle, Close(by="park.officer"))
    assert "apology" in str(refused.value.cause)
    await api_act(handle, RecordApology(mode="in_person", by="park.officer"))
    closed = await api_act(handle, Close(by="park.officer"))
    assert closed.status == "closed"
    assert "ApologyMade" in event_names(stack, view.case_id)


async def test_unkind_service_is_investigated_corrected_announced_rated_and_reopened(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, view = await file_complaint(
        stack.client, intake("unkind_service", channel="phone"), stack.task_queue
    )
    await api_act(
        handle, RecordFinding(fault_confirmed=True, finding="응대 불친절 확인", by="park.officer")
    )
    await api_act(
        handle, RecordCorrectiveAction(staff="choi.tour", action="training", by="park.officer")
    )
    await api_act(handle, Answer(text="조치 결과를 알려드립니다", by="park.officer"))
    await api_act(handle, Close(by="park.officer"))
    announced = await api_act(
        handle, Announce(summary="직원 응대 교육을 실시했습니다", by="park.officer")
    )
    assert announced.announced
    await api_act(handle, RateSatisfaction(score=4, by="park.officer"))
    reopened = await api_act(handle, Reopen(reason="같은 문제가 다시 발생", by="park.officer"))
    assert reopened.status == "assigned"
    assert reopened.commitment("investigation").status == "open"
    assert reopened.investigation == "open"
    refound = await api_act(
        handle, RecordFinding(fault_confirmed=False, finding="재발 아님 확인", by="park.officer")
    )
    assert refound.commitment("investigation").status == "met"
    names = event_names(stack, view.case_id)
    for name in (
        "CorrectiveActionRecorded",
        "ResultAnnounced",
        "SatisfactionRated",
        "Reopened",
    ):
        assert name in names
    # The investigation, the announcement's clock on closing (kept by the announcement),
    # the investigation again on reopening.
    assert names.count("CommitmentStarted") == 3
    assert announced.commitment("announcement").status == "met"
    assert names.count("InvestigationConcluded") == 2


async def test_a_private_case_is_never_announced(ts_env: WorkflowEnvironment, stack: Stack) -> None:
    handle, _ = await file_complaint(stack.client, intake(private=True), stack.task_queue)
    await api_act(handle, Answer(text="비공개로 답변드립니다", by="lee.service"))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await api_act(handle, Announce(summary="결과 공지", by="lee.service"))
    assert "비공개" in str(refused.value.cause)


async def test_a_private_case_is_not_apologised_for_publicly(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, _ = await file_complaint(
        stack.client, intake("repeat_visit", channel="visit", private=True), stack.task_queue
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await api_act(handle, RecordApology(mode="public", by="park.officer"))
    assert "not apologised for publicly" in str(refused.value.cause)
    made = await api_act(handle, RecordApology(mode="phone", by="park.officer"))
    assert made.apologies == 1


async def test_a_closed_opinions_announcement_is_warned_breached_and_escalated_until_declined(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle, filed = await file_complaint(
        stack.client, intake("opinion", topic="intake"), stack.task_queue
    )
    owner = filed.assignee
    assert owner == "park.officer"
    await api_act(handle, Answer(text="프로그램 시간을 조정하겠습니다", by=owner))
    closed = await api_act(handle, Close(by=owner))
    clock = closed.commitment("announcement")
    assert clock is not None and clock.status == "open"

    await sleep_until(ts_env, clock.warn_at)
    assert (await view_of(handle)).commitment("announcement").warned
    await sleep_until(ts_env, clock.due)
    view = await view_of(handle)
    assert view.status == "closed"
    assert view.commitment("announcement").status == "breached"
    assert [(e.to_role, e.trigger) for e in view.escalations] == [
        ("designated_officer", "deadline")
    ]

    declined = await api_act(
        handle, DeclineAnnouncement(reason="민원인이 공지를 원하지 않음", by="park.officer")
    )
    assert declined.commitment("announcement").met_at is not None
    names = event_names(stack, view.case_id)
    assert names.count("Escalated") == 1
    assert names.count("AnnouncementDeclined") == 1
    sent = await stack.wait_for_notices(
        view.case_id, [("reminder", owner), ("breach", owner), ("escalation", "park.officer")]
    )
    assert ("breach", owner) in sent and ("escalation", "park.officer") in sent
    # Nothing more to keep: the run ends once the window after closing has passed.
    await sleep_until(ts_env, closed.closed_at + timedelta(days=31))
    assert (await handle.result()).status == "closed"
