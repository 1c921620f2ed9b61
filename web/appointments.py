"""Appointments over HTTP, as `minwon appointment` calls them, and the staff's list page.

- `POST /api/appointments`: book a visit to the center or a home visit (any staff
  member; a home visit only with the phone agreement recorded, 라.①);
- `POST /api/appointments/{id}/move`, `/outcome`: its staff member, whoever booked
  it, or a supervisor (the officer, the director, ops);
- `GET /api/appointments`: today's and tomorrow's (or the days asked), for staff;
  the purpose, contact and address only on the appointments that are the reader's
  (theirs to keep or booked by them) or to a supervisor;
- `GET /staff/appointments`: the same as a page.

The appointment is recorded first, then its workflow is woken (started if none
runs). When Temporal does not answer, the booking stands and says so: the
reconciler starts its clock on its next pass. An outcome of an appointment about a
case is recorded on the case too, through the case's workflow (action `record_appointment`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from domain.access import Rule
from domain.appointment import (
    APPOINTMENT_SUPERVISORS,
    Appointment,
    AppointmentError,
    AppointmentNotFoundError,
    BookAppointment,
    MoveAppointment,
    PhoneAgreement,
    RecordAppointmentOutcome,
)
from domain.calendar import WEEKDAYS, to_seoul
from domain.complaint import CaseNotFoundError
from projections.appointments import BookLine
from web.api import Staff, desk_of, origin
from web.desk import Desk, StaffUser, forbidden
from web.labels import APPOINTMENT_KIND_LABELS, APPOINTMENT_STATUS_LABELS
from web.pages import render, signed_in
from web.problems import Problem
from web.records import allowed, answer, recorded
from web.rendered import TEXT, json_response, rendered
from web.reports import open_read_models
from web.schemas import ACTION_BODIES
from workflows.client import wake_appointment

T = TypeVar("T")
Format = Annotated[
    Literal["text", "json"],
    Query(description="`text`: the lines `minwon` prints; `json`: the document"),
]
AppointmentId = Annotated[uuid.UUID, Path(description="the appointment's id")]
REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not this staff member's appointment to change"},
    404: {"description": "No such appointment, or no case with that receipt code"},
    422: {"description": "Invalid input, or refused by the appointment's rules (nothing recorded)"},
}

router = APIRouter(tags=["appointments"])


class AppointmentOut(BaseModel):
    id: str
    kind: str
    start: datetime
    minutes: int
    staff: str
    status: str
    receipt_code: str | None
    booked_by: str
    agreed_by_phone_at: datetime | None
    recorded: bool
    clock: str  # what became of its workflow: running, or why it is pending
    # An outcome of an appointment about a case: whether the case has it too.
    on_case: str | None = None
    # Only for whom the appointment is theirs, or a supervisor.
    purpose: str | None = None
    contact: str | None = None
    address: str | None = None


def _theirs(user: StaffUser, staff: str, booked_by: str) -> bool:
    return user.staff in (staff, booked_by) or bool(user.roles & APPOINTMENT_SUPERVISORS)


def _out(user: StaffUser, appointment: Appointment, recorded: bool, clock: str) -> AppointmentOut:
    shown = _theirs(user, appointment.staff, appointment.booked_by)
    return AppointmentOut(
        id=str(appointment.id),
        kind=appointment.kind,
        start=appointment.start,
        minutes=appointment.minutes,
        staff=appointment.staff,
        status=appointment.status,
        receipt_code=appointment.receipt_code,
        booked_by=appointment.booked_by,
        agreed_by_phone_at=appointment.agreed_by_phone_at,
        recorded=recorded,
        clock=clock,
        purpose=appointment.purpose if shown else None,
        contact=appointment.contact if shown else None,
        address=(appointment.address or None) if shown else None,
    )


def _log_reads(
    desk: Desk, user: StaffUser, appointments: list[Appointment], where: str, action: str
) -> None:
    """A reader shown appointments' sealed details (purpose, contact, address) is one
    access-log entry for each, as a case's personal data is; a masked line is none."""
    shown = [a for a in appointments if _theirs(user, a.staff, a.booked_by)]
    desk.complaints.log_appointment_access(
        actor=user.staff, at=desk.clock(), origin=where, appointments=shown, action=action
    )


async def _shown(
    request: Request,
    user: StaffUser,
    appointment: Appointment,
    recorded: bool,
    clock: str,
    action: str,
) -> AppointmentOut:
    """The appointment an action answers with, its reading logged."""
    where = origin(request, "api")
    await asyncio.to_thread(_log_reads, desk_of(request), user, [appointment], where, action)
    return _out(user, appointment, recorded, clock)


