"""A worker started on another task queue than before says so, at start.

Schedules and running workflows keep the task queue they were started on. After
`MINWON_TASK_QUEUE` changed, no worker would poll the old queue: the reconciler, the
retention sweep and the survey would stop, and every open case's deadlines would pass
unseen. On the dev server, with two `python worker.py` processes one after the other
on one store: the first (queue `first`) makes the schedules and runs a case; the
second (queue `second`) logs `task_queue_elsewhere` naming each schedule and counting
the running workflows left on `first` (not another application's, on a queue of its
own). The first, started again on its own queue, logs nothing of the kind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.faults import (
    DevServer,
    file_until_registered,
    new_intake,
    sqlite_store,
    worker_env,
)
from tests.support.processes import WorkerProcess
from workflows.reconcile import SCHEDULE_ID as RECONCILE_SCHEDULE
from workflows.retention import SCHEDULE_ID as RETENTION_SCHEDULE
from workflows.survey import SCHEDULE_ID as SURVEY_SCHEDULE

pytestmark = pytest.mark.temporal


def logged(worker: WorkerProcess, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


async def test_a_worker_on_a_changed_task_queue_names_the_schedules_and_cases_left_behind(
    tmp_path: Path,
) -> None:
    server = DevServer(tmp_path, persistent=False)
    client = await server.start()
    store = sqlite_store(tmp_path)
    workers = {}
    for queue in ("first", "second"):
        own = tmp_path / queue
        own.mkdir()
        workers[queue] = WorkerProcess(worker_env(server.address, queue, own, store), own / "log")
    first, second = workers["first"], workers["second"]
    try:
        await first.start()
        assert logged(first, "worker_started"), first.log()
        handle, _ = await file_until_registered(client, new_intake("queue"), "first")
        await first.stop()
        # Started again on its own queue, with a case running there: nothing to say.
        await first.start()
        await first.stop()
        assert len(logged(first, "worker_started")) == 2
        assert logged(first, "task_queue_elsewhere") == []

        # Another application's workflow in the namespace, on a queue of its own: not ours.
        await client.start_workflow("SomeoneElsesWorkflow", id="foreign", task_queue="theirs")
        ours = [
            found
            async for found in client.list_workflows("ExecutionStatus = 'Running'")
            if found.task_queue == "first"
        ]
        await second.start()
        [warning] = logged(second, "task_queue_elsewhere")
        assert warning["level"] == "error"
        assert warning["task_queue"] == "second"
        assert warning["schedules"] == {
            RETENTION_SCHEDULE: "first",
            RECONCILE_SCHEDULE: "first",
            SURVEY_SCHEDULE: "first",
        }
        # The case's workflow and this year's survey at least, both on `first`.
        assert warning["running_workflows"] == len(ours) >= 2
        assert (await handle.describe()).raw_description.execution_config.task_queue.name == (
            "first"
        )
        await second.stop()
    finally:
        first.kill()
        second.kill()
        server.stop()
