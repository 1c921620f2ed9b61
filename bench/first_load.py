"""The first load of a long case in a fresh process, with snapshots and without.

Three cases are built in one store through `Complaints`, as the service records them
(as in replay_verify.py: reassigned back and forth between two staff members, an
apology every 50 events, its note sealed under the resident's key; `--note-every N`
adds a working note every N events; `--uuid-ids` gives each command a uuid4 for its
id, as the workflows do, rather than `c1`, `c2` …), saved 1,000 events at a time:

- small:       `--small` events (default 100);
- long:        `--events` events (default 10,000, a multiple of the snapshot interval:
               its latest snapshot is at its last event);
- long + tail: `--events` + SNAPSHOT_INTERVAL - 1 events (10,024 with snapshots every
               25 events): the most events a load reads after a case's latest snapshot.

Each first load is then timed in a fresh process: a child started with the store's
settings opens `Complaints`, opens its connection to the store (one query on another
id, so connecting is not timed) and times its first `Complaints.get_case` of the case,
with snapshots as the service runs and without them (`IS_SNAPSHOTTING_ENABLED=n`, the
library's switch: the whole history replayed), the baseline measured in the same run.
Before the timed load the child freezes what its start-up made (`gc.freeze()`, as a
server does after starting; `--no-freeze` does not): otherwise a full collection of
those objects, about 1 ms, falls inside the load or not by how many objects the code
made before it, the same in every round, whatever the case. Every side runs once
per round, in an order that alternates between rounds, and a side's figure is the
median of its rounds. Reported: each median with the range, the ratio long / small
with snapshots against the target (at most 2) and, beside it, the same ratio without
snapshots; how many timed loads had a full collection inside them.

    .venv/bin/python bench/first_load.py [--rounds 5] [--events 10000] [--small 100] \\
        [--note-every 0] [--uuid-ids] [--no-freeze] [--backend sqlite|postgres|both]

SQLite runs on a file in a temporary directory; PostgreSQL (127.0.0.1:5432, database
`test`, user `postgres`) in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from long_case import build_case
from scratch_stores import STORE_PAIRS

from application.service import SNAPSHOT_INTERVAL, Complaints
from privacy.kek import new_kek_text

TARGET_RATIO = 2.0


def child(case_id: str, freeze: bool = True) -> int:
    """In the fresh process: time the first load of the case, print it as JSON."""
    app = Complaints()
    try:
        app.recorder.select_events(uuid.uuid4(), limit=1)  # the connection, untimed
        if freeze:
            # What the start-up made is left out of later collections, as a server
            # does after starting (gc.freeze): a full collection of it, about 1 ms,
            # would fall inside the timed load or not by how many objects were made
            # before, the same in every round.
            gc.freeze()
        full = gc.get_stats()[2]["collections"]
        started, cpu = time.perf_counter(), time.process_time()
        case = app.get_case(uuid.UUID(case_id))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        full = gc.get_stats()[2]["collections"] - full
        # The snapshot the load could start from, if any: one that opens.
        snapshot = 0
        if app.snapshots is not None:
            with app.keys.one_reading():
                found = list(app.snapshots.get(case.id, desc=True, limit=1))
            snapshot = found[0].originator_version if found else 0
    finally:
        app.close()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "version": case.version,
                      "snapshot": snapshot, "full": full}))  # fmt: skip
    return 0


def first_load(
    env: dict[str, str], case_id: uuid.UUID, events: int, snapshots: bool, freeze: bool
) -> tuple[float, float, int]:
    """Wall-clock and CPU seconds of the case's first load in a fresh process, and the
    full garbage collections that ran inside it."""
    settings = {**os.environ, **env, "IS_SNAPSHOTTING_ENABLED": "y" if snapshots else "n"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(case_id), *([] if freeze else ["--no-freeze"])],
        env=settings, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the child failed: {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.splitlines()[-1])
    if result["version"] != events:
        raise RuntimeError(f"the child loaded version {result['version']}, not {events}")
    if snapshots and not (result["snapshot"] and events - result["snapshot"] < SNAPSHOT_INTERVAL):
        # A snapshot passed over (the code changed during the run?) would time a replay.
        raise RuntimeError(f"no usable snapshot of the {events}-event case near its end")
    return float(result["seconds"]), float(result["cpu"]), int(result["full"])


def stored_sizes(app: Complaints, case_id: uuid.UUID) -> tuple[int, int, int, int]:
    """The case's snapshots: how many, their bytes and the latest one's version; and
    the bytes of its events' stored states."""
    assert app.snapshots is not None
    records = app.snapshots.recorder.select_events(case_id)
    latest = records[-1].originator_version if records else 0
    events = sum(len(r.state) for r in app.recorder.select_events(case_id))
    return len(records), sum(len(r.state) for r in records), latest, events


