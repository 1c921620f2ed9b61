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
import time
from collections import Counter
from pathlib import Path

import pytest

from application.service import Complaints
from tests.support.faults import (
    DevServer,
    Killer,
    assert_answered_and_closed_once,
    close_cases_while_killing,
    saves_repeated,
    sqlite_worker,
    stored_events,
    wait_for_notices,
)
from workflows.complaint import ComplaintWorkflow

pytestmark = [pytest.mark.faults, pytest.mark.temporal]

CASES = 100
KILLS = 6
IN_FLIGHT = 25  # cases driven at once
# An activity lost with its worker is retried after its 30 s start-to-close
# timeout, a workflow task on the dead worker's sticky queue after 10 s.
ALL_DONE_SECONDS = 240.0


async def test_cases_in_flight_end_answered_and_closed_once_through_repeated_worker_kills(
    tmp_path: Path,
) -> None:
    server = DevServer(tmp_path, persistent=False)
    client = await server.start()
    store, task_queue, worker = sqlite_worker(server, tmp_path, "kill")
    killer = Killer(worker, total_steps=3 * CASES, kills=KILLS)
    started = time.monotonic()
    try:
        await worker.start()
        async with asyncio.timeout(ALL_DONE_SECONDS):
            done = await close_cases_while_killing(
                client, task_queue, "kill", CASES, IN_FLIGHT, killer
            )
        took = time.monotonic() - started
        finished = {case_id: view for case_id, (_, view) in done.items()}
        handles = {case_id: handle for case_id, (handle, _) in done.items()}
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
        assert_answered_and_closed_once(case_id, events)
    print(
        f"\n{CASES} cases filed, answered and closed in {took:.1f} s through {KILLS} "
        f"SIGKILLs ({', '.join(killer.kills)}); saves whose report a kill lost, "
        f"then recorded once: {saves_repeated(worker.log())}"
    )
