"""A case with a known history for the audit tests: replay, verify, tampering, speed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from application.service import Complaints
from domain.commands import Action, Answer, Assign, RecordApology, SendInterimReply
from tests.support.samples import kst, sample_intake

CONTACT = "홍길동 010-1234-5678"
TEXT = "프로그램 신청 방법을 알려 주세요."


@dataclass(frozen=True)
class AuditedCase:
    """Received 9/21 10:00, reassigned, interim reply 9/28 (due 10/1 → 10/8), two
    apologies, answered 10/5: ten events."""

    case_id: uuid.UUID
    code: str
    middle: int  # the first apology: events before and after it

    @property
    def last(self) -> int:
        return 10


def file_audited_case(app: Complaints, ref: str | None = None) -> AuditedCase:
    case = app.file(sample_intake(ref, contact=CONTACT, text=TEXT))

    def run(at: str, action: Action) -> None:
        app.perform(case.id, action, at=kst(at), command_id=f"{action.name}-{at}")

    run("2026-09-21T11:00", Assign(staff="kim.casemgr", role="case_manager", by="han.ops"))
    run(
        "2026-09-28T14:00",
        SendInterimReply(
            kind="reply",
            reason="외부 기관 확인이 필요합니다",
            new_due=kst("2026-10-08T18:00"),
            by="kim.casemgr",
        ),
    )
    run("2026-09-29T10:00", RecordApology(mode="phone", by="park.officer", note="first"))
    run("2026-09-30T10:00", RecordApology(mode="in_person", by="park.officer", note="second"))
    run("2026-10-05T15:30", Answer(text="신청은 홈페이지에서 가능합니다", by="kim.casemgr"))
    assert app.get_case(case.id).version == 10
    return AuditedCase(case.id, case.receipt_code, middle=7)


def flip_a_digit(state: bytes) -> bytes:
    """Change one byte of the recorded timestamp: the record still decodes."""
    at = state.index(b'+00:00"') - 1
    digit = state[at : at + 1]
    return state[:at] + (b"1" if digit != b"1" else b"2") + state[at + 1 :]
