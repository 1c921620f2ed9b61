"""The roster (업무분장): who holds which role, for which period, as events.

The charter assigns first contacts by role (가.⑤) and says the holders change
every year; routing and escalation ask for the holder valid at the case's moment.

The roster is an event-sourced aggregate, one per event store. It is seeded once
from policy/roster.toml (`Seeded`), then changed by commands: `assign` a role to a
staff member from a date on (`RoleAssigned`), `register_staff` in the directory
(`StaffRegistered`). Who held a role on any past day, and who decided it when, is
read back from those events. `StoredRoster` is what the application reads: the
stored roster, seeded on first use and kept current with what other processes
record.
"""

from __future__ import annotations

import copy
import re
import threading
import tomllib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from domain.access import ROLES
from domain.calendar import to_seoul

DEFAULT_ROSTER_PATH = Path(__file__).resolve().parent.parent / "policy" / "roster.toml"
ROSTER_ENV = "MINWON_ROSTER"

# One roster per event store: a fixed id, so seeding twice collides instead of forking.
ROSTER_ID = uuid.UUID("4f0c9a1e-7d3b-5e2a-9c84-1b6f0e2d3a57")
CONFLICT_RETRIES = 10


class RosterError(ValueError):
    pass


class UnknownRoleError(RosterError):
    pass


class UnknownStaffError(RosterError):
    pass


class RetroactiveAssignmentError(RosterError):
    pass


@dataclass(frozen=True)
class Holding:
    role: str
    staff: str
    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Period:
    """Who held a role from `start` to `end` (inclusive; None: open), as it turned out."""

    role: str
    staff: str | None
    start: date
    end: date | None


@dataclass(frozen=True)
class StaffMember:
    """A staff member as residents are told of them (라.②: so they can call back)."""

    id: str
    name: str
    title: str
    phone: str
    email: str | None = None
    # A photo for the homepage's directory (가.① 직원배치도와 사진), where there is one:
    # a file under web/static/staff/, published as /static/staff/<name>.
    photo: str | None = None


class RosterReader(Protocol):
    """What routing, escalation and notices ask of a roster."""

    def holder(self, role: str, at: datetime) -> str | None: ...
    def staff(self, staff_id: str) -> StaffMember | None: ...
    def roles_of(self, staff: str, at: datetime) -> list[str]: ...
    def current(self) -> Roster: ...


# -- the roster file ----------------------------------------------------------------------


def load_roster_file(path: str | Path) -> tuple[list[Holding], list[StaffMember]]:
    """The holders and the staff directory of a roster TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise RosterError(f"{path}: {error}") from None
    holdings = []
    for number, entry in enumerate(data.get("holder", []), start=1):
        try:
            start, end = entry["from"], entry.get("until")
            if not isinstance(start, date) or (end is not None and not isinstance(end, date)):
                raise TypeError("'from' and 'until' must be TOML dates (2026-01-01)")
            holdings.append(Holding(str(entry["role"]), str(entry["staff"]), start, end))
        except (KeyError, TypeError) as error:
            raise RosterError(f"{path}: [[holder]] entry #{number}: {error}") from None
    staff = []
    for number, entry in enumerate(data.get("staff", []), start=1):
        try:
            staff.append(
                StaffMember(
                    id=str(entry["id"]),
                    name=str(entry["name"]),
                    title=str(entry["title"]),
                    phone=str(entry["phone"]),
                    email=str(entry["email"]) if "email" in entry else None,
                    photo=_photo(entry.get("photo")),
                )
            )
        except KeyError as error:
            raise RosterError(f"{path}: [[staff]] entry #{number}: missing {error}") from None
    return holdings, staff


PHOTO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}\.(jpg|jpeg|png|webp)$")


def _photo(name: object) -> str | None:
    """A photo's file name in web/static/staff/, or None; anything else is refused."""
    if name is None or name == "":
        return None
    if not isinstance(name, str) or not PHOTO.match(name):
        raise RosterError(f"photo {name!r} is not a file name like lee.service.jpg")
    return name


def _holding_record(holding: Holding) -> dict[str, Any]:
    # Event state is JSON: dates travel as ISO text.
    return {
        "role": holding.role,
        "staff": holding.staff,
        "start": holding.start.isoformat(),
        "end": holding.end.isoformat() if holding.end else None,
    }


def _holding(record: dict[str, Any]) -> Holding:
    end = record.get("end")
    return Holding(
        role=record["role"],
        staff=record["staff"],
        start=date.fromisoformat(record["start"]),
        end=date.fromisoformat(end) if end else None,
    )


def _required(value: str, field: str) -> str:
    if not value.strip():
        raise RosterError(f"{field} must not be empty")
    return value.strip()


