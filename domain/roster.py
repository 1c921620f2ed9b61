"""The roster (업무분장): who holds which role, for which period.

The charter assigns first contacts by role (가.⑤) and says the holders change
every year; routing and escalation ask for the holder valid at the case's moment.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from domain.calendar import to_seoul

DEFAULT_ROSTER_PATH = Path(__file__).resolve().parent.parent / "policy" / "roster.toml"


class RosterError(ValueError):
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
class StaffMember:
    """A staff member as residents are told of them (라.②: so they can call back)."""

    id: str
    name: str
    title: str
    phone: str
    email: str | None = None


class Roster:
    def __init__(self, holdings: list[Holding], staff: list[StaffMember] | None = None) -> None:
        self.holdings = sorted(holdings, key=lambda h: h.start)
        self._staff = {member.id: member for member in staff or []}

    def staff(self, staff_id: str) -> StaffMember | None:
        return self._staff.get(staff_id)

    @classmethod
    def from_file(cls, path: str | Path = DEFAULT_ROSTER_PATH) -> Roster:
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
                    )
                )
            except KeyError as error:
                raise RosterError(f"{path}: [[staff]] entry #{number}: missing {error}") from None
        return cls(holdings, staff)

    def holder(self, role: str, at: datetime) -> str | None:
        """The staff member holding `role` on the day of `at` (the latest start wins)."""
        day = to_seoul(at).date()
        current = [h for h in self.holdings if h.role == role and h.covers(day)]
        return current[-1].staff if current else None

    def roles_of(self, staff: str, at: datetime) -> list[str]:
        day = to_seoul(at).date()
        return [h.role for h in self.holdings if h.staff == staff and h.covers(day)]
