"""The HTTP API of the roster (업무분장), as `minwon roster` calls it.

`GET /api/roster` says who holds each role on a day, `GET /api/roster/history`
lists every recorded change; anyone on the roster may read them. Ops and the
director record changes (`POST /api/roster/assignments`, `POST /api/roster/staff`),
as the person the token names. Each answer is rendered here, as JSON (the
default) or as the text `minwon roster` prints (`format=text`), so every client
reads the same lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from domain.access import ROLES, SYSTEM_ACTORS
from domain.calendar import WEEKDAYS, to_seoul
from domain.commands import StaffId
from domain.roster import (
    RetroactiveAssignmentError,
    Roster,
    RosterError,
    StaffMember,
    StoredRoster,
    UnknownRoleError,
    UnknownStaffError,
)
from web.api import Staff, desk_of
from web.desk import Desk
from web.problems import FieldProblem, Problem
from web.rendered import TEXT, json_response, rendered

T = TypeVar("T")
Format = Annotated[
    Literal["text", "json"],
    Query(description="`text`: the lines `minwon roster` prints; `json`: the document"),
]
# The schema lists the roles for clients; the one list of them stays the domain's.
Role = Literal[ROLES]  # type: ignore[valid-type]
Name = Annotated[str, Field(min_length=1, max_length=200)]

router = APIRouter(prefix="/api", tags=["roster"])


# -- what goes in and out -----------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Assignment(_In):
    role: Role
    staff: StaffId = Field(description="a staff id in the staff directory")
    start: date = Field(alias="from", description="the first day they hold the role")


class NewStaff(_In):
    id: StaffId
    name: Name
    title: Name
    phone: Name = Field(description="desk phone (told to residents)")
    email: Annotated[str, Field(max_length=320)] | None = Field(
        default=None, description="work address (staff reminders)"
    )
    photo: Annotated[str, Field(max_length=90)] | None = Field(
        default=None, description="a photo's file name in web/static/staff/ (the homepage)"
    )


class NextHolder(BaseModel):
    staff: str
    start: date = Field(serialization_alias="from")


class RoleHolder(BaseModel):
    role: str
    staff: str | None
    name: str | None
    title: str | None
    phone: str | None
    since: date | None
    until: date | None
    next: NextHolder | None


class RosterDay(BaseModel):
    on: date
    roles: list[RoleHolder]


class AssignmentMade(BaseModel):
    role: str
    staff: str | None = Field(description="who holds the role on its first day, now")
    start: date = Field(serialization_alias="from")
    was: str | None = Field(description="who held it on that day before, if someone else")
    then: NextHolder | None = Field(description="a later holding planned before, still kept")


class StaffEntry(BaseModel):
    id: str
    name: str
    title: str
    phone: str
    email: str | None


class RosterChange(BaseModel):
    version: int
    recorded: str = Field(description="when it was recorded (KST, to the second)")
    event: str
    what: str
    by: str | None = Field(default=None, description="who made it (none for the seeding)")


def _rendered(model: Any, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "model": model,
            "description": description,
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }


REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not ops or the director"},
    409: {"description": "The roster kept changing under the change, or is not stored"},
    422: {"description": "An unknown role or staff member, a day in the past, a bad entry"},
}
READ_REFUSED = {"description": "Not on the roster today"}


# -- reads --------------------------------------------------------------------------------------


@router.get(
    "/roster",
    summary="Who holds each role on a day (default: today), and who is next",
    response_class=Response,
    responses={
        **_rendered(RosterDay, "Each role's holder on the day"),
        403: READ_REFUSED,
        409: REFUSED[409],
    },
)
async def show(
    request: Request,
    user: Staff,
    on: Annotated[date | None, Query(description="the day (default: today, Seoul)")] = None,
    format: Format = "json",
) -> Response:
    desk = desk_of(request)
    now = desk.clock()
    day = on or to_seoul(now).date()

    def read() -> RosterDay:
        desk.grant(user, "read_roster", now)
        return RosterDay(on=day, roles=holders_on(_stored(desk).current(), day))

    shown = await _blocking(read)
    if format == "json":
        return json_response(shown.model_dump(mode="json", by_alias=True))
    return _text(_show_lines(shown))


@router.get(
    "/roster/history",
    summary="Every change to the roster, as recorded",
    response_class=Response,
    responses={
        **_rendered(list[RosterChange], "The roster's events, oldest first"),
        403: READ_REFUSED,
        409: REFUSED[409],
    },
)
async def history(request: Request, user: Staff, format: Format = "json") -> Response:
    desk = desk_of(request)

    def read() -> list[RosterChange]:
        desk.grant(user, "read_roster", desk.clock())
        return [describe_change(e) for e in _stored(desk).history()]

    changes = await _blocking(read)
    if format == "json":
        return json_response([c.model_dump(mode="json", exclude_none=True) for c in changes])
    lines = []
    for change in changes:
        by = f"  by {change.by}" if change.by else ""
        lines.append(f"#{change.version:<3} {change.recorded}  {change.what}{by}")
    return _text(lines)


def holders_on(roster: Roster, day: date) -> list[RoleHolder]:
    """Each role's holder on `day`, with the period they hold it in, and who is next."""
    rows = []
    for role in roster.roles():
        schedule = roster.schedule(role)
        current = next(
            (p for p in schedule if p.start <= day and (p.end is None or day <= p.end)), None
        )
        upcoming = next((p for p in schedule if p.start > day), None)
        member = roster.staff(current.staff) if current and current.staff else None
        rows.append(
            RoleHolder(
                role=role,
                staff=current.staff if current else None,
                name=member.name if member else None,
                title=member.title if member else None,
                phone=member.phone if member else None,
                since=current.start if current else None,
                until=current.end if current else None,
                next=NextHolder(staff=upcoming.staff, start=upcoming.start)
                if upcoming and upcoming.staff
                else None,
            )
        )
    return rows


