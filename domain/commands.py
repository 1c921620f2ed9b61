"""The command registry: every action on a case, declared once.

An action is a pydantic model. Its `type` literal is its one name: the `minwon`
subcommand, the API route segment (`POST /api/staff/cases/{code}/{name}`), the
discriminator of the workflow update `act`, and the key of its permission. The
model's fields are the input (validated the same way on every path); its
`rule` says who may run it (decided by `domain.access.authorize`); its `apply`
is the typed handler that runs the aggregate's command. Adding an action is one
class here, listed in `ACTIONS`, plus the aggregate's command and event.

The names are the ones recorded in workflow histories since the first release,
so histories replay unchanged. The aggregate's own command names (its methods)
and stored event classes are untouched: stored topics and chain digests load and
verify as they always did.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from domain.access import (
    DIRECTOR,
    OFFICER,
    OPS,
    STAFF,
    Rule,
)

if TYPE_CHECKING:
    from application.service import Complaints
    from domain.complaint import Complaint

# -- field types shared by every path ---------------------------------------------------------

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


# Personal text the API sealed under the person's key for its way through Temporal
# (privacy.transit): checked as text before it was sealed, opened by the activity.
SEALED_TEXT = "sealed-text-v1:"


def _sealed_or_checked(value: Any, check: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, str) and value.startswith(SEALED_TEXT):
        return value
    return check(value)


PASS_SEALED = WrapValidator(_sealed_or_checked)
Text = Annotated[
    str, Field(min_length=1, max_length=10_000), AfterValidator(_clean_text), PASS_SEALED
]
ShortText = Annotated[
    str, Field(min_length=1, max_length=2_000), AfterValidator(_clean_text), PASS_SEALED
]
Note = Annotated[str, Field(max_length=2_000), PASS_SEALED]
StaffId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
PolicyName = Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]
# Who recorded an action: a staff id, or the engine itself (its timers).
SYSTEM = "system"


@dataclass(frozen=True)
class Run:
    """What every handler gets besides its input: the service, business time, the id
    that makes a retried command count once."""

    service: Complaints
    at: datetime
    command_id: str


class Action(BaseModel):
    """A staff, ops or timer action on one case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Set from the `type` literal: the action's one name.
    name: ClassVar[str]
    doc: ClassVar[str]
    rule: ClassVar[Rule]
    # Recorded by the case's own workflow (its timers, its notices), never sent in.
    internal: ClassVar[bool] = False
    # The field naming who acts: filled from the authenticated actor on every path.
    actor_field: ClassVar[str | None] = "by"

    # The fields holding personal text, sealed under the person's key in transit.
    personal: ClassVar[tuple[str, ...]] = ()

    # The API's signed word for the actor and the case (workflows.actor_proof);
    # histories recorded before it carry none.
    proof: str | None = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields.get("type")
        if field is not None:
            cls.name = str(field.default)

    @property
    def actor(self) -> str:
        """Who this action names as acting; the engine for its own timers."""
        if self.actor_field is None:
            return SYSTEM
        value = getattr(self, self.actor_field)
        return str(value) if value else ""

    @property
    def command(self) -> str:
        """The aggregate's command this action runs (its rules are keyed by it)."""
        return self.rule.command

    def apply(self, case: Complaint, run: Run) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no handler")

    @classmethod
    def input_fields(cls) -> dict[str, Any]:
        """The fields a caller fills in: all but the name and the actor."""
        return {
            name: info
            for name, info in cls.model_fields.items()
            if name not in ("type", "proof", cls.actor_field)
        }


def rule_of(command: str, *roles: str, case_bound: bool = False) -> Rule:
    """Who may run `command`: any of `roles` on the day (domain.access.authorize)."""
    return Rule(command=command, roles=frozenset(roles), case_bound=case_bound)


class Assign(Action):
    doc: ClassVar[str] = "assign or reassign a case"
    rule: ClassVar[Rule] = rule_of("assign", OPS, OFFICER, DIRECTOR)
    type: Literal["assign"] = "assign"
    staff: StaffId = Field(description="the staff member who takes the case")
    role: PolicyName = Field(default="staff", description="the role they take it in")
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        case.assign(
            staff=self.staff, role=self.role, by=self.by, at=run.at, command_id=run.command_id
        )