def measure(
    env: dict[str, str],
    sizes: dict[str, int],
    rounds: int,
    note_every: int,
    uuid_ids: bool,
    freeze: bool,
) -> tuple[dict[str, dict[str, list[float]]], list[str]]:
    app = Complaints(env=env)
    notes = []
    try:
        cases = {}
        for name, events in sizes.items():
            started = time.perf_counter()
            cases[name] = build_case(app, events, note_every, uuid_ids)
            count, size, latest, stored = stored_sizes(app, cases[name])
            notes.append(
                f"{name}: {events} events ({stored / 1024:.0f} KiB) built in "
                f"{time.perf_counter() - started:.1f} s; {count} snapshot(s), "
                f"{size / 1024:.0f} KiB, the latest at v{latest}"
            )
            assert app.get_case(cases[name]).version == events
    finally:
        app.close()
    sides = [(name, snapshots) for snapshots in (True, False) for name in sizes]
    # "with"/"without" snapshots: wall-clock seconds; "cpu with"/"cpu without": CPU;
    # "full with"/"full without": the full garbage collections inside each load.
    times: dict[str, dict[str, list[float]]] = {
        side: {} for side in ("with", "without", "cpu with", "cpu without", "full with",
                              "full without")
    }  # fmt: skip
    for name, snapshots in sides:
        first_load(env, cases[name], sizes[name], snapshots, freeze)  # warm-up: page cache
    for round_number in range(rounds):
        order = sides if round_number % 2 == 0 else sides[::-1]
        for name, snapshots in order:
            seconds, cpu, full = first_load(env, cases[name], sizes[name], snapshots, freeze)
            side = "with" if snapshots else "without"
            times[side].setdefault(name, []).append(seconds)
            times[f"cpu {side}"].setdefault(name, []).append(cpu)
            times[f"full {side}"].setdefault(name, []).append(full)
    return times, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="events in the long case")
    parser.add_argument("--small", type=int, default=100, help="events in the small case")
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per side")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--note-every", type=int, default=0, help="a working note every N events (0: none)"
    )
    parser.add_argument(
        "--uuid-ids", action="store_true", help="a uuid4 for each command's id, not c1, c2 …"
    )
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave what the child's start-up made in the collector's generations",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, freeze=not args.no_freeze)
    if args.small < 10 or args.events < args.small:
        parser.error("--small must be at least 10 and --events at least --small")

    sizes = {
        "small": args.small,
        "long": args.events,
        "long + tail": args.events + SNAPSHOT_INTERVAL - 1,
    }
    chosen = list(STORE_PAIRS) if args.backend == "both" else [args.backend]
    # One key-encryption key for the builder and every child, kept in no file.
    os.environ["MINWON_KEK"] = new_kek_text()
    print(
        f"first load of a case in a fresh process (median of {args.rounds}), "
        f"snapshots every {SNAPSHOT_INTERVAL} events vs none"
    )
    print(f"{'backend':<9} {'case':<12} {'events':>6} {'snapshots ms':>20} {'none ms':>20}")
    failed = False
    for backend in chosen:
        store: AbstractContextManager[tuple[dict[str, str], dict[str, str]]] = STORE_PAIRS[
            backend
        ]()
        try:
            with store as (env, _):
                times, notes = measure(env, sizes, args.rounds, args.note_every, args.uuid_ids,
                                       not args.no_freeze)  # fmt: skip
        except psycopg.OperationalError as error:
            print(f"{backend:<9} not measured: PostgreSQL unreachable ({error})".rstrip())
            failed = True
            continue
        median = {
            side: {n: statistics.median(t) for n, t in ts.items()} for side, ts in times.items()
        }
        for name, events in sizes.items():
            cells = []
            for side in ("with", "without"):
                ts = times[side][name]
                cells.append(
                    f"{median[side][name] * 1000:7.1f} ({min(ts) * 1000:.1f}–{max(ts) * 1000:.1f})"
                )
            print(f"{backend:<9} {name:<12} {events:>6} {cells[0]:>20} {cells[1]:>20}")
        for name in ("long", "long + tail"):
            ratio = median["with"][name] / median["with"]["small"]
            baseline = median["without"][name] / median["without"]["small"]
            cpu = median["cpu with"][name] / median["cpu with"]["small"]
            cpu_baseline = median["cpu without"][name] / median["cpu without"]["small"]
            met = "met" if ratio <= TARGET_RATIO else "NOT met"
            print(
                f"{backend:<9} {name} / small: {ratio:.2f} with snapshots  "
                f"(target ≤ {TARGET_RATIO:g}: {met}); {baseline:.2f} without  "
                f"[CPU time: {cpu:.2f}; {cpu_baseline:.2f} without]"
            )
        # How many of the timed loads had a full collection run inside them.
        full = "; ".join(
            f"{side} snapshots "
            + ", ".join(f"{name} {sum(map(bool, times[f'full {side}'][name]))}" for name in sizes)
            for side in ("with", "without")
        )
        print(f"{backend:<9}   full garbage collections inside the {args.rounds} timed loads: "
              f"{full}{'' if args.no_freeze else ' (the start-up frozen before)'}")  # fmt: skip
        for note in notes:
            print(f"{backend:<9}   {note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
