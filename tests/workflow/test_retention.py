"""Retention: a daily schedule runs a sweep that erases persons kept too long."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import ScheduleActionStartWorkflow

from application.service import Complaints, Intake
from domain.commands import Answer, Close
from domain.complaint import ERASED
from tests.support.processes import start_dev_server
from tests.support.temporal import running_stack, start_time_skipping
from workflows.models import SweepInput, SweepResult
from workflows.retention import SCHEDULE_ID, RetentionSweepWorkflow, ensure_retention_schedule

pytestmark = pytest.mark.temporal


def intake(ref: str, contact: str, at):  # type: ignore[no-untyped-def]
    return Intake(ref, "phone", "inquiry", "program", False, contact, "보존기간 시험 민원", at)


def close(complaints: Complaints, case_id: uuid.UUID, at: datetime, tag: str) -> None:
    for action in (Answer(text="답변", by="lee.service"), Close(by="lee.service")):
        complaints.perform(case_id, action, at=at, command_id=f"{tag}-{action.name}")


async def test_the_sweep_erases_only_persons_whose_cases_all_ended_past_the_retention(
    tmp_path: Path,
) -> None:
    env = await start_time_skipping()
    try:
        async with running_stack(env.client, tmp_path) as stack:
            app = stack.complaints
            now = await env.get_current_time()
            expired = app.file(intake(f"old-{uuid.uuid4().hex[:6]}", "010-1000-0001", now))
            close(app, expired.id, now + timedelta(days=1), "old")
            recent = app.file(intake(f"new-{uuid.uuid4().hex[:6]}", "010-1000-0002", now))
            close(app, recent.id, now + timedelta(days=800), "new")
            still_open = app.file(intake(f"open-{uuid.uuid4().hex[:6]}", "010-1000-0003", now))
            # The same person as the expired one, but with a case still open: kept.
            mixed_old = app.file(intake(f"mix1-{uuid.uuid4().hex[:6]}", "010-1000-0004", now))
            close(app, mixed_old.id, now + timedelta(days=1), "mix1")
            app.file(intake(f"mix2-{uuid.uuid4().hex[:6]}", "010-1000-0004", now))

            # Waiting on a result lets the test server skip ahead freely; the sweeps
            # must run at the moment the test chose.
            with env.auto_time_skipping_disabled():
                early: SweepResult = await env.client.execute_workflow(
                    RetentionSweepWorkflow.run,
                    SweepInput(),
                    id=f"sweep-early-{uuid.uuid4().hex[:6]}",
                    task_queue=stack.task_queue,
                )
            assert early.erased == []

            await env.sleep(timedelta(days=3 * 365 + 2))
            with env.auto_time_skipping_disabled():
                result: SweepResult = await env.client.execute_workflow(
                    RetentionSweepWorkflow.run,
                    SweepInput(),
                    id=f"sweep-{uuid.uuid4().hex[:6]}",
                    task_queue=stack.task_queue,
                )
            assert now + timedelta(days=3 * 365) <= result.as_of < now + timedelta(days=3 * 365 + 3)
            assert result.erased == [expired.person_id]
            assert app.get_case(expired.id).contact == ERASED
            for kept in (recent, still_open, mixed_old):
                assert app.get_case(kept.id).contact != ERASED
            names = [type(e).__name__ for e in app.history(expired.id)]
            assert names[-1] == "PersonalDataErased"
            erasure = app.history(expired.id)[-1]
            assert erasure.by == "retention-sweep" and "보존기간" in erasure.reason
            assert app.verify(expired.id) is None
    finally:
        await env.shutdown()


async def test_the_worker_creates_a_daily_schedule_that_starts_the_sweep(tmp_path: Path) -> None:
    env = await start_dev_server()
    try:
        async with running_stack(env.client, tmp_path) as stack:
            assert await ensure_retention_schedule(stack.client, stack.task_queue) is True
            assert await ensure_retention_schedule(stack.client, stack.task_queue) is False
            schedule = stack.client.get_schedule_handle(SCHEDULE_ID)
            description = await schedule.describe()
            # The server keeps the cron line as a calendar: every day at 03:00.
            [calendar] = description.schedule.spec.calendars
            assert [(r.start, r.end) for r in calendar.hour] == [(3, 3)]
            assert description.schedule.spec.time_zone_name == "Asia/Seoul"
            action = description.schedule.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert action.workflow == "RetentionSweepWorkflow"
            await schedule.trigger()
            for _ in range(200):
                description = await schedule.describe()
                if description.info.recent_actions:
                    break
                await asyncio.sleep(0.05)
            [started] = description.info.recent_actions
            handle = stack.client.get_workflow_handle(
                started.action.workflow_id,
                run_id=started.action.first_execution_run_id,
                result_type=SweepResult,
            )
            result = await asyncio.wait_for(handle.result(), timeout=30)
            assert result.erased == []
            await schedule.delete()
    finally:
        await env.shutdown()