def _show_lines(shown: RosterDay) -> list[str]:
    lines = [f"업무분장 on {_label(shown.on)}"]
    for row in shown.roles:
        if row.staff is None:
            line = f"  {row.role:<22} (no holder)"
        else:
            until = f" until {row.until.isoformat()}" if row.until else ""
            since = row.since.isoformat() if row.since else ""
            line = f"  {row.role:<22} {row.staff:<14} since {since}{until}"
            if row.name:
                line += f"  {row.name}, {row.title}, {row.phone}"
            else:
                line += "  (not in the staff directory)"
        if row.next:
            line += f"\n  {'':<22} → {row.next.staff} from {row.next.start.isoformat()}"
        lines.append(line)
    return lines


def describe_change(domain_event: Any) -> RosterChange:
    """One roster event as a line of its history."""
    name = type(domain_event).__name__
    by = getattr(domain_event, "by", None)
    if name == "Seeded":
        what = (
            f"seeded from {domain_event.source}: {len(domain_event.holdings)} holding(s), "
            f"{len(domain_event.staff)} staff"
        )
    elif name == "RoleAssigned":
        what = f"{domain_event.role} → {domain_event.staff} from {domain_event.start}"
    elif name == "StaffRegistered":
        member = domain_event.member
        what = f"staff {member['id']}: {member['name']}, {member['title']}"
    else:
        what = name
    return RosterChange(
        version=domain_event.originator_version,
        recorded=to_seoul(domain_event.timestamp).isoformat(timespec="seconds"),
        event=name,
        what=what,
        by=by,
    )


# -- changes --------------------------------------------------------------------------------------


