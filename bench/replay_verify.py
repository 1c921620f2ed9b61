"""Replaying and verifying a 10,000-event case, against a bare eventsourcing replay.

One case is filed, then reassigned back and forth (with an apology every 50
events, so not every event is alike) until it has `--events` events (default
10,000); the events are collected on the one aggregate and saved in batches of
1,000. Then each side reads the whole stored case, in alternating rounds:

- ours, replay:  `Complaints.get_case` (the repository: decode, then every event's
                 body on the Complaint aggregate), with the aggregate cache off;
- ours, audit replay: `domain.audit.replay` over the stored events (the path of
                 `minwon audit replay`: the aggregate as above, plus a row per event
                 with its actor, details and the clocks as they stood);
- ours, verify:  `Complaints.verify` (each record's chain link read from its stored
                 state, every digest recomputed);
- ours, audit verify: `domain.audit.verify_case` (the path of `minwon audit verify`,
                 with the tail not checked: the chain plus the head's digest);
- ours, checkpoint verify: `domain.checkpoint.verify_store` against a checkpoint
                 signed over the whole store after the case was built (every record's
                 digest, the Merkle root, the signature with the public key alone);
- bare:          `recorder.select_events` + `mapper.to_domain_event` for the same
                 stored records, each event applied to a minimal aggregate that only
                 checks and takes its version (what eventsourcing's `mutate` does
                 besides calling the event's body). The target is measured against this.
- bare repository (for reference): `Application.repository.get` of a trivial aggregate
                 (`Tally`, one integer) with as many events, in its own store: the
                 library's own replay path, with its per-event costs but far smaller
                 events to decode.

The bare side reads the very records ours reads, so decoding costs the same on both
sides and the ratio shows what our aggregate, rows and digests add. Each side's rate
is taken from its fastest round (as `timeit` does), the one least disturbed by other
work on the machine.

    .venv/bin/python bench/replay_verify.py [--events 10000] [--rounds 7] [--backend both]

SQLite runs on a temporary file; PostgreSQL (127.0.0.1:5432, database `test`, user
`postgres`) in a schema of its own, dropped at the end. The target is a ratio
ours / bare of at least 0.7 for each of ours.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.application import Application

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from baseline import Tally
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from long_case import SAVE_BATCH, build_case
from scratch_stores import STORE_PAIRS

from application.service import Complaints
from domain import audit
from domain.calendar import SEOUL
from domain.checkpoint import Signer, sign_checkpoint, verify_store
from privacy.signing import Verifier, public_key_text, sign

TARGET_RATIO = 0.7


class BareApplication(Application[uuid.UUID]):
    name = "bare"


def build_tally(app: BareApplication, events: int) -> uuid.UUID:
    tally = Tally()
    while tally.version < events:
        tally.count_one()
        if tally.version % SAVE_BATCH == 0 or tally.version == events:
            app.save(tally)
    return tally.id


class Minimal:
    """The least an aggregate does with an event: check its version and take it."""

    def __init__(self) -> None:
        self.version = 0
        self.modified_on: datetime | None = None


def bare_replay(app: Complaints, case_id: uuid.UUID) -> int:
    aggregate = Minimal()
    # As every load of a case does (and verify): the person's key is read once, not
    # once per sealed event.
    with app.keys.one_reading():
        for record in app.recorder.select_events(case_id):
            event: Any = app.mapper.to_domain_event(record)
            if event.originator_version != aggregate.version + 1:
                raise AssertionError(f"version {event.originator_version} out of order")
            aggregate.version = event.originator_version
            aggregate.modified_on = event.timestamp
    return aggregate.version


def sides(
    app: Complaints, case_id: uuid.UUID, bare_app: BareApplication, tally_id: uuid.UUID, events: int
) -> dict[str, Callable[[], None]]:
    code = app.get_case(case_id).receipt_code
    key = Ed25519PrivateKey.generate()
    verifier = Verifier(public_key_text(key))
    signer = Signer(verifier.key_id, lambda data: sign(key, data))
    sign_checkpoint(app, signer, datetime.now(SEOUL), force=True)
    ref = audit.CaseRef(case_id, code)

    def bare_repository() -> None:
        assert bare_app.repository.get(tally_id).version == events

    def get_case() -> None:
        assert app.get_case(case_id).version == events

    def audit_replay() -> None:
        assert len(audit.replay(audit.stored_events(app, case_id)).rows) == events

    def verify() -> None:
        assert app.verify(case_id) is None

    def audit_verify() -> None:
        verdict = audit.verify_case(app, ref, "not asked")
        assert verdict.intact and verdict.head is not None and verdict.head.version == events

    def checkpoint_verify() -> None:
        problems, checked, records = verify_store(app, verifier, [])
        assert not problems and checked == 1 and records >= events

    def bare() -> None:
        assert bare_replay(app, case_id) == events

    return {
        "bare": bare,
        "bare repository": bare_repository,
        "replay (get_case)": get_case,
        "audit replay": audit_replay,
        "verify": verify,
        "audit verify": audit_verify,
        "checkpoint verify": checkpoint_verify,
    }


def measure(
    env: dict[str, str], bare_env: dict[str, str], events: int, rounds: int
) -> tuple[float, dict[str, float]]:
    # Without the aggregate cache, and without snapshots: a replay answered from memory
    # reads nothing, and one from the case's latest snapshot reads no event either
    # (first_load.py measures that path).
    app = Complaints(env={**env, "AGGREGATE_CACHE_MAXSIZE": "", "IS_SNAPSHOTTING_ENABLED": "n"})
    bare_app = BareApplication(env=bare_env)
    try:
        started = time.perf_counter()
        case_id = build_case(app, events)
        built = time.perf_counter() - started
        tally_id = build_tally(bare_app, events)
        runs = sides(app, case_id, bare_app, tally_id, events)
        for run in runs.values():
            run()  # warm-up
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        names = list(runs)
        for round_number in range(rounds):
            # Alternate the order so drift on the machine falls on every side alike.
            order = names if round_number % 2 == 0 else names[::-1]
            for name in order:
                started = time.perf_counter()
                runs[name]()
                seconds[name].append(time.perf_counter() - started)
        # The fastest round of each side, as timeit takes it: the one other work on the
        # machine disturbed least.
        return built, {name: events / min(times) for name, times in seconds.items()}
    finally:
        app.close()
        bare_app.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="events in the case")
    parser.add_argument("--rounds", type=int, default=7, help="timed reads per side")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)
    if args.events < 10:
        parser.error("--events must be at least 10")

    backends = STORE_PAIRS
    chosen = list(backends) if args.backend == "both" else [args.backend]
    print(f"replay and verify one {args.events}-event case vs bare eventsourcing replay")
    print(f"{'backend':<9} {'side':<18} {'events/s':>9}  ratio  (vs bare repository)")
    failed = False
    for backend in chosen:
        try:
            with backends[backend]() as (env, bare_env):
                built, rates = measure(env, bare_env, args.events, args.rounds)
        except psycopg.OperationalError as error:
            print(f"{backend:<9} not measured: PostgreSQL unreachable ({error})".rstrip())
            failed = True
            continue
        bare, repository = rates.pop("bare"), rates.pop("bare repository")
        print(f"{backend:<9} {'bare':<18} {bare:>9.0f}         (case built in {built:.1f} s)")
        print(f"{backend:<9} {'bare repository':<18} {repository:>9.0f}  {repository / bare:.3f}")
        for name, rate in rates.items():
            ratio = rate / bare
            met = "met" if ratio >= TARGET_RATIO else "NOT met"
            print(
                f"{backend:<9} {name:<18} {rate:>9.0f}  {ratio:.3f} ({rate / repository:.3f})  "
                f"target ≥ {TARGET_RATIO}: {met}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
