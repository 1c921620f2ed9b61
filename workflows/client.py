"""Connecting to Temporal and starting or finding complaint workflows.

Settings come from the environment, with defaults that reach the embedded
dev server: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default),
TEMPORAL_TLS=1 or TEMPORAL_TLS_CLIENT_CERT/_KEY (mTLS, file paths),
TEMPORAL_API_KEY (Temporal Cloud), MINWON_TASK_QUEUE (minwon).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from temporalio.client import Client, TLSConfig, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from runtime.paths import VAR
from workflows.actor_proof import ActorSeal, default_seal
from workflows.appointment import AppointmentWorkflow, appointment_workflow_id
from workflows.codec import codec_from_env, data_converter
from workflows.complaint import CONTINUING, ComplaintWorkflow
from workflows.models import AnyAction, CaseView, Escalate, FileComplaintInput, Recount
from workflows.search import RECEIPT

# A case's workflow id is this and its intake reference, for good.
WORKFLOW_PREFIX = "complaint-"
DEV_KEY_FILE = VAR / "payload.key"


@dataclass(frozen=True)
class TemporalSettings:
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = "minwon"
    tls: bool = False
    client_cert: str | None = None
    client_key: str | None = None
    api_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TemporalSettings:
        return cls(
            address=env.get("TEMPORAL_ADDRESS", cls.address),
            namespace=env.get("TEMPORAL_NAMESPACE", cls.namespace),
            task_queue=env.get("MINWON_TASK_QUEUE", cls.task_queue),
            tls=env.get("TEMPORAL_TLS", "") in ("1", "true", "yes"),
            client_cert=env.get("TEMPORAL_TLS_CLIENT_CERT") or None,
            client_key=env.get("TEMPORAL_TLS_CLIENT_KEY") or None,
            api_key=env.get("TEMPORAL_API_KEY") or None,
        )

    def tls_config(self) -> TLSConfig | bool:
        if self.client_cert and self.client_key:
            return TLSConfig(
                client_cert=Path(self.client_cert).read_bytes(),
                client_private_key=Path(self.client_key).read_bytes(),
            )
        return self.tls or bool(self.api_key)


async def connect(
    settings: TemporalSettings,
    *,
    env: Mapping[str, str],
    dev: bool = False,
    lazy: bool = False,
) -> Client:
    """A client whose payloads are encrypted with the keys in `env` (`workflows.codec`);
    `dev` lets the embedded stack keep a key file; `lazy` connects on first use."""
    codec = codec_from_env(env, dev_key_file=DEV_KEY_FILE if dev else None)
    return await Client.connect(
        settings.address,
        namespace=settings.namespace,
        tls=settings.tls_config(),
        api_key=settings.api_key,
        data_converter=data_converter(codec),
        lazy=lazy,
    )


def exit_without_finalizing(code: int) -> NoReturn:
    """End a process that used the Temporal SDK, once its work is done.

    The SDK's Rust threads hand results to Python under the GIL; if the
    interpreter is finalizing while one of them waits to take the GIL back, the
    process aborts (`PyGILState_Release ... finalizing`, temporalio/sdk-python#300)
    after all its work was done. Everything is closed and flushed by now, so the
    process ends without finalizing the interpreter.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def workflow_id(intake_ref: str) -> str:
    return f"{WORKFLOW_PREFIX}{intake_ref}"


async def start_complaint(
    client: Client, intake: FileComplaintInput, task_queue: str
) -> WorkflowHandle[ComplaintWorkflow, CaseView]:
    """Start the case's workflow; starting the same intake again returns the running one."""
    return await client.start_workflow(
        ComplaintWorkflow.run,
        intake,
        id=workflow_id(intake.intake_ref),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


async def file_complaint(
    client: Client, intake: FileComplaintInput, task_queue: str
) -> tuple[WorkflowHandle[ComplaintWorkflow, CaseView], CaseView]:
    """Start (or find) the case's workflow and wait until the case is recorded."""
    handle = await start_complaint(client, intake, task_queue)
    view = await handle.execute_update(ComplaintWorkflow.registered)
    return handle, view


async def act(
    handle: WorkflowHandle[Any, Any],
    action: AnyAction,
    *,
    update_id: str | None = None,
    patience: float = 60.0,
    seal: ActorSeal | None = None,
) -> CaseView:
    """Run one staff or ops action on a case; returns the case as it stands after it.

    The action is signed for this case with the actor key (`workflows.actor_proof`):
    call this only once the actor it names is authenticated.

    While a long case moves to a fresh history (continue-as-new) it refuses new
    actions for a moment, so that those in flight can finish; such an action is
    sent again, and lands on the new run, for up to `patience` seconds.
    """
    update_id = update_id or str(uuid.uuid4())
    signed = (seal or default_seal()).sign(handle.id, update_id, action)
    return await _landing(
        lambda: handle.execute_update(ComplaintWorkflow.act, signed, id=update_id), patience
    )


async def recount(
    handle: WorkflowHandle[Any, Any], action: Recount, *, patience: float = 60.0
) -> CaseView:
    """Have a case count its open commitments again after a calendar change."""
    return await _landing(
        lambda: handle.execute_update(ComplaintWorkflow.recount, action), patience
    )


async def _landing(send: Callable[[], Awaitable[CaseView]], patience: float) -> CaseView:
    """Send an update again while the case moves to a new run, for up to `patience` s."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return await send()
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            moving = isinstance(cause, ApplicationError) and cause.type == CONTINUING
            if not moving or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.1)


@dataclass(frozen=True)
class CaseFilter:
    """Which open cases a bulk action touches; every field narrows the set."""

    overdue: bool = False
    category: str | None = None
    assignee: str | None = None

    def visibility_query(self, now: datetime) -> str:
        clauses = [
            "WorkflowType = 'ComplaintWorkflow'",
            "ExecutionStatus = 'Running'",
            "MinwonStatus IN ('received', 'assigned')",
        ]
        if self.overdue:
            clauses.append(f"MinwonNextDue < '{now.astimezone(UTC).isoformat()}'")
        if self.category:
            clauses.append(f"MinwonCategory = '{_quoted(self.category)}'")
        if self.assignee:
            clauses.append(f"MinwonAssignee = '{_quoted(self.assignee)}'")
        return " AND ".join(clauses)


def _quoted(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
        raise ValueError(f"not a valid filter value: {value!r}")
    return value


@dataclass(frozen=True)
class BulkOutcome:
    workflow_id: str
    receipt_code: str | None
    error: str | None


async def escalate_matching(
    client: Client,
    case_filter: CaseFilter,
    reason: str,
    by: str,
    now: datetime,
    refusal: Callable[[str], Awaitable[str | None]],
) -> list[BulkOutcome]:
    """Escalate every open case matching the filter, each through its own update.

    `refusal(receipt_code)` says why `by` may not escalate that case (the same
    decision as for one case), or None: a refused case is left as it is.
    """
    outcomes = []
    query = case_filter.visibility_query(now)
    async for execution in client.list_workflows(query):
        code = execution.typed_search_attributes.get(RECEIPT)
        refused = await refusal(code) if code else "the case is not registered yet"
        if refused is not None:
            outcomes.append(BulkOutcome(execution.id, code, f"refused: {refused}"))
            continue
        handle = client.get_workflow_handle(execution.id, result_type=CaseView)
        try:
            view = await act(handle, Escalate(reason=reason, by=by, trigger="manual"))
        except WorkflowUpdateFailedError as error:
            outcomes.append(BulkOutcome(execution.id, None, str(error.cause or error)))
            continue
        outcomes.append(BulkOutcome(execution.id, view.receipt_code, None))
    return outcomes


async def wake_appointment(client: Client, appointment_id: str, task_queue: str) -> bool:
    """Have the appointment's workflow read it again, starting the workflow if none runs
    (a new booking, or one whose workflow was lost). False: its workflow has already
    ended with an outcome, and there is nothing to wake."""
    try:
        await client.start_workflow(
            AppointmentWorkflow.run,
            appointment_id,
            id=appointment_workflow_id(appointment_id),
            task_queue=task_queue,
            start_signal="changed",
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
