"""The read models on a real event store, SQLite file and PostgreSQL alike.

Cases are built through `Complaints`, as the activities build them; the views
are brought up to date the way `minwon admin projections run` does (a pull loop on
SQLite, eventsourcing's `ProjectionRunner` on PostgreSQL) and read back from the
database. The scenario runs in November 2026, which has no public holiday, so
the working hours below can be counted by hand (09–12 and 13–18, weekdays).
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from application.service import Complaints
from cli import projections as projections_command
from domain.commands import Answer, Close
from domain.complaint import Complaint
from projections import NAMES, AlreadyTracked, ReadModels
from projections.base import Writer
from projections.case_board import BoardRow
from projections.public_notices import Notice
from projections.runner import DEFAULT_BATCH
from projections.sla_report import SlaLine, percentile
from projections.staff_record import StaffLine
from tests.support.samples import kst, sample_intake
from tests.support.scenario import CANARY, LATE_SUMMARY, Scenario, build_scenario

MINWON = Path(sys.executable).parent / "minwon"
# Bounds the subprocess tests: a projector that hangs fails the test, not the run.
DEADLINE_SECONDS = 60.0


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
def read_models(store_env: dict[str, str]) -> Iterator[ReadModels]:
    models = ReadModels(store_env)
    yield models
    models.close()


@pytest.fixture
def scenario(complaints: Complaints, read_models: ReadModels) -> Scenario:
    built = build_scenario(complaints)
    read_models.catch_up()
    return built


def dumps(models: ReadModels) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    return {name: models.views[name].dump() for name in models.names}


# -- each view's rows ------------------------------------------------------------------


def test_case_board_has_one_row_per_case_with_status_assignee_next_due_and_flags(
    scenario: Scenario, read_models: ReadModels
) -> None:
    rows = read_models.views["case_board"].rows()
    by_label = {label: row for row in rows for label, code in scenario.codes.items()
                if row.receipt_code == code}  # fmt: skip

    def row(label: str, *values: Any) -> BoardRow:
        return BoardRow(scenario.codes[label], *values)

    received = kst("2026-11-02T10:00")
    assert by_label == {
        "answered": row("answered", "inquiry", "email", "closed", "lee.service", None,
                        False, False, received),
        "late": row("late", "opinion", "homepage", "closed", "kim.casemgr", None,
                    True, True, received),
        "private": row("private", "inquiry", "email", "closed", "lee.service", None,
                       False, False, received),
        "investigated": row("investigated", "late_reply", "phone", "closed", "park.officer",
                            None, False, False, received),
        "withdrawn": row("withdrawn", "inquiry", "visit", "withdrawn", "choi.tour", None,
                         False, False, received),
        # The callback (due 11-19 15:00) comes before the reply (due 11-24 18:00).
        "open": row("open", "inquiry", "fax", "assigned", "choi.tour",
                    kst("2026-11-19T15:00"), False, True, kst("2026-11-16T10:00")),
    }  # fmt: skip
    assert len(rows) == 6
    assert rows[0].receipt_code == scenario.codes["open"], "the only case with a due comes first"


def test_sla_report_counts_each_commitment_by_month_and_kind_with_working_hours(
    scenario: Scenario, read_models: ReadModels
) -> None:
    view = read_models.views["sla_report"]
    hours = sorted(
        (row["kind"], row["working_hours"])
        for row in view.commitments()
        if row["working_hours"] is not None
    )

    # reply: 65 h (11-02 10:00 → 11-12 11:00: 7 + 4×8 + 3×8 + 2), 16 h after the
    # reopening (11-16 10:00 → 11-18 10:00), 8 h for the private case (to 11-03 10:00);
    # result: 128 h, kept late on 11-24 10:00; investigation: 21 h (to 11-04 16:00);
    # announcement: 6 h (closed 11-05 12:00, declined 11-06 10:00; lunch not counted).
    assert hours == [
        ("announcement", 6.0),
        ("investigation", 21.0),
        ("reply", 8.0),
        ("reply", 16.0),
        ("reply", 65.0),
        ("result", 128.0),
    ]
    assert view.monthly() == [
        SlaLine("2026-11", "announcement", started=1, met=1, met_after_interim=0, breached=0,
                open=0, cancelled=0, extended=0, median_hours=6.0, p90_hours=6.0),
        SlaLine("2026-11", "callback", started=1, met=0, met_after_interim=0, breached=0,
                open=1, cancelled=0, extended=0, median_hours=None, p90_hours=None),
        SlaLine("2026-11", "investigation", started=1, met=1, met_after_interim=0, breached=0,
                open=0, cancelled=0, extended=0, median_hours=21.0, p90_hours=21.0),
        SlaLine("2026-11", "reply", started=5, met=2, met_after_interim=1, breached=0,
                open=1, cancelled=1, extended=1, median_hours=16.0, p90_hours=65.0),
        SlaLine("2026-11", "result", started=1, met=0, met_after_interim=0, breached=1,
                open=0, cancelled=0, extended=0, median_hours=128.0, p90_hours=128.0),
    ]  # fmt: skip
    assert view.monthly(2025) == []
    assert [line.kind for line in view.yearly(2026)] == [
        "announcement",
        "callback",
        "investigation",
        "reply",
        "result",
    ]


def test_percentile_is_a_value_that_occurred_at_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 11)]

    assert percentile(values, 90) == 9.0
    assert percentile(values, 50) == 5.0
    assert percentile([3.0], 90) == 3.0
    assert percentile([], 90) is None


def test_public_notices_show_results_and_public_apologies_of_public_cases_only(
    scenario: Scenario, read_models: ReadModels
) -> None:
    notices = read_models.views["public_notices"].notices()

    # Numbered in the order they were first published; newest first.
    assert notices == [
        Notice("2026-0002", scenario.codes["late"], "opinion", LATE_SUMMARY,
               kst("2026-11-24T11:00"), True, kst("2026-11-23T11:00")),
        Notice("2026-0001", scenario.codes["answered"], "inquiry",
               "프로그램 신청은 홈페이지에서 받습니다.", kst("2026-11-12T14:00"), False, None),
    ]  # fmt: skip


def test_no_view_holds_a_private_case_in_its_notices_or_any_contact_text_or_note(
    scenario: Scenario, read_models: ReadModels
) -> None:
    everything = repr(dumps(read_models))
    notices = repr(read_models.views["public_notices"].dump())

    assert CANARY not in everything
    assert "홍길동" not in everything
    # The scenario's phone numbers (a bare "010-" also occurs inside random case ids).
    assert "010-1234-5678" not in everything and "010-5555-0000" not in everything
    assert scenario.codes["private"] not in notices


def test_staff_record_counts_cases_breaches_commendations_and_corrective_actions(
    scenario: Scenario, read_models: ReadModels
) -> None:
    assert read_models.views["staff_record"].lines() == [
        # B's breach is park.officer's (assigned when the timer fired), counted once
        # although the late answer, by kim.casemgr, also found it late.
        StaffLine("choi.tour", cases_handled=2, breaches=0, commendations=0, warnings=0,
                  trainings=0),
        StaffLine("kim.casemgr", cases_handled=2, breaches=0, commendations=0, warnings=0,
                  trainings=0),
        # Commendations: the answered case and the private one, both rated 5.
        StaffLine("lee.service", cases_handled=2, breaches=0, commendations=2, warnings=1,
                  trainings=1),
        StaffLine("park.officer", cases_handled=2, breaches=1, commendations=0, warnings=0,
                  trainings=0),
    ]  # fmt: skip


def test_compliance_view_counts_escalations_apologies_actions_and_ratings_by_year(
    scenario: Scenario, read_models: ReadModels
) -> None:
    facts = read_models.views["compliance"].year(2026)

    assert facts.escalations == {"deadline": 1, "manual": 1}
    assert facts.apologies == {"in_person": 1, "phone": 1, "public": 1}
    assert facts.corrective_actions == {"warning": 1, "training": 1}
    assert facts.ratings == {1: 0, 2: 1, 3: 0, 4: 0, 5: 2}
    assert facts.rating_average == 4.0
    assert read_models.views["compliance"].year(2025).rating_count == 0


# -- exactly once ----------------------------------------------------------------------


def test_catching_up_twice_processes_nothing_the_second_time(
    scenario: Scenario, read_models: ReadModels
) -> None:
    before = dumps(read_models)
    last = read_models.last_notification()

    progress = read_models.catch_up()

    assert [(p.start, p.end) for p in progress] == [(last, last)] * len(NAMES)
    assert dumps(read_models) == before


def test_an_event_processed_again_is_refused_and_counts_once(
    scenario: Scenario, read_models: ReadModels
) -> None:
    before = dumps(read_models)
    notifications = read_models.app.recorder.select_notifications(start=1, limit=1000)

    for name in NAMES:
        projection = read_models.projection(name)
        for notification in notifications[-3:]:
            event = read_models.app.mapper.to_domain_event(notification)
            with pytest.raises(AlreadyTracked):
                projection.process_event(event, Tracking(read_models.app.name, notification.id))

    assert dumps(read_models) == before


def test_rows_and_tracking_written_in_a_batch_that_fails_are_both_rolled_back(
    complaints: Complaints, read_models: ReadModels
) -> None:
    complaints.file(sample_intake(received_at=kst("2026-11-02T10:00")))
    view = read_models.views["case_board"]
    projection = read_models.projection("case_board")
    notifications = read_models.app.recorder.select_notifications(start=1, limit=100)

    with pytest.raises(RuntimeError, match="power cut"), view.batch():
        for notification in notifications:
            event = read_models.app.mapper.to_domain_event(notification)
            projection.process_event(event, Tracking(read_models.app.name, notification.id))
        raise RuntimeError("power cut")

    assert read_models.position("case_board") == 0
    assert view.rows() == []


def test_a_survey_view_made_before_undeliverable_invitations_gains_their_table_and_counts_them(
    complaints: Complaints, store_env: dict[str, str]
) -> None:
    closed_at = kst("2026-11-02T10:00")
    case = complaints.file(sample_intake(received_at=closed_at, contact="kim@example.org"))
    complaints.perform(case.id, Answer(text="안내", by="lee.service"), at=closed_at, command_id="a")
    complaints.perform(case.id, Close(by="lee.service"), at=closed_at, command_id="c")
    started = complaints.surveys.start(
        2026, opens_at=kst("2026-12-01T09:00"), closes_at=kst("2026-12-15T09:00"), by="system"
    )
    assert started is not None and len(started.invitations) == 1
    models = ReadModels(store_env, names=("survey_results",))
    models.catch_up()
    view = models.views["survey_results"]
    # As the code before made it: no table for undeliverable invitations.
    with view._begin() as cursor:
        Writer(view, cursor).execute("DROP TABLE {survey_unreachable}")
    models.close()

    invitation = uuid.UUID(started.invitations[0])
    complaints.surveys.record_undeliverable(invitation, kst("2026-12-01T09:00"))
    complaints.surveys.record_undeliverable(invitation, kst("2026-12-01T10:00"))  # once
    reopened = ReadModels(store_env, names=("survey_results",))
    try:
        reopened.catch_up()
        year = reopened.views["survey_results"].year(2026)  # type: ignore[attr-defined]
    finally:
        reopened.close()

    assert (year.invited, year.sent, year.unreachable, year.answered) == (1, 0, 1, 0)
    topics = [record.topic for record in complaints.recorder.select_events(invitation)]
    assert [t.rsplit(".", 1)[-1] for t in topics] == ["Invited", "Undeliverable"]


# -- rebuilt equals live -----------------------------------------------------------------


def test_views_rebuilt_from_position_zero_equal_the_views_kept_up_event_by_event(
    complaints: Complaints, read_models: ReadModels
) -> None:
    build_scenario(complaints, after_each_case=read_models.catch_up)
    live = dumps(read_models)
    last = read_models.last_notification()

    rebuilt = [read_models.rebuild(name) for name in NAMES]

    assert [(p.start, p.end) for p in rebuilt] == [(last, last)] * len(NAMES)
    assert dumps(read_models) == live


# -- a projector killed half-way ----------------------------------------------------------


SEED_CATEGORIES = ("inquiry", "inquiry", "opinion", "late_reply", "inquiry")
SEED_TOPICS = ("program", "intake", "service", "intake", "tour")


def seed_cases(app: Complaints, count: int, *, first: int = 0) -> None:
    """`count` cases with histories like the center's, one save after intake each."""
    start = kst("2026-09-01T09:30")
    for i in range(first, first + count):
        received = start + timedelta(hours=5 * i)
        case = app.file(
            sample_intake(
                f"seed-{i}",
                received_at=received,
                category=SEED_CATEGORIES[i % 5],
                private=i % 5 == 4,
                topic=SEED_TOPICS[i % 5],
            )
        )
        app.execute(case.id, lambda case, i=i, received=received: seed_history(case, i, received))


