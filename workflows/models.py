"""What crosses the Temporal boundary: workflow input, updates, activity I/O.

Every model is pydantic, so bad input is refused with a field-by-field message
before it reaches a workflow's history. No model carries personal data except
`FileComplaintInput` (contact, text), which travels encrypted by the payload codec.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

# The actions are declared once, in the command registry; the workflow's update
# takes them as they are.
from domain.commands import (
    ACTIONS,
    CHANNELS,
    STAFF_ACTIONS,
    Action,
    AddNote,
    Announce,
    Answer,
    AnyAction,
    Assign,
    Breach,
    Channel,
    Close,
    DeclineAnnouncement,
    Escalate,
    Note,
    RateSatisfaction,
    RecordApology,
    RecordCorrectiveAction,
    RecordFinding,
    RecordNoticeFailed,
    Recount,
    Reopen,
    SendInterimReply,
    ShortText,
    StaffId,
    TakeMessage,
    Text,
    Warn,
    Withdraw,
    _clean_text,
)

__all__ = [
    "ACTIONS",
    "CHANNELS",
    "STAFF_ACTIONS",
    "Action",
    "AddNote",
    "Announce",
    "Answer",
    "AnyAction",
    "Assign",
    "Breach",
    "Channel",
    "Close",
    "DeclineAnnouncement",
    "Escalate",
    "Note",
    "RateSatisfaction",
    "RecordApology",
    "RecordCorrectiveAction",
    "RecordFinding",
    "RecordNoticeFailed",
    "Recount",
    "Reopen",
    "SendInterimReply",
    "ShortText",
    "StaffId",
    "TakeMessage",
    "Text",
    "Warn",
    "Withdraw",
]

IntakeRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _blank_is_none(value: object) -> object:
    """An empty or blank reference names nothing: read as no reference at all."""
    return None if isinstance(value, str) and not value.strip() else value


class FileComplaintInput(_Model):
    """A new complaint. `intake_ref` names the case for good; it is never personal data.

    The API records the case in the store first and starts the workflow without the
    contact and the text: they never enter Temporal. A start that carries them (tests,
    runs started before) has the registration record them.
    """

    intake_ref: IntakeRef
    channel: Channel
    category: Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]
    topic: Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")] = "intake"
    private: bool = False
    contact: (
        Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_clean_text)] | None
    ) = None
    text: Text | None = None
    received_at: AwareDatetime | None = None
    # The receipt code of the case this complaint is about, if any (blank: none).
    linked_to: Annotated[str | None, BeforeValidator(_blank_is_none)] = None
    # Started again by the reconciler for a case already recorded: its receipt went out.
    restored: bool = False


class CaseCommand(_Model):
    """Activity input: run `action` on the case at business time `at`, once."""

    case_id: str
    at: AwareDatetime
    command_id: str
    action: AnyAction
    # The update that brought the action in (its proof of who acts names it).
    update_id: str | None = None
    # An alarm of the case's clock (warn, breach, escalate) whose notices are queued
    # in the store with it, for the notice outbox; false where the workflow sends them.
    notify: bool = False


class AlarmCommands(_Model):
    """Activity input: what a case's clocks did at one moment (a breach and the
    escalation it sets off), recorded in order."""

    commands: list[CaseCommand] = Field(min_length=1)


# -- what the workflow knows of a case -------------------------------------------------


class CommitmentView(_Model):
    kind: str
    started_at: datetime
    due: datetime
    original_due: datetime
    warn_at: datetime
    status: Literal["open", "met", "breached", "cancelled"]
    warned: bool
    extensions: int
    max_extensions: int
    met_at: datetime | None = None
    max_consented_extensions: int = 0
    # How far an interim reply may move the due (the calendar's count); views
    # recorded before that carry none and the limit is the period in clock time.
    extend_until: datetime | None = None


class EscalationView(_Model):
    level: int
    to_role: str
    to_staff: str | None
    trigger: Literal["deadline", "manual"]
    at: datetime
    # When the next level takes over (working time); None at the last level and
    # in views recorded before it was recorded on the case.
    act_by: datetime | None = None


class CaseView(_Model):
    """A case as the workflow, queries and `minwon show` see it: no personal data."""

    case_id: str
    receipt_code: str
    category: str
    channel: str
    topic: str
    private: bool
    status: Literal["received", "assigned", "answered", "closed", "withdrawn"]
    assignee: str | None
    assignee_role: str | None
    received_at: datetime
    commitments: list[CommitmentView]
    escalations: list[EscalationView]
    investigation: Literal["none", "open", "concluded"]
    investigated: bool = False
    fault_confirmed: bool | None
    apology_required: bool
    apologies: int
    announced: bool
    linked_to: str | None
    closed_at: datetime | None
    version: int
    notices_failed: int = 0
    # Digest of the event at `version`: anchors the tail of the case's hash chain.
    head_digest: str = ""

    @property
    def is_terminal(self) -> bool:
        return self.status in ("closed", "withdrawn")

    def commitment(self, kind: str) -> CommitmentView | None:
        return next((c for c in self.commitments if c.kind == kind), None)

    def next_due(self) -> datetime | None:
        dues = [c.due for c in self.commitments if c.status == "open"]
        return min(dues) if dues else None

    def earliest_unkept_due(self) -> datetime | None:
        """The earliest due of a promise not yet kept, breached ones included: overdue
        cases are the ones whose earliest unkept due has passed."""
        dues = [
            c.due
            for c in self.commitments
            if c.status == "open" or (c.status == "breached" and c.met_at is None)
        ]
        return min(dues) if dues else None


NoticeKind = Literal[
    "receipt",
    "reminder",
    "breach",
    "escalation",
    "answer",
    "interim_reply",
    "rescheduled",
    "overdue",
    "investigation_result",
    "apology",
]


class Notice(_Model):
    """A notification to queue; recipients are roles or staff ids, never residents' data."""

    case_id: str
    receipt_code: str
    kind: NoticeKind
    recipient: str
    command_id: str
    detail: str = ""
    at: AwareDatetime | None = None


