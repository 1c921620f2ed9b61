"""More than one process on one PostgreSQL schema.

- **A first start at the same moment.** Two processes open the store on an empty
  schema together, 20 rounds in a row, each on a fresh schema of its own. The
  process is the smallest that runs the real path: `application.store.open_complaints`,
  which the worker, the web server and `minwon admin` open the store with (tables,
  types and functions of the event store, the key store's tables). Both wait at a
  barrier after their imports, so their DDL meets. Pass: both exit 0, every round,
  and the tables are there.
- **Three workers on one task queue.** `python worker.py` three times, on one dev
  server and one schema, all started at once on the empty schema. 600 inquiries are
  filed, answered and closed through the real client while the first worker is
  SIGKILLed twice and restarted (the `Killer` of the single-worker test: once right
  after a save, once at random). Temporal hands each activity to whichever worker
  polls first, so a case's commands and notices are recorded by different
  processes, each with its own in-memory case cache. The store's steps run as local
  activities, in the workflow task, on the worker that holds the workflow; here no worker
  keeps a workflow in memory (`MINWON_WORKFLOW_CACHE=0`), so each task goes to
  whichever worker polls first too.

  Pass: every case ends closed; per case one Received, Answered, CommitmentMet,
  Closed, no command id twice, the receipt and answer notices once; every hash
  chain intact; no workflow replaced by a reconciler (each restart runs one). The
  caches: a cached case catches up with the store on each load (eventsourcing's
  fast-forward reads the events stored after the cached version). Proof from the
  outside: cases whose close was recorded by a process that had loaded the case
  (for its receipt notice) before another process recorded the answer. A close
  needs the answer, so a process whose cached case missed it would have been
  refused; each such close was accepted, and stored after that answer. The
  cache holds 500 aggregates and at most `IN_FLIGHT` cases are in flight, so the
  case is still cached when its close comes. Each worker's connections (found by
  `PGAPPNAME`) stay within its pool, `POSTGRES_POOL_SIZE` + `POSTGRES_MAX_OVERFLOW`,
  and the notice outbox's two.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psycopg
import pytest

from application.service import Complaints
from application.store import POOL_DEFAULTS
from tests.support.faults import (
    DevServer,
    Killer,
    assert_answered_and_closed_once,
    close_cases_while_killing,
    log_records,
    stored_events,
    wait_for_notices,
    worker_env,
)
from tests.support.processes import REPO, WorkerProcess
from tests.support.stores import POSTGRES_ENV, postgres_conninfo

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

ROUNDS = 20
START_SECONDS = 60.0
# Imports first, then a line on stdin lets both processes open the store together.
OPEN_THE_STORE = """
import sys
from application.store import open_complaints
print("ready", flush=True)
sys.stdin.readline()
open_complaints().close()
print("opened", flush=True)
"""
TABLES = {"minwon_events", "minwon_person_keys", "minwon_case_persons", "minwon_secrets"}

CASES = int(os.environ.get("WORKERS_CASES", "600"))
WORKERS = 3
KILLS = 2
IN_FLIGHT = 30
# No workflow kept in a worker's memory: each workflow task, with the store's steps that
# run in it, goes to whichever worker polls first (a cached workflow's tasks would stay
# with its worker).
WORKFLOW_CACHE = 0
# An activity lost with its worker is retried after its 30 s start-to-close timeout.
ALL_DONE_SECONDS = 400.0
# The store's pool, and the notice outbox's two (its log reader and its view).
POOL_MAX = (
    int(POOL_DEFAULTS["POSTGRES_POOL_SIZE"]) + int(POOL_DEFAULTS["POSTGRES_MAX_OVERFLOW"]) + 2
)
COUNT_CONNECTIONS = """
    SELECT application_name, count(*) FROM pg_stat_activity
    WHERE application_name LIKE %s GROUP BY application_name
"""


def tables_in(schema: str) -> set[str]:
    with psycopg.connect(postgres_conninfo(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    return {row[0] for row in rows}


def start_together(env: dict[str, str], count: int) -> list[tuple[int, str]]:
    """`count` processes open the store at the same moment: exit code and output of each."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_THE_STORE],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdin is not None
            ready = process.stdout.readline()
            assert ready == "ready\n", ready + process.stdout.read()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("\n")
            process.stdin.flush()
        return [
            (process.wait(timeout=START_SECONDS), process.communicate()[0]) for process in processes
        ]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()


@pytest.mark.parametrize("round_", range(1, ROUNDS + 1))
def test_two_processes_opening_an_empty_schema_at_the_same_moment_both_start(
    round_: int, postgres_schema: str
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        **POSTGRES_ENV,
        "POSTGRES_SCHEMA": postgres_schema,
    }
    results = start_together(env, 2)
    assert [code for code, _ in results] == [0, 0], (round_, results)
    assert tables_in(postgres_schema) >= TABLES, round_


# -- three workers -------------------------------------------------------------------------


