"""Bad input through the real client: refused with a clear message, or stored intact.

Hypothesis builds intake and action payloads as raw dicts (huge texts, control
characters, decomposed (NFD) 한글, wrong types, dates in the past, naive
datetimes, unknown categories and channels, extra fields) and sends them the
way any Temporal client could: `start_workflow("ComplaintWorkflow", raw)` and
`execute_update("act", raw)`, without the project's pydantic models on the
client side. Each one must end one of two ways, within a deadline:

- refused, with a message a person can read (a validation or domain message,
  no stack trace in it), and nothing recorded; or
- accepted, and what the store holds equals what the models accepted (free text
  NFC-normalised, as the models do).

Never a workflow left retrying a task, and never a case that stops taking
valid actions.
"""

from __future__ import annotations

import asyncio
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError
from temporalio.client import WorkflowExecutionStatus as Status
from temporalio.client import (
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.support.faults import new_intake
from tests.support.processes import start_dev_server
from tests.support.temporal import Stack, running_stack
from workflows.client import act as api_act
from workflows.client import file_complaint
from workflows.complaint import ComplaintWorkflow
from workflows.models import CHANNELS, AnyAction, Assign, CaseView, FileComplaintInput, IntakeRef

pytestmark = [pytest.mark.faults, pytest.mark.temporal]

OUTCOME_SECONDS = 20.0  # for one payload to be refused or recorded
EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "/')
# A refusal names what was wrong with the input; these name a bug in the code.
INTERNAL_ERRORS = {
    "AttributeError",
    "TypeError",
    "KeyError",
    "IndexError",
    "NameError",
    "AssertionError",
    "UnboundLocalError",
    "OverflowError",
    "ZeroDivisionError",
}

# -- payloads ---------------------------------------------------------------------------


def mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Five draws in six plausible, one odd: accepted payloads stay common enough
    to check what is stored. (`one_of` would flatten nested branches and let the
    many odd ones outnumber the plausible.)"""
    return st.integers(0, 5).flatmap(lambda n: odd if n == 0 else valid)


hangul = st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=30)
korean = st.one_of(
    hangul,
    hangul.map(lambda text: f"{text} 확인 부탁드립니다"),
    hangul.map(lambda text: unicodedata.normalize("NFD", text)),  # jamo, as some keyboards send
)
odd_strings = st.sampled_from(
    [
        "",
        "   ",
        "\x00",
        "줄\x07바꿈",
        "탭\t줄\n바꿈\r",
        "\u200b",
        "e\u0301",
        "\ufb01",
        "\U0001f600 민원",
        "DROP TABLE events; --",
    ]
)
huge_strings = st.sampled_from([("민", 10_000), ("a", 10_001), ("가", 60_000)]).map(
    lambda spec: spec[0] * spec[1]
)
wrong_types = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
odd_values = st.one_of(st.text(max_size=80), odd_strings, huge_strings, wrong_types)
free_text = mostly(korean, odd_values)
staff_ids = mostly(
    st.sampled_from(["lee.service", "kim.casemgr", "park.officer", "choi.tour", "han.ops"]),
    st.one_of(st.sampled_from(["Lee.Service", "이서비스", "-x"]), odd_values),
)


def _moment(delta: timedelta, *, naive: bool = False) -> str:
    moment = datetime.now(UTC) + delta
    return (moment.replace(tzinfo=None) if naive else moment).isoformat()


moments = mostly(
    st.one_of(
        st.integers(min_value=5, max_value=60 * 24 * 40).map(
            lambda m: _moment(timedelta(minutes=m))
        ),
        st.integers(min_value=1, max_value=60 * 24 * 365 * 30).map(
            lambda m: _moment(-timedelta(minutes=m))
        ),
        st.sampled_from(
            [
                "1900-01-01T09:00:00+09:00",
                "0001-01-01T00:00:00+00:00",
                "9999-12-31T23:59:59+00:00",
            ]
        ),
    ),
    st.one_of(
        st.integers(min_value=5, max_value=60 * 24 * 40).map(
            lambda m: _moment(timedelta(minutes=m), naive=True)
        ),
        st.sampled_from(["yesterday", "2026-02-30T10:00:00+09:00", "10000-01-01T00:00:00Z"]),
        wrong_types,
    ),
)


def _with_extra(payload: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    extra = st.dictionaries(
        st.sampled_from(["extra", "admin", "case_id"]), free_text, min_size=1, max_size=1
    )
    return mostly(payload, st.builds(lambda base, more: {**base, **more}, payload, extra))


REFERENCE = TypeAdapter(IntakeRef)
# Replaced by a new reference for each example: hypothesis may draw the same
# value twice, and filing a reference again rightly returns the first case.
FRESH = "<fresh reference>"


def _unlike_a_reference(value: object) -> bool:
    # A generated value that happens to be a valid reference could name another
    # example's case; references that are valid come from uuids instead.
    try:
        REFERENCE.validate_python(value)
    except ValidationError:
        return True
    return False


intakes = _with_extra(
    st.fixed_dictionaries(
        {
            "intake_ref": mostly(st.just(FRESH), odd_values.filter(_unlike_a_reference)),
            "channel": mostly(
                st.sampled_from(CHANNELS),
                st.one_of(st.sampled_from(["pigeon", "EMAIL", ""]), odd_values),
            ),
            "category": mostly(
                st.sampled_from(["inquiry", "opinion", "callback", "unkind_service"]),
                st.one_of(st.sampled_from(["unheard_of", "Inquiry", "late_reply"]), odd_values),
            ),
            "contact": mostly(st.sampled_from(["010-1234-5678", "hong@example.org"]), free_text),
            "text": free_text,
        },
        optional={
            "topic": mostly(st.sampled_from(["program", "tour", "intake", "nowhere"]), odd_values),
            "private": mostly(st.booleans(), wrong_types),
            "received_at": moments,
            "linked_to": st.one_of(st.just("MW-00000-00000"), odd_values),
        },
    )
)

ACTION_FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "assign": {"staff": staff_ids, "by": staff_ids},
    "take_message": {"for_staff": staff_ids, "taken_by": staff_ids, "callback_by": moments},
    "interim_reply": {"reason": free_text, "new_due": moments, "by": staff_ids},
    "answer": {"text": free_text, "by": staff_ids},
    "escalate": {"reason": free_text, "by": staff_ids},
    "rate": {"score": mostly(st.integers(1, 5), st.one_of(st.integers(-3, 9), wrong_types))},
    "announce": {"summary": free_text, "by": staff_ids},
    "apology": {"mode": mostly(st.sampled_from(["phone", "public"]), free_text), "by": staff_ids},
    "finding": {"fault_confirmed": mostly(st.booleans(), wrong_types), "finding": free_text},
    # Recorded only by the case's own timers: always refused from outside.
    "warn": {"kind": free_text},
    "breach": {"kind": free_text},
}
OPTIONAL_FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "assign": {"role": free_text},
    "take_message": {"note": free_text},
    "interim_reply": {"kind": mostly(st.just("reply"), free_text)},
    "escalate": {"trigger": mostly(st.just("manual"), free_text)},
    "rate": {"comment": free_text},
    "apology": {"note": free_text},
}
typed_actions = st.one_of(
    *(
        _with_extra(
            st.fixed_dictionaries(
                {"type": st.just(kind), **fields}, optional=OPTIONAL_FIELDS.get(kind, {})
            )
        )
        for kind, fields in ACTION_FIELDS.items()
    )
)
actions = mostly(
    typed_actions,
    st.one_of(
        st.fixed_dictionaries({"type": st.one_of(free_text, st.just("withdraw_all"))}),
        typed_actions.map(lambda action: {k: v for k, v in action.items() if k != "by"}),
        wrong_types,
    ),
)

# Stored as the event's own fields: the event class an accepted action records.
RECORDED_AS = {
    "assign": ("Assigned", "Reassigned"),
    "take_message": ("MessageTaken",),
    "interim_reply": ("InterimReplySent",),
    "answer": ("Answered",),
    "escalate": ("Escalated",),
    "rate": ("SatisfactionRated",),
    "announce": ("ResultAnnounced",),
    "apology": ("ApologyMade",),
    "finding": ("InvestigationConcluded",),
}

# -- what a refusal must look like ------------------------------------------------------


def messages(error: BaseException) -> list[tuple[str, str]]:
    """(type, message) of an error and its causes, as a client receives them."""
    found: list[tuple[str, str]] = []
    current: BaseException | None = error
    while current is not None and len(found) < 10:
        kind = getattr(current, "type", None) or type(current).__name__
        found.append((kind, getattr(current, "message", None) or str(current)))
        current = getattr(current, "cause", None) or current.__cause__
    return found


def assert_clear_refusal(error: BaseException) -> None:
    chain = messages(error)
    assert any(text.strip() for _, text in chain), f"a refusal without a message: {error!r}"
    for kind, text in chain:
        assert kind not in INTERNAL_ERRORS, f"an internal error, not a refusal: {chain}"
        for mark in TRACEBACK_MARKS:
            assert mark not in text, f"a stack trace in the message: {text[:2000]}"


def assert_stored_as_accepted(model: BaseModel, stored: Any, exclude: set[str] = set()) -> None:  # noqa: B006
    """Every field the model accepted reads back equal from the stored event.

    Equal to the model's value, not the raw one: free text (`Text`, `ShortText`,
    contact) is NFC-normalised by the models; notes and comments are kept as typed.
    """
    for name, value in model.model_dump(exclude={"type", *exclude}).items():
        if not hasattr(stored, name):
            continue
        assert getattr(stored, name) == value, f"{name}: stored {getattr(stored, name)!r}"


# -- the stack -------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    server = await start_dev_server()
    yield server
    await server.shutdown()


@pytest_asyncio.fixture(scope="module")
async def stack(env: WorkflowEnvironment, tmp_path_factory: Any) -> AsyncIterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("bad-input")
    async with running_stack(env.client, folder) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def open_case(stack: Stack) -> tuple[WorkflowHandle[Any, Any], CaseView]:
    async with asyncio.timeout(OUTCOME_SECONDS):
        return await file_complaint(stack.client, new_intake("fuzz-open"), stack.task_queue)


async def outcome_of_start(handle: WorkflowHandle[Any, Any]) -> CaseView | BaseException:
    """The registered case, or why the workflow ended; fails if it is neither in time."""
    deadline = time.monotonic() + OUTCOME_SECONDS
    while time.monotonic() < deadline:
        description = await handle.describe()
        if description.status == Status.RUNNING:
            try:
                # A query waits for a workflow task: bounded, as a stuck task never answers.
                view: CaseView = await handle.query(
                    ComplaintWorkflow.status, rpc_timeout=timedelta(seconds=3)
                )
                return view
            except (WorkflowQueryFailedError, RPCError):
                pass  # still being registered
        else:
            try:
                await handle.result()
            except WorkflowFailureError as failure:
                return failure
            pytest.fail(f"the workflow ended as {description.status} without failing")
        await asyncio.sleep(0.1)
    description = await handle.describe()
    pending = description.raw_description.pending_activities
    retried = [f"{a.activity_type.name}: {a.last_failure.message}" for a in pending]
    history = await handle.fetch_history()
    failed = [e for e in history.events if e.HasField("workflow_task_failed_event_attributes")]
    tasks = [e.workflow_task_failed_event_attributes.failure.message for e in failed[-1:]]
    pytest.fail(f"stuck after {OUTCOME_SECONDS:.0f} s: retrying {retried}, failed tasks {tasks}")


# -- tests ---------------------------------------------------------------------------------


@EXAMPLES
@given(payload=intakes)
@example(
    payload={
        "intake_ref": FRESH,
        "channel": "homepage",
        "category": "inquiry",
        "contact": "010-1234-5678",
        "text": unicodedata.normalize("NFD", "프로그램 신청 방법을 알려주세요"),
    }
)
@example(payload={"intake_ref": FRESH, "channel": "pigeon", "category": "inquiry"})
@example(  # a blank link names no case: registered without one (found by this test)
    payload={
        "intake_ref": FRESH,
        "channel": "visit",
        "category": "inquiry",
        "contact": "010-1234-5678",
        "text": "0",
        "linked_to": "",
    }
)
@example(
    payload={
        "intake_ref": FRESH,
        "channel": "mail",
        "category": "inquiry",
        "contact": "010-1234-5678",
        "text": "오래된 편지",
        "received_at": "9999-12-31T23:59:59+00:00",
    }
)
async def test_a_raw_intake_is_refused_clearly_or_registered_intact(
    stack: Stack, payload: Any
) -> None:
    if isinstance(payload, dict) and payload.get("intake_ref") == FRESH:
        payload = {**payload, "intake_ref": f"fuzz-{uuid.uuid4().hex}"}
    try:
        handle = await stack.client.start_workflow(
            "ComplaintWorkflow",
            payload,
            id=f"complaint-fuzz-{uuid.uuid4().hex}",
            task_queue=stack.task_queue,
            result_type=CaseView,
        )
    except RPCError as refused_at_the_door:  # e.g. a payload over the server's size limit
        assert_clear_refusal(refused_at_the_door)
        event("intake refused by the server")
        return
    outcome = await outcome_of_start(handle)
    try:
        accepted = FileComplaintInput.model_validate(payload)
    except ValidationError:
        assert isinstance(outcome, BaseException), f"invalid intake registered: {payload!r}"
        assert_clear_refusal(outcome)
        event("intake refused: invalid")
        return
    if isinstance(outcome, BaseException):
        # Valid in form, refused by the charter (an unknown category, a link to no case).
        assert_clear_refusal(outcome)
        event("intake refused by the charter")
        return
    event("intake registered")
    [received, *_] = stack.complaints.history(uuid.UUID(outcome.case_id))
    assert type(received).__name__ == "Received"
    assert_stored_as_accepted(accepted, received, exclude={"received_at"})
    if accepted.received_at is not None:
        assert received.received_at == accepted.received_at
    if accepted.text == "프로그램 신청 방법을 알려주세요":
        # Sent as jamo (NFD): stored as the composed syllables a search will find.
        assert received.text == unicodedata.normalize("NFC", payload["text"]) != payload["text"]
    await handle.terminate("fuzz case done")


@EXAMPLES
@given(payload=actions)
@example(payload={"type": "answer", "text": unicodedata.normalize("NFD", "답변"), "by": "x1"})
@example(payload={"type": "assign", "staff": "kim.casemgr", "by": "han.ops", "extra": 1})
@example(payload={"type": "take_message", "for_staff": "lee.service", "taken_by": "kim.casemgr"})
@example(
    payload={
        "type": "take_message",
        "for_staff": "lee.service",
        "taken_by": "kim.casemgr",
        "callback_by": "9999-12-31T23:59:59+00:00",
    }
)
async def test_a_raw_action_is_refused_clearly_or_recorded_intact(
    stack: Stack, open_case: tuple[WorkflowHandle[Any, Any], CaseView], payload: Any
) -> None:
    handle, filed = open_case
    before = await handle.query(ComplaintWorkflow.status)
    try:
        async with asyncio.timeout(OUTCOME_SECONDS):
            view = await handle.execute_update("act", payload, result_type=CaseView)
    except (WorkflowUpdateFailedError, RPCError) as refused:
        assert_clear_refusal(refused)
        event(f"action refused ({type(refused).__name__})")
        after = await handle.query(ComplaintWorkflow.status)
        assert after.version == before.version or _only_timers_since(stack, filed, before)
        return
    accepted: Any = TypeAdapter(AnyAction).validate_python(payload)
    event(f"action recorded: {accepted.type}")
    new_events = [
        e
        for e in stack.complaints.history(uuid.UUID(filed.case_id))
        if before.version < e.originator_version <= view.version
    ]
    recorded = [e for e in new_events if type(e).__name__ in RECORDED_AS[accepted.type]]
    if accepted.type == "assign" and accepted.staff == before.assignee:
        assert recorded == []  # assigning the same person again records nothing
        return
    assert len(recorded) == 1, [type(e).__name__ for e in new_events]
    assert_stored_as_accepted(accepted, recorded[0])
    if accepted.type == "answer" and accepted.by == "x1":
        assert recorded[0].text == "답변" != payload["text"]


def _only_timers_since(stack: Stack, filed: CaseView, before: CaseView) -> bool:
    # A refused action records nothing; the case's own clocks may have run meanwhile.
    timers = {"CommitmentWarned", "CommitmentBreached", "Escalated", "NoticeSent"}
    events = stack.complaints.history(uuid.UUID(filed.case_id))
    return all(type(e).__name__ in timers for e in events if e.originator_version > before.version)


async def test_after_the_bad_input_the_case_still_takes_a_valid_action_and_never_failed_a_task(
    stack: Stack, open_case: tuple[WorkflowHandle[Any, Any], CaseView]
) -> None:
    handle, filed = open_case
    async with asyncio.timeout(OUTCOME_SECONDS):
        view = await api_act(handle, Assign(staff="choi.tour", by="han.ops"))
        again = await api_act(handle, Assign(staff="lee.service", by="han.ops"))
    assert (view.assignee, again.assignee) == ("choi.tour", "lee.service")
    assert again.receipt_code == filed.receipt_code
    history = await handle.fetch_history()
    failed_tasks = [
        e for e in history.events if e.HasField("workflow_task_failed_event_attributes")
    ]
    assert failed_tasks == []
