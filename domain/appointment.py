"""Appointments: a visit to the center booked ahead, or a home visit agreed by phone.

이용자를 맞이하는 자세 나.④: a resident who must come in gets a day, a time and a staff
member booked ahead. 라.① a home visit is made only after its purpose and time were
agreed with the resident by phone; 라.② the resident is given the visiting staff
member's contact. Each appointment is an aggregate of its own, hash-chained like a
case; the resident's contact, the purpose and the address are sealed under the
resident's key (the same key as their cases, so an erasure reaches them too).

Its clock (workflows.appointment): the resident is told the booking with the staff
member's contact, resident and staff are reminded at 10:00 the day before, and the
staff member is asked for the outcome at the end of the day of the visit if none was
recorded. Outcomes: done, no-show; a moved appointment is reminded again for its new
time. An outcome is recorded on the linked case too, when there is one.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, ClassVar, Literal

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import event
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic
from pydantic import AwareDatetime, Field

from domain.access import DIRECTOR, OFFICER, OPS, STAFF, Rule
from domain.calendar import to_seoul
from domain.chain import GENESIS
from domain.chained import ChainedAggregate
from domain.commands import RequestCommand, ShortText, StaffId, Text, rule_of

if TYPE_CHECKING:
    from application.service import Complaints
    from domain.complaint import Complaint

APPOINTMENT_NAMESPACE = uuid.UUID("9c4d7a1e-3b52-4f08-a6d9-1e7f2c8b5a30")
KINDS = ("visit", "home")
OUTCOMES = ("done", "no_show")
REMINDER_TIME = time(10, 0)
# When the day of the visit is over without an outcome, its staff member is asked.
OUTCOME_DUE_TIME = time(18, 0)
MAX_MINUTES = 8 * 60


class AppointmentError(ValueError):
    """An appointment refused by its rules; nothing was recorded."""


def reminder_at(start: datetime) -> datetime:
    """10:00 (Seoul) the day before the appointment."""
    local = to_seoul(start)
    return datetime.combine(local.date() - timedelta(days=1), REMINDER_TIME, local.tzinfo)


def outcome_due_at(start: datetime, minutes: int) -> datetime:
    """18:00 of the visit's day, or its end if later."""
    local = to_seoul(start)
    end_of_day = datetime.combine(local.date(), OUTCOME_DUE_TIME, local.tzinfo)
    return max(end_of_day, local + timedelta(minutes=minutes))


@dataclass(frozen=True)
class PhoneAgreement:
    """라.①: when the purpose and time were agreed with the resident, and by whom."""

    called_at: datetime
    by: str


