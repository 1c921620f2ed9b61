"""The reconciler's schedule on the real dev server: when its passes begin."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.support.temporal import sealed_converter
from workflows.reconcile import SCHEDULE_ID, ensure_reconcile_schedule
from workflows.search import ALL_KEYS


async def test_the_reconcilers_passes_begin_between_the_round_times_deadlines_fall_on() -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        search_attributes=ALL_KEYS,
        data_converter=sealed_converter(),
    )
    try:
        assert await ensure_reconcile_schedule(env.client, "reconcile-schedule-test") is True
        description = await env.client.get_schedule_handle(SCHEDULE_ID).describe()
        [interval] = description.schedule.spec.intervals
        assert (interval.every, interval.offset) == (timedelta(minutes=10), timedelta(minutes=5))
        # The server's own next times: :05, :15, …; none on :00, when the day's cases fall due.
        upcoming = description.info.next_action_times
        assert len(upcoming) >= 3
        assert all((moment.minute % 10, moment.second) == (5, 0) for moment in upcoming), upcoming
    finally:
        await env.shutdown()