# -- the aggregate ------------------------------------------------------------------------


class Roster(Aggregate):
    """업무분장: role holders by period and the staff directory, one per event store."""

    @staticmethod
    def create_id() -> uuid.UUID:
        return ROSTER_ID

    @classmethod
    def seed(
        cls, holdings: Iterable[Holding], staff: Iterable[StaffMember], *, source: str
    ) -> Roster:
        """A roster as a file describes it: the first event of a store's roster."""
        return cls(
            holdings=[_holding_record(h) for h in holdings],
            staff=[asdict(member) for member in staff],
            source=source,
        )

    @classmethod
    def from_file(cls, path: str | Path = DEFAULT_ROSTER_PATH) -> Roster:
        """A roster seeded from a file, not saved anywhere (a pinned roster for tests)."""
        holdings, staff = load_roster_file(path)
        return cls.seed(holdings, staff, source=Path(path).name)

    @event("Seeded")
    def __init__(
        self, holdings: list[dict[str, Any]], staff: list[dict[str, Any]], source: str
    ) -> None:
        # Recorded order breaks ties between holdings that start on the same day.
        self.holdings: list[Holding] = [_holding(record) for record in holdings]
        self.directory: dict[str, StaffMember] = {m["id"]: StaffMember(**m) for m in staff}
        self.source = source

    # -- commands -----------------------------------------------------------------------

    def assign(self, *, role: str, staff: str, start: date, by: str, at: datetime) -> None:
        """From `start` on, `staff` holds `role` (until a later-starting holding)."""
        if role not in ROLES:
            raise UnknownRoleError(f"unknown role '{role}' (roles: {', '.join(ROLES)})")
        if staff not in self.directory:
            raise UnknownStaffError(f"'{staff}' is not in the staff directory")
        today = to_seoul(at).date()
        if start < today:
            raise RetroactiveAssignmentError(
                f"a roster change takes effect today ({today.isoformat()}) or later: "
                "who held a role in the past stays as it was"
            )
        if any(h.role == role and h.start == start for h in self.holdings) and (
            self._latest_starting(role, start).staff == staff
        ):
            return  # the same assignment again: already recorded
        self._role_assigned(role=role, staff=staff, start=start.isoformat(), by=by, at=to_seoul(at))

    @event("RoleAssigned")
    def _role_assigned(self, role: str, staff: str, start: str, by: str, at: datetime) -> None:
        self.holdings = [*self.holdings, Holding(role, staff, date.fromisoformat(start))]

    def register_staff(self, member: StaffMember, *, by: str, at: datetime) -> None:
        """Add a staff member to the directory, or change their entry."""
        if not all(ch.isalnum() or ch in "._-" for ch in member.id) or not member.id:
            raise RosterError(f"'{member.id}' is not a staff id (letters, digits, . _ -)")
        cleaned = StaffMember(
            id=member.id,
            name=_required(member.name, "name"),
            title=_required(member.title, "title"),
            phone=_required(member.phone, "phone"),
            email=member.email.strip() if member.email and member.email.strip() else None,
            photo=_photo(member.photo),
        )
        if self.directory.get(cleaned.id) == cleaned:
            return
        self._staff_registered(member=asdict(cleaned), by=by, at=to_seoul(at))

    @event("StaffRegistered")
    def _staff_registered(self, member: dict[str, Any], by: str, at: datetime) -> None:
        self.directory = {**self.directory, member["id"]: StaffMember(**member)}

    # -- reading -------------------------------------------------------------------------

    def _latest_starting(self, role: str, start: date) -> Holding:
        same_day = [h for h in self.holdings if h.role == role and h.start == start]
        return same_day[-1]

    def holder_on(self, role: str, day: date) -> str | None:
        """The holder of `role` on `day`: of the holdings covering it, the latest start wins."""
        current = [h for h in self.holdings if h.role == role and h.covers(day)]
        if not current:
            return None
        # sorted() is stable: among equal starts the later-recorded holding wins.
        return sorted(current, key=lambda h: h.start)[-1].staff

    def holder(self, role: str, at: datetime) -> str | None:
        """The staff member holding `role` on the day of `at` (Seoul time)."""
        return self.holder_on(role, to_seoul(at).date())

    def roles_of(self, staff: str, at: datetime) -> list[str]:
        day = to_seoul(at).date()
        roles = {h.role for h in self.holdings if h.staff == staff}
        return [role for role in ROLES if role in roles and self.holder_on(role, day) == staff]

    def staff(self, staff_id: str) -> StaffMember | None:
        return self.directory.get(staff_id)

    def current(self) -> Roster:
        """This roster as it stands: read once, it answers every lookup after without
        going back to the store."""
        return self

    def members(self) -> list[StaffMember]:
        return sorted(self.directory.values(), key=lambda m: m.id)

    def roles(self) -> list[str]:
        """Every role the roster knows, the charter's first, in their order."""
        extra = sorted({h.role for h in self.holdings} - set(ROLES))
        return [*ROLES, *extra]

    def schedule(self, role: str) -> list[Period]:
        """Who held `role` when, as the holdings work out day by day."""
        holdings = [h for h in self.holdings if h.role == role]
        boundaries = sorted(
            {h.start for h in holdings}
            | {h.end + timedelta(days=1) for h in holdings if h.end is not None}
        )
        periods: list[Period] = []
        for number, day in enumerate(boundaries):
            holder = self.holder_on(role, day)
            following = boundaries[number + 1] if number + 1 < len(boundaries) else None
            end = following - timedelta(days=1) if following else None
            if periods and periods[-1].staff == holder:
                periods[-1] = Period(role, holder, periods[-1].start, end)
            else:
                periods.append(Period(role, holder, day, end))
        return [p for p in periods if p.staff is not None]


