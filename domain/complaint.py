"""The Complaint aggregate: every fact about one case (민원), as events.

Commands check the charter's rules and raise a named `ComplaintError`; only then
do they trigger an event whose body assigns state. Every command after intake
carries a `command_id`: a command already recorded is accepted again silently,
so a retried activity records its event once.

Every event carries the digest of its predecessor (`prev_digest`), so the stored
history of a case forms a hash chain that `domain.chain.verify_chain` checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from eventsourcing.domain import event

from domain.calendar import to_seoul
from domain.chain import GENESIS, class_personal_fields
from domain.chained import ChainedAggregate

Status = Literal["received", "assigned", "answered", "closed", "withdrawn"]
ApologyMode = Literal["in_person", "phone", "public"]
CorrectiveKind = Literal["warning", "training"]
EscalationTrigger = Literal["deadline", "manual"]
APOLOGY_MODES: tuple[ApologyMode, ...] = ("in_person", "phone", "public")
CORRECTIVE_KINDS: tuple[CorrectiveKind, ...] = ("warning", "training")
# A rating this low counts as a careless answer.
POOR_RATING = 2
ANNOUNCEMENT = "announcement"
ConsentMode = Literal["phone", "writing"]
CONSENT_MODES: tuple[ConsentMode, ...] = ("phone", "writing")

# Fixed namespace: the same intake reference always names the same case.
CASE_NAMESPACE = uuid.UUID("6d1c2f8e-5b0a-4c3e-9a57-3f1e0d9b7c21")

# Answering a case keeps these promises; an investigation is kept by its finding.
KEPT_BY_ANSWER = frozenset({"reply", "result", "expedited", "callback"})
KEPT_BY_FINDING = frozenset({"investigation"})
NOTE_MAX_LENGTH = 2_000
# What a personal field reads once the person's key is destroyed.
ERASED = "[erased]"


class ComplaintError(Exception):
    """A command the charter's rules do not allow."""


class CaseClosedError(ComplaintError):
    pass


class CaseWithdrawnError(ComplaintError):
    pass


class NotAnsweredError(ComplaintError):
    pass


class UnknownCommitmentError(ComplaintError):
    pass


class CommitmentNotOpenError(ComplaintError):
    pass


class CommitmentAlreadyOpenError(ComplaintError):
    pass


class DeadlineNotReachedError(ComplaintError):
    pass


class InterimReplyTooLateError(ComplaintError):
    pass


class InterimReplyNotLaterError(ComplaintError):
    pass


class ExtensionTooLongError(ComplaintError):
    pass


class DueOutsideWorkingTimeError(ComplaintError):
    """A new due date where the period cannot end (the evening, a holiday)."""


class AnnouncementNotPendingError(ComplaintError):
    """A decision not to announce where no announcement is waiting."""


class ConsentRequiredError(ComplaintError):
    """A further extension without the resident's recorded consent."""


class ExtensionLimitError(ComplaintError):
    pass


class ApologyRequiredError(ComplaintError):
    pass


class InvestigationError(ComplaintError):
    pass


class CorrectiveActionNotApplicableError(ComplaintError):
    pass


class PrivateCaseError(ComplaintError):
    pass


class OpenCommitmentsError(ComplaintError):
    pass


class InvalidValueError(ComplaintError):
    pass


class EscalationChainExhaustedError(ComplaintError):
    pass


@dataclass(frozen=True)
class Commitment:
    """One promise with a clock, as it stands now."""

    kind: str
    started_at: datetime
    due: datetime
    original_due: datetime
    rule: str
    days: int | None
    warn_at: datetime
    max_extensions: int
    extensions: int = 0
    # How far ahead of the due the warning comes, and how that is counted
    # ("working" hours; commitments recorded before that rule warned in "clock" hours).
    warn_hours: float | None = None
    warn_counting: str = "clock"
    # Further extensions allowed with the resident's consent (시행령: once more,
    # within the same limit); none for commitments recorded before.
    max_consented_extensions: int = 0
    status: Literal["open", "met", "breached", "cancelled"] = "open"
    warned: bool = False
    met_at: datetime | None = None
    breached_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def original_period(self) -> timedelta:
        return self.original_due - self.started_at


@dataclass(frozen=True)
class Escalation:
    level: int
    to_role: str
    to_staff: str | None
    reason: str
    by: str
    trigger: EscalationTrigger
    at: datetime
    # When the next level takes over if this one has not acted, and how that was
    # counted; escalations recorded before that rule leave it to the workflow.
    act_by: datetime | None = None
    act_counting: str | None = None