class ConnectionCount:
    """The most connections each worker held at once, sampled from pg_stat_activity."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.most: Counter[str] = Counter()
        self.stopped = False

    async def run(self) -> None:
        with psycopg.connect(postgres_conninfo(), autocommit=True) as conn:
            while not self.stopped:
                for name, count in conn.execute(COUNT_CONNECTIONS, (f"{self.prefix}%",)):
                    self.most[name] = max(self.most[name], count)
                await asyncio.sleep(0.2)


def processes_by_step(workers: list[WorkerProcess]) -> dict[str, dict[str, set[str]]]:
    """Per case and logged step (`close_recorded`, `notice_sent:receipt` …), the
    processes that logged it. A process is a worker and the number of its start
    (`1.2`): a restarted worker begins with an empty cache."""
    steps: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for number, worker in enumerate(workers, start=1):
        started = 0
        for record in log_records(worker.log()):
            event = record.get("event")
            if event == "worker_started":
                started += 1
            elif "case_id" in record:
                if event == "notice_sent":
                    event = f"{event}:{record.get('kind')}"
                steps[record["case_id"]][str(event)].add(f"{number}.{started}")
    return steps


def closed_after_another_process_answered(steps: dict[str, set[str]], events: list[Any]) -> bool:
    """The close came from a process that loaded the case before another one answered
    it: that process recorded the receipt notice, stored before the answer."""
    closers = steps["close_recorded"]
    if len(closers) != 1:
        return False  # recorded again after a kill: not one process's cache
    [closer] = closers
    if closer in steps["answer_recorded"] or closer not in steps["notice_sent:receipt"]:
        return False
    version = {(type(e).__name__, getattr(e, "kind", None)): e.originator_version for e in events}
    return version[("NoticeSent", "receipt")] < version[("Answered", None)]


@pytest.mark.temporal
async def test_three_workers_on_one_queue_close_every_case_once_while_one_is_killed_twice(
    tmp_path: Path, postgres_schema: str
) -> None:
    store = {**POSTGRES_ENV, "POSTGRES_SCHEMA": postgres_schema}
    server = DevServer(tmp_path, persistent=False)
    client = await server.start()
    task_queue = f"faults-workers-{uuid.uuid4().hex[:8]}"
    prefix = f"minwon-workers-{uuid.uuid4().hex[:8]}"
    workers = []
    for number in range(1, WORKERS + 1):
        folder = tmp_path / f"worker-{number}"
        folder.mkdir()
        env = worker_env(
            server.address,
            task_queue,
            folder,
            store,
            PGAPPNAME=f"{prefix}-{number}",
            MINWON_WORKFLOW_CACHE=str(WORKFLOW_CACHE),
        )
        workers.append(WorkerProcess(env, folder / "worker.log"))
    killer = Killer(workers[0], total_steps=3 * CASES, kills=KILLS)
    connections = ConnectionCount(prefix)
    counting = asyncio.create_task(connections.run())
    try:
        # All at once, on the empty schema: their first start meets too.
        await asyncio.gather(*(worker.start() for worker in workers))
        started = time.monotonic()
        async with asyncio.timeout(ALL_DONE_SECONDS):
            done = await close_cases_while_killing(
                client, task_queue, "workers", CASES, IN_FLIGHT, killer
            )
        took = time.monotonic() - started
        finished = {case_id: view for case_id, (_, view) in done.items()}
        complaints = Complaints(env=store)
        try:
            await wait_for_notices(complaints, list(finished))
            histories = {case_id: stored_events(complaints, case_id) for case_id in finished}
            broken = [c for c in finished if complaints.verify(uuid.UUID(c)) is not None]
        finally:
            complaints.close()
        for worker in workers:
            await worker.stop()
    finally:
        connections.stopped = True
        await counting
        for worker in workers:
            worker.kill()
        server.stop()

    assert len(finished) == CASES
    assert all(view.status == "closed" for view in finished.values())
    assert len(killer.kills) == KILLS
    for case_id, events in histories.items():
        assert_answered_and_closed_once(case_id, events)
    assert broken == []
    logs = [worker.log() for worker in workers]
    assert not any("case_workflow_replaced" in log for log in logs)
    steps = processes_by_step(workers)
    caught_up = [
        case_id
        for case_id, events in histories.items()
        if closed_after_another_process_answered(steps[case_id], events)
    ]
    assert caught_up, "no close came from a process that had the case from before the answer"
    held = {name.removeprefix(f"{prefix}-"): count for name, count in connections.most.items()}
    assert all(count <= POOL_MAX for count in held.values()), held
    per_worker = Counter(
        process.split(".")[0]
        for case in steps.values()
        for processes in case.values()
        for process in processes
    )
    print(
        f"\n{WORKERS} workers, {CASES} cases filed, answered and closed in {took:.1f} s "
        f"through {KILLS} SIGKILLs of worker 1 ({', '.join(killer.kills)}); case steps logged per "
        f"worker {dict(sorted(per_worker.items()))}; {len(caught_up)} closes from a process "
        f"whose cached case was older than another process's answer; most connections "
        f"held per worker {dict(sorted(held.items()))} (pool at most {POOL_MAX})"
    )
