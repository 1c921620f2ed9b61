"""A running stack for the web tests, as `make run` serves it.

One background thread runs an event loop with the Temporal dev server (from the
wheel, on a free port), a worker with the real activities on its own task queue
and SQLite store, and the web application under uvicorn on a free port. Tests
talk to it over HTTP, as a browser or an API client does, from plain sync code;
`run()` hands a coroutine to the stack's loop when a test needs Temporal itself.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from activities.channels import Channels
from application.service import Complaints
from domain.tokens import issue_token
from runtime.settings import Settings
from tests.support.processes import free_port, start_dev_server
from tests.support.temporal import running_stack, start_time_skipping
from web import serve
from web.app import create_app
from web.limits import DAY, HOUR, LimitSettings, Rate

T = TypeVar("T")
MINWON = Path(sys.executable).parent / "minwon"
START_SECONDS = 60.0
# The web tests file dozens of complaints from one address and contact; the limits
# themselves are the subject of tests/e2e/test_web_limits.py, which passes its own.
RELAXED_LIMITS = LimitSettings(
    intake_per_address=Rate(100_000, HOUR), intake_per_contact=Rate(100_000, DAY)
)


@dataclass
class WebStack:
    url: str
    complaints: Complaints
    loop: asyncio.AbstractEventLoop
    client: Any  # temporalio Client, used through run()
    task_queue: str
    environment: Any = None  # the Temporal server's WorkflowEnvironment
    tokens: dict[str, str] = field(default_factory=dict)

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run a coroutine on the stack's loop (where its Temporal client lives)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def token(self, staff: str) -> str:
        """A bearer token for a staff member, issued once per stack."""
        if staff not in self.tokens:
            _, self.tokens[staff] = issue_token(self.complaints, staff, issued_by="tests", days=1)
        return self.tokens[staff]

    def http(self, staff: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(staff)}"} if staff else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0)


@contextmanager
def web_stack(
    folder: Path,
    env: dict[str, str] | None = None,
    *,
    limits: LimitSettings = RELAXED_LIMITS,
    proxies: Sequence[str] = (),
    channels: Channels | None = None,
    time_skipping: bool = False,
) -> Iterator[WebStack]:
    """Start the stack in its own thread; stop and close everything on the way out.
    `env` adds settings to the worker's and the web's store (a calendar override file,
    another store); `limits` and `proxies` are the app's (`web.app.create_app`);
    `time_skipping`: the time-skipping test server instead of the dev server
    (`stack.environment.sleep` moves its clock)."""
    ready = threading.Event()
    failure: list[BaseException] = []
    holder: dict[str, Any] = {}

    async def main() -> None:
        server = await (start_time_skipping() if time_skipping else start_dev_server())
        port = free_port()
        # The links the worker sends (survey invitations) lead to this server.
        settings = Settings.load().model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
        try:
            async with running_stack(
                server.client, folder, env=env, channels=channels, settings=settings
            ) as stack:
                app = create_app(
                    complaints=stack.complaints,
                    client=server.client,
                    task_queue=stack.task_queue,
                    notices_interval=0,
                    limits=limits,
                    proxies=proxies,
                )
                web, task = await serve.start(app, "127.0.0.1", port)
                stop = asyncio.Event()
                holder.update(
                    stack=WebStack(
                        url=f"http://127.0.0.1:{port}",
                        complaints=stack.complaints,
                        loop=asyncio.get_running_loop(),
                        client=server.client,
                        task_queue=stack.task_queue,
                        environment=server,
                    ),
                    stop=stop,
                )
                ready.set()
                try:
                    await stop.wait()
                finally:
                    await serve.stop(web, task)
        finally:
            await server.shutdown()

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:  # reported to the test thread
            failure.append(error)
            ready.set()

    thread = threading.Thread(target=thread_main, name="web-stack", daemon=True)
    thread.start()
    if not ready.wait(START_SECONDS) or failure:
        raise RuntimeError(f"the web stack did not start: {failure}")
    stack: WebStack = holder["stack"]
    try:
        yield stack
    finally:
        stack.loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(START_SECONDS)
        if failure:
            raise failure[0]


def minwon(web: WebStack, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `minwon` command, pointed at the stack's API, in a clean home."""
    home = Path(web.complaints.env["SQLITE_DBNAME"]).parent / f"home-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "MINWON_URL": web.url,
    }
    if token:
        env["MINWON_TOKEN"] = token
    return subprocess.run(
        [str(MINWON), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
