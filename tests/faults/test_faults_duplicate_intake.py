"""The same complaint submitted ten times at once: one case, one workflow.

A resident who presses "send" again, a retrying web form, two staff entering
the same letter: `file_complaint` is called ten times concurrently with the
same intake reference, for three complaints at once. The workflow id is
derived from the reference (Temporal keeps one running workflow per id), and
the case id too (the event store refuses a second aggregate with that id).

Pass, per complaint: every call returns the same case and receipt code; one
workflow run; one Received event and one ReceiptIndex in the store; one
receipt notice.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from temporalio.client import Client

from application.service import Complaints
from tests.support.faults import all_stored_topics, event_counts, new_intake, stored_events
from tests.support.processes import start_dev_server
from tests.support.temporal import running_stack
from workflows.client import file_complaint

pytestmark = [pytest.mark.faults, pytest.mark.temporal]

COMPLAINTS = 3
SUBMISSIONS = 10
DEADLINE_SECONDS = 60.0


async def test_ten_concurrent_submissions_of_one_complaint_make_one_case_and_one_workflow(
    tmp_path: Path,
) -> None:
    server = await start_dev_server()
    try:
        async with running_stack(server.client, tmp_path) as stack:
            intakes = [new_intake("dup") for _ in range(COMPLAINTS)]
            async with asyncio.timeout(DEADLINE_SECONDS):
                results = await asyncio.gather(
                    *(
                        file_complaint(stack.client, intake, stack.task_queue)
                        for intake in intakes
                        for _ in range(SUBMISSIONS)
                    )
                )
                runs = {
                    intake.intake_ref: await runs_of(stack.client, f"complaint-{intake.intake_ref}")
                    for intake in intakes
                }
                case_ids = {view.case_id for _, view in results}
                receipts = await receipt_notices(stack.complaints, case_ids)
            topics = all_stored_topics(stack.complaints)
            histories = {
                view.case_id: stored_events(stack.complaints, view.case_id) for _, view in results
            }
    finally:
        await server.shutdown()

    for number, intake in enumerate(intakes):
        mine = results[number * SUBMISSIONS : (number + 1) * SUBMISSIONS]
        assert len({view.case_id for _, view in mine}) == 1
        assert len({view.receipt_code for _, view in mine}) == 1
        assert len({handle.result_run_id for handle, _ in mine}) == 1
        assert len({handle.first_execution_run_id for handle, _ in mine}) == 1
        assert runs[intake.intake_ref] == [mine[0][0].result_run_id]
    assert len(histories) == COMPLAINTS
    for case_id, events in histories.items():
        assert event_counts(events)["Received"] == 1, case_id
    assert topics["Complaint.Received"] == COMPLAINTS, topics
    assert topics["ReceiptIndex.Issued"] == COMPLAINTS, topics
    assert receipts == {case_id: 1 for case_id in histories}


def receipts_sent(complaints: Complaints, case_id: str) -> int:
    events = stored_events(complaints, case_id)
    return sum(1 for e in events if type(e).__name__ == "NoticeSent" and e.kind == "receipt")


async def receipt_notices(complaints: Complaints, case_ids: set[str]) -> dict[str, int]:
    """Receipt notices recorded per case, once the background deliveries are done."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not all(receipts_sent(complaints, c) for c in case_ids):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)  # a second notice, if there were one, would be recorded by now
    return {case_id: receipts_sent(complaints, case_id) for case_id in case_ids}


async def runs_of(client: Client, workflow_id: str) -> list[str]:
    """The runs visibility lists for a workflow id, once it lists any (it may lag)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        runs = [e.run_id async for e in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        if runs or time.monotonic() > deadline:
            return runs
        await asyncio.sleep(0.2)
