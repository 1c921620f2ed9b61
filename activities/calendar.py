"""The calendar watch: open cases follow a change of the calendar.

Every process reads the override file again when it changes (`CalendarFile`).
This activity, run every minute by the schedule `minwon-calendar`
(`workflows.calendar`) and by `minwon admin calendar reload`, records what the
change did to the days off (`CalendarRecord`) and then sends every open case
whose due the new calendar puts elsewhere a `recount` update: the case records
`CommitmentRescheduled`, its workflow's timers move, and the resident hears of a
due moved later. A case whose workflow is gone is recounted in the store, and
the reconciler restores its workflow with the new due. A pass cut short is taken
up by the next: the change counts as recounted only once every case was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from application.service import Complaints
from domain.calendar import SEOUL
from domain.complaint import Complaint
from workflows.client import recount, workflow_id
from workflows.models import CalendarReport, FollowCalendar, Moved, Recount

log = structlog.get_logger()


def _now() -> datetime:
    return datetime.now(SEOUL)


class CalendarWatch:
    def __init__(
        self, complaints: Complaints, client: Client, clock: Callable[[], datetime] = _now
    ) -> None:
        self.complaints = complaints
        self.client = client
        self.clock = clock

    @activity.defn(name="follow_calendar")
    async def run(self, request: FollowCalendar) -> CalendarReport:
        return await self.follow(everything=request.everything, dry_run=request.dry_run)

    async def follow(self, *, everything: bool = False, dry_run: bool = False) -> CalendarReport:
        """Record a change of the calendar and recount the open cases it moves.

        `everything` looks at every open case even when nothing changed (by hand,
        after a file was edited while no worker ran); `dry_run` records nothing
        and lists what would move.
        """
        now = self.clock()
        error = self.complaints.calendar_error
        if error is not None:
            log.error("calendar_file_unreadable", error=error)
        change = None
        if not dry_run:
            followed = await asyncio.to_thread(self.complaints.follow_calendar, now)
            change, everything = followed.change, everything or followed.started
            if change is not None:
                log.warning(
                    "calendar_changed" if followed.new else "calendar_recount_resumed",
                    change=change.number,
                    added=sorted(change.added),
                    removed=sorted(change.removed),
                )
        if change is None and not (everything or dry_run):
            return CalendarReport(at=now, change=None, moved=[], error=error)
        added = change.added if change else {}
        removed = change.removed if change else {}
        moved = []
        reached_all = True
        for case, moves in await asyncio.to_thread(self._moving):
            for commitment, due, _ in moves:
                moved.append(
                    Moved(
                        receipt_code=case.receipt_code,
                        kind=commitment.kind,
                        previous_due=commitment.due,
                        new_due=due,
                    )
                )
            if not dry_run:
                recounted = await self._recount(case, Recount(added=added, removed=removed), now)
                reached_all = reached_all and recounted
        if change is not None and reached_all:
            await asyncio.to_thread(self.complaints.calendar_recounted, change.number, now)
        return CalendarReport(
            at=now, change=change.number if change else None, moved=moved, error=error
        )

    def _moving(self) -> list[tuple[Complaint, list]]:  # type: ignore[type-arg]
        return [
            (case, moves)
            for case in self.complaints.open_cases()
            if (moves := self.complaints.recount_moves(case))
        ]

    async def _recount(self, case: Complaint, action: Recount, now: datetime) -> bool:
        """Recount one case through its workflow; False if it must be tried again."""
        bound = log.bind(case_id=str(case.id), receipt_code=case.receipt_code)
        handle = self.client.get_workflow_handle(workflow_id(case.intake_ref))
        try:
            await recount(handle, action)
            bound.info("case_recounted")
            return True
        except WorkflowUpdateFailedError as error:
            # Left for the next pass: recorded behind a running workflow's back,
            # the due would move in the store and not in its timers.
            bound.warning("case_recount_refused", error=str(error.cause or error))
            return False
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        # No running workflow to take it: the store follows now, and the run the
        # reconciler starts again reads the new due from it.
        await asyncio.to_thread(
            self.complaints.perform,
            case.id,
            action,
            at=now,
            command_id=f"recount:{case.version}",
        )
        bound.warning("case_recounted_in_store")
        return True
