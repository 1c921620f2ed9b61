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

Running workflows with no case in the store, or whose case the store has ended,
are reported. It runs when a worker starts, on the schedule `minwon-reconcile`
(`workflows.reconcile`), and by hand (`minwon admin reconcile`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.calendar import SEOUL
from domain.complaint import Complaint
from domain.service import CaseNotFoundError, Complaints
from workflows.client import WORKFLOW_PREFIX, workflow_id
from workflows.models import Divergence, FileComplaintInput, ReconcileReport, ReconcileRequest

log = structlog.get_logger()

LIMIT_ENV = "MINWON_RESTORE_LIMIT"
DEFAULT_LIMIT = 3
RECEIVED_TOPIC = f"{Complaint.__module__}:{Complaint.__qualname__}.Received"
PAGE = 500
RUNNING = "WorkflowType = 'ComplaintWorkflow' AND ExecutionStatus = 'Running'"


@dataclass(frozen=True)
class OpenCase:
    case_id: uuid.UUID
    receipt_code: str
    workflow_id: str


def restore_limit(env: dict[str, str] | None = None) -> int:
    return int((env or os.environ).get(LIMIT_ENV, DEFAULT_LIMIT))


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
        self.limit = restore_limit() if limit is None else limit
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
        for unknown in sorted(running - known):
            found = await asyncio.to_thread(self._case_of_running, unknown)
            if found is not None:
                log.warning("case_workflow_diverges", workflow_id=unknown, found=found)
                divergences.append(Divergence(
                    workflow_id=unknown, receipt_code=None, found=found, action="reported"
                ))  # fmt: skip
        return ReconcileReport(
            at=now, open_cases=len(cases), running=len(running), divergences=divergences
        )

    # -- the two sides ---------------------------------------------------------------

    def _open_cases(self) -> list[OpenCase]:
        """Every case the store has that is neither closed nor withdrawn."""
        found = []
        start: int | None = None
        while True:
            page = self.complaints.recorder.select_notifications(
                start, PAGE, topics=[RECEIVED_TOPIC], inclusive_of_start=start is None
            )
            for notification in page:
                case = self.complaints.get_case(uuid.UUID(str(notification.originator_id)))
                if not case.is_terminal:
                    found.append(OpenCase(case.id, case.receipt_code, workflow_id(case.intake_ref)))
            if len(page) < PAGE:
                return found
            start = page[-1].id

    async def _running(self) -> set[str]:
        return {execution.id async for execution in self.client.list_workflows(RUNNING)}

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

    def _case_of_running(self, workflow_id: str) -> str | None:
        """Why a running workflow does not match an open case, or None if it does."""
        if not workflow_id.startswith(WORKFLOW_PREFIX):
            return None
        try:
            case = self.complaints.get_case(
                Complaint.create_id(workflow_id.removeprefix(WORKFLOW_PREFIX))
            )
        except CaseNotFoundError:
            return "no_case"
        return "case_over" if case.is_terminal else None

    # -- restoring -------------------------------------------------------------------

    async def _restore(
        self, case: OpenCase, found: str, now: datetime, dry_run: bool
    ) -> Divergence:
        def divergence(action: str) -> Divergence:
            return Divergence(
                workflow_id=case.workflow_id,
                receipt_code=case.receipt_code,
                found=found,
                action=action,  # type: ignore[arg-type]
            )

        bound = log.bind(case_id=str(case.case_id), workflow_id=case.workflow_id, found=found)
        if dry_run:
            return divergence("would restore")
        stored = await asyncio.to_thread(self.complaints.get_case, case.case_id)
        if stored.restorations_since(now - timedelta(days=1)) >= self.limit:
            # A workflow that keeps failing is a bug to look at, not a loop to feed.
            bound.error("case_workflow_restore_held", restorations=len(stored.restorations))
            return divergence("held")
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
        # Another reconciler may have started it first.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                "ComplaintWorkflow",
                _intake_of(stored),
                id=case.workflow_id,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        bound.warning("case_workflow_restored")
        return divergence("restored")


def _intake_of(case: Complaint) -> FileComplaintInput:
    """The case's intake as it was received; registration finds it already recorded."""
    return FileComplaintInput(
        intake_ref=case.intake_ref,
        channel=case.channel,  # type: ignore[arg-type]
        category=case.category,
        topic=case.topic,
        private=case.private,
        contact=case.contact,
        text=case.text,
        received_at=case.received_at,
        restored=True,
    )
