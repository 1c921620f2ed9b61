"""The charter's rules on the Complaint aggregate, with no event store.

Each test reads given (commands already run, their events collected) / when (one
command) / then (the events it recorded, or the named error and no event at all).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import NaiveDatetimeError
from domain.chain import GENESIS, event_digest, verify_chain
from domain.complaint import (
    ApologyRequiredError,
    CaseClosedError,
    CaseWithdrawnError,
    CommitmentAlreadyOpenError,
    CommitmentNotOpenError,
    Complaint,
    CorrectiveActionNotApplicableError,
    DeadlineNotReachedError,
    ExtensionLimitError,
    ExtensionTooLongError,
    InterimReplyNotLaterError,
    InterimReplyTooLateError,
    InvalidValueError,
    InvestigationError,
    NotAnsweredError,
    OpenCommitmentsError,
    PrivateCaseError,
    UnknownCommitmentError,
)

SEOUL = ZoneInfo("Asia/Seoul")
# A Monday with no public holiday near it; the aggregate takes due dates as given.
T0 = datetime(2026, 6, 8, 10, 0, tzinfo=SEOUL)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def new_id() -> str:
    return str(uuid.uuid4())


def names(events: list[Any]) -> list[str]:
    return [type(e).__qualname__ for e in events]


def receive(**overrides: Any) -> Complaint:
    fields: dict[str, Any] = {
        "intake_ref": f"email:{new_id()}",
        "receipt_code": "MW-7K3QX-9PD2M",
        "channel": "email",
        "category": "inquiry",
        "topic": "program",
        "private": False,
        "contact": "010-1234-5678",
        "text": "프로그램 신청 방법을 알려 주세요.",
        "received_at": T0,
    }
    fields.update(overrides)
    return Complaint.receive(**fields)


def given(**overrides: Any) -> Complaint:
    """A received case whose events are already recorded (the past)."""
    case = receive(**overrides)
    case.collect_events()
    return case


def then_refused(case: Complaint, error: type[Exception], command: Callable[[], object]) -> str:
    """The command raises `error` and leaves the case exactly as it was."""
    version = case.version
    with pytest.raises(error) as info:
        command()
    assert case.collect_events() == []
    assert case.version == version
    return str(info.value)


# -- commands with sensible defaults, so each test shows only what matters --------


def assign(case: Complaint, staff: str = "kim", at: datetime = T0, **kw: Any) -> None:
    kw.setdefault("command_id", new_id())
    case.assign(staff=staff, role="service_social_worker", by="ops", at=at, **kw)


def start(
    case: Complaint,
    kind: str = "reply",
    *,
    days: float = 7,
    at: datetime = T0,
    warn_hours: float = 24,
    max_extensions: int = 1,
    **kw: Any,
) -> None:
    due = at + timedelta(days=days)
    kw.setdefault("command_id", new_id())
    case.start_commitment(
        kind=kind,
        due=due,
        rule="business",
        days=int(days),
        warn_at=due - timedelta(hours=warn_hours),
        max_extensions=max_extensions,
        at=at,
        **kw,
    )


def interim(case: Complaint, new_due: datetime, at: datetime = T0, **kw: Any) -> None:
    kw.setdefault("command_id", new_id())
    kw.setdefault("kind", "reply")
    case.send_interim_reply(reason="외부 기관 확인 중", new_due=new_due, by="kim", at=at, **kw)


def answer(case: Complaint, at: datetime = T0, **kw: Any) -> None:
    kw.setdefault("command_id", new_id())
    case.answer_case(text="신청은 홈페이지에서 하실 수 있습니다.", by="kim", at=at, **kw)


def close(case: Complaint, at: datetime = T0, **kw: Any) -> None:
    kw.setdefault("command_id", new_id())
    case.close(by="kim", at=at, **kw)


def open_investigation(case: Complaint, at: datetime = T0) -> None:
    case.open_investigation(by="officer", at=at, command_id=new_id())


def conclude(case: Complaint, fault: bool, at: datetime = T0, **kw: Any) -> None:
    kw.setdefault("command_id", new_id())
    case.conclude_investigation(
        fault_confirmed=fault, finding="회신이 늦었음을 확인", by="officer", at=at, **kw
    )


def apologise(case: Complaint, mode: Any = "phone", at: datetime = T0) -> None:
    case.make_apology(mode=mode, by="officer", note="전화로 사과", at=at, command_id=new_id())


def correct(case: Complaint, action: Any = "training", at: datetime = T0) -> None:
    case.record_corrective_action(
        staff="lee", action=action, by="officer", note="", at=at, command_id=new_id()
    )


def withdraw(case: Complaint, at: datetime = T0, **kw: Any) -> None:
    kw.setdefault("command_id", new_id())
    case.withdraw(reason="민원인이 취하", by="kim", at=at, **kw)


def reopen(case: Complaint, at: datetime = T0) -> None:
    case.reopen(reason="답변에 누락", by="kim", at=at, command_id=new_id())


def announce(case: Complaint, at: datetime = T0, **kw: Any) -> None:
    kw.setdefault("command_id", new_id())
    case.announce_result(summary="프로그램 안내를 보완했습니다.", by="kim", at=at, **kw)


def rate(case: Complaint, score: int = 5, at: datetime = T0, **kw: Any) -> None:
    kw.setdefault("command_id", new_id())
    case.rate_satisfaction(score=score, comment="", at=at, **kw)


def note(case: Complaint, text: str = "보호자와 통화", at: datetime = T0, **kw: Any) -> None:
    kw.setdefault("command_id", new_id())
    case.add_note(text=text, by="kim", at=at, **kw)


def take_message(case: Complaint, callback_by: datetime, at: datetime = T0, **kw: Any) -> None:
    kw.setdefault("command_id", new_id())
    case.take_message(
        for_staff="kim", taken_by="park", callback_by=callback_by, note="", at=at, **kw
    )


def escalate(case: Complaint, at: datetime = T0, **kw: Any) -> None:
    kw.setdefault("command_id", new_id())
    case.escalate(
        to_role="designated_officer",
        to_staff="choi",
        reason="답변 기한 초과",
        by="system",
        trigger="deadline",
        at=at,
        **kw,
    )


def answered_and_closed(**overrides: Any) -> Complaint:
    case = given(**overrides)
    assign(case)
    answer(case, at=day(1))
    close(case, at=day(2))
    case.collect_events()
    return case


# -- receipt ----------------------------------------------------------------------


def test_receipt_records_channel_category_topic_privacy_contact_text_and_flags() -> None:
    case = receive(
        channel="homepage",
        category="late_reply",
        topic="service",
        private=True,
        contact="hong@example.kr",
        text="일주일이 지나도 답이 없습니다.",
        investigated=True,
        apology_on_fault=True,
        corrective_action=True,
        linked_to="MW-AAAAA-BBBBB",
    )

    [received] = case.collect_events()
    assert type(received).__qualname__ == "Complaint.Received"
    assert received.channel == "homepage"
    assert received.category == "late_reply"
    assert received.topic == "service"
    assert received.private is True
    assert received.contact == "hong@example.kr"
    assert received.text == "일주일이 지나도 답이 없습니다."
    assert received.received_at == T0
    assert received.investigated is True
    assert received.apology_on_fault is True
    assert received.apology_always is False
    assert received.corrective_action is True
    assert received.linked_to == "MW-AAAAA-BBBBB"
    assert case.status == "received"
    assert case.version == 1


def test_the_same_intake_reference_always_names_the_same_case() -> None:
    first = receive(intake_ref="homepage:2026-0001")
    again = receive(intake_ref="homepage:2026-0001", text="다른 문장")
    other = receive(intake_ref="homepage:2026-0002")

    assert first.id == again.id == Complaint.create_id("homepage:2026-0001")
    assert other.id != first.id


def test_receipt_time_given_in_utc_is_kept_on_the_seoul_clock() -> None:
    case = receive(received_at=datetime(2026, 6, 8, 1, 0, tzinfo=UTC))

    assert case.received_at == T0
    assert case.received_at.utcoffset() == timedelta(hours=9)


@pytest.mark.parametrize(
    ("field", "value"),
    [("text", ""), ("text", "   \n"), ("contact", ""), ("contact", " "), ("intake_ref", "")],
)
def test_receipt_with_empty_text_contact_or_reference_is_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidValueError):
        receive(**{field: value})


def test_receipt_with_a_naive_time_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        receive(received_at=datetime(2026, 6, 8, 10, 0))


def test_a_command_with_a_naive_time_is_refused_and_records_nothing() -> None:
    case = given()

    then_refused(case, NaiveDatetimeError, lambda: assign(case, at=datetime(2026, 6, 8, 11)))


# -- assignment -------------------------------------------------------------------


def test_first_assignment_records_assigned_and_the_case_becomes_assigned() -> None:
    case = given()

    assign(case, staff="kim")

    [assigned] = case.collect_events()
    assert type(assigned).__qualname__ == "Complaint.Assigned"
    assert assigned.staff == "kim"
    assert assigned.role == "service_social_worker"
    assert case.status == "assigned"
    assert case.assignee == "kim"


def test_assigning_someone_else_records_reassigned_with_the_previous_assignee() -> None:
    case = given()
    assign(case, staff="kim")
    case.collect_events()

    assign(case, staff="lee")

    [reassigned] = case.collect_events()
    assert type(reassigned).__qualname__ == "Complaint.Reassigned"
    assert reassigned.staff == "lee"
    assert reassigned.previous == "kim"
    assert case.assignee == "lee"
    assert case.status == "assigned"


def test_assigning_the_same_person_again_records_nothing() -> None:
    case = given()
    assign(case, staff="kim")
    case.collect_events()

    assign(case, staff="kim")

    assert case.collect_events() == []


def test_assigning_nobody_is_refused() -> None:
    case = given()

    then_refused(case, InvalidValueError, lambda: assign(case, staff="  "))


# -- the same command twice (a retried activity) ------------------------------------


def _given_answered_case() -> Complaint:
    case = given()
    answer(case)
    return case


def _given_case_with_reply_clock() -> Complaint:
    case = given()
    start(case, days=7)
    return case


def _given_open_investigation() -> Complaint:
    case = given(investigated=True, apology_on_fault=True, corrective_action=True)
    open_investigation(case)
    return case


RETRIED_COMMANDS: dict[str, tuple[Callable[[], Complaint], Callable[[Complaint, str], None]]] = {
    "assign": (given, lambda c, cid: assign(c, command_id=cid)),
    "take_message": (given, lambda c, cid: take_message(c, day(1), command_id=cid)),
    "start_commitment": (given, lambda c, cid: start(c, command_id=cid)),
    "warn": (
        _given_case_with_reply_clock,
        lambda c, cid: c.warn(kind="reply", at=day(6), command_id=cid),
    ),
    "breach": (
        _given_case_with_reply_clock,
        lambda c, cid: c.breach(kind="reply", at=day(8), command_id=cid),
    ),
    "send_interim_reply": (
        _given_case_with_reply_clock,
        lambda c, cid: interim(c, new_due=day(10), at=day(1), command_id=cid),
    ),
    "escalate": (given, lambda c, cid: escalate(c, command_id=cid)),
    "conclude_investigation": (
        _given_open_investigation,
        lambda c, cid: conclude(c, fault=True, command_id=cid),
    ),
    "answer_case": (_given_case_with_reply_clock, lambda c, cid: answer(c, command_id=cid)),
    "announce_result": (_given_answered_case, lambda c, cid: announce(c, command_id=cid)),
    "close": (_given_answered_case, lambda c, cid: close(c, command_id=cid)),
    "withdraw": (given, lambda c, cid: withdraw(c, command_id=cid)),
    "rate_satisfaction": (_given_answered_case, lambda c, cid: rate(c, command_id=cid)),
}


@pytest.mark.parametrize("command", sorted(RETRIED_COMMANDS))
def test_a_command_run_twice_with_the_same_command_id_is_recorded_once(command: str) -> None:
    make_case, run = RETRIED_COMMANDS[command]
    case = make_case()
    case.collect_events()
    run(case, "retried-command")
    first = case.collect_events()
    version = case.version

    run(case, "retried-command")

    assert first, "the first run records something"
    assert case.collect_events() == []
    assert case.version == version


def test_a_retried_answer_is_accepted_silently_even_after_the_case_was_closed() -> None:
    case = given()
    answer(case, command_id="answer-1")
    close(case)
    case.collect_events()

    answer(case, command_id="answer-1")

    assert case.collect_events() == []
    assert case.status == "closed"


def test_a_new_command_id_runs_the_command_again() -> None:
    case = given()
    escalate(case, command_id="esc-1")
    escalate(case, command_id="esc-2")

    assert names(case.collect_events()) == ["Complaint.Escalated", "Complaint.Escalated"]
    assert [e.level for e in case.escalations] == [1, 2]


# -- commitments: start, warn, breach, keep ---------------------------------------


def test_starting_a_commitment_records_its_due_date_counting_rule_and_warning_time() -> None:
    case = given()

    start(case, "reply", days=7, warn_hours=24, max_extensions=1)

    [started] = case.collect_events()
    assert type(started).__qualname__ == "Complaint.CommitmentStarted"
    assert started.kind == "reply"
    assert started.due == day(7)
    assert started.rule == "business"
    assert started.days == 7
    assert started.warn_at == day(6)
    reply = case.commitments["reply"]
    assert reply.status == "open"
    assert reply.original_due == day(7)
    assert case.next_due() == day(7)


def test_a_warning_time_after_the_deadline_is_moved_to_the_deadline() -> None:
    case = given()

    start(case, days=1, warn_hours=-5)

    assert case.commitments["reply"].warn_at == day(1)


def test_starting_a_commitment_that_is_already_running_is_refused() -> None:
    case = given()
    start(case, "reply")
    case.collect_events()

    then_refused(case, CommitmentAlreadyOpenError, lambda: start(case, "reply", days=3))


def test_a_commitment_due_before_it_starts_is_refused() -> None:
    case = given()

    then_refused(case, InvalidValueError, lambda: start(case, days=0))


def test_the_assignee_is_warned_once_per_deadline() -> None:
    case = given()
    start(case)
    case.collect_events()

    case.warn(kind="reply", at=day(6), command_id=new_id())
    case.warn(kind="reply", at=day(6.5), command_id=new_id())

    [warned] = case.collect_events()
    assert type(warned).__qualname__ == "Complaint.CommitmentWarned"
    assert warned.due == day(7)
    assert case.commitments["reply"].warned is True


def test_warning_about_a_commitment_the_case_does_not_have_is_refused() -> None:
    case = given()

    then_refused(
        case,
        UnknownCommitmentError,
        lambda: case.warn(kind="reply", at=day(6), command_id=new_id()),
    )


def test_breach_before_the_deadline_is_refused() -> None:
    case = given()
    start(case, days=7)
    case.collect_events()

    then_refused(
        case,
        DeadlineNotReachedError,
        lambda: case.breach(kind="reply", at=day(7) - timedelta(seconds=1), command_id=new_id()),
    )
    assert case.commitments["reply"].status == "open"


@pytest.mark.parametrize("late", [timedelta(0), timedelta(hours=3)])
def test_breach_at_or_after_the_deadline_is_recorded(late: timedelta) -> None:
    case = given()
    start(case, days=7)
    case.collect_events()

    case.breach(kind="reply", at=day(7) + late, command_id=new_id())

    [breached] = case.collect_events()
    assert type(breached).__qualname__ == "Complaint.CommitmentBreached"
    assert breached.due == day(7)
    assert breached.at == day(7) + late
    assert case.commitments["reply"].status == "breached"
    assert case.open_commitments() == []


def test_breaching_a_commitment_twice_is_refused() -> None:
    case = given()
    start(case, days=7)
    case.breach(kind="reply", at=day(8), command_id=new_id())
    case.collect_events()

    then_refused(
        case,
        CommitmentNotOpenError,
        lambda: case.breach(kind="reply", at=day(9), command_id=new_id()),
    )


def test_answering_in_time_meets_the_commitment_on_time() -> None:
    case = given()
    start(case, days=7)
    case.collect_events()

    answer(case, at=day(3))

    answered, met = case.collect_events()
    assert type(answered).__qualname__ == "Complaint.Answered"
    assert type(met).__qualname__ == "Complaint.CommitmentMet"
    assert met.kind == "reply"
    assert met.on_time is True
    assert case.status == "answered"
    assert case.commitments["reply"].status == "met"
    assert case.commitments["reply"].met_at == day(3)


def test_answering_after_a_breach_records_a_late_met_commitment_that_stays_breached() -> None:
    case = given()
    start(case, days=7)
    case.breach(kind="reply", at=day(7), command_id=new_id())
    case.collect_events()

    answer(case, at=day(9))

    answered, met = case.collect_events()
    assert type(answered).__qualname__ == "Complaint.Answered"
    assert type(met).__qualname__ == "Complaint.CommitmentMet"
    assert met.on_time is False
    assert case.commitments["reply"].status == "breached"
    assert case.commitments["reply"].met_at == day(9)


def test_answering_after_the_deadline_is_late_even_before_the_breach_was_recorded() -> None:
    # The breach timer and a late answer race: the answer must not count as on time.
    case = given()
    start(case, days=7)
    case.collect_events()

    answer(case, at=day(7) + timedelta(minutes=5))

    _, met = case.collect_events()
    assert met.on_time is False
    assert case.commitments["reply"].status == "breached"


def test_an_answer_does_not_keep_an_investigation_commitment() -> None:
    case = given(investigated=True)
    start(case, "investigation", days=3, max_extensions=0)
    start(case, "reply", days=7)
    case.collect_events()

    answer(case, at=day(1))

    assert names(case.collect_events()) == ["Complaint.Answered", "Complaint.CommitmentMet"]
    assert case.commitments["reply"].status == "met"
    assert case.commitments["investigation"].status == "open"


def test_concluding_the_investigation_keeps_the_investigation_commitment() -> None:
    case = given(investigated=True)
    start(case, "investigation", days=3, max_extensions=0)
    open_investigation(case)
    case.collect_events()

    conclude(case, fault=False, at=day(2))

    concluded, met = case.collect_events()
    assert type(concluded).__qualname__ == "Complaint.InvestigationConcluded"
    assert met.kind == "investigation"
    assert met.on_time is True
    assert case.commitments["investigation"].status == "met"


# -- interim reply (중간회신) ---------------------------------------------------------


def test_interim_reply_extends_the_deadline_and_rearms_the_warning() -> None:
    case = given()
    start(case, days=7, warn_hours=24)
    case.warn(kind="reply", at=day(6), command_id=new_id())
    case.collect_events()

    interim(case, new_due=day(10), at=day(6))

    sent, extended = case.collect_events()
    assert type(sent).__qualname__ == "Complaint.InterimReplySent"
    assert sent.reason == "외부 기관 확인 중"
    assert sent.new_due == day(10)
    assert type(extended).__qualname__ == "Complaint.CommitmentExtended"
    assert extended.previous_due == day(7)
    assert extended.new_due == day(10)
    reply = case.commitments["reply"]
    assert reply.due == day(10)
    assert reply.original_due == day(7)
    assert reply.warn_at == day(9)
    assert reply.warned is False
    assert reply.extensions == 1
    assert len(case.interim_replies) == 1


@pytest.mark.parametrize("late", [timedelta(0), timedelta(days=1)])
def test_interim_reply_at_or_after_the_deadline_is_refused(late: timedelta) -> None:
    case = given()
    start(case, days=7)
    case.collect_events()

    then_refused(
        case, InterimReplyTooLateError, lambda: interim(case, new_due=day(12), at=day(7) + late)
    )
    assert case.commitments["reply"].due == day(7)


@pytest.mark.parametrize("new_due", [day(5), day(7)])
def test_interim_reply_to_an_earlier_or_the_same_date_is_refused(new_due: datetime) -> None:
    case = given()
    start(case, days=7)
    case.collect_events()

    then_refused(case, InterimReplyNotLaterError, lambda: interim(case, new_due, at=day(2)))


def test_interim_reply_extending_by_more_than_the_original_period_is_refused() -> None:
    case = given()
    start(case, days=7)
    case.collect_events()

    message = then_refused(
        case,
        ExtensionTooLongError,
        lambda: interim(case, new_due=day(14) + timedelta(minutes=1), at=day(2)),
    )
    assert day(14).isoformat() in message


def test_interim_reply_extending_by_exactly_the_original_period_is_accepted() -> None:
    case = given()
    start(case, days=7)
    case.collect_events()

    interim(case, new_due=day(14), at=day(2))

    assert case.commitments["reply"].due == day(14)


def test_a_second_interim_reply_beyond_the_allowed_extensions_is_refused() -> None:
    case = given()
    start(case, days=7, max_extensions=1)
    interim(case, new_due=day(10), at=day(2))
    case.collect_events()

    then_refused(case, ExtensionLimitError, lambda: interim(case, new_due=day(12), at=day(3)))
    assert case.commitments["reply"].due == day(10)


def test_interim_reply_without_a_reason_is_refused() -> None:
    case = given()
    start(case, days=7)
    case.collect_events()

    then_refused(
        case,
        InvalidValueError,
        lambda: case.send_interim_reply(
            kind="reply", reason=" ", new_due=day(9), by="kim", at=day(1), command_id=new_id()
        ),
    )


def test_interim_reply_on_a_breached_commitment_is_refused() -> None:
    case = given()
    start(case, days=7)
    case.breach(kind="reply", at=day(7), command_id=new_id())
    case.collect_events()

    then_refused(case, CommitmentNotOpenError, lambda: interim(case, new_due=day(12), at=day(1)))


# -- investigation, apology, corrective action ------------------------------------


def test_concluding_an_investigation_that_was_never_opened_is_refused() -> None:
    case = given(investigated=True)

    then_refused(case, InvestigationError, lambda: conclude(case, fault=True))


def test_opening_an_investigation_twice_is_refused() -> None:
    case = given(investigated=True)
    open_investigation(case)
    case.collect_events()

    then_refused(case, InvestigationError, lambda: open_investigation(case))


def test_confirmed_fault_on_an_apology_on_fault_case_blocks_closing_until_an_apology() -> None:
    case = given(category="late_reply", investigated=True, apology_on_fault=True)
    open_investigation(case)
    conclude(case, fault=True)
    answer(case, at=day(1))
    case.collect_events()
    assert case.apology_required is True

    then_refused(case, ApologyRequiredError, lambda: close(case, at=day(2)))

    apologise(case, "public", at=day(2))
    close(case, at=day(2))
    assert names(case.collect_events()) == ["Complaint.ApologyMade", "Complaint.Closed"]
    assert case.status == "closed"


def test_an_apology_on_fault_case_without_fault_closes_without_an_apology() -> None:
    case = given(category="late_reply", investigated=True, apology_on_fault=True)
    open_investigation(case)
    conclude(case, fault=False)
    answer(case, at=day(1))
    case.collect_events()

    close(case, at=day(2))

    assert names(case.collect_events()) == ["Complaint.Closed"]


def test_an_apology_always_case_needs_an_apology_even_without_fault() -> None:
    case = given(category="repeat_visit", apology_always=True, corrective_action=True)
    answer(case)
    case.collect_events()

    then_refused(case, ApologyRequiredError, lambda: close(case))

    apologise(case, "in_person")
    close(case)
    assert case.status == "closed"


def test_an_investigated_case_cannot_close_before_the_investigation_is_concluded() -> None:
    case = given(category="unkind_service", investigated=True, corrective_action=True)
    open_investigation(case)
    answer(case)
    case.collect_events()

    then_refused(case, InvestigationError, lambda: close(case))


def test_an_investigated_case_whose_investigation_was_never_opened_cannot_close() -> None:
    case = given(category="late_reply", investigated=True, apology_on_fault=True)
    answer(case)
    case.collect_events()

    then_refused(case, InvestigationError, lambda: close(case))


def test_an_apology_in_an_unknown_way_is_refused() -> None:
    case = given(apology_always=True)

    then_refused(case, InvalidValueError, lambda: apologise(case, "letter"))


def test_corrective_action_on_a_plain_inquiry_without_fault_is_refused() -> None:
    case = given(category="inquiry")

    then_refused(case, CorrectiveActionNotApplicableError, lambda: correct(case, "warning"))


def test_corrective_action_is_recorded_for_a_corrective_action_category() -> None:
    case = given(category="unkind_service", investigated=True, corrective_action=True)

    correct(case, "training")

    [recorded] = case.collect_events()
    assert type(recorded).__qualname__ == "Complaint.CorrectiveActionRecorded"
    assert recorded.staff == "lee"
    assert recorded.action == "training"
    assert case.corrective_actions[0]["action"] == "training"


def test_corrective_action_is_recorded_on_any_case_once_fault_is_confirmed() -> None:
    case = given(category="inquiry")
    open_investigation(case)
    conclude(case, fault=True)
    case.collect_events()

    correct(case, "warning")

    assert names(case.collect_events()) == ["Complaint.CorrectiveActionRecorded"]


def test_a_corrective_action_of_an_unknown_kind_is_refused() -> None:
    case = given(category="opinion", corrective_action=True)

    then_refused(case, InvalidValueError, lambda: correct(case, "dismissal"))


# -- closing, reopening, withdrawing ----------------------------------------------


def test_closing_an_unanswered_case_is_refused() -> None:
    case = given()
    assign(case)
    case.collect_events()

    then_refused(case, NotAnsweredError, lambda: close(case))


def promise_callback(case: Complaint) -> None:
    """A colleague takes a message on day 1 at 10:00: a callback within 4 hours."""
    take_message(case, callback_by=day(1) + timedelta(hours=4), at=day(1) + timedelta(hours=1))
    case.start_commitment(
        kind="callback",
        due=day(1) + timedelta(hours=4),
        rule="promised",
        days=None,
        warn_at=day(1) + timedelta(hours=3),
        max_extensions=0,
        at=day(1) + timedelta(hours=1),
        command_id=new_id(),
    )


def test_closing_is_refused_while_a_promised_callback_is_still_owed() -> None:
    # After the answer the resident calls again; the assignee is out, a colleague
    # takes the message and promises a callback: the case stays open until it is made.
    case = given()
    assign(case)
    start(case, days=7)
    answer(case, at=day(1))
    promise_callback(case)
    case.collect_events()

    message = then_refused(case, OpenCommitmentsError, lambda: close(case, at=day(1.5)))
    assert "callback" in message

    answer(case, at=day(1) + timedelta(hours=2))
    close(case, at=day(1.5))
    assert case.status == "closed"


def test_the_promised_call_back_keeps_the_callback_and_then_the_case_closes() -> None:
    case = given()
    assign(case)
    start(case, days=7)
    answer(case, at=day(1))
    promise_callback(case)
    case.collect_events()

    case.call_back(note="통화함", by="kim", at=day(1) + timedelta(hours=2), command_id=new_id())

    called, met = case.collect_events()
    assert type(called).__qualname__ == "Complaint.CalledBack"
    assert (called.note, called.by) == ("통화함", "kim")  # type: ignore[attr-defined]
    assert type(met).__qualname__ == "Complaint.CommitmentMet"
    assert case.commitments["callback"].status == "met"
    close(case, at=day(1.5))
    assert case.status == "closed"


def test_a_call_back_is_refused_when_none_was_promised() -> None:
    case = given()
    assign(case)
    case.collect_events()

    then_refused(
        case,
        InvalidValueError,
        lambda: case.call_back(note="", by="kim", at=day(1), command_id=new_id()),
    )


def test_closing_records_closed() -> None:
    case = given()
    answer(case)
    case.collect_events()

    close(case, at=day(1))

    [closed] = case.collect_events()
    assert type(closed).__qualname__ == "Complaint.Closed"
    assert case.status == "closed"
    assert case.closed_at == day(1)
    assert case.is_terminal


COMMANDS_REFUSED_WHEN_TERMINAL: dict[str, Callable[[Complaint], None]] = {
    "assign": lambda c: assign(c, staff="lee"),
    "take_message": lambda c: take_message(c, callback_by=day(9)),
    "start_commitment": lambda c: start(c, "result", days=15),
    "warn": lambda c: c.warn(kind="reply", at=day(6), command_id=new_id()),
    "breach": lambda c: c.breach(kind="reply", at=day(8), command_id=new_id()),
    "send_interim_reply": lambda c: interim(c, new_due=day(9), at=day(3)),
    "escalate": escalate,
    "open_investigation": open_investigation,
    "conclude_investigation": lambda c: conclude(c, fault=False),
    "make_apology": apologise,
    "record_corrective_action": correct,
    "answer_case": answer,
    "close": close,
    "withdraw": withdraw,
}


def _closed_case_with_reply_met() -> Complaint:
    case = given(corrective_action=True)
    assign(case)
    start(case, days=7)
    answer(case, at=day(1))
    close(case, at=day(2))
    case.collect_events()
    return case


# The announcement's clock runs after closing: a closed case is warned and breached
# on it, and refuses a warning or breach of any other commitment as not open.
CLOCK_COMMANDS = frozenset({"warn", "breach"})


@pytest.mark.parametrize("command", sorted(COMMANDS_REFUSED_WHEN_TERMINAL))
def test_a_closed_case_refuses_the_command(command: str) -> None:
    case = _closed_case_with_reply_met()

    refusal = CommitmentNotOpenError if command in CLOCK_COMMANDS else CaseClosedError
    then_refused(case, refusal, lambda: COMMANDS_REFUSED_WHEN_TERMINAL[command](case))


def test_a_closed_case_still_takes_a_public_notice_a_rating_and_a_reopening() -> None:
    case = answered_and_closed()

    announce(case, at=day(3))
    rate(case, 4, at=day(3))
    reopen(case, at=day(4))

    assert names(case.collect_events()) == [
        "Complaint.ResultAnnounced",
        "Complaint.SatisfactionRated",
        "Complaint.Reopened",
    ]
    assert case.satisfaction == 4
    assert case.status == "assigned"
    assert case.answer is None
    assert case.closed_at is None


def test_a_reopened_case_without_an_assignee_goes_back_to_received() -> None:
    case = given()
    answer(case)
    case.collect_events()

    reopen(case, at=day(1))

    assert case.status == "received"


def test_reopening_an_unanswered_case_is_refused() -> None:
    case = given()
    assign(case)
    case.collect_events()

    then_refused(case, NotAnsweredError, lambda: reopen(case))


def _withdrawn_answered_case() -> Complaint:
    case = given(corrective_action=True)
    assign(case)
    start(case, days=7)
    answer(case, at=day(1))
    withdraw(case, at=day(2))
    case.collect_events()
    return case


COMMANDS_REFUSED_WHEN_WITHDRAWN: dict[str, Callable[[Complaint], None]] = {
    **COMMANDS_REFUSED_WHEN_TERMINAL,
    "reopen": reopen,
    "announce_result": announce,
    "rate_satisfaction": rate,
    "add_note": note,
}


@pytest.mark.parametrize("command", sorted(COMMANDS_REFUSED_WHEN_WITHDRAWN))
def test_a_withdrawn_case_refuses_the_command(command: str) -> None:
    case = _withdrawn_answered_case()

    then_refused(case, CaseWithdrawnError, lambda: COMMANDS_REFUSED_WHEN_WITHDRAWN[command](case))


def test_withdrawing_cancels_the_open_commitments_and_leaves_kept_ones_alone() -> None:
    case = given()
    start(case, "reply", days=7)
    start(case, "investigation", days=3, max_extensions=0)
    open_investigation(case)
    conclude(case, fault=False, at=day(1))
    case.collect_events()

    withdraw(case, at=day(2))

    [withdrawn] = case.collect_events()
    assert type(withdrawn).__qualname__ == "Complaint.Withdrawn"
    assert withdrawn.reason == "민원인이 취하"
    assert case.status == "withdrawn"
    assert case.commitments["reply"].status == "cancelled"
    assert case.commitments["investigation"].status == "met"
    assert case.open_commitments() == []
    assert case.next_due() is None


# -- public notice and satisfaction -----------------------------------------------


def test_announcing_a_private_case_is_refused_even_when_answered() -> None:
    case = given(private=True)
    answer(case)
    case.collect_events()

    then_refused(case, PrivateCaseError, lambda: announce(case))


def test_announcing_before_the_answer_is_refused() -> None:
    case = given()
    assign(case)
    case.collect_events()

    then_refused(case, NotAnsweredError, lambda: announce(case))


def test_announcing_an_answered_public_case_records_the_summary() -> None:
    case = given()
    answer(case)
    case.collect_events()

    announce(case, at=day(1))

    [announced] = case.collect_events()
    assert type(announced).__qualname__ == "Complaint.ResultAnnounced"
    assert announced.summary == "프로그램 안내를 보완했습니다."
    assert case.announcement == announced.summary


@pytest.mark.parametrize("score", [0, 6, -1, 100])
def test_a_satisfaction_score_outside_one_to_five_is_refused(score: int) -> None:
    case = given()
    answer(case)
    case.collect_events()

    then_refused(case, InvalidValueError, lambda: rate(case, score))
    assert case.satisfaction is None


@pytest.mark.parametrize("score", [1, 5])
def test_a_satisfaction_score_from_one_to_five_is_recorded(score: int) -> None:
    case = given()
    answer(case)
    case.collect_events()

    rate(case, score)

    [rated] = case.collect_events()
    assert type(rated).__qualname__ == "Complaint.SatisfactionRated"
    assert rated.score == score
    assert case.satisfaction == score


def test_rating_before_the_answer_is_refused() -> None:
    case = given()

    then_refused(case, NotAnsweredError, lambda: rate(case, 3))


def test_a_callback_time_that_is_not_in_the_future_is_refused() -> None:
    case = given()

    then_refused(case, InvalidValueError, lambda: take_message(case, callback_by=T0, at=T0))


def test_an_escalation_without_a_reason_is_refused() -> None:
    case = given()

    then_refused(
        case,
        InvalidValueError,
        lambda: case.escalate(
            to_role="director",
            to_staff=None,
            reason="",
            by="ops",
            trigger="manual",
            at=T0,
            command_id=new_id(),
        ),
    )


# -- hash chain -------------------------------------------------------------------


def test_each_event_carries_the_digest_of_the_one_before_and_the_first_the_genesis() -> None:
    case = receive(category="late_reply", investigated=True, apology_on_fault=True)
    assign(case)
    start(case, "investigation", days=3, max_extensions=0)
    open_investigation(case)
    events = case.collect_events()
    # The chain continues across separately saved batches of events.
    conclude(case, fault=True, at=day(1))
    apologise(case, at=day(1))
    answer(case, at=day(1))
    close(case, at=day(2))
    events += case.collect_events()

    assert events[0].prev_digest == GENESIS
    for previous, current in pairwise(events):
        assert current.prev_digest == event_digest(previous)
    assert case.head_digest == event_digest(events[-1])
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    assert verify_chain(events) is None


def test_a_note_is_kept_with_the_case_and_leaves_its_clocks_and_status_alone() -> None:
    case = given()
    assign(case)
    start(case, "reply", days=7)
    case.collect_events()
    before = (case.status, case.commitments)

    note(case, "민원인 요청: 오후에만 연락", at=day(1))

    (added,) = case.collect_events()
    assert type(added).__qualname__ == "Complaint.NoteAdded"
    assert (added.text, added.by) == ("민원인 요청: 오후에만 연락", "kim")
    assert [(n.text, n.by, n.at) for n in case.notes] == [
        ("민원인 요청: 오후에만 연락", "kim", day(1))
    ]
    assert (case.status, case.commitments) == before


def test_a_closed_case_still_takes_a_note() -> None:
    case = answered_and_closed()

    note(case, at=day(3))

    assert names(case.collect_events()) == ["Complaint.NoteAdded"]
    assert case.status == "closed"


def test_a_note_sent_again_with_its_command_id_is_recorded_once() -> None:
    case = given()

    note(case, command_id="note-1")
    note(case, command_id="note-1")

    assert names(case.collect_events()) == ["Complaint.NoteAdded"]


@pytest.mark.parametrize("text", ["", "   ", "가" * 2_001])
def test_an_empty_or_overlong_note_is_refused(text: str) -> None:
    case = given()

    message = then_refused(case, InvalidValueError, lambda: note(case, text))

    assert "note" in message
