"""Throughput of recording one command on a case, against a bare eventsourcing baseline.

Ours: `Complaints.perform(case_id, Assign(...), ...)`, alternating the assignee between two
staff members with a fresh command id, so every call loads the case, runs the
command and saves exactly one `Reassigned` event (through `execute`, with its
optimistic-concurrency retry).

Bare: an eventsourcing `Application` that loads a minimal aggregate and saves one
event on it: the floor for "load the history, append one event".

Both sides work on the same number of aggregates, each starting with the same
number of events (a realistic case history) and growing by one event per
operation, so each operation loads as many events and saves one. The two sides
are timed in alternating rounds so drift on the machine affects both alike.

    .venv/bin/python bench/record_command.py [--n 1000] [--backend sqlite|postgres|both]
                                             [--cache N]

Both sides run with the same aggregate cache: off by default, so each operation
really loads the history; `--cache 500` gives both eventsourcing's cache as the
service runs by default (a cached aggregate reads only what was stored since).

SQLite runs on a temporary file; PostgreSQL (127.0.0.1:5432, database `test`, user
`postgres`) in a schema of its own, dropped at the end. The target is a ratio
ours / bare of at least 0.8.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from eventsourcing.application import Application

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from baseline import Tally
from scratch_stores import STORE_PAIRS

from application.service import Complaints, Intake
from domain.calendar import SEOUL
from domain.commands import (
    Action,
    Assign,
    RecordApology,
    RecordCorrectiveAction,
    SendInterimReply,
    Warn,
)

TARGET_RATIO = 0.8
ROUNDS = 5
OPS_PER_AGGREGATE_PER_ROUND = 4
WARM_UP_OPS = 30


START = datetime(2026, 9, 21, 10, 0, tzinfo=SEOUL)
STAFF = ("kim.casemgr", "lee.service")


# -- the baseline ---------------------------------------------------------------------


class Bare(Application[uuid.UUID]):
    name = "bare"

    def new_aggregate(self, history: int) -> uuid.UUID:
        tally = Tally()
        for _ in range(history - 1):
            tally.count_one()
        self.save(tally)
        return tally.id

    def record(self, aggregate_id: uuid.UUID) -> None:
        tally: Tally = self.repository.get(aggregate_id)
        tally.count_one()
        self.save(tally)


# -- our command path -----------------------------------------------------------------


def new_case(app: Complaints) -> uuid.UUID:
    """A dissatisfaction case partway through: routed, warned, extended, apologised for."""
    case = app.file(
        Intake(
            intake_ref=f"bench-{uuid.uuid4()}",
            channel="homepage",
            category="opinion",
            topic="program",
            private=False,
            contact="bench 010-0000-0000",
            text="상담 중 불친절한 응대를 받았습니다.",
            received_at=START,
        )
    )
    at = START

    def run(action: Action) -> None:
        nonlocal at
        at += timedelta(hours=3)
        app.perform(case.id, action, at=at, command_id=str(uuid.uuid4()))

    for staff in (*STAFF, STAFF[0]):
        run(Assign(staff=staff, role="case_manager", by="han.ops"))
    run(Warn(kind="result"))
    run(
        SendInterimReply(
            kind="result",
            reason="관련 직원 면담 일정 조율 중",
            new_due=case.commitments["result"].due + timedelta(days=5),
            by=STAFF[0],
        )
    )
    run(RecordCorrectiveAction(staff="choi.tour", action="training", by="park.officer", note=""))
    run(RecordApology(mode="phone", by="park.officer", note="전화로 사과드림"))
    run(Assign(staff=STAFF[1], role="case_manager", by="han.ops"))
    return case.id


class Ours:
    def __init__(self, app: Complaints) -> None:
        self.app = app
        self.turns: dict[uuid.UUID, int] = {}
        # Built once: the timed path is the service's, not pydantic's validation.
        self.assignments = [
            Assign(staff=staff, role="case_manager", by="han.ops") for staff in STAFF
        ]

    def record(self, case_id: uuid.UUID) -> None:
        # Each case alternates its assignee (new_case left it with STAFF[1]), so every
        # call changes the case and saves exactly one event.
        turn = self.turns[case_id] = self.turns.get(case_id, 0) + 1
        self.app.perform(
            case_id,
            self.assignments[(turn + 1) % 2],
            at=START + timedelta(days=1),
            command_id=str(uuid.uuid4()),
        )


# -- measuring -------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    ops: int
    history_from: int
    history_to: int
    ours_seconds: float = 0.0
    bare_seconds: float = 0.0

    @property
    def ours_rate(self) -> float:
        return self.ops / self.ours_seconds

    @property
    def bare_rate(self) -> float:
        return self.ops / self.bare_seconds

    @property
    def ratio(self) -> float:
        return self.ours_rate / self.bare_rate


def timed(record: Callable[[uuid.UUID], None], ids: list[uuid.UUID], times: int) -> float:
    started = time.perf_counter()
    for _ in range(times):
        for aggregate_id in ids:
            record(aggregate_id)
    return time.perf_counter() - started


def measure(
    backend: str, ours_env: dict[str, str], bare_env: dict[str, str], n: int, cache: str
) -> Result:
    same_cache = {"AGGREGATE_CACHE_MAXSIZE": cache}
    app = Complaints(env={**ours_env, **same_cache})
    bare_app = Bare(env={**bare_env, **same_cache})
    try:
        ours = Ours(app)
        aggregates = max(1, n // (ROUNDS * OPS_PER_AGGREGATE_PER_ROUND))
        cases = [new_case(app) for _ in range(aggregates + 1)]
        history = app.get_case(cases[0]).version
        tallies = [bare_app.new_aggregate(history) for _ in range(aggregates + 1)]
        assert bare_app.repository.get(tallies[0]).version == history

        # Warm-up on an aggregate of each kind that is not timed afterwards.
        warm_case, warm_tally = cases.pop(), tallies.pop()
        for _ in range(WARM_UP_OPS):
            ours.record(warm_case)
            bare_app.record(warm_tally)

        ops_per_round = aggregates * OPS_PER_AGGREGATE_PER_ROUND
        result = Result(backend, ops_per_round * ROUNDS, history, 0)
        for _ in range(ROUNDS):
            result.ours_seconds += timed(ours.record, cases, OPS_PER_AGGREGATE_PER_ROUND)
            result.bare_seconds += timed(bare_app.record, tallies, OPS_PER_AGGREGATE_PER_ROUND)

        # Both sides must have saved one event per operation.
        result.history_to = history + ROUNDS * OPS_PER_AGGREGATE_PER_ROUND
        for case_id, tally_id in zip(cases, tallies, strict=True):
            assert app.get_case(case_id).version == result.history_to
            assert bare_app.repository.get(tally_id).version == result.history_to
        assert app.verify(cases[0]) is None
        return result
    finally:
        app.close()
        bare_app.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=1000, help="timed operations per side and backend (default 1000)"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--cache", type=int, default=0, help="aggregate cache size on both sides (default 0: off)"
    )
    args = parser.parse_args(argv)
    if args.n < ROUNDS * OPS_PER_AGGREGATE_PER_ROUND:
        parser.error(f"--n must be at least {ROUNDS * OPS_PER_AGGREGATE_PER_ROUND}")

    backends = STORE_PAIRS
    chosen = list(backends) if args.backend == "both" else [args.backend]
    cache = f"aggregate cache {args.cache} on both sides" if args.cache else "no aggregate cache"
    print(
        f"record one command: Complaints.perform(case, Assign) vs bare Application load+save "
        f"({cache})"
    )
    print(f"{'backend':<9} {'ops':>5} {'history':>9} {'ours op/s':>10} {'bare op/s':>10} ratio")
    failed = False
    for backend in chosen:
        try:
            with backends[backend]() as (ours_env, bare_env):
                result = measure(backend, ours_env, bare_env, args.n, str(args.cache or ""))
        except psycopg.OperationalError as error:
            print(f"{backend:<9} not measured: PostgreSQL unreachable ({error})".rstrip())
            failed = True
            continue
        met = "met" if result.ratio >= TARGET_RATIO else "NOT met"
        history = f"{result.history_from}→{result.history_to}"
        print(
            f"{backend:<9} {result.ops:>5} {history:>9} {result.ours_rate:>10.1f} "
            f"{result.bare_rate:>10.1f} {result.ratio:.3f}  target ≥ {TARGET_RATIO}: {met}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