class Appointment(ChainedAggregate):
    """One booked visit, its moves, the notices sent about it, and its outcome."""

    @staticmethod
    def create_id(request_id: str) -> uuid.UUID:
        return uuid.uuid5(APPOINTMENT_NAMESPACE, request_id)

    @classmethod
    def book(
        cls,
        *,
        request_id: str,
        kind: str,
        start: datetime,
        minutes: int,
        staff: str,
        purpose: str,
        contact: str,
        address: str,
        person_id: str,
        case_id: str | None,
        receipt_code: str | None,
        agreement: PhoneAgreement | None,
        by: str,
        at: datetime,
    ) -> Appointment:
        _check_time(kind, start, minutes, agreement, at)
        if kind == "home" and not address.strip():
            raise AppointmentError("a home visit needs the address to visit")
        return cls(
            request_id=request_id,
            kind=kind,
            start=to_seoul(start),
            minutes=minutes,
            staff=staff,
            purpose=purpose,
            contact=contact,
            address=address if kind == "home" else "",
            person_id=person_id,
            case_id=case_id,
            receipt_code=receipt_code,
            agreed_by_phone_at=to_seoul(agreement.called_at) if agreement else None,
            agreed_by=agreement.by if agreement else None,
            by=by,
            at=to_seoul(at),
            prev_digest=GENESIS,
        )

    @event("Booked")
    def __init__(
        self,
        request_id: str,
        kind: str,
        start: datetime,
        minutes: int,
        staff: str,
        purpose: str,
        contact: str,
        address: str,
        person_id: str,
        case_id: str | None,
        receipt_code: str | None,
        agreed_by_phone_at: datetime | None,
        agreed_by: str | None,
        by: str,
        at: datetime,
        prev_digest: str,
    ) -> None:
        self.kind, self.start, self.minutes = kind, start, minutes
        self.staff, self.purpose = staff, purpose
        self.contact, self.address = contact, address
        self.person_id = person_id
        self.case_id, self.receipt_code = case_id, receipt_code
        self.agreed_by_phone_at, self.agreed_by = agreed_by_phone_at, agreed_by
        self.booked_by, self.booked_at = by, at
        self.moves: list[dict[str, object]] = []
        self.notices: list[dict[str, object]] = []
        self.command_ids: set[str] = set()
        self.outcome: str | None = None
        self.outcome_by: str | None = None
        self.outcome_note = ""

    @property
    def status(self) -> str:
        return self.outcome or "booked"

    @property
    def reminder_at(self) -> datetime:
        return reminder_at(self.start)

    @property
    def outcome_due_at(self) -> datetime:
        return outcome_due_at(self.start, self.minutes)

    def _open(self) -> None:
        if self.outcome is not None:
            raise AppointmentError(f"the appointment is over ({self.outcome})")

    def move(
        self,
        *,
        start: datetime,
        reason: str,
        agreement: PhoneAgreement | None,
        by: str,
        at: datetime,
    ) -> None:
        """A new time; a home visit's new time is agreed by phone again (라.①)."""
        self._open()
        _check_time(self.kind, start, self.minutes, agreement, at)
        if to_seoul(start) == self.start:
            raise AppointmentError("the appointment is already at that time")
        self._moved(
            start=to_seoul(start),
            reason=reason,
            agreed_by_phone_at=to_seoul(agreement.called_at) if agreement else None,
            agreed_by=agreement.by if agreement else None,
            by=by,
            at=to_seoul(at),
        )

    @event("Moved")
    def _moved(
        self,
        start: datetime,
        reason: str,
        agreed_by_phone_at: datetime | None,
        agreed_by: str | None,
        by: str,
        at: datetime,
    ) -> None:
        self.moves.append({"from": self.start, "to": start, "by": by, "at": at})
        self.start = start
        if agreed_by_phone_at is not None:
            self.agreed_by_phone_at, self.agreed_by = agreed_by_phone_at, agreed_by

    def record_outcome(self, *, outcome: str, note: str, by: str, at: datetime) -> bool:
        """Done or no-show; False when this very outcome was recorded before."""
        if outcome not in OUTCOMES:
            raise AppointmentError(f"an outcome is {' or '.join(OUTCOMES)}")
        if self.outcome is not None:
            if self.outcome == outcome:
                return False
            raise AppointmentError(f"the outcome was already recorded: {self.outcome}")
        if to_seoul(at) < self.start:
            raise AppointmentError(
                f"the appointment is at {self.start.isoformat(timespec='minutes')}: "
                "its outcome is recorded once it began (move it instead)"
            )
        self._outcome_recorded(outcome=outcome, note=note, by=by, at=to_seoul(at))
        return True

    @event("OutcomeRecorded")
    def _outcome_recorded(self, outcome: str, note: str, by: str, at: datetime) -> None:
        self.outcome, self.outcome_note, self.outcome_by = outcome, note, by

    def already_done(self, command_id: str) -> bool:
        return command_id in self.command_ids

    def record_notice_sent(
        self, *, kind: str, channel: str, recipient: str, at: datetime, command_id: str
    ) -> None:
        """A notice went out: the record a retried send looks for first."""
        if self.already_done(command_id):
            return
        self._notice_sent(
            kind=kind, channel=channel, recipient=recipient, at=to_seoul(at), command_id=command_id
        )

    @event("NoticeSent")
    def _notice_sent(
        self, kind: str, channel: str, recipient: str, at: datetime, command_id: str
    ) -> None:
        self.notices.append({"kind": kind, "channel": channel, "recipient": recipient, "at": at})
        self.command_ids.add(command_id)


def _check_time(
    kind: str, start: datetime, minutes: int, agreement: PhoneAgreement | None, at: datetime
) -> None:
    if kind not in KINDS:
        raise AppointmentError(f"an appointment is a {' or a '.join(KINDS)}")
    if not 0 < minutes <= MAX_MINUTES:
        raise AppointmentError(f"an appointment lasts 1 to {MAX_MINUTES} minutes")
    if start <= at:
        raise AppointmentError("an appointment is booked ahead: its time has passed")
    if kind == "home":
        if agreement is None:
            raise AppointmentError(
                "a home visit is booked only after its purpose and time were agreed with "
                "the resident by phone (라.①): record when (--agreed-by-phone-at)"
            )
        if agreement.called_at > at:
            raise AppointmentError("the phone agreement is in the future")


# -- the commands (one name each; who may run them is their rule) ------------------------------


class BookAppointment(RequestCommand):
    name: ClassVar[str] = "book_appointment"
    doc: ClassVar[str] = "book a visit to the center or a home visit (나.④, 라.①②)"
    # Any staff member books, for themselves or a colleague.
    rule: ClassVar[Rule] = rule_of("book_appointment", STAFF)
    kind: Literal["visit", "home"]
    start: AwareDatetime = Field(description="day and time of the visit")
    minutes: int = Field(default=60, ge=1, le=MAX_MINUTES)
    staff: StaffId = Field(description="who receives or visits the resident")
    purpose: ShortText = Field(description="what the visit is for (sealed)")
    contact: ShortText = Field(description="the resident's phone or e-mail (sealed)")
    address: ShortText | None = Field(default=None, description="a home visit's address (sealed)")
    receipt_code: str | None = Field(default=None, description="the case it is about, if any")
    agreed_by_phone_at: AwareDatetime | None = Field(
        default=None, description="a home visit: when purpose and time were agreed by phone"
    )