def _kst(moment: datetime) -> str:
    local = to_seoul(moment)
    return local.strftime("%Y-%m-%d %H:%M") + f" ({WEEKDAYS[local.weekday()]})"


def _lines(out: AppointmentOut) -> list[str]:
    again = "" if out.recorded else " (recorded before; nothing new)"
    lines = [
        f"appointment {out.id}{again}",
        f"  {APPOINTMENT_KIND_LABELS[out.kind]} {_kst(out.start)}, {out.minutes} min, "
        f"with {out.staff}: {APPOINTMENT_STATUS_LABELS.get(out.status, out.status)}",
    ]
    if out.receipt_code:
        lines.append(f"  case {out.receipt_code}" + (f": {out.on_case}" if out.on_case else ""))
    if out.agreed_by_phone_at:
        lines.append(f"  agreed by phone {_kst(out.agreed_by_phone_at)}")
    if out.purpose:
        lines.append(f"  purpose: {out.purpose}")
    if out.address:
        lines.append(f"  address: {out.address}")
    lines.append(f"  clock: {out.clock}")
    return lines


async def _recorded(work: Callable[[], T]) -> T:
    return await recorded(
        work,
        what="appointment",
        refusals=(AppointmentError,),
        missing=(AppointmentNotFoundError, CaseNotFoundError),
    )


async def _wake(desk: Desk, appointment: Appointment) -> str:
    """Wake the appointment's workflow; what became of it, in words."""
    try:
        await desk.temporal(wake_appointment(desk.client, str(appointment.id), desk.task_queue))
    except Problem as problem:
        return f"pending: {problem.detail}; the reconciler starts it on its next pass"
    except RuntimeError:  # a lazily connected client that cannot reach Temporal
        return "pending: Temporal is unreachable; the reconciler starts it on its next pass"
    return "running" if appointment.status == "booked" else "ended"


async def _on_case(desk: Desk, user: StaffUser, appointment: Appointment) -> str | None:
    """Record a move or an outcome on the appointment's case, through the case's workflow
    (action `record_appointment`); what became of it, in words. Sent again, it lands on
    the case if it did not before."""
    if not appointment.receipt_code:
        return None
    body_model = ACTION_BODIES["record_appointment"]
    form = body_model.model_validate({"appointment_id": str(appointment.id)})
    try:
        await desk.act(user, appointment.receipt_code, "record_appointment", form)
    except Problem as problem:
        return f"not recorded on the case: {problem.detail} (send it again)"
    return "recorded"


# -- the API ---------------------------------------------------------------------------------


@router.post(
    "/api/appointments",
    status_code=201,
    summary="Book a visit to the center or a home visit (나.④, 라.①②)",
    response_model=AppointmentOut,
    responses=REFUSED,
)
async def book(
    request: Request, body: BookAppointment, user: Staff, format: Format = "json"
) -> Response:
    desk = desk_of(request)
    now = desk.clock()

    def record() -> tuple[Appointment, bool]:
        allowed(desk, user, BookAppointment.rule, now)
        return desk.complaints.appointments.book(body, user.staff, now)

    appointment, new = await _recorded(record)
    clock = await _wake(desk, appointment)
    out = await _shown(request, user, appointment, new, clock, "appointment book")
    return answer(out, _lines(out), format, 201 if new else 200)


def _change(
    desk: Desk,
    user: StaffUser,
    appointment_id: uuid.UUID,
    rule: Rule,
    command: Callable[[Appointment], bool],
) -> tuple[Appointment, bool]:
    now = desk.clock()
    allowed(desk, user, rule, now)
    current = desk.complaints.appointments.get(appointment_id)
    if not _theirs(user, current.staff, current.booked_by):
        raise forbidden(
            f"{user.staff} may not change appointment {appointment_id}: it is for its staff "
            f"member ({current.staff}), whoever booked it ({current.booked_by}) or a supervisor"
        )
    return desk.complaints.appointments.change(appointment_id, command)


@router.post(
    "/api/appointments/{appointment_id}/move",
    summary="Move an appointment to a new time (a home visit: agreed by phone again)",
    response_model=AppointmentOut,
    responses=REFUSED,
)
async def move(
    request: Request,
    appointment_id: AppointmentId,
    body: MoveAppointment,
    user: Staff,
    format: Format = "json",
) -> Response:
    desk = desk_of(request)
    now = desk.clock()

    def moved(appointment: Appointment) -> bool:
        agreement = (
            PhoneAgreement(body.agreed_by_phone_at, user.staff) if body.agreed_by_phone_at else None
        )
        appointment.move(
            start=body.start, reason=body.reason, agreement=agreement, by=user.staff, at=now
        )
        return True

    appointment, new = await _recorded(
        lambda: _change(desk, user, appointment_id, MoveAppointment.rule, moved)
    )
    on_case = await _on_case(desk, user, appointment)
    clock = await _wake(desk, appointment)
    out = await _shown(request, user, appointment, new, clock, "appointment move")
    out = out.model_copy(update={"on_case": on_case})
    return answer(out, _lines(out), format)


