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
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
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
# How a duration in hours is counted: working time (the default for every duration
# in the policy) or plain clock hours where a policy says so.
HourCounting = Literal["working", "clock"]
HOUR_COUNTINGS: tuple[HourCounting, ...] = ("working", "clock")

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
# Ten years: no real calendar goes that long without a working day.
MAX_SEARCH_DAYS = 3660

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
    # Days not counted; for the calendar rule, the last days moved past (민법 §161).
    skipped: tuple[NonWorkingDay, ...]
    # How it was counted: the stretches of time that count, in order (working
    # hours, working days 09:00–18:00, or the calendar days from the first counted).
    counted: tuple[tuple[datetime, datetime], ...] = ()


def to_seoul(moment: datetime) -> datetime:
    """The same instant on Seoul's clock; a naive moment is refused, not guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{moment.isoformat()} has no UTC offset; give one, "
            "e.g. 2026-09-21T10:00+09:00 for Seoul time"
        )
    return moment.astimezone(SEOUL)


HolidaySource = Callable[[int], Mapping[date, str]]


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
        public_holidays: HolidaySource | None = None,
    ) -> None:
        self._extra_holidays: Mapping[date, str] = MappingProxyType(dict(extra_holidays or {}))
        self._closures: Mapping[date, str] = MappingProxyType(dict(closures or {}))
        # The `holidays` package by default; another release (or a test's) may stand in.
        self._public_holidays: HolidaySource = public_holidays or _public_holidays

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
    def from_override_file(
        cls, path: str | Path, public_holidays: HolidaySource | None = None
    ) -> BusinessCalendar:
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
        return cls(
            extra_holidays=extra_holidays, closures=closures, public_holidays=public_holidays
        )

    def with_extra_holiday(self, day: date, name: str) -> BusinessCalendar:
        """A copy of this calendar in which `day` is also a holiday."""
        extra = dict(self._extra_holidays)
        extra[day] = _join_reasons(extra.get(day), name)
        return BusinessCalendar(
            extra_holidays=extra, closures=self._closures, public_holidays=self._public_holidays
        )

    def non_working_reason(self, day: date) -> str | None:
        """Why `day` is not counted, or None for a working day.

        A holiday's name is given before "토요일"/"일요일", because the name is
        what a resident would recognise (추석 다음날 falling on a Saturday).
        """
        reasons = [
            reason
            for reason in (
                self._public_holidays(day.year).get(day),
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

    def days_off(self, first: date, last: date) -> dict[date, str]:
        """Every day from `first` to `last` not counted for a reason other than being
        a Saturday or a Sunday: what tells one calendar from another."""
        return {
            day: reason
            for day in _days_between(first, last)
            if (reason := self.non_working_reason(day)) is not None
            and reason != _WEEKEND_REASONS.get(day.weekday())
        }

    def due(self, received: datetime, days: int, rule: CountingRule = "business") -> Deadline:
        """When a commitment of `days` days, made at `received`, falls due."""
        received = to_seoul(received)
        if days < 1:
            raise InvalidPeriodError(f"a period must be at least 1 day, got {days}")
        if rule == "calendar":
            return self._civil_due(received, days)
        if rule != "business":
            raise UnknownCountingRuleError(
                f"unknown counting rule {rule!r}; expected one of {', '.join(COUNTING_RULES)}"
            )
        method = self.counting_method(days, rule)
        if method == "working_hours":
            due = self._add_working_hours(received, timedelta(hours=days * WORKING_HOURS_PER_DAY))
            counted = self.working_spans(received, due)
        else:
            counted_days = self._working_days_from(received.date(), days)
            due = _at(counted_days[-1], END_OF_WORKING_DAY)
            counted = tuple(
                (_at(day, WORKING_SEGMENTS[0][0]), _at(day, END_OF_WORKING_DAY))
                for day in counted_days
            )
        skipped = tuple(
            NonWorkingDay(day, reason)
            for day in _days_between(received.date(), due.date())
            if (reason := self.non_working_reason(day)) is not None
        )
        return Deadline(received, due, days, rule, method, skipped, counted)

    def _civil_due(self, received: datetime, days: int) -> Deadline:
        # 민법 §157: a period in days leaves out its first day unless it starts at
        # midnight; §159: it ends when its last day ends (24:00, the next day's
        # 00:00); §161: a last day that is a Saturday or a holiday moves to the
        # next day. The center's closures move it too: nobody can act that day.
        starts_at_midnight = received.timetz().replace(tzinfo=None) == time(0)
        first = received.date() if starts_at_midnight else received.date() + timedelta(days=1)
        last = first + timedelta(days=days - 1)
        moved: list[NonWorkingDay] = []
        while (reason := self.non_working_reason(last)) is not None:
            moved.append(NonWorkingDay(last, reason))
            last += timedelta(days=1)
        due = _at(last + timedelta(days=1), time(0))
        return Deadline(
            received,
            due,
            days,
            "calendar",
            "calendar_days",
            tuple(moved),
            ((_at(first, time(0)), due),),
        )

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours elapsed from `start` to `end`; 0 when `end` is not later."""
        return (
            sum(
                (
                    (close - open_).total_seconds()
                    for open_, close in self.working_spans(start, end)
                ),
                0.0,
            )
            / 3600
        )

    def hours_after(
        self, moment: datetime, hours: float, counting: HourCounting = "working"
    ) -> datetime:
        """The moment `hours` hours after `moment`: working hours, or clock hours."""
        moment = to_seoul(moment)
        _check_hours(hours)
        if counting == "clock":
            return (moment.astimezone(UTC) + timedelta(hours=hours)).astimezone(SEOUL)
        if hours == 0:
            return moment
        return self._add_working_hours(moment, timedelta(hours=hours))

    def hours_before(
        self, moment: datetime, hours: float, counting: HourCounting = "working"
    ) -> datetime:
        """The latest moment with `hours` hours (working or clock) left until `moment`."""
        moment = to_seoul(moment)
        _check_hours(hours)
        if counting == "clock":
            return (moment.astimezone(UTC) - timedelta(hours=hours)).astimezone(SEOUL)
        remaining = timedelta(hours=hours)
        if not remaining:
            return moment
        for day in self._days_back(moment.date()):
            if not self.is_working_day(day):
                continue
            for opens, closes in reversed(WORKING_SEGMENTS):
                segment_start = _at(day, opens)
                if segment_start >= moment:
                    continue
                counting_to = min(moment, _at(day, closes))
                available = counting_to - segment_start
                # `<=` so a count that uses a segment up exactly starts at its
                # opening (09:00), not at the previous evening's close.
                if remaining <= available:
                    return counting_to - remaining
                remaining -= available
        raise CalendarError(f"no working time within {MAX_SEARCH_DAYS} days before {moment}")

    @staticmethod
    def counting_method(days: int, rule: str) -> CountingMethod:
        """How a period of `days` days is counted under `rule`."""
        if rule == "calendar":
            return "calendar_days"
        return "working_hours" if days <= LONGEST_PERIOD_COUNTED_IN_HOURS else "working_days"

    def extension_limit(self, due: datetime, days: int, rule: str) -> tuple[datetime, str]:
        """How far an extension of a commitment of `days` days, now due at `due`, may
        reach, and how that was counted: at most the original period once more,
        counted as the original was (working hours up to five days, else working
        days after the due day; calendar days by the civil code)."""
        due = to_seoul(due)
        method = self.counting_method(days, rule)
        if method == "calendar_days":
            return self._civil_due(due, days).due, method
        if method == "working_hours":
            hours = days * WORKING_HOURS_PER_DAY
            return self._add_working_hours(due, timedelta(hours=hours)), method
        # The due day is used up by the original period: counting starts the day after.
        last = self._working_days_from(due.date() + timedelta(days=1), days)[-1]
        return _at(last, END_OF_WORKING_DAY), "working_days"

    def is_period_end(self, moment: datetime, method: str) -> bool:
        """Whether a period counted by `method` may end at `moment`: 18:00 of a
        working day for working days, inside working time for working hours,
        the end (24:00) of a working day for calendar days."""
        moment = to_seoul(moment)
        clock = moment.timetz().replace(tzinfo=None)
        day = moment.date()
        if method == "working_days":
            return clock == END_OF_WORKING_DAY and self.is_working_day(day)
        if method == "calendar_days":
            return clock == time(0) and self.is_working_day(day - timedelta(days=1))
        return self.is_working_day(day) and any(
            opens < clock <= closes for opens, closes in WORKING_SEGMENTS
        )

    def period_ends_around(self, moment: datetime, method: str) -> tuple[datetime, datetime]:
        """The nearest moments before and after `moment` at which a period counted
        by `method` may end (for working hours: the close of a working stretch)."""
        moment = to_seoul(moment)
        before = next(
            end
            for day in self._days_back(moment.date())
            for end in reversed(self._period_ends(day, method))
            if end < moment
        )
        after = next(
            end
            for day in self._days_forward(moment.date() - timedelta(days=1))
            for end in self._period_ends(day, method)
            if end > moment
        )
        return before, after

    def _period_ends(self, day: date, method: str) -> list[datetime]:
        if not self.is_working_day(day):
            return []
        if method == "working_days":
            return [_at(day, END_OF_WORKING_DAY)]
        if method == "calendar_days":
            return [_at(day + timedelta(days=1), time(0))]
        return [_at(day, closes) for _, closes in WORKING_SEGMENTS]

    def working_spans(
        self, start: datetime, end: datetime
    ) -> tuple[tuple[datetime, datetime], ...]:
        """The stretches of working time between `start` and `end`, in order."""
        start, end = to_seoul(start), to_seoul(end)
        spans: list[tuple[datetime, datetime]] = []
        if end <= start:
            return ()
        for day in _days_between(start.date(), end.date()):
            if not self.is_working_day(day):
                continue
            for opens, closes in WORKING_SEGMENTS:
                span = (max(start, _at(day, opens)), min(end, _at(day, closes)))
                if span[1] > span[0]:
                    spans.append(span)
        return tuple(spans)

    def _add_working_hours(self, start: datetime, amount: timedelta) -> datetime:
        remaining = amount
        for day in self._days_forward(start.date()):
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
        raise CalendarError(f"no working time within {MAX_SEARCH_DAYS} days after {start}")

    def _working_days_from(self, first: date, days: int) -> list[date]:
        # The first day counts whatever the hour, so only dates matter here.
        counted: list[date] = []
        for day in self._days_forward(first):
            if self.is_working_day(day):
                counted.append(day)
                if len(counted) == days:
                    return counted
        raise CalendarError(f"fewer than {days} working days within {MAX_SEARCH_DAYS} days")

    @staticmethod
    def _days_forward(first: date) -> Iterator[date]:
        # Bounded: a calendar that closes every day must fail, not hang a worker.
        for offset in range(MAX_SEARCH_DAYS):
            yield first + timedelta(days=offset)

    @staticmethod
    def _days_back(last: date) -> Iterator[date]:
        for offset in range(MAX_SEARCH_DAYS):
            yield last - timedelta(days=offset)