# -- the stored roster ---------------------------------------------------------------------


class StoredRoster:
    """The event store's roster as routing reads it: seeded on first use, kept current.

    Every read first asks for the events recorded since the cached version (one
    indexed query), so a change another process recorded (`minwon roster assign`)
    routes the very next case. Activities run on a thread pool and every one of
    them reads the roster: the query runs outside the lock (holding it across a
    read of the store would queue every activity behind every write), and a change
    is applied to a copy that then replaces the cached roster, so a roster once
    returned never changes under its reader and a refused or conflicting command
    never leaves the cache half-changed.
    """

    def __init__(self, app: Application[uuid.UUID], seed_file: str | Path) -> None:
        self._app = app
        self._seed_file = Path(seed_file)
        self._cached: Roster | None = None
        self._lock = threading.Lock()

    def current(self) -> Roster:
        cached = self._cached
        if cached is None:
            with self._lock:
                if self._cached is None:
                    self._cached = self._load_or_seed()
                return self._cached
        later = list(self._app.events.get(ROSTER_ID, gt=cached.version))
        if not later:
            return cached
        with self._lock:
            # Another thread may have applied some or all of them meanwhile.
            roster = self._cached
            assert roster is not None, "a roster's later events never remove it"
            unseen = [e for e in later if e.originator_version > roster.version]
            if unseen:
                # Applied to a copy: the roster returned before stays as it was.
                changed: Roster | None = copy.deepcopy(roster)
                for domain_event in unseen:
                    # A roster event applies itself to the roster, as on a full load.
                    changed = cast(Roster.Event, domain_event).mutate(changed)
                assert changed is not None, "a roster's later events never remove it"
                self._cached = roster = changed
            return roster

    def _load_or_seed(self) -> Roster:
        try:
            roster: Roster = self._app.repository.get(ROSTER_ID)
            return roster
        except AggregateNotFoundError:
            pass
        seeded = Roster.from_file(self._seed_file)
        try:
            self._app.save(seeded)
        except IntegrityError:
            # Another process seeded the store first: its roster is the one.
            roster = self._app.repository.get(ROSTER_ID)
            return roster
        return seeded

    def history(self) -> list[Any]:
        """Every recorded event of the roster, oldest first (seeding it if need be)."""
        self.current()
        return list(self._app.events.get(ROSTER_ID))

    def holder(self, role: str, at: datetime) -> str | None:
        return self.current().holder(role, at)

    def roles_of(self, staff: str, at: datetime) -> list[str]:
        return self.current().roles_of(staff, at)

    def staff(self, staff_id: str) -> StaffMember | None:
        return self.current().staff(staff_id)

    def assign(self, *, role: str, staff: str, start: date, by: str, at: datetime) -> Roster:
        return self._execute(
            lambda roster: roster.assign(role=role, staff=staff, start=start, by=by, at=at)
        )

    def register_staff(self, member: StaffMember, *, by: str, at: datetime) -> Roster:
        return self._execute(lambda roster: roster.register_staff(member, by=by, at=at))

    def _execute(self, command: Callable[[Roster], None]) -> Roster:
        self.current()  # seeds the store's roster if it has none
        for _ in range(CONFLICT_RETRIES):
            roster: Roster = self._app.repository.get(ROSTER_ID)
            command(roster)
            try:
                self._app.save(roster)
            except IntegrityError:
                continue  # another change landed first: run again on the fresh roster
            return self.current()
        raise IntegrityError("the roster kept changing under the command")
