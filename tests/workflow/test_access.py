"""Least privilege and the access log (개인정보의 안전성 확보조치 기준)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from application.service import Complaints, Intake
from cli.main import main
from domain.access import (
    PERMISSIONS,
    AccessDeniedError,
    Rule,
    authorize,
    may_see_case,
    may_see_personal_data,
    require,
    roles_of,
)
from domain.commands import ACTIONS
from domain.complaint import Complaint
from domain.credentials import ResidentSecret
from domain.disclosure import mask_contact
from domain.roster import Roster
from tests.support.api import ApiServer, api_server
from tests.support.temporal import running_stack
from web.desk import Desk
from web.limits import PublicLimits
from web.problems import Problem
from workflows.client import act as api_act
from workflows.client import file_complaint
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


def rule(name: str) -> Rule:
    """An action's rule from the registry, or a read's from PERMISSIONS."""
    return ACTIONS[name].rule if name in ACTIONS else PERMISSIONS[name]


@pytest.mark.parametrize(
    ("actor", "name", "allowed"),
    [
        ("lee.service", "answer", True),
        ("lee.service", "corrective_action", False),
        ("park.officer", "corrective_action", True),
        ("jung.director", "corrective_action", False),
        ("yoon.audit", "audit", True),
        ("yoon.audit", "answer", False),
        ("han.ops", "escalate", True),
        ("lee.service", "escalate", False),
        ("lee.service", "erase_person", False),
        ("han.ops", "manage_tokens", True),
        ("lee.service", "manage_tokens", False),
    ],
)
def test_each_role_may_do_only_what_it_needs(actor: str, name: str, allowed: bool) -> None:
    if allowed:
        authorize(ROSTER, actor, rule(name), ON)
    else:
        with pytest.raises(AccessDeniedError, match="may not"):
            authorize(ROSTER, actor, rule(name), ON)


def test_someone_not_on_the_roster_and_the_engine_itself_are_refused_with_a_clear_message() -> None:
    with pytest.raises(AccessDeniedError, match="'stranger' is not on the roster"):
        require(ROSTER, "stranger", "show", ON)
    with pytest.raises(AccessDeniedError, match="'system' is the engine's own actor"):
        authorize(ROSTER, "system", rule("breach"), ON)
    with pytest.raises(AccessDeniedError, match="nobody is named as acting"):
        authorize(ROSTER, "", rule("note"), ON)


@dataclass(frozen=True)
class Escalation:
    to_staff: str | None


@dataclass(frozen=True)
class Case:
    receipt_code: str = "MW-00000-00001"
    assignee: str | None = "lee.service"
    private: bool = False
    escalations: tuple[Escalation, ...] = ()


def test_a_staff_action_is_for_the_cases_own_people_and_the_supervisors() -> None:
    case = Case()
    # The assignee; someone else on the staff is refused, with who may instead.
    assert authorize(ROSTER, "lee.service", rule("answer"), ON, case).personal_data
    with pytest.raises(AccessDeniedError, match="is not theirs; it is handled by its assignee"):
        authorize(ROSTER, "choi.tour", rule("answer"), ON, case)
    # Whoever it was escalated to, and the officer and the director, on every case.
    escalated = Case(escalations=(Escalation("choi.tour"),))
    authorize(ROSTER, "choi.tour", rule("answer"), ON, escalated)
    for supervisor in ("park.officer", "jung.director"):
        authorize(ROSTER, supervisor, rule("note"), ON, case)
    # Any colleague takes a message for someone absent; only ops and up reassign.
    authorize(ROSTER, "choi.tour", rule("take_message"), ON, case)
    with pytest.raises(AccessDeniedError, match="may not assign"):
        authorize(ROSTER, "choi.tour", rule("assign"), ON, case)
    authorize(ROSTER, "han.ops", rule("assign"), ON, case)


def test_private_cases_and_personal_data_are_for_the_cases_people_the_officer_and_auditors() -> (
    None
):
    private = Case(private=True)
    staff = roles_of(ROSTER, "kim.casemgr", ON)
    assert not may_see_case(staff, "kim.casemgr", private)
    assert may_see_case(staff, "kim.casemgr", Case())
    assert may_see_case(roles_of(ROSTER, "lee.service", ON), "lee.service", private)
    for auditor_or_officer in ("yoon.audit", "park.officer"):
        roles = roles_of(ROSTER, auditor_or_officer, ON)
        assert may_see_case(roles, auditor_or_officer, private)
        assert may_see_personal_data(roles, auditor_or_officer, private)
    ops = roles_of(ROSTER, "han.ops", ON)
    assert not may_see_personal_data(ops, "han.ops", Case())
    # Ops escalate and reassign, but not a private case: it is not theirs to see.
    with pytest.raises(AccessDeniedError, match="private"):
        authorize(ROSTER, "han.ops", rule("escalate"), ON, private)
    # The director sees a private case once it was escalated to them.
    with pytest.raises(AccessDeniedError, match="private"):
        authorize(ROSTER, "jung.director", rule("show"), ON, private)
    to_director = Case(private=True, escalations=(Escalation("jung.director"),))
    assert authorize(ROSTER, "jung.director", rule("show"), ON, to_director).personal_data
    assert mask_contact("010-1234-5678") == "010-****-5678"
    assert mask_contact("resident@example.kr") == "r***@example.kr"


def filed(complaints: Complaints, ref: str) -> object:
    return complaints.file(
        Intake(ref, "phone", "inquiry", "program", False, "010-2222-3333", "민원 본문 3131", ON)
    )


def test_every_read_of_personal_data_is_logged_and_the_log_is_chained(
    store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    with api_server() as server:
        complaints = server.complaints
        case = filed(complaints, "access-1")
        code = case.receipt_code  # type: ignore[attr-defined]
        server.login(monkeypatch, "lee.service")
        assert main(["show", code, "--personal"]) == 0
        shown = capsys.readouterr().out
        assert "010-2222-3333" in shown and "민원 본문 3131" in shown
        server.login(monkeypatch, "yoon.audit")
        assert main(["show", code, "--personal"]) == 0
        server.login(monkeypatch, "han.ops")
        assert main(["show", code, "--personal"]) == 2
        assert "stays masked: 010-****-3333" in capsys.readouterr().err

        today = datetime.now(KST).date()
        entries = complaints.access_entries(since=today, until=today, person=case.person_id)  # type: ignore[attr-defined]
        assert [(e["actor"], e["action"]) for e in entries] == [
            ("lee.service", "show --personal"),
            ("yoon.audit", "show --personal"),
        ]
        assert all(e["origin"].startswith("api:") and e["case_id"] == str(case.id) for e in entries)  # type: ignore[attr-defined]
        # The log names the person, never their data. Its ids are hex, where a bare
        # "010" turns up by chance: look for the number as written and its digits.
        logged = str(entries)
        assert not [data for data in ("2222-3333", "22223333", "민원 본문") if data in logged]
        assert (
            complaints.access_entries(since=today, until=today, actor="yoon.audit")[0]["person_id"]
            == case.person_id  # type: ignore[attr-defined]
        )
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
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await api_act(
                handle, RecordFinding(fault_confirmed=True, finding="확인", by="lee.service")
            )
        assert "may not conclude investigation" in str(refused.value.cause)
        await api_act(
            handle, RecordFinding(fault_confirmed=True, finding="확인", by="park.officer")
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await api_act(
                handle,
                RecordCorrectiveAction(staff="choi.tour", action="warning", by="jung.director"),
            )
        assert "needs designated_officer" in str(refused.value.cause)
        names = [type(e).__name__ for e in stack.complaints.history(uuid.UUID(view.case_id))]
        assert "CorrectiveActionRecorded" not in names


# Commands that read nothing of a case or a person: they need no login at all.
REFERENCE_COMMANDS = [
    pytest.param(
        ["deadline", "--received", "2026-09-21T10:00+09:00", "--days", "7"], id="deadline"
    ),
    pytest.param(["policy", "check"], id="policy-check"),
]
# Commands that read the roster or a case: through the API, with a token.
API_COMMANDS = [
    pytest.param(["roster", "show"], id="roster-show"),
    pytest.param(["roster", "history"], id="roster-history"),
    pytest.param(["show", "MW-00000-00000"], id="show"),
    pytest.param(["audit", "replay", "MW-00000-00000"], id="audit-replay"),
]


@pytest.fixture
def cli_on_store(
    store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[ApiServer]:
    """`minwon` in this process against the app on the test's store, logged in as nobody."""
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    for name in ("MINWON_TOKEN", "MINWON_ROSTER", "MINWON_POLICY", "MINWON_CALENDAR_OVERRIDES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    with api_server() as server:
        yield server


@pytest.mark.parametrize("argv", API_COMMANDS)
def test_a_command_without_a_token_or_with_a_bad_one_is_refused_in_one_line(
    argv: list[str],
    cli_on_store: ApiServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("minwon: not logged in: run `minwon login`"), err
    monkeypatch.setenv("MINWON_TOKEN", "mwt_0123456789ab_" + "x" * 43)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("minwon: not logged in: the token is unknown"), err


@pytest.mark.parametrize("argv", [*REFERENCE_COMMANDS, *API_COMMANDS])
def test_no_command_takes_an_actor_from_the_command_line(
    argv: list[str], cli_on_store: ApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    for where in ([*argv, "--actor", "park.officer"], ["--actor", "park.officer", *argv]):
        with pytest.raises(SystemExit) as exited:
            main(where)
        assert exited.value.code == 2
        error = capsys.readouterr().err
        assert (
            "unrecognized arguments: --actor" in error or "invalid choice: 'park.officer'" in error
        ), error


@pytest.mark.parametrize("argv", REFERENCE_COMMANDS)
def test_reference_commands_run_without_a_login(
    argv: list[str], cli_on_store: ApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.strip()


def test_an_auditor_reading_personal_data_in_a_replay_is_logged_and_listed(
    cli_on_store: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = cli_on_store
    case = filed(server.complaints, "access-cli-1")
    code = case.receipt_code  # type: ignore[attr-defined]
    server.login(monkeypatch, "yoon.audit")
    assert main(["audit", "replay", code, "--show-personal"]) == 0
    assert "010-2222-3333" in capsys.readouterr().out
    server.login(monkeypatch, "jung.director")
    assert main(["audit", "replay", code, "--show-personal"]) == 2
    assert "refused: personal data" in capsys.readouterr().err
    server.login(monkeypatch, "lee.service")
    assert main(["audit", "replay", code]) == 2
    assert "may not audit" in capsys.readouterr().err

    server.login(monkeypatch, "yoon.audit")
    assert main(["audit", "access", "--case", code]) == 0
    out = capsys.readouterr().out
    assert "yoon.audit" in out and "audit replay --show-personal" in out
    assert "1 access(es)" in out and "jung.director" not in out


def test_audit_access_lists_one_readers_entries_and_the_reader_is_never_who_asks(
    cli_on_store: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = cli_on_store
    case = filed(server.complaints, "access-cli-2")
    now = datetime.now(KST)
    for reader in ("lee.service", "park.officer", "lee.service"):
        server.complaints.log_access(actor=reader, at=now, origin="test", case=case, action="read")  # type: ignore[arg-type]

    listing = ["audit", "access", "--actor", "lee.service", "--json"]
    server.login(monkeypatch, "yoon.audit")
    assert main(listing) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    assert [e["actor"] for e in entries] == ["lee.service", "lee.service"]
    assert {e["person_id"] for e in entries} == {case.person_id}  # type: ignore[attr-defined]

    server.login(monkeypatch, "jung.director")
    assert main(["audit", "access", "--actor", "park.officer", "--json"]) == 0
    assert [e["actor"] for e in json.loads(capsys.readouterr().out)["entries"]] == ["park.officer"]
    # Naming a reader who may audit does not make the asker one.
    server.login(monkeypatch, "lee.service")
    assert main(["audit", "access", "--actor", "yoon.audit"]) == 2
    assert "lee.service (service_social_worker, staff) may not audit" in capsys.readouterr().err


def test_a_residents_status_lookup_is_logged_as_read_by_the_holder_of_the_receipt(
    complaints: Complaints,
) -> None:
    case = filed(complaints, "access-web-1")
    record, secret = ResidentSecret.issue(Complaint.create_id("access-web-1"))
    complaints.save(record)
    # The lookup reads the store only: no Temporal client, no public notices.
    limits = PublicLimits(complaints, clock=ON.timestamp)
    desk = Desk(
        complaints,
        client=None,  # type: ignore[arg-type]
        task_queue="",
        notices=None,  # type: ignore[arg-type]
        limits=limits,
        clock=lambda: ON,
    )
    code = case.receipt_code  # type: ignore[attr-defined]

    status = asyncio.run(desk.resident_status(code, secret, via="api", address="203.0.113.7"))
    with pytest.raises(Problem):
        asyncio.run(desk.resident_status(code, "WRONG-SECRET", via="api", address="203.0.113.8"))

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
