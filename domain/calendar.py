"""The business calendar: when a commitment made at a given moment falls due.

Counting follows 민원 처리에 관한 법률 §19, which residents expect the center to
honour: a period of five days or less runs in working hours from the moment of
receipt (one day is eight working hours), a longer one runs in working days with
the day of receipt as the first. A policy may choose plain calendar days instead.

Public holidays come from the `holidays` package; the center adds what the package
cannot know yet (a 임시공휴일 announced late) and its own closure days.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo

import holidays

SEOUL = ZoneInfo("Asia/Seoul")

CountingRule = Literal["business", "calendar"]
CountingMethod = Literal["working_hours", "working_days", "calendar_days"]

COUNTING_RULES: tuple[CountingRule, ...] = ("business", "calendar")

# §19: periods up to this many days are counted in hours, longer ones in days.
LONGEST_PERIOD_COUNTED_IN_HOURS = 5
WORKING_HOURS_PER_DAY = 8
# The lunch hour is not working time, so the eight hours span 09:00–18:00.
WORKING_SEGMENTS: tuple[tuple[time, time], ...] = (
    (time(9), time(12)),
    (time(13), time(18)),
)
END_OF_WORKING_DAY = WORKING_SEGMENTS[-1][1]

_WEEKEND_REASONS = {5: "토요일", 6: "일요일"}
_OVERRIDE_SECTIONS = ("holiday", "closure")


class CalendarError(ValueError):
    """A deadline cannot be computed from what was given."""


class NaiveDatetimeError(CalendarError):
    """A moment without a UTC offset: it could be anyone's 10 o'clock."""


class InvalidPeriodError(CalendarError):
    """A period shorter than one day."""


class UnknownCountingRuleError(CalendarError):
    """A counting rule other than "business" or "calendar"."""


class OverrideFileError(CalendarError):
    """The calendar override file cannot be read or has a bad entry."""


@dataclass(frozen=True)
class NonWorkingDay:
    day: date
    reason: str


@dataclass(frozen=True)
class Deadline:
    received: datetime
    due: datetime
    days: int
    rule: CountingRule
    method: CountingMethod
    skipped: tuple[NonWorkingDay, ...]


def to_seoul(moment: datetime) -> datetime:
    """The same instant on Seoul's clock; a naive moment is refused, not guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{moment.isoformat()} has no UTC offset; give one, "
            "e.g. 2026-09-21T10:00+09:00 for Seoul time"
        )
    return moment.astimezone(SEOUL)


@functools.cache
def _public_holidays(year: int) -> Mapping[date, str]:
    # Built on first use of a year, never at import: the table costs time and
    # only the years that deadlines actually touch are needed.
    table = holidays.country_holidays("KR", years=year, language="ko")
    return MappingProxyType(dict(table.items()))


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=SEOUL)