class TakeMessage(Action):
    doc: ClassVar[str] = "take a message for an absent colleague (promised callback)"
    personal: ClassVar[tuple[str, ...]] = ("note",)
    # Any colleague may take a message for someone absent (가.④).
    rule: ClassVar[Rule] = rule_of("take_message", STAFF)
    actor_field: ClassVar[str | None] = "taken_by"
    type: Literal["take_message"] = "take_message"
    for_staff: StaffId = Field(description="the absent staff member")
    taken_by: StaffId
    callback_by: AwareDatetime = Field(description="when they will call back (promised)")
    note: Note = Field(default="", description="what the message says")

    def apply(self, case: Complaint, run: Run) -> None:
        case.take_message(
            for_staff=self.for_staff,
            taken_by=self.taken_by,
            callback_by=self.callback_by,
            note=self.note,
            at=run.at,
            command_id=run.command_id,
        )
        run.service.start_callback(case, self.callback_by, run.at, run.command_id)


class SendInterimReply(Action):
    doc: ClassVar[str] = "send an interim reply (중간회신) with the reason and a new date"
    rule: ClassVar[Rule] = rule_of("send_interim_reply", STAFF, case_bound=True)
    type: Literal["interim_reply"] = "interim_reply"
    kind: PolicyName = Field(default="reply", description="the commitment it extends")
    reason: ShortText = Field(description="why it takes longer")
    new_due: AwareDatetime = Field(description="when to expect the answer")
    consent: Literal["phone", "writing"] | None = Field(
        default=None,
        description="how the resident agreed to a further extension (needed past the first)",
    )
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        run.service.send_interim_reply(
            case,
            consent=self.consent,
            kind=self.kind,
            reason=self.reason,
            new_due=self.new_due,
            by=self.by,
            at=run.at,
            command_id=run.command_id,
        )


class Answer(Action):
    doc: ClassVar[str] = "answer the complainant"
    personal: ClassVar[tuple[str, ...]] = ("text",)
    rule: ClassVar[Rule] = rule_of("answer_case", STAFF, case_bound=True)
    type: Literal["answer"] = "answer"
    text: Text = Field(description="the answer (encrypted)")
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        case.answer_case(text=self.text, by=self.by, at=run.at, command_id=run.command_id)


class CallBack(Action):
    doc: ClassVar[str] = "record the promised call back to the resident: keeps the callback"
    personal: ClassVar[tuple[str, ...]] = ("note",)
    rule: ClassVar[Rule] = rule_of("call_back", STAFF, case_bound=True)
    type: Literal["call_back"] = "call_back"
    note: Note = Field(default="", description="what was said (encrypted)")
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        case.call_back(note=self.note, by=self.by, at=run.at, command_id=run.command_id)


class RecordFinding(Action):
    doc: ClassVar[str] = "record the investigation's finding"
    personal: ClassVar[tuple[str, ...]] = ("finding",)
    rule: ClassVar[Rule] = rule_of("conclude_investigation", OFFICER, DIRECTOR)
    type: Literal["finding"] = "finding"
    fault_confirmed: StrictBool = Field(description="was staff at fault?")
    finding: Text = Field(description="what the investigation found (encrypted)")
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        case.conclude_investigation(
            fault_confirmed=self.fault_confirmed,
            finding=self.finding,
            by=self.by,
            at=run.at,
            command_id=run.command_id,
        )


class RecordApology(Action):
    doc: ClassVar[str] = "record an apology (in person, phone or public)"
    personal: ClassVar[tuple[str, ...]] = ("note",)
    rule: ClassVar[Rule] = rule_of("make_apology", OFFICER, DIRECTOR, STAFF, case_bound=True)
    type: Literal["apology"] = "apology"
    mode: Literal["in_person", "phone", "public"] = Field(description="how it was made")
    by: StaffId
    note: Note = ""

    def apply(self, case: Complaint, run: Run) -> None:
        case.make_apology(
            mode=self.mode, by=self.by, note=self.note, at=run.at, command_id=run.command_id
        )


class RecordCorrectiveAction(Action):
    doc: ClassVar[str] = "record a warning or training for a staff member"
    # 나.② the officer decides a warning or training for a staff member.
    rule: ClassVar[Rule] = rule_of("record_corrective_action", OFFICER)
    type: Literal["corrective_action"] = "corrective_action"
    staff: StaffId = Field(description="the staff member it concerns")
    action: Literal["warning", "training"]
    by: StaffId
    note: Note = ""

    def apply(self, case: Complaint, run: Run) -> None:
        case.record_corrective_action(
            staff=self.staff,
            action=self.action,
            by=self.by,
            note=self.note,
            at=run.at,
            command_id=run.command_id,
        )


