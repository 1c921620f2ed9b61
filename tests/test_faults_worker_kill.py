"""The worker process killed (SIGKILL) again and again while cases are in flight.

100 inquiry cases are filed, answered and closed through the real client while
`python worker.py` (SQLite event store) is killed six times and restarted each
time. The kills are spread over the run by progress (one after every seventh
of the work), and alternate between two moments: a random one, and "right
after a save", when the worker's log shows that a command was just recorded
(the log line is written after the save and before the activity reports back,
so a kill then loses the report of a save that happened). No hook in the
production code: the moment is read from the outside.

Pass: every case ends answered and closed; the store holds, per case, one
Received, one Answered, one CommitmentMet, one Closed, and no command id twice
for the same event type; each resident notice (receipt, answer) is recorded as
sent once.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from domain.service import Complaints
from tests.test_end_to_end import WorkerProcess
from tests.test_faults_support import (
    DevServer,
    act_until_answered,
    event_counts,
    file_until_registered,
    new_intake,
    repeated_commands,
    saves_repeated,
    sqlite_store,
    stored_events,
    worker_env,
)
from workflows.complaint import ComplaintWorkflow
from workflows.models import Answer, CaseView, Close

pytestmark = [pytest.mark.faults, pytest.mark.temporal]

CASES = 100
KILLS = 6
IN_FLIGHT = 25  # cases driven at once
# An activity lost with its worker is retried after its 30 s start-to-close
# timeout, a workflow task on the dead worker's sticky queue after 10 s.
ALL_DONE_SECONDS = 240.0
NOTICE_SECONDS = 60.0
# What the worker logs right after a save, before the activity reports back.
SAVED_MARKS = (
    b'"event": "complaint_registered"',
    b'"event": "answer_recorded"',
    b'"event": "close_recorded"',
)


class Killer:
    """Kills and restarts the worker as the work progresses."""

    def __init__(self, worker: WorkerProcess, total_steps: int) -> None:
        self.worker = worker
        self.total_steps = total_steps
        self.steps_done = 0
        self.kills: list[str] = []
        self.random = random.Random()

    async def run(self) -> None:
        for number in range(1, KILLS + 1):
            while self.steps_done < number * self.total_steps // (KILLS + 1):
                await asyncio.sleep(0.05)
            if number % 2:
                how = "after a save" if await self._next_save() else "after a save (timed out)"
            else:
                await asyncio.sleep(self.random.uniform(0, 0.5))
                how = "at random"
            self.worker.kill()
            self.kills.append(how)
            await self.worker.start()

    async def _next_save(self, timeout: float = 10.0) -> bool:
        """Wait for a save the log reports from now on; True if one came in time."""
        path = self.worker.log_path
        offset = path.stat().st_size
        deadline = time.monotonic() + timeout
        with path.open("rb") as log:
            log.seek(offset)
            pending = b""
            while time.monotonic() < deadline:
                pending += log.read()
                if any(mark in pending for mark in SAVED_MARKS):
                    return True
                pending = pending[-200:]
                await asyncio.sleep(0.001)
        return False


async def test_cases_in_flight_end_answered_and_closed_once_through_repeated_worker_kills(
    tmp_path: Path,
) -> None:
    server = DevServer(tmp_path, persistent=False)
    client = await server.start()
    store = sqlite_store(tmp_path)
    task_queue = f"faults-kill-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(
        worker_env(server.address, task_queue, tmp_path, store), tmp_path / "worker.log"
    )
    killer = Killer(worker, total_steps=3 * CASES)
    gate = asyncio.Semaphore(IN_FLIGHT)
    finished: dict[str, CaseView] = {}
    handles: dict[str, Any] = {}

    async def one_case() -> None:
        intake = new_intake("kill")
        async with gate:
            handle, _ = await file_until_registered(client, intake, task_queue)
            killer.steps_done += 1
            await act_until_answered(
                handle, Answer(text="안내드립니다", by="lee.service"), f"answer-{intake.intake_ref}"
            )
            killer.steps_done += 1
            closed = await act_until_answered(
                handle, Close(by="lee.service"), f"close-{intake.intake_ref}"
            )
            killer.steps_done += 1
            finished[closed.case_id] = closed
            handles[closed.case_id] = handle

    started = time.monotonic()
    try:
        await worker.start()
        killing = asyncio.create_task(killer.run())
        async with asyncio.timeout(ALL_DONE_SECONDS):
            await asyncio.gather(*(one_case() for _ in range(CASES)))
            await killing
        took = time.monotonic() - started
        complaints = Complaints(env=store)
        try:
            await wait_for_notices(complaints, list(finished))
            histories = {case_id: stored_events(complaints, case_id) for case_id in finished}
        finally:
            complaints.close()
        # The workflows' own view agrees with the store.
        statuses = Counter(
            [(await h.query(ComplaintWorkflow.status)).status for h in handles.values()]
        )
        await worker.stop()
    finally:
        worker.kill()
        server.stop()

    assert len(finished) == CASES
    assert all(view.status == "closed" for view in finished.values())
    assert statuses == Counter({"closed": CASES})
    assert killer.kills and len(killer.kills) == KILLS
    for case_id, events in histories.items():
        counts = event_counts(events)
        once = ("Received", "Assigned", "CommitmentStarted", "Answered", "CommitmentMet", "Closed")
        assert all(counts[name] == 1 for name in once), (case_id, counts)
        assert repeated_commands(events) == [], case_id
        notices = Counter(e.kind for e in events if type(e).__name__ == "NoticeSent")
        assert notices == Counter({"receipt": 1, "answer": 1}), (case_id, notices)
    print(
        f"\n{CASES} cases filed, answered and closed in {took:.1f} s through {KILLS} "
        f"SIGKILLs ({', '.join(killer.kills)}); saves whose report a kill lost, "
        f"then recorded once: {saves_repeated(worker.log())}"
    )


async def wait_for_notices(complaints: Complaints, case_ids: list[str]) -> None:
    """Notices go out in the background after each action: wait until all are recorded."""
    deadline = time.monotonic() + NOTICE_SECONDS
    pending = set(case_ids)
    while pending and time.monotonic() < deadline:
        for case_id in list(pending):
            sent = {
                e.kind
                for e in stored_events(complaints, case_id)
                if type(e).__name__ == "NoticeSent"
            }
            if {"receipt", "answer"} <= sent:
                pending.discard(case_id)
        await asyncio.sleep(0.5)
