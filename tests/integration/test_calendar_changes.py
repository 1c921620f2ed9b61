"""The calendar changes and open cases follow it (the service on real SQLite files)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from application.service import Complaints
from domain.calendar import BusinessCalendar, CalendarFile, _public_holidays
from domain.commands import Recount, SendInterimReply
from domain.complaint import Complaint
from domain.policy import load_policy
from tests.support.files import write
from tests.support.samples import kst, sample_intake

POLICY = Path(__file__).resolve().parents[2] / "policy" / "ansim.toml"
HOLIDAY = '[[holiday]]\ndate = 2026-10-02\nname = "임시공휴일"\n'


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    path = tmp_path / "overrides.toml"
    write(path, "")
    return path


@pytest.fixture
def open_app(tmp_path: Path, overrides: Path) -> Iterator[Callable[..., Complaints]]:
    opened: list[Complaints] = []

    def open_one(**kwargs: object) -> Complaints:
        app = Complaints(
            env={
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(tmp_path / "events.db"),
                "MINWON_CALENDAR_OVERRIDES": str(overrides),
            },
            **kwargs,  # type: ignore[arg-type]
        )
        opened.append(app)
        return app

    yield open_one
    for app in opened:
        app.close()


def filed(app: Complaints, received: str) -> Complaint:
    return app.file(sample_intake(received_at=kst(received)))


def recount(app: Complaints, case: Complaint, command_id: str = "recount-1") -> Complaint:
    change = app.follow_calendar(kst("2026-09-29T12:00")).change
    app.perform(
        case.id,
        Recount(added=change.added if change else {}, removed=change.removed if change else {}),
        at=kst("2026-09-29T12:00"),
        command_id=command_id,
    )
    return app.get_case(case.id)


def rescheduled(app: Complaints, case: Complaint) -> list[object]:
    return [e for e in app.history(case.id) if type(e).__name__ == "CommitmentRescheduled"]


def test_the_override_file_is_read_again_when_it_changes(overrides: Path) -> None:
    watched = CalendarFile(overrides)
    assert watched.current().is_working_day(date(2026, 10, 2))

    write(overrides, HOLIDAY)

    assert watched.current().non_working_reason(date(2026, 10, 2)) == "임시공휴일"


def test_a_broken_override_file_keeps_the_last_good_calendar_and_says_why(
    overrides: Path,
) -> None:
    write(overrides, HOLIDAY)
    watched = CalendarFile(overrides)

    write(overrides, "[[holiday]]\ndate = 2026-10-02\n")

    assert watched.current().non_working_reason(date(2026, 10, 2)) == "임시공휴일"
    assert watched.error is not None and "'name'" in watched.error


def test_a_holiday_added_inside_the_period_moves_the_due_one_working_day_and_says_which(
    open_app: Callable[..., Complaints], overrides: Path
) -> None:
    app = open_app()
    case = filed(app, "2026-09-28T10:00")
    assert case.commitments["reply"].due == kst("2026-10-07T18:00")
    first = app.follow_calendar(kst("2026-09-28T10:00"))
    assert (first.change, first.started) == (None, True)

    write(overrides, HOLIDAY)
    moved = recount(app, case)

    reply = moved.commitments["reply"]
    assert reply.due == kst("2026-10-08T18:00")
    assert reply.warn_at == app.calendar.hours_before(kst("2026-10-08T18:00"), 24)
    [event] = rescheduled(app, case)
    assert event.previous_due == kst("2026-10-07T18:00")  # type: ignore[attr-defined]
    assert event.added == {"2026-10-02": "임시공휴일"}  # type: ignore[attr-defined]
    assert app.verify(case.id) is None


def test_another_process_counts_with_the_changed_file_without_a_restart(
    open_app: Callable[..., Complaints], overrides: Path
) -> None:
    first, second = open_app(), open_app()
    assert second.calendar.is_working_day(date(2026, 10, 2))

    write(overrides, HOLIDAY)

    assert not second.calendar.is_working_day(date(2026, 10, 2))
    assert filed(first, "2026-09-28T10:00").commitments["reply"].due == kst("2026-10-08T18:00")


def test_a_change_is_recorded_once_and_resumed_until_marked_recounted(
    open_app: Callable[..., Complaints], overrides: Path
) -> None:
    app, other = open_app(), open_app()
    app.follow_calendar(kst("2026-09-28T10:00"))
    write(overrides, HOLIDAY)

    followed = app.follow_calendar(kst("2026-09-28T11:00"))
    change = followed.change
    assert followed.new and change is not None and change.added == {"2026-10-02": "임시공휴일"}
    # Another process sees the same change as recorded, not yet recounted.
    resumed = other.follow_calendar(kst("2026-09-28T11:01"))
    assert (resumed.change, resumed.new) == (change, False)

    app.calendar_recounted(change.number, kst("2026-09-28T11:02"))

    assert other.follow_calendar(kst("2026-09-28T11:03")).change is None


def test_a_cancelled_closure_does_not_move_a_due_earlier_unless_the_policy_says_so(
    open_app: Callable[..., Complaints], overrides: Path, tmp_path: Path
) -> None:
    write(overrides, HOLIDAY)
    app = open_app()
    case = filed(app, "2026-09-28T10:00")
    app.follow_calendar(kst("2026-09-28T10:00"))
    assert case.commitments["reply"].due == kst("2026-10-08T18:00")

    write(overrides, "")
    kept = recount(app, case)
    assert kept.commitments["reply"].due == kst("2026-10-08T18:00")
    assert rescheduled(app, case) == []

    text = POLICY.read_text(encoding="utf-8").replace(
        'linked_complaint_category = "late_reply"',
        'linked_complaint_category = "late_reply"\nrecount_earlier = true',
    )
    (tmp_path / "earlier.toml").write_text(text, encoding="utf-8")
    earlier = open_app(policy=load_policy(tmp_path / "earlier.toml"))
    moved = recount(earlier, earlier.get_case(case.id), command_id="recount-2")
    assert moved.commitments["reply"].due == kst("2026-10-07T18:00")


def test_a_date_set_by_an_interim_reply_moves_only_if_it_becomes_a_day_off(
    open_app: Callable[..., Complaints], overrides: Path
) -> None:
    app = open_app()
    case = filed(app, "2026-09-14T10:00")
    app.perform(
        case.id,
        SendInterimReply(reason="확인 중", new_due=kst("2026-10-06T18:00"), by="lee.service"),
        at=kst("2026-09-21T11:00"),
        command_id="interim",
    )
    app.follow_calendar(kst("2026-09-21T11:00"))

    write(overrides, HOLIDAY)
    assert recount(app, case).commitments["reply"].due == kst("2026-10-06T18:00")

    write(overrides, HOLIDAY + '[[closure]]\ndate = 2026-10-06\nname = "임시 휴관"\n')
    moved = recount(app, case, command_id="recount-2")
    assert moved.commitments["reply"].due == kst("2026-10-07T18:00")


def test_a_new_holidays_release_is_a_change_like_an_edited_file(
    open_app: Callable[..., Complaints],
) -> None:
    app = open_app()
    case = filed(app, "2026-09-28T10:00")
    app.follow_calendar(kst("2026-09-28T10:00"))

    def newer_release(year: int) -> dict[date, str]:
        known = dict(_public_holidays(year))
        if year == 2026:
            known[date(2026, 10, 2)] = "임시공휴일"
        return known

    app.use_calendar(BusinessCalendar(public_holidays=newer_release))
    moved = recount(app, case)

    assert moved.commitments["reply"].due == kst("2026-10-08T18:00")
    [event] = rescheduled(app, case)
    assert event.added == {"2026-10-02": "임시공휴일"}  # type: ignore[attr-defined]
