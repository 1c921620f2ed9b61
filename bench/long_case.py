"""One long case built the same way for the benchmarks that read it back
(replay_verify.py, first_load.py): assignments alternating between two staff members,
an apology every `APOLOGY_EVERY` events, a working note every `note_every` if asked."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from application.service import Complaints, Intake
from domain.calendar import SEOUL

SAVE_BATCH = 1_000
APOLOGY_EVERY = 50
START = datetime(2026, 9, 21, 10, 0, tzinfo=SEOUL)
STAFF = ("kim.casemgr", "lee.service")


def build_case(
    app: Complaints, events: int, note_every: int = 0, uuid_ids: bool = False
) -> uuid.UUID:
    """A case with exactly `events` events, saved `SAVE_BATCH` at a time."""
    case = app.file(
        Intake(
            intake_ref=f"bench-{uuid.uuid4()}",
            channel="homepage",
            category="opinion",
            topic="program",
            private=False,
            contact="bench 010-0000-0000",
            text="프로그램 일정 변경을 요청합니다.",
            received_at=START,
        )
    )
    at = START
    turn = 0
    while case.version < events:
        turn += 1
        at += timedelta(minutes=1)
        command_id = str(uuid.uuid4()) if uuid_ids else f"c{turn}"
        if turn % APOLOGY_EVERY == 0:
            case.make_apology(mode="phone", by="park.officer", note=f"#{turn}", at=at,
                              command_id=command_id)  # fmt: skip
        elif note_every and turn % note_every == 0:
            case.add_note(text=f"보호자와 통화 #{turn}", by="lee.service", at=at,
                          command_id=command_id)  # fmt: skip
        else:
            # The routing gave the case to the opinion's holder: alternating two other
            # staff members makes every assignment a new event.
            case.assign(staff=STAFF[turn % 2], role="case_manager", by="han.ops", at=at,
                        command_id=command_id)  # fmt: skip
        if case.version % SAVE_BATCH == 0 or case.version == events:
            app.save(case)
    return case.id