@dataclass(frozen=True)
class CaseNote:
    text: str
    by: str
    at: datetime


class CommitmentTerms(Protocol):
    """What the interim-reply rule reads of a commitment (the aggregate's or a view)."""

    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def due(self) -> datetime: ...
    @property
    def original_due(self) -> datetime: ...
    @property
    def extensions(self) -> int: ...
    @property
    def max_extensions(self) -> int: ...
    @property
    def max_consented_extensions(self) -> int: ...


def check_interim_reply(
    commitment: CommitmentTerms,
    *,
    at: datetime,
    new_due: datetime,
    latest: datetime | None = None,
    consent: str | None = None,
) -> None:
    """An interim reply comes before the deadline, to a later date, within the limits.

    Past `max_extensions`, a further extension needs the resident's `consent` (how
    it was given: "phone" or "writing"), up to `max_consented_extensions` more.

    `latest` is how far the extension may reach, counted by the calendar as the
    original period was (`Complaints.extension_limit`); without it, the limit is
    the original period in clock time, as it was before working time counted.
    """
    if commitment.status != "open":
        raise CommitmentNotOpenError(
            f"the '{commitment.kind}' commitment is already {commitment.status}"
        )
    if at >= commitment.due:
        raise InterimReplyTooLateError(
            f"an interim reply must be sent before the deadline ({commitment.due.isoformat()})"
        )
    if new_due <= commitment.due:
        raise InterimReplyNotLaterError(
            "the new expected date must be after the current deadline "
            f"({commitment.due.isoformat()})"
        )
    if consent is not None and consent not in CONSENT_MODES:
        raise InvalidValueError(f"consent must be one of {', '.join(CONSENT_MODES)}")
    if commitment.extensions >= commitment.max_extensions:
        with_consent = commitment.max_extensions + commitment.max_consented_extensions
        if commitment.extensions >= with_consent:
            raise ExtensionLimitError(
                f"the '{commitment.kind}' commitment may be extended "
                f"{with_consent} time(s); that limit is reached"
            )
        if consent is None:
            raise ConsentRequiredError(
                f"the '{commitment.kind}' commitment was extended {commitment.extensions} "
                "time(s): one more needs the resident's consent (consent: phone or writing)"
            )
    if latest is None:
        latest = commitment.due + (commitment.original_due - commitment.started_at)
    if new_due > latest:
        raise ExtensionTooLongError(
            "an extension may be at most as long as the original period "
            f"(latest valid moment {latest.isoformat()})"
        )


def check_apology(mode: str, *, private: bool) -> None:
    """An apology is made in person, by phone or publicly — never publicly for a 비공개 case."""
    if mode not in APOLOGY_MODES:
        raise InvalidValueError(f"apology mode must be one of {', '.join(APOLOGY_MODES)}")
    if mode == "public" and private:
        raise PrivateCaseError(
            "a private (비공개) case is not apologised for publicly: visit or call instead"
        )


# Commands a closed case still takes: the result is announced and rated after
# closing, and a resident may have it reopened.
AFTER_CLOSING = frozenset(
    {
        "announce_result",
        "decline_announcement",
        "start_announcement",
        "rate_satisfaction",
        "reopen",
        "add_note",
        "record_appointment",
        # Warned, breached and escalated: the announcement's clock runs after closing.
        "warn",
        "breach",
        "reschedule",
    }
)
NEEDS_ANSWER = frozenset(
    {"announce_result", "decline_announcement", "rate_satisfaction", "reopen", "close"}
)


