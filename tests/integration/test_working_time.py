"""Every duration in the policy counts working time: warnings, escalation windows,
extension limits, recorded with the rule used (the service on a real SQLite store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from application.service import Complaints
from domain.calendar import BusinessCalendar
from domain.commands import Breach, Escalate, SendInterimReply, TakeMessage
from domain.complaint import (
    Complaint,
    ConsentRequiredError,
    DueOutsideWorkingTimeError,
    ExtensionLimitError,
    ExtensionTooLongError,
)
from domain.policy import load_policy
from tests.support.samples import kst, sample_intake


def filed(app: Complaints, category: str, received: str) -> Complaint:
    return app.file(sample_intake(category=category, received_at=kst(received)))


def started(app: Complaints, case: Complaint, kind: str) -> object:
    return next(
        e
        for e in app.history(case.id)
        if type(e).__name__ == "CommitmentStarted" and e.kind == kind  # type: ignore[attr-defined]
    )


def test_an_inquirys_warning_comes_24_working_hours_before_its_due_and_says_so(
    complaints: Complaints,
) -> None:
    case = filed(complaints, "inquiry", "2026-09-21T10:00")
    reply = case.commitments["reply"]

    assert reply.due == kst("2026-10-01T18:00")
    assert reply.warn_at == kst("2026-09-29T09:00")
    event = started(complaints, case, "reply")
    assert (event.warn_hours, event.warn_counting) == (24, "working")  # type: ignore[attr-defined]


def test_a_late_reply_investigations_warning_is_eight_working_hours_ahead(
    complaints: Complaints,
) -> None:
    case = filed(complaints, "late_reply", "2026-09-23T16:00")
    investigation = case.commitments["investigation"]

    # Three working days (24 working hours) from Wed 09-23 16:00, past 추석: due
    # Wed 09-30 16:00, warned Tue 09-29 16:00 — not 08:00 on the day (a clock
    # count of 8 h), before anyone is at work.
    assert investigation.due == kst("2026-09-30T16:00")
    assert investigation.warn_at == kst("2026-09-29T16:00")


def test_a_promised_callbacks_warning_skips_the_lunch_hour(complaints: Complaints) -> None:
    case = filed(complaints, "callback", "2026-07-14T10:00")
    complaints.perform(
        case.id,
        TakeMessage(
            for_staff="lee.service", taken_by="choi.tour", callback_by=kst("2026-07-14T13:30")
        ),
        at=kst("2026-07-14T10:05"),
        command_id="take",
    )

    callback = complaints.get_case(case.id).commitments["callback"]
    assert callback.warn_at == kst("2026-07-14T11:30")


def interim(app: Complaints, case: Complaint, new_due: str, command_id: str) -> None:
    app.perform(
        case.id,
        SendInterimReply(reason="외부 기관 확인 중", new_due=kst(new_due), by="lee.service"),
        at=kst("2026-09-21T11:00"),
        command_id=command_id,
    )


def test_an_extension_may_add_the_original_seven_working_days_and_not_one_more(
    complaints: Complaints,
) -> None:
    case = filed(complaints, "inquiry", "2026-09-14T10:00")
    assert case.commitments["reply"].due == kst("2026-09-22T18:00")
    version = complaints.get_case(case.id).version

    with pytest.raises(ExtensionTooLongError, match=r"latest valid moment 2026-10-06T18:00"):
        interim(complaints, case, "2026-10-07T18:00", "one-day-too-many")
    assert complaints.get_case(case.id).version == version

    interim(complaints, case, "2026-10-06T18:00", "exactly-seven")
    reply = complaints.get_case(case.id).commitments["reply"]
    assert reply.due == kst("2026-10-06T18:00")
    # The warning moves with it, counted again in working time: 10-06, 10-02, 10-01.
    assert reply.warn_at == kst("2026-10-01T09:00")
    extended = [e for e in complaints.history(case.id) if type(e).__name__ == "CommitmentExtended"]
    assert extended[-1].limit_rule == "working_days"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("new_due", "nearest"),
    [
        ("2026-10-02T17:00", "2026-10-01T18:00:00+09:00 or 2026-10-02T18:00:00+09:00"),
        ("2026-10-05T18:00", "2026-10-02T18:00:00+09:00 or 2026-10-06T18:00:00+09:00"),
        ("2026-10-06T19:00", "2026-10-06T18:00:00+09:00"),
    ],
)
def test_a_new_due_outside_the_end_of_a_working_day_is_refused_naming_the_nearest(
    complaints: Complaints, new_due: str, nearest: str
) -> None:
    case = filed(complaints, "inquiry", "2026-09-14T10:00")
    version = case.version

    with pytest.raises((DueOutsideWorkingTimeError, ExtensionTooLongError)) as refused:
        interim(complaints, case, new_due, "misplaced")

    assert nearest in str(refused.value)
    assert complaints.get_case(case.id).version == version


def test_the_officers_window_after_a_friday_breach_ends_on_wednesday_not_saturday(
    complaints: Complaints,
) -> None:
    case = filed(complaints, "inquiry", "2026-07-02T10:00")
    assert case.commitments["reply"].due == kst("2026-07-10T18:00")
    complaints.perform(case.id, Breach(kind="reply"), at=kst("2026-07-10T18:00"), command_id="b")
    complaints.perform(
        case.id,
        Escalate(reason="기한 초과", by="system", trigger="deadline"),
        at=kst("2026-07-10T18:00"),
        command_id="e1",
    )

    first = complaints.get_case(case.id).escalations[0]
    assert (first.act_by, first.act_counting) == (kst("2026-07-15T18:00"), "working")

    complaints.perform(
        case.id,
        Escalate(reason="지정책임관 미조치", by="system", trigger="deadline"),
        at=kst("2026-07-15T18:00"),
        command_id="e2",
    )
    # The director is the chain's last level: nobody comes after, no window.
    last = complaints.get_case(case.id).escalations[1]
    assert (last.to_role, last.act_by, last.act_counting) == ("director", None, None)


def test_a_policy_may_count_an_escalation_window_in_clock_hours(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "policy" / "ansim.toml"
    text = source.read_text(encoding="utf-8").replace(
        '{ role = "designated_officer", act_within_hours = 24 }',
        '{ role = "designated_officer", act_within_hours = 24, act_counting = "clock" }',
    )
    assert 'act_counting = "clock"' in text
    (tmp_path / "policy.toml").write_text(text, encoding="utf-8")
    app = Complaints(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "e.db")},
        policy=load_policy(tmp_path / "policy.toml"),
        calendar=BusinessCalendar(),
    )
    try:
        case = filed(app, "inquiry", "2026-07-02T10:00")
        app.perform(
            case.id,
            Escalate(reason="확인", by="ops.kim"),
            at=kst("2026-07-10T18:00"),
            command_id="e1",
        )
        first = app.get_case(case.id).escalations[0]
        assert (first.act_by, first.act_counting) == (kst("2026-07-11T18:00"), "clock")
    finally:
        app.close()


def test_a_second_extension_needs_the_residents_consent_and_a_third_is_refused(
    complaints: Complaints,
) -> None:
    case = filed(complaints, "inquiry", "2026-09-14T10:00")
    interim(complaints, case, "2026-10-06T18:00", "first")

    def again(new_due: str, command_id: str, consent: str | None) -> None:
        complaints.perform(
            case.id,
            SendInterimReply(
                reason="추가 자료 확인",
                new_due=kst(new_due),
                by="lee.service",
                consent=consent,  # type: ignore[arg-type]
            ),
            at=kst("2026-10-05T11:00"),
            command_id=command_id,
        )

    version = complaints.get_case(case.id).version
    with pytest.raises(ConsentRequiredError, match="consent"):
        again("2026-10-16T18:00", "no-consent", None)
    assert complaints.get_case(case.id).version == version

    # With consent: the same limit again, seven working days after 10-06 (한글날 10-09 off).
    with pytest.raises(ExtensionTooLongError, match="2026-10-16T18:00"):
        again("2026-10-19T18:00", "too-long", "phone")
    again("2026-10-16T18:00", "with-consent", "phone")
    reply = complaints.get_case(case.id).commitments["reply"]
    assert (reply.due, reply.extensions) == (kst("2026-10-16T18:00"), 2)
    sent = [e for e in complaints.history(case.id) if type(e).__name__ == "InterimReplySent"]
    assert [e.consent for e in sent] == [None, "phone"]  # type: ignore[attr-defined]

    with pytest.raises(ExtensionLimitError, match="2 time"):
        again("2026-10-20T18:00", "third", "writing")
