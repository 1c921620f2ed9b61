"""Where the worker's parts are put together, for every process that runs them: the
worker script (`worker.py`), the tests' workers and the benchmarks. Nothing imports
worker.py, the entry point."""

from __future__ import annotations

import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import Client
from temporalio.worker import Worker

from activities.appointments import AppointmentActivities
from activities.calendar import CalendarWatch
from activities.channels import Channels
from activities.checkpoint import Checkpoints
from activities.complaints import ComplaintActivities
from activities.notices import NoticeActivities
from activities.reconcile import Reconciler
from activities.retention import RetentionActivities
from activities.surveys import SurveyActivities
from domain.service import Complaints
from workflows.appointment import AppointmentWorkflow
from workflows.complaint import ComplaintWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.retention import RetentionSweepWorkflow
from workflows.survey import SurveyNewYearWorkflow, SurveyYearWorkflow


def configure_logging(level: str = "INFO") -> None:
    """One structlog configuration: readable on a terminal, JSON lines otherwise."""
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


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
) -> Worker:
    activities = activities or ComplaintActivities(complaints)
    notices = NoticeActivities(complaints, channels or Channels.from_env())
    appointments = AppointmentActivities(complaints, notices)
    surveys = SurveyActivities(complaints, notices)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[
            ComplaintWorkflow,
            AppointmentWorkflow,
            SurveyYearWorkflow,
            SurveyNewYearWorkflow,
            RetentionSweepWorkflow,
            ReconcileWorkflow,
        ],
        activities=[
            *activities.all(),
            notices.send_notice,
            appointments.appointment_view,
            appointments.send_appointment_notice,
            surveys.survey_plan,
            surveys.start_survey,
            surveys.send_survey_invitations,
            surveys.close_survey,
            surveys.warn_no_survey,
            RetentionActivities(complaints).erase_expired_persons,
            Reconciler(complaints, client, task_queue).run,
            CalendarWatch(complaints, client).run,
            Checkpoints(complaints, checkpoint_key).run,
        ],
        activity_executor=executor,
        max_concurrent_activities=threads,
        max_cached_workflows=max_cached_workflows,
        # On SIGTERM, activities in flight get this long to finish their save.
        graceful_shutdown_timeout=timedelta(seconds=30),
    )
