"""The worker's parts put together: the workflows and activities one Temporal worker
runs, for every process that runs them (`worker.py`, the tests' workers, the
benchmarks)."""

from __future__ import annotations

import importlib.util
import py_compile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import Client
from temporalio.worker import (
    PollerBehaviorSimpleMaximum,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.appointments import AppointmentActivities
from activities.calendar import CalendarWatch
from activities.channels import Channels
from activities.checkpoint import Checkpoints
from activities.complaints import ComplaintActivities
from activities.notices import NoticeActivities
from activities.outbox import NoticeOutbox, running_outbox
from activities.reconcile import Reconciler
from activities.retention import RetentionActivities
from activities.surveys import SurveyActivities
from application.service import Complaints
from runtime.settings import Settings
from workflows.actor_proof import seal_from_env
from workflows.appointment import AppointmentWorkflow
from workflows.complaint import ComplaintWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.retention import RetentionSweepWorkflow
from workflows.survey import SurveyNewYearWorkflow, SurveyYearWorkflow

WORKFLOW_MODULES = Path(__file__).resolve().parent.parent / "workflows"
WORKFLOWS = [
    ComplaintWorkflow,
    AppointmentWorkflow,
    SurveyYearWorkflow,
    SurveyNewYearWorkflow,
    RetentionSweepWorkflow,
    ReconcileWorkflow,
]


def cache_workflow_bytecode(folder: Path = WORKFLOW_MODULES) -> int:
    """Compile the workflow modules' bytecode where it is missing or stale; how many.

    The workflow sandbox imports a workflow's module afresh for every workflow it
    runs (each case's, and again after the cache evicted it). Without a bytecode
    cache (PYTHONDONTWRITEBYTECODE set, or code changed since it was compiled) every
    import compiles the source again: a fifth of a worker's CPU in
    bench/workflow_throughput.py. A folder that cannot be written is left as it is.
    """
    compiled = 0
    for source in sorted(folder.glob("*.py")):
        cached = Path(importlib.util.cache_from_source(str(source)))
        try:
            if bytecode_is_fresh(source, cached):
                continue
            py_compile.compile(str(source), cfile=str(cached), doraise=True)
        except (OSError, py_compile.PyCompileError):
            continue
        compiled += 1
    return compiled


def bytecode_is_fresh(source: Path, cached: Path) -> bool:
    """Whether the importer would use `cached` for `source`: its header names this
    Python's bytecode and the source's modification time and size, as written."""
    try:
        header = cached.read_bytes()[:16]
    except FileNotFoundError:
        return False
    stat = source.stat()
    return (
        len(header) == 16
        and header[:4] == importlib.util.MAGIC_NUMBER
        and int.from_bytes(header[4:8], "little") == 0  # checked by time, not by hash
        and int.from_bytes(header[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
        and int.from_bytes(header[12:16], "little") == stat.st_size & 0xFFFFFFFF
    )


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """How the worker runs workflow code: in the SDK's sandbox only when asked.

    The sandbox checks, while a workflow runs, that its code makes no
    non-deterministic call, and imports its module afresh for every workflow. That
    check costs a third of a worker's CPU per lifecycle here (a workflow instance
    built by the importer, and code compiled again for every payload it converts:
    bench/workflow_throughput.py), so it is a check of the tests (their workers run
    sandboxed, `MINWON_WORKFLOW_SANDBOX=on`), not of every case in production; the
    committed histories replay in the sandbox too (decision 0011).
    """
    if settings.workflow_sandbox:
        return SandboxedWorkflowRunner()
    return UnsandboxedWorkflowRunner()


def notice_activities(
    complaints: Complaints, settings: Settings, channels: Channels | None = None
) -> NoticeActivities:
    """The notices, sent by `channels` or by those the settings configure."""
    return NoticeActivities(
        complaints, channels or Channels.from_env(settings.env, var=settings.var)
    )


def build_worker(
    client: Client,
    complaints: Complaints,
    task_queue: str,
    executor: ThreadPoolExecutor,
    threads: int,
    max_cached_workflows: int = 200,
    activities: ComplaintActivities | None = None,
    channels: Channels | None = None,
    checkpoint_key: Ed25519PrivateKey | None = None,
    settings: Settings | None = None,
) -> Worker:
    """The worker of one process; its parts take what they need from `settings`
    (read from the environment when not given). `settings.worker_role` says what it
    polls for: everything, the workflows alone, or the activities outside them."""
    settings = settings or Settings.load()
    if settings.workflow_sandbox:
        # Only the sandbox imports the workflow modules again for every workflow.
        cache_workflow_bytecode()
    activities = activities or ComplaintActivities(
        complaints, outbox=settings.outbox, seal=seal_from_env(settings.env)
    )
    notices = notice_activities(complaints, settings, channels)
    appointments = AppointmentActivities(complaints, notices)
    surveys = SurveyActivities(complaints, notices, public_url=settings.public_url)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS if settings.worker_role != "activities" else [],
        activities=[
            *activities.all(),
            notices.send_notice,
            notices.send_notices,
            appointments.appointment_view,
            appointments.send_appointment_notice,
            surveys.survey_plan,
            surveys.start_survey,
            surveys.send_survey_invitations,
            surveys.unsent_survey_invitations,
            surveys.close_survey,
            surveys.warn_no_survey,
            RetentionActivities(complaints).erase_expired_persons,
            Reconciler(complaints, client, task_queue, limit=settings.restore_limit).run,
            CalendarWatch(complaints, client).run,
            Checkpoints(complaints, checkpoint_key, settings=settings).run,
        ],
        # A `workflows` worker runs the store's steps (local activities, registered
        # above) inside its workflow tasks and polls for no other activity.
        no_remote_activities=settings.worker_role == "workflows",
        activity_executor=executor,
        max_concurrent_activities=threads,
        # The store's steps run as local activities, on the same threads.
        max_concurrent_local_activities=threads,
        max_cached_workflows=max_cached_workflows,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.sticky_seconds),
        workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.task_polls),
        activity_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.task_polls),
        workflow_runner=workflow_runner(settings),
        # On SIGTERM, activities in flight get this long to finish their save.
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


@contextmanager
def delivering_notices(
    complaints: Complaints,
    env: Mapping[str, str],
    settings: Settings | None = None,
    channels: Channels | None = None,
) -> Iterator[NoticeOutbox | None]:
    """The notice outbox of the store `env` names (`complaints`'s) delivering in a
    thread while the block runs, in a worker that runs activities; a `workflows`
    worker sends nothing."""
    settings = settings or Settings.load()
    if settings.worker_role == "workflows":
        yield None
        return
    notices = notice_activities(complaints, settings, channels)
    with running_outbox(complaints, notices, env) as outbox:
        yield outbox