class Announce(Action):
    doc: ClassVar[str] = "announce the result publicly (never a private case)"
    rule: ClassVar[Rule] = rule_of("announce_result", OFFICER, DIRECTOR, OPS)
    type: Literal["announce"] = "announce"
    summary: ShortText = Field(description="the anonymised result")
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        case.announce_result(summary=self.summary, by=self.by, at=run.at, command_id=run.command_id)


class DeclineAnnouncement(Action):
    doc: ClassVar[str] = "record a decision not to announce the result, with the reason"
    rule: ClassVar[Rule] = rule_of("decline_announcement", OFFICER, DIRECTOR, OPS)
    type: Literal["decline_announcement"] = "decline_announcement"
    reason: ShortText = Field(description="why the result is not announced")
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        case.decline_announcement(
            reason=self.reason, by=self.by, at=run.at, command_id=run.command_id
        )


class Reopen(Action):
    doc: ClassVar[str] = "reopen an answered or closed case"
    rule: ClassVar[Rule] = rule_of("reopen", STAFF, OFFICER, DIRECTOR, case_bound=True)
    type: Literal["reopen"] = "reopen"
    reason: ShortText
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        case.reopen(reason=self.reason, by=self.by, at=run.at, command_id=run.command_id)
        run.service.restart_clocks(case, self.by, run.at, run.command_id)


class Withdraw(Action):
    doc: ClassVar[str] = "withdraw a case"
    rule: ClassVar[Rule] = rule_of("withdraw", STAFF, case_bound=True)
    type: Literal["withdraw"] = "withdraw"
    reason: ShortText
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        case.withdraw(reason=self.reason, by=self.by, at=run.at, command_id=run.command_id)


class Close(Action):
    doc: ClassVar[str] = "close an answered case"
    rule: ClassVar[Rule] = rule_of("close", STAFF, case_bound=True)
    type: Literal["close"] = "close"
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        case.close(by=self.by, at=run.at, command_id=run.command_id)
        run.service.start_announcement(case, run.at, run.command_id)


class Escalate(Action):
    """Escalate one level up the policy's chain; `trigger` says why."""

    doc: ClassVar[str] = "escalate one level up the chain, with a reason"
    rule: ClassVar[Rule] = rule_of("escalate", OPS, OFFICER, DIRECTOR)
    type: Literal["escalate"] = "escalate"
    reason: ShortText
    by: StaffId
    trigger: Literal["manual", "deadline"] = "manual"

    @classmethod
    def input_fields(cls) -> dict[str, Any]:
        # A person escalates by hand; the deadline trigger is the workflow's own.
        fields = super().input_fields()
        fields.pop("trigger")
        return fields

    def apply(self, case: Complaint, run: Run) -> None:
        target = run.service.escalation_target(case, run.at)
        case.escalate(
            to_role=target.role,
            to_staff=target.holder,
            reason=self.reason,
            by=self.by,
            trigger=self.trigger,
            at=run.at,
            command_id=run.command_id,
            levels=target.levels,
            act_by=target.act_by,
            act_counting=target.act_counting,
        )


class RateSatisfaction(Action):
    doc: ClassVar[str] = "record the complainant's satisfaction (1-5)"
    personal: ClassVar[tuple[str, ...]] = ("comment",)
    rule: ClassVar[Rule] = rule_of("rate_satisfaction", STAFF, case_bound=True)
    type: Literal["rate"] = "rate"
    score: Annotated[StrictInt, Field(ge=1, le=5)]
    comment: Note = ""
    # Histories recorded before the actor was checked on every path carry none.
    by: StaffId | None = None

    def apply(self, case: Complaint, run: Run) -> None:
        case.rate_satisfaction(
            score=self.score, comment=self.comment, at=run.at, command_id=run.command_id
        )


class AddNote(Action):
    doc: ClassVar[str] = "add a working note (처리 메모): kept with the case, never sent"
    personal: ClassVar[tuple[str, ...]] = ("text",)
    rule: ClassVar[Rule] = rule_of("add_note", STAFF, case_bound=True)
    type: Literal["note"] = "note"
    text: ShortText = Field(description="the note (encrypted)")
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        case.add_note(text=self.text, by=self.by, at=run.at, command_id=run.command_id)


