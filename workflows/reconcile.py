"""ReconcileWorkflow: bring Temporal back in line with the event store.

Started every `MINWON_RECONCILE_MINUTES` (default 10) by the schedule
`minwon-reconcile` (`ensure_reconcile_schedule`); input `ReconcileRequest`, output
`ReconcileReport`; no updates, signals or queries. The work is the `reconcile`
activity (activities.reconcile): every open case gets a running workflow; then
the `follow_calendar` activity (activities.calendar): open cases follow a change
of the calendar; then the `sign_checkpoint` activity (activities.checkpoint): the
store is signed when a checkpoint is due.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import RetryPolicy

from workflows.schedules import ensure_schedule

with workflow.unsafe.imports_passed_through():
    from workflows.legacy import CALENDAR_WATCH, CHECKPOINTS
    from workflows.models import CalendarReport, FollowCalendar, ReconcileReport, ReconcileRequest

SCHEDULE_ID = "minwon-reconcile"
# Each step of a pass: one at a time, retried a few times, then the next pass.
PASS: dict[str, Any] = {
    "start_to_close_timeout": timedelta(minutes=10),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5),
}
DEFAULT_MINUTES = 10.0


def pass_offset(every: timedelta) -> timedelta:
    """Where in each interval a pass begins: halfway. Deadlines come in bursts on round
    times (every case received on a day is due at 18:00 of a working day, warned an hour
    before); a pass lists every running case workflow, work for the same server, so with
    the default 10 minutes passes begin at :05, :15, …, never with such a burst."""
    return every / 2


@workflow.defn
class ReconcileWorkflow:
    @workflow.run
    async def run(self, request: ReconcileRequest) -> ReconcileReport:
        report: ReconcileReport = await workflow.execute_activity(
            "reconcile", request, result_type=ReconcileReport, **PASS
        )
        if workflow.patched(CALENDAR_WATCH):
            await workflow.execute_activity(
                "follow_calendar",
                FollowCalendar(dry_run=request.dry_run),
                result_type=CalendarReport,
                **PASS,
            )
        if not request.dry_run and workflow.patched(CHECKPOINTS):
            await workflow.execute_activity("sign_checkpoint", False, **PASS)
        return report


async def ensure_reconcile_schedule(
    client: Client, task_queue: str, every: timedelta = timedelta(minutes=DEFAULT_MINUTES)
) -> Literal["created", "retimed", "kept"]:
    """Create the reconciler's schedule unless it exists. One that exists with other
    times (made before passes began halfway through their interval, or with another
    `every`) is given these; its action and policy stay as they are."""
    spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every, offset=pass_offset(every))])
    created = await ensure_schedule(
        client,
        SCHEDULE_ID,
        Schedule(
            action=ScheduleActionStartWorkflow(
                ReconcileWorkflow.run,
                ReconcileRequest(),
                id="minwon-reconcile-run",
                task_queue=task_queue,
            ),
            spec=spec,
            # One pass at a time: a slow one is not overtaken by the next.
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        ),
    )
    if created:
        return "created"
    retimed = False

    def retime(given: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal retimed
        schedule = given.description.schedule
        times = [(i.every, i.offset) for i in schedule.spec.intervals]
        if times == [(i.every, i.offset) for i in spec.intervals]:
            return None
        schedule.spec = spec
        retimed = True
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(SCHEDULE_ID).update(retime)
    return "retimed" if retimed else "kept"
