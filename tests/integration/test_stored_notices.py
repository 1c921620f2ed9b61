"""A store written at 7a1bfda with the notice outbox's records still loads, verifies and
replays as it did, and today's outbox delivers the notice it left waiting, once.

`tests/fixtures/store-7a1bfda-notices.db` was written by `tests/fixtures/write_notices.py`:
one inquiry reminded, breached and escalated with its notices queued
(`Complaint.NoticeQueued`), two of them recorded sent, one given up, one waiting.
`store-7a1bfda-notices.json` keeps the key-encryption key, what that code made of the
case and the waiting notice's id. A later change to how these records are written or
read must keep this store as it is.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.channels import Channels, FileEmail, FileSmsOutbox
from activities.notices import NoticeActivities
from activities.outbox import OUTBOX, NoticeOutbox
from application.service import Complaints
from domain import audit
from domain.complaint import Complaint
from privacy.kek import KEK_ENV
from projections.runner import ReadModels
from tests.fixtures.write_events import case_document
from tests.fixtures.write_notices import record_case

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STORE = FIXTURES / "store-7a1bfda-notices.db"
EXPECTED: dict[str, Any] = json.loads(
    (FIXTURES / "store-7a1bfda-notices.json").read_text(encoding="utf-8")
)
CASE = uuid.UUID(EXPECTED["case"]["case_id"])


@pytest.fixture
def store_env(tmp_path: Path) -> dict[str, str]:
    # A copy: the tests append to it, and the fixture must stay as it was written.
    shutil.copy(STORE, tmp_path / "events.db")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "events.db"),
        KEK_ENV: EXPECTED[KEK_ENV],
    }


@pytest.fixture
def old_store(store_env: dict[str, str]) -> Iterator[Complaints]:
    app = Complaints(env=store_env)
    yield app
    app.close()


def test_the_case_loads_verifies_and_replays_as_it_did(old_store: Complaints) -> None:
    assert case_document(old_store, CASE) == EXPECTED["case"]


def test_the_same_steps_today_write_the_same_records(tmp_path: Path) -> None:
    """Today's code, given the same steps, stores the same topics and fields in the
    same order: a change to the records' form shows here first."""
    app = Complaints(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "today.db"),
            KEK_ENV: EXPECTED[KEK_ENV],
        }
    )
    try:
        case, waiting = record_case(app)
        today = case_document(app, case.id)
    finally:
        app.close()
    old = EXPECTED["case"]
    assert today["topics"] == old["topics"]
    # The notice ids are made of the command ids, so they come out the same.
    assert waiting == EXPECTED["waiting"]
    # Rows and state name the case's own ids and moments: compare what does not.
    assert [row["event"] for row in today["rows"]] == [row["event"] for row in old["rows"]]


def test_todays_outbox_delivers_the_waiting_notice_once_and_nothing_else(
    old_store: Complaints, store_env: dict[str, str], tmp_path: Path
) -> None:
    mail = FileEmail(tmp_path / "mail")
    sms = tmp_path / "sms.jsonl"
    notices = NoticeActivities(old_store, Channels(email=mail, sms=FileSmsOutbox(sms)))
    # The one notice no delivery record carries, as the case lists it too.
    [waiting] = old_store.waiting_notices(old_store.get_case(CASE))
    assert waiting.notice_id == EXPECTED["waiting"]
    now = waiting.at + timedelta(minutes=1)

    with ReadModels(store_env, names=tuple(OUTBOX), models=OUTBOX) as models:
        outbox = NoticeOutbox(old_store, notices, models, clock=lambda: now)
        done = outbox.deliver()
        assert (done.sent, done.failed, done.deferred) == (1, 0, 0)
        models.catch_up()  # the view reads the delivery record
        assert outbox.view.waiting() == []
        assert outbox.deliver().sent == 0

    history = old_store.history(CASE)
    assert len(history) == EXPECTED["case"]["version"] + 1
    last = history[-1]
    assert isinstance(last, Complaint.NoticeSent)
    assert (last.command_id, last.kind) == (EXPECTED["waiting"], "escalation")
    # Sent once: one e-mail (to the officer the escalation reached), no text message.
    assert len(list((tmp_path / "mail").iterdir())) == 1
    assert not sms.exists() or sms.read_text() == ""
    assert old_store.verify(CASE) is None
    replayed = audit.replay(audit.stored_events(old_store, CASE), show_personal=True)
    rows = [audit.row_document(row) for row in replayed.rows]
    assert rows[:-1] == EXPECTED["case"]["rows"]
    assert rows[-1]["event"] == "NoticeSent"
