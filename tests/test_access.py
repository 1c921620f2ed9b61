"""Least privilege and the access log (개인정보의 안전성 확보조치 기준)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.complaints import case_view
from cli.cases import personal_data
from cli.errors import CliError
from domain.access import (
    AccessDeniedError,
    mask_contact,
    may_see_case,
    may_see_personal_data,
    require,
    roles_of,
)
from domain.complaint import Complaint
from domain.roster import Roster
from domain.service import Complaints, Intake
from tests.temporal_harness import running_stack, start_time_skipping
from web.credentials import ResidentSecret
from web.desk import Desk
from web.problems import Problem
from workflows.client import file_complaint
from workflows.complaint import ComplaintWorkflow
from workflows.models import FileComplaintInput, RecordCorrectiveAction, RecordFinding

KST = ZoneInfo("Asia/Seoul")
ON = datetime(2026, 10, 5, 10, tzinfo=KST)
ROSTER = Roster.from_file()


def test_roles_come_from_the_roster_on_the_day() -> None:
    assert roles_of(ROSTER, "park.officer", ON) == {"designated_officer", "staff"}
    assert "staff" in roles_of(ROSTER, "lee.service", ON)
    assert roles_of(ROSTER, "nobody", ON) == frozenset()
    # 업무분장 changes yearly: the 2026 case manager is not the 2027 one.
    assert "case_manager" in roles_of(ROSTER, "kim.casemgr", ON)
    assert "case_manager" not in roles_of(ROSTER, "kim.casemgr", ON + timedelta(days=100))


@pytest.mark.parametrize(
    ("actor", "action", "allowed"),
    [
        ("lee.service", "answer_case", True),
        ("lee.service", "record_corrective_action", False),
        ("park.officer", "record_corrective_action", True),
        ("jung.director", "record_corrective_action", False),
        ("yoon.audit", "audit", True),
        ("yoon.audit", "answer_case", False),
        ("han.ops", "escalate", True),
        ("lee.service", "escalate", False),
        ("lee.service", "erase_person", False),
        ("system", "breach", True),
    ],
)
def test_each_role_may_do_only_what_it_needs(actor: str, action: str, allowed: bool) -> None:
    if allowed:
        require(ROSTER, actor, action, ON)
    else:
        with pytest.raises(AccessDeniedError, match="may not"):
            require(ROSTER, actor, action, ON)


def test_someone_not_on_the_roster_is_refused_with_a_clear_message() -> None:
    with pytest.raises(AccessDeniedError, match="'stranger' is not on the roster"):
        require(ROSTER, "stranger", "show", ON)


def test_private_cases_and_personal_data_are_for_the_assignee_officer_and_auditors() -> None:
    staff = roles_of(ROSTER, "kim.casemgr", ON)
    assert not may_see_case(staff, "kim.casemgr", "lee.service", private=True)
    assert may_see_case(staff, "kim.casemgr", "lee.service", private=False)
    assert may_see_case(staff, "lee.service", "lee.service", private=True)
    for auditor_or_officer in ("yoon.audit", "park.officer"):
        roles = roles_of(ROSTER, auditor_or_officer, ON)
        assert may_see_case(roles, auditor_or_officer, "lee.service", private=True)
        assert may_see_personal_data(roles, auditor_or_officer, "lee.service")
    ops = roles_of(ROSTER, "han.ops", ON)
    assert not may_see_personal_data(ops, "han.ops", "lee.service")
    assert mask_contact("010-1234-5678") == "010-****-5678"
    assert mask_contact("resident@example.kr") == "r***@example.kr"


def filed(complaints: Complaints, ref: str) -> object:
    return complaints.file(
        Intake(ref, "phone", "inquiry", "program", False, "010-2222-3333", "민원 본문 3131", ON)
    )


def test_every_read_of_personal_data_is_logged_and_the_log_is_chained(
    complaints: Complaints, store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    case = filed(complaints, "access-1")
    view = case_view(case)  # type: ignore[arg-type]
    shown = personal_data("lee.service", roles_of(ROSTER, "lee.service", ON), view)
    assert "010-2222-3333" in shown and "민원 본문 3131" in shown
    personal_data("yoon.audit", roles_of(ROSTER, "yoon.audit", ON), view)
    with pytest.raises(CliError, match="stays masked: 010-\\*\\*\\*\\*-3333"):
        personal_data("han.ops", roles_of(ROSTER, "han.ops", ON), view)

    today = datetime.now(KST).date()
    entries = complaints.access_entries(since=today, until=today, person=case.person_id)  # type: ignore[attr-defined]
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("lee.service", "show --personal"),
        ("yoon.audit", "show --personal"),
    ]
    assert all(e["origin"].startswith("cli:") and e["case_id"] == str(case.id) for e in entries)  # type: ignore[attr-defined]
    assert "010" not in str(entries)  # the log names the person, never their data
    assert (
        complaints.access_entries(since=today, until=today, actor="yoon.audit")[0]["person_id"]
        == case.person_id
    )  # type: ignore[attr-defined]
    assert complaints.verify_access_log(today) is None


def test_tampering_with_the_access_log_is_detected(tmp_path: Path) -> None:
    app = Complaints(env={"SQLITE_DBNAME": str(tmp_path / "events.db")})
    try:
        case = filed(app, "access-2")
        for actor in ("lee.service", "yoon.audit", "park.officer"):
            app.log_access(actor=actor, at=ON, origin="test", case=case, action="read")  # type: ignore[arg-type]
        log_id = str(uuid.uuid5(uuid.UUID("a3c5e1f0-4b6d-4e8a-9c2f-7d1b0e5a3f64"), "2026-10-05"))
        where = "WHERE originator_id = ? AND originator_version = 3"
        with sqlite3.connect(tmp_path / "events.db") as db:
            [(state,)] = db.execute(
                f"SELECT state FROM stored_events {where}", (uuid.UUID(log_id).hex,)
            )
            forged = bytes(state).replace(b"yoon.audit", b"some.body")
            db.execute(
                f"UPDATE stored_events SET state = ? {where}", (forged, uuid.UUID(log_id).hex)
            )
        broken = app.verify_access_log(ON.date())
        assert broken is not None and broken.version == 4
    finally:
        app.close()


@pytest_asyncio.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest.mark.temporal
async def test_the_workflow_refuses_an_action_the_actors_role_does_not_allow(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with running_stack(ts_env.client, tmp_path) as stack:
        handle, view = await file_complaint(
            stack.client,
            FileComplaintInput(
                intake_ref=f"acl-{uuid.uuid4().hex[:8]}",
                channel="phone",
                category="unkind_service",
                contact="010-3333-4444",
                text="불친절 신고",
            ),
            stack.task_queue,
        )
        act = ComplaintWorkflow.act
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                act, RecordFinding(fault_confirmed=True, finding="확인", by="lee.service")
            )
        assert "may not conclude investigation" in str(refused.value.cause)
        await handle.execute_update(
            act, RecordFinding(fault_confirmed=True, finding="확인", by="park.officer")
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                act, RecordCorrectiveAction(staff="choi.tour", action="warning", by="jung.director")
            )
        assert "needs designated_officer" in str(refused.value.cause)
        names = [type(e).__name__ for e in stack.complaints.history(uuid.UUID(view.case_id))]
        assert "CorrectiveActionRecorded" not in names


# Commands that read nothing of a case: any role may run them, but only someone on the roster.
REFERENCE_COMMANDS = [
    pytest.param(
        ["deadline", "--received", "2026-09-21T10:00+09:00", "--days", "7"], id="deadline"
    ),
    pytest.param(["policy", "check"], id="policy-check"),
    pytest.param(["roster", "show"], id="roster-show"),
    pytest.param(["roster", "history"], id="roster-history"),
]


@pytest.fixture
def cli_on_store(store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`minwon` in this process on the test's store, with nobody named as the actor."""
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    for name in ("MINWON_ACTOR", "MINWON_ROSTER", "MINWON_POLICY", "MINWON_CALENDAR_OVERRIDES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")


