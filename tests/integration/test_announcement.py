"""헌장 5 (결과 공지): a closed complaint's result is announced, or a decision not to
is recorded, within the policy's period (the service on a real SQLite store)."""

from __future__ import annotations

import pytest

from application.service import Complaints
from domain.commands import Announce, Answer, Close, DeclineAnnouncement, Escalate
from domain.complaint import AnnouncementNotPendingError, CaseClosedError, Complaint
from tests.support.samples import kst, sample_intake


def closed(app: Complaints, category: str = "opinion", private: bool = False) -> Complaint:
    case = app.file(
        sample_intake(category=category, private=private, received_at=kst("2026-07-06T10:00"))
    )
    app.perform(
        case.id,
        Answer(text="개선하겠습니다", by="park.officer"),
        at=kst("2026-07-08T10:00"),
        command_id="answer",
    )
    app.perform(case.id, Close(by="park.officer"), at=kst("2026-07-08T11:00"), command_id="close")
    return app.get_case(case.id)


def names(app: Complaints, case: Complaint) -> list[str]:
    return [type(e).__name__ for e in app.history(case.id)]


def test_closing_a_complaint_starts_the_clock_of_its_announcement(complaints: Complaints) -> None:
    case = closed(complaints)

    clock = case.commitments["announcement"]
    # Seven working days, the day of closing (Wed 07-08) the first.
    assert clock.status == "open"
    assert clock.due == kst("2026-07-16T18:00")
    assert clock.warn_at == kst("2026-07-15T09:00")
    assert case.status == "closed"


@pytest.mark.parametrize(("category", "private"), [("opinion", True), ("inquiry", False)])
def test_a_private_case_or_an_inquiry_has_no_announcement_clock(
    complaints: Complaints, category: str, private: bool
) -> None:
    case = closed(complaints, category, private)

    assert "announcement" not in case.commitments


def test_announcing_keeps_the_clock(complaints: Complaints) -> None:
    case = closed(complaints)

    complaints.perform(
        case.id,
        Announce(summary="프로그램 시간표를 조정했습니다", by="park.officer"),
        at=kst("2026-07-10T10:00"),
        command_id="announce",
    )

    clock = complaints.get_case(case.id).commitments["announcement"]
    assert (clock.status, clock.met_at) == ("met", kst("2026-07-10T10:00"))


def test_a_decision_not_to_announce_keeps_the_clock_with_its_reason(
    complaints: Complaints,
) -> None:
    case = closed(complaints)

    complaints.perform(
        case.id,
        DeclineAnnouncement(reason="민원인이 공지를 원하지 않음", by="park.officer"),
        at=kst("2026-07-10T10:00"),
        command_id="decline",
    )

    declined = complaints.get_case(case.id)
    assert declined.commitments["announcement"].status == "met"
    assert declined.announcement_declined == "민원인이 공지를 원하지 않음"
    assert names(complaints, case)[-2:] == ["AnnouncementDeclined", "CommitmentMet"]
    version = declined.version
    with pytest.raises(AnnouncementNotPendingError):
        complaints.perform(
            case.id,
            DeclineAnnouncement(reason="다시", by="park.officer"),
            at=kst("2026-07-10T11:00"),
            command_id="decline-again",
        )
    assert complaints.get_case(case.id).version == version


def test_a_closed_case_is_escalated_only_while_its_announcement_is_pending(
    complaints: Complaints,
) -> None:
    case = closed(complaints)

    complaints.perform(
        case.id,
        Escalate(reason="결과 공지 기한 초과", by="system", trigger="deadline"),
        at=kst("2026-07-16T18:00"),
        command_id="escalate",
    )
    complaints.perform(
        case.id,
        Announce(summary="공지합니다", by="park.officer"),
        at=kst("2026-07-21T10:00"),
        command_id="announce",
    )

    announced = complaints.get_case(case.id)
    assert announced.escalations[-1].to_role == "designated_officer"
    assert announced.commitments["announcement"].met_at == kst("2026-07-21T10:00")
    with pytest.raises(CaseClosedError):
        complaints.perform(
            case.id,
            Escalate(reason="또", by="han.ops"),
            at=kst("2026-07-22T10:00"),
            command_id="escalate-again",
        )


def test_reopening_cancels_the_pending_clock_and_closing_again_starts_a_new_one(
    complaints: Complaints,
) -> None:
    from domain.commands import Reopen

    case = closed(complaints)
    complaints.perform(
        case.id, Reopen(reason="추가 의견", by="park.officer"), at=kst("2026-07-09T10:00"),
        command_id="reopen",
    )  # fmt: skip
    assert complaints.get_case(case.id).commitments["announcement"].status == "cancelled"
    complaints.perform(case.id, Answer(text="다시 답변", by="park.officer"),
                       at=kst("2026-07-10T10:00"), command_id="answer-2")  # fmt: skip
    complaints.perform(case.id, Close(by="park.officer"), at=kst("2026-07-10T11:00"),
                       command_id="close-2")  # fmt: skip

    clock = complaints.get_case(case.id).commitments["announcement"]
    assert (clock.status, clock.started_at) == ("open", kst("2026-07-10T11:00"))
