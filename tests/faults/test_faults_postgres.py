"""The event store's PostgreSQL connections terminated again and again under load.

`python worker.py` runs on PostgreSQL (a schema of this test's own) while 60
cases are filed, answered and closed. Meanwhile the test terminates the
worker's database connections with `pg_terminate_backend`, several times a
second: those busy in a query or a transaction (a read, the save, its commit),
and about every 4 s the idle ones in the pool too. The worker's connections
are found by `application_name`, given to the worker process through libpq's
standard `PGAPPNAME` variable (eventsourcing sets none of its own), so no
other session on the shared server is touched.

A connection may die in the middle of a query, or after a commit whose
acknowledgement never arrives. eventsourcing's recorder retries a failed
statement itself (10 tries, 0.2 s apart; an insert sent again after its commit
went through meets the version already stored, and the command is run again on
the fresh case, where its command id says it is done); what it cannot absorb
fails the activity, and Temporal runs it again, with the same command id.

Two pool configurations:
- `POSTGRES_PRE_PING=y` (eventsourcing's check before a pooled connection is
  handed out): a connection that died idle is replaced unseen; faults run
  until the last case is closed (or for FAULT_SECONDS on a slow machine).
- the default pool, as shipped: a connection that died idle fails the next
  command that uses it, and Temporal retries the activity after a backoff that
  grows to 30 s; if connections kept being killed faster than that, a retried
  command would always meet a dead one and never get through. Faults run until
  half the work is acknowledged, then stop, and the rest must recover.

Pass: every command whose update returned is in the store, once.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from application.service import Complaints
from tests.support.faults import (
    DevServer,
    act_until_answered,
    event_counts,
    file_until_registered,
    new_intake,
    repeated_commands,
    saves_repeated,
    stored_events,
    worker_env,
)
from tests.support.processes import WorkerProcess
from tests.support.stores import POSTGRES_ENV, postgres_conninfo
from workflows.models import Answer, Close

pytestmark = [pytest.mark.faults, pytest.mark.temporal, pytest.mark.postgres]

CASES = 60
IN_FLIGHT = 15
ALL_DONE_SECONDS = 300.0
# Faults stop after this long even if work is left (a slow, shared machine): what is
# left must then recover, as in the default pool's run. A run here takes 15-20 s.
FAULT_SECONDS = 90.0
NOTICE_SECONDS = 60.0
# Every round (0.05-0.25 s apart) takes the connections busy in a query or a
# transaction; every ALL_EVERY-th round (about every 4 s) the idle ones too, as a
# database restart or a failover would.
ALL_EVERY = 25

TERMINATE = """
    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE application_name = %s AND pid <> pg_backend_pid() AND (%s OR state <> 'idle')
"""


class Terminator:
    """Terminates the worker's connections, found by their application name."""

    def __init__(self, application_name: str, until: Callable[[], bool]) -> None:
        self.application_name = application_name
        self.until = until
        self.ran_out = False
        self.rounds = 0
        self.terminated = Counter[str]()

    async def run(self) -> None:
        with psycopg.connect(postgres_conninfo(), autocommit=True) as conn:
            stop_at = time.monotonic() + FAULT_SECONDS
            while not self.until():
                if time.monotonic() > stop_at:
                    self.ran_out = True
                    break
                await asyncio.sleep(random.uniform(0.05, 0.25))
                self.rounds += 1
                everyone = self.rounds % ALL_EVERY == 0
                row = conn.execute(TERMINATE, (self.application_name, everyone)).fetchone()
                self.terminated["all" if everyone else "busy"] += row[0] if row else 0


