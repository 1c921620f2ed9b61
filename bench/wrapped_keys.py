"""The command path with person keys wrapped under the KEK, against unwrapped keys.

Each operation is `Complaints.perform(case_id, AddNote(...))` on a case whose intake
and notes are sealed under the person's key: the case is loaded (every sealed field
opened, the person's key read once — and, wrapped, unwrapped with AES-GCM under the
key-encryption key), the note sealed and saved. The baseline is the same service
with the wrapping turned into the identity (keys stored as the code stored them
before `privacy.kek`). Each side has its own store; the two are timed in
alternating rounds, with the aggregate cache off so that every operation loads.

    .venv/bin/python bench/wrapped_keys.py [--n 400] [--backend sqlite|postgres|both]

The target is a ratio wrapped / unwrapped of at least 0.9.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch_stores import postgres_schema_env

from application.service import Complaints, Intake
from domain.calendar import SEOUL
from domain.commands import AddNote
from privacy.kek import Wrapper, new_kek_text

TARGET_RATIO = 0.9
CASES = 20
ROUNDS = 5
START = datetime(2026, 9, 21, 10, 0, tzinfo=SEOUL)


class Unwrapped(Wrapper):
    """Keys stored as they are: the code before the key-encryption key."""

    def wrap(self, key: bytes, bound_to: str) -> bytes:
        return key

    def unwrap(self, stored: bytes, bound_to: str) -> bytes:
        return stored


@contextmanager
def two_stores(backend: str) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="minwon-bench-") as tmp:
            yield tuple(  # type: ignore[misc]
                {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/{n}.db"}
                for n in ("wrapped", "unwrapped")
            )
        return
    with ExitStack() as stack:
        yield stack.enter_context(postgres_schema_env()), stack.enter_context(postgres_schema_env())


def side(env: dict[str, str], wrapped: bool) -> tuple[Complaints, list[uuid.UUID]]:
    app = Complaints(env={**env, "AGGREGATE_CACHE_MAXSIZE": "", "MINWON_KEK": new_kek_text()})
    if not wrapped:
        app.keys.wrapper = Unwrapped(app.keys.wrapper.kek)
    cases = []
    for number in range(CASES):
        case = app.file(
            Intake(
                intake_ref=f"bench-{uuid.uuid4().hex[:10]}",
                channel="email",
                category="inquiry",
                topic="program",
                private=False,
                contact=f"resident{number}@example.kr",
                text="프로그램 신청 방법을 알려주세요. " * 4,
                received_at=START,
            )
        )
        cases.append(case.id)
    return app, cases


def timed(app: Complaints, cases: list[uuid.UUID], ops: int, round_number: int) -> float:
    started = time.perf_counter()
    for op in range(ops):
        case_id = cases[op % len(cases)]
        app.perform(
            case_id,
            AddNote(text=f"보호자와 통화 {round_number}-{op}", by="lee.service"),
            at=START + timedelta(minutes=op),
            command_id=f"note-{round_number}-{op}-{uuid.uuid4().hex[:6]}",
        )
    return time.perf_counter() - started


def measure(backend: str, n: int) -> tuple[float, float]:
    with two_stores(backend) as (wrapped_env, unwrapped_env):
        wrapped, wrapped_cases = side(wrapped_env, wrapped=True)
        unwrapped, unwrapped_cases = side(unwrapped_env, wrapped=False)
        try:
            ops = max(1, n // ROUNDS)
            timed(wrapped, wrapped_cases, 20, -1)  # warm-up
            timed(unwrapped, unwrapped_cases, 20, -1)
            best = {"wrapped": float("inf"), "unwrapped": float("inf")}
            for round_number in range(ROUNDS):
                order = ["wrapped", "unwrapped"][:: 1 if round_number % 2 == 0 else -1]
                for name in order:
                    app, cases = (
                        (wrapped, wrapped_cases)
                        if name == "wrapped"
                        else (unwrapped, unwrapped_cases)
                    )
                    best[name] = min(best[name], timed(app, cases, ops, round_number))
            return ops / best["wrapped"], ops / best["unwrapped"]
        finally:
            wrapped.close()
            unwrapped.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=400, help="timed operations per side")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)
    chosen = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print("recording a note on a sealed case: keys wrapped under the KEK vs unwrapped")
    print(f"{'backend':<9} {'wrapped op/s':>12} {'unwrapped op/s':>15} ratio")
    failed = False
    for backend in chosen:
        try:
            wrapped, unwrapped = measure(backend, args.n)
        except psycopg.OperationalError as error:
            print(f"{backend:<9} not measured: PostgreSQL unreachable ({error})")
            failed = True
            continue
        ratio = wrapped / unwrapped
        met = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(
            f"{backend:<9} {wrapped:>12.1f} {unwrapped:>15.1f} {ratio:.3f}  "
            f"target ≥ {TARGET_RATIO}: {met}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
