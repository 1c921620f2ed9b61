"""`minwon audit verify` checks each case's tail against its workflow (time-skipping server).

The hash chain cannot tell that the last event of a case was changed or removed:
nothing after it carries its digest. The case workflow's last view of the case
(`CaseView.version` and `head_digest`, from the status query of a running workflow
or the result of a finished one) is the anchor kept outside the event store.
The worker runs the real activities on a SQLite store; the API app runs in this
process on the same store and the same Temporal client, and the `minwon` command,
logged in as an auditor, asks it as an auditor's shell would. Staff actions reach
the workflows through `workflows.client.act`, signed as the API signs them.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cli.main import main
from domain.commands import RecordApology
from tests.support.api import api_server
from tests.support.audit import flip_a_digit
from tests.support.samples import kst
from tests.support.stores import StoredRows
from tests.support.temporal import Stack, running_stack
from workflows.client import act, file_complaint
from workflows.complaint import ComplaintWorkflow
from workflows.models import Answer, Assign, CaseView, Close, FileComplaintInput

pytestmark = pytest.mark.temporal


@pytest_asyncio.fixture
async def stack(ts_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(ts_env.client, tmp_path) as running:
        yield running


def intake() -> FileComplaintInput:
    return FileComplaintInput(
        intake_ref=f"audit-{uuid.uuid4().hex[:12]}",
        channel="homepage",
        category="inquiry",
        topic="program",
        contact="010-1234-5678",
        text="프로그램 신청 방법을 알려주세요",
    )


async def file(stack: Stack) -> CaseView:
    _, view = await file_complaint(stack.client, intake(), stack.task_queue)
    # The receipt notice is recorded in the background; wait for it to settle.
    await stack.wait_for_notices(view.case_id, [("receipt", "resident")])
    return view


def head_version(stack: Stack, view: CaseView) -> int:
    return stack.complaints.get_case(uuid.UUID(view.case_id)).version


@pytest.fixture
def auditor(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The API on the stack's store and Temporal client, the command logged in as an
    auditor on the roster."""
    with api_server(stack.complaints, stack.client, stack.task_queue) as server:
        server.login(monkeypatch, "yoon.audit")
        yield


