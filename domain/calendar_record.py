"""The calendar the engine counts with, as a record: which days were off, and when
that changed.

A 임시공휴일 is designated at short notice, a closure is cancelled, a new
`holidays` release corrects a substitute holiday: each is a change to the days
not counted. The record holds the days off (other than weekends) over a window of
years around today and records each change (`Changed`: the days added and
removed), so every process can tell that open cases must be recounted and each
case's `CommitmentRescheduled` can name the day that moved it. `Recounted` marks
a change whose recount reached every open case: a pass cut short is taken up
again by the next.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from eventsourcing.domain import event

from domain.calendar import BusinessCalendar, to_seoul
from domain.chain import GENESIS
from domain.chained import ChainedAggregate

CALENDAR_NAMESPACE = uuid.UUID("6f1d2c4b-8e3a-4b7f-9a25-3c8e0d4f7b19")
YEARS_BEHIND = 1
YEARS_AHEAD = 3


def window(at: datetime) -> tuple[date, date]:
    """The years a record covers: the last one, this one and the next three."""
    year = to_seoul(at).year
    return date(year - YEARS_BEHIND, 1, 1), date(year + YEARS_AHEAD, 12, 31)


def days_off(calendar: BusinessCalendar, at: datetime) -> dict[str, str]:
    first, last = window(at)
    return {day.isoformat(): reason for day, reason in calendar.days_off(first, last).items()}


def diff_days(
    old: dict[str, str], new: dict[str, str], first: str = "", last: str = "9999"
) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str]]]:
    """Days off (ISO date → reason) added, removed and renamed from `old` to `new`,
    between `first` and `last`."""
    added = {d: r for d, r in new.items() if d not in old and first <= d <= last}
    removed = {d: r for d, r in old.items() if d not in new and first <= d <= last}
    renamed = {
        d: (old[d], r) for d, r in new.items() if d in old and old[d] != r and first <= d <= last
    }
    return added, removed, renamed


@dataclass(frozen=True)
class CalendarChange:
    """What one change did to the days off (ISO date → reason)."""

    number: int
    added: dict[str, str]
    removed: dict[str, str]


class CalendarRecord(ChainedAggregate):
    """The days off the engine last counted with; one record per store."""

    @staticmethod
    def create_id() -> uuid.UUID:
        return uuid.uuid5(CALENDAR_NAMESPACE, "calendar")

    @classmethod
    def start(cls, calendar: BusinessCalendar, source: str, at: datetime) -> CalendarRecord:
        first, last = window(at)
        return cls(
            days=days_off(calendar, at),
            first=first.isoformat(),
            last=last.isoformat(),
            source=source,
            at=to_seoul(at),
            prev_digest=GENESIS,
        )

    @event("Started")
    def __init__(
        self,
        days: dict[str, str],
        first: str,
        last: str,
        source: str,
        at: datetime,
        prev_digest: str,
    ) -> None:
        self.days = dict(days)
        self.first, self.last = first, last
        self.changes: list[CalendarChange] = []
        self.recounted = 0

    @property
    def latest_change(self) -> CalendarChange | None:
        return self.changes[-1] if self.changes else None

    @property
    def needs_recount(self) -> bool:
        return bool(self.changes) and self.changes[-1].number > self.recounted

    def follow(
        self, calendar: BusinessCalendar, source: str, at: datetime
    ) -> CalendarChange | None:
        """Record what `calendar` changes in the days off; None when nothing changed.

        Only the years both windows cover are compared: a window moving into a new
        year brings that year's holidays in without calling them a change.
        """
        days = days_off(calendar, at)
        first, last = window(at)
        added, removed, _ = diff_days(
            self.days, days, max(first.isoformat(), self.first), min(last.isoformat(), self.last)
        )
        moved = (first.isoformat(), last.isoformat()) != (self.first, self.last)
        if not added and not removed and not moved:
            return None
        self._changed(
            days=days,
            first=first.isoformat(),
            last=last.isoformat(),
            added=added,
            removed=removed,
            source=source,
            at=to_seoul(at),
        )
        return self.latest_change if (added or removed) else None

    @event("Changed")
    def _changed(
        self,
        days: dict[str, str],
        first: str,
        last: str,
        added: dict[str, str],
        removed: dict[str, str],
        source: str,
        at: datetime,
    ) -> None:
        self.days = dict(days)
        self.first, self.last = first, last
        if added or removed:
            number = len(self.changes) + 1
            self.changes.append(CalendarChange(number, dict(added), dict(removed)))

    def mark_recounted(self, number: int, at: datetime) -> None:
        """Every open case was recounted after change `number`."""
        if number > self.recounted:
            self._recounted(number=number, at=to_seoul(at))

    @event("Recounted")
    def _recounted(self, number: int, at: datetime) -> None:
        self.recounted = number