class BusinessCalendar:
    """Working days and hours of the center, and the deadlines they give."""

    def __init__(
        self,
        extra_holidays: Mapping[date, str] | None = None,
        closures: Mapping[date, str] | None = None,
    ) -> None:
        self._extra_holidays: Mapping[date, str] = MappingProxyType(dict(extra_holidays or {}))
        self._closures: Mapping[date, str] = MappingProxyType(dict(closures or {}))

    def __repr__(self) -> str:
        return (
            f"BusinessCalendar(extra_holidays={dict(self._extra_holidays)!r}, "
            f"closures={dict(self._closures)!r})"
        )

    @property
    def extra_holidays(self) -> Mapping[date, str]:
        return self._extra_holidays

    @property
    def closures(self) -> Mapping[date, str]:
        return self._closures

    @classmethod
    def from_override_file(cls, path: str | Path) -> BusinessCalendar:
        """A calendar with the holidays and closures listed in a TOML override file."""
        path = Path(path)
        try:
            with path.open("rb") as file:
                document = tomllib.load(file)
        except OSError as error:
            raise OverrideFileError(
                f"{path}: cannot read calendar overrides: {error.strerror or error}"
            ) from error
        except tomllib.TOMLDecodeError as error:
            raise OverrideFileError(f"{path}: not valid TOML: {error}") from error

        unknown = sorted(set(document) - set(_OVERRIDE_SECTIONS))
        if unknown:
            raise OverrideFileError(
                f"{path}: unknown section {unknown[0]!r}; "
                "expected only [[holiday]] and [[closure]] entries"
            )
        extra_holidays = _read_override_section(path, document, "holiday")
        closures = _read_override_section(path, document, "closure")
        return cls(extra_holidays=extra_holidays, closures=closures)

    def with_extra_holiday(self, day: date, name: str) -> BusinessCalendar:
        """A copy of this calendar in which `day` is also a holiday."""
        extra = dict(self._extra_holidays)
        extra[day] = _join_reasons(extra.get(day), name)
        return BusinessCalendar(extra_holidays=extra, closures=self._closures)

    def non_working_reason(self, day: date) -> str | None:
        """Why `day` is not counted, or None for a working day.

        A holiday's name is given before "토요일"/"일요일", because the name is
        what a resident would recognise (추석 다음날 falling on a Saturday).
        """
        reasons = [
            reason
            for reason in (
                _public_holidays(day.year).get(day),
                self._extra_holidays.get(day),
                self._closures.get(day),
            )
            if reason
        ]
        if reasons:
            return _join_reasons(*reasons)
        return _WEEKEND_REASONS.get(day.weekday())

    def is_working_day(self, day: date) -> bool:
        return self.non_working_reason(day) is None

    def due(self, received: datetime, days: int, rule: CountingRule = "business") -> Deadline:
        """When a commitment of `days` days, made at `received`, falls due."""
        received = to_seoul(received)
        if days < 1:
            raise InvalidPeriodError(f"a period must be at least 1 day, got {days}")
        if rule == "calendar":
            # Absolute arithmetic, so the answer is N×24 h whatever the zone's history.
            due = (received.astimezone(UTC) + timedelta(days=days)).astimezone(SEOUL)
            return Deadline(received, due, days, rule, "calendar_days", ())
        if rule != "business":
            raise UnknownCountingRuleError(
                f"unknown counting rule {rule!r}; expected one of {', '.join(COUNTING_RULES)}"
            )
        method: CountingMethod
        if days <= LONGEST_PERIOD_COUNTED_IN_HOURS:
            method = "working_hours"
            due = self._add_working_hours(received, timedelta(hours=days * WORKING_HOURS_PER_DAY))
        else:
            method = "working_days"
            due = self._end_of_nth_working_day(received.date(), days)
        skipped = tuple(
            NonWorkingDay(day, reason)
            for day in _days_between(received.date(), due.date())
            if (reason := self.non_working_reason(day)) is not None
        )
        return Deadline(received, due, days, rule, method, skipped)

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours elapsed from `start` to `end`; 0 when `end` is not later."""
        start, end = to_seoul(start), to_seoul(end)
        if end <= start:
            return 0.0
        elapsed = timedelta()
        for day in _days_between(start.date(), end.date()):
            if not self.is_working_day(day):
                continue
            for opens, closes in WORKING_SEGMENTS:
                overlap = min(end, _at(day, closes)) - max(start, _at(day, opens))
                if overlap > timedelta():
                    elapsed += overlap
        return elapsed.total_seconds() / 3600

    def _add_working_hours(self, start: datetime, amount: timedelta) -> datetime:
        remaining = amount
        day = start.date()
        while True:
            if self.is_working_day(day):
                for opens, closes in WORKING_SEGMENTS:
                    segment_end = _at(day, closes)
                    if segment_end <= start:
                        continue
                    counting_from = max(start, _at(day, opens))
                    available = segment_end - counting_from
                    # `<=` so a count that uses up a segment exactly ends at its
                    # close (18:00, 12:00), not at the next opening.
                    if remaining <= available:
                        return counting_from + remaining
                    remaining -= available
            day += timedelta(days=1)

    def _end_of_nth_working_day(self, first: date, days: int) -> datetime:
        # The day of receipt counts whatever the hour, so only dates matter here.
        counted = 0
        day = first
        while True:
            if self.is_working_day(day):
                counted += 1
                if counted == days:
                    return _at(day, END_OF_WORKING_DAY)
            day += timedelta(days=1)


def _days_between(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _join_reasons(*reasons: str | None) -> str:
    # The same name from two sources (the package and an override) is said once.
    distinct = dict.fromkeys(reason for reason in reasons if reason)
    return "; ".join(distinct)


def _read_override_section(
    path: Path, document: Mapping[str, Any], section: str
) -> dict[date, str]:
    entries = document.get(section, [])
    if not isinstance(entries, list):
        raise OverrideFileError(f"{path}: '{section}' must be a list of [[{section}]] tables")
    found: dict[date, str] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: [[{section}]] entry #{number}"
        if not isinstance(entry, dict):
            raise OverrideFileError(f"{where}: must be a table with 'date' and 'name'")
        unknown = sorted(set(entry) - {"date", "name"})
        if unknown:
            raise OverrideFileError(f"{where}: unknown key {unknown[0]!r}")
        day = entry.get("date")
        # tomllib gives a datetime for `2026-12-24T00:00`, and datetime is a date.
        if isinstance(day, datetime) or not isinstance(day, date):
            raise OverrideFileError(
                f"{where}: 'date' must be a TOML date without quotes, "
                f"e.g. date = 2026-12-24 (got {day!r})"
            )
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise OverrideFileError(f"{where} ({day}): 'name' must be a non-empty string")
        if day in found:
            raise OverrideFileError(f"{where}: {day} is already listed as [[{section}]]")
        found[day] = name.strip()
    return found