@pytest.mark.usefixtures("cli_on_store")
@pytest.mark.parametrize("argv", [*REFERENCE_COMMANDS, pytest.param(["show", "MW-00000-00000"])])
def test_a_command_without_an_actor_or_with_one_off_the_roster_is_refused_in_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    assert main(argv) == 2
    assert capsys.readouterr() == (
        "",
        "minwon: who is acting? pass --actor STAFF_ID or set MINWON_ACTOR\n",
    )
    assert main([*argv, "--actor", "stranger"]) == 2
    assert capsys.readouterr() == ("", "minwon: refused: 'stranger' is not on the roster\n")
    assert main(["--actor", "system", *argv]) == 2
    assert capsys.readouterr() == (
        "",
        "minwon: refused: 'system' is the engine's own actor, not a person's\n",
    )


@pytest.mark.usefixtures("cli_on_store")
@pytest.mark.parametrize("argv", REFERENCE_COMMANDS)
def test_reference_commands_run_for_anyone_on_the_roster_in_any_role(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    # Staff, ops, the director, and an auditor who is not in the staff directory.
    for actor in ("lee.service", "han.ops", "jung.director", "yoon.audit"):
        monkeypatch.setenv("MINWON_ACTOR", actor)
        assert main(argv) == 0, actor
        captured = capsys.readouterr()
        assert captured.err == "" and captured.out.strip(), actor


@pytest.mark.usefixtures("cli_on_store")
def test_the_actor_may_come_before_the_subcommand_after_it_or_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    deadline = ["deadline", "--received", "2026-09-21T10:00+09:00", "--days", "7"]
    assert main(["--actor", "lee.service", *deadline]) == 0
    assert capsys.readouterr().out.startswith("2026-10-01T18:00:00+09:00")
    # The option after the subcommand is the nearer one and wins over the others.
    monkeypatch.setenv("MINWON_ACTOR", "lee.service")
    assert main(["--actor", "lee.service", *deadline, "--actor", "stranger"]) == 2
    assert "'stranger' is not on the roster" in capsys.readouterr().err
    assert main(["--actor", "stranger", *deadline]) == 2
    assert "'stranger' is not on the roster" in capsys.readouterr().err


def test_an_auditor_reading_personal_data_in_a_replay_is_logged_and_listed(
    store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    app = Complaints()
    try:
        case = filed(app, "access-cli-1")
    finally:
        app.close()
    code = case.receipt_code  # type: ignore[attr-defined]
    assert main(["audit", "replay", code, "--show-personal", "--actor", "yoon.audit"]) == 0
    assert "010-2222-3333" in capsys.readouterr().out
    assert main(["audit", "replay", code, "--show-personal", "--actor", "jung.director"]) == 2
    assert "refused: personal data" in capsys.readouterr().err
    assert main(["audit", "replay", code, "--actor", "lee.service"]) == 2
    assert "may not audit" in capsys.readouterr().err

    assert main(["--actor", "yoon.audit", "audit", "access", "--case", code]) == 0
    out = capsys.readouterr().out
    assert "yoon.audit" in out and "audit replay --show-personal" in out
    assert "1 access(es)" in out and "jung.director" not in out


@pytest.mark.usefixtures("cli_on_store")
def test_audit_access_lists_one_readers_entries_with_actor_and_asks_who_is_asking_elsewhere(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    app = Complaints()
    try:
        case = filed(app, "access-cli-2")
        now = datetime.now(KST)
        for reader in ("lee.service", "park.officer", "lee.service"):
            app.log_access(actor=reader, at=now, origin="test", case=case, action="read")  # type: ignore[arg-type]
    finally:
        app.close()

    listing = ["audit", "access", "--actor", "lee.service", "--json"]
    assert main(["--actor", "yoon.audit", *listing]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    assert [e["actor"] for e in entries] == ["lee.service", "lee.service"]
    assert {e["person_id"] for e in entries} == {case.person_id}  # type: ignore[attr-defined]

    monkeypatch.setenv("MINWON_ACTOR", "jung.director")
    assert main(["audit", "access", "--actor", "park.officer", "--json"]) == 0
    assert [e["actor"] for e in json.loads(capsys.readouterr().out)["entries"]] == ["park.officer"]
    # The reader named after the subcommand is never taken for who is asking.
    monkeypatch.delenv("MINWON_ACTOR")
    assert main(["audit", "access", "--actor", "yoon.audit"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("minwon: who is asking? pass it before the subcommand")
    assert main(["--actor", "lee.service", *listing]) == 2
    assert "lee.service (service_social_worker, staff) may not audit" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--actor", "yoon.audit", "audit", "access", "--actor-of-read", "lee.service"])


def test_a_residents_status_lookup_is_logged_as_read_by_the_holder_of_the_receipt(
    complaints: Complaints,
) -> None:
    case = filed(complaints, "access-web-1")
    record, secret = ResidentSecret.issue(Complaint.create_id("access-web-1"))
    complaints.save(record)
    # The lookup reads the store only: no Temporal client, no public notices.
    desk = Desk(complaints, client=None, task_queue="", notices=None, clock=lambda: ON)  # type: ignore[arg-type]
    code = case.receipt_code  # type: ignore[attr-defined]

    status = asyncio.run(desk.resident_status(code, secret, origin="api:203.0.113.7"))
    with pytest.raises(Problem):
        asyncio.run(desk.resident_status(code, "WRONG-SECRET", origin="api:203.0.113.8"))

    assert status.receipt_code == code
    entries = complaints.access_entries(since=ON.date(), until=ON.date())
    assert entries == [
        {
            "actor": f"resident:{code}",
            "at": ON.isoformat(),
            "origin": "api:203.0.113.7",
            "person_id": case.person_id,  # type: ignore[attr-defined]
            "case_id": str(case.id),  # type: ignore[attr-defined]
            "action": "status",
        }
    ]
    assert complaints.verify_access_log(ON.date()) is None
