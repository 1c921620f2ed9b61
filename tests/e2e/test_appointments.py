"""Appointments (나.④, 라.①②): the rules, the API and `minwon appointment` on a real SQLite
store, who may not change someone else's appointment, and the workflow's notices on
the time-skipping server with the real activities.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.reconcile import Reconciler
from cli.main import main
from domain.appointment import (
    Appointment,
    AppointmentError,
    PhoneAgreement,
    outcome_due_at,
    reminder_at,
)
from domain.calendar import SEOUL
from domain.tokens import issue_token
from tests.support.api import ApiServer, api_server, api_without_temporal
from tests.support.temporal import Stack, running_stack
from tests.support.web import web_stack
from workflows.appointment import appointment_workflow_id
from workflows.client import file_complaint
from workflows.models import FileComplaintInput

NOW = datetime.now(SEOUL).replace(microsecond=0)
IN_THREE_DAYS = (NOW + timedelta(days=3)).replace(hour=14, minute=0, second=0)
PURPOSE = "기초생활수급 서류 작성 도움"
ADDRESS = "서울시 마포구 안심로 12, 302호"
CONTACT = "resident-appt@example.org"


def _book(**change: object) -> Appointment:
    fields: dict[str, object] = {
        "request_id": "request-1",
        "kind": "visit",
        "start": IN_THREE_DAYS,
        "minutes": 60,
        "staff": "lee.service",
        "purpose": PURPOSE,
        "contact": CONTACT,
        "address": "",
        "person_id": "p-1",
        "case_id": None,
        "receipt_code": None,
        "agreement": None,
        "by": "kim.casemgr",
        "at": NOW,
    } | change
    return Appointment.book(**fields)  # type: ignore[arg-type]


# -- the rules ------------------------------------------------------------------------------


def test_a_reminder_is_at_ten_the_day_before_and_the_outcome_is_asked_for_at_six() -> None:
    start = datetime(2026, 12, 8, 14, 0, tzinfo=SEOUL)

    assert reminder_at(start) == datetime(2026, 12, 7, 10, 0, tzinfo=SEOUL)
    assert outcome_due_at(start, 60) == datetime(2026, 12, 8, 18, 0, tzinfo=SEOUL)
    assert outcome_due_at(start, 300) == datetime(2026, 12, 8, 19, 0, tzinfo=SEOUL)


def test_a_home_visit_needs_a_phone_agreement_first_and_an_address() -> None:
    with pytest.raises(AppointmentError, match="agreed with the resident by phone"):
        _book(kind="home", address=ADDRESS)
    with pytest.raises(AppointmentError, match="phone agreement is in the future"):
        _book(kind="home", address=ADDRESS,
              agreement=PhoneAgreement(NOW + timedelta(hours=1), "lee.service"))  # fmt: skip
    with pytest.raises(AppointmentError, match="needs the address"):
        _book(kind="home", agreement=PhoneAgreement(NOW, "lee.service"))

    home = _book(kind="home", address=ADDRESS, agreement=PhoneAgreement(NOW, "lee.service"))
    assert (home.agreed_by_phone_at, home.agreed_by) == (NOW, "lee.service")


def test_an_appointment_is_booked_ahead_moved_and_ends_once() -> None:
    with pytest.raises(AppointmentError, match="its time has passed"):
        _book(start=NOW - timedelta(minutes=1))
    visit = _book()
    with pytest.raises(AppointmentError, match="once it began"):
        visit.record_outcome(outcome="done", note="", by="lee.service", at=NOW)

    later = IN_THREE_DAYS + timedelta(days=1)
    visit.move(start=later, reason="병원 진료", agreement=None, by="lee.service", at=NOW)
    assert visit.start == later and visit.reminder_at == reminder_at(later)

    after = later + timedelta(minutes=5)
    assert visit.record_outcome(outcome="no_show", note="", by="lee.service", at=after)
    assert not visit.record_outcome(outcome="no_show", note="", by="lee.service", at=after)
    with pytest.raises(AppointmentError, match="already recorded: no_show"):
        visit.record_outcome(outcome="done", note="", by="lee.service", at=after)
    with pytest.raises(AppointmentError, match="is over"):
        visit.move(start=later + timedelta(days=1), reason="x", agreement=None, by="x", at=NOW)


# -- the API and the command, without Temporal ----------------------------------------------


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ApiServer]:
    with api_without_temporal(monkeypatch, tmp_path, "kim.casemgr") as running:
        yield running


def appointment_events(server: ApiServer) -> list[str]:
    records = server.complaints.recorder.select_notifications(start=1, limit=100_000)
    return [r.topic.rpartition(".")[2] for r in records if "Appointment." in r.topic]


BOOK = ["appointment", "book", "--at", IN_THREE_DAYS.isoformat(), "--staff", "lee.service",
        "--purpose", PURPOSE, "--contact", CONTACT]  # fmt: skip


def test_a_visit_is_booked_as_the_token_holder_and_its_details_are_sealed_in_the_file(
    server: ApiServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main([*BOOK, "--kind", "visit"])

    out = capsys.readouterr().out
    assert code == 0
    assert "내방 상담" in out and "with lee.service: 예약" in out
    assert f"purpose: {PURPOSE}" in out
    # The booking stands; its clock waits for Temporal, and says so.
    assert "clock: pending:" in out and "the reconciler starts it" in out
    assert appointment_events(server) == ["Booked"]
    [line] = json.loads(_list(capsys, "--on", IN_THREE_DAYS.date().isoformat()))
    stored = server.complaints.appointments.get(uuid.UUID(line["id"]))
    assert (stored.booked_by, stored.staff) == ("kim.casemgr", "lee.service")
    raw = (tmp_path / "events.db").read_bytes()
    for secret in (PURPOSE, CONTACT, "기초생활수급"):
        assert secret.encode() not in raw


def _list(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["appointment", "list", "--json", *args]) == 0
    return capsys.readouterr().out


def test_a_home_visit_without_a_phone_agreement_is_refused_and_nothing_recorded(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*BOOK, "--kind", "home", "--address", ADDRESS])

    assert code == 2
    err = capsys.readouterr().err
    assert "nothing recorded: a home visit is booked only after its purpose and time" in err
    assert appointment_events(server) == []

    agreed = (NOW - timedelta(hours=1)).isoformat()
    code = main([*BOOK, "--kind", "home", "--address", ADDRESS, "--agreed-by-phone-at", agreed])
    out = capsys.readouterr().out
    assert code == 0
    assert "가정 방문" in out and f"address: {ADDRESS}" in out and "agreed by phone" in out
    assert appointment_events(server) == ["Booked"]
    # The compliance report counts it, by kind and how it went.
    server.login(monkeypatch, "jung.director")
    year = str(IN_THREE_DAYS.year)
    assert main(["report", "compliance", "--year", year, "--format", "json"]) == 0
    appointments = json.loads(capsys.readouterr().out)["appointments"]
    assert appointments["home"] == {"booked": 1, "done": 0, "no_show": 0}
    assert sum(appointments["visit"].values()) == 0


def test_only_its_staff_member_its_booker_or_a_supervisor_changes_an_appointment(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BOOK, "--kind", "visit", "--json"]) == 0
    appointment_id = json.loads(capsys.readouterr().out)["id"]
    later = (IN_THREE_DAYS + timedelta(days=1)).isoformat()

    server.login(monkeypatch, "choi.tour")
    assert main(["appointment", "move", appointment_id, "--at", later, "--reason", "x"]) == 2
    assert "refused: choi.tour may not change appointment" in capsys.readouterr().err
    # Nor do they see its purpose or contact in the list.
    [line] = json.loads(_list(capsys, "--on", IN_THREE_DAYS.date().isoformat()))
    assert (line["purpose"], line["contact"]) == (None, None)
    assert appointment_events(server) == ["Booked"]

    server.login(monkeypatch, "lee.service")
    assert main(["appointment", "move", appointment_id, "--at", later, "--reason", "병원"]) == 0
    assert appointment_events(server) == ["Booked", "Moved"]
    # The outcome waits for the visit: recorded now, it is refused.
    assert main(["appointment", "outcome", appointment_id, "--outcome", "done"]) == 2
    assert "once it began" in capsys.readouterr().err
    assert appointment_events(server) == ["Booked", "Moved"]


def test_whoever_is_shown_an_appointments_details_is_in_the_access_log_and_no_one_else(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def reads() -> list[tuple[str, str, str, str]]:
        today = datetime.now(SEOUL).date()
        entries = server.complaints.access_entries(since=today - timedelta(days=1), until=today)
        assert all(CONTACT not in str(entry) and PURPOSE not in str(entry) for entry in entries)
        return [(e["actor"], e["person_id"], e["case_id"], e["action"]) for e in entries]

    assert main([*BOOK, "--kind", "visit", "--json"]) == 0
    appointment_id = json.loads(capsys.readouterr().out)["id"]
    person = server.complaints.appointments.get(uuid.UUID(appointment_id)).person_id
    seen = ("kim.casemgr", person, f"appointment-{appointment_id}", "appointment book")
    assert reads() == [seen]

    # Someone else's appointment is listed masked, and a masked line is no reading.
    server.login(monkeypatch, "choi.tour")
    [line] = json.loads(_list(capsys, "--on", IN_THREE_DAYS.date().isoformat()))
    assert (line["purpose"], line["contact"]) == (None, None)
    assert reads() == [seen]

    # Its staff member reads the details: one entry for the one appointment shown.
    server.login(monkeypatch, "lee.service")
    [line] = json.loads(_list(capsys, "--on", IN_THREE_DAYS.date().isoformat()))
    assert (line["purpose"], line["contact"]) == (PURPOSE, CONTACT)
    listed = ("lee.service", person, f"appointment-{appointment_id}", "appointment list")
    assert reads() == [seen, listed]
    later = (IN_THREE_DAYS + timedelta(days=1)).isoformat()
    assert main(["appointment", "move", appointment_id, "--at", later, "--reason", "병원"]) == 0
    moved = ("lee.service", person, f"appointment-{appointment_id}", "appointment move")
    assert reads() == [seen, listed, moved]


def test_a_list_of_appointments_writes_its_entries_to_the_access_log_in_one_save(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    booked = []
    for hour in (10, 11, 15):
        at = IN_THREE_DAYS.replace(hour=hour).isoformat()
        assert main([*BOOK[:2], "--at", at, *BOOK[4:], "--kind", "visit", "--json"]) == 0
        booked.append(json.loads(capsys.readouterr().out)["id"])
    saves: list[list[str]] = []
    real_save = server.complaints.save

    def counted(*aggregates: Any, **kwargs: Any) -> Any:
        saves.append([type(a).__name__ for a in aggregates])
        return real_save(*aggregates, **kwargs)

    monkeypatch.setattr(server.complaints, "save", counted)
    server.login(monkeypatch, "lee.service")
    listed = json.loads(_list(capsys, "--on", IN_THREE_DAYS.date().isoformat()))

    assert sorted(line["id"] for line in listed) == sorted(booked)
    # One save of the day's access log (the token's own record is saved beside it).
    assert [names for names in saves if "AccessLog" in names] == [["AccessLog"]]
    today = datetime.now(SEOUL).date()
    entries = server.complaints.access_entries(since=today - timedelta(days=1), until=today)
    lists = [e for e in entries if e["action"] == "appointment list"]
    assert sorted(e["case_id"] for e in lists) == sorted(f"appointment-{i}" for i in booked)
    assert {e["actor"] for e in lists} == {"lee.service"}


def test_a_resident_page_or_an_unknown_token_gets_no_appointment(server: ApiServer) -> None:
    assert server.http.get("/api/appointments").status_code == 401
    assert server.http.get("/staff/appointments", follow_redirects=False).status_code == 303


# -- the workflow on the time-skipping server -----------------------------------------------


@pytest_asyncio.fixture
async def stack(ts_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(ts_env.client, tmp_path) as running:
        yield running


async def sleep_until(ts_env: WorkflowEnvironment, moment: datetime) -> None:
    now = await ts_env.get_current_time()
    if moment > now:
        await ts_env.sleep(moment - now)


def sent(stack: Stack, appointment_id: str) -> list[tuple[str, str]]:
    return sent_of(stack.complaints, appointment_id)


@pytest.mark.temporal
async def test_the_booking_and_the_reminders_go_out_once_each_at_their_moments(
    ts_env: WorkflowEnvironment, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, case = await file_complaint(
        stack.client,
        FileComplaintInput(
            intake_ref=f"appt-{uuid.uuid4().hex[:12]}",
            channel="phone",
            category="inquiry",
            topic="program",
            contact="010-2222-3333",
            text="서류 작성 도움 요청",
        ),
        stack.task_queue,
    )
    now = await ts_env.get_current_time()
    start = (now + timedelta(days=3)).astimezone(SEOUL).replace(hour=14, minute=0, second=0)
    with api_server(stack.complaints, ts_env.client, stack.task_queue) as api:
        headers = {"Authorization": f"Bearer {api.token('kim.casemgr')}"}
        booked = await asyncio.to_thread(
            api.http.post,
            "/api/appointments",
            json={
                "kind": "visit",
                "start": start.isoformat(),
                "staff": "lee.service",
                "purpose": PURPOSE,
                "contact": CONTACT,
                "receipt_code": case.receipt_code,
            },
            headers=headers,
        )
        assert booked.status_code == 201, booked.text
        appointment_id = booked.json()["id"]
        assert booked.json()["clock"] == "running"
        handle = ts_env.client.get_workflow_handle(appointment_workflow_id(appointment_id))

        # The booking goes out at once, with the staff member's contact.
        await _until(lambda: ("appointment_booked", "resident") in sent(stack, appointment_id))
        assert "상담 담당자: 서비스제공팀 사회복지사 이서비스 (전화 02-000-1002)" in _mail(stack)
        # Another resident's appointment at the same moment is a message of its own.
        other = await asyncio.to_thread(
            api.http.post,
            "/api/appointments",
            json={"kind": "visit", "start": start.isoformat(), "staff": "choi.tour",
                  "purpose": "견학 상담", "contact": "other@example.org"},
            headers=headers,
        )  # fmt: skip
        other_id = other.json()["id"]
        await _until(lambda: ("appointment_booked", "resident") in sent(stack, other_id))
        assert _mail(stack).count("예약해 두었습니다") == 2

        # Moved a day later by whoever booked it: the resident is told the new time,
        # and the case has the move.
        first = start
        start = first + timedelta(days=1)
        moved = await asyncio.to_thread(
            api.http.post,
            f"/api/appointments/{appointment_id}/move",
            json={"start": start.isoformat(), "reason": "병원 진료"},
            headers=headers,
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["on_case"] == "recorded"
        await _until(lambda: len(sent(stack, appointment_id)) == 2)
        booked_twice = [("appointment_booked", "resident")] * 2
        assert sent(stack, appointment_id) == booked_twice

        # Nothing at the old time's reminder, nor before 10:00 the day before the new
        # one; then one reminder each.
        await sleep_until(ts_env, reminder_at(first) + timedelta(minutes=1))
        await sleep_until(ts_env, reminder_at(start) - timedelta(minutes=1))
        assert sent(stack, appointment_id) == booked_twice
        await sleep_until(ts_env, reminder_at(start) + timedelta(minutes=1))
        await _until(lambda: len(sent(stack, appointment_id)) == 4)
        assert sorted(sent(stack, appointment_id)[2:]) == [
            ("appointment_reminder", "resident"),
            ("appointment_reminder_staff", "lee.service"),
        ]

        # The day of the visit ends without an outcome: its staff member is asked, once.
        await sleep_until(ts_env, outcome_due_at(start, 60) + timedelta(minutes=1))
        await _until(lambda: len(sent(stack, appointment_id)) == 5)
        assert sent(stack, appointment_id)[-1] == ("appointment_outcome_due", "lee.service")

        # The desk's clock is the test server's: the visit's day has come and gone.
        moment = await ts_env.get_current_time()
        api.http.app.state.desk.clock = lambda: moment  # type: ignore[attr-defined]
        _, token = issue_token(api.complaints, "lee.service", issued_by="tests", days=1, at=moment)
        lee = {"Authorization": f"Bearer {token}"}
        # On a thread: the API answers on its own event loop, and the worker on this
        # one records the outcome on the case meanwhile.
        done = await asyncio.to_thread(
            api.http.post,
            f"/api/appointments/{appointment_id}/outcome",
            json={"outcome": "done", "note": "서류 접수 완료"},
            headers=lee,
        )
        assert done.status_code == 200, done.text
        assert done.json()["on_case"] == "recorded"
        assert await handle.result() == "done"
        assert len(sent(stack, appointment_id)) == 5  # each notice once

    # The outcome is on the case too, recorded through the case's workflow.
    recorded = [
        e for e in stack.complaints.history(uuid.UUID(case.case_id))
        if type(e).__name__ == "AppointmentRecorded"
    ]  # fmt: skip
    assert [(e.outcome, e.start, e.by) for e in recorded] == [  # type: ignore[attr-defined]
        ("moved", start, "kim.casemgr"),
        ("done", start, "lee.service"),
    ]


def _mail(stack: Stack) -> str:
    """Every e-mail written to the outbox, decoded."""
    messages = (stack.outbox.parent / "mail").glob("*.eml")
    return "\n".join(
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            .get_body().get_content())  # type: ignore[union-attr]
        for p in messages
    )  # fmt: skip


async def _until(condition: Callable[[], bool], seconds: float = 20) -> None:
    """Notices go out in the background: wait (in real time) until `condition` holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.05)


