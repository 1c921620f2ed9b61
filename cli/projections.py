"""`minwon projections run|rebuild`: keep the read models up to date, or rebuild them.

`run --once` catches every view up and exits (tests, cron). `run` catches up the
same way, then keeps the views up to date until SIGTERM or SIGINT: polling the
notification log on SQLite, with eventsourcing's `ProjectionRunner` subscribed
to the store on PostgreSQL. `rebuild NAME|all` empties a view and processes every
event again, in one transaction. The event store comes from the same settings
as the worker (`PERSISTENCE_MODULE`, `SQLITE_DBNAME`, `POSTGRES_*`).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import structlog
from eventsourcing.persistence import PersistenceError

from cli.actor import add_actor_option, authorise
from cli.errors import CliError
from domain.policy import PolicyError
from projections import NAMES, Progress, ReadModels, UnsupportedStoreError
from projections.runner import DEFAULT_BATCH

log = structlog.get_logger()


def register(subparsers: Any) -> None:
    projections = subparsers.add_parser(
        "projections", help="keep the read models (case board, reports) up to date"
    )
    actions = projections.add_subparsers(
        dest="projections_command", required=True, metavar="ACTION"
    )
    run = actions.add_parser(
        "run", help="process new events into every read model, until stopped (or --once)"
    )
    run.add_argument("--once", action="store_true", help="catch up, then exit")
    # Parsed in the handlers, not by argparse, so a bad value is one `minwon:` line.
    run.add_argument(
        "--interval",
        default="1",
        metavar="SECONDS",
        help="seconds between polls on SQLite, between checks of the runners on PostgreSQL (1)",
    )
    run.add_argument(
        "--batch",
        default=str(DEFAULT_BATCH),
        metavar="N",
        help=f"notifications per transaction when catching up ({DEFAULT_BATCH})",
    )
    add_actor_option(run)
    run.set_defaults(handler=run_projections)

    rebuild = actions.add_parser(
        "rebuild", help="empty a read model and build it again from the first event"
    )
    rebuild.add_argument("name", metavar="NAME", help=f"{', '.join(NAMES)} or all")
    add_actor_option(rebuild)
    rebuild.set_defaults(handler=run_rebuild)


@contextmanager
def open_read_models(names: tuple[str, ...] = NAMES) -> Iterator[ReadModels]:
    """The read models on the configured store; a store that cannot be used is one line."""
    try:
        models = ReadModels(names=names)
    except (PersistenceError, OSError, UnsupportedStoreError, PolicyError) as error:
        raise CliError(f"cannot open the read models: {_one_line(error)}") from None
    try:
        yield models
    except PersistenceError as error:
        raise CliError(f"read models: {_one_line(error)}") from None
    finally:
        models.close()


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _positive(text: str, option: str, kind: type[int] | type[float]) -> Any:
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise CliError(f"{option} must be a positive number, not {text!r}")
    return value


def describe(progress: Progress, verb: str) -> str:
    return f"{progress.name:<15} {verb} notification {progress.start} → {progress.end}"


def run_projections(args: argparse.Namespace) -> int:
    authorise(args, "report")
    batch = _positive(args.batch, "--batch", int)
    interval = _positive(args.interval, "--interval", float)
    with open_read_models() as models:
        if args.once:
            for progress in models.catch_up(batch=batch):
                print(describe(progress, "caught up:"))
            return 0
        _configure_logging()
        stop = threading.Event()
        with _stopped_by_signals(stop):
            log.info("projections_started", backend=models.backend, views=list(models.names))
            models.run(
                stop,
                interval=interval,
                batch=batch,
                on_progress=lambda moved: log.info(
                    "projections_advanced", **{p.name: p.end for p in moved}
                ),
            )
        log.info("projections_stopped", **{name: models.position(name) for name in models.names})
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    authorise(args, "roster")
    names = NAMES if args.name == "all" else (args.name,)
    if args.name != "all" and args.name not in NAMES:
        raise CliError(f"no read model named {args.name!r}; choose {', '.join(NAMES)} or all")
    with open_read_models(names) as models:
        for name in names:
            progress = models.rebuild(name)
            print(f"{name:<15} rebuilt: notification 0 → {progress.end}")
    return 0


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _configure_logging() -> None:
    # The worker's one structlog configuration: readable on a terminal, JSON otherwise.
    from worker import configure_logging

    configure_logging(os.environ.get("MINWON_LOG_LEVEL", "INFO"))
