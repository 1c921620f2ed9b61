"""Catch-up speed of the read models, against a bare read of the same notification log.

Ours: every read model (`projections.NAMES`, five views) brought up to date from
empty over a store of N cases with realistic histories, as `minwon admin
projections run --once` does it (the pull loop: a page of notifications decoded
once, then one transaction per view and page). On PostgreSQL also as a
long-running `minwon admin projections run` starts on a backlog: one eventsourcing
`ProjectionRunner` per view, subscribed to the store, one transaction per event
and view.

Bare: the same notifications selected page by page and decoded with the same
mapper, nothing written: the floor for "read every event once".

Rates are notifications of the log per second of wall time; every view sees every
notification, so ours writes five tracking records and up to five views' rows
for each one the bare side only reads. The sides alternate over several rounds
(the views are emptied before each of ours), and the median round is reported.

    .venv/bin/python bench/projection_catchup.py [--n 500] [--rounds 3]
                                                 [--backend sqlite|postgres|both]

SQLite runs on a temporary file; PostgreSQL (127.0.0.1:5432, database `test`,
user `postgres`) in a schema of its own, dropped at the end. No target is set.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch_stores import postgres_schema_env

from application.service import Complaints, Intake
from domain.calendar import SEOUL
from domain.complaint import Complaint
from projections import NAMES, ReadModels

START = datetime(2026, 3, 2, 9, 30, tzinfo=SEOUL)
PAGE = 500


# -- the store ----------------------------------------------------------------------------


def seed(app: Complaints, count: int) -> None:
    """Cases like the center's: kept, kept after an interim reply, breached and
    escalated, an opinion reassigned with a warning, an investigation with an
    apology; a fifth private, every other one of those withdrawn."""
    categories = ("inquiry", "inquiry", "opinion", "late_reply", "inquiry")
    topics = ("program", "intake", "service", "intake", "tour")
    for i in range(count):
        received = START + timedelta(hours=7 * i)
        case = app.file(
            Intake(
                intake_ref=f"bench-{i}",
                channel=("email", "homepage", "visit", "phone", "fax")[i % 5],
                category=categories[i % 5],
                topic=topics[i % 5],
                private=i % 5 == 4,
                contact=f"bench-{i} 010-0000-{i % 10000:04d}",
                text="프로그램 신청 방법을 알려 주세요.",
                received_at=received,
            )
        )
        app.execute(case.id, lambda case, i=i, at=received: history(case, i, at))


def history(case: Complaint, i: int, received: datetime) -> None:
    steps = iter(range(100))
    clock = [received]

    def later(hours: float) -> dict[str, Any]:
        clock[0] += timedelta(hours=hours)
        return {"at": clock[0], "command_id": f"bench-{i}-{next(steps)}"}

    kind = i % 5
    if kind == 1:
        due = case.commitments["reply"].due
        case.warn(kind="reply", **later(20))
        case.send_interim_reply(
            kind="reply", reason="외부기관 확인 중", new_due=due + timedelta(days=3),
            by="lee.service", **later(2),
        )  # fmt: skip
        if i % 10 == 1:
            clock[0] = due + timedelta(days=3)
            case.breach(kind="reply", **later(1))
            case.escalate(
                to_role="designated_officer", to_staff="park.officer", reason="기한 경과",
                by="system", trigger="deadline", levels=2, **later(1),
            )  # fmt: skip
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
        case.make_apology(
            mode=("public", "phone", "in_person")[i % 3], by="park.officer", note="", **later(1)
        )
        case.record_corrective_action(
            staff="lee.service", action="training", by="park.officer", note="", **later(1)
        )
    elif kind == 4 and i % 2:
        case.withdraw(reason="민원인 요청", by="choi.tour", **later(3))
        return
    case.answer_case(text="답변드립니다", by="lee.service", **later(20))
    if kind != 4:
        case.announce_result(summary=f"처리 결과 {i}", by="lee.service", **later(1))
    case.close(by="lee.service", **later(1))
    case.rate_satisfaction(score=1 + i % 5, comment="", **later(24))


# -- the two sides ----------------------------------------------------------------------------


def bare_read(models: ReadModels) -> tuple[float, int]:
    """Seconds to select and decode every notification, and how many there were."""
    recorder, mapper = models.app.recorder, models.app.mapper
    started = time.perf_counter()
    last, decoded = 0, 0
    while page := recorder.select_notifications(start=last, limit=PAGE, inclusive_of_start=False):
        for notification in page:
            mapper.to_domain_event(notification)
            decoded += 1
        last = page[-1].id
    return time.perf_counter() - started, decoded


def empty_views(models: ReadModels) -> None:
    for name in NAMES:
        with models.views[name].batch(reset=True):
            pass
        assert models.position(name) == 0


def pull_catch_up(models: ReadModels) -> float:
    empty_views(models)
    started = time.perf_counter()
    models.catch_up(batch=PAGE)
    elapsed = time.perf_counter() - started
    assert all(models.position(name) == models.last_notification() for name in NAMES)
    return elapsed


def runner_catch_up(models: ReadModels) -> float:
    """A long-running projector started on a backlog, until every view is caught up."""
    empty_views(models)
    last = models.last_notification()
    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_up() -> None:
        try:
            models.run(stop, interval=0.01, backlog_first=False)
        except BaseException as error:
            errors.append(error)
            stop.set()

    started = time.perf_counter()
    thread = threading.Thread(target=keep_up)
    thread.start()
    try:
        while not all(models.position(name) == last for name in NAMES):
            if errors:
                raise errors[0]
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        thread.join()
    return elapsed


def measure(
    models: ReadModels, ours: Callable[[ReadModels], float], rounds: int
) -> tuple[float, float]:
    """Median seconds of (ours, bare), alternating which goes first."""
    ours_times: list[float] = []
    bare_times: list[float] = []
    for round_ in range(rounds):
        if round_ % 2:
            bare_times.append(bare_read(models)[0])
            ours_times.append(ours(models))
        else:
            ours_times.append(ours(models))
            bare_times.append(bare_read(models)[0])
    return statistics.median(ours_times), statistics.median(bare_times)


# -- stores -----------------------------------------------------------------------------------


@contextmanager
def sqlite_env() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="minwon-bench-") as tmp:
        yield {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/events.db"}


@contextmanager
def postgres_env() -> Iterator[dict[str, str]]:
    with postgres_schema_env() as env:
        yield env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="cases in the store (default 500)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side (default 3)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)

    envs = {"sqlite": sqlite_env, "postgres": postgres_env}
    chosen = list(envs) if args.backend == "both" else [args.backend]
    print(f"projection catch-up: {len(NAMES)} read models vs a bare read of the notification log")
    print(
        f"{'backend':<9} {'how':<22} {'cases':>5} {'events':>6} {'seconds':>8} "
        f"{'events/s':>9} {'bare ev/s':>10} ratio"
    )
    failed = False
    for backend in chosen:
        try:
            with envs[backend]() as env:
                app = Complaints(env=env)
                try:
                    seed(app, args.n)
                finally:
                    app.close()
                with ReadModels(env) as models:
                    _, events = bare_read(models)  # also warms the caches
                    ways: list[tuple[str, Callable[[ReadModels], float]]] = [
                        ("pull loop (--once)", pull_catch_up)
                    ]
                    if backend == "postgres":
                        ways.append(("ProjectionRunner (run)", runner_catch_up))
                    for how, ours in ways:
                        ours_s, bare_s = measure(models, ours, args.rounds)
                        print(
                            f"{backend:<9} {how:<22} {args.n:>5} {events:>6} {ours_s:>8.2f} "
                            f"{events / ours_s:>9.0f} {events / bare_s:>10.0f} "
                            f"{bare_s / ours_s:.3f}"
                        )
        except psycopg.OperationalError as error:
            print(f"{backend:<9} not measured: PostgreSQL unreachable ({error})".rstrip())
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
