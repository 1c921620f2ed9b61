"""The Complaint aggregate: every fact about one case (민원), as events.

Commands check the charter's rules (domain.complaint.rules) and raise a named
`ComplaintError`; only then do they trigger an event. Each event is a class nested
here under the command that records it, with typed fields and an `apply` that
changes the case. Every command after intake carries a `command_id` and runs
`@once`: a command already recorded is accepted again silently, so a retried
activity records its events once.

Every event carries the digest of its predecessor (`prev_digest`), so the stored
history of a case forms a hash chain that `domain.chain.verify_chain` checks.

**Stored topics.** A record names its class by a topic, and the chain's v2 digest
covers it: each class here says its topic (`TOPIC`) as the records written before
this package existed name it, `domain.complaint:Complaint.<Event>`, whatever module
the code is in (docs/decisions/0008-explicit-events.md).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Concatenate, Literal, ParamSpec

from eventsourcing.domain import Aggregate

from domain.calendar import to_seoul
from domain.chain import GENESIS, class_personal_fields
from domain.chained import ChainedAggregate
from domain.complaint.errors import (
    AnnouncementNotPendingError,
    CaseClosedError,
    CommitmentAlreadyOpenError,
    CommitmentNotOpenError,
    CorrectiveActionNotApplicableError,
    DeadlineNotReachedError,
    InvalidValueError,
    InvestigationError,
    UnknownCommitmentError,
)
from domain.complaint.events import (
    ERASED,
    Apologies,
    CaseEvent,
    CaseNote,
    CaseNotes,
    CommandEvent,
    CommandIds,
    Commitment,
    Escalation,
)
from domain.complaint.rules import (
    ANNOUNCEMENT,
    CORRECTIVE_KINDS,
    KEPT_BY_ANSWER,
    KEPT_BY_FINDING,
    NOTE_MAX_LENGTH,
    POOR_RATING,
    Alarm,
    ApologyMode,
    CorrectiveKind,
    EscalationTrigger,
    Status,
    alarm_notices,
    check_action_allowed,
    check_apology,
    check_interim_reply,
    checked_text,
)

# Fixed namespace: the same intake reference always names the same case.
CASE_NAMESPACE = uuid.UUID("6d1c2f8e-5b0a-4c3e-9a57-3f1e0d9b7c21")
# The namespace of the ids of queued notices, made of the alarm's command id.
NOTICE_IDS = uuid.UUID("6e6f7469-6365-5d00-8a1e-6f7574626f78")

P = ParamSpec("P")


def once(
    command: Callable[Concatenate[Complaint, P], None],
) -> Callable[Concatenate[Complaint, P], None]:
    """The command runs once per `command_id`: one the case already recorded (its
    events are `CommandEvent`s, which keep the id) is accepted again silently."""

    @functools.wraps(command)
    def run(case: Complaint, /, *args: P.args, **kwargs: P.kwargs) -> None:
        if kwargs["command_id"] not in case.command_ids:
            command(case, *args, **kwargs)

    return run


class Complaint(ChainedAggregate, created_event_name="Received"):
    """One complaint case, from receipt to closing."""

    # The topic its records name it by; each event class below names its own the same
    # way, `domain.complaint:Complaint.<Event>` (the module before the package).
    TOPIC = "domain.complaint:Complaint"
    # Every event derives from it; those of commands with an id through `CommandEvent`.
    Event = CaseEvent

    @staticmethod
    def create_id(intake_ref: str) -> uuid.UUID:
        return uuid.uuid5(CASE_NAMESPACE, intake_ref)

    # -- intake ---------------------------------------------------------------

    @classmethod
    def receive(
        cls,
        *,
        intake_ref: str,
        receipt_code: str,
        channel: str,
        category: str,
        topic: str,
        private: bool,
        contact: str,
        text: str,
        received_at: datetime,
        apology_on_fault: bool = False,
        apology_always: bool = False,
        corrective_action: bool = False,
        investigated: bool = False,
        linked_to: str | None = None,
        person_id: str | None = None,
    ) -> Complaint:
        """A new case; the category's charter flags are copied into the event."""
        return cls._create(
            cls.Received,
            intake_ref=checked_text(intake_ref, "intake reference", max_length=200),
            receipt_code=receipt_code,
            channel=channel,
            category=category,
            topic=topic,
            private=private,
            contact=checked_text(contact, "contact", max_length=500),
            text=checked_text(text, "complaint text"),
            received_at=to_seoul(received_at),
            apology_on_fault=apology_on_fault,
            apology_always=apology_always,
            corrective_action=corrective_action,
            investigated=investigated,
            linked_to=linked_to,
            person_id=person_id,
            prev_digest=GENESIS,
        )

    class Received(CaseEvent, Aggregate.Created):
        """A case is received; the case's `__init__` takes these fields."""

        TOPIC = "domain.complaint:Complaint.Received"
        intake_ref: str
        receipt_code: str
        channel: str
        category: str
        topic: str
        private: bool
        contact: str
        text: str
        received_at: datetime
        apology_on_fault: bool
        apology_always: bool
        corrective_action: bool
        investigated: bool
        linked_to: str | None
        person_id: str | None

    # The library names an aggregate's first event `Created`: a case's is `Received`.
    Created = Received

    def __init__(
        self,
        intake_ref: str,
        receipt_code: str,
        channel: str,
        category: str,
        topic: str,
        private: bool,
        contact: str,
        text: str,
        received_at: datetime,
        apology_on_fault: bool,
        apology_always: bool,
        corrective_action: bool,
        investigated: bool,
        linked_to: str | None,
        person_id: str | None,
    ) -> None:
        """The case as `Received` makes it (the library passes the event's fields)."""
        self.last_event: object | None = None
        self.intake_ref = intake_ref
        self.receipt_code = receipt_code
        self.channel = channel
        self.category = category
        self.topic = topic
        self.private = private
        self.contact = contact
        self.text = text
        self.received_at = received_at
        self.apology_on_fault = apology_on_fault
        self.apology_always = apology_always
        self.corrective_action = corrective_action
        self.investigated = investigated
        self.linked_to = linked_to
        # A pseudonym for the complainant: whose key seals this case's personal data.
        self.person_id = person_id
        self.erased = False
        self.status: Status = "received"
        self.assignee: str | None = None
        self.assignee_role: str | None = None
        self.messages: list[dict[str, Any]] = []
        self.commitments: dict[str, Commitment] = {}
        self.escalations: list[Escalation] = []
        self.announcement_declined: str | None = None
        self.interim_replies: list[dict[str, Any]] = []
        self.reschedules: list[dict[str, Any]] = []
        self.investigation: Literal["none", "open", "concluded"] = "none"
        self.fault_confirmed: bool | None = None
        self.finding: str | None = None
        self.apologies = Apologies()
        self.corrective_actions: list[dict[str, Any]] = []
        self.answer: str | None = None
        self.answered_at: datetime | None = None
        self.announcement: str | None = None
        self.satisfaction: int | None = None
        self.notes = CaseNotes()
        self.appointments: list[dict[str, Any]] = []
        self.closed_at: datetime | None = None
        self.withdrawn_reason: str | None = None
        self.notices: list[dict[str, Any]] = []
        # When the case's workflow was found gone and started again, and what was found.
        self.restorations: list[dict[str, Any]] = []
        self.command_ids = CommandIds()

    def __deepcopy__(self, memo: dict[int, Any]) -> Complaint:
        """A private copy for one command, as the chained aggregate makes it, with its
        own command ids, notes and apologies (what a snapshot gave is shared by both:
        never changed)."""
        copy = super().__deepcopy__(memo)
        assert isinstance(copy, Complaint)
        copy.command_ids = self.command_ids.copy()
        copy.notes, copy.apologies = self.notes.copy(), self.apologies.copy()
        return copy

    # -- helpers ----------------------------------------------------------------

    def already_done(self, command_id: str) -> bool:
        return command_id in self.command_ids

    def _check(self, command: str, escalation_levels: int | None = None) -> None:
        check_action_allowed(
            command,
            escalation_level=len(self.escalations),
            escalation_levels=escalation_levels,
            receipt_code=self.receipt_code,
            status=self.status,
            private=self.private,
            investigation=self.investigation,
            investigated=self.investigated,
            apology_required=self.apology_required,
            apologies=len(self.apologies),
            open_kinds=[c.kind for c in self.open_commitments()],
            announcement_pending=self.announcement_pending,
        )

    @property
    def has_running_clock(self) -> bool:
        """Whether a workflow must run for the case: it is open, or closed with its
        announcement's clock still running (헌장 5)."""
        clock = self.commitments.get(ANNOUNCEMENT)
        return not self.is_terminal or (clock is not None and clock.is_open)

    @property
    def announcement_pending(self) -> bool:
        """An announcement clock started and not kept (open, or breached)."""
        clock = self.commitments.get("announcement")
        return clock is not None and clock.status in ("open", "breached") and clock.met_at is None

    def _commitment(self, kind: str) -> Commitment:
        try:
            return self.commitments[kind]
        except KeyError:
            raise UnknownCommitmentError(
                f"case {self.receipt_code} has no '{kind}' commitment"
            ) from None

    def _open_commitment(self, kind: str) -> Commitment:
        commitment = self._commitment(kind)
        if not commitment.is_open:
            raise CommitmentNotOpenError(f"the '{kind}' commitment is already {commitment.status}")
        return commitment

    @property
    def apology_required(self) -> bool:
        return self.apology_always or (self.apology_on_fault and bool(self.fault_confirmed))

    @property
    def is_terminal(self) -> bool:
        return self.status in ("closed", "withdrawn")

    def open_commitments(self) -> list[Commitment]:
        return [c for c in self.commitments.values() if c.is_open]

    def answered_late_or_poorly(self, at: datetime) -> bool:
        """What a complaint about a late or careless reply claims (헌장 잘못된 서비스
        시정 다.): a promise breached, kept late or overdue at `at`, or the answer
        rated 2 or lower."""
        for commitment in self.commitments.values():
            if commitment.status == "breached":
                return True
            if commitment.is_open and commitment.due < to_seoul(at):
                return True
        return self.satisfaction is not None and self.satisfaction <= POOR_RATING

    def next_due(self) -> datetime | None:
        dues = [c.due for c in self.open_commitments()]
        return min(dues) if dues else None

    # -- assignment -------------------------------------------------------------

    @once
    def assign(self, *, staff: str, role: str, by: str, at: datetime, command_id: str) -> None:
        self._check("assign")
        checked_text(staff, "staff")
        if self.assignee is None:
            self.trigger_event(
                self.Assigned, staff=staff, role=role, by=by, at=to_seoul(at), command_id=command_id
            )
        elif self.assignee != staff:
            self.trigger_event(
                self.Reassigned,
                staff=staff,
                role=role,
                previous=self.assignee,
                by=by,
                at=to_seoul(at),
                command_id=command_id,
            )

    class Assigned(CommandEvent):
        TOPIC = "domain.complaint:Complaint.Assigned"
        staff: str
        role: str
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.assignee = self.staff
            case.assignee_role = self.role
            if case.status == "received":
                case.status = "assigned"

    class Reassigned(CommandEvent):
        TOPIC = "domain.complaint:Complaint.Reassigned"
        staff: str
        role: str
        previous: str
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.assignee = self.staff
            case.assignee_role = self.role

    @once
    def take_message(
        self,
        *,
        for_staff: str,
        taken_by: str,
        callback_by: datetime,
        note: str,
        at: datetime,
        command_id: str,
    ) -> None:
        """A colleague takes the message for an absent staff member (가.④, 나.③)."""
        self._check("take_message")
        if to_seoul(callback_by) <= to_seoul(at):
            raise InvalidValueError("the promised callback time must be in the future")
        self.trigger_event(
            self.MessageTaken,
            for_staff=checked_text(for_staff, "absent staff"),
            taken_by=checked_text(taken_by, "staff taking the message"),
            callback_by=to_seoul(callback_by),
            note=note,
            at=to_seoul(at),
            command_id=command_id,
        )

    class MessageTaken(CommandEvent):
        TOPIC = "domain.complaint:Complaint.MessageTaken"
        for_staff: str
        taken_by: str
        callback_by: datetime
        note: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.messages.append(
                {
                    "for_staff": self.for_staff,
                    "taken_by": self.taken_by,
                    "callback_by": self.callback_by,
                    "at": self.at,
                }
            )

    # -- commitments ------------------------------------------------------------

    @once
    def start_commitment(
        self,
        *,
        kind: str,
        due: datetime,
        rule: str,
        days: int | None,
        warn_at: datetime,
        max_extensions: int,
        at: datetime,
        command_id: str,
        warn_hours: float | None = None,
        warn_counting: str = "clock",
        max_consented_extensions: int = 0,
    ) -> None:
        """Start a clock; `due` was computed by the calendar under `rule`, `warn_at`
        `warn_hours` before it, counted in `warn_counting` hours."""
        # The announcement's clock starts when the case closes.
        self._check("start_announcement" if kind == ANNOUNCEMENT else "start_commitment")
        existing = self.commitments.get(kind)
        if existing is not None and existing.is_open:
            raise CommitmentAlreadyOpenError(f"the '{kind}' commitment is already running")
        if to_seoul(due) <= to_seoul(at):
            raise InvalidValueError("a commitment must be due after it starts")
        self.trigger_event(
            self.CommitmentStarted,
            kind=kind,
            due=to_seoul(due),
            rule=rule,
            days=days,
            warn_at=min(to_seoul(warn_at), to_seoul(due)),
            max_extensions=max_extensions,
            at=to_seoul(at),
            command_id=command_id,
            warn_hours=warn_hours,
            warn_counting=warn_counting,
            max_consented_extensions=max_consented_extensions,
        )

    class CommitmentStarted(CommandEvent):
        TOPIC = "domain.complaint:Complaint.CommitmentStarted"
        kind: str
        due: datetime
        rule: str
        days: int | None
        warn_at: datetime
        max_extensions: int
        at: datetime
        command_id: str
        # Events recorded before warnings counted working time carry none of these.
        warn_hours: float | None = None
        warn_counting: str = "clock"
        max_consented_extensions: int = 0

        def apply(self, case: Complaint) -> None:
            case.commitments[self.kind] = Commitment(
                kind=self.kind,
                started_at=self.at,
                due=self.due,
                original_due=self.due,
                rule=self.rule,
                days=self.days,
                warn_at=self.warn_at,
                max_extensions=self.max_extensions,
                warn_hours=self.warn_hours,
                warn_counting=self.warn_counting,
                max_consented_extensions=self.max_consented_extensions,
            )

    @once
    def warn(self, *, kind: str, at: datetime, command_id: str) -> None:
        """The assignee was warned that a deadline is near."""
        self._check("warn")
        commitment = self._open_commitment(kind)
        if commitment.warned:
            return
        self.trigger_event(
            self.CommitmentWarned,
            kind=kind,
            due=commitment.due,
            at=to_seoul(at),
            command_id=command_id,
        )

    class CommitmentWarned(CommandEvent):
        TOPIC = "domain.complaint:Complaint.CommitmentWarned"
        kind: str
        due: datetime
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.commitments[self.kind] = replace(case.commitments[self.kind], warned=True)

    @once
    def breach(self, *, kind: str, at: datetime, command_id: str) -> None:
        """The deadline passed with the promise not kept."""
        self._check("breach")
        commitment = self._open_commitment(kind)
        if to_seoul(at) < commitment.due:
            raise DeadlineNotReachedError(
                f"the '{kind}' commitment is due {commitment.due.isoformat()}, not yet breached"
            )
        self.trigger_event(
            self.CommitmentBreached,
            kind=kind,
            due=commitment.due,
            at=to_seoul(at),
            command_id=command_id,
        )

    class CommitmentBreached(CommandEvent):
        TOPIC = "domain.complaint:Complaint.CommitmentBreached"
        kind: str
        due: datetime
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.commitments[self.kind] = replace(
                case.commitments[self.kind], status="breached", breached_at=self.at
            )

    @once
    def send_interim_reply(
        self,
        *,
        kind: str,
        reason: str,
        new_due: datetime,
        by: str,
        at: datetime,
        command_id: str,
        latest: datetime | None = None,
        limit_rule: str | None = None,
        warn_at: datetime | None = None,
        consent: str | None = None,
    ) -> None:
        """중간회신: tell the resident why it takes longer and when to expect the answer.

        `latest` (how far it may reach, counted by `limit_rule`) and the new
        `warn_at` come from the calendar (`Complaints.send_interim_reply`).
        """
        self._check("send_interim_reply")
        commitment = self._commitment(kind)
        at, new_due = to_seoul(at), to_seoul(new_due)
        checked_text(reason, "reason for the delay")
        check_interim_reply(commitment, at=at, new_due=new_due, latest=latest, consent=consent)
        self.trigger_event(
            self.InterimReplySent,
            kind=kind,
            reason=reason,
            new_due=new_due,
            by=by,
            at=at,
            command_id=command_id,
            consent=consent,
        )
        self.trigger_event(
            self.CommitmentExtended,
            kind=kind,
            previous_due=commitment.due,
            new_due=new_due,
            at=at,
            command_id=command_id,
            warn_at=None if warn_at is None else min(to_seoul(warn_at), new_due),
            limit_rule=limit_rule,
        )

    class InterimReplySent(CommandEvent):
        TOPIC = "domain.complaint:Complaint.InterimReplySent"
        kind: str
        reason: str
        new_due: datetime
        by: str
        at: datetime
        command_id: str
        # How the resident agreed to a further extension; none before that rule.
        consent: str | None = None

        def apply(self, case: Complaint) -> None:
            case.interim_replies.append(
                {
                    "kind": self.kind,
                    "reason": self.reason,
                    "new_due": self.new_due,
                    "by": self.by,
                    "at": self.at,
                    "consent": self.consent,
                }
            )

    class CommitmentExtended(CommandEvent):
        TOPIC = "domain.complaint:Complaint.CommitmentExtended"
        kind: str
        previous_due: datetime
        new_due: datetime
        at: datetime
        command_id: str
        # Extensions recorded before working time counted kept the warning's
        # clock-time distance to the due and carry neither.
        warn_at: datetime | None = None
        limit_rule: str | None = None

        def apply(self, case: Complaint) -> None:
            current = case.commitments[self.kind]
            warn_at = self.warn_at
            if warn_at is None:
                warn_at = self.new_due - (current.due - current.warn_at)
            case.commitments[self.kind] = replace(
                current,
                due=self.new_due,
                warn_at=warn_at,
                warned=False,
                extensions=current.extensions + 1,
            )

    @once
    def reschedule(
        self,
        *,
        kind: str,
        new_due: datetime,
        warn_at: datetime,
        added: dict[str, str],
        removed: dict[str, str],
        at: datetime,
        command_id: str,
    ) -> None:
        """The calendar changed under an open commitment: its due moves to `new_due`
        (counted again by `Complaints.recount`); `added` and `removed` are the days
        off that changed within its period (ISO date → reason)."""
        self._check("reschedule")
        commitment = self._open_commitment(kind)
        new_due = to_seoul(new_due)
        if new_due == commitment.due:
            return
        self.trigger_event(
            self.CommitmentRescheduled,
            kind=kind,
            previous_due=commitment.due,
            new_due=new_due,
            warn_at=min(to_seoul(warn_at), new_due),
            added=dict(added),
            removed=dict(removed),
            at=to_seoul(at),
            command_id=command_id,
        )

    class CommitmentRescheduled(CommandEvent):
        TOPIC = "domain.complaint:Complaint.CommitmentRescheduled"
        kind: str
        previous_due: datetime
        new_due: datetime
        warn_at: datetime
        added: dict[str, str]
        removed: dict[str, str]
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            current = case.commitments[self.kind]
            case.commitments[self.kind] = replace(current, due=self.new_due, warn_at=self.warn_at)
            case.reschedules.append(
                {
                    "kind": self.kind,
                    "previous_due": self.previous_due,
                    "new_due": self.new_due,
                    "added": self.added,
                }
            )

    def _keep(self, kinds: frozenset[str], at: datetime, command_id: str) -> None:
        for commitment in list(self.commitments.values()):
            # A breached promise kept late is recorded too: the report counts it.
            pending = commitment.status in ("open", "breached") and commitment.met_at is None
            if commitment.kind in kinds and pending:
                self.trigger_event(
                    self.CommitmentMet,
                    kind=commitment.kind,
                    # Late is judged by the clock: the breach timer may not have run yet.
                    on_time=commitment.is_open and at <= commitment.due,
                    at=at,
                    command_id=command_id,
                )

    class CommitmentMet(CommandEvent):
        TOPIC = "domain.complaint:Complaint.CommitmentMet"
        kind: str
        on_time: bool
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.commitments[self.kind] = replace(
                case.commitments[self.kind],
                status="met" if self.on_time else "breached",
                met_at=self.at,
            )

    # -- escalation ---------------------------------------------------------------

    @once
    def escalate(
        self,
        *,
        to_role: str,
        to_staff: str | None,
        reason: str,
        by: str,
        trigger: EscalationTrigger,
        at: datetime,
        command_id: str,
        levels: int | None = None,
        act_by: datetime | None = None,
        act_counting: str | None = None,
    ) -> None:
        """Escalate one level; `levels` is the length of the policy's chain, if known;
        `act_by`, when the level reached must have acted (counted in `act_counting`
        hours), or None at the chain's last level."""
        self._check("escalate", escalation_levels=levels)
        self.trigger_event(
            self.Escalated,
            level=len(self.escalations) + 1,
            to_role=to_role,
            to_staff=to_staff,
            reason=checked_text(reason, "reason for escalation", max_length=2000),
            by=by,
            trigger=trigger,
            at=to_seoul(at),
            command_id=command_id,
            act_by=None if act_by is None else to_seoul(act_by),
            act_counting=act_counting,
        )

    class Escalated(CommandEvent):
        TOPIC = "domain.complaint:Complaint.Escalated"
        level: int
        to_role: str
        to_staff: str | None
        reason: str
        by: str
        trigger: EscalationTrigger
        at: datetime
        command_id: str
        # Escalations recorded before that rule leave the next level's window to the
        # workflow, and carry neither.
        act_by: datetime | None = None
        act_counting: str | None = None

        def apply(self, case: Complaint) -> None:
            case.escalations.append(
                Escalation(
                    level=self.level,
                    to_role=self.to_role,
                    to_staff=self.to_staff,
                    reason=self.reason,
                    by=self.by,
                    trigger=self.trigger,
                    at=self.at,
                    act_by=self.act_by,
                    act_counting=self.act_counting,
                )
            )

    # -- investigation, apology, corrective action ---------------------------------

    @once
    def open_investigation(self, *, by: str, at: datetime, command_id: str) -> None:
        self._check("open_investigation")
        if self.investigation != "none":
            raise InvestigationError(f"the investigation is already {self.investigation}")
        self.trigger_event(self.InvestigationOpened, by=by, at=to_seoul(at), command_id=command_id)

    class InvestigationOpened(CommandEvent):
        TOPIC = "domain.complaint:Complaint.InvestigationOpened"
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.investigation = "open"

    @once
    def conclude_investigation(
        self, *, fault_confirmed: bool, finding: str, by: str, at: datetime, command_id: str
    ) -> None:
        self._check("conclude_investigation")
        at = to_seoul(at)
        self.trigger_event(
            self.InvestigationConcluded,
            fault_confirmed=fault_confirmed,
            finding=checked_text(finding, "finding"),
            by=by,
            at=at,
            command_id=command_id,
        )
        self._keep(KEPT_BY_FINDING, at, command_id)

    class InvestigationConcluded(CommandEvent):
        TOPIC = "domain.complaint:Complaint.InvestigationConcluded"
        fault_confirmed: bool
        finding: str
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.investigation = "concluded"
            case.fault_confirmed = self.fault_confirmed
            case.finding = self.finding

    @once
    def make_apology(
        self, *, mode: ApologyMode, by: str, note: str, at: datetime, command_id: str
    ) -> None:
        self._check("make_apology")
        check_apology(mode, private=self.private)
        self.trigger_event(
            self.ApologyMade, mode=mode, by=by, note=note, at=to_seoul(at), command_id=command_id
        )

    class ApologyMade(CommandEvent):
        TOPIC = "domain.complaint:Complaint.ApologyMade"
        mode: str
        by: str
        note: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.apologies.append(
                {"mode": self.mode, "by": self.by, "note": self.note, "at": self.at}
            )

    @once
    def record_corrective_action(
        self,
        *,
        staff: str,
        action: CorrectiveKind,
        by: str,
        note: str,
        at: datetime,
        command_id: str,
    ) -> None:
        self._check("record_corrective_action")
        if action not in CORRECTIVE_KINDS:
            raise InvalidValueError(
                f"corrective action must be one of {', '.join(CORRECTIVE_KINDS)}"
            )
        if not (self.corrective_action or self.fault_confirmed):
            raise CorrectiveActionNotApplicableError(
                "corrective action applies to unkind service, staff error or confirmed fault"
            )
        self.trigger_event(
            self.CorrectiveActionRecorded,
            staff=checked_text(staff, "staff"),
            action=action,
            by=by,
            note=note,
            at=to_seoul(at),
            command_id=command_id,
        )

    class CorrectiveActionRecorded(CommandEvent):
        TOPIC = "domain.complaint:Complaint.CorrectiveActionRecorded"
        staff: str
        action: str
        by: str
        note: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.corrective_actions.append(
                {
                    "staff": self.staff,
                    "action": self.action,
                    "by": self.by,
                    "note": self.note,
                    "at": self.at,
                }
            )

    # -- answer and closing ---------------------------------------------------------

    @once
    def call_back(self, *, note: str, by: str, at: datetime, command_id: str) -> None:
        """The promised call to the resident was made (가.④, 나.③): it keeps the callback."""
        self._check("call_back")
        promised = self.commitments.get("callback")
        if promised is None or promised.met_at is not None or promised.status == "cancelled":
            raise InvalidValueError(f"case {self.receipt_code} owes no promised callback")
        at = to_seoul(at)
        self.trigger_event(
            self.CalledBack,
            note=checked_text(note, "note", max_length=NOTE_MAX_LENGTH) if note else "",
            by=checked_text(by, "staff"),
            at=at,
            command_id=command_id,
        )
        self._keep(frozenset({"callback"}), at, command_id)

    class CalledBack(CommandEvent):
        """The call itself changes nothing of the case: the callback's `CommitmentMet`
        that follows keeps the promise."""

        TOPIC = "domain.complaint:Complaint.CalledBack"
        note: str
        by: str
        at: datetime
        command_id: str

    @once
    def answer_case(self, *, text: str, by: str, at: datetime, command_id: str) -> None:
        self._check("answer_case")
        at = to_seoul(at)
        self.trigger_event(
            self.Answered,
            text=checked_text(text, "answer"),
            by=by,
            at=at,
            command_id=command_id,
        )
        self._keep(KEPT_BY_ANSWER, at, command_id)

    class Answered(CommandEvent):
        TOPIC = "domain.complaint:Complaint.Answered"
        text: str
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.answer = self.text
            case.answered_at = self.at
            case.status = "answered"

    @once
    def announce_result(self, *, summary: str, by: str, at: datetime, command_id: str) -> None:
        """Results announced publicly (헌장 5); a private (비공개) case never is."""
        self._check("announce_result")
        self.trigger_event(
            self.ResultAnnounced,
            summary=checked_text(summary, "public summary", max_length=2000),
            by=by,
            at=to_seoul(at),
            command_id=command_id,
        )
        self._keep(frozenset({ANNOUNCEMENT}), to_seoul(at), command_id)

    class ResultAnnounced(CommandEvent):
        TOPIC = "domain.complaint:Complaint.ResultAnnounced"
        summary: str
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.announcement = self.summary

    @once
    def decline_announcement(self, *, reason: str, by: str, at: datetime, command_id: str) -> None:
        """A recorded decision not to announce the result, with its reason (the
        resident asked not to, nothing general to say …): keeps the clock."""
        self._check("decline_announcement")
        if not self.announcement_pending:
            raise AnnouncementNotPendingError(
                f"case {self.receipt_code} has no announcement waiting to be made or declined"
            )
        self.trigger_event(
            self.AnnouncementDeclined,
            reason=checked_text(reason, "reason", max_length=2000),
            by=by,
            at=to_seoul(at),
            command_id=command_id,
        )
        self._keep(frozenset({ANNOUNCEMENT}), to_seoul(at), command_id)

    class AnnouncementDeclined(CommandEvent):
        TOPIC = "domain.complaint:Complaint.AnnouncementDeclined"
        reason: str
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.announcement_declined = self.reason

    @once
    def close(self, *, by: str, at: datetime, command_id: str) -> None:
        self._check("close")
        self.trigger_event(self.Closed, by=by, at=to_seoul(at), command_id=command_id)

    class Closed(CommandEvent):
        TOPIC = "domain.complaint:Complaint.Closed"
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.status = "closed"
            case.closed_at = self.at

    @once
    def reopen(self, *, reason: str, by: str, at: datetime, command_id: str) -> None:
        self._check("reopen")
        self.trigger_event(
            self.Reopened,
            reason=checked_text(reason, "reason"),
            by=by,
            at=to_seoul(at),
            command_id=command_id,
        )

    class Reopened(CommandEvent):
        TOPIC = "domain.complaint:Complaint.Reopened"
        reason: str
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.status = "assigned" if case.assignee else "received"
            case.closed_at = None
            case.answer = None
            case.answered_at = None
            if case.investigation == "concluded":
                # A reopened case is looked into again; the earlier finding stays in
                # its history.
                case.investigation = "none"
            announcement = case.commitments.get(ANNOUNCEMENT)
            if announcement is not None and announcement.is_open:
                # Closing again starts a fresh one for the new result.
                case.commitments[ANNOUNCEMENT] = replace(announcement, status="cancelled")

    @once
    def withdraw(self, *, reason: str, by: str, at: datetime, command_id: str) -> None:
        self._check("withdraw")
        self.trigger_event(
            self.Withdrawn,
            reason=checked_text(reason, "reason"),
            by=by,
            at=to_seoul(at),
            command_id=command_id,
        )

    class Withdrawn(CommandEvent):
        TOPIC = "domain.complaint:Complaint.Withdrawn"
        reason: str
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.status = "withdrawn"
            case.withdrawn_reason = self.reason
            case.closed_at = self.at  # a withdrawn case is over too: retention counts from here
            for kind, commitment in case.commitments.items():
                if commitment.is_open:
                    case.commitments[kind] = replace(commitment, status="cancelled")

    @once
    def rate_satisfaction(self, *, score: int, comment: str, at: datetime, command_id: str) -> None:
        self._check("rate_satisfaction")
        if not 1 <= score <= 5:
            raise InvalidValueError("satisfaction score must be from 1 to 5")
        self.trigger_event(
            self.SatisfactionRated,
            score=score,
            comment=comment,
            at=to_seoul(at),
            command_id=command_id,
        )

    class SatisfactionRated(CommandEvent):
        TOPIC = "domain.complaint:Complaint.SatisfactionRated"
        score: int
        comment: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.satisfaction = self.score

    # -- working notes ----------------------------------------------------------------

    @once
    def add_note(self, *, text: str, by: str, at: datetime, command_id: str) -> None:
        """A staff member's working note on the case (처리 메모): kept with it, never sent."""
        self._check("add_note")
        self.trigger_event(
            self.NoteAdded,
            text=checked_text(text, "note", max_length=NOTE_MAX_LENGTH),
            by=checked_text(by, "staff"),
            at=to_seoul(at),
            command_id=command_id,
        )

    class NoteAdded(CommandEvent):
        TOPIC = "domain.complaint:Complaint.NoteAdded"
        text: str
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.notes.append(CaseNote(text=self.text, by=self.by, at=self.at))

    @once
    def record_appointment(
        self,
        *,
        appointment_id: str,
        kind: str,
        start: datetime,
        outcome: str,
        by: str,
        at: datetime,
        command_id: str,
    ) -> None:
        """How an appointment about the case went (done, no-show): its record is the
        appointment's own (domain.appointment); the case keeps the fact."""
        self._check("record_appointment")
        self.trigger_event(
            self.AppointmentRecorded,
            appointment_id=appointment_id,
            kind=kind,
            start=to_seoul(start),
            outcome=outcome,
            by=checked_text(by, "staff"),
            at=to_seoul(at),
            command_id=command_id,
        )

    class AppointmentRecorded(CommandEvent):
        TOPIC = "domain.complaint:Complaint.AppointmentRecorded"
        appointment_id: str
        kind: str
        start: datetime
        outcome: str
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.appointments.append(
                {
                    "id": self.appointment_id,
                    "kind": self.kind,
                    "start": self.start,
                    "outcome": self.outcome,
                }
            )

    # -- notices --------------------------------------------------------------------

    @once
    def queue_alarm_notices(
        self, *, alarm: Alarm, kind: str, at: datetime, command_id: str
    ) -> None:
        """Queue who hears of what the case's clock just did (`alarm_notices`), in the
        save that records it: the notice outbox (activities.outbox) delivers each once
        from the store, outside Temporal. A notice's id is made of the command's, so
        a step run again queues nothing twice."""
        last = self.escalations[-1] if self.escalations else None
        told = alarm_notices(
            alarm,
            kind,
            assignee=self.assignee,
            escalated_to=(last.to_role, last.to_staff) if last else None,
        )
        for notice, recipient, detail in told:
            self.trigger_event(
                self.NoticeQueued,
                notice_id=str(uuid.uuid5(NOTICE_IDS, f"{command_id}/{notice}/{recipient}")),
                kind=notice,
                recipient=recipient,
                detail=detail,
                at=to_seoul(at),
                command_id=command_id,
            )

    class NoticeQueued(CommandEvent):
        """A notice waiting in the case's outbox: sent once its `NoticeSent` (or given
        up once its `NoticeFailed`) carries `notice_id` as its command id."""

        TOPIC = "domain.complaint:Complaint.NoticeQueued"
        notice_id: str
        kind: str
        recipient: str
        detail: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            pass  # the outbox reads it from the store's log; the case shows the delivery

    @once
    def record_notice_sent(
        self, *, kind: str, channel: str, recipient: str, at: datetime, command_id: str
    ) -> None:
        """A notice went out: the delivery record a retried send looks for first.

        `recipient` is "resident" or a staff id, never an address: the address is
        personal data and stays with the contact it was derived from.
        """
        self.trigger_event(
            self.NoticeSent,
            kind=kind,
            channel=channel,
            recipient=recipient,
            at=to_seoul(at),
            command_id=command_id,
        )

    class NoticeSent(CommandEvent):
        TOPIC = "domain.complaint:Complaint.NoticeSent"
        kind: str
        channel: str
        recipient: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.notices.append(
                {
                    "kind": self.kind,
                    "channel": self.channel,
                    "recipient": self.recipient,
                    "at": self.at,
                    "outcome": "sent",
                }
            )

    @once
    def record_notice_failed(
        self, *, kind: str, recipient: str, reason: str, at: datetime, command_id: str
    ) -> None:
        """A notice could not be delivered after its retries: ops must see it."""
        self.trigger_event(
            self.NoticeFailed,
            kind=kind,
            recipient=recipient,
            reason=reason[:500] or "unknown",
            at=to_seoul(at),
            command_id=command_id,
        )

    class NoticeFailed(CommandEvent):
        TOPIC = "domain.complaint:Complaint.NoticeFailed"
        kind: str
        recipient: str
        reason: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.notices.append(
                {
                    "kind": self.kind,
                    "channel": None,
                    "recipient": self.recipient,
                    "at": self.at,
                    "outcome": "failed",
                    "reason": self.reason,
                }
            )

    # -- the workflow -------------------------------------------------------------

    def restorations_since(self, moment: datetime) -> int:
        return sum(1 for r in self.restorations if r["at"] >= moment)

    @once
    def record_workflow_restored(self, *, found: str, at: datetime, command_id: str) -> None:
        """The case's workflow was missing or had ended (`found`) and was started again."""
        if self.is_terminal:
            raise CaseClosedError(f"case {self.receipt_code} is over: it needs no workflow")
        self.trigger_event(
            self.WorkflowRestored, found=found, at=to_seoul(at), command_id=command_id
        )

    class WorkflowRestored(CommandEvent):
        TOPIC = "domain.complaint:Complaint.WorkflowRestored"
        found: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.restorations.append({"found": self.found, "at": self.at})

    # -- personal data -------------------------------------------------------------

    @once
    def record_erasure(self, *, reason: str, by: str, at: datetime, command_id: str) -> None:
        """The complainant's personal data is being destroyed (erasure or retention)."""
        if self.erased:
            return
        self.trigger_event(
            self.PersonalDataErased,
            reason=checked_text(reason, "reason", max_length=500),
            by=by,
            at=to_seoul(at),
            command_id=command_id,
        )

    class PersonalDataErased(CommandEvent):
        TOPIC = "domain.complaint:Complaint.PersonalDataErased"
        reason: str
        by: str
        at: datetime
        command_id: str

        def apply(self, case: Complaint) -> None:
            case.erased = True
            # What a replay reads once the key is gone: a case kept in memory (the
            # service's cache) must not hold more than the store can still give.
            case.contact = case.text = ERASED
            if case.answer is not None:
                case.answer = ERASED
            if case.finding is not None:
                case.finding = ERASED
            case.apologies = Apologies({**apology, "note": ERASED} for apology in case.apologies)
            case.notes = CaseNotes(replace(note, text=ERASED) for note in case.notes)

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        # Once erased, nothing new of the person is kept, in memory as in the store.
        if self.erased:
            for field in class_personal_fields(event_class):
                if field in kwargs and kwargs[field] is not None:
                    kwargs[field] = ERASED
        super().trigger_event(event_class, **kwargs)