def check_action_allowed(
    command: str,
    *,
    receipt_code: str,
    status: str,
    private: bool,
    investigation: str,
    investigated: bool = False,
    apology_required: bool,
    apologies: int,
    open_kinds: Sequence[str],
    escalation_level: int = 0,
    escalation_levels: int | None = None,
    announcement_pending: bool = False,
) -> None:
    """The charter's rules on what may happen to a case in its current state.

    A closed case is escalated only while its result's announcement is overdue
    (`announcement_pending`): that clock runs after closing.

    The aggregate runs them before every command; the workflow runs the same
    rules in its update validator, so a refused action never enters its history.
    """
    if status == "withdrawn":
        raise CaseWithdrawnError(f"case {receipt_code} was withdrawn")
    if status == "closed" and command not in AFTER_CLOSING | {"escalate"}:
        raise CaseClosedError(f"case {receipt_code} is closed")
    if command in NEEDS_ANSWER and status not in ("answered", "closed"):
        raise NotAnsweredError(f"case {receipt_code} has not been answered yet")
    if command in ("announce_result", "start_announcement") and private:
        raise PrivateCaseError("a private (비공개) case is never announced")
    if status == "closed" and command == "escalate" and not announcement_pending:
        raise CaseClosedError(f"case {receipt_code} is closed")
    if command == "conclude_investigation" and investigation != "open":
        raise InvestigationError("there is no open investigation to conclude")
    if (
        command == "escalate"
        and escalation_levels is not None
        and (escalation_level >= escalation_levels)
    ):
        raise EscalationChainExhaustedError(
            f"case {receipt_code} is already escalated to the last level"
        )
    if command == "close":
        # An investigated category needs its finding, whether or not it was opened.
        if investigation == "open" or (investigated and investigation != "concluded"):
            raise InvestigationError("the investigation must be concluded before closing")
        if apology_required and not apologies:
            raise ApologyRequiredError(
                "an apology (in person, phone or public) is required before closing"
            )
        if open_kinds:
            raise OpenCommitmentsError(f"commitments still open: {', '.join(open_kinds)}")


def _text(value: str, field: str, *, max_length: int = 10_000) -> str:
    if not value.strip():
        raise InvalidValueError(f"{field} must not be empty")
    if len(value) > max_length:
        raise InvalidValueError(f"{field} is longer than {max_length} characters")
    return value


