"""A worker split in two by `MINWON_WORKER_ROLE`: one process for the workflows and the
store's steps in them, one for the notices and the other activities.

The split keeps a deadline peak's breaches and escalations off the CPU that the
notices take (bench/README.md, `load.py --split`). What it must not do is lose or
repeat anything, or let a process take work of the other kind. On the dev server,
with two `python worker.py` processes on one task queue and one SQLite store:

- the workflows' process alone files cases, takes a callback promise and, when it
  passes, records the breach and the escalation: the store's steps need no other
  process. It sends no notice: none is recorded and its outboxes stay empty; the
  clocks' notices wait in the store (queued with their records, for the notice outbox
  of a process that runs activities), the receipt's as a pending activity;
- the activities' process, started afterwards, sends each of them once;
- the activities' process alone takes no workflow task: a case filed while only it
  runs is not started until the workflows' process is back.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from application.service import Complaints
from tests.support.faults import (
    DevServer,
    act_until_answered,
    event_counts,
    file_until_registered,
    new_intake,
    sqlite_store,
    stored_events,
    worker_env,
)
from tests.support.processes import WorkerProcess, wait_until
from workflows.client import start_complaint
from workflows.complaint import ComplaintWorkflow
from workflows.models import TakeMessage

pytestmark = pytest.mark.temporal

CASES = 3
WAIT_SECONDS = 90.0
# What a breached callback case sends: its receipt, the warning's reminder, then the
# breach's three notices.
NOTICES = Counter({"receipt": 1, "reminder": 1, "breach": 1, "overdue": 1, "escalation": 1})


def notices_of(complaints: Complaints, case_id: str) -> Counter[str]:
    return Counter(
        e.kind for e in stored_events(complaints, case_id) if type(e).__name__ == "NoticeSent"
    )


async def wait_for(check: Callable[[], bool]) -> None:
    """Until `check` holds or WAIT_SECONDS have passed; the assertions after it say which."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.3)


def outbox_files(folder: Path) -> list[Path]:
    """What a worker with its outboxes in `folder` has written for a mail or SMS gateway."""
    written = [*(folder / "mail").glob("*"), folder / "sms.jsonl", folder / "outbox.jsonl"]
    return [path for path in written if path.is_file() and path.stat().st_size > 0]


async def promised_callbacks(client: Client, task_queue: str) -> dict[str, str]:
    """CASES callback cases, each with a callback promised a few seconds ahead; the
    workflow id of each case id."""
    cases = {}
    for _ in range(CASES):
        intake = new_intake("roles", category="callback")
        handle, view = await file_until_registered(client, intake, task_queue)
        await act_until_answered(
            handle,
            TakeMessage(
                for_staff="lee.service",
                taken_by="kim.casemgr",
                callback_by=datetime.now(UTC) + timedelta(seconds=3),
            ),
            f"message-{intake.intake_ref}",
        )
        cases[view.case_id] = handle.id
    return cases


async def receipt_pending(client: Client, workflow_id: str) -> bool:
    """Whether the workflow waits on its receipt's notice (`send_notice`) in Temporal,
    and on no other activity."""
    described = await client.get_workflow_handle(workflow_id).describe()
    pending = described.raw_description.pending_activities
    return [p.activity_type.name for p in pending] == ["send_notice"]


def queued_of(complaints: Complaints, case_id: str) -> Counter[str]:
    return Counter(
        e.kind for e in stored_events(complaints, case_id) if type(e).__name__ == "NoticeQueued"
    )


async def test_the_workflows_process_sends_nothing_and_the_activities_process_runs_no_workflow(
    tmp_path: Path,
) -> None:
    server = DevServer(tmp_path, persistent=False)
    client = await server.start()
    store = sqlite_store(tmp_path)
    task_queue = "roles"
    processes = {}
    for role in ("workflows", "activities"):
        own = tmp_path / role
        own.mkdir()
        env = worker_env(server.address, task_queue, own, store, MINWON_WORKER_ROLE=role)
        processes[role] = WorkerProcess(env, own / "worker.log")
    workflows, activities = processes["workflows"], processes["activities"]
    complaints = Complaints(env=store)
    try:
        await workflows.start()
        assert '"role": "workflows"' in workflows.log()
        cases = await promised_callbacks(client, task_queue)

        # The deadlines pass: breach and escalation recorded by the workflows' process.
        await wait_for(
            lambda: all(
                event_counts(stored_events(complaints, case_id))["Escalated"] == 1
                for case_id in cases
            )
        )
        for case_id, workflow_id in cases.items():
            counts = event_counts(stored_events(complaints, case_id))
            assert counts["CommitmentBreached"] == counts["Escalated"] == 1, counts
            assert notices_of(complaints, case_id) == Counter(), case_id
            # The clocks' notices queued with their records; the receipt's in Temporal.
            assert queued_of(complaints, case_id) == NOTICES - Counter(receipt=1), case_id
            await wait_until(
                lambda workflow_id=workflow_id: receipt_pending(client, workflow_id),
                f"only the receipt's send_notice pending on {workflow_id}",
                timeout=WAIT_SECONDS,
            )
        assert outbox_files(tmp_path / "workflows") == []
        assert "notice_sent" not in workflows.log()

        # The activities' process sends every notice, once.
        await activities.start()
        await wait_for(lambda: all(notices_of(complaints, case_id) == NOTICES for case_id in cases))
        await asyncio.sleep(2)  # a second delivery, if there were one, would be recorded
        for case_id in cases:
            assert notices_of(complaints, case_id) == NOTICES, case_id
        assert outbox_files(tmp_path / "activities") != []
        assert outbox_files(tmp_path / "workflows") == []
        assert workflows.log().count("notice_sent") == 0
        assert activities.log().count("notice_sent") == CASES * sum(NOTICES.values())

        # The activities' process alone: a case filed now waits for a workflows' process.
        await workflows.stop()
        intake = new_intake("roles-waiting")
        handle = await start_complaint(client, intake, task_queue)
        await asyncio.sleep(5)
        kinds = [event.event_type async for event in handle.fetch_history_events()]
        assert EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED in kinds
        assert EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED not in kinds, kinds
        await workflows.start()
        view = await handle.execute_update(
            ComplaintWorkflow.registered, id=f"registered-{intake.intake_ref}"
        )
        assert complaints.get_case(uuid.UUID(view.case_id)).receipt_code == view.receipt_code
        await workflows.stop()
        await activities.stop()
    finally:
        workflows.kill()
        activities.kill()
        complaints.close()
        server.stop()