class NoticeDelivery(_Model):
    """What `send_notice` did: the channel used, and the case's head once it is recorded.

    The head (version and digest of the case's last event, the delivery record or
    a later event) lets the workflow anchor a case whose last event is a notice.
    """

    channel: str  # "email", "sms", or "already sent"
    version: int
    head_digest: str


class NoticeBatch(_Model):
    """Activity input: the notices of one moment of one case, delivered in order."""

    notices: list[Notice] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_case(self) -> NoticeBatch:
        if len({notice.case_id for notice in self.notices}) != 1:
            raise ValueError("a batch of notices is one case's")
        return self


class NoticeOutcome(_Model):
    """One notice of a batch: delivered (and the case's head after its record), or
    never deliverable (why)."""

    delivery: NoticeDelivery | None = None
    failure: str | None = None


class NoticeOutcomes(_Model):
    """What `send_notices` did with each notice of its batch, in order."""

    outcomes: list[NoticeOutcome]


class EscalationStep(_Model):
    role: str
    act_within_hours: float | None


class WorkflowPolicy(_Model):
    """The policy values a complaint workflow's timers use."""

    escalation: list[EscalationStep]
    keep_open_after_close_days: int
    # Continue as new past this many history events, well before Temporal's limits.
    history_limit: int = 5_000


class FollowCalendar(_Model):
    """A pass of the calendar watch: `everything` looks at every open case even when
    the calendar did not change; `dry_run` records nothing."""

    everything: bool = False
    dry_run: bool = False


class Moved(_Model):
    receipt_code: str
    kind: str
    previous_due: datetime
    new_due: datetime


class CalendarReport(_Model):
    """What a pass of the calendar watch found and moved."""

    at: datetime
    change: int | None  # the calendar change recounted, if any
    moved: list[Moved]
    error: str | None = None  # the override file could not be read: the last good one counts


class SweepInput(_Model):
    """When the retention sweep counts from; the workflow's clock when unset."""

    as_of: AwareDatetime | None = None


class SweepResult(_Model):
    as_of: datetime
    erased: list[str]


class ReconcileRequest(_Model):
    """`dry_run`: list what diverges, change nothing."""

    dry_run: bool = False


class Divergence(_Model):
    """One case (or workflow) where the event store and Temporal disagree."""

    workflow_id: str
    receipt_code: str | None
    # missing, terminated, failed, timed_out, completed, canceled; or, for a running
    # workflow, no_case (nothing in the store), case_closed or case_withdrawn (the
    # store has the case ended, the workflow's own view has not).
    found: str
    action: Literal["restored", "would restore", "held", "replaced", "would replace", "reported"]


class ReconcileReport(_Model):
    at: datetime
    open_cases: int
    running: int
    divergences: list[Divergence]
    # Booked appointments whose workflow was found gone and started again.
    appointments_restarted: list[str] = Field(default_factory=list)


class AppointmentView(_Model):
    """What an appointment's workflow needs: its clock, never the resident's data."""

    appointment_id: str
    kind: str
    start: AwareDatetime
    staff: str
    status: str  # booked, done, no_show
    reminder_at: AwareDatetime
    outcome_due_at: AwareDatetime
    # When it was booked or last moved: a reminder due before that is not sent (the
    # notice of the booking stood in for it).
    changed_at: AwareDatetime
    # The notices' command ids already recorded as sent.
    sent: list[str] = Field(default_factory=list)


AppointmentNoticeKind = Literal[
    "appointment_booked", "appointment_reminder", "appointment_reminder_staff",
    "appointment_outcome_due",
]  # fmt: skip


class AppointmentNotice(_Model):
    appointment_id: str
    kind: AppointmentNoticeKind
    recipient: str  # "resident" or a staff id
    command_id: str


class SurveyPlan(_Model):
    """A year's survey as the policy and the store have it, for its workflow."""

    year: int
    auto_start: bool
    start_at: AwareDatetime
    due_at: AwareDatetime
    open_days: int
    started: bool = False
    closes_at: AwareDatetime | None = None
    closed: bool = False
    invitations: int = 0
    warned: bool = False


class SurveyBatch(_Model):
    year: int
    offset: int
    limit: int
