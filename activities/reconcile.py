"""The reconciler: every open case in the event store has a running workflow.

The store holds the facts; the workflow holds the clocks. When Temporal loses a
case's workflow (its database lost, the workflow terminated or failed, a run past
the namespace's retention), nothing would warn, breach or escalate that case
again. The reconciler compares the two and starts the workflow of every open case
that has none, under its usual id, from the store's state: registration finds the
case recorded, the workflow's clocks come from the case as it stands (a deadline
that passed meanwhile fires at once), no receipt is sent again (`restored`), and
what was already recorded (warnings, breaches, escalations, notices) is not
recorded twice. Each restoration is an event on the case (`WorkflowRestored`,
with what was found) and a log line; a case restored `limit` times within a day is
held and reported instead, so a workflow failing on a bug does not loop.

The other way round, a running workflow whose case the store has ended (closed or
withdrawn) while the workflow still sees it open (Temporal restored from a backup
older than the store, a case ended behind the workflow's back) would ring its
clocks and list the case in the staff queues. Its run is terminated ("case ended
in the store (closed)") and replaced by one that reads the case back from the
store and records nothing (`replaced`): a withdrawn case's run ends at once, a
closed case's does what the case's own run does after closing (the window for a
rating or a reopening) and then ends. A run whose search attributes already show
the store's status is left alone, and so is one with an activity in flight (an
action or a notice still being recorded); its view, asked by query, must disagree
with the store. A running workflow with no case in the store is reported.

It runs when a worker starts, on the schedule `minwon-reconcile`
(`workflows.reconcile`), and by hand (`minwon admin reconcile`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from application.service import Complaints
from domain.calendar import SEOUL
from domain.complaint import CaseNotFoundError, Complaint
from runtime.settings import Settings
from workflows.appointment import appointment_workflow_id
from workflows.client import WORKFLOW_PREFIX, wake_appointment, workflow_id
from workflows.models import (
    CaseView,
    Divergence,
    FileComplaintInput,
    ReconcileReport,
    ReconcileRequest,
)
from workflows.search import STATUS

log = structlog.get_logger()

PAGE = 500
RUNNING = "WorkflowType = 'ComplaintWorkflow' AND ExecutionStatus = 'Running'"
# A worker answers a query at once; one that does not is reported, not waited for.
QUERY_TIMEOUT = timedelta(seconds=10)


@dataclass(frozen=True)
class OpenCase:
    case_id: uuid.UUID
    receipt_code: str
    workflow_id: str


def _now() -> datetime:
    return datetime.now(SEOUL)


class Reconciler:
    def __init__(
        self,
        complaints: Complaints,
        client: Client,
        task_queue: str,
        *,
        limit: int | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.complaints = complaints
        self.client = client
        self.task_queue = task_queue
        self.limit = Settings().restore_limit if limit is None else limit
        self.clock = clock

    @activity.defn(name="reconcile")
    async def run(self, request: ReconcileRequest) -> ReconcileReport:
        return await self.reconcile(dry_run=request.dry_run)

    async def reconcile(self, *, dry_run: bool = False) -> ReconcileReport:
        now = self.clock()
        cases = await asyncio.to_thread(self._open_cases)
        running = await self._running()
        divergences = []
        for case in cases:
            if case.workflow_id in running:
                continue
            found = await self._found(case.workflow_id)
            if found is None:
                continue  # started since the listing: visibility lags behind
            divergences.append(await self._restore(case, found, now, dry_run))
        known = {case.workflow_id for case in cases}
        for unknown in sorted(running.keys() - known):
            divergence = await self._running_without_open_case(unknown, running[unknown], dry_run)
            if divergence is not None:
                divergences.append(divergence)
        restarted = await self._appointments(dry_run)
        return ReconcileReport(
            at=now,
            open_cases=len(cases),
            running=len(running),
            divergences=divergences,
            appointments_restarted=restarted,
        )

    async def _appointments(self, dry_run: bool) -> list[str]:
        """Start the workflow of every booked appointment that has none running (its
        reminders and its request for the outcome); the ids started."""
        booked = await asyncio.to_thread(self.complaints.appointments.still_booked)
        restarted = []
        for appointment_id in booked:
            handle = self.client.get_workflow_handle(appointment_workflow_id(appointment_id))
            try:
                described = await handle.describe()
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                described = None
            if described is not None and described.status == WorkflowExecutionStatus.RUNNING:
                continue
            if not dry_run and not await wake_appointment(
                self.client, appointment_id, self.task_queue
            ):
                continue
            log.warning("appointment_workflow_restarted", appointment_id=appointment_id)
            restarted.append(appointment_id)
        return restarted

    # -- the two sides ---------------------------------------------------------------

    def _open_cases(self) -> list[OpenCase]:
        """Every case whose clocks need a workflow: open, or closed with its
        announcement's clock running."""
        return [
            OpenCase(case.id, case.receipt_code, workflow_id(case.intake_ref))
            for case in self.complaints.open_cases(PAGE)
        ]

    async def _running(self) -> dict[str, str | None]:
        """Each running case workflow, with the status its search attributes show."""
        return {
            execution.id: execution.typed_search_attributes.get(STATUS)
            async for execution in self.client.list_workflows(RUNNING)
        }

    async def _found(self, workflow_id: str) -> str | None:
        """What became of a case's workflow: None if it runs after all."""
        try:
            described = await self.client.get_workflow_handle(workflow_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return "missing"
            raise
        if described.status == WorkflowExecutionStatus.RUNNING:
            return None
        return described.status.name.lower() if described.status else "missing"

    def _case_of_running(self, workflow_id: str) -> Complaint | None:
        """The ended case a running workflow belongs to; None if it is open or not a case's."""
        if not workflow_id.startswith(WORKFLOW_PREFIX):
            return None
        case = self.complaints.get_case(
            Complaint.create_id(workflow_id.removeprefix(WORKFLOW_PREFIX))
        )
        return case if case.is_terminal else None  # open: filed since the listing

    # -- restoring -------------------------------------------------------------------

    async def _restore(
        self, case: OpenCase, found: str, now: datetime, dry_run: bool
    ) -> Divergence:
        divergence = partial(
            Divergence, workflow_id=case.workflow_id, receipt_code=case.receipt_code, found=found
        )
        bound = log.bind(case_id=str(case.case_id), workflow_id=case.workflow_id, found=found)
        if dry_run:
            return divergence(action="would restore")
        stored = await asyncio.to_thread(self.complaints.get_case, case.case_id)
        if stored.restorations_since(now - timedelta(days=1)) >= self.limit:
            # A workflow that keeps failing is a bug to look at, not a loop to feed.
            bound.error("case_workflow_restore_held", restorations=len(stored.restorations))
            return divergence(action="held")
        # Recorded before the start, so the new run reads it back with the case and
        # anchors the case's head after it (audit verify sees nothing unrecorded). Two
        # reconcilers finding the case at the same version record one restoration.
        await asyncio.to_thread(
            self.complaints.execute,
            case.case_id,
            lambda latest: latest.record_workflow_restored(
                found=found, at=now, command_id=f"restore:{stored.version}"
            ),
        )
        await self._start_from_store(case.workflow_id, stored)
        bound.warning("case_workflow_restored")
        return divergence(action="restored")

    async def _start_from_store(self, workflow_id: str, case: Complaint) -> None:
        """A run for a recorded case: it finds the case, sends no receipt, records nothing
        twice. Another reconciler may have started it first."""
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                "ComplaintWorkflow",
                _intake_of(case),
                id=workflow_id,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )

    # -- replacing ---------------------------------------------------------------

    async def _running_without_open_case(
        self, workflow_id: str, shown: str | None, dry_run: bool
    ) -> Divergence | None:
        try:
            case = await asyncio.to_thread(self._case_of_running, workflow_id)
        except CaseNotFoundError:
            log.warning("case_workflow_diverges", workflow_id=workflow_id, found="no_case")
            return Divergence(
                workflow_id=workflow_id, receipt_code=None, found="no_case", action="reported"
            )
        if case is None or shown == case.status:
            # Its own view has the case ended: it finishes by itself (a closed case
            # stays open for announcements for a while).
            return None
        found = f"case_{case.status}"
        bound = log.bind(case_id=str(case.id), workflow_id=workflow_id, found=found)
        divergence = partial(
            Divergence, workflow_id=workflow_id, receipt_code=case.receipt_code, found=found
        )
        try:
            stale = await self._stale_run(workflow_id, case.status)
        except (RPCError, WorkflowQueryFailedError) as error:
            # A run that cannot even say what it sees is a bug to look at.
            bound.warning("case_workflow_diverges", error=str(error))
            return divergence(action="reported")
        if stale is None:
            return None
        if dry_run:
            return divergence(action="would replace")
        await self._replace(workflow_id, stale, case)
        bound.warning("case_workflow_replaced", run_id=stale, status=case.status)
        return divergence(action="replaced")

    async def _stale_run(self, workflow_id: str, status: str) -> str | None:
        """The id of the running run if its own view of the case is not `status`.

        Visibility lags behind: an action that just ended the case may not show in
        the search attributes yet. A run with work in flight is left to finish it: a
        workflow task (the action's record runs in one, as a local activity, and is
        stored before the task completes; a task lost with its worker is pending until
        another takes it) or an activity (a notice, or a step of a run started before
        the store's steps were local). A query is answered after the workflow has
        taken in what is already done, so its view is the run's own.
        """
        handle = self.client.get_workflow_handle(workflow_id)
        described = await handle.describe()
        if described.status != WorkflowExecutionStatus.RUNNING:
            return None
        raw = described.raw_description
        if raw.pending_activities or raw.HasField("pending_workflow_task"):
            return None
        view = await handle.query("status", result_type=CaseView, rpc_timeout=QUERY_TIMEOUT)
        return None if view.status == status else described.run_id

    async def _replace(self, workflow_id: str, run_id: str, case: Complaint) -> None:
        """End the stale run and start one that reads the ended case from the store."""
        try:
            await self.client.get_workflow_handle(workflow_id, run_id=run_id).terminate(
                reason=f"case ended in the store ({case.status})"
            )
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise  # NOT_FOUND: another reconciler ended that run first
        await self._start_from_store(workflow_id, case)


def _intake_of(case: Complaint) -> FileComplaintInput:
    """The case's intake as it was received; registration finds it already recorded."""
    return FileComplaintInput(
        intake_ref=case.intake_ref,
        channel=case.channel,  # type: ignore[arg-type]
        category=case.category,
        topic=case.topic,
        private=case.private,
        # Personal data stays in the store: registration finds the case recorded.
        received_at=case.received_at,
        restored=True,
    )
