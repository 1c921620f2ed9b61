"""Creating a Temporal schedule once: every worker asks at start, the first one makes it."""

from __future__ import annotations

from temporalio.client import Client, Schedule, ScheduleAlreadyRunningError


async def ensure_schedule(client: Client, schedule_id: str, schedule: Schedule) -> bool:
    """Create the schedule unless one with its id exists; True if it was created."""
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        return False
    return True
