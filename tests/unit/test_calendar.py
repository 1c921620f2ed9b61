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

REPO = Path(__file__).resolve().parents[2]
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


def test_calendar_rule_leaves_out_the_day_of_receipt_and_ends_at_midnight(
    calendar: BusinessCalendar,
) -> None:
    # 민법 §157: received at 10:00, the first day counted is the next; §159: the
    # period ends when its seventh day (Mon 09-28) ends.
    deadline = calendar.due(seoul("2026-09-21T10:00"), 7, rule="calendar")

    assert deadline.due == seoul("2026-09-29T00:00")
    assert deadline.method == "calendar_days"
    assert deadline.skipped == ()
    assert deadline.counted == ((seoul("2026-09-22T00:00"), seoul("2026-09-29T00:00")),)


def test_calendar_rule_counts_the_first_day_when_the_period_starts_at_midnight(
    calendar: BusinessCalendar,
) -> None:
    # From 00:00 on Mon 09-21 the seventh day is Sunday 09-27: §161 moves the end
    # to the end of Monday.
    deadline = calendar.due(seoul("2026-09-21T00:00"), 7, rule="calendar")

    assert deadline.due == seoul("2026-09-29T00:00")
    assert deadline.skipped == (NonWorkingDay(date(2026, 9, 27), "일요일"),)


def test_calendar_rule_period_ending_on_chuseok_ends_on_the_next_working_day(
    calendar: BusinessCalendar,
) -> None:
    # Received Sun 09-20: days 09-21..09-24; 09-24 is 추석 전날, and 추석, its next
    # day (a Saturday) and Sunday follow: the period ends with Mon 09-28.
    deadline = calendar.due(seoul("2026-09-20T15:00"), 4, rule="calendar")

    assert deadline.due == seoul("2026-09-29T00:00")
    assert [skipped.day for skipped in deadline.skipped] == [
        date(2026, 9, 24),
        date(2026, 9, 25),
        date(2026, 9, 26),
        date(2026, 9, 27),
    ]


def test_calendar_rule_period_ending_on_a_center_closure_ends_the_day_after() -> None:
    calendar = BusinessCalendar(closures={date(2026, 10, 28): "복지관 창립기념일 휴관"})

    deadline = calendar.due(seoul("2026-10-21T11:00"), 7, rule="calendar")

    assert deadline.due == seoul("2026-10-30T00:00")


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


# --- durations in working time: warnings, escalation windows, extensions ---


def test_warning_eight_working_hours_before_an_afternoon_due_is_the_day_before(
    calendar: BusinessCalendar,
) -> None:
    # The late-reply investigation due Wed 09-30 16:00 warns 8 working hours
    # ahead: Tue 16:00, not 08:00 on the day (which is before work starts).
    assert calendar.hours_before(seoul("2026-09-30T16:00"), 8) == seoul("2026-09-29T16:00")


def test_warning_that_uses_up_a_whole_day_comes_at_nine_that_morning(
    calendar: BusinessCalendar,
) -> None:
    assert calendar.hours_before(seoul("2026-10-01T18:00"), 8) == seoul("2026-10-01T09:00")
    assert calendar.hours_before(seoul("2026-10-01T18:00"), 24) == seoul("2026-09-29T09:00")


def test_warning_before_a_due_after_chuseok_skips_the_holidays(
    calendar: BusinessCalendar,
) -> None:
    # 24 working hours before Tue 09-29 18:00: Tue, Mon 09-28, and Wed 09-23.
    assert calendar.hours_before(seoul("2026-09-29T18:00"), 24) == seoul("2026-09-23T09:00")


def test_escalation_window_after_a_friday_breach_ends_on_a_working_day(
    calendar: BusinessCalendar,
) -> None:
    # A breach at Fri 18:00 with 24 h to act: three working days, not Saturday.
    assert calendar.hours_after(seoul("2026-07-10T18:00"), 24) == seoul("2026-07-15T18:00")


def test_clock_hours_are_plain_hours_when_a_policy_asks_for_them(
    calendar: BusinessCalendar,
) -> None:
    moment = seoul("2026-07-10T18:00")

    assert calendar.hours_after(moment, 24, "clock") == seoul("2026-07-11T18:00")
    assert calendar.hours_before(moment, 30, "clock") == seoul("2026-07-09T12:00")