@pytest.mark.temporal
def test_the_reconciler_restarts_a_booked_appointments_lost_workflow(tmp_path: Path) -> None:
    """On the dev server (the reconciler lists workflows, which the time-skipping
    server cannot): an appointment whose workflow is lost gets it back, once."""
    start = (datetime.now(SEOUL) + timedelta(days=3)).replace(hour=14, minute=0, second=0)
    with web_stack(tmp_path) as web, web.http("kim.casemgr") as desk:
        booked = desk.post(
            "/api/appointments",
            json={"kind": "visit", "start": start.isoformat(), "staff": "lee.service",
                  "purpose": PURPOSE, "contact": CONTACT},
        )  # fmt: skip
        assert booked.status_code == 201, booked.text
        appointment_id = booked.json()["id"]
        handle = web.client.get_workflow_handle(appointment_workflow_id(appointment_id))
        deadline = time.monotonic() + 30
        while ("appointment_booked", "resident") not in sent_of(web.complaints, appointment_id):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        web.run(handle.terminate("lost, as when Temporal's database is lost"))

        reconciler = Reconciler(web.complaints, web.client, web.task_queue)
        report = web.run(reconciler.reconcile())
        again = web.run(reconciler.reconcile())

        assert report.appointments_restarted == [appointment_id]
        assert again.appointments_restarted == []  # running again: nothing to do
        assert web.run(handle.describe()).status == WorkflowExecutionStatus.RUNNING
        # The new run reads the store: the booking, already sent, is not sent again.
        time.sleep(1)
        assert sent_of(web.complaints, appointment_id) == [("appointment_booked", "resident")]


def sent_of(complaints: object, appointment_id: str) -> list[tuple[str, str]]:
    appointment = complaints.appointments.get(uuid.UUID(appointment_id))  # type: ignore[attr-defined]
    return [(n["kind"], n["recipient"]) for n in appointment.notices]
