"""Sample data every kind of test files: moments on Seoul's clock and intakes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from application.service import Intake
from domain.calendar import SEOUL


def kst(text: str) -> datetime:
    """A moment on Seoul's clock: `kst("2026-09-21T10:00")`."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        raise ValueError(f"{text!r} already has an offset; kst() gives it Seoul's")
    return moment.replace(tzinfo=SEOUL)


def sample_intake(
    intake_ref: str | None = None,
    *,
    received_at: datetime | None = None,
    **changes: Any,
) -> Intake:
    """A written inquiry (7-day reply) received Monday 2026-09-21 10:00 KST."""
    fields: dict[str, Any] = {
        "intake_ref": intake_ref or f"intake-{uuid.uuid4().hex[:8]}",
        "channel": "email",
        "category": "inquiry",
        "topic": "program",
        "private": False,
        "contact": "홍길동 010-1234-5678",
        "text": "프로그램 신청 방법을 알려 주세요.",
        "received_at": received_at or kst("2026-09-21T10:00"),
    }
    fields.update(changes)
    return Intake(**fields)
