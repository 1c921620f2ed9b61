"""`minwon cases`, `minwon report …` and `minwon admin projections …` through the entry point.

`cases` and `report` ask the API (`web.reports`), in process (`tests.support.api`),
as the holder of a token: the server reads the event store named by the
environment, as the installed server does, a SQLite file in a temporary
directory, and once the real PostgreSQL server. `admin projections` opens that
store itself, with no token. The cases are the scenario of `tests/support/scenario.py`.
"""

from __future__ import annotations

import csv
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from application.service import Complaints
from cli.main import main
from cli.projections import READ_MODEL_NAMES
from tests.support.api import ApiServer, api_server
from tests.support.samples import kst, sample_intake
from tests.support.scenario import CANARY, Scenario, build_scenario
from tests.support.stores import POSTGRES_ENV
from workflows.codec import new_key

AS_OF = "2026-11-29T22:18+09:00"


def run_minwon(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def use_store(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in ("MINWON_POLICY", "MINWON_CALENDAR_OVERRIDES", "SQLITE_DBNAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The board and the reports need no Temporal: the API's client, connected lazily,
    # points at a port nothing listens on, with a key of its own.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{closed_port}")
    monkeypatch.setenv("MINWON_PAYLOAD_KEY", new_key())


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "e.db")}
    use_store(monkeypatch, env)
    return env


@pytest.fixture
def server(sqlite_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiServer]:
    """The API on the environment's store, the command logged in as ops."""
    with api_server() as running:
        running.login(monkeypatch, "han.ops")  # ops may read the board and reports
        yield running


@pytest.fixture
def scenario(sqlite_env: dict[str, str]) -> Iterator[Scenario]:
    app = Complaints(env=sqlite_env)
    yield build_scenario(app)
    app.close()


# -- minwon cases -------------------------------------------------------------------------


def test_cases_lists_open_cases_by_next_due_with_the_overdue_one_marked(
    server: ApiServer, scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    later = scenario.app.file(
        sample_intake(received_at=kst("2026-11-27T10:00"), channel="homepage", topic="program")
    )

    code, out, err = run_minwon(capsys, "cases", "--at", AS_OF)

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == [
        "RECEIPT", "CATEGORY", "CHANNEL", "STATUS", "ASSIGNEE", "NEXT", "DUE", "(KST)", "FLAGS"
    ]  # fmt: skip
    assert lines[1].split() == [
        scenario.codes["open"], "inquiry", "fax", "assigned", "choi.tour", "2026-11-19", "15:00",
        "OVERDUE,", "escalated",
    ]  # fmt: skip
    # Filed on Friday 11-27: 7 working days to Monday 12-07.
    assert lines[2].split() == [
        later.receipt_code, "inquiry", "homepage", "assigned", "lee.service", "2026-12-07",
        "18:00",
    ]  # fmt: skip
    assert lines[3] == "2 case(s), 1 overdue, as of 2026-11-29 22:18 KST"


def test_cases_shows_closed_and_withdrawn_cases_with_all(
    server: ApiServer,
    scenario: Scenario,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The designated officer, who may see every case, the private one too.
    server.login(monkeypatch, "park.officer")

    code, out, _ = run_minwon(capsys, "cases", "--all", "--json", "--at", AS_OF)

    listed = json.loads(out)["cases"]
    assert code == 0
    assert {case["receipt_code"] for case in listed} == set(scenario.codes.values())
    assert listed[0]["receipt_code"] == scenario.codes["open"]
    late = next(case for case in listed if case["receipt_code"] == scenario.codes["late"])
    assert late == {
        "receipt_code": scenario.codes["late"],
        "category": "opinion",
        "channel": "homepage",
        "status": "closed",
        "assignee": "kim.casemgr",
        "next_due": None,
        "overdue": False,
        "breached": True,
        "escalated": True,
        "received_at": "2026-11-02T10:00:00+09:00",
    }
    assert CANARY not in out


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--overdue"], ["open"]),
        (["--due-within", "2d"], ["open"]),
        (["--due-within", "36h"], ["open"]),
        (["--escalated"], ["open"]),
        (["--assignee", "choi.tour"], ["open"]),
        (["--assignee", "lee.service"], []),
        (["--overdue", "--at", "2026-11-19T14:00+09:00"], []),
        (["--due-within", "2h", "--at", "2026-11-19T14:00+09:00"], ["open"]),
        (["--due-within", "30m"], None),
    ],
)
def test_cases_filters_combine_and_a_bad_duration_is_one_line(
    server: ApiServer,
    scenario: Scenario,
    capsys: pytest.CaptureFixture[str],
    filters: list[str],
    expected: list[str] | None,
) -> None:
    at = [] if "--at" in filters else ["--at", AS_OF]

    code, out, err = run_minwon(capsys, "cases", "--json", *at, *filters)

    if expected is None:
        assert code == 2
        assert err == "minwon: --due-within takes a duration like 2d or 36h, not '30m'\n"
        return
    assert code == 0
    codes = [case["receipt_code"] for case in json.loads(out)["cases"]]
    assert codes == [scenario.codes[label] for label in expected]


def test_cases_catches_up_first_so_a_case_just_filed_is_listed(
    server: ApiServer, scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    run_minwon(capsys, "cases")
    filed = scenario.app.file(sample_intake(received_at=kst("2026-11-27T10:00")))

    _, out, _ = run_minwon(capsys, "cases", "--json")

    assert filed.receipt_code in {case["receipt_code"] for case in json.loads(out)["cases"]}


def test_cases_on_an_empty_store_says_nothing_matches(
    server: ApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_minwon(capsys, "cases", "--at", AS_OF)

    assert (code, out) == (0, "no cases match, as of 2026-11-29 22:18 KST\n")


# -- minwon report ----------------------------------------------------------------------------


def test_compliance_report_as_text_shows_each_commitment_kind_and_the_other_counts(
    server: ApiServer, scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_minwon(capsys, "report", "compliance", "--year", "2026")

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "안심종합사회복지관 — charter self-assessment 2026"
    assert lines[4].split()[:3] == ["KIND", "STARTED", "MET"]
    table = {line.split()[0]: line.split()[1:] for line in lines[5:10]}
    assert table == {
        "reply": ["5", "2", "1", "0", "1", "1", "1", "16.0", "65.0"],
        "result": ["1", "0", "0", "1", "0", "0", "0", "128.0", "128.0"],
        "investigation": ["1", "1", "0", "0", "0", "0", "0", "21.0", "21.0"],
        "expedited": ["0", "0", "0", "0", "0", "0", "0", "-", "-"],
        "callback": ["1", "0", "0", "0", "1", "0", "0", "-", "-"],
    }
    assert "Escalations           2  (deadline 1, manual 1)" in lines
    assert "Apologies             3  (in_person 1, phone 1, public 1)" in lines
    assert "Corrective actions    2  (warning 1, training 1)" in lines
    assert (
        "Satisfaction          3  rating(s), average 4.00 (1★ 0, 2★ 1, 3★ 0, 4★ 0, 5★ 2)"
    ) in lines
    # No survey was held, nobody monitored or awarded in the scenario: the sections say so.
    assert "Survey                -  not held in 2026 (yet)" in lines
    assert (
        "Phone monitoring      0  call(s), average -, 0 low (0 without a corrective action; "
        "warning 0, training 0)"
    ) in lines
    assert lines[-1] == "Awards                0"


def test_compliance_report_as_csv_has_one_measure_per_row(
    server: ApiServer, scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_minwon(capsys, "report", "compliance", "--year", "2026", "--format", "csv")

    rows = list(csv.DictReader(io.StringIO(out)))
    values = {(row["section"], row["group"], row["measure"]): row["value"] for row in rows}
    assert code == 0
    assert values[("commitments", "reply", "met_after_interim")] == "1"
    assert values[("commitments", "result", "breached")] == "1"
    assert values[("commitments", "expedited", "median_hours")] == ""
    assert values[("escalations", "deadline", "count")] == "1"
    assert values[("apologies", "public", "count")] == "1"
    assert values[("corrective_actions", "training", "count")] == "1"
    assert values[("satisfaction", "all", "average")] == "4.0"
    assert values[("satisfaction", "5", "count")] == "2"
    # The rest of the charter: no survey, monitored call or award in the scenario.
    assert values[("survey", "all", "held")] == "False"
    assert values[("survey", "all", "invited")] == "0"
    assert values[("survey", "all", "unreachable")] == "0"
    assert values[("monitoring", "all", "calls")] == "0"
    assert values[("awards", "all", "count")] == "0"
    assert len(rows) == len(values)


def test_compliance_report_as_json_for_another_year_counts_nothing(
    server: ApiServer, scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_minwon(capsys, "report", "compliance", "--year", "2025", "--format", "json")

    report = json.loads(out)
    assert code == 0
    assert report["year"] == 2025
    assert {kind: c["started"] for kind, c in report["commitments"].items()} == dict.fromkeys(
        ["reply", "result", "investigation", "expedited", "callback"], 0
    )
    assert report["satisfaction"] == {
        "count": 0,
        "average": None,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }


def test_notices_report_never_shows_a_private_case_or_a_note(
    server: ApiServer, scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_minwon(capsys, "report", "notices", "--format", "json")

    notices = json.loads(out)
    assert code == 0
    assert [n["receipt_code"] for n in notices] == [
        scenario.codes["late"],
        scenario.codes["answered"],
    ]
    assert notices[0]["public_apology"] is True
    assert scenario.codes["private"] not in out
    assert CANARY not in out


def test_staff_and_sla_reports_read_their_views(
    server: ApiServer, scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    _, staff, _ = run_minwon(capsys, "report", "staff", "--format", "csv")
    _, sla, _ = run_minwon(capsys, "report", "sla", "--year", "2026", "--format", "json")

    assert staff.splitlines() == [
        "staff,cases_handled,breaches,commendations,warnings,trainings,"
        "monitored_calls,monitoring_average,awards",
        "choi.tour,2,0,0,0,0,0,,0",
        "kim.casemgr,2,0,0,0,0,0,,0",
        "lee.service,2,0,2,1,1,0,,0",
        "park.officer,2,1,0,0,0,0,,0",
    ]
    reply = next(line for line in json.loads(sla) if line["kind"] == "reply")
    assert reply["month"] == "2026-11"
    assert (reply["met"], reply["met_after_interim"], reply["p90_hours"]) == (2, 1, 65.0)


# -- who may read ------------------------------------------------------------------------------


@pytest.mark.parametrize("report", ["compliance", "sla", "staff", "notices"])
def test_a_staff_member_without_a_report_role_is_refused_every_report(
    server: ApiServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    report: str,
) -> None:
    server.login(monkeypatch, "lee.service")  # a social worker: staff, no report role

    code, out, err = run_minwon(capsys, "report", report)

    assert (code, out) == (2, "")
    assert err.startswith("minwon: refused: lee.service")
    assert "may not report" in err


@pytest.mark.parametrize(
    ("staff", "listed"),
    [
        ("han.ops", False),
        ("kim.casemgr", False),
        ("lee.service", True),  # its assignee
        ("park.officer", True),
        ("yoon.audit", True),
    ],
)
def test_a_private_case_is_listed_only_to_its_own_people_the_officer_and_auditors(
    server: ApiServer,
    scenario: Scenario,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    staff: str,
    listed: bool,
) -> None:
    server.login(monkeypatch, staff)
    private = scenario.codes["private"]

    code, out, err = run_minwon(capsys, "cases", "--all", "--json", "--at", AS_OF)

    codes = {case["receipt_code"] for case in json.loads(out)["cases"]}
    assert (code, err) == (0, "")
    assert (private in codes) is listed
    assert codes - {private} == set(scenario.codes.values()) - {private}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "compliance", "--format", "xml"],
         "--format must be one of text, csv, json, not 'xml'"),
        (["report", "compliance", "--year", "26"], "--year takes a year like 2026, not '26'"),
        (["cases", "--at", "2026-11-29T10:00"],
         "--at '2026-11-29T10:00' needs an offset, e.g. 2026-11-29T10:00+09:00"),
        (["admin", "projections", "rebuild", "cases"],
         "no read model named 'cases'; choose case_board, sla_report, public_notices, "
         "staff_record, compliance, conduct, appointment_book, survey_results or all"),
        (["admin", "projections", "run", "--once", "--batch", "many"],
         "--batch must be a positive number, not 'many'"),
    ],
)  # fmt: skip
def test_a_bad_value_is_one_line_and_exit_status_2(
    sqlite_env: dict[str, str], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    # No server and no token: a bad option is refused before anything is asked of either.
    code, out, err = run_minwon(capsys, *argv)

    assert (code, out, err) == (2, "", f"minwon: {message}\n")


# -- minwon admin projections -------------------------------------------------------------------


def test_projections_run_once_catches_up_and_rebuild_starts_again_from_zero(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    last = scenario.app.recorder.max_notification_id()

    _, first, _ = run_minwon(capsys, "admin", "projections", "run", "--once")
    _, again, _ = run_minwon(capsys, "admin", "projections", "run", "--once")
    code, rebuilt, _ = run_minwon(capsys, "admin", "projections", "rebuild", "sla_report")

    assert first.splitlines()[0] == f"case_board      caught up: notification 0 → {last}"
    assert len(first.splitlines()) == len(READ_MODEL_NAMES)
    assert again.splitlines()[-1].endswith(f"caught up: notification {last} → {last}")
    assert (code, rebuilt) == (0, f"sla_report      rebuilt: notification 0 → {last}\n")


# -- PostgreSQL -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_cases_and_compliance_report_read_the_same_on_postgresql(
    postgres_schema: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**POSTGRES_ENV, "POSTGRES_SCHEMA": postgres_schema}
    use_store(monkeypatch, env)
    app = Complaints(env=env)
    try:
        scenario = build_scenario(app)
    finally:
        app.close()

    with api_server() as server:
        server.login(monkeypatch, "han.ops")
        _, cases, _ = run_minwon(capsys, "cases", "--json", "--overdue", "--at", AS_OF)
        code, report, err = run_minwon(capsys, "report", "compliance", "--year", "2026",
                                       "--format", "json")  # fmt: skip

    assert (code, err) == (0, "")
    assert [c["receipt_code"] for c in json.loads(cases)["cases"]] == [scenario.codes["open"]]
    figures = json.loads(report)
    assert figures["commitments"]["reply"]["met"] == 2
    assert figures["commitments"]["result"]["median_hours"] == 128.0
    assert figures["escalations"]["by_trigger"] == {"deadline": 1, "manual": 1}
    assert figures["satisfaction"]["average"] == 4.0
