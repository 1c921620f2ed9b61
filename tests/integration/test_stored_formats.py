"""Stores written by earlier commits load, replay and verify with today's code.

`tests/fixtures/store-a0ee20c.db` was written by `tests/fixtures/write_store.py`
at commit a0ee20c, before warnings, escalation windows and extension limits
counted working time. Its events lack the fields added since (`warn_hours`,
`warn_counting`, `act_by`, `limit_rule`, the extension's `warn_at`): they must read
as what they meant then (clock hours), and new events on the old cases must
chain onto the old ones. `store-03e633c-credentials.db` holds credentials stored while
their classes lived in `web.credentials`.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from application.service import Complaints
from domain.calendar import SEOUL
from domain.commands import Reopen, SendInterimReply
from domain.complaint import Complaint
from domain.credentials import (
    AccessToken,
    ResidentSecret,
    StaffSession,
    session_id_of,
    token_id_of,
)
from domain.tokens import find_token, revoke_token
from tests.support.api import api_without_temporal
from tests.support.samples import kst

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-a0ee20c.db"


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


# -- credentials stored before they moved from web/ to domain/ ------------------------------

CREDENTIALS = Path(__file__).resolve().parents[1] / "fixtures" / "store-03e633c-credentials.db"
CREDENTIAL_SECRETS = CREDENTIALS.with_suffix(".json")


@pytest.fixture
def credentials_store(tmp_path: Path) -> Iterator[Complaints]:
    """`store-03e633c-credentials.db`, written by tests/fixtures/write_credentials.py at
    03e633c: its records name `web.credentials`, the module the classes lived in."""
    path = tmp_path / "events.db"
    shutil.copy(CREDENTIALS, path)
    app = Complaints(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)})
    yield app
    app.close()


def test_credentials_stored_under_their_old_module_still_admit_and_refuse(
    credentials_store: Complaints,
) -> None:
    stored = json.loads(CREDENTIAL_SECRETS.read_text(encoding="utf-8"))
    records = credentials_store.recorder.select_notifications(start=1, limit=100)
    assert {r.topic.partition(":")[0] for r in records} == {"domain.roster", "web.credentials"}
    now = datetime.now(SEOUL)

    token = find_token(credentials_store, token_id_of(stored["token"]) or "")
    assert type(token) is AccessToken and token.staff == "lee.service"
    assert token.admits(stored["token"], now)
    assert not find_token(credentials_store, stored["revoked_token_id"]).admits(
        stored["token"], now
    )
    session = credentials_store.repository.get(
        StaffSession.create_id(session_id_of(stored["session"]) or "")
    )
    assert session.admits(stored["session"], now) and not session.admits("mws_x_y", now)
    resident = credentials_store.repository.get(
        ResidentSecret.create_id(uuid.UUID(stored["case_id"]))
    )
    assert resident.admits(stored["secret"]) and not resident.admits("AAAAA-AAAAA")

    # A new event on an old token is stored under the module the class lives in now,
    # and the token, half old and half new, loads.
    revoke_token(credentials_store, token.token_id, by="han.ops", at=now)
    latest = credentials_store.recorder.select_notifications(start=1, limit=100)[-1]
    assert latest.topic == "domain.credentials:AccessToken.Revoked"
    assert not find_token(credentials_store, token.token_id).admits(stored["token"], now)


def test_the_api_signs_in_with_a_token_stored_under_the_old_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(CREDENTIALS, tmp_path / "events.db")
    stored = json.loads(CREDENTIAL_SECRETS.read_text(encoding="utf-8"))
    with api_without_temporal(monkeypatch, tmp_path, "han.ops") as server:
        me = server.http.get(
            "/api/staff/me", headers={"Authorization": f"Bearer {stored['token']}"}
        )
    assert me.status_code == 200, me.text
    assert me.json()["staff"] == "lee.service"
