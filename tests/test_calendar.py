"""Deadline counting per 민원 처리에 관한 법률 §19."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import (
    SEOUL,
    BusinessCalendar,
    CalendarError,
    CountingRule,
    InvalidPeriodError,
    NaiveDatetimeError,
    NonWorkingDay,
    to_seoul,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED_OVERRIDES = REPO / "policy" / "calendar-overrides.toml"


def seoul(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SEOUL)


@pytest.fixture
def calendar() -> BusinessCalendar:
    return BusinessCalendar()


# --- the worked examples of the counting rules (민원 처리에 관한 법률 §19) ---


def test_seven_days_from_monday_before_chuseok_are_due_on_thursday_october_first(
    calendar: BusinessCalendar,
) -> None:
    deadline = calendar.due(seoul("2026-09-21T10:00"), 7)

    assert deadline.due == seoul("2026-10-01T18:00")
    assert deadline.due.isoformat() == "2026-10-01T18:00:00+09:00"
    assert deadline.method == "working_days"
    assert deadline.rule == "business"
    assert deadline.skipped == (
        NonWorkingDay(date(2026, 9, 24), "추석 전날"),
        NonWorkingDay(date(2026, 9, 25), "추석"),
        NonWorkingDay(date(2026, 9, 26), "추석 다음날"),
        NonWorkingDay(date(2026, 9, 27), "일요일"),
    )


def test_three_days_from_friday_afternoon_are_due_wednesday_at_the_same_hour(
    calendar: BusinessCalendar,
) -> None:
    deadline = calendar.due(seoul("2026-07-10T16:00"), 3)

    assert deadline.due == seoul("2026-07-15T16:00")
    assert deadline.method == "working_hours"
    assert [skipped.reason for skipped in deadline.skipped] == ["토요일", "일요일"]


# --- receipt outside working time ---


def test_receipt_in_the_evening_starts_counting_next_morning_and_ends_at_six(
    calendar: BusinessCalendar,
) -> None:
    deadline = calendar.due(seoul("2026-07-06T19:30"), 1)

    assert deadline.due == seoul("2026-07-07T18:00")


def test_receipt_early_in_the_morning_starts_counting_at_nine(
    calendar: BusinessCalendar,
) -> None:
    assert calendar.due(seoul("2026-07-07T07:00"), 1).due == seoul("2026-07-07T18:00")


def test_receipt_at_lunch_starts_counting_at_one_and_ends_at_noon_not_after_lunch(
    calendar: BusinessCalendar,
) -> None:
    # 13:00–18:00 is five hours, the next morning's 09:00–12:00 the other three.
    assert calendar.due(seoul("2026-07-07T12:30"), 1).due == seoul("2026-07-08T12:00")


def test_count_that_ends_exactly_at_six_is_due_at_six_not_next_morning(
    calendar: BusinessCalendar,
) -> None:
    assert calendar.due(seoul("2026-07-06T09:00"), 2).due == seoul("2026-07-07T18:00")


def test_receipt_on_saturday_counts_from_monday_morning(calendar: BusinessCalendar) -> None:
    deadline = calendar.due(seoul("2026-07-11T10:00"), 1)

    assert deadline.due == seoul("2026-07-13T18:00")
    assert deadline.skipped == (
        NonWorkingDay(date(2026, 7, 11), "토요일"),
        NonWorkingDay(date(2026, 7, 12), "일요일"),
    )


def test_receipt_on_a_holiday_counts_from_the_next_working_morning(
    calendar: BusinessCalendar,
) -> None:
    deadline = calendar.due(seoul("2026-06-03T10:00"), 2)

    assert deadline.due == seoul("2026-06-05T18:00")
    assert deadline.skipped == (NonWorkingDay(date(2026, 6, 3), "지방선거일"),)


def test_receipt_on_saturday_of_a_long_period_counts_monday_as_the_first_day(
    calendar: BusinessCalendar,
) -> None:
    deadline = calendar.due(seoul("2026-07-04T10:00"), 6)

    assert deadline.due == seoul("2026-07-13T18:00")
    assert deadline.method == "working_days"


def test_day_of_receipt_counts_as_first_day_even_late_in_the_evening(
    calendar: BusinessCalendar,
) -> None:
    assert calendar.due(seoul("2026-07-06T23:00"), 6).due == seoul("2026-07-13T18:00")


def test_six_days_is_the_shortest_period_counted_in_days(calendar: BusinessCalendar) -> None:
    assert calendar.due(seoul("2026-07-06T10:00"), 5).method == "working_hours"
    assert calendar.due(seoul("2026-07-06T10:00"), 6).method == "working_days"


# --- holiday weeks ---


def test_seollal_week_2026_is_skipped_when_counting_hours(calendar: BusinessCalendar) -> None:
    # Friday 14–18 gives 4 h, Thursday and Friday after 설날 16 h, Monday 4 h more.
    deadline = calendar.due(seoul("2026-02-13T14:00"), 3)

    assert deadline.due == seoul("2026-02-23T14:00")
    assert [(skipped.day.day, skipped.reason) for skipped in deadline.skipped] == [
        (14, "토요일"),
        (15, "일요일"),
        (16, "설날 전날"),
        (17, "설날"),
        (18, "설날 다음날"),
        (21, "토요일"),
        (22, "일요일"),
    ]


def test_seollal_2027_on_the_weekend_brings_a_substitute_holiday_that_is_skipped(
    calendar: BusinessCalendar,
) -> None:
    deadline = calendar.due(seoul("2027-02-05T15:00"), 7)

    assert deadline.due == seoul("2027-02-17T18:00")
    assert NonWorkingDay(date(2027, 2, 9), "설날 대체 휴일") in deadline.skipped


def test_chuseok_week_is_skipped_when_counting_hours(calendar: BusinessCalendar) -> None:
    # Wednesday 17–18 gives 1 h; 추석 runs Thursday to Saturday.
    assert calendar.due(seoul("2026-09-23T17:00"), 2).due == seoul("2026-09-29T17:00")


def test_substitute_holiday_for_liberation_day_is_not_counted(
    calendar: BusinessCalendar,
) -> None:
    reason = calendar.non_working_reason(date(2026, 8, 17))
    assert reason is not None and "대체" in reason

    deadline = calendar.due(seoul("2026-08-13T10:00"), 7)

    assert deadline.due == seoul("2026-08-24T18:00")
    assert NonWorkingDay(date(2026, 8, 17), reason) in deadline.skipped


def test_public_holiday_on_a_saturday_is_reported_by_its_name(
    calendar: BusinessCalendar,
) -> None:
    assert calendar.non_working_reason(date(2026, 9, 26)) == "추석 다음날"
    assert calendar.non_working_reason(date(2026, 9, 27)) == "일요일"
    assert calendar.non_working_reason(date(2026, 9, 28)) is None
    assert calendar.is_working_day(date(2026, 9, 28))


# --- overrides ---


def test_added_holiday_pushes_the_due_date_by_one_working_day(
    calendar: BusinessCalendar,
) -> None:
    with_holiday = calendar.with_extra_holiday(date(2026, 9, 30), "임시공휴일")

    deadline = with_holiday.due(seoul("2026-09-21T10:00"), 7)

    assert deadline.due == seoul("2026-10-02T18:00")
    assert NonWorkingDay(date(2026, 9, 30), "임시공휴일") in deadline.skipped
    assert calendar.due(seoul("2026-09-21T10:00"), 7).due == seoul("2026-10-01T18:00")


def test_center_closure_pushes_the_due_moment_by_a_working_day() -> None:
    calendar = BusinessCalendar(closures={date(2026, 7, 14): "복지관 창립기념일 휴관"})

    deadline = calendar.due(seoul("2026-07-10T16:00"), 3)

    assert deadline.due == seoul("2026-07-16T16:00")
    assert NonWorkingDay(date(2026, 7, 14), "복지관 창립기념일 휴관") in deadline.skipped


def test_override_file_adds_holidays_and_closures(tmp_path: Path) -> None:
    overrides = tmp_path / "overrides.toml"
    overrides.write_text(
        '[[holiday]]\ndate = 2026-09-30\nname = "임시공휴일"\n\n'
        '[[closure]]\ndate = 2026-09-29\nname = "시설 안전점검 휴관"\n',
        encoding="utf-8",
    )

    calendar = BusinessCalendar.from_override_file(overrides)

    assert calendar.non_working_reason(date(2026, 9, 30)) == "임시공휴일"
    assert calendar.non_working_reason(date(2026, 9, 29)) == "시설 안전점검 휴관"
    assert calendar.due(seoul("2026-09-21T10:00"), 7).due == seoul("2026-10-06T18:00")


def test_shipped_override_file_loads_and_only_lists_weekday_closures() -> None:
    calendar = BusinessCalendar.from_override_file(SHIPPED_OVERRIDES)

    assert calendar.closures
    for day in calendar.closures:
        assert day.weekday() < 5
        assert BusinessCalendar().is_working_day(day)


def test_bad_entry_in_override_file_names_the_file_and_the_entry(tmp_path: Path) -> None:
    overrides = tmp_path / "overrides.toml"
    overrides.write_text(
        '[[closure]]\ndate = 2026-10-28\nname = "창립기념일"\n\n'
        '[[closure]]\ndate = "2026-13-01"\nname = "잘못된 날짜"\n',
        encoding="utf-8",
    )

    with pytest.raises(CalendarError) as raised:
        BusinessCalendar.from_override_file(overrides)

    message = str(raised.value)
    assert str(overrides) in message
    assert "[[closure]] entry #2" in message
    assert "date" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[[holiday]\n", "not valid TOML"),
        ("[[holiday]]\ndate = 2026-12-24\n", "'name'"),
        ('[[holiday]]\ndate = 2026-12-24\nname = "x"\nkind = "y"\n', "unknown key 'kind'"),
        ('[[closures]]\ndate = 2026-12-24\nname = "x"\n', "unknown section 'closures'"),
        ('[[holiday]]\ndate = 2026-12-24T00:00:00\nname = "x"\n', "TOML date"),
    ],
)
def test_malformed_override_file_is_a_calendar_error(
    tmp_path: Path, content: str, expected: str
) -> None:
    overrides = tmp_path / "overrides.toml"
    overrides.write_text(content, encoding="utf-8")

    with pytest.raises(CalendarError, match=expected):
        BusinessCalendar.from_override_file(overrides)


def test_missing_override_file_is_a_calendar_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"

    with pytest.raises(CalendarError, match=r"missing\.toml"):
        BusinessCalendar.from_override_file(missing)


# --- the calendar rule, time zones, bad input ---


def test_calendar_rule_adds_whole_days_without_skipping(calendar: BusinessCalendar) -> None:
    deadline = calendar.due(seoul("2026-09-21T10:00"), 7, rule="calendar")

    assert deadline.due == seoul("2026-09-28T10:00")
    assert deadline.method == "calendar_days"
    assert deadline.skipped == ()


def test_receipt_given_in_utc_is_counted_on_seoul_time(calendar: BusinessCalendar) -> None:
    deadline = calendar.due(datetime(2026, 9, 21, 1, 0, tzinfo=UTC), 7)

    assert deadline.received == seoul("2026-09-21T10:00")
    assert deadline.received.tzinfo is SEOUL
    assert deadline.due.isoformat() == "2026-10-01T18:00:00+09:00"


def test_utc_evening_is_already_the_next_working_morning_in_seoul(
    calendar: BusinessCalendar,
) -> None:
    # 23:30 UTC on Thursday is 08:30 on Friday in Seoul.
    deadline = calendar.due(datetime(2026, 7, 9, 23, 30, tzinfo=UTC), 1)

    assert deadline.due == seoul("2026-07-10T18:00")


def test_naive_receipt_is_rejected_with_a_message_asking_for_an_offset(
    calendar: BusinessCalendar,
) -> None:
    with pytest.raises(NaiveDatetimeError, match=r"no UTC offset.*\+09:00"):
        calendar.due(datetime(2026, 9, 21, 10, 0), 7)


def test_naive_datetime_error_is_a_calendar_error_and_a_value_error() -> None:
    with pytest.raises(CalendarError):
        to_seoul(datetime(2026, 9, 21, 10, 0))
    assert issubclass(NaiveDatetimeError, ValueError)


@pytest.mark.parametrize("days", [0, -1])
def test_period_shorter_than_one_day_is_rejected(calendar: BusinessCalendar, days: int) -> None:
    with pytest.raises(InvalidPeriodError, match="at least 1 day"):
        calendar.due(seoul("2026-09-21T10:00"), days)


def test_unknown_counting_rule_is_rejected(calendar: BusinessCalendar) -> None:
    with pytest.raises(CalendarError, match="unknown counting rule"):
        calendar.due(seoul("2026-09-21T10:00"), 7, rule="weekdays")  # type: ignore[arg-type]


# --- working hours elapsed ---


def test_friday_four_pm_to_monday_ten_am_is_three_working_hours(
    calendar: BusinessCalendar,
) -> None:
    hours = calendar.working_hours_between(seoul("2026-07-10T16:00"), seoul("2026-07-13T10:00"))

    assert hours == 3.0


def test_lunch_hour_is_not_a_working_hour(calendar: BusinessCalendar) -> None:
    hours = calendar.working_hours_between(seoul("2026-07-07T11:00"), seoul("2026-07-07T14:00"))

    assert hours == 2.0


def test_no_working_hours_pass_over_chuseok(calendar: BusinessCalendar) -> None:
    hours = calendar.working_hours_between(seoul("2026-09-24T09:00"), seoul("2026-09-27T18:00"))

    assert hours == 0.0


def test_working_hours_between_is_zero_when_end_is_not_later(
    calendar: BusinessCalendar,
) -> None:
    moment = seoul("2026-07-07T11:00")

    assert calendar.working_hours_between(moment, moment) == 0.0
    assert calendar.working_hours_between(moment, moment - timedelta(hours=2)) == 0.0


# --- properties ---

offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
receipts = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31, 23, 59), timezones=offsets
)
periods = st.integers(min_value=1, max_value=30)
rules = st.sampled_from(["business", "calendar"])
any_day = st.dates(min_value=date(2025, 1, 1), max_value=date(2029, 12, 31))


def is_within_working_time(moment: datetime) -> bool:
    clock = moment.timetz().replace(tzinfo=None)
    return time(9) < clock <= time(12) or time(13) < clock <= time(18)


@settings(max_examples=200, deadline=None)
@given(received=receipts, days=periods, rule=rules)
def test_due_moment_is_never_before_receipt(
    received: datetime, days: int, rule: CountingRule
) -> None:
    deadline = BusinessCalendar().due(received, days, rule)

    assert deadline.due >= received
    assert deadline.due.tzinfo is SEOUL


@settings(max_examples=200, deadline=None)
@given(received=receipts, days=periods)
def test_business_due_moment_is_within_working_time_of_a_working_day(
    received: datetime, days: int
) -> None:
    calendar = BusinessCalendar()

    due = calendar.due(received, days).due

    assert calendar.is_working_day(due.date())
    assert is_within_working_time(due)


@settings(max_examples=200, deadline=None)
@given(received=receipts, days=st.integers(min_value=1, max_value=5))
def test_short_periods_span_exactly_eight_working_hours_a_day(
    received: datetime, days: int
) -> None:
    calendar = BusinessCalendar()

    due = calendar.due(received, days).due

    assert calendar.working_hours_between(received, due) == pytest.approx(8 * days)


@settings(max_examples=200, deadline=None)
@given(received=receipts, days=periods, rule=rules, holiday=any_day)
def test_an_added_holiday_never_makes_the_due_moment_earlier(
    received: datetime, days: int, rule: CountingRule, holiday: date
) -> None:
    calendar = BusinessCalendar()

    before = calendar.due(received, days, rule).due
    after = calendar.with_extra_holiday(holiday, "임시공휴일").due(received, days, rule).due

    assert after >= before
