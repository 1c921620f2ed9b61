"""Six cases with known outcomes in November 2026, for the read models and reports.

November 2026 has no public holiday, so the working hours can be counted by hand
(09–12 and 13–18, weekdays). Every personal text carries CANARY, so a view or a
report that must not show personal data can be searched for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from application.service import Complaints
from domain.commands import (
    Action,
    Announce,
    Answer,
    Assign,
    Breach,
    Close,
    DeclineAnnouncement,
    Escalate,
    RateSatisfaction,
    RecordApology,
    RecordCorrectiveAction,
    RecordFinding,
    Reopen,
    SendInterimReply,
    TakeMessage,
    Warn,
    Withdraw,
)
from domain.complaint import Complaint
from tests.support.samples import kst, sample_intake

CANARY = "CANARY"
LATE_SUMMARY = "응대 지연에 대해 사과드리며 담당자 교육을 실시했습니다."


@dataclass
class Scenario:
    """Six cases with known outcomes; `codes` maps a case's label to its receipt code."""

    app: Complaints
    codes: dict[str, str]


def act(app: Complaints, case: Complaint, at: str, action: Action) -> None:
    app.perform(case.id, action, at=kst(at), command_id=str(uuid.uuid4()))


def build_scenario(
    app: Complaints, after_each_case: Callable[[], object] = lambda: None
) -> Scenario:
    codes: dict[str, str] = {}

    # answered: an inquiry kept after an interim reply, announced, rated 5, then
    # reopened and answered again on time.
    case = app.file(
        sample_intake(
            received_at=kst("2026-11-02T10:00"),
            contact=f"{CANARY}-contact 홍길동 010-1234-5678",
            text=f"{CANARY}-text 프로그램 신청 방법을 알려 주세요.",
        )
    )
    codes["answered"] = case.receipt_code
    act(app, case, "2026-11-09T10:00", SendInterimReply(kind="reply", reason="외부기관 확인",
        new_due=kst("2026-11-17T18:00"), by="lee.service"))  # fmt: skip
    act(app, case, "2026-11-12T11:00", Answer(text=f"{CANARY}-answer", by="lee.service"))
    act(app, case, "2026-11-12T14:00", Announce(summary="프로그램 신청은 홈페이지에서 받습니다.",
        by="lee.service"))  # fmt: skip
    act(app, case, "2026-11-12T15:00", Close(by="lee.service"))
    act(app, case, "2026-11-13T10:00", RateSatisfaction(score=5, comment=f"{CANARY}-comment"))
    act(app, case, "2026-11-16T10:00", Reopen(reason="추가 문의", by="lee.service"))
    act(app, case, "2026-11-18T10:00", Answer(text="추가 안내", by="lee.service"))
    act(app, case, "2026-11-18T11:00", Close(by="lee.service"))
    after_each_case()

    # late: an opinion breached, escalated, reassigned, answered late; a warning
    # for the staff member and a public apology.
    case = app.file(
        sample_intake(received_at=kst("2026-11-02T10:00"), category="opinion", channel="homepage")
    )
    codes["late"] = case.receipt_code
    act(app, case, "2026-11-18T18:00", Warn(kind="result"))
    act(app, case, "2026-11-20T18:00", Breach(kind="result"))
    act(app, case, "2026-11-21T09:00", Escalate(reason="기한 경과", by="system",
        trigger="deadline"))  # fmt: skip
    act(app, case, "2026-11-23T09:00", Assign(staff="kim.casemgr", role="case_manager",
        by="park.officer"))  # fmt: skip
    act(app, case, "2026-11-23T10:00", RecordCorrectiveAction(staff="lee.service",
        action="warning", by="park.officer", note=f"{CANARY}-corrective"))  # fmt: skip
    act(app, case, "2026-11-23T11:00", RecordApology(mode="public", by="park.officer",
        note=f"{CANARY}-note 홍길동님께 사과드립니다"))  # fmt: skip
    act(app, case, "2026-11-24T10:00", Answer(text="처리 결과 안내", by="kim.casemgr"))
    act(app, case, "2026-11-24T11:00", Announce(summary=LATE_SUMMARY, by="park.officer"))
    act(app, case, "2026-11-24T12:00", Close(by="kim.casemgr"))
    act(app, case, "2026-11-25T09:00", RateSatisfaction(score=2, comment=""))
    after_each_case()

    # private: 비공개, answered the next day, apologised for by phone (never publicly).
    case = app.file(
        sample_intake(
            received_at=kst("2026-11-02T10:00"),
            private=True,
            contact=f"{CANARY}-private-contact 010-5555-0000",
            text=f"{CANARY}-private-text 비공개 민원",
        )
    )
    codes["private"] = case.receipt_code
    act(app, case, "2026-11-03T10:00", Answer(text="답변", by="lee.service"))
    act(app, case, "2026-11-03T11:00", RecordApology(mode="phone", by="lee.service", note=""))
    act(app, case, "2026-11-03T12:00", Close(by="lee.service"))
    act(app, case, "2026-11-04T09:00", RateSatisfaction(score=5, comment=""))
    after_each_case()

    # investigated: a complaint about case "answered"; fault found in 3 working days.
    case = app.file(
        sample_intake(
            received_at=kst("2026-11-02T10:00"),
            category="late_reply",
            channel="phone",
            topic="intake",
            linked_to=codes["answered"],
        )
    )
    codes["investigated"] = case.receipt_code
    act(app, case, "2026-11-04T16:00", RecordFinding(fault_confirmed=True,
        finding=f"{CANARY}-finding", by="park.officer"))  # fmt: skip
    act(app, case, "2026-11-04T17:00", RecordApology(mode="in_person", by="park.officer",
        note=""))  # fmt: skip
    act(app, case, "2026-11-05T10:00", RecordCorrectiveAction(staff="lee.service",
        action="training", by="park.officer", note=""))  # fmt: skip
    act(app, case, "2026-11-05T11:00", Answer(text="조사 결과 안내", by="park.officer"))
    act(app, case, "2026-11-05T12:00", Close(by="park.officer"))
    # Closing started the clock of its announcement (헌장 5): a decision not to.
    act(app, case, "2026-11-06T10:00", DeclineAnnouncement(reason="민원인이 공지를 원하지 않음",
        by="park.officer"))  # fmt: skip
    after_each_case()

    # withdrawn: its reply clock is cancelled.
    case = app.file(
        sample_intake(received_at=kst("2026-11-02T10:00"), channel="visit", topic="tour")
    )
    codes["withdrawn"] = case.receipt_code
    act(app, case, "2026-11-03T09:30", Withdraw(reason="민원인 요청", by="choi.tour"))
    after_each_case()

    # open: reassigned, a callback promised, escalated by hand, still running.
    case = app.file(
        sample_intake(received_at=kst("2026-11-16T10:00"), channel="fax", topic="intake")
    )
    codes["open"] = case.receipt_code
    act(app, case, "2026-11-17T09:00", Assign(staff="choi.tour", role="tour_social_worker",
        by="han.ops"))  # fmt: skip
    act(app, case, "2026-11-17T11:00", TakeMessage(for_staff="choi.tour",
        taken_by="kim.casemgr", callback_by=kst("2026-11-19T15:00"), note=""))  # fmt: skip
    act(app, case, "2026-11-18T10:00", Escalate(reason="ops 요청", by="han.ops",
        trigger="manual"))  # fmt: skip
    after_each_case()
    return Scenario(app, codes)
