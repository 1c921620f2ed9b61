"""A complaint about a late or careless reply checks its claim (the service, real SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from application.service import Claim, Complaints, LinkedCaseRequiredError
from domain.commands import Answer, Breach, RateSatisfaction
from domain.complaint import Complaint
from domain.policy import load_policy
from tests.support.samples import kst, sample_intake

POLICY = Path(__file__).resolve().parents[2] / "policy" / "ansim.toml"


def inquiry(app: Complaints) -> Complaint:
    return app.file(sample_intake(received_at=kst("2026-07-06T10:00")))


def answered(app: Complaints, case: Complaint, when: str, rating: int | None = None) -> Complaint:
    app.perform(
        case.id, Answer(text="안내드립니다", by="lee.service"), at=kst(when), command_id="a"
    )
    if rating is not None:
        app.perform(case.id, RateSatisfaction(score=rating), at=kst(when), command_id="r")
    return app.get_case(case.id)


def test_a_reply_answered_on_time_and_rated_well_does_not_uphold_the_claim(
    complaints: Complaints,
) -> None:
    case = answered(complaints, inquiry(complaints), "2026-07-08T10:00", rating=4)

    claim = complaints.check_claim("late_reply", case, kst("2026-07-20T10:00"))

    assert claim.category == "opinion"
    assert claim.reason is not None and case.receipt_code in claim.reason


@pytest.mark.parametrize("rating", [1, 2])
def test_an_answer_rated_two_or_lower_upholds_the_claim(
    complaints: Complaints, rating: int
) -> None:
    case = answered(complaints, inquiry(complaints), "2026-07-08T10:00", rating=rating)

    assert complaints.check_claim("late_reply", case, kst("2026-07-20T10:00")) == Claim(
        "late_reply"
    )


def test_a_breached_or_late_or_overdue_reply_upholds_the_claim(complaints: Complaints) -> None:
    overdue = inquiry(complaints)
    due = overdue.commitments["reply"].due
    late = answered(complaints, inquiry(complaints), "2026-07-20T10:00")
    breached = inquiry(complaints)
    complaints.perform(breached.id, Breach(kind="reply"), at=due, command_id="b")

    for case in (overdue, late, complaints.get_case(breached.id)):
        claim = complaints.check_claim("late_reply", case, kst("2026-07-20T10:00"))
        assert claim == Claim("late_reply"), case.receipt_code
    assert late.commitments["reply"].status == "breached"


def test_a_linked_complaint_must_name_its_case_and_other_categories_pass_through(
    complaints: Complaints,
) -> None:
    with pytest.raises(LinkedCaseRequiredError, match="names the case"):
        complaints.check_claim("late_reply", None, kst("2026-07-20T10:00"))
    assert complaints.check_claim("opinion", None, kst("2026-07-20T10:00")) == Claim("opinion")


def test_the_linked_category_and_its_fallback_come_from_the_policy(tmp_path: Path) -> None:
    text = POLICY.read_text(encoding="utf-8").replace(
        'linked_complaint_category = "late_reply"',
        'linked_complaint_category = "unkind_service"\nlinked_complaint_fallback = "inquiry"',
    )
    (tmp_path / "policy.toml").write_text(text, encoding="utf-8")
    app = Complaints(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "e.db")},
        policy=load_policy(tmp_path / "policy.toml"),
    )
    try:
        case = answered(app, inquiry(app), "2026-07-08T10:00", rating=5)
        assert app.check_claim("late_reply", case, kst("2026-07-20T10:00")) == Claim("late_reply")
        assert app.check_claim("unkind_service", case, kst("2026-07-20T10:00")).category == (
            "inquiry"
        )
    finally:
        app.close()
