"""Creating a Temporal schedule once: every worker asks at start, the first one makes it;
and finding what a changed task queue would leave where no worker polls."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
)
from temporalio.service import RPCError, RPCStatusCode


async def ensure_schedule(client: Client, schedule_id: str, schedule: Schedule) -> bool:
    """Create the schedule unless one with its id exists; True if it was created."""
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        return False
    return True


async def schedules_elsewhere(
    client: Client, schedule_ids: Sequence[str], task_queue: str
) -> dict[str, str]:
    """The schedules among `schedule_ids` that start their workflows on a task queue
    other than `task_queue`, each with that queue. A schedule keeps the queue it was
    made with: after `MINWON_TASK_QUEUE` changed, no worker runs what it starts."""
    found: dict[str, str] = {}
    for schedule_id in schedule_ids:
        try:
            described = await client.get_schedule_handle(schedule_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                continue
            raise
        action = described.schedule.action
        if isinstance(action, ScheduleActionStartWorkflow) and action.task_queue != task_queue:
            found[schedule_id] = action.task_queue
    return found


async def running_elsewhere(
    client: Client, task_queue: str, workflow_types: Sequence[str]
) -> int | None:
    """How many running workflows of `workflow_types` (minwon's: a namespace may hold
    others') are on other task queues; None for a queue name a visibility query cannot
    quote. A workflow keeps its queue for life: a case's timers ring there, where no
    worker of this queue takes them."""
    if "'" in task_queue or "\\" in task_queue:
        return None
    types = ", ".join(f"'{name}'" for name in workflow_types)
    query = (
        f"ExecutionStatus = 'Running' AND TaskQueue != '{task_queue}' AND WorkflowType IN ({types})"
    )
    return (await client.count_workflows(query)).count
