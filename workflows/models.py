"""What crosses the Temporal boundary: workflow input, updates, activity I/O.

Every model is pydantic, so bad input is refused with a field-by-field message
before it reaches a workflow's history. No model carries personal data except
`FileComplaintInput` (contact, text), which travels encrypted by the payload codec.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

Channel = Literal["visit", "phone", "mail", "fax", "email", "homepage", "outreach"]
CHANNELS: tuple[str, ...] = get_args(Channel)

# Control characters garble notices and logs; tabs and line breaks are kept.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("contains control characters")
    # Residents type on many devices; NFC makes 한글 typed as jamo compare equal.
    value = unicodedata.normalize("NFC", value)
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Text = Annotated[str, Field(min_length=1, max_length=10_000), AfterValidator(_clean_text)]
ShortText = Annotated[str, Field(min_length=1, max_length=2_000), AfterValidator(_clean_text)]
Note = Annotated[str, Field(max_length=2_000)]
StaffId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
IntakeRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileComplaintInput(_Model):
    """A new complaint. `intake_ref` names the case for good; it is never personal data."""

    intake_ref: IntakeRef
    channel: Channel
    category: Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]
    topic: Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")] = "intake"
    private: bool = False
    contact: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_clean_text)]
    text: Text
    received_at: AwareDatetime | None = None
    linked_to: str | None = None


# -- staff and ops actions (update inputs) --------------------------------------------


class Action(_Model):
    """A staff or ops action; `command` is the Complaints service command it runs."""

    command: ClassVar[str]


class Assign(Action):
    command: ClassVar[str] = "assign"
    type: Literal["assign"] = "assign"
    staff: StaffId
    role: str = "staff"
    by: StaffId


class TakeMessage(Action):
    command: ClassVar[str] = "take_message"
    type: Literal["take_message"] = "take_message"
    for_staff: StaffId
    taken_by: StaffId
    callback_by: AwareDatetime
    note: Note = ""


class SendInterimReply(Action):
    command: ClassVar[str] = "send_interim_reply"
    type: Literal["interim_reply"] = "interim_reply"
    kind: str = "reply"
    reason: ShortText
    new_due: AwareDatetime
    by: StaffId


class Answer(Action):
    command: ClassVar[str] = "answer_case"
    type: Literal["answer"] = "answer"
    text: Text
    by: StaffId


class RecordFinding(Action):
    command: ClassVar[str] = "conclude_investigation"
    type: Literal["finding"] = "finding"
    fault_confirmed: bool
    finding: Text
    by: StaffId


class RecordApology(Action):
    command: ClassVar[str] = "make_apology"
    type: Literal["apology"] = "apology"
    mode: Literal["in_person", "phone", "public"]
    by: StaffId
    note: Note = ""


class RecordCorrectiveAction(Action):
    command: ClassVar[str] = "record_corrective_action"
    type: Literal["corrective_action"] = "corrective_action"
    staff: StaffId
    action: Literal["warning", "training"]
    by: StaffId
    note: Note = ""


class Announce(Action):
    command: ClassVar[str] = "announce_result"
    type: Literal["announce"] = "announce"
    summary: ShortText
    by: StaffId


class Reopen(Action):
    command: ClassVar[str] = "reopen"
    type: Literal["reopen"] = "reopen"
    reason: ShortText
    by: StaffId


class Withdraw(Action):
    command: ClassVar[str] = "withdraw"
    type: Literal["withdraw"] = "withdraw"
    reason: ShortText
    by: StaffId


class Close(Action):
    command: ClassVar[str] = "close"
    type: Literal["close"] = "close"
    by: StaffId


class Escalate(Action):
    """Escalate one level up the policy's chain; `trigger` says why."""

    command: ClassVar[str] = "escalate"
    type: Literal["escalate"] = "escalate"
    reason: ShortText
    by: StaffId
    trigger: Literal["manual", "deadline"] = "manual"


class RateSatisfaction(Action):
    command: ClassVar[str] = "rate_satisfaction"
    type: Literal["rate"] = "rate"
    score: Annotated[int, Field(ge=1, le=5)]
    comment: Note = ""


class AddNote(Action):
    command: ClassVar[str] = "add_note"
    type: Literal["note"] = "note"
    text: ShortText
    by: StaffId


class RecordNoticeFailed(Action):
    """Recorded by the workflow when a notice ran out of retries."""

    command: ClassVar[str] = "record_notice_failed"
    type: Literal["notice_failed"] = "notice_failed"
    kind: str
    recipient: str
    reason: str


class Warn(Action):
    command: ClassVar[str] = "warn"
    type: Literal["warn"] = "warn"
    kind: str


class Breach(Action):
    command: ClassVar[str] = "breach"
    type: Literal["breach"] = "breach"
    kind: str


AnyAction = Annotated[
    Assign
    | TakeMessage
    | SendInterimReply
    | Answer
    | RecordFinding
    | RecordApology
    | RecordCorrectiveAction
    | Announce
    | Reopen
    | Withdraw
    | Close
    | Escalate
    | RateSatisfaction
    | AddNote
    | Warn
    | Breach
    | RecordNoticeFailed,
    Field(discriminator="type"),
]


class CaseCommand(_Model):
    """Activity input: run `action` on the case at business time `at`, once."""

    case_id: str
    at: AwareDatetime
    command_id: str
    action: AnyAction


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


class EscalationView(_Model):
    level: int
    to_role: str
    to_staff: str | None
    trigger: Literal["deadline", "manual"]
    at: datetime


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


class EscalationStep(_Model):
    role: str
    act_within_hours: float | None


class WorkflowPolicy(_Model):
    """The policy values a complaint workflow's timers use."""

    escalation: list[EscalationStep]
    keep_open_after_close_days: int
    # Continue as new past this many history events, well before Temporal's limits.
    history_limit: int = 5_000


class SweepInput(_Model):
    """When the retention sweep counts from; the workflow's clock when unset."""

    as_of: AwareDatetime | None = None


class SweepResult(_Model):
    as_of: datetime
    erased: list[str]