class MoveAppointment(RequestCommand):
    name: ClassVar[str] = "move_appointment"
    doc: ClassVar[str] = "move an appointment to a new time"
    rule: ClassVar[Rule] = rule_of("move_appointment", STAFF)
    start: AwareDatetime
    reason: ShortText
    agreed_by_phone_at: AwareDatetime | None = None


class RecordAppointmentOutcome(RequestCommand):
    name: ClassVar[str] = "appointment_outcome"
    doc: ClassVar[str] = "record how an appointment went: done or no-show"
    rule: ClassVar[Rule] = rule_of("appointment_outcome", STAFF)
    outcome: Literal["done", "no_show"]
    note: Text | None = Field(default=None, description="what came of it (sealed)")


# Who may change an appointment: its staff member, whoever booked it, or a supervisor.
APPOINTMENT_SUPERVISORS = frozenset({OFFICER, DIRECTOR, OPS})
APPOINTMENT_COMMANDS: dict[str, type[RequestCommand]] = {
    model.name: model for model in (BookAppointment, MoveAppointment, RecordAppointmentOutcome)
}


# -- the appointments, in the event store ---------------------------------------------------

CONFLICT_RETRIES = 5


class AppointmentNotFoundError(LookupError):
    pass


class Appointments:
    """Appointments stored with the cases, sealed under the resident's key."""

    def __init__(self, app: Complaints) -> None:
        self._app = app

    def get(self, appointment_id: uuid.UUID) -> Appointment:
        found: object = None
        with contextlib.suppress(AggregateNotFoundError):
            found = self._app.repository.get(appointment_id)
        if not isinstance(found, Appointment):
            raise AppointmentNotFoundError(f"no appointment {appointment_id}")
        return found

    def book(self, command: BookAppointment, by: str, at: datetime) -> tuple[Appointment, bool]:
        """The appointment booked (False: this request was booked before)."""
        appointment_id = Appointment.create_id(command.request_id)
        with contextlib.suppress(AppointmentNotFoundError):
            return self.get(appointment_id), False
        if self._app.roster.staff(command.staff) is None:
            raise AppointmentError(f"{command.staff!r} is not in the staff directory")
        case_id = receipt_code = None
        if command.receipt_code:
            case = self._app.find_by_receipt(command.receipt_code)
            case_id, receipt_code = str(case.id), case.receipt_code
        agreement = (
            PhoneAgreement(command.agreed_by_phone_at, by) if command.agreed_by_phone_at else None
        )
        appointment = Appointment.book(
            request_id=command.request_id,
            kind=command.kind,
            start=command.start,
            minutes=command.minutes,
            staff=command.staff,
            purpose=command.purpose,
            contact=command.contact,
            address=command.address or "",
            person_id=self._app.keys.person_id_for(command.contact),
            case_id=case_id,
            receipt_code=receipt_code,
            agreement=agreement,
            by=by,
            at=at,
        )
        try:
            self._app.save(appointment)
        except IntegrityError:
            return self.get(appointment_id), False
        return appointment, True

    def change(
        self, appointment_id: uuid.UUID, command: Callable[[Appointment], bool]
    ) -> tuple[Appointment, bool]:
        """Run `command` on the latest appointment; False: it changed nothing."""
        for _ in range(CONFLICT_RETRIES):
            appointment = self.get(appointment_id)
            if not command(appointment):
                return appointment, False
            try:
                self._app.save(appointment)
            except IntegrityError:
                continue
            return appointment, True
        raise IntegrityError("the appointment kept changing under the command")

    def still_booked(self) -> list[str]:
        """The ids of the appointments booked and not yet ended, from the store's log
        (the reconciler's question: it needs no read model, nor its connections)."""
        booked = get_topic(Appointment.Booked)  # type: ignore[attr-defined]
        ended = get_topic(Appointment.OutcomeRecorded)  # type: ignore[attr-defined]
        still: dict[str, None] = {}
        for record in self._app.notifications(topics=[booked, ended]):
            if record.topic == booked:
                still[str(record.originator_id)] = None
            else:  # an outcome always follows its booking in the log
                still.pop(str(record.originator_id), None)
        return list(still)

    def copy_outcome_to(
        self, case: Complaint, appointment_id: str, *, by: str, at: datetime, command_id: str
    ) -> None:
        """The case's record of how an appointment about it went (done, no-show, or
        moved to its current time), from the appointment itself."""
        appointment = self.get(uuid.UUID(appointment_id))
        if appointment.case_id != str(case.id):
            raise AppointmentError(f"appointment {appointment_id} is not about this case")
        outcome = appointment.outcome or ("moved" if appointment.moves else None)
        if outcome is None:
            raise AppointmentError(
                f"appointment {appointment_id} has neither an outcome nor a move recorded"
            )
        case.record_appointment(
            appointment_id=appointment_id,
            kind=appointment.kind,
            start=appointment.start,
            outcome=outcome,
            by=by,
            at=at,
            command_id=command_id,
        )