def _check_hours(hours: float) -> None:
    if hours < 0:
        raise InvalidPeriodError(f"a number of hours must not be negative, got {hours:g}")


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


class CalendarFile:
    """The calendar of an override file, read again whenever the file changes.

    Every process that counts deadlines holds one, so a 임시공휴일 added to the
    file is counted by all of them without a restart. A file that has become
    unreadable or invalid keeps the last good calendar (`error` says why): a typo
    must not stop every clock.
    """

    def __init__(self, path: str | Path, public_holidays: HolidaySource | None = None) -> None:
        self.path = Path(path)
        self._public_holidays = public_holidays
        self._stamp = self._stat()
        self._calendar = BusinessCalendar.from_override_file(self.path, public_holidays)
        self.error: str | None = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return (found.st_mtime_ns, found.st_size, found.st_ino)

    def current(self) -> BusinessCalendar:
        """The calendar as the file now says (one `stat` when nothing changed)."""
        stamp = self._stat()
        if stamp != self._stamp:
            self.reload(stamp)
        return self._calendar

    def reload(self, stamp: tuple[int, int, int] | None = None) -> BusinessCalendar:
        """Read the file now; keep the last good calendar if it cannot be read."""
        try:
            self._calendar = BusinessCalendar.from_override_file(self.path, self._public_holidays)
            self.error = None
        except CalendarError as error:
            self.error = str(error)
        self._stamp = self._stat() if stamp is None else stamp
        return self._calendar


WEEKDAYS = "월화수목금토일"


def korean_moment(moment: datetime) -> str:
    """A moment as residents and staff read it: 2026년 12월 8일(화) 14:00 (Seoul)."""
    local = to_seoul(moment)
    return local.strftime(f"%Y년 %-m월 %-d일({WEEKDAYS[local.weekday()]}) %H:%M")
