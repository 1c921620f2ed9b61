"""Stores written by earlier commits load, replay and verify with today's code.

`tests/fixtures/store-a0ee20c.db` was written by `tests/fixtures/write_store.py`
at commit a0ee20c, before warnings, escalation windows and extension limits
counted working time. Its events lack the fields added since (`warn_hours`,
`warn_counting`, `act_by`, `limit_rule`, the extension's `warn_at`): they must read
as what they meant then (clock hours), and new events on the old cases must
chain onto the old ones.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from domain.commands import Reopen, SendInterimReply
from domain.complaint import Complaint
from domain.service import Complaints
from tests.conftest import kst

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "store-a0ee20c.db"


@pytest.fixture
def old_store(tmp_path: Path) -> Iterator[Complaints]:
    # A copy: the test appends to it, and the fixture must stay as it was written.
    path = tmp_path / "events.db"
    shutil.copy(FIXTURE, path)
    app = Complaints(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)})
    yield app
    app.close()


def case(app: Complaints, intake_ref: str) -> Complaint:
    return app.get_case(Complaint.create_id(intake_ref))


@pytest.mark.parametrize(
    "intake_ref", ["fixture-inquiry", "fixture-late-reply", "fixture-callback"]
)
def test_every_case_of_the_old_store_loads_and_verifies(
    old_store: Complaints, intake_ref: str
) -> None:
    loaded = case(old_store, intake_ref)

    assert loaded.version > 1
    assert old_store.verify(loaded.id) is None


def test_old_commitments_read_as_warned_in_clock_hours(old_store: Complaints) -> None:
    inquiry = case(old_store, "fixture-inquiry")
    reply = inquiry.commitments["reply"]

    assert reply.warn_counting == "clock"
    assert reply.warn_hours is None
    # The old extension kept the warning's clock distance: 24 h before the new due.
    assert reply.due == kst("2026-09-30T18:00")
    assert reply.warn_at == kst("2026-09-29T18:00")
    assert reply.extensions == 1


def test_old_escalations_have_no_recorded_window(old_store: Complaints) -> None:
    inquiry = case(old_store, "fixture-inquiry")

    assert [e.level for e in inquiry.escalations] == [1, 2]
    assert all(e.act_by is None and e.act_counting is None for e in inquiry.escalations)


def test_new_events_on_an_old_case_count_working_time_and_chain_on(
    old_store: Complaints,
) -> None:
    inquiry = case(old_store, "fixture-inquiry")
    old_version = inquiry.version

    old_store.perform(
        inquiry.id,
        Reopen(reason="답변 보완 요청", by="lee.service"),
        at=kst("2026-10-06T10:00"),
        command_id="new-1",
    )
    reopened = case(old_store, "fixture-inquiry")
    reply = reopened.commitments["reply"]
    old_store.perform(
        reopened.id,
        SendInterimReply(
            reason="자료 확인", new_due=reply.due + timedelta(days=1), by="lee.service"
        ),
        at=kst("2026-10-06T11:00"),
        command_id="new-2",
    )

    extended = case(old_store, "fixture-inquiry")
    assert extended.version > old_version
    assert extended.commitments["reply"].warn_counting == "working"
    assert extended.commitments["reply"].warn_hours == 24
    assert old_store.verify(extended.id) is None