@router.post(
    "/roster/assignments",
    summary="Give a role to a staff member from a day on (ops, director)",
    response_class=Response,
    responses={**_rendered(AssignmentMade, "The holder from that day"), **REFUSED},
)
async def assign(
    request: Request, body: Assignment, user: Staff, format: Format = "json"
) -> Response:
    desk = desk_of(request)
    now = desk.clock()

    def change() -> AssignmentMade:
        # The roster is changed by ops or the director (domain.access), as on that day.
        desk.grant(user, "roster", now)
        stored = _stored(desk)
        before = stored.current().holder_on(body.role, body.start)
        try:
            roster = stored.assign(
                role=body.role, staff=body.staff, start=body.start, by=user.staff, at=now
            )
        except RosterError as error:
            raise _refused("cannot assign", error, _ASSIGN_FIELDS) from None
        after = roster.holder_on(body.role, body.start)
        upcoming = next((p for p in roster.schedule(body.role) if p.start > body.start), None)
        return AssignmentMade(
            role=body.role,
            staff=after,
            start=body.start,
            was=before if before and before != after else None,
            then=NextHolder(staff=upcoming.staff, start=upcoming.start)
            if upcoming and upcoming.staff
            else None,
        )

    made = await _blocking(change)
    if format == "json":
        return json_response(made.model_dump(mode="json", by_alias=True))
    was = f" (was {made.was})" if made.was else ""
    lines = [f"{made.role}: {made.staff} from {_label(made.start)}{was}"]
    if made.then:
        lines.append(
            f"  then {made.then.staff} from {made.then.start.isoformat()}, as planned before"
        )
    return _text(lines)


_ASSIGN_FIELDS: dict[type[RosterError], str] = {
    UnknownRoleError: "body.role",
    UnknownStaffError: "body.staff",
    RetroactiveAssignmentError: "body.from",
}


@router.post(
    "/roster/staff",
    summary="Add a staff directory entry, or change one (ops, director)",
    response_class=Response,
    responses={**_rendered(StaffEntry, "The entry as recorded"), **REFUSED},
)
async def add_staff(
    request: Request, body: NewStaff, user: Staff, format: Format = "json"
) -> Response:
    desk = desk_of(request)
    now = desk.clock()

    def change() -> StaffEntry:
        desk.grant(user, "roster", now)
        if body.id in SYSTEM_ACTORS:
            # A directory entry gets a token; the engine's own actor must not.
            raise _refused(
                f"cannot add {body.id}",
                RosterError(f"'{body.id}' is the engine's own actor, not a staff member's id"),
                {RosterError: "body.id"},
            )
        member = StaffMember(
            id=body.id,
            name=body.name,
            title=body.title,
            phone=body.phone,
            email=body.email,
            photo=body.photo,
        )
        try:
            roster = _stored(desk).register_staff(member, by=user.staff, at=now)
        except RosterError as error:
            raise _refused(f"cannot add {body.id}", error, {}) from None
        entry = roster.staff(body.id)
        if entry is None:
            raise RuntimeError(f"{body.id} is not in the directory just after registering")
        return StaffEntry(
            id=entry.id, name=entry.name, title=entry.title, phone=entry.phone, email=entry.email
        )

    entry = await _blocking(change)
    if format == "json":
        return json_response(entry.model_dump(mode="json"))
    email = f", {entry.email}" if entry.email else ""
    return _text([f"{entry.id}: {entry.name}, {entry.title}, {entry.phone}{email}"])


# -- plumbing -----------------------------------------------------------------------------------


async def _blocking(work: Callable[[], T]) -> T:
    """The event store is synchronous: its reads and writes run off the event loop."""
    try:
        return await asyncio.to_thread(work)
    except IntegrityError:
        raise Problem(
            409,
            "conflict",
            "Conflict",
            "the roster kept changing under the change: look at it again and retry",
        ) from None


def _stored(desk: Desk) -> StoredRoster:
    roster = desk.complaints.roster
    if not isinstance(roster, StoredRoster):
        raise Problem(
            409,
            "roster-not-stored",
            "Roster not stored",
            "this server's roster is not stored in its event store: it has no history "
            "and cannot be changed",
        )
    return roster


def _refused(what: str, error: RosterError, fields: dict[type[RosterError], str]) -> Problem:
    location = next((f for kind, f in fields.items() if isinstance(error, kind)), "body")
    return Problem(
        422,
        "invalid-input",
        "Invalid input",
        f"{what}: {error}",
        errors=[FieldProblem(location=location, message=str(error))],
    )


def _label(day: date) -> str:
    return f"{day.isoformat()} ({WEEKDAYS[day.weekday()]})"


def _text(lines: list[str]) -> Response:
    return rendered("\n".join(lines), TEXT)
