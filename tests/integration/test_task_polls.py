"""`MINWON_TASK_POLLS` sets how many task polls a worker keeps open, for workflow tasks
and for activity tasks each; a worker at the lowest value the SDK allows runs a case.
`MINWON_STICKY_SECONDS` sets how long a workflow task waits for the worker that holds
its case before the server hands it to any worker."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import PollerBehaviorSimpleMaximum

from application.service import Complaints
from runtime.settings import Settings
from runtime.worker import build_worker
from tests.support.faults import new_intake, stored_events
from tests.support.temporal import running_stack
from workflows.client import file_complaint

pytestmark = pytest.mark.temporal


def settings_with(**changes: str) -> Settings:
    return Settings.load({**os.environ, **changes})


async def test_the_setting_reaches_both_kinds_of_poller(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    complaints = Complaints(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "e.db")}
    )
    seen = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for given in ("", "2", "8"):
            worker = build_worker(
                ts_env.client,
                complaints,
                f"polls-{given or 5}",  # one worker per queue
                pool,
                2,
                settings=settings_with(MINWON_TASK_POLLS=given),
            )
            config = worker.config()
            seen[given] = (
                config.get("workflow_task_poller_behavior"),
                config.get("activity_task_poller_behavior"),
            )
    complaints.close()
    assert seen == {
        given: (PollerBehaviorSimpleMaximum(polls), PollerBehaviorSimpleMaximum(polls))
        for given, polls in (("", 5), ("2", 2), ("8", 8))
    }


async def test_a_worker_with_the_fewest_polls_the_sdk_allows_files_a_case(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = settings_with(MINWON_TASK_POLLS="2")
    async with running_stack(ts_env.client, tmp_path, settings=settings) as stack:
        intake = new_intake("polls")
        _, view = await file_complaint(stack.client, intake, stack.task_queue)
        events = stored_events(stack.complaints, view.case_id)
    assert view.receipt_code
    assert [type(event).__name__ for event in events][:1] == ["Received"]


async def test_the_sticky_wait_reaches_the_worker(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    complaints = Complaints(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "e.db")}
    )
    seen = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for given in ("", "12.5"):
            worker = build_worker(
                ts_env.client,
                complaints,
                f"sticky-{given or 'default'}",
                pool,
                2,
                settings=settings_with(MINWON_STICKY_SECONDS=given),
            )
            seen[given] = worker.config().get("sticky_queue_schedule_to_start_timeout")
    complaints.close()
    # Not the SDK's 10 s: at a deadline peak the tasks queue for longer than that.
    assert seen == {"": timedelta(seconds=60), "12.5": timedelta(seconds=12.5)}