class RecordAppointment(Action):
    doc: ClassVar[str] = "record on the case how an appointment about it went"
    # Whoever recorded the appointment's outcome (domain.appointment decides who may):
    # the action only copies that record onto the case, and is refused without it.
    rule: ClassVar[Rule] = rule_of("record_appointment", STAFF)
    type: Literal["record_appointment"] = "record_appointment"
    appointment_id: str = Field(description="the appointment, with its outcome recorded")
    by: StaffId

    def apply(self, case: Complaint, run: Run) -> None:
        run.service.appointments.copy_outcome_to(
            case, self.appointment_id, by=self.by, at=run.at, command_id=run.command_id
        )


# -- recorded by the workflow itself --------------------------------------------------------


class Warn(Action):
    doc: ClassVar[str] = "warn the assignee that a deadline is near"
    rule: ClassVar[Rule] = rule_of("warn")
    internal: ClassVar[bool] = True
    actor_field: ClassVar[str | None] = None
    type: Literal["warn"] = "warn"
    kind: str

    def apply(self, case: Complaint, run: Run) -> None:
        case.warn(kind=self.kind, at=run.at, command_id=run.command_id)


class Breach(Action):
    doc: ClassVar[str] = "record a missed deadline"
    rule: ClassVar[Rule] = rule_of("breach")
    internal: ClassVar[bool] = True
    actor_field: ClassVar[str | None] = None
    type: Literal["breach"] = "breach"
    kind: str

    def apply(self, case: Complaint, run: Run) -> None:
        case.breach(kind=self.kind, at=run.at, command_id=run.command_id)


class Recount(Action):
    """The calendar changed: count the case's open commitments again."""

    doc: ClassVar[str] = "count open commitments again after a calendar change"
    rule: ClassVar[Rule] = rule_of("reschedule")
    internal: ClassVar[bool] = True
    actor_field: ClassVar[str | None] = None
    type: Literal["recount"] = "recount"
    # The days off the change added and removed (ISO date → reason).
    added: dict[str, str] = Field(default_factory=dict)
    removed: dict[str, str] = Field(default_factory=dict)

    def apply(self, case: Complaint, run: Run) -> None:
        run.service.recount(
            case, added=self.added, removed=self.removed, at=run.at, command_id=run.command_id
        )


class RecordNoticeFailed(Action):
    """Recorded by the workflow when a notice ran out of retries."""

    doc: ClassVar[str] = "record a notice that could not be delivered"
    rule: ClassVar[Rule] = rule_of("record_notice_failed")
    internal: ClassVar[bool] = True
    actor_field: ClassVar[str | None] = None
    type: Literal["notice_failed"] = "notice_failed"
    kind: str
    recipient: str
    reason: str

    def apply(self, case: Complaint, run: Run) -> None:
        case.record_notice_failed(
            kind=self.kind,
            recipient=self.recipient,
            reason=self.reason,
            at=run.at,
            command_id=run.command_id,
        )


class RecordCommand(BaseModel):
    """A command on a record beside the cases (the survey, an appointment, the staff's
    conduct): its one name, what it does, who may run it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]
    doc: ClassVar[str]
    rule: ClassVar[Rule]


class RequestCommand(RecordCommand):
    """A command that creates or changes a record: `request_id` makes one sent again
    count once."""

    request_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="the client's id for this request: sent again, it records nothing twice",
    )


AnyAction = Annotated[
    Assign
    | TakeMessage
    | SendInterimReply
    | Answer
    | CallBack
    | RecordFinding
    | RecordApology
    | RecordCorrectiveAction
    | Announce
    | DeclineAnnouncement
    | Reopen
    | Withdraw
    | Close
    | Escalate
    | RateSatisfaction
    | AddNote
    | RecordAppointment
    | Warn
    | Breach
    | Recount
    | RecordNoticeFailed,
    Field(discriminator="type"),
]

# Every action by its one name, in the order the CLI and the pages list them.
ACTIONS: dict[str, type[Action]] = {model.name: model for model in get_args(get_args(AnyAction)[0])}
# What people may send in; the rest are the workflow's own.
STAFF_ACTIONS: dict[str, type[Action]] = {
    name: model for name, model in ACTIONS.items() if not model.internal
}


def with_actor(model: type[Action], fields: dict[str, Any], actor: str) -> Action:
    """The action `model` with `fields` as given and the authenticated `actor` as its
    actor, whatever the caller wrote there."""
    values = {k: v for k, v in fields.items() if k not in ("type", "proof", model.actor_field)}
    if model.actor_field is not None:
        values[model.actor_field] = actor
    return model.model_validate(values)
