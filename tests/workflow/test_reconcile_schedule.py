"""The reconciler's schedule on the real dev server: when its passes begin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from tests.support.processes import start_dev_server
from workflows.models import ReconcileRequest
from workflows.reconcile import SCHEDULE_ID, ReconcileWorkflow, ensure_reconcile_schedule

pytestmark = pytest.mark.temporal

QUEUE = "reconcile-schedule-test"


async def test_the_reconcilers_passes_begin_between_the_round_times_deadlines_fall_on() -> None:
    env = await start_dev_server()
    try:
        assert await ensure_reconcile_schedule(env.client, QUEUE) == "created"
        assert await ensure_reconcile_schedule(env.client, QUEUE) == "kept"
        description = await env.client.get_schedule_handle(SCHEDULE_ID).describe()
        [interval] = description.schedule.spec.intervals
        assert (interval.every, interval.offset) == (timedelta(minutes=10), timedelta(minutes=5))
        # The server's own next times: :05, :15, …; none on :00, when the day's cases fall due.
        upcoming = description.info.next_action_times
        assert len(upcoming) >= 3
        assert all((moment.minute % 10, moment.second) == (5, 0) for moment in upcoming), upcoming
    finally:
        await env.shutdown()


async def test_a_schedule_made_on_round_times_or_with_another_interval_is_retimed_at_start() -> (
    None
):
    env = await start_dev_server()
    try:
        # As a worker before this change made it: every 10 minutes, on round times.
        await env.client.create_schedule(
            SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    ReconcileWorkflow.run, ReconcileRequest(), id="minwon-reconcile-run",
                    task_queue=QUEUE,
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=10))]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )  # fmt: skip
        handle = env.client.get_schedule_handle(SCHEDULE_ID)

        async def times() -> list[tuple[timedelta, timedelta | None]]:
            spec = (await handle.describe()).schedule.spec
            return [(i.every, i.offset) for i in spec.intervals]

        assert await times() == [(timedelta(minutes=10), None)]
        assert await ensure_reconcile_schedule(env.client, QUEUE) == "retimed"
        assert await times() == [(timedelta(minutes=10), timedelta(minutes=5))]
        # MINWON_RECONCILE_MINUTES changed: the next worker to start applies it.
        assert (
            await ensure_reconcile_schedule(env.client, QUEUE, timedelta(minutes=30)) == "retimed"
        )
        assert await times() == [(timedelta(minutes=30), timedelta(minutes=15))]
        described = await handle.describe()
        assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        assert isinstance(described.schedule.action, ScheduleActionStartWorkflow)
        assert described.schedule.action.workflow == "ReconcileWorkflow"
    finally:
        await env.shutdown()
