"""Activities: thin adapters from the workflow to the Complaints service.

Each one loads the case, runs one command and saves it. They are plain `def`s
(the eventsourcing application is synchronous) and run on the worker's thread
pool. A domain error is final: it becomes a non-retryable `ApplicationError`
named after the error; anything else (a lost connection, a concurrency
conflict that outlasted the service's own retries) is retried by Temporal.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from application.service import Complaints, Intake
from domain.access import SYSTEM_ACTORS, AccessDeniedError
from domain.commands import Action
from domain.complaint import CaseNotFoundError, Commitment, Complaint, ComplaintError
from domain.policy import PolicyError
from privacy.files import appending
from privacy.transit import UnsealedTextError, open_action
from runtime.settings import Settings
from workflows.actor_proof import ActorProofError, ActorSeal, default_seal
from workflows.models import (
    AlarmCommands,
    CaseCommand,
    CaseView,
    CommitmentView,
    EscalationStep,
    EscalationView,
    FileComplaintInput,
    Notice,
    WorkflowPolicy,
)

log = structlog.get_logger()
T = TypeVar("T")

DEFAULT_OUTBOX = Settings().outbox


def case_view(case: Complaint, complaints: Complaints | None = None) -> CaseView:
    """What the workflow may know of a case: no names, contacts or free text.

    With the service, each open commitment carries how far an interim reply may
    move it (counted by the calendar), which the workflow's validator checks.
    """

    def extend_until(commitment: Commitment) -> datetime | None:
        if complaints is None or not commitment.is_open:
            return None
        limit = complaints.extension_limit(commitment)
        return None if limit is None else limit[0]

    return CaseView(
        case_id=str(case.id),
        receipt_code=case.receipt_code,
        category=case.category,
        channel=case.channel,
        topic=case.topic,
        private=case.private,
        status=case.status,
        assignee=case.assignee,
        assignee_role=case.assignee_role,
        received_at=case.received_at,
        commitments=[
            CommitmentView(
                kind=c.kind,
                started_at=c.started_at,
                due=c.due,
                original_due=c.original_due,
                warn_at=c.warn_at,
                status=c.status,
                warned=c.warned,
                extensions=c.extensions,
                max_extensions=c.max_extensions,
                max_consented_extensions=c.max_consented_extensions,
                met_at=c.met_at,
                extend_until=extend_until(c),
            )
            for c in case.commitments.values()
        ],
        escalations=[
            EscalationView(
                level=e.level,
                to_role=e.to_role,
                to_staff=e.to_staff,
                trigger=e.trigger,
                at=e.at,
                act_by=e.act_by,
            )
            for e in case.escalations
        ],
        investigation=case.investigation,
        investigated=case.investigated,
        fault_confirmed=case.fault_confirmed,
        apology_required=case.apology_required,
        apologies=len(case.apologies),
        announced=case.announcement is not None,
        linked_to=case.linked_to,
        closed_at=case.closed_at,
        notices_failed=sum(1 for n in case.notices if n["outcome"] == "failed"),
        version=case.version,
        head_digest=case.head_digest,
    )


@contextmanager
def _domain_errors_are_final() -> Iterator[None]:
    try:
        yield
    except (ComplaintError, PolicyError, ValueError) as error:
        raise ApplicationError(str(error), type=type(error).__name__, non_retryable=True) from None
    except OverflowError as error:
        # A date so far out that the calendar's arithmetic overflows (year 9999): as
        # final as any invalid value, where a retry would fail the same way forever.
        raise ApplicationError(
            f"date out of range: {error}", type="InvalidValueError", non_retryable=True
        ) from None


class ComplaintActivities:
    """The activities of one worker, sharing one Complaints application."""

    def __init__(
        self,
        complaints: Complaints,
        outbox: Path | None = None,
        history_limit: int = 5_000,
        seal: ActorSeal | None = None,
    ) -> None:
        self.complaints = complaints
        self.seal = seal or default_seal()
        self.outbox = outbox or DEFAULT_OUTBOX
        self.history_limit = history_limit
        # Activities run on a thread pool: one writer at a time appends to the outbox.
        self._outbox_lock = threading.Lock()
        self._queued: set[str] | None = None

    def _logged(self, name: str, case_id: str, work: Callable[[], T]) -> T:
        info = activity.info()
        bound = log.bind(
            case_id=case_id, workflow_id=info.workflow_id, attempt=info.attempt, activity=name
        )
        with _domain_errors_are_final():
            try:
                result = work()
            except (ComplaintError, ValueError) as error:
                bound.info("command_refused", error=type(error).__name__)
                raise
        bound.debug("command_recorded")
        return result

    @activity.defn
    def register_complaint(self, intake: FileComplaintInput) -> CaseView:
        """Record the case (idempotent by intake reference) and start its clocks."""

        def work() -> CaseView:
            if intake.received_at is None:
                raise ValueError("the workflow stamps received_at before registering")
            if intake.contact is None or intake.text is None:
                # Recorded by the API before the start: nothing personal came through Temporal.
                try:
                    case = self.complaints.get_case(Complaint.create_id(intake.intake_ref))
                except CaseNotFoundError:
                    raise ValueError(
                        f"intake {intake.intake_ref} carries no contact or text and names no "
                        "recorded case"
                    ) from None
                return case_view(case, self.complaints)
            linked_to = None
            if intake.linked_to:
                linked_to = str(self.complaints.case_id_for_receipt(intake.linked_to))
            fields = intake.model_dump(exclude={"linked_to", "restored"})
            case = self.complaints.file(Intake(**fields, linked_to=linked_to))
            return case_view(case, self.complaints)

        view = self._logged("register_complaint", intake.intake_ref, work)
        log.info("complaint_registered", case_id=view.case_id, category=view.category)
        return view

    @activity.defn
    def apply_command(self, command: CaseCommand) -> CaseView:
        """Run one staff, ops or timer action on the case; a repeat is recorded once."""
        return self._logged(
            command.action.name,
            command.case_id,
            lambda: case_view(self._perform(command), self.complaints),
        )

    @activity.defn
    def apply_alarms(self, commands: AlarmCommands) -> CaseView:
        """Record what the case's clocks did at one moment, in order, in one step.

        A breach and the escalation it sets off fall due together; recording them
        in one activity keeps a deadline peak to one activity per case. Each
        command keeps its own id, so a retry after the first was stored records
        only the rest. The first command refused fails the activity as
        `apply_command` would; a later one refused ends the step with what was
        recorded (the workflow sees it missing from the view and tries it alone).
        """
        first, *rest = commands.commands

        def work() -> CaseView:
            case = self._perform(first)
            for command in rest:
                try:
                    case = self._perform(command, loaded=case)
                except ComplaintError as error:
                    log.info(
                        "alarm_refused",
                        case_id=command.case_id,
                        command=command.action.command,
                        error=type(error).__name__,
                    )
                    break
            return case_view(case, self.complaints)

        return self._logged("alarms", first.case_id, work)

    def _perform(self, command: CaseCommand, loaded: Complaint | None = None) -> Complaint:
        """Decide who acts, open what came sealed, and record the action once."""
        action = command.action
        case_id = uuid.UUID(command.case_id)
        # The workflow's own timers act as the system: its update validator refuses
        # that actor from outside. Every other action, whatever path it came by
        # (web, API, CLI, any Temporal client), is decided again here.
        if action.actor not in SYSTEM_ACTORS:
            try:
                # The actor is the API's word for it, and the roster decides.
                self.seal.check(activity.info().workflow_id or "", command.update_id, action)
                loaded, _ = self.complaints.authorized(case_id, action, command.at)
            except (ActorProofError, AccessDeniedError) as error:
                raise ApplicationError(
                    str(error), type="AccessDeniedError", non_retryable=True
                ) from None
        recorded: Action = action
        if action.personal:
            # Sealed under the person's key on its way through Temporal: opened here.
            loaded = loaded or self.complaints.get_case(case_id)
            person = loaded.person_id or f"case-{case_id}"
            try:
                recorded = open_action(action, self.complaints.keys.key(person), case_id)
            except UnsealedTextError as error:
                raise ApplicationError(
                    str(error), type="TamperedPersonalDataError", non_retryable=True
                ) from None
        case = self.complaints.perform(
            case_id,
            recorded,
            at=command.at,
            command_id=command.command_id,
            loaded=loaded,
            notify=command.notify,
        )
        log.info(f"{action.name}_recorded", case_id=command.case_id, command=action.command)
        return case

    @activity.defn
    def workflow_policy(self) -> WorkflowPolicy:
        """The few policy values the workflow's timers need, recorded in its history."""
        policy = self.complaints.policy
        return WorkflowPolicy(
            escalation=[
                EscalationStep(role=level.role, act_within_hours=level.act_within_hours)
                for level in policy.escalation.chain
            ],
            keep_open_after_close_days=policy.keep_open_after_close_days,
            history_limit=self.history_limit,
        )

    @activity.defn
    def current_view(self, case_id: str) -> CaseView:
        return self._logged(
            "current_view",
            case_id,
            lambda: case_view(self.complaints.get_case(uuid.UUID(case_id)), self.complaints),
        )

    @activity.defn
    def queue_notice(self, notice: Notice) -> bool:
        """Append the notice to the outbox once (keyed by its command id).

        Delivery by e-mail and SMS reads this outbox; recipients are staff ids or
        roles, and the notice carries the receipt code, never resident data.
        """
        with self._outbox_lock:
            if self._queued is None:
                # Read once per worker; afterwards the set answers "already queued?".
                self._queued = set()
                if self.outbox.exists():
                    with self.outbox.open(encoding="utf-8") as lines:
                        self._queued = {json.loads(line)["command_id"] for line in lines}
            if notice.command_id in self._queued:
                return False
            with appending(self.outbox) as out:
                out.write(notice.model_dump_json() + "\n")
            self._queued.add(notice.command_id)
        log.info(
            "notice_queued", case_id=notice.case_id, kind=notice.kind, recipient=notice.recipient
        )
        return True

    def all(self) -> list[Callable[..., object]]:
        return [
            self.workflow_policy,
            self.register_complaint,
            self.apply_command,
            self.apply_alarms,
            self.current_view,
            self.queue_notice,
        ]
