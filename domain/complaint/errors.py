"""What a command on a case is refused with: a `ComplaintError` naming the rule.

The API, the command line and the workflow's update validator report each by its
class name, so a name, once released, stays.
"""

from __future__ import annotations


class ComplaintError(Exception):
    """A command the charter's rules do not allow."""


class CaseNotFoundError(ComplaintError):
    """No case with that id (or receipt code) in the store."""


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
