"""The roster (업무분장) as events: who holds which role when, and how it changed.

Domain tests read given (a seeded roster) / when (a command) / then (the holder
on a day, or the refusal). The persistence tests run on both backends
(`store_env`): the store is seeded once from the file, a change recorded by one
instance routes and escalates the next case in another, and routing takes the
holder valid at the case's moment. The last tests drive `minwon roster` through
the API, acting as whoever the token names.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from application.service import Complaints
from cli.main import main
from domain.calendar import SEOUL
from domain.commands import Escalate
from domain.roster import (
    DEFAULT_ROSTER_PATH,
    ROSTER_ID,
    RetroactiveAssignmentError,
    Roster,
    RosterError,
    StaffMember,
    StoredRoster,
    UnknownRoleError,
    UnknownStaffError,
    load_roster_file,
)
from domain.tokens import UnknownStaffError as UnknownTokenHolderError
from tests.support.api import ApiServer, api_without_temporal
from tests.support.samples import kst, sample_intake
from tests.support.stores import run_in_threads

OpenComplaints = Callable[[], Complaints]
AUGUST = kst("2026-08-03T10:00")


def event_names(roster: Roster) -> list[str]:
    return [type(e).__name__ for e in roster.collect_events()]


def stored(app: Complaints) -> StoredRoster:
    assert isinstance(app.roster, StoredRoster)
    return app.roster


def assign_choi_from_monday(app: Complaints) -> None:
    """On Friday 2026-10-02, ops make choi.tour the case manager from Monday."""
    stored(app).assign(
        role="case_manager",
        staff="choi.tour",
        start=date(2026, 10, 5),
        by="han.ops",
        at=kst("2026-10-02T11:00"),
    )


# -- the aggregate --------------------------------------------------------------------------


def test_the_holder_on_a_day_is_the_latest_starting_holding_that_covers_it() -> None:
    roster = Roster.from_file()

    assert roster.holder("case_manager", kst("2026-12-31T17:59")) == "kim.casemgr"
    assert roster.holder("case_manager", kst("2027-01-01T09:00")) == "kang.casemgr"
    assert roster.holder("designated_officer", kst("2031-06-01T09:00")) == "park.officer"
    assert roster.holder("case_manager", kst("2025-12-31T09:00")) is None
    # Seoul's day counts: 2026-12-31 15:30 UTC is already 2027 in Seoul.
    utc_new_year = datetime.fromisoformat("2026-12-31T15:30:00+00:00")
    assert roster.holder("case_manager", utc_new_year) == "kang.casemgr"


def test_assigning_a_role_from_a_date_changes_the_holder_from_that_day_and_keeps_later_plans() -> (
    None
):
    roster = Roster.from_file()

    roster.assign(
        role="case_manager", staff="lee.service", start=date(2026, 9, 1), by="han.ops", at=AUGUST
    )

    assert event_names(roster) == ["Seeded", "RoleAssigned"]
    assert roster.holder("case_manager", kst("2026-08-31T17:00")) == "kim.casemgr"
    assert roster.holder("case_manager", kst("2026-09-01T09:00")) == "lee.service"
    assert roster.holder("case_manager", kst("2027-03-02T09:00")) == "kang.casemgr"
    assert [(p.staff, p.start, p.end) for p in roster.schedule("case_manager")] == [
        ("kim.casemgr", date(2026, 1, 1), date(2026, 8, 31)),
        ("lee.service", date(2026, 9, 1), date(2026, 12, 31)),
        ("kang.casemgr", date(2027, 1, 1), None),
    ]
    assert roster.roles_of("lee.service", kst("2026-09-02T10:00")) == [
        "case_manager",
        "service_social_worker",
    ]


def test_a_roster_change_cannot_take_effect_before_the_day_it_is_made() -> None:
    roster = Roster.from_file()
    roster.collect_events()

    with pytest.raises(RetroactiveAssignmentError, match="today"):
        roster.assign(
            role="case_manager",
            staff="lee.service",
            start=date(2026, 8, 2),
            by="han.ops",
            at=AUGUST,
        )

    assert roster.collect_events() == []
    assert roster.holder("case_manager", kst("2026-08-02T10:00")) == "kim.casemgr"


def test_a_role_goes_only_to_someone_in_the_staff_directory_and_only_a_known_role() -> None:
    roster = Roster.from_file()

    with pytest.raises(UnknownStaffError, match="nobody"):
        roster.assign(role="ops", staff="nobody", start=date(2026, 9, 1), by="han.ops", at=AUGUST)
    with pytest.raises(UnknownRoleError, match="janitor"):
        roster.assign(
            role="janitor", staff="lee.service", start=date(2026, 9, 1), by="han.ops", at=AUGUST
        )

    roster.register_staff(
        StaffMember(id="seo.new", name="서신입", title="사회복지사", phone="02-000-1011"),
        by="han.ops",
        at=AUGUST,
    )
    roster.assign(role="ops", staff="seo.new", start=date(2026, 9, 1), by="han.ops", at=AUGUST)

    assert event_names(roster) == ["Seeded", "StaffRegistered", "RoleAssigned"]
    assert roster.holder("ops", kst("2026-09-01T09:00")) == "seo.new"
    assert roster.staff("seo.new") == StaffMember(
        id="seo.new", name="서신입", title="사회복지사", phone="02-000-1011"
    )


def test_the_same_assignment_made_twice_is_recorded_once() -> None:
    roster = Roster.from_file()
    for _ in range(2):
        roster.assign(
            role="tour_social_worker",
            staff="lee.service",
            start=date(2026, 9, 1),
            by="han.ops",
            at=AUGUST,
        )

    assert event_names(roster) == ["Seeded", "RoleAssigned"]


def test_a_later_assignment_from_the_same_day_wins() -> None:
    roster = Roster.from_file()
    for staff in ("lee.service", "choi.tour"):
        roster.assign(
            role="case_manager", staff=staff, start=date(2026, 9, 1), by="han.ops", at=AUGUST
        )

    assert roster.holder("case_manager", kst("2026-09-01T09:00")) == "choi.tour"


# -- the stored roster, on both backends ------------------------------------------------------


def test_the_store_is_seeded_once_from_the_file_and_the_file_no_longer_matters(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    roster_file = tmp_path / "roster.toml"
    shutil.copy(DEFAULT_ROSTER_PATH, roster_file)
    env = {**store_env, "MINWON_ROSTER": str(roster_file)}
    first = Complaints(env=env)
    try:
        assert first.roster.holder("case_manager", kst("2026-09-01T09:00")) == "kim.casemgr"
        roster_file.write_text(
            roster_file.read_text(encoding="utf-8").replace('"kim.casemgr"', '"choi.tour"'),
            encoding="utf-8",
        )
        second = Complaints(env=env)
        try:
            # The roster is what the store recorded, not what the file says today.
            assert second.roster.holder("case_manager", kst("2026-09-01T09:00")) == "kim.casemgr"
            names = [type(e).__name__ for e in stored(second).history()]
            assert names == ["Seeded"]
        finally:
            second.close()
    finally:
        first.close()


def test_a_change_recorded_by_one_instance_routes_the_next_case_filed_by_another(
    complaints: Complaints, open_complaints: OpenComplaints
) -> None:
    worker = open_complaints()
    before = worker.file(sample_intake(topic="intake", received_at=kst("2026-10-02T10:00")))
    assert before.assignee == "kim.casemgr"

    assign_choi_from_monday(complaints)

    # Filed by the instance that had the roster cached before the change.
    on_friday = worker.file(sample_intake(topic="intake", received_at=kst("2026-10-02T15:00")))
    on_monday = worker.file(sample_intake(topic="intake", received_at=kst("2026-10-05T09:30")))
    assert on_friday.assignee == "kim.casemgr"
    assert on_monday.assignee == "choi.tour"
    history = [(type(e).__name__, getattr(e, "by", None)) for e in stored(worker).history()]
    assert history == [("Seeded", None), ("RoleAssigned", "han.ops")]


def test_a_roster_once_read_stays_as_it_was_and_every_later_read_sees_the_change(
    complaints: Complaints, open_complaints: OpenComplaints
) -> None:
    worker = open_complaints()
    monday = kst("2026-10-05T09:30")
    before = stored(worker).current()

    assign_choi_from_monday(complaints)
    # The worker's activity threads read it at once.
    after = run_in_threads([stored(worker).current for _ in range(8)])

    # A reader keeps the roster it was given: the change went to a new copy.
    assert before.holder("case_manager", monday) == "kim.casemgr"
    assert [r.holder("case_manager", monday) for r in after] == ["choi.tour"] * 8
    assert {r.version for r in after} == {before.version + 1}


def test_escalation_goes_to_the_officer_holding_the_role_at_the_moment_it_happens(
    complaints: Complaints, open_complaints: OpenComplaints
) -> None:
    worker = open_complaints()
    case = worker.file(sample_intake(received_at=kst("2026-09-21T10:00")))
    stored(complaints).register_staff(
        StaffMember(id="oh.officer", name="오책임", title="지정책임관", phone="02-000-1000"),
        by="jung.director",
        at=kst("2026-09-22T09:00"),
    )
    stored(complaints).assign(
        role="designated_officer",
        staff="oh.officer",
        start=date(2026, 10, 1),
        by="jung.director",
        at=kst("2026-09-22T09:05"),
    )

    worker.perform(
        case.id,
        Escalate(reason="기한 초과", by="system", trigger="deadline"),
        at=kst("2026-09-30T18:00"),
        command_id="escalate-1",
    )
    other = worker.file(sample_intake(received_at=kst("2026-09-21T11:00")))
    worker.perform(
        other.id,
        Escalate(reason="기한 초과", by="system", trigger="deadline"),
        at=kst("2026-10-01T09:00"),
        command_id="escalate-2",
    )

    assert [e.to_staff for e in worker.get_case(case.id).escalations] == ["park.officer"]
    assert [e.to_staff for e in worker.get_case(other.id).escalations] == ["oh.officer"]


def test_instances_seeding_an_empty_store_at_once_store_one_roster(
    open_complaints: OpenComplaints,
) -> None:
    instances = [open_complaints() for _ in range(4)]

    holders = run_in_threads(
        [lambda app=app: app.roster.holder("ops", kst("2026-09-01T09:00")) for app in instances]
    )

    assert holders == ["han.ops"] * 4
    records = instances[0].recorder.select_events(ROSTER_ID)
    assert [r.originator_version for r in records] == [1]


# -- minwon roster, through the API ---------------------------------------------------------------


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ApiServer]:
    with api_without_temporal(monkeypatch, tmp_path, "lee.service") as running:
        yield running


def test_minwon_roster_assigns_from_a_date_shows_the_holders_and_lists_the_history(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    start = datetime.now(SEOUL).date() + timedelta(days=7)

    assert main(["roster", "show", "--on", start.isoformat()]) == 0
    shown = capsys.readouterr().out
    assert f"업무분장 on {start.isoformat()}" in shown

    server.login(monkeypatch, "han.ops")
    code = main(
        ["roster", "assign", "--role", "tour_social_worker", "--staff", "lee.service",
         "--from", start.isoformat()]
    )  # fmt: skip
    assigned = capsys.readouterr().out
    assert code == 0
    assert f"tour_social_worker: lee.service from {start.isoformat()}" in assigned
    assert "(was choi.tour)" in assigned

    server.login(monkeypatch, "lee.service")
    assert main(["roster", "show", "--on", start.isoformat(), "--json"]) == 0
    roles = {r["role"]: r for r in json.loads(capsys.readouterr().out)["roles"]}
    assert roles["tour_social_worker"]["staff"] == "lee.service"
    assert roles["tour_social_worker"]["since"] == start.isoformat()
    assert roles["designated_officer"]["staff"] == "park.officer"

    assert main(["roster", "history"]) == 0
    history = capsys.readouterr().out.splitlines()
    assert history[0].startswith("#1 ") and "seeded from roster.toml" in history[0]
    # The change is recorded as the token's person: nothing on the command line named them.
    assert history[1].endswith(
        f"tour_social_worker → lee.service from {start.isoformat()}  by han.ops"
    )


def test_minwon_roster_adds_a_staff_member_as_the_token_holder(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server.login(monkeypatch, "jung.director")

    code = main(
        ["roster", "add-staff", "--id", "seo.new", "--name", "서신입", "--title", "사회복지사",
         "--phone", "02-000-1011"]
    )  # fmt: skip

    assert code == 0
    assert capsys.readouterr().out == "seo.new: 서신입, 사회복지사, 02-000-1011\n"
    assert main(["roster", "history", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)[-1]
    assert added["what"] == "staff seo.new: 서신입, 사회복지사"
    assert added["by"] == "jung.director"


def test_minwon_roster_is_changed_only_by_ops_or_the_director(
    server: ApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    start = datetime.now(SEOUL).date() + timedelta(days=7)

    code = main(
        ["roster", "assign", "--role", "ops", "--staff", "lee.service",
         "--from", start.isoformat()]
    )  # fmt: skip

    assert code == 2
    assert "refused: lee.service" in capsys.readouterr().err
    assert main(["roster", "show", "--on", start.isoformat(), "--json"]) == 0
    roles = {r["role"]: r["staff"] for r in json.loads(capsys.readouterr().out)["roles"]}
    assert roles["ops"] == "han.ops"


def test_minwon_roster_is_not_changed_by_the_engines_own_actor(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    start = datetime.now(SEOUL).date() + timedelta(days=7)

    # Who acts is the token's person: the command line no longer names anyone ...
    with pytest.raises(SystemExit):
        main(
            ["roster", "assign", "--role", "ops", "--staff", "lee.service",
             "--from", start.isoformat(), "--actor", "system"]
        )  # fmt: skip
    # ... no token can be issued for the engine's own actor ...
    with pytest.raises(UnknownTokenHolderError, match="system"):
        server.token("system")
    # ... and ops cannot give it a directory entry to get one through.
    server.login(monkeypatch, "han.ops")
    code = main(
        ["roster", "add-staff", "--id", "system", "--name", "엔진", "--title", "엔진",
         "--phone", "02-000-0000"]
    )  # fmt: skip

    assert code == 2
    assert "cannot add system: 'system' is the engine's own actor" in capsys.readouterr().err
    assert main(["roster", "history"]) == 0
    history = capsys.readouterr().out.splitlines()
    assert len(history) == 1 and "seeded from roster.toml" in history[0]


def test_minwon_roster_refuses_a_change_in_the_past_in_one_line(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    yesterday = datetime.now(SEOUL).date() - timedelta(days=1)
    server.login(monkeypatch, "han.ops")

    code = main(
        ["roster", "assign", "--role", "ops", "--staff", "lee.service",
         "--from", yesterday.isoformat()]
    )  # fmt: skip

    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("minwon: cannot assign: a roster change takes effect today")
    assert "\n" not in error


def test_a_photo_is_a_file_name_in_the_staff_folder_and_nothing_else(tmp_path: Path) -> None:
    roster_file = tmp_path / "roster.toml"
    for bad in ("../../etc/passwd.png", "/etc/x.png", "https://evil.example/x.png", "x.gif"):
        roster_file.write_text(
            f'[[staff]]\nid = "a"\nname = "가"\ntitle = "직원"\nphone = "1"\nphoto = "{bad}"\n'
        )
        with pytest.raises(RosterError, match="is not a file name"):
            load_roster_file(roster_file)
    roster_file.write_text(
        '[[staff]]\nid = "a"\nname = "가"\ntitle = "직원"\nphone = "1"\nphoto = "a.b-1.jpg"\n'
    )
    _, [member] = load_roster_file(roster_file)
    assert member.photo == "a.b-1.jpg"


def test_the_directory_shows_a_photo_where_the_roster_has_one(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = {e["role"]: e for e in server.http.get("/api/directory").json()["staff"]}
    assert entries["designated_officer"]["photo"] == "/static/staff/park.officer.png"
    assert entries["director"]["photo"] is None
    assert server.http.get("/static/staff/park.officer.png").status_code == 200

    # Given through the API, a path is refused and nothing is recorded.
    server.login(monkeypatch, "han.ops")
    code = main(
        ["roster", "add-staff", "--id", "seo.new", "--name", "서신입", "--title", "사회복지사",
         "--phone", "02-000-1011", "--photo", "../../secret.png"]
    )  # fmt: skip
    assert code == 2
    assert "is not a file name" in capsys.readouterr().err
    assert server.complaints.roster.staff("seo.new") is None
