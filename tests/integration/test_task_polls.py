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
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import PollerBehaviorSimpleMaximum, WorkerConfig

from application.service import Complaints
from runtime.settings import Settings
from runtime.worker import build_worker
from tests.support.faults import new_intake, stored_events
from tests.support.temporal import running_stack
from workflows.client import file_complaint

pytestmark = pytest.mark.temporal


def settings_with(**changes: str) -> Settings:
    return Settings.load({**os.environ, **changes})


def worker_configs(
    client: Client, folder: Path, variable: str, values: tuple[str, ...]
) -> dict[str, WorkerConfig]:
    """The configuration `build_worker` gives the SDK's worker for each value of
    `variable` ("" leaves it unset), one worker per task queue."""
    complaints = Complaints(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / "e.db")}
    )
    configs = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for given in values:
            worker = build_worker(
                client,
                complaints,
                f"{variable}-{given or 'unset'}",
                pool,
                2,
                settings=settings_with(**{variable: given}),
            )
            configs[given] = worker.config()
    complaints.close()
    return configs


async def test_the_setting_reaches_both_kinds_of_poller(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    configs = worker_configs(ts_env.client, tmp_path, "MINWON_TASK_POLLS", ("", "2", "8"))
    seen = {
        given: (
            config.get("workflow_task_poller_behavior"),
            config.get("activity_task_poller_behavior"),
        )
        for given, config in configs.items()
    }
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
    configs = worker_configs(ts_env.client, tmp_path, "MINWON_STICKY_SECONDS", ("", "12.5"))
    seen = {
        given: config.get("sticky_queue_schedule_to_start_timeout")
        for given, config in configs.items()
    }
    # Not the SDK's 10 s: at a deadline peak the tasks queue for longer than that.
    assert seen == {"": timedelta(seconds=60), "12.5": timedelta(seconds=12.5)}