def store_of(tmp_path: Path) -> dict[str, str]:
    """The settings of the stack's store (running_stack keeps it in tmp_path)."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "events.db"),
    }


async def verify_all(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    capsys.readouterr()
    # On a thread: the API app answers on its own event loop, and the worker on this
    # one must keep running while the command waits.
    code = await asyncio.to_thread(main, ["audit", "verify", "--all"])
    return code, capsys.readouterr().out.splitlines()


@pytest.mark.usefixtures("auditor")
async def test_verify_catches_a_changed_removed_or_added_last_event_through_the_workflow(
    ts_env: WorkflowEnvironment,
    stack: Stack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = store_of(tmp_path)

    # A case answered, closed and kept open for the policy's 30 days: its workflow has
    # finished and its result is the anchor.
    closed = await file(stack)
    handle = stack.client.get_workflow_handle(
        f"complaint-{closed_ref(stack, closed)}", result_type=CaseView
    )
    await act(handle, Answer(text="안내드립니다", by="lee.service"))
    await stack.wait_for_notices(closed.case_id, [("answer", "resident")])
    await act(handle, Close(by="lee.service"))
    await ts_env.sleep(timedelta(days=31))
    assert (await handle.result()).status == "closed"

    # Four running cases, each last acted on by a reassignment the workflow recorded.
    running = {name: await file(stack) for name in ("intact", "changed", "removed", "added")}
    for view in running.values():
        reassigned = await act(
            stack.client.get_workflow_handle(f"complaint-{closed_ref(stack, view)}"),
            Assign(staff="kim.casemgr", role="case_manager", by="han.ops"),
        )
        assert reassigned.version == head_version(stack, view)

    code, lines = await verify_all(capsys)
    assert code == 0, lines
    assert lines == ["5 cases verified, chains intact; tails: 5 match the workflow"]

    rows = StoredRows(store)
    last = {name: head_version(stack, view) for name, view in running.items()}
    closed_last = head_version(stack, closed)
    changed, removed, added = running["changed"], running["removed"], running["added"]
    rows.set_state(
        uuid.UUID(changed.case_id),
        last["changed"],
        flip_a_digit(rows.state(uuid.UUID(changed.case_id), last["changed"])),
    )
    rows.delete(uuid.UUID(removed.case_id), last["removed"])
    rows.set_state(
        uuid.UUID(closed.case_id),
        closed_last,
        flip_a_digit(rows.state(uuid.UUID(closed.case_id), closed_last)),
    )
    # Written straight to the store, behind the workflow's back, chain and all.
    stack.complaints.perform(
        uuid.UUID(added.case_id),
        RecordApology(mode="public", by="forger", note=""),
        at=kst("2026-09-22T10:00"),
        command_id="forged",
    )
    # Only the forged append breaks the chain-only view; the rest need the anchor.
    assert all(
        stack.complaints.verify(uuid.UUID(view.case_id)) is None
        for view in (changed, removed, added, closed)
    )

    code, lines = await verify_all(capsys)

    assert code == 1
    broken = sorted(line for line in lines if "BROKEN" in line)
    assert broken == sorted(
        [
            f"{changed.receipt_code} (case {changed.case_id}): BROKEN at version "
            f"{last['changed']}: last event differs from what the running workflow saw",
            f"{removed.receipt_code} (case {removed.case_id}): BROKEN at version "
            f"{last['removed']}: 1 event(s) missing at the end of the history",
            f"{added.receipt_code} (case {added.case_id}): BROKEN at version "
            f"{last['added'] + 1}: 1 event(s) after the last one the workflow recorded",
            f"{closed.receipt_code} (case {closed.case_id}): BROKEN at version "
            f"{closed_last}: last event differs from what the workflow result saw",
        ]
    )
    assert lines[-1] == "5 cases verified: 4 broken, 1 intact; tails: 1 match the workflow"
    removed_at = lines.index(next(line for line in lines if removed.receipt_code in line))
    assert lines[removed_at + 1 : removed_at + 3] == [
        f"    expected last version {last['removed']} (seen by the running workflow)",
        f"    found    last version {last['removed'] - 1}",
    ]
    changed_at = lines.index(next(line for line in lines if changed.receipt_code in line))
    assert re.fullmatch(r"    expected [0-9a-f]{64}", lines[changed_at + 1])


def closed_ref(stack: Stack, view: CaseView) -> str:
    return stack.complaints.get_case(uuid.UUID(view.case_id)).intake_ref


async def anchored_at(handle: WorkflowHandle[Any, Any], version: int) -> CaseView:
    """The workflow's view once it has taken in the head `version` (a notice's result
    reaches it in its next workflow task, a moment after the record is stored)."""
    for _ in range(400):
        view = await handle.query(ComplaintWorkflow.status)
        if view.version >= version:
            return view
        await asyncio.sleep(0.05)
    return view


@pytest.mark.usefixtures("auditor")
async def test_a_lawful_erasure_after_the_workflows_last_view_is_reported_never_as_broken(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    view = await file(stack)
    case_id = uuid.UUID(view.case_id)
    person = stack.complaints.get_case(case_id).person_id

    stack.complaints.erase_person(
        person, reason="본인 요청", by="yoon.audit", at=kst("2026-12-01T10:00")
    )
    code, lines = await verify_all(capsys)

    assert code == 0, lines
    assert lines[0].startswith(f"{view.receipt_code}: erased by yoon.audit at 2026-12-01")
    assert lines[0].endswith(": 본인 요청")
    assert lines[-1] == (
        "1 case verified, chains intact; tails: 1 match the workflow up to a lawful erasure"
    )


@pytest.mark.usefixtures("auditor")
async def test_a_trailing_notice_record_is_anchored_and_its_removal_is_caught(
    stack: Stack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = store_of(tmp_path)

    # Answered: the answer's delivery record, written by the notice activity after the
    # workflow's last action, is the case's last event.
    view = await file(stack)
    case_id = uuid.UUID(view.case_id)
    handle = stack.client.get_workflow_handle(
        f"complaint-{closed_ref(stack, view)}", result_type=CaseView
    )
    answered = await act(handle, Answer(text="안내드립니다", by="lee.service"))
    await stack.wait_for_notices(view.case_id, [("answer", "resident")])
    head = stack.complaints.get_case(case_id)
    assert type(stack.complaints.history(case_id)[-1]).__name__ == "NoticeSent"
    assert answered.version < head.version

    anchored = await anchored_at(handle, head.version)

    assert (anchored.version, anchored.head_digest) == (head.version, head.head_digest)
    code, lines = await verify_all(capsys)
    assert (code, lines) == (0, ["1 case verified, chains intact; tails: 1 match the workflow"])

    StoredRows(store).delete(case_id, head.version)
    # Nothing after the delivery record carried its digest: only the anchor can tell.
    assert stack.complaints.verify(case_id) is None

    code, lines = await verify_all(capsys)

    assert code == 1
    assert lines[:3] == [
        f"{view.receipt_code} (case {view.case_id}): BROKEN at version {head.version}: "
        "1 event(s) missing at the end of the history",
        f"    expected last version {head.version} (seen by the running workflow)",
        f"    found    last version {head.version - 1}",
    ]
