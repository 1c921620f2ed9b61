"""Scenarios whose workflow histories are committed under tests/histories/.

Regenerate after an intended, patched workflow change with
`.venv/bin/python -m tests.support.histories_scenarios` and commit the JSON files; keep
the older files (renamed `before-<change>--<scenario>.json`) while runs recorded
before the change may still be open, and list each in `histories/manifest.toml`
with what it protects and when it may go. tests/workflow/test_workflow_durability.py
replays every file and checks the manifest.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.support.temporal import Stack, running_stack, start_time_skipping
from workflows.client import act as api_act
from workflows.client import file_complaint
from workflows.complaint import ComplaintWorkflow
from workflows.models import (
    Answer,
    Close,
    FileComplaintInput,
    RecordApology,
    RecordFinding,
    SendInterimReply,
)

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


def sample_intake(category: str = "inquiry") -> FileComplaintInput:
    return FileComplaintInput(
        intake_ref=f"replay-{uuid.uuid4().hex[:12]}",
        channel="email",
        category=category,
        topic="program",
        contact="010-0000-0000",
        text="녹화용 민원",
    )


async def answered_in_time(env: WorkflowEnvironment, stack: Stack) -> WorkflowHandle:  # type: ignore[type-arg]
    handle, _ = await file_complaint(stack.client, sample_intake(), stack.task_queue)
    await env.sleep(timedelta(days=1))
    await api_act(handle, Answer(text="답변", by="lee.service"))
    await api_act(handle, Close(by="lee.service"))
    await env.sleep(timedelta(days=31))
    await handle.result()
    return handle


async def breached_and_escalated(env: WorkflowEnvironment, stack: Stack) -> WorkflowHandle:  # type: ignore[type-arg]
    handle, _ = await file_complaint(stack.client, sample_intake(), stack.task_queue)
    await env.sleep(timedelta(days=16))
    await handle.query(ComplaintWorkflow.status)
    return handle


async def extended_by_interim_reply(env: WorkflowEnvironment, stack: Stack) -> WorkflowHandle:  # type: ignore[type-arg]
    handle, _ = await file_complaint(stack.client, sample_intake(), stack.task_queue)
    view = await handle.query(ComplaintWorkflow.status)
    reply = view.commitment("reply")
    assert reply is not None
    await env.sleep(timedelta(days=1))
    await api_act(
        handle,
        SendInterimReply(
            reason="확인 중", new_due=stack.working_days_after(reply.due, 2), by="lee.service"
        ),
    )
    await env.sleep(timedelta(days=20))
    await handle.query(ComplaintWorkflow.status)
    return handle


async def investigated_with_apology(env: WorkflowEnvironment, stack: Stack) -> WorkflowHandle:  # type: ignore[type-arg]
    handle, _ = await file_complaint(stack.client, sample_intake("late_reply"), stack.task_queue)
    await env.sleep(timedelta(hours=5))
    await api_act(
        handle, RecordFinding(fault_confirmed=True, finding="회신 누락", by="park.officer")
    )
    await api_act(handle, Answer(text="조사 결과 안내", by="park.officer"))
    await api_act(handle, RecordApology(mode="phone", by="park.officer"))
    await api_act(handle, Close(by="park.officer"))
    await env.sleep(timedelta(days=31))
    await handle.result()
    return handle


Scenario = Callable[[WorkflowEnvironment, Stack], Awaitable[WorkflowHandle]]  # type: ignore[type-arg]
SCENARIOS: dict[str, Scenario] = {
    "answered_in_time": answered_in_time,
    "breached_and_escalated": breached_and_escalated,
    "extended_by_interim_reply": extended_by_interim_reply,
    "investigated_with_apology": investigated_with_apology,
}


async def record(name: str, scenario: Scenario, folder: Path) -> str:
    """Run one scenario on a fresh time-skipping server; its history as JSON."""
    env = await start_time_skipping()
    try:
        async with running_stack(env.client, folder) as stack:
            handle = await scenario(env, stack)
            history = await handle.fetch_history()
            return history.to_json()
    finally:
        await env.shutdown()


async def main() -> None:
    HISTORIES.mkdir(exist_ok=True)
    for name, scenario in SCENARIOS.items():
        with tempfile.TemporaryDirectory() as folder:
            text = await record(name, scenario, Path(folder))
        (HISTORIES / f"{name}.json").write_text(text + "\n", encoding="utf-8")
        print(f"recorded {name}")


if __name__ == "__main__":
    asyncio.run(main())
