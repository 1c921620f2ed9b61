"""Every charter path through ComplaintWorkflow, on the time-skipping test server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.temporal_harness import Stack, running_stack, start_time_skipping
from workflows.client import start_complaint
from workflows.complaint import ComplaintWorkflow
from workflows.models import Answer, Close, FileComplaintInput

pytestmark = pytest.mark.temporal


@pytest_asyncio.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest_asyncio.fixture
async def stack(ts_env: WorkflowEnvironment, tmp_path) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    async with running_stack(ts_env.client, tmp_path / "events.db") as running:
        yield running


def intake(category: str = "inquiry", **fields: object) -> FileComplaintInput:
    return FileComplaintInput(
        intake_ref=f"test-{uuid.uuid4().hex[:12]}",
        channel=fields.pop("channel", "homepage"),  # type: ignore[arg-type]
        category=category,
        topic=fields.pop("topic", "program"),  # type: ignore[arg-type]
        contact="010-1234-5678",
        text="프로그램 신청 방법을 알려주세요",
        **fields,  # type: ignore[arg-type]
    )


def event_names(stack: Stack, case_id: str) -> list[str]:
    return [type(e).__name__ for e in stack.complaints.history(uuid.UUID(case_id))]


async def test_a_reply_in_time_keeps_the_commitment_and_the_case_closes(
    ts_env: WorkflowEnvironment, stack: Stack
) -> None:
    handle = await start_complaint(stack.client, intake(), stack.task_queue)
    await ts_env.sleep(timedelta(days=2))
    view = await handle.query(ComplaintWorkflow.status)
    assert view.status == "assigned"
    assert view.assignee == "lee.service"
    answered = await handle.execute_update(
        ComplaintWorkflow.act, Answer(text="안내드립니다", by="lee.service")
    )
    assert answered.commitment("reply").status == "met"
    await handle.execute_update(ComplaintWorkflow.act, Close(by="lee.service"))
    final = await handle.result()
    assert final.status == "closed"
    names = event_names(stack, final.case_id)
    assert names[:3] == ["Received", "CommitmentStarted", "Assigned"]
    assert "CommitmentMet" in names and "CommitmentBreached" not in names
    assert names[-1] == "Closed"
