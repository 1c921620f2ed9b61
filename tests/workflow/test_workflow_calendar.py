"""A calendar change reaches a running case: its timers move (time-skipping server,
real activities, a real override file)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from activities.calendar import CalendarWatch
from domain.calendar import BusinessCalendar, _public_holidays
from tests.support.files import write
from tests.support.temporal import Stack, running_stack
from workflows.client import file_complaint
from workflows.complaint import ComplaintWorkflow
from workflows.models import FileComplaintInput

pytestmark = pytest.mark.temporal


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    path = tmp_path / "overrides.toml"
    write(path, "")
    return path


@pytest_asyncio.fixture
async def stack(
    ts_env: WorkflowEnvironment, tmp_path: Path, overrides: Path
) -> AsyncIterator[Stack]:
    env = {"MINWON_CALENDAR_OVERRIDES": str(overrides)}
    async with running_stack(ts_env.client, tmp_path, env=env) as running:
        yield running


def intake() -> FileComplaintInput:
    return FileComplaintInput(
        intake_ref=f"cal-{uuid.uuid4().hex[:12]}",
        channel="email",
        category="inquiry",
        topic="program",
        contact="010-1234-5678",
        text="프로그램 일정 문의",
    )


async def sleep_until(ts_env: WorkflowEnvironment, moment: datetime) -> None:
    now = await ts_env.get_current_time()
    if moment > now:
        await ts_env.sleep(moment - now)


def events(stack: Stack, case_id: str, name: str) -> list[object]:
    return [e for e in stack.complaints.history(uuid.UUID(case_id)) if type(e).__name__ == name]


async def moves_the_breach_to_the_new_due(
    ts_env: WorkflowEnvironment, stack: Stack, change: Callable[[date], None]
) -> None:
    watch = CalendarWatch(stack.complaints, stack.client)
    await watch.follow()  # the calendar as counted so far, as a worker records it at start
    handle, view = await file_complaint(stack.client, intake(), stack.task_queue)
    old_due = view.commitment("reply").due
    # A working day inside the period becomes a day off.
    third_day = stack.complaints.calendar.due(view.received_at, 7).counted[2][0].date()
    expected = stack.complaints.calendar.with_extra_holiday(third_day, "임시공휴일")
    new_due = expected.due(view.received_at, 7).due
    assert new_due > old_due

    change(third_day)
    first = await watch.follow()
    again = await watch.follow()

    assert [(m.receipt_code, m.new_due) for m in first.moved] == [(view.receipt_code, new_due)]
    assert again.moved == []  # recorded once: the next pass finds nothing to do
    assert (await handle.query(ComplaintWorkflow.status)).commitment("reply").due == new_due
    await sleep_until(ts_env, old_due + timedelta(minutes=5))
    assert (await handle.query(ComplaintWorkflow.status)).commitment("reply").status == "open"
    assert events(stack, view.case_id, "CommitmentBreached") == []
    await sleep_until(ts_env, new_due + timedelta(minutes=1))
    [breach] = events(stack, view.case_id, "CommitmentBreached")
    assert breach.at >= new_due  # type: ignore[attr-defined]
    assert len(events(stack, view.case_id, "CommitmentRescheduled")) == 1
    sent = await stack.wait_for_notices(view.case_id, [("rescheduled", "resident")])
    assert sent.count(("rescheduled", "resident")) == 1


async def test_a_holiday_added_to_the_override_file_moves_a_running_cases_breach(
    ts_env: WorkflowEnvironment, stack: Stack, overrides: Path
) -> None:
    def designate(day: date) -> None:
        write(overrides, f'[[holiday]]\ndate = {day.isoformat()}\nname = "임시공휴일"\n')

    await moves_the_breach_to_the_new_due(ts_env, stack, designate)


async def test_a_new_holidays_release_moves_a_running_cases_breach(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    def release(day: date) -> None:
        def newer(year: int) -> dict[date, str]:
            return {**_public_holidays(year), **({day: "임시공휴일"} if year == day.year else {})}

        stack.complaints.use_calendar(BusinessCalendar(public_holidays=newer))

    await moves_the_breach_to_the_new_due(ts_env, stack, release)