def seed_history(case: Complaint, i: int, received: datetime) -> None:
    """Case `i`: an inquiry kept, one breached after an interim reply, an opinion
    reassigned with a warning, an investigation with an apology, a private case
    (every other one withdrawn)."""
    steps = iter(range(100))
    clock = [received]

    def later(hours: float) -> dict[str, Any]:
        clock[0] += timedelta(hours=hours)
        return {"at": clock[0], "command_id": f"seed-{i}-{next(steps)}"}

    kind = i % 5
    if kind == 1:
        due = case.commitments["reply"].due
        case.send_interim_reply(
            kind="reply", reason="확인 중", new_due=due + timedelta(days=3), by="lee.service",
            **later(30),
        )  # fmt: skip
        clock[0] = due + timedelta(days=3)
        case.breach(kind="reply", **later(1))
    elif kind == 2:
        case.warn(kind="result", **later(60))
        case.assign(staff="kim.casemgr", role="case_manager", by="han.ops", **later(1))
        case.record_corrective_action(
            staff="lee.service", action="warning", by="park.officer", note="", **later(1)
        )
    elif kind == 3:
        case.conclude_investigation(
            fault_confirmed=True, finding="확인", by="park.officer", **later(10)
        )
        case.make_apology(mode=("public", "phone")[i % 2], by="park.officer", note="", **later(1))
    elif kind == 4 and i % 2:
        case.withdraw(reason="요청", by="choi.tour", **later(3))
        return
    case.answer_case(text="답변", by="lee.service", **later(20))
    if kind != 4:
        case.announce_result(summary=f"결과 {i}", by="lee.service", **later(1))
    case.close(by="lee.service", **later(1))
    case.rate_satisfaction(score=1 + i % 5, comment="", **later(24))


