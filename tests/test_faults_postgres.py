"""The event store's PostgreSQL connections terminated again and again under load.

`python worker.py` runs on PostgreSQL (a schema of this test's own) while 60
cases are filed, answered and closed. Meanwhile, every half second or so, the
test terminates the worker's database connections with `pg_terminate_backend`.
They are found by `application_name`, which the worker process is given
through libpq's standard `PGAPPNAME` variable (eventsourcing passes no name of
its own), so no other session on the shared server is touched.

A connection may die idle in the pool, in the middle of a query, or after a
commit whose acknowledgement never arrives; the activity then fails and
Temporal runs it again, and the command id makes the second run find the first
one's save.

Pass: every command whose update returned is in the store, once.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from domain.service import Complaints
from tests.conftest import POSTGRES_ENV, postgres_conninfo
from tests.test_end_to_end import WorkerProcess
from tests.test_faults_support import (
    DevServer,
    act_until_answered,
    event_counts,
    file_until_registered,
    new_intake,
    repeated_commands,
    stored_events,
    worker_env,
)
from workflows.models import Answer, Close

pytestmark = [pytest.mark.faults, pytest.mark.temporal, pytest.mark.postgres]

CASES = 40
IN_FLIGHT = 15
ALL_DONE_SECONDS = 180.0
NOTICE_SECONDS = 60.0

TERMINATE = """
    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE application_name = %s AND pid <> pg_backend_pid()
"""


class Terminator:
    """Terminates the worker's connections, found by their application name."""

    def __init__(self, application_name: str, between: tuple[float, float]) -> None:
        self.application_name = application_name
        self.between = between
        self.rounds = 0
        self.terminated = 0
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        with psycopg.connect(postgres_conninfo(), autocommit=True) as conn:
            while not self.stopped.is_set():
                await asyncio.sleep(random.uniform(*self.between))
                row = conn.execute(TERMINATE, (self.application_name,)).fetchone()
                self.rounds += 1
                self.terminated += row[0] if row else 0


@pytest.mark.parametrize(
    ("pool", "between"),
    [
        # The shipped configuration: a connection that died idle in the pool is
        # found dead by the query that uses it; the activity fails and is retried.
        pytest.param({}, (1.0, 3.0), id="default-pool-drops-every-1-3s"),
        # eventsourcing's POSTGRES_PRE_PING checks a connection before handing it
        # out, so only one that dies in use fails a command: drops can come faster.
        pytest.param({"POSTGRES_PRE_PING": "y"}, (0.2, 0.8), id="pre-ping-drops-every-0.2-0.8s"),
    ],
)
async def test_every_acknowledged_command_is_stored_once_while_connections_are_dropped(
    tmp_path: Path, postgres_schema: str, pool: dict[str, str], between: tuple[float, float]
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
    terminator = Terminator(application_name, between)
    gate = asyncio.Semaphore(IN_FLIGHT)
    acknowledged: Counter[str] = Counter()
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
        finally:
            terminator.stopped.set()
            await dropping
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
    assert terminator.terminated > 0, "no connection was ever terminated: the filter is wrong"
    for case_id, events in histories.items():
        counts = event_counts(events)
        for name in ("Received", "Answered", "CommitmentMet", "Closed"):
            assert counts[name] == 1, (case_id, counts)
        assert repeated_commands(events) == [], case_id
    failed_attempts = worker.log().count("Completing activity as failed")
    print(
        f"\n{pool or 'default pool'}: {CASES} cases filed, answered and closed in {took:.1f} s "
        f"on PostgreSQL while "
        f"{terminator.terminated} worker connections were terminated in {terminator.rounds} "
        f"rounds; {failed_attempts} activity attempts failed and were retried; "
        f"every acknowledged command stored once"
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
