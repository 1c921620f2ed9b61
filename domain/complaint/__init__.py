"""The complaint case (민원): its aggregate, events, rules and errors.

- `aggregate` — `Complaint`: the commands, each followed by the event class it
  records (typed fields, an `apply` that changes the case); `@once` per command id.
- `events` — what every event derives from (the chain's link, the command's id
  kept once), and the values the events put into the case (`Commitment` …;
  `CommandIds`, the ids kept, searched where a snapshot holds them; `CaseNotes` and
  `Apologies`, lists a snapshot's items stay packed in until read).
- `rules` — the charter's rules the commands and the workflow's validator share.
- `errors` — `ComplaintError` and the refusals a command raises.

Everything is imported from here (`from domain.complaint import Complaint`). Stored
records name the case's classes `domain.complaint:Complaint.<Event>`, the module
they had before the package: each class says so itself (`TOPIC`).
"""

from domain.complaint.aggregate import CASE_NAMESPACE, Complaint, once
from domain.complaint.errors import (
    AnnouncementNotPendingError,
    ApologyRequiredError,
    CaseClosedError,
    CaseNotFoundError,
    CaseWithdrawnError,
    CommitmentAlreadyOpenError,
    CommitmentNotOpenError,
    ComplaintError,
    ConsentRequiredError,
    CorrectiveActionNotApplicableError,
    DeadlineNotReachedError,
    DueOutsideWorkingTimeError,
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
    AFTER_CLOSING,
    ANNOUNCEMENT,
    APOLOGY_MODES,
    CONSENT_MODES,
    CORRECTIVE_KINDS,
    KEPT_BY_ANSWER,
    KEPT_BY_FINDING,
    NEEDS_ANSWER,
    NOTE_MAX_LENGTH,
    POOR_RATING,
    ApologyMode,
    CommitmentTerms,
    ConsentMode,
    CorrectiveKind,
    EscalationTrigger,
    Status,
    check_action_allowed,
    check_apology,
    check_interim_reply,
    checked_text,
)

__all__ = [
    "AFTER_CLOSING",
    "ANNOUNCEMENT",
    "APOLOGY_MODES",
    "CASE_NAMESPACE",
    "CONSENT_MODES",
    "CORRECTIVE_KINDS",
    "ERASED",
    "KEPT_BY_ANSWER",
    "KEPT_BY_FINDING",
    "NEEDS_ANSWER",
    "NOTE_MAX_LENGTH",
    "POOR_RATING",
    "AnnouncementNotPendingError",
    "Apologies",
    "ApologyMode",
    "ApologyRequiredError",
    "CaseClosedError",
    "CaseEvent",
    "CaseNotFoundError",
    "CaseNote",
    "CaseNotes",
    "CaseWithdrawnError",
    "CommandEvent",
    "CommandIds",
    "Commitment",
    "CommitmentAlreadyOpenError",
    "CommitmentNotOpenError",
    "CommitmentTerms",
    "Complaint",
    "ComplaintError",
    "ConsentMode",
    "ConsentRequiredError",
    "CorrectiveActionNotApplicableError",
    "CorrectiveKind",
    "DeadlineNotReachedError",
    "DueOutsideWorkingTimeError",
    "Escalation",
    "EscalationChainExhaustedError",
    "EscalationTrigger",
    "ExtensionLimitError",
    "ExtensionTooLongError",
    "InterimReplyNotLaterError",
    "InterimReplyTooLateError",
    "InvalidValueError",
    "InvestigationError",
    "NotAnsweredError",
    "OpenCommitmentsError",
    "PrivateCaseError",
    "Status",
    "UnknownCommitmentError",
    "check_action_allowed",
    "check_apology",
    "check_interim_reply",
    "checked_text",
    "once",
]