@pytest.mark.parametrize(
    ("pool", "faults_until"),
    [
        pytest.param({"POSTGRES_PRE_PING": "y"}, 1.0, id="pre-ping"),
        pytest.param({}, 0.5, id="default-pool"),
    ],
)
async def test_every_acknowledged_command_is_stored_once_while_connections_are_dropped(
    tmp_path: Path, postgres_schema: str, pool: dict[str, str], faults_until: float
) -> None:
    store = {**POSTGRES_ENV, "POSTGRES_SCHEMA": postgres_schema, **pool}
    application_name = f"minwon-faults-{uuid.uuid4().hex[:8]}"
    server = DevServer(tmp_path, persistent=False)
    client = await server.start()
    task_queue = f"faults-pg-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(
        worker_env(server.address, task_queue, tmp_path, store, PGAPPNAME=application_name),
        tmp_path / "worker.log",
    )
    acknowledged: Counter[str] = Counter()
    terminator = Terminator(
        application_name, until=lambda: acknowledged.total() >= faults_until * 3 * CASES
    )
    gate = asyncio.Semaphore(IN_FLIGHT)
    case_ids: list[str] = []

    async def one_case() -> None:
        intake = new_intake("pgdrop")
        async with gate:
            handle, view = await file_until_registered(client, intake, task_queue)
            case_ids.append(view.case_id)
            acknowledged["file"] += 1
            await act_until_answered(
                handle, Answer(text="안내드립니다", by="lee.service"), f"answer-{intake.intake_ref}"
            )
            acknowledged["answer"] += 1
            await act_until_answered(handle, Close(by="lee.service"), f"close-{intake.intake_ref}")
            acknowledged["close"] += 1

    try:
        await worker.start()
        dropping = asyncio.create_task(terminator.run())
        started = time.monotonic()
        try:
            async with asyncio.timeout(ALL_DONE_SECONDS):
                await asyncio.gather(*(one_case() for _ in range(CASES)))
                await dropping
        except TimeoutError:
            tail = "\n".join(worker.log().splitlines()[-80:])
            pytest.fail(
                f"not done in {ALL_DONE_SECONDS:.0f} s: acknowledged {dict(acknowledged)}, "
                f"terminated {dict(terminator.terminated)} in {terminator.rounds} rounds; "
                f"the worker's log ends:\n{tail}"
            )
        took = time.monotonic() - started
        complaints = Complaints(env=store)
        try:
            histories = await settled_histories(complaints, case_ids)
        finally:
            complaints.close()
        await worker.stop()
    finally:
        worker.kill()
        server.stop()

    assert acknowledged == Counter({"file": CASES, "answer": CASES, "close": CASES})
    assert terminator.terminated["busy"] > 0, "no busy connection was ever terminated"
    for case_id, events in histories.items():
        counts = event_counts(events)
        for name in ("Received", "Answered", "CommitmentMet", "Closed"):
            assert counts[name] == 1, (case_id, counts)
        assert repeated_commands(events) == [], case_id
    log = worker.log()
    busy, everyone = terminator.terminated["busy"], terminator.terminated["all"]
    failed = log.count("Completing activity as failed")
    print(
        f"\n{'pre-ping' if pool else 'default pool'}: {CASES} cases filed, answered and "
        f"closed in {took:.1f} s; {busy + everyone} worker connections terminated in "
        f"{terminator.rounds} rounds ({busy} busy in a query or transaction); {failed} "
        f"activity attempts failed and were retried, {saves_repeated(log)} of them after "
        f"their save; every acknowledged command stored once"
        + (f" (faults stopped after {FAULT_SECONDS:.0f} s)" if terminator.ran_out else "")
    )


async def settled_histories(complaints: Complaints, case_ids: list[str]) -> dict[str, list]:  # type: ignore[type-arg]
    """Each case's events, once its resident notices (sent in the background) are in."""
    deadline = time.monotonic() + NOTICE_SECONDS
    histories = {}
    for case_id in case_ids:
        while True:
            events = stored_events(complaints, case_id)
            sent = Counter(e.kind for e in events if type(e).__name__ == "NoticeSent")
            if sent["receipt"] and sent["answer"]:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"notices for {case_id} never recorded: {sent}")
            await asyncio.sleep(0.3)
        assert sent == Counter({"receipt": 1, "answer": 1}), (case_id, sent)
        histories[case_id] = events
    return histories
