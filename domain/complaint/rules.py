"""The charter's rules on what may happen to a case, apart from the case itself.

The aggregate runs them before it records anything (domain.complaint.aggregate);
the case's workflow runs the same ones in its update validator, on the view of the
case it holds, so a refused action never enters its history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from domain.complaint.errors import (
    ApologyRequiredError,
    CaseClosedError,
    CaseWithdrawnError,
    CommitmentNotOpenError,
    ConsentRequiredError,
    EscalationChainExhaustedError,
    ExtensionLimitError,
    ExtensionTooLongError,
    InterimReplyNotLaterError,
    InterimReplyTooLateError,
    InvalidValueError,
    InvestigationError,
    NotAnsweredError,
    OpenCommitmentsError,
    PrivateCaseError,
)

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

# Answering a case keeps these promises; an investigation is kept by its finding.
KEPT_BY_ANSWER = frozenset({"reply", "result", "expedited", "callback"})
KEPT_BY_FINDING = frozenset({"investigation"})
NOTE_MAX_LENGTH = 2_000


# What a case's clock did, as the notices of it name it.
Alarm = Literal["warn", "breach", "escalate"]
ALARMS: tuple[Alarm, ...] = ("warn", "breach", "escalate")


def alarm_notices(
    alarm: Alarm,
    kind: str,
    *,
    assignee: str | None,
    escalated_to: tuple[str, str | None] | None,
    tell_resident: bool = True,
) -> list[tuple[str, str, str]]:
    """Who hears of what a case's clock did, by which notice: (notice, recipient,
    detail), in the order they go out.

    `kind` is the commitment's; `escalated_to`, the last escalation's role and the
    staff member holding it, if known. Without an assignee the designated officer
    hears of the deadline. A breach is told to the resident too (`tell_resident`),
    with how to ask for an investigation; an escalation, to whoever it reached.
    """
    owner = assignee or "designated_officer"
    if alarm == "warn":
        return [("reminder", owner, kind)]
    if alarm == "breach":
        told = [("breach", owner, kind)]
        if tell_resident:
            told.append(("overdue", "resident", kind))
        return told
    if escalated_to is None:
        raise ValueError("an escalation's notice needs the escalation")
    role, staff = escalated_to
    return [("escalation", staff or role, role)]


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


def checked_text(value: str, field: str, *, max_length: int = 10_000) -> str:
    """`value`, if it is text worth recording: not blank, not longer than `max_length`."""
    if not value.strip():
        raise InvalidValueError(f"{field} must not be empty")
    if len(value) > max_length:
        raise InvalidValueError(f"{field} is longer than {max_length} characters")
    return value
