"""RetentionSweepWorkflow: destroy personal data kept past the policy's retention.

Started every day by the Temporal schedule `minwon-retention-sweep` (see
`ensure_retention_schedule`). Input `SweepInput`, output `SweepResult`; no
updates, signals or queries. The sweep's clock is the workflow's, so a
time-skipped test can run it years ahead.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
)
from temporalio.common import RetryPolicy

from workflows.schedules import ensure_schedule

with workflow.unsafe.imports_passed_through():
    from activities.retention import RetentionActivities
    from workflows.models import SweepInput, SweepResult

SCHEDULE_ID = "minwon-retention-sweep"
# 03:00 in Seoul: after the day's work, before the next.
DAILY_AT_THREE = "0 3 * * *"


@workflow.defn
class RetentionSweepWorkflow:
    @workflow.run
    async def run(self, sweep: SweepInput) -> SweepResult:
        now = sweep.as_of or workflow.now()
        return await workflow.execute_activity_method(
            RetentionActivities.erase_expired_persons,
            SweepInput(as_of=now),
            start_to_close_timeout=timedelta(minutes=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
        )


async def ensure_retention_schedule(client: Client, task_queue: str) -> bool:
    """Create the daily sweep's schedule unless it exists; True if it was created."""
    return await ensure_schedule(
        client,
        SCHEDULE_ID,
        Schedule(
            action=ScheduleActionStartWorkflow(
                RetentionSweepWorkflow.run,
                SweepInput(),
                id="minwon-retention-sweep-run",
                task_queue=task_queue,
            ),
            spec=ScheduleSpec(cron_expressions=[DAILY_AT_THREE], time_zone_name="Asia/Seoul"),
        ),
    )