class Complaint(ChainedAggregate):
    """One complaint case, from receipt to closing."""

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
        return cls(
            intake_ref=_text(intake_ref, "intake reference", max_length=200),
            receipt_code=receipt_code,
            channel=channel,
            category=category,
            topic=topic,
            private=private,
            contact=_text(contact, "contact", max_length=500),
            text=_text(text, "complaint text"),
            received_at=to_seoul(received_at),
            apology_on_fault=apology_on_fault,
            apology_always=apology_always,
            corrective_action=corrective_action,
            investigated=investigated,
            linked_to=linked_to,
            person_id=person_id,
            prev_digest=GENESIS,
        )

    @event("Received")
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
        prev_digest: str,
    ) -> None:
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
        self.apologies: list[dict[str, Any]] = []
        self.corrective_actions: list[dict[str, Any]] = []
        self.answer: str | None = None
        self.answered_at: datetime | None = None
        self.announcement: str | None = None
        self.satisfaction: int | None = None
        self.notes: list[CaseNote] = []
        self.appointments: list[dict[str, Any]] = []
        self.closed_at: datetime | None = None
        self.withdrawn_reason: str | None = None
        self.notices: list[dict[str, Any]] = []
        # When the case's workflow was found gone and started again, and what was found.
        self.restorations: list[dict[str, Any]] = []
        self.command_ids: set[str] = set()

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

    def assign(self, *, staff: str, role: str, by: str, at: datetime, command_id: str) -> None:
        if self.already_done(command_id):
            return
        self._check("assign")
        _text(staff, "staff")
        if self.assignee is None:
            self._assigned(staff=staff, role=role, by=by, at=to_seoul(at), command_id=command_id)
        elif self.assignee != staff:
            self._reassigned(
                staff=staff,
                role=role,
                previous=self.assignee,
                by=by,
                at=to_seoul(at),
                command_id=command_id,
            )

    @event("Assigned")
    def _assigned(self, staff: str, role: str, by: str, at: datetime, command_id: str) -> None:
        self.assignee = staff
        self.assignee_role = role
        if self.status == "received":
            self.status = "assigned"
        self.command_ids.add(command_id)

    @event("Reassigned")
    def _reassigned(
        self, staff: str, role: str, previous: str, by: str, at: datetime, command_id: str
    ) -> None:
        self.assignee = staff
        self.assignee_role = role
        self.command_ids.add(command_id)

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
        if self.already_done(command_id):
            return
        self._check("take_message")
        if to_seoul(callback_by) <= to_seoul(at):
            raise InvalidValueError("the promised callback time must be in the future")
        self._message_taken(
            for_staff=_text(for_staff, "absent staff"),
            taken_by=_text(taken_by, "staff taking the message"),
            callback_by=to_seoul(callback_by),
            note=note,
            at=to_seoul(at),
            command_id=command_id,
        )

    @event("MessageTaken")
    def _message_taken(
        self,
        for_staff: str,
        taken_by: str,
        callback_by: datetime,
        note: str,
        at: datetime,
        command_id: str,
    ) -> None:
        self.messages.append(
            {"for_staff": for_staff, "taken_by": taken_by, "callback_by": callback_by, "at": at}
        )
        self.command_ids.add(command_id)

    # -- commitments ------------------------------------------------------------

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
        if self.already_done(command_id):
            return
        # The announcement's clock starts when the case closes.
        self._check("start_announcement" if kind == ANNOUNCEMENT else "start_commitment")
        existing = self.commitments.get(kind)
        if existing is not None and existing.is_open:
            raise CommitmentAlreadyOpenError(f"the '{kind}' commitment is already running")
        if to_seoul(due) <= to_seoul(at):
            raise InvalidValueError("a commitment must be due after it starts")
        self._commitment_started(
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

    @event("CommitmentStarted")
    def _commitment_started(
        self,
        kind: str,
        due: datetime,
        rule: str,
        days: int | None,
        warn_at: datetime,
        max_extensions: int,
        at: datetime,
        command_id: str,
        # Events recorded before warnings counted working time carry neither.
        warn_hours: float | None = None,
        warn_counting: str = "clock",
        max_consented_extensions: int = 0,
    ) -> None:
        self.commitments[kind] = Commitment(
            kind=kind,
            started_at=at,
            due=due,
            original_due=due,
            rule=rule,
            days=days,
            warn_at=warn_at,
            max_extensions=max_extensions,
            warn_hours=warn_hours,
            warn_counting=warn_counting,
            max_consented_extensions=max_consented_extensions,
        )
        self.command_ids.add(command_id)

    def warn(self, *, kind: str, at: datetime, command_id: str) -> None:
        """The assignee was warned that a deadline is near."""
        if self.already_done(command_id):
            return
        self._check("warn")
        commitment = self._open_commitment(kind)
        if commitment.warned:
            return
        self._commitment_warned(
            kind=kind, due=commitment.due, at=to_seoul(at), command_id=command_id
        )

    @event("CommitmentWarned")
    def _commitment_warned(self, kind: str, due: datetime, at: datetime, command_id: str) -> None:
        self.commitments[kind] = replace(self.commitments[kind], warned=True)
        self.command_ids.add(command_id)

    def breach(self, *, kind: str, at: datetime, command_id: str) -> None:
        """The deadline passed with the promise not kept."""
        if self.already_done(command_id):
            return
        self._check("breach")
        commitment = self._open_commitment(kind)
        if to_seoul(at) < commitment.due:
            raise DeadlineNotReachedError(
                f"the '{kind}' commitment is due {commitment.due.isoformat()}, not yet breached"
            )
        self._commitment_breached(
            kind=kind, due=commitment.due, at=to_seoul(at), command_id=command_id
        )

    @event("CommitmentBreached")
    def _commitment_breached(self, kind: str, due: datetime, at: datetime, command_id: str) -> None:
        self.commitments[kind] = replace(self.commitments[kind], status="breached", breached_at=at)
        self.command_ids.add(command_id)

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
        if self.already_done(command_id):
            return
        self._check("send_interim_reply")
        commitment = self._commitment(kind)
        at, new_due = to_seoul(at), to_seoul(new_due)
        _text(reason, "reason for the delay")
        check_interim_reply(commitment, at=at, new_due=new_due, latest=latest, consent=consent)
        self._interim_reply_sent(
            kind=kind,
            reason=reason,
            new_due=new_due,
            by=by,
            at=at,
            command_id=command_id,
            consent=consent,
        )
        self._commitment_extended(
            kind=kind,
            previous_due=commitment.due,
            new_due=new_due,
            at=at,
            command_id=command_id,
            warn_at=None if warn_at is None else min(to_seoul(warn_at), new_due),
            limit_rule=limit_rule,
        )

    @event("InterimReplySent")
    def _interim_reply_sent(
        self,
        kind: str,
        reason: str,
        new_due: datetime,
        by: str,
        at: datetime,
        command_id: str,
        # How the resident agreed to a further extension; none before that rule.
        consent: str | None = None,
    ) -> None:
        self.interim_replies.append(
            {
                "kind": kind,
                "reason": reason,
                "new_due": new_due,
                "by": by,
                "at": at,
                "consent": consent,
            }
        )

    @event("CommitmentExtended")
    def _commitment_extended(
        self,
        kind: str,
        previous_due: datetime,
        new_due: datetime,
        at: datetime,
        command_id: str,
        # Extensions recorded before working time counted kept the warning's
        # clock-time distance to the due and carry neither.
        warn_at: datetime | None = None,
        limit_rule: str | None = None,
    ) -> None:
        current = self.commitments[kind]
        self.commitments[kind] = replace(
            current,
            due=new_due,
            warn_at=warn_at if warn_at is not None else new_due - (current.due - current.warn_at),
            warned=False,
            extensions=current.extensions + 1,
        )
        self.command_ids.add(command_id)

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
        if self.already_done(command_id):
            return
        self._check("reschedule")
        commitment = self._open_commitment(kind)
        new_due = to_seoul(new_due)
        if new_due == commitment.due:
            return
        self._commitment_rescheduled(
            kind=kind,
            previous_due=commitment.due,
            new_due=new_due,
            warn_at=min(to_seoul(warn_at), new_due),
            added=dict(added),
            removed=dict(removed),
            at=to_seoul(at),
            command_id=command_id,
        )

    @event("CommitmentRescheduled")
    def _commitment_rescheduled(
        self,
        kind: str,
        previous_due: datetime,
        new_due: datetime,
        warn_at: datetime,
        added: dict[str, str],
        removed: dict[str, str],
        at: datetime,
        command_id: str,
    ) -> None:
        current = self.commitments[kind]
        self.commitments[kind] = replace(current, due=new_due, warn_at=warn_at)
        self.reschedules.append(
            {"kind": kind, "previous_due": previous_due, "new_due": new_due, "added": added}
        )
        self.command_ids.add(command_id)

    def _keep(self, kinds: frozenset[str], at: datetime, command_id: str) -> None:
        for commitment in list(self.commitments.values()):
            # A breached promise kept late is recorded too: the report counts it.
            pending = commitment.status in ("open", "breached") and commitment.met_at is None
            if commitment.kind in kinds and pending:
                self._commitment_met(
                    kind=commitment.kind,
                    # Late is judged by the clock: the breach timer may not have run yet.
                    on_time=commitment.is_open and at <= commitment.due,
                    at=at,
                    command_id=command_id,
                )

    @event("CommitmentMet")
    def _commitment_met(self, kind: str, on_time: bool, at: datetime, command_id: str) -> None:
        current = self.commitments[kind]
        self.commitments[kind] = replace(
            current, status="met" if on_time else "breached", met_at=at
        )
        self.command_ids.add(command_id)

    # -- escalation ---------------------------------------------------------------

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
        if self.already_done(command_id):
            return
        self._check("escalate", escalation_levels=levels)
        self._escalated(
            level=len(self.escalations) + 1,
            to_role=to_role,
            to_staff=to_staff,
            reason=_text(reason, "reason for escalation", max_length=2000),
            by=by,
            trigger=trigger,
            at=to_seoul(at),
            command_id=command_id,
            act_by=None if act_by is None else to_seoul(act_by),
            act_counting=act_counting,
        )

    @event("Escalated")
    def _escalated(
        self,
        level: int,
        to_role: str,
        to_staff: str | None,
        reason: str,
        by: str,
        trigger: EscalationTrigger,
        at: datetime,
        command_id: str,
        act_by: datetime | None = None,
        act_counting: str | None = None,
    ) -> None:
        self.escalations.append(
            Escalation(
                level=level,
                to_role=to_role,
                to_staff=to_staff,
                reason=reason,
                by=by,
                trigger=trigger,
                at=at,
                act_by=act_by,
                act_counting=act_counting,
            )
        )
        self.command_ids.add(command_id)

    # -- investigation, apology, corrective action ---------------------------------

    def open_investigation(self, *, by: str, at: datetime, command_id: str) -> None:
        if self.already_done(command_id):
            return
        self._check("open_investigation")
        if self.investigation != "none":
            raise InvestigationError(f"the investigation is already {self.investigation}")
        self._investigation_opened(by=by, at=to_seoul(at), command_id=command_id)

    @event("InvestigationOpened")
    def _investigation_opened(self, by: str, at: datetime, command_id: str) -> None:
        self.investigation = "open"
        self.command_ids.add(command_id)

    def conclude_investigation(
        self, *, fault_confirmed: bool, finding: str, by: str, at: datetime, command_id: str
    ) -> None:
        if self.already_done(command_id):
            return
        self._check("conclude_investigation")
        at = to_seoul(at)
        self._investigation_concluded(
            fault_confirmed=fault_confirmed,
            finding=_text(finding, "finding"),
            by=by,
            at=at,
            command_id=command_id,
        )
        self._keep(KEPT_BY_FINDING, at, command_id)

    @event("InvestigationConcluded")
    def _investigation_concluded(
        self, fault_confirmed: bool, finding: str, by: str, at: datetime, command_id: str
    ) -> None:
        self.investigation = "concluded"
        self.fault_confirmed = fault_confirmed
        self.finding = finding
        self.command_ids.add(command_id)

    def make_apology(
        self, *, mode: ApologyMode, by: str, note: str, at: datetime, command_id: str
    ) -> None:
        if self.already_done(command_id):
            return
        self._check("make_apology")
        check_apology(mode, private=self.private)
        self._apology_made(mode=mode, by=by, note=note, at=to_seoul(at), command_id=command_id)

    @event("ApologyMade")
    def _apology_made(self, mode: str, by: str, note: str, at: datetime, command_id: str) -> None:
        self.apologies.append({"mode": mode, "by": by, "note": note, "at": at})
        self.command_ids.add(command_id)

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
        if self.already_done(command_id):
            return
        self._check("record_corrective_action")
        if action not in CORRECTIVE_KINDS:
            raise InvalidValueError(
                f"corrective action must be one of {', '.join(CORRECTIVE_KINDS)}"
            )
        if not (self.corrective_action or self.fault_confirmed):
            raise CorrectiveActionNotApplicableError(
                "corrective action applies to unkind service, staff error or confirmed fault"
            )
        self._corrective_action_recorded(
            staff=_text(staff, "staff"),
            action=action,
            by=by,
            note=note,
            at=to_seoul(at),
            command_id=command_id,
        )

    @event("CorrectiveActionRecorded")
    def _corrective_action_recorded(
        self, staff: str, action: str, by: str, note: str, at: datetime, command_id: str
    ) -> None:
        self.corrective_actions.append(
            {"staff": staff, "action": action, "by": by, "note": note, "at": at}
        )
        self.command_ids.add(command_id)

    # -- answer and closing ---------------------------------------------------------

    def call_back(self, *, note: str, by: str, at: datetime, command_id: str) -> None:
        """The promised call to the resident was made (가.④, 나.③): it keeps the callback."""
        if self.already_done(command_id):
            return
        self._check("call_back")
        promised = self.commitments.get("callback")
        if promised is None or promised.met_at is not None or promised.status == "cancelled":
            raise InvalidValueError(f"case {self.receipt_code} owes no promised callback")
        at = to_seoul(at)
        self._called_back(
            note=_text(note, "note", max_length=NOTE_MAX_LENGTH) if note else "",
            by=_text(by, "staff"),
            at=at,
            command_id=command_id,
        )
        self._keep(frozenset({"callback"}), at, command_id)

    @event("CalledBack")
    def _called_back(self, note: str, by: str, at: datetime, command_id: str) -> None:
        self.command_ids.add(command_id)

    def answer_case(self, *, text: str, by: str, at: datetime, command_id: str) -> None:
        if self.already_done(command_id):
            return
        self._check("answer_case")
        at = to_seoul(at)
        self._answered(text=_text(text, "answer"), by=by, at=at, command_id=command_id)
        self._keep(KEPT_BY_ANSWER, at, command_id)

    @event("Answered")
    def _answered(self, text: str, by: str, at: datetime, command_id: str) -> None:
        self.answer = text
        self.answered_at = at
        self.status = "answered"
        self.command_ids.add(command_id)

    def announce_result(self, *, summary: str, by: str, at: datetime, command_id: str) -> None:
        """Results announced publicly (헌장 5); a private (비공개) case never is."""
        if self.already_done(command_id):
            return
        self._check("announce_result")
        self._result_announced(
            summary=_text(summary, "public summary", max_length=2000),
            by=by,
            at=to_seoul(at),
            command_id=command_id,
        )
        self._keep(frozenset({ANNOUNCEMENT}), to_seoul(at), command_id)

    @event("ResultAnnounced")
    def _result_announced(self, summary: str, by: str, at: datetime, command_id: str) -> None:
        self.announcement = summary
        self.command_ids.add(command_id)

    def decline_announcement(self, *, reason: str, by: str, at: datetime, command_id: str) -> None:
        """A recorded decision not to announce the result, with its reason (the
        resident asked not to, nothing general to say …): keeps the clock."""
        if self.already_done(command_id):
            return
        self._check("decline_announcement")
        if not self.announcement_pending:
            raise AnnouncementNotPendingError(
                f"case {self.receipt_code} has no announcement waiting to be made or declined"
            )
        self._announcement_declined(
            reason=_text(reason, "reason", max_length=2000),
            by=by,
            at=to_seoul(at),
            command_id=command_id,
        )
        self._keep(frozenset({ANNOUNCEMENT}), to_seoul(at), command_id)

    @event("AnnouncementDeclined")
    def _announcement_declined(self, reason: str, by: str, at: datetime, command_id: str) -> None:
        self.announcement_declined = reason
        self.command_ids.add(command_id)

    def close(self, *, by: str, at: datetime, command_id: str) -> None:
        if self.already_done(command_id):
            return
        self._check("close")
        self._closed(by=by, at=to_seoul(at), command_id=command_id)

    @event("Closed")
    def _closed(self, by: str, at: datetime, command_id: str) -> None:
        self.status = "closed"
        self.closed_at = at
        self.command_ids.add(command_id)

    def reopen(self, *, reason: str, by: str, at: datetime, command_id: str) -> None:
        if self.already_done(command_id):
            return
        self._check("reopen")
        self._reopened(
            reason=_text(reason, "reason"), by=by, at=to_seoul(at), command_id=command_id
        )

    @event("Reopened")
    def _reopened(self, reason: str, by: str, at: datetime, command_id: str) -> None:
        self.status = "assigned" if self.assignee else "received"
        self.closed_at = None
        self.answer = None
        self.answered_at = None
        if self.investigation == "concluded":
            # A reopened case is looked into again; the earlier finding stays in its history.
            self.investigation = "none"
        announcement = self.commitments.get(ANNOUNCEMENT)
        if announcement is not None and announcement.is_open:
            # Closing again starts a fresh one for the new result.
            self.commitments[ANNOUNCEMENT] = replace(announcement, status="cancelled")
        self.command_ids.add(command_id)

    def withdraw(self, *, reason: str, by: str, at: datetime, command_id: str) -> None:
        if self.already_done(command_id):
            return
        self._check("withdraw")
        self._withdrawn(
            reason=_text(reason, "reason"), by=by, at=to_seoul(at), command_id=command_id
        )

    @event("Withdrawn")
    def _withdrawn(self, reason: str, by: str, at: datetime, command_id: str) -> None:
        self.status = "withdrawn"
        self.withdrawn_reason = reason
        self.closed_at = at  # a withdrawn case is over too: retention counts from here
        for kind, commitment in self.commitments.items():
            if commitment.is_open:
                self.commitments[kind] = replace(commitment, status="cancelled")
        self.command_ids.add(command_id)

    def rate_satisfaction(self, *, score: int, comment: str, at: datetime, command_id: str) -> None:
        if self.already_done(command_id):
            return
        self._check("rate_satisfaction")
        if not 1 <= score <= 5:
            raise InvalidValueError("satisfaction score must be from 1 to 5")
        self._satisfaction_rated(
            score=score, comment=comment, at=to_seoul(at), command_id=command_id
        )

    @event("SatisfactionRated")
    def _satisfaction_rated(self, score: int, comment: str, at: datetime, command_id: str) -> None:
        self.satisfaction = score
        self.command_ids.add(command_id)

    # -- working notes ----------------------------------------------------------------

    def add_note(self, *, text: str, by: str, at: datetime, command_id: str) -> None:
        """A staff member's working note on the case (처리 메모): kept with it, never sent."""
        if self.already_done(command_id):
            return
        self._check("add_note")
        self._note_added(
            text=_text(text, "note", max_length=NOTE_MAX_LENGTH),
            by=_text(by, "staff"),
            at=to_seoul(at),
            command_id=command_id,
        )

    @event("NoteAdded")
    def _note_added(self, text: str, by: str, at: datetime, command_id: str) -> None:
        self.notes.append(CaseNote(text=text, by=by, at=at))
        self.command_ids.add(command_id)

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
        if self.already_done(command_id):
            return
        self._check("record_appointment")
        self._appointment_recorded(
            appointment_id=appointment_id,
            kind=kind,
            start=to_seoul(start),
            outcome=outcome,
            by=_text(by, "staff"),
            at=to_seoul(at),
            command_id=command_id,
        )

    @event("AppointmentRecorded")
    def _appointment_recorded(
        self,
        appointment_id: str,
        kind: str,
        start: datetime,
        outcome: str,
        by: str,
        at: datetime,
        command_id: str,
    ) -> None:
        self.appointments.append(
            {"id": appointment_id, "kind": kind, "start": start, "outcome": outcome}
        )
        self.command_ids.add(command_id)

    # -- notices --------------------------------------------------------------------

    def record_notice_sent(
        self, *, kind: str, channel: str, recipient: str, at: datetime, command_id: str
    ) -> None:
        """A notice went out: the delivery record a retried send looks for first.

        `recipient` is "resident" or a staff id, never an address: the address is
        personal data and stays with the contact it was derived from.
        """
        if self.already_done(command_id):
            return
        self._notice_sent(
            kind=kind, channel=channel, recipient=recipient, at=to_seoul(at), command_id=command_id
        )

    @event("NoticeSent")
    def _notice_sent(
        self, kind: str, channel: str, recipient: str, at: datetime, command_id: str
    ) -> None:
        self.notices.append(
            {"kind": kind, "channel": channel, "recipient": recipient, "at": at, "outcome": "sent"}
        )
        self.command_ids.add(command_id)

    def record_notice_failed(
        self, *, kind: str, recipient: str, reason: str, at: datetime, command_id: str
    ) -> None:
        """A notice could not be delivered after its retries: ops must see it."""
        if self.already_done(command_id):
            return
        self._notice_failed(
            kind=kind,
            recipient=recipient,
            reason=reason[:500] or "unknown",
            at=to_seoul(at),
            command_id=command_id,
        )

    @event("NoticeFailed")
    def _notice_failed(
        self, kind: str, recipient: str, reason: str, at: datetime, command_id: str
    ) -> None:
        self.notices.append(
            {
                "kind": kind,
                "channel": None,
                "recipient": recipient,
                "at": at,
                "outcome": "failed",
                "reason": reason,
            }
        )
        self.command_ids.add(command_id)

    # -- the workflow -------------------------------------------------------------

    def restorations_since(self, moment: datetime) -> int:
        return sum(1 for r in self.restorations if r["at"] >= moment)

    def record_workflow_restored(self, *, found: str, at: datetime, command_id: str) -> None:
        """The case's workflow was missing or had ended (`found`) and was started again."""
        if self.already_done(command_id):
            return
        if self.is_terminal:
            raise CaseClosedError(f"case {self.receipt_code} is over: it needs no workflow")
        self._workflow_restored(found=found, at=to_seoul(at), command_id=command_id)

    @event("WorkflowRestored")
    def _workflow_restored(self, found: str, at: datetime, command_id: str) -> None:
        self.restorations.append({"found": found, "at": at})
        self.command_ids.add(command_id)

    # -- personal data -------------------------------------------------------------

    def record_erasure(self, *, reason: str, by: str, at: datetime, command_id: str) -> None:
        """The complainant's personal data is being destroyed (erasure or retention)."""
        if self.already_done(command_id) or self.erased:
            return
        self._personal_data_erased(
            reason=_text(reason, "reason", max_length=500),
            by=by,
            at=to_seoul(at),
            command_id=command_id,
        )

    @event("PersonalDataErased")
    def _personal_data_erased(self, reason: str, by: str, at: datetime, command_id: str) -> None:
        self.erased = True
        # What a replay reads once the key is gone: a case kept in memory (the
        # service's cache) must not hold more than the store can still give.
        self.contact = self.text = ERASED
        if self.answer is not None:
            self.answer = ERASED
        if self.finding is not None:
            self.finding = ERASED
        self.apologies = [{**apology, "note": ERASED} for apology in self.apologies]
        self.notes = [replace(note, text=ERASED) for note in self.notes]
        self.command_ids.add(command_id)

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        # Once erased, nothing new of the person is kept, in memory as in the store.
        if self.erased:
            for field in class_personal_fields(event_class):
                if field in kwargs and kwargs[field] is not None:
                    kwargs[field] = ERASED
        super().trigger_event(event_class, **kwargs)