def test_negative_hours_are_refused(calendar: BusinessCalendar) -> None:
    with pytest.raises(InvalidPeriodError, match="negative"):
        calendar.hours_before(seoul("2026-07-10T18:00"), -1)


def test_extension_of_seven_working_days_skips_chuseok_and_the_substitute_holiday(
    calendar: BusinessCalendar,
) -> None:
    # Received Mon 09-14 10:00, due Tue 09-22 18:00; seven more working days are
    # 09-23, 09-28, 09-29, 09-30, 10-01, 10-02 and 10-06 (10-05: 개천절 대체 휴일).
    due = calendar.due(seoul("2026-09-14T10:00"), 7).due
    assert due == seoul("2026-09-22T18:00")

    assert calendar.extension_limit(due, 7, "business") == (
        seoul("2026-10-06T18:00"),
        "working_days",
    )


def test_extension_of_a_short_period_adds_its_working_hours(calendar: BusinessCalendar) -> None:
    # Due Wed 07-15 16:00; 24 more working hours: Wed 2, Thu 8, (Fri 07-17 is
    # 제헌절), Mon 8, Tue 6.
    due = calendar.due(seoul("2026-07-10T16:00"), 3).due

    assert calendar.extension_limit(due, 3, "business") == (
        seoul("2026-07-21T16:00"),
        "working_hours",
    )


def test_a_period_counted_in_days_ends_only_at_six_on_a_working_day(
    calendar: BusinessCalendar,
) -> None:
    assert calendar.is_period_end(seoul("2026-10-06T18:00"), "working_days")
    assert not calendar.is_period_end(seoul("2026-10-06T17:00"), "working_days")
    assert not calendar.is_period_end(seoul("2026-10-05T18:00"), "working_days")
    assert calendar.period_ends_around(seoul("2026-10-05T10:00"), "working_days") == (
        seoul("2026-10-02T18:00"),
        seoul("2026-10-06T18:00"),
    )


def test_a_period_counted_in_hours_ends_inside_working_time(calendar: BusinessCalendar) -> None:
    assert calendar.is_period_end(seoul("2026-07-14T12:00"), "working_hours")
    assert calendar.is_period_end(seoul("2026-07-14T15:30"), "working_hours")
    assert not calendar.is_period_end(seoul("2026-07-14T12:30"), "working_hours")
    assert not calendar.is_period_end(seoul("2026-07-14T19:00"), "working_hours")
    assert calendar.period_ends_around(seoul("2026-07-14T19:00"), "working_hours") == (
        seoul("2026-07-14T18:00"),
        seoul("2026-07-15T12:00"),
    )


working_moments = st.builds(
    lambda day, minutes: (
        datetime.combine(day, time(9), tzinfo=SEOUL)
        + timedelta(minutes=minutes + (60 if minutes > 180 else 0))
    ),
    any_day,
    st.integers(min_value=1, max_value=8 * 60),
)
hours = st.integers(min_value=0, max_value=8 * 30 * 4).map(lambda quarters: quarters / 4)


@settings(max_examples=200, deadline=None)
@given(moment=working_moments, amount=hours)
def test_hours_before_leaves_exactly_that_much_working_time(
    moment: datetime, amount: float
) -> None:
    calendar = BusinessCalendar()
    if not calendar.is_working_day(moment.date()):
        moment = calendar.hours_after(moment, 1)

    earlier = calendar.hours_before(moment, amount)

    assert earlier <= moment
    assert calendar.working_hours_between(earlier, moment) == pytest.approx(amount)


@settings(max_examples=200, deadline=None)
@given(moment=receipts, amount=hours)
def test_hours_after_spans_exactly_that_much_working_time(moment: datetime, amount: float) -> None:
    calendar = BusinessCalendar()

    later = calendar.hours_after(moment, amount)

    assert later >= moment
    assert calendar.working_hours_between(moment, later) == pytest.approx(amount)


@settings(max_examples=200, deadline=None)
@given(received=receipts, days=periods, rule=rules)
def test_the_latest_extension_is_itself_a_valid_period_end(
    received: datetime, days: int, rule: CountingRule
) -> None:
    calendar = BusinessCalendar()
    deadline = calendar.due(received, days, rule)

    latest, method = calendar.extension_limit(deadline.due, days, rule)

    assert latest > deadline.due
    assert calendar.is_period_end(latest, method)
    assert calendar.is_period_end(deadline.due, deadline.method)
