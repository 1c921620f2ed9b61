"""The `minwon` command against the real application, in process.

`api_server()` builds the FastAPI app (`web.app.create_app`) on the store the
environment names and points the command at it through Starlette's TestClient:
the same routes, authentication and authorisation as over a socket, without a
port. Temporal is connected lazily, so reads that need none run without a server.
Who acts is whoever the token is: `server.login(monkeypatch, "han.ops")` issues
one for that staff member in the store and sets MINWON_TOKEN, as `minwon login`
would keep it.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from application.service import Complaints
from cli import remote
from domain.tokens import issue_token
from tests.support.temporal import TEST_KEY
from web.app import create_app
from workflows.codec import new_key

TEST_KEY_TEXT = base64.urlsafe_b64encode(TEST_KEY).decode().rstrip("=")


@dataclass
class ApiServer:
    http: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def complaints(self) -> Complaints:
        complaints: Complaints = self.http.app.state.desk.complaints  # type: ignore[attr-defined]
        return complaints

    def token(self, staff: str) -> str:
        """A bearer token for `staff`, issued once per server (as ops would)."""
        if staff not in self.tokens:
            _, self.tokens[staff] = issue_token(self.complaints, staff, issued_by="tests", days=1)
        return self.tokens[staff]

    def login(self, monkeypatch: pytest.MonkeyPatch, staff: str) -> None:
        monkeypatch.setenv(remote.TOKEN_ENV, self.token(staff))


@contextmanager
def api_server(
    complaints: Complaints | None = None, client: Any = None, task_queue: str | None = None
) -> Iterator[ApiServer]:
    # The app seals what it sends to Temporal: without a key of the test's own it would
    # make the embedded stack's key file under var/.
    keyed_here = "MINWON_PAYLOAD_KEY" not in os.environ
    if keyed_here:
        os.environ["MINWON_PAYLOAD_KEY"] = TEST_KEY_TEXT
    try:
        app = create_app(
            complaints=complaints, client=client, task_queue=task_queue, lazy_temporal=True
        )
        with TestClient(app, base_url="http://testserver") as http, remote.using(http):
            yield ApiServer(http)
    finally:
        if keyed_here:
            del os.environ["MINWON_PAYLOAD_KEY"]


@contextmanager
def api_without_temporal(
    monkeypatch: pytest.MonkeyPatch, folder: Path, staff: str
) -> Iterator[ApiServer]:
    """The API on a SQLite store of its own, logged in as `staff`. Temporal is where
    nothing listens (its client connects lazily): what needs no workflow works, what
    does says it is pending."""
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.sqlite")
    monkeypatch.setenv("SQLITE_DBNAME", str(folder / "events.db"))
    monkeypatch.delenv("MINWON_ROSTER", raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{closed_port}")
    monkeypatch.setenv("MINWON_PAYLOAD_KEY", new_key())
    with api_server() as running:
        running.login(monkeypatch, staff)
        yield running
