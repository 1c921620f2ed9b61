"""What the HTTP API takes and gives: pydantic models, documented in its OpenAPI schema.

Inputs forbid unknown fields and reuse the workflow models' field types, so the
API refuses what the workflow would refuse, with the same messages, before
anything reaches Temporal. Outputs to residents carry no personal data beyond
what they submitted themselves; outputs to staff follow `web.desk`'s rules.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    create_model,
)

from domain.commands import STAFF_ACTIONS, Action
from workflows.models import CHANNELS, CaseView, Channel, ShortText, StaffId, Text

__all__ = ["CHANNELS"]

# As residents type it: any case, spaces or hyphens, O for 0, I or L for 1.
RECEIPT_PATTERN = r"^\s*[ -]*(?:[Mm][ -]*[Ww][ -]*)?(?:[0-9A-TV-Za-tv-z][ -]*){10}\s*$"
ReceiptCode = Annotated[
    str,
    Field(min_length=1, max_length=40, pattern=RECEIPT_PATTERN, examples=["MW-7K3QX-9PD2M"]),
]
Secret = Annotated[str, Field(min_length=1, max_length=40, examples=["4F7KD-Q2M9X"])]
PolicyName = Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]


def _contact(value: str) -> str:
    # Imported here: activities.notices pulls in the notice templates' machinery.
    from activities.channels import PermanentDeliveryError
    from activities.notices import resident_channel

    try:
        resident_channel(value)
    except PermanentDeliveryError:
        raise ValueError("give an e-mail address or a phone number (010-1234-5678)") from None
    return value.strip()


Contact = Annotated[
    str,
    Field(min_length=1, max_length=500, examples=["010-1234-5678"]),
    AfterValidator(_contact),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- residents ----------------------------------------------------------------------------

ResidentCategory = Literal["inquiry", "opinion", "unkind_service", "late_reply"]
ResidentTopic = Literal["intake", "program", "facility"]


class ComplaintSubmission(_In):
    """A complaint from the homepage (질문과 답변, 건의와 고충상담, 비공개상담)."""

    category: ResidentCategory = Field(
        default="inquiry",
        description=(
            "inquiry: 질문과 답변 (7일 이내 답변); opinion: 건의와 고충상담 (15일 이내); "
            "unkind_service: 불친절 신고; "
            "late_reply: 회신 지연·무성의 처리 신고 (with about_receipt_code)"
        ),
    )
    topic: ResidentTopic = Field(
        default="intake",
        description="for inquiries: intake 처음 상담, program 프로그램·서비스, facility 시설·견학",
    )
    private: StrictBool = Field(default=False, description="비공개상담: never announced")
    contact: Contact = Field(description="e-mail or phone, for the answer (encrypted)")
    text: Text = Field(description="the complaint in your words (encrypted)")
    about_receipt_code: ReceiptCode | None = Field(
        default=None, description="late_reply only: the receipt code of the case answered late"
    )


class Expectation(BaseModel):
    kind: str
    label: str = Field(description="what is promised, in Korean (답변, 처리 결과 안내 …)")
    due: datetime


class Handler(BaseModel):
    title: str
    phone: str


class Receipt(BaseModel):
    """What a resident gets on submitting: keep the receipt code AND the secret."""

    receipt_code: str
    secret: str = Field(description="shown only now; needed with the receipt code for status")
    category: str
    category_title: str
    private: bool
    received_at: datetime
    expectations: list[Expectation]
    handler: Handler | None
    message: str


class StatusLookup(_In):
    receipt_code: ReceiptCode
    secret: Secret


class CommitmentOut(BaseModel):
    kind: str
    label: str
    due: datetime
    status: Literal["open", "met", "breached", "cancelled"]
    status_label: str
    met_at: datetime | None = None


class InterimReplyOut(BaseModel):
    reason: str
    new_due: datetime
    at: datetime


class ApologyOut(BaseModel):
    mode: str
    at: datetime


class ResidentStatus(BaseModel):
    """A case as its resident may see it: no one else's data, nothing staff-internal."""

    receipt_code: str
    category: str
    category_title: str
    private: bool
    status: str
    status_label: str
    received_at: datetime
    commitments: list[CommitmentOut]
    interim_replies: list[InterimReplyOut]
    answer: str | None
    answered_at: datetime | None
    investigation_finding: str | None
    apologies: list[ApologyOut]
    closed_at: datetime | None
    handler: Handler | None


class DirectoryEntry(BaseModel):
    """A role residents deal with and who holds it today (헌장 가.①, 알 권리 가.)."""

    role: str
    role_title: str
    name: str | None = Field(description="the holder on the day; none while the role is open")
    title: str | None
    phone: str | None = Field(description="the desk phone; work addresses are not published")
    photo: str | None = Field(default=None, description="the photo's path, where there is one")
    duties: list[str] = Field(description="what comes to this role: topics and categories")


class ServiceGuide(BaseModel):
    """A kind of request, what the charter promises for it, how to apply, who handles it."""

    category: str
    title: str
    promises: list[str]
    apply_by: list[str]
    handled_by: str


class Directory(BaseModel):
    on: date
    staff: list[DirectoryEntry]
    services: list[ServiceGuide]


