"""SurveyYearWorkflow: one year's satisfaction survey (서비스 개선 다.), from its day to
its close. Workflow id `survey-<year>`; input the year; output the year's plan as
it ended.

Started for the current year when a worker starts and every 1 January by the
schedule `minwon-survey-year`, and by `minwon survey start` (signal `start_now`,
which also starts the workflow if none runs). It waits for the policy's start day
(09:00 Seoul; with `auto_start = false`, for `start_now` only), starts the round
(each resident whose case closed that year and who did not refuse contact is
invited once), sends the invitations in batches, tries those left unsent (the mail
server's own setup refused them) again each day, waits for the close, and closes
it. If no round has started by the policy's `due` day, ops and the director are
warned, once. Every step is decided from the store, so a run started again picks
up where the store says the year is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
)
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from workflows.schedules import ensure_schedule

with workflow.unsafe.imports_passed_through():
    # By module name, as in workflows/complaint.py: passed through the sandbox.
    import workflows.legacy as legacy
    from activities.surveys import PASS_REFUSED, SurveyActivities
    from domain.calendar import SEOUL
    from workflows.models import SurveyBatch, SurveyPlan
    from workflows.waiting import until

ACTIVITY_TIMEOUT = timedelta(minutes=5)
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
BATCH = 50
RETRY_UNSENT_EVERY = timedelta(days=1)
SCHEDULE_ID = "minwon-survey-year"
# 00:05 on 1 January, Seoul: the new year's survey workflow starts waiting for its day.
NEW_YEAR = "5 0 1 1 *"


def survey_workflow_id(year: int) -> str:
    return f"survey-{year}"


@workflow.defn
class SurveyYearWorkflow:
    def __init__(self) -> None:
        self._start_now = False
        self._plan: SurveyPlan | None = None

    @workflow.signal
    def start_now(self) -> None:
        self._start_now = True

    @workflow.query
    def plan(self) -> SurveyPlan | None:
        return self._plan

    @workflow.run
    async def run(self, year: int) -> SurveyPlan:
        plan = await self._activity(SurveyActivities.survey_plan, year)
        # With nobody to ask yet (no case closed this year), it tries again each day;
        # the year over, it ends (the report says none was held).
        year_end = datetime(year + 1, 1, 1, tzinfo=SEOUL)
        retry_at: datetime | None = None
        while not plan.started:
            start_at = retry_at or (plan.start_at if plan.auto_start else None)
            alarms = [year_end, *([start_at] if start_at else [])]
            if not plan.warned:
                alarms.append(plan.due_at)
            await self._wait(min(alarms))
            now = workflow.now()
            if self._start_now or (start_at is not None and start_at <= now):
                self._start_now = False
                plan = await self._activity(SurveyActivities.start_survey, year)
                retry_at = None if plan.started else _next_morning(now, plan.start_at)
            elif now >= plan.due_at and not plan.warned:
                await self._activity(SurveyActivities.warn_no_survey, year)
                plan = await self._activity(SurveyActivities.survey_plan, year)
            if not plan.started and now >= year_end:
                return plan
        await self._send_invitations(plan)
        closes_at = None if plan.closed else plan.closes_at
        if closes_at is not None and workflow.patched(legacy.SURVEY_UNSENT_RETRIED):
            # Invitations the mail server's own setup refused (a failed login) are tried
            # again a day after each pass, while one more pass falls before the close:
            # ops may mend the server on any day of the round.
            next_try = workflow.now() + RETRY_UNSENT_EVERY
            while next_try < closes_at and await self._count(
                SurveyActivities.unsent_survey_invitations, year
            ):
                await self._wait(next_try, signals=False)
                await self._send_invitations(plan)
                next_try += RETRY_UNSENT_EVERY
        if not plan.closed and plan.closes_at is not None:
            await self._wait(plan.closes_at, signals=False)
            plan = await self._activity(SurveyActivities.close_survey, year)
        self._plan = plan
        return plan

    async def _send_invitations(self, plan: SurveyPlan) -> None:
        """One pass over the invitations, batch by batch. The first batch the mail
        server's own setup refused (a failed login) ends the pass: each later batch would
        be one more failed login on the center's account. The invitations left unsent
        wait for the next pass. (A run recorded before batches failed so saw each such
        batch complete, and replays as recorded.)"""
        for offset in range(0, plan.invitations, BATCH):
            try:
                await self._count(
                    SurveyActivities.send_survey_invitations,
                    SurveyBatch(year=plan.year, offset=offset, limit=BATCH),
                )
            except ActivityError as error:
                cause = error.cause
                if not (isinstance(cause, ApplicationError) and cause.type == PASS_REFUSED):
                    raise
                workflow.logger.warning(
                    "survey_pass_refused", extra={"year": plan.year, "offset": offset}
                )
                return

    async def _count(self, activity: Any, argument: object) -> int:
        """An activity that answers with a number (invitations sent, or unsent)."""
        return cast(int, await self._execute(activity, argument))

    async def _activity(self, activity: Any, argument: object) -> SurveyPlan:
        """An activity that answers with the year's plan, kept for the `plan` query."""
        result = await self._execute(activity, argument)
        if isinstance(result, SurveyPlan):
            self._plan = result
        return self._plan  # type: ignore[return-value]

    async def _execute(self, activity: Any, argument: object) -> object:
        result: object = await workflow.execute_activity_method(
            activity,
            argument,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )
        return result

    async def _wait(self, moment: datetime | None, signals: bool = True) -> bool:
        """Until the moment (True) or, when `signals`, a `start_now` (False)."""
        return await until(moment, (lambda: self._start_now) if signals else (lambda: False))


def _next_morning(now: datetime, start_at: datetime) -> datetime:
    """09:00 (the start's time of day) the next day."""
    local = now.astimezone(SEOUL)
    return datetime.combine(local.date() + timedelta(days=1), start_at.astimezone(SEOUL).timetz())


@workflow.defn
class SurveyNewYearWorkflow:
    """Run by the schedule on 1 January: starts the new year's SurveyYearWorkflow
    (left running when this one ends); the year it started, or None if it runs."""

    @workflow.run
    async def run(self) -> int | None:
        year = workflow.now().astimezone(SEOUL).year
        try:
            await workflow.start_child_workflow(
                SurveyYearWorkflow.run,
                year,
                id=survey_workflow_id(year),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            return None
        return year


async def ensure_survey_year(client: Client, task_queue: str, year: int, now: bool = False) -> bool:
    """Start the year's survey workflow unless it runs; with `now`, have it start the
    survey at once. False: the year's workflow has already finished."""
    try:
        await client.start_workflow(
            SurveyYearWorkflow.run,
            year,
            id=survey_workflow_id(year),
            task_queue=task_queue,
            start_signal="start_now" if now else None,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def ensure_survey_schedule(client: Client, task_queue: str) -> bool:
    """Create the yearly schedule unless it exists; True if it was created."""
    return await ensure_schedule(
        client,
        SCHEDULE_ID,
        Schedule(
            action=ScheduleActionStartWorkflow(
                SurveyNewYearWorkflow.run,
                id="minwon-survey-new-year",
                task_queue=task_queue,
            ),
            spec=ScheduleSpec(cron_expressions=[NEW_YEAR], time_zone_name="Asia/Seoul"),
        ),
    )