def server_host_env(store: dict[str, str]) -> dict[str, str]:
    """The environment of the server host: its store's settings, and no token at all."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("MINWON_TOKEN", "MINWON_URL")}
    return {**inherited, **store}


def minwon_process(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """`minwon admin projections …`, as run on the server host."""
    return subprocess.Popen(
        [str(MINWON), "admin", "projections", *args],
        env=server_host_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_admin_projections_take_no_actor_and_name_what_the_runner_has() -> None:
    parser = argparse.ArgumentParser(prog="minwon admin")
    projections_command.register(parser.add_subparsers(dest="admin_command", required=True))

    args = parser.parse_args(["projections", "run", "--once"])

    assert args.handler is projections_command.run_projections
    with pytest.raises(SystemExit):
        parser.parse_args(["projections", "run", "--once", "--actor", "han.ops"])
    # Named in the command's help without importing the read models.
    assert projections_command.READ_MODEL_NAMES == NAMES
    assert projections_command.DEFAULT_BATCH == DEFAULT_BATCH


def wait_for_log(process: subprocess.Popen[bytes], event: str, deadline: float) -> None:
    """Read the process's log (stderr) until `event` is logged."""
    assert process.stderr is not None
    seen = b""
    while event.encode() not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {event} logged: {seen.decode()}"
        ready, _, _ = select.select([process.stderr], [], [], remaining)
        if ready:
            line = process.stderr.readline()
            assert line, f"the process exited before logging {event}: {seen.decode()}"
            seen += line