class PublicNoticeOut(BaseModel):
    number: str
    receipt_code: str
    category: str
    category_title: str
    summary: str | None
    announced_at: datetime | None
    public_apology: bool
    apologised_at: datetime | None


# -- staff ---------------------------------------------------------------------------------


class Me(BaseModel):
    staff: str
    name: str | None
    title: str | None
    roles: list[str]


class StaffFiled(BaseModel):
    case: CaseView
    secret: str = Field(description="give it to the resident with the receipt code")
    note: str | None = Field(
        default=None,
        description="why it was filed under another category than asked (a late-reply "
        "complaint about a case answered on time is an opinion)",
    )


class StaffFiling(_In):
    """A complaint staff take on any channel (visit, phone, mail …), as `minwon file`."""

    channel: Channel
    category: PolicyName
    topic: PolicyName = "intake"
    private: StrictBool = False
    contact: Annotated[str, Field(min_length=1, max_length=500)]
    text: Text
    linked_to: ReceiptCode | None = None
    received_at: AwareDatetime | None = Field(
        default=None,
        description="when it reached the center (a letter received earlier); default: now",
    )


class NoteOut(BaseModel):
    at: datetime
    by: str
    text: str


class PersonalData(BaseModel):
    """A case's personal data, for those who may see it; every read is access-logged."""

    receipt_code: str
    contact: str
    text: str
    notes: list[NoteOut]


class NoticeRecord(BaseModel):
    """One notice for a case: `outcome` is "sent", "failed" (given up on, `reason`
    says why) or "queued" (waiting in the notice outbox)."""

    kind: str
    recipient: str
    outcome: str
    channel: str | None = None
    reason: str | None = None
    at: datetime


class TokenRequest(_In):
    staff: StaffId
    days: Annotated[StrictInt, Field(ge=1, le=3660)] = 90


class IssuedToken(BaseModel):
    token: str = Field(description="shown only now: only its digest is stored")
    token_id: str
    staff: str
    roles: list[str]
    expires_at: datetime


class TokenRevoked(BaseModel):
    token_id: str
    staff: str
    revoked_at: datetime


class ErasureRequest(_In):
    """Whose data to erase: one of a pseudonym, the contact they gave, or a case they filed."""

    person: Annotated[str, Field(pattern=r"^p-[0-9a-f]{8,64}$")] | None = None
    contact: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    case: ReceiptCode | None = None
    reason: ShortText


class ErasureDone(BaseModel):
    person: str
    cases: int


def _body(model: type[Action]) -> type[_In]:
    """What a caller sends for an action: its input fields, not its name or actor."""
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in model.input_fields().items()
    }
    body: type[_In] = create_model(
        f"{model.__name__}Body",
        __base__=_In,
        __doc__=model.doc,
        **fields,
    )
    return body


# The body of each staff action, by its one name (the registry's).
ACTION_BODIES: dict[str, type[_In]] = {name: _body(model) for name, model in STAFF_ACTIONS.items()}


class CommitmentClock(BaseModel):
    kind: str
    label: str
    status: str
    started_at: datetime
    due: datetime
    original_due: datetime
    warn_at: datetime
    # How far ahead of the due the warning comes, counted in "working" or "clock"
    # hours (commitments recorded before working time counted have no hours).
    warn_hours: float | None = None
    warn_counting: str = "clock"
    warned: bool
    extensions: int
    max_extensions: int
    max_consented_extensions: int = 0
    # The latest new due an interim reply may set now (the calendar's count).
    extend_until: datetime | None = None
    met_at: datetime | None
    breached_at: datetime | None
    overdue: bool


class HistoryEntry(BaseModel):
    version: int
    moment: datetime
    event: str
    actor: str
    details: dict[str, Any]


class CaseDetail(BaseModel):
    """A case as a staff member sees it; contact and text only for those who handle it."""

    receipt_code: str
    case_id: str
    category: str
    category_title: str
    channel: str
    topic: str
    private: bool
    status: str
    status_label: str
    received_at: datetime
    assignee: str | None
    assignee_role: str | None
    contact: str
    text: str
    personal_data_shown: bool
    clocks: list[CommitmentClock]
    escalations: list[dict[str, Any]]
    investigation: str
    apology_required: bool
    answer: str | None
    history: list[HistoryEntry]
    allowed_actions: list[str] = Field(
        description="the actions this staff member's roles allow on this case (the case's "
        "own state may still refuse one)"
    )


class QueueItem(BaseModel):
    receipt_code: str
    category: str
    status: str
    assignee: str | None
    next_due: datetime | None
    escalated: bool
    overdue: bool
    due_soon: bool


class OpsOverview(BaseModel):
    now: datetime
    overdue: list[QueueItem]
    escalated: list[QueueItem]


class BulkEscalation(_In):
    reason: ShortText
    overdue: StrictBool = False
    category: PolicyName | None = None
    assignee: StaffId | None = None


class BulkOutcomeOut(BaseModel):
    workflow_id: str
    receipt_code: str | None
    escalated: bool
    error: str | None


class BulkResult(BaseModel):
    matched: int
    escalated: int
    outcomes: list[BulkOutcomeOut]
