"""`minwon admin projections run|rebuild`: keep the read models up to date, or rebuild them.

They run on the server host with the server's configuration, not through the API:
they open the event store itself, from the same settings as the worker and the
web server (`PERSISTENCE_MODULE`, `SQLITE_DBNAME`, `POSTGRES_*`). No token is
involved: having that configuration is the credential.

`run --once` catches every view up and exits (tests, cron). `run` catches up the
same way, then keeps the views up to date until SIGTERM or SIGINT: polling the
notification log on SQLite, with eventsourcing's `ProjectionRunner` subscribed
to the store on PostgreSQL. `rebuild NAME|all` empties a view and processes every
event again, in one transaction.

The read models, the store and eventsourcing are imported by the handlers only:
every `minwon` command registers these, and the thin client needs none of them.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from cli.errors import CliError, server_settings

if TYPE_CHECKING:
    from projections import Progress, ReadModels

# As `projections.NAMES` and `projections.runner.DEFAULT_BATCH`, for the help without
# importing them (tests/integration/test_projections.py checks they agree).
READ_MODEL_NAMES = (
    "case_board",
    "sla_report",
    "public_notices",
    "staff_record",
    "compliance",
    "conduct",
    "appointment_book",
    "survey_results",
)
DEFAULT_BATCH = 500
SERVER_HOST = "Runs on the server host, with its configuration (its store), not a token."


def register(admin_actions: Any) -> None:
    """Add `projections run|rebuild` to the actions of `minwon admin`."""
    projections = admin_actions.add_parser(
        "projections",
        help="keep the read models (case board, reports) up to date (server host)",
        description="Keep the read models up to date, or rebuild them. " + SERVER_HOST,
    )
    actions = projections.add_subparsers(
        dest="projections_command", required=True, metavar="ACTION"
    )
    run = actions.add_parser(
        "run",
        help="process new events into every read model, until stopped (or --once)",
        description=(
            "Catch every read model up with the event store, then keep them up to date "
            "until SIGTERM or SIGINT (or exit with --once). " + SERVER_HOST
        ),
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
    run.set_defaults(handler=run_projections)

    rebuild = actions.add_parser(
        "rebuild",
        help="empty a read model and build it again from the first event",
        description=(
            "Empty a read model and process every event again, in one transaction: "
            "readers see the old view until the new one is complete. " + SERVER_HOST
        ),
    )
    rebuild.add_argument("name", metavar="NAME", help=f"{', '.join(READ_MODEL_NAMES)} or all")
    rebuild.set_defaults(handler=run_rebuild)


@contextmanager
def open_read_models(names: tuple[str, ...] = READ_MODEL_NAMES) -> Iterator[ReadModels]:
    """The read models on the configured store; a store that cannot be used is one line."""
    from eventsourcing.persistence import PersistenceError

    from domain.policy import PolicyError
    from projections import ReadModels, UnsupportedStoreError

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
    batch = _positive(args.batch, "--batch", int)
    interval = _positive(args.interval, "--interval", float)
    with open_read_models() as models:
        if args.once:
            for progress in models.catch_up(batch=batch):
                print(describe(progress, "caught up:"))
            return 0
        log = _configured_log()
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
    from projections import NAMES

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


def _configured_log() -> Any:
    # The worker's one structlog configuration: readable on a terminal, JSON otherwise.
    import structlog

    from runtime.logs import configure_logging

    configure_logging(server_settings().log_level)
    return structlog.get_logger()