@router.post(
    "/api/appointments/{appointment_id}/outcome",
    summary="Record how an appointment went (done, no-show); on its case too",
    response_model=AppointmentOut,
    responses=REFUSED,
)
async def outcome(
    request: Request,
    appointment_id: AppointmentId,
    body: RecordAppointmentOutcome,
    user: Staff,
    format: Format = "json",
) -> Response:
    desk = desk_of(request)
    now = desk.clock()
    appointment, new = await _recorded(
        lambda: _change(
            desk,
            user,
            appointment_id,
            RecordAppointmentOutcome.rule,
            lambda a: a.record_outcome(
                outcome=body.outcome, note=body.note or "", by=user.staff, at=now
            ),
        )
    )
    on_case = await _on_case(desk, user, appointment)
    clock = await _wake(desk, appointment)
    out = await _shown(request, user, appointment, new, clock, "appointment outcome")
    out = out.model_copy(update={"on_case": on_case})
    return answer(out, _lines(out), format)


def _days(on: list[date] | None, now: datetime) -> tuple[date, ...]:
    today = to_seoul(now).date()
    return tuple(on) if on else (today, today + timedelta(days=1))


def _book_lines(desk: Desk, days: tuple[date, ...]) -> list[BookLine]:
    with open_read_models(desk.complaints, ("appointment_book",)) as models:
        return models.appointment_book.lines(days)


def _listed(
    desk: Desk, user: StaffUser, days: tuple[date, ...], where: str, action: str
) -> list[AppointmentOut]:
    """The days' appointments; the personal details only where they are the reader's,
    each such reading logged."""
    listed = []
    shown = []
    for line in _book_lines(desk, days):
        if _theirs(user, line.staff, line.booked_by):
            appointment = desk.complaints.appointments.get(uuid.UUID(line.appointment_id))
            shown.append(appointment)
            listed.append(_out(user, appointment, True, line.status))
        else:
            listed.append(
                AppointmentOut(
                    id=line.appointment_id,
                    kind=line.kind,
                    start=line.start,
                    minutes=line.minutes,
                    staff=line.staff,
                    status=line.status,
                    receipt_code=line.receipt_code,
                    booked_by=line.booked_by,
                    agreed_by_phone_at=None,
                    recorded=True,
                    clock=line.status,
                )
            )
    # Logged before the list is answered: a list whose logging failed is not shown.
    _log_reads(desk, user, shown, where, action)
    return listed


@router.get(
    "/api/appointments",
    summary="Today's and tomorrow's appointments (or the days asked)",
    response_model=list[AppointmentOut],
    responses=REFUSED,
)
async def listing(
    request: Request,
    user: Staff,
    on: Annotated[list[date] | None, Query(description="a day; repeat for more")] = None,
    format: Format = "json",
) -> Response:
    desk = desk_of(request)
    now = desk.clock()
    days = _days(on, now)

    def read() -> list[AppointmentOut]:
        allowed(desk, user, BookAppointment.rule, now)
        return _listed(desk, user, days, origin(request, "api"), "appointment list")

    found = await _recorded(read)
    if format == "json":
        return json_response([out.model_dump(mode="json") for out in found])
    if not found:
        return rendered(f"no appointments on {', '.join(d.isoformat() for d in days)}", TEXT)
    lines = []
    for out in found:
        details = f"  {out.purpose}" if out.purpose else ""
        lines.append(
            f"{_kst(out.start)}  {APPOINTMENT_KIND_LABELS[out.kind]}  {out.staff:<14} "
            f"{APPOINTMENT_STATUS_LABELS.get(out.status, out.status)}  {out.receipt_code or '-'}  "
            f"{out.id}{details}"
        )
    return rendered("\n".join(lines), TEXT)


# -- the page ------------------------------------------------------------------------------


@router.get("/staff/appointments", response_class=HTMLResponse, include_in_schema=False)
async def page(request: Request) -> HTMLResponse:
    user = await signed_in(request)
    desk = desk_of(request)
    now = desk.clock()
    today = to_seoul(now).date()
    where = origin(request, "web")
    found = await _recorded(
        lambda: _listed(desk, user, _days(None, now), where, "web appointments page")
    )
    days = [
        (label, [out for out in found if to_seoul(out.start).date() == day])
        for label, day in (("오늘", today), ("내일", today + timedelta(days=1)))
    ]
    return render(
        request,
        "staff_appointments.html",
        user=user,
        days=days,
        now=now,
    )