def wait_until(condition: Callable[[], bool], deadline: float, what: str) -> None:
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def test_views_caught_up_after_the_projector_was_killed_half_way_equal_a_rebuild(
    store_env: dict[str, str], complaints: Complaints, read_models: ReadModels
) -> None:
    seed_cases(complaints, 200)
    last = read_models.last_notification()
    deadline = time.monotonic() + DEADLINE_SECONDS

    # Small batches on SQLite, so there are many commits to be killed between;
    # on PostgreSQL the subscribed runners commit each event.
    projector = minwon_process(store_env, "run", "--batch", "40")
    try:
        wait_until(
            lambda: any(read_models.position(name) > 0 for name in NAMES) or bool(projector.poll()),
            deadline,
            "the projector made progress",
        )
        projector.send_signal(signal.SIGKILL)
        projector.wait(timeout=DEADLINE_SECONDS)
    finally:
        projector.kill()
    assert projector.returncode == -signal.SIGKILL, projector.communicate()
    killed_at = {name: read_models.position(name) for name in NAMES}
    assert any(position < last for position in killed_at.values()), killed_at

    restarted = subprocess.run(
        [str(MINWON), "admin", "projections", "run", "--once"],
        env=server_host_env(store_env),
        capture_output=True,
        timeout=DEADLINE_SECONDS,
    )
    assert restarted.returncode == 0, restarted.stderr.decode()
    assert all(read_models.position(name) == last for name in NAMES)

    live = dumps(read_models)
    for name in NAMES:
        read_models.rebuild(name)
    assert dumps(read_models) == live
    assert len(live["case_board"]["case_board"]) == 200


