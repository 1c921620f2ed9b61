"""A survey year's workflow history, recorded for replay (tests/histories/survey/).

The next year's run with the shipped policy (the round opens on 2 November at 09:00
for 14 days): two residents' cases closed in October, the survey started on its day and
both invitations sent; the history ends as the run waits for the round's close.
`.venv/bin/python -m tests.support.survey_history NAME` writes it as
tests/histories/survey/NAME.json; tests/workflow/test_survey_durability.py replays
every file there on the current workflow.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client

from application.service import Complaints
from domain.calendar import SEOUL
from tests.support.histories_scenarios import HISTORIES
from tests.support.temporal import running_stack, start_time_skipping
from workflows.client import act, file_complaint
from workflows.models import Answer, Close, FileComplaintInput
from workflows.survey import ensure_survey_year, survey_workflow_id

SURVEY_HISTORIES = HISTORIES / "survey"
# The next year: the time-skipping server's clock starts today and only moves on.
YEAR = datetime.now(SEOUL).year + 1
RESIDENTS = ("kim@example.org", "lee@example.org")


async def record_survey_year(folder: Path) -> str:
    """Run the year's survey to its wait for the close; its history as JSON."""
    env = await start_time_skipping()
    try:
        async with running_stack(env.client, folder) as stack:

            async def sleep_until(moment: datetime) -> None:
                now = await env.get_current_time()
                if moment > now:
                    await env.sleep(moment - now)

            await sleep_until(datetime(YEAR, 10, 5, 10, tzinfo=SEOUL))
            for resident in RESIDENTS:
                await close_case(stack.client, stack.task_queue, resident)
            await ensure_survey_year(stack.client, stack.task_queue, YEAR)
            await sleep_until(datetime(YEAR, 11, 2, 9, 5, tzinfo=SEOUL))
            deadline = time.monotonic() + 30
            while len(invitation_events(stack.complaints, "Sent")) < len(RESIDENTS):
                if time.monotonic() > deadline:
                    raise TimeoutError("the invitations were not sent")
                await asyncio.sleep(0.1)
            survey = stack.client.get_workflow_handle(survey_workflow_id(YEAR))
            return (await survey.fetch_history()).to_json()
    finally:
        await env.shutdown()


async def close_case(
    client: Client, task_queue: str, contact: str, category: str = "inquiry"
) -> str:
    """File a case for `contact`, answer and close it (its assignee, or the designated
    officer); its receipt code: a resident the year's survey asks."""
    intake = FileComplaintInput(
        intake_ref=f"survey-{uuid.uuid4().hex[:12]}",
        channel="email",
        category=category,
        topic="program",
        contact=contact,
        text="프로그램 이용 문의",
    )
    handle, view = await file_complaint(client, intake, task_queue)
    staff = view.assignee or "park.officer"
    await act(handle, Answer(text="안내드렸습니다.", by=staff))
    await act(handle, Close(by=staff))
    return view.receipt_code


def invitation_events(complaints: Complaints, name: str) -> list[Any]:
    """The stored records of survey invitations' `name` events (Invited, Sent, …)."""
    records = complaints.recorder.select_notifications(start=1, limit=100_000)
    return [r for r in records if r.topic.endswith(f"SurveyInvitation.{name}")]


async def main(name: str) -> None:
    SURVEY_HISTORIES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        text = await record_survey_year(Path(folder))
    (SURVEY_HISTORIES / f"{name}.json").write_text(text + "\n", encoding="utf-8")
    print(f"recorded {name}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
