"""A flood of updates on one case: every one handled, the history kept short.

2,000 working notes (FLOOD_UPDATES to change it) are added to one case, each an
update, with bounded concurrency (the dev server takes at most 10 updates in flight
per workflow), on a worker whose `history_limit` is small. Each must return; the
store must hold exactly one `NoteAdded` event per update, with its text; and the workflow
must have continued as new along the way, every run's history staying near the
limit, instead of growing with the flood towards Temporal's hard limit (51,200
events terminates a workflow, and its deadlines with it).

Each note has its own text, so the store shows which ones were recorded, whatever
order the workflow applied them in.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from tests.support.faults import event_counts, new_intake, repeated_commands
from tests.support.processes import start_dev_server
from tests.support.temporal import running_stack
from workflows.client import act, file_complaint
from workflows.models import AddNote, CaseView

pytestmark = [pytest.mark.faults, pytest.mark.temporal]

# FLOOD_UPDATES changes the size; a long case costs no more per command than a short
# one (the service keeps recent cases in memory and decodes only new events).
UPDATES = int(os.environ.get("FLOOD_UPDATES", "2000"))
IN_FLIGHT = 8
HISTORY_LIMIT = 500
# A run stops taking actions once past the limit and drains those in flight; the
# few handled meanwhile add some dozens of events, never thousands.
RUN_CEILING = HISTORY_LIMIT + 400
FLOOD_SECONDS = 300.0


async def run_histories(client: Client, workflow_id: str, first_run_id: str) -> list[int]:
    """The length of each run's history, following the chain of continue-as-new."""
    lengths = []
    run_id: str | None = first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        last = history.events[-1]
        attributes = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return lengths


async def test_a_flood_of_updates_is_all_handled_and_the_case_continues_as_new_on_the_way(
    tmp_path: Path,
) -> None:
    server = await start_dev_server()
    try:
        async with running_stack(server.client, tmp_path, history_limit=HISTORY_LIMIT) as stack:
            handle, filed = await file_complaint(
                stack.client, new_intake("flood"), stack.task_queue
            )
            gate = asyncio.Semaphore(IN_FLIGHT)

            async def note(number: int) -> CaseView:
                async with gate:
                    return await act(
                        handle,
                        AddNote(text=f"메모 {number:04d}", by="lee.service"),
                        update_id=f"flood-{number}",
                    )

            started = time.monotonic()
            async with asyncio.timeout(FLOOD_SECONDS):
                views = await asyncio.gather(*(note(n) for n in range(UPDATES)))
            took = time.monotonic() - started
            runs = await run_histories(stack.client, handle.id, filed_run(handle))
            events = stack.complaints.history(uuid.UUID(filed.case_id))
    finally:
        await server.shutdown()

    assert len(views) == UPDATES
    assert all(view.receipt_code == filed.receipt_code for view in views)
    counts = event_counts(events)
    assert counts["NoteAdded"] == UPDATES, counts
    assert counts["Received"] == 1
    assert repeated_commands(events) == []
    texts = {e.text for e in events if type(e).__name__ == "NoteAdded"}
    assert texts == {f"메모 {n:04d}" for n in range(UPDATES)}
    print(
        f"\n{UPDATES} updates in {took:.1f} s ({UPDATES / took:.0f}/s), {len(runs)} runs, "
        f"history lengths {min(runs)}–{max(runs)} (limit {HISTORY_LIMIT})"
    )
    assert len(runs) > 1, "the workflow never continued as new"
    assert max(runs) <= RUN_CEILING, f"a run grew to {max(runs)} events: {runs}"


def filed_run(handle: Any) -> str:
    run_id: str = handle.first_execution_run_id or handle.result_run_id
    return run_id