def test_a_running_projector_takes_new_events_and_exits_cleanly_on_sigterm(
    store_env: dict[str, str], complaints: Complaints, read_models: ReadModels
) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    projector = minwon_process(store_env, "run", "--interval", "0.2")
    try:
        wait_for_log(projector, "projections_started", deadline)
        case = complaints.file(sample_intake(received_at=kst("2026-11-02T10:00")))
        last = read_models.last_notification()
        wait_until(
            lambda: all(read_models.position(name) == last for name in NAMES),
            deadline,
            "the running projector processed the new case",
        )
        projector.send_signal(signal.SIGTERM)
        _, err = projector.communicate(timeout=DEADLINE_SECONDS)
    finally:
        projector.kill()

    assert projector.returncode == 0, err.decode()
    assert b"projections_stopped" in err
    assert [row.receipt_code for row in read_models.case_board.rows()] == [case.receipt_code]


def test_two_projectors_at_once_count_each_event_once(
    store_env: dict[str, str], complaints: Complaints, read_models: ReadModels
) -> None:
    """Cases are filed while one projector keeps up (subscribed, on PostgreSQL) and
    another catches up again and again: they race for the same positions."""
    stop = threading.Event()
    other = ReadModels(store_env)
    errors: list[BaseException] = []

    def keep_up() -> None:
        try:
            other.run(stop, interval=0.02)
        except BaseException as error:  # handed to the test below
            errors.append(error)

    keeping_up = threading.Thread(target=keep_up)
    filing = threading.Thread(target=seed_cases, args=(complaints, 30))
    keeping_up.start()
    filing.start()
    try:
        while filing.is_alive():
            read_models.catch_up(batch=3)
    finally:
        filing.join(timeout=DEADLINE_SECONDS)
        stop.set()
        keeping_up.join(timeout=DEADLINE_SECONDS)
        other.close()
    assert not keeping_up.is_alive()
    assert errors == []

    read_models.catch_up()
    live = dumps(read_models)
    for name in NAMES:
        read_models.rebuild(name)
    assert dumps(read_models) == live
    assert len(live["case_board"]["case_board"]) == 30
