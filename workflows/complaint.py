"""ComplaintWorkflow: one durable workflow per complaint, enforcing its deadlines.

Input `FileComplaintInput`, output the final `CaseView`.

Update `act(action)`: every staff and ops action (assign, take_message,
interim_reply, answer, finding, apology, corrective_action, announce, reopen,
withdraw, close, escalate, rate), validated against the live case before it
is accepted into history, then recorded by an activity; returns the new view.
Update `registered()`: waits until the case is recorded; returns its view.
Update `recount(Recount)`: the calendar changed (sent by the calendar watch): the
case's open commitments are counted again, the timers follow, and the resident
hears of every due that moved later.
Query `status()`: the live `CaseView`.

The facts live in the event store; this workflow keeps only the process: which
clock rings next. Every alarm is derived from the latest view of the case:
  warn the assignee at `warn_at` → record the breach at `due` → escalate to the
  designated officer → to the director if the officer has not answered within
  the policy's time. A deadline that passed while everything was down fires as
  soon as the workflow runs again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    # By module name: `from workflows import legacy` would run legacy's code again in
    # every workflow's sandbox (a submodule taken from a package is not passed through).
    import workflows.legacy as legacy
    from activities.complaints import ComplaintActivities
    from activities.notices import NoticeActivities
    from domain.access import SYSTEM_ACTORS
    from domain.complaint import (
        ANNOUNCEMENT,
        ComplaintError,
        alarm_notices,
        check_action_allowed,
        check_apology,
        check_interim_reply,
    )
    from workflows.codec import unsealed_reason
    from workflows.models import (
        Action,
        AlarmCommands,
        AnyAction,
        Breach,
        CaseCommand,
        CaseView,
        CommitmentView,
        Escalate,
        FileComplaintInput,
        Notice,
        NoticeBatch,
        NoticeDelivery,
        NoticeKind,
        RecordApology,
        RecordNoticeFailed,
        Recount,
        SendInterimReply,
        TakeMessage,
        Warn,
        WorkflowPolicy,
    )
    from workflows.search import search_attribute_updates
    from workflows.waiting import until

T = TypeVar("T")
# The namespace of the command ids a run derives from their causes.
COMMAND_IDS = uuid.UUID("6d696e77-6f6e-5cf1-8c6d-6d616e647300")

ACTIVITY_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
# A timer action the store refused is tried again after this, not in a tight loop.
FAILED_ALARM_BACKOFF = timedelta(minutes=10)

# The refusal an action gets while the case continues as new; sent again, it lands
# on the new run (`workflows.client.act` does that).
CONTINUING = "CaseContinuing"
# Which actions tell the resident, and with which notice.
RESIDENT_NOTICES: dict[str, NoticeKind] = {
    "interim_reply": "interim_reply",
    "answer": "answer",
    "finding": "investigation_result",
    "apology": "apology",
}
# An alarm's notices sent together: a channel still failing after these tries leaves
# each notice to go on alone, with NOTICE_RETRY.
BATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10), backoff_coefficient=2.0, maximum_attempts=3
)
# A mail server that is down gets about ten minutes before the failure is recorded.
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=6,
)


def _update_cause() -> str:
    """The update being handled, as the cause of what it records."""
    update = workflow.current_update_info()
    assert update is not None, "called from an update handler"
    return f"update/{update.id}"


def _announcement_overdue(view: CaseView, policy: WorkflowPolicy) -> CommitmentView | None:
    """The announcement breached, unkept, not yet escalated since its due, and a level
    of the chain left to escalate to."""
    clock = view.commitment(ANNOUNCEMENT)
    if clock is None or clock.status != "breached" or clock.met_at is not None:
        return None
    if view.escalations and view.escalations[-1].at >= clock.due:
        return None
    if len(view.escalations) >= len(policy.escalation):
        return None
    return clock


def _announcement_pending(view: CaseView) -> bool:
    clock = view.commitment(ANNOUNCEMENT)
    return clock is not None and clock.status in ("open", "breached") and clock.met_at is None


@dataclass(frozen=True)
class Alarm:
    at: datetime | None  # None: no clock is ticking
    action: Warn | Breach | Escalate | None  # None: nothing to record at `at`


def _accepted_intake(raw: object) -> FileComplaintInput:
    if isinstance(raw, FileComplaintInput):
        return raw
    reason = unsealed_reason(raw)
    if reason is not None:
        # Someone without the payload key started this: nothing is recorded.
        raise ApplicationError(f"refused: {reason}", type="UnsealedPayload", non_retryable=True)
    try:
        return FileComplaintInput.model_validate(raw)
    except ValidationError as error:
        raise ApplicationError(
            f"invalid complaint intake: {error}", type="InvalidIntake", non_retryable=True
        ) from None


@workflow.defn
class ComplaintWorkflow:
    def __init__(self) -> None:
        self._view: CaseView | None = None
        self._policy: WorkflowPolicy | None = None
        self._changed = False
        self._lock = asyncio.Lock()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._draining = False  # moving to a new run: new actions are refused
        self._steps_local = False  # decided first thing in run(), by its patch
        self._current_paths: bool | None = None  # asked first thing in run(): `_patched`
        self._gathered: list[Notice] | None = None  # an alarm's notices, sent together

    # -- the process ----------------------------------------------------------------

    @workflow.run
    async def run(self, intake: FileComplaintInput | Any) -> CaseView:
        # `| Any`: an input that is not a valid intake still decodes, so it fails
        # the workflow with the validation message instead of failing its first
        # task over and over (a raw JSON start, e.g. from the Temporal CLI).
        intake = _accepted_intake(intake)
        if intake.received_at is None:
            intake = intake.model_copy(update={"received_at": workflow.now()})
        self._steps_local = self._patched(legacy.STORE_STEPS_LOCAL)
        self._policy = await self._store_step(ComplaintActivities.workflow_policy)
        view = await self._store_step(ComplaintActivities.register_complaint, intake)
        # A run the reconciler started again for a recorded case sends no second receipt.
        first_run = workflow.info().continued_run_id is None and not intake.restored
        self._set_view(view)
        if first_run:
            await self._notify(view, "receipt", "resident")
        while True:
            alarm = self._next_alarm()
            if await self._wait_for(alarm):
                if alarm.action is None:
                    break  # withdrawn, or closed and past the window for announcements
                await self._fire(alarm.action, alarm.at or workflow.now())
            if self._history_is_long():
                # The case lives on in the event store; the new run reads it back.
                # Notices going out may take minutes (a mail server down): wait for
                # them while actions are still taken. Then refuse new actions until
                # those in flight finish: a steady stream of them would otherwise
                # never leave a moment to continue as new, and the history would
                # grow to Temporal's limit. `workflows.client.act` sends a refused
                # action again, to the new run.
                await workflow.wait_condition(lambda: not self._deliveries)
                self._draining = True
                await self._all_finished()
                workflow.continue_as_new(intake)
        await self._all_finished()
        return self._current

    @property
    def _current(self) -> CaseView:
        if self._view is None:
            raise ApplicationError("the case is still being registered", type="NotRegistered")
        return self._view

    @property
    def _policy_values(self) -> WorkflowPolicy:
        assert self._policy is not None, "the policy is read first thing in run()"
        return self._policy

    def _patched(self, name: str) -> bool:
        """`workflow.patched(name)` for a run started before CURRENT_PATHS; a run
        started since takes every path in `legacy.CURRENT_PATHS_COVERS` as new, on the
        one marker of its first task. Asked of each patch at its first use, `workflow.patched`
        records a marker and a search-attribute upsert in that task: at a deadline peak,
        in every breach's task, each upsert a visibility write on the server."""
        if name not in legacy.CURRENT_PATHS_COVERS:
            raise ValueError(f"{name} came after current-paths: ask workflow.patched")
        if self._current_paths is None:
            # First asked in run()'s first task, so a run recorded before this patch
            # replays it without the marker and keeps asking each patch.
            self._current_paths = workflow.patched(legacy.CURRENT_PATHS)
        return self._current_paths or workflow.patched(name)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self._policy_values.history_limit
        )

    async def _wait_for(self, alarm: Alarm) -> bool:
        """True when the alarm rings; False when the case changed first."""
        self._changed = False
        return await until(alarm.at, lambda: self._changed)

    def _next_alarm(self) -> Alarm:
        view, policy = self._current, self._policy_values
        now = workflow.now()
        if view.status == "withdrawn":
            return Alarm(now, None)
        alarms: list[Alarm] = []
        for commitment in view.commitments:
            if commitment.status != "open":
                continue
            if not commitment.warned and commitment.warn_at < commitment.due:
                alarms.append(Alarm(commitment.warn_at, Warn(kind=commitment.kind)))
            alarms.append(Alarm(commitment.due, Breach(kind=commitment.kind)))
        if view.status == "closed":
            closed_at = view.closed_at or now
            end = Alarm(closed_at + timedelta(days=policy.keep_open_after_close_days), None)
            # The announcement's clock (헌장 5) runs after closing; the run ends once
            # no clock is left and the window for a rating or a reopening has passed.
            if not (alarms or _announcement_overdue(view, policy)) or not self._patched(
                legacy.ANNOUNCEMENT_CLOCK
            ):
                return end
            escalation = self._escalation_alarm(view, policy)
            if escalation is not None:
                alarms.append(escalation)
            if not alarms:
                return Alarm(None, None)  # escalated: wait for the announcement or a decision
            return min(alarms, key=lambda alarm: alarm.at or now)
        escalation = self._escalation_alarm(view, policy)
        if escalation is not None:
            alarms.append(escalation)
        if not alarms:
            return Alarm(None, None)  # nothing is ticking: wait for the next action
        return min(alarms, key=lambda alarm: alarm.at or now)

    def _escalation_alarm(self, view: CaseView, policy: WorkflowPolicy) -> Alarm | None:
        unanswered = view.status in ("received", "assigned")
        breached = [c for c in view.commitments if c.status == "breached" and c.met_at is None]
        if view.status == "closed":
            # Only an overdue announcement escalates a closed case, once, to the first level.
            overdue = _announcement_overdue(view, policy)
            if overdue is None:
                return None
            reason = "결과 공지 기한 초과: the result was neither announced nor declined in time"
            return Alarm(overdue.due, Escalate(reason=reason, by="system", trigger="deadline"))
        if not view.escalations:
            if not breached:
                return None
            kinds = ", ".join(c.kind for c in breached)
            reason = f"기한 초과 ({kinds}): deadline passed without an answer"
            return Alarm(
                max(c.due for c in breached),
                Escalate(reason=reason, by="system", trigger="deadline"),
            )
        last = view.escalations[-1]
        if not unanswered or last.level >= len(policy.escalation):
            return None
        hours = policy.escalation[last.level - 1].act_within_hours
        if hours is None:
            return None
        if last.act_by is not None and self._patched(legacy.WORKING_TIME_ESCALATION):
            # The case recorded when the level must act, counted in working time.
            reason = f"{last.to_role} did not act within {hours:g} working hours"
            return Alarm(last.act_by, Escalate(reason=reason, by="system", trigger="deadline"))
        return Alarm(*legacy.clock_hours_escalation(last.to_role, last.at, hours))

    async def _fire(self, action: Warn | Breach | Escalate, at: datetime) -> None:
        # Who hears of the alarm is queued in the store with its record, and the notice
        # outbox (activities.outbox) delivers them: at a deadline peak no activity per
        # case goes through the Temporal server for its notices.
        queued = self._patched(legacy.ALARM_NOTICES_OUTBOX)
        actions = [action]
        escalations = len(self._current.escalations)
        set_off = self._escalation_set_off(action)
        if set_off is not None and self._patched(legacy.BREACH_ESCALATES_AT_ONCE):
            # Recorded with the breach, in one step: at a deadline peak every case's
            # breach and escalation are one store visit, not two in a row.
            actions.append(set_off)
        try:
            view = await self._record(actions, cause=f"alarm/{at.isoformat()}", notify=queued)
        except ApplicationError as error:
            # The clock must not stop: log, wait a little, and look at the case again.
            workflow.logger.warning("alarm_refused", extra={"reason": str(error)})
            await workflow.sleep(FAILED_ALARM_BACKOFF)
            self._set_view(
                await self._store_step(ComplaintActivities.current_view, self._current.case_id)
            )
            return
        if queued:
            return
        if len(actions) > 1 and len(view.escalations) == escalations:
            # The escalation was refused after the breach was recorded: its own
            # alarm tries it again, alone, next.
            actions = [action]
        together = self._patched(legacy.ALARM_NOTICES_TOGETHER)
        if together:
            # The notices of one moment (a breach told to the assignee and the
            # resident, the escalation to the officer) go out by one activity.
            # `_notify` gathers them: on this path it never suspends, so no other
            # handler's notice can land in the batch.
            self._gathered = []
        for done in actions:
            await self._tell(view, done)
        gathered, self._gathered = self._gathered, None
        # None without the patch; empty where a run from before notices by channel
        # queued them.
        if gathered:
            self._start_delivery(self._deliver_together(gathered))

    def _escalation_set_off(self, action: Warn | Breach | Escalate) -> Escalate | None:
        """The escalation a breach makes due at once, if any: what the next alarm
        would be once the breach is recorded."""
        if not isinstance(action, Breach):
            return None
        view = self._current
        breached = [
            c.model_copy(update={"status": "breached"})
            if c.kind == action.kind and c.status == "open"
            else c
            for c in view.commitments
        ]
        alarm = self._escalation_alarm(
            view.model_copy(update={"commitments": breached}), self._policy_values
        )
        if alarm is None or alarm.at is None or alarm.at > workflow.now():
            return None
        return alarm.action if isinstance(alarm.action, Escalate) else None

    async def _tell(self, view: CaseView, action: Warn | Breach | Escalate) -> None:
        """The notices of one alarm recorded, sent by the workflow (runs from before
        ALARM_NOTICES_OUTBOX): who hears of what as the case queues it now."""
        last = view.escalations[-1] if view.escalations else None
        kind = getattr(action, "kind", "")
        told = alarm_notices(
            action.type,
            kind,
            assignee=view.assignee,
            escalated_to=(last.to_role, last.to_staff) if last else None,
            tell_resident=False,  # asked below, where these runs asked
        )
        for notice, recipient, detail in told:
            await self._notify(view, cast(NoticeKind, notice), recipient, detail)
        if isinstance(action, Breach) and self._patched(legacy.RESIDENT_OVERDUE_NOTICE):
            await self._notify(view, "overdue", "resident", kind)

    # -- recording ------------------------------------------------------------------

    async def _apply(self, action: AnyAction, cause: str) -> CaseView:
        """Record one action through the activity, one at a time per case."""
        return await self._record([action], cause)

    async def _record(
        self, actions: Sequence[AnyAction], cause: str, notify: bool = False
    ) -> CaseView:
        """Record actions in order, one step at a time per case: one action through
        `apply_command`, the alarms of one moment through `apply_alarms`; with
        `notify`, each alarm with who hears of it."""
        async with self._lock:
            update = workflow.current_update_info()
            commands = [
                CaseCommand(
                    case_id=self._current.case_id,
                    at=workflow.now(),
                    command_id=self._command_id(cause, action),
                    action=action,
                    update_id=update.id if update else None,
                    notify=notify,
                )
                for action in actions
            ]
            try:
                if len(commands) == 1:
                    view = await self._store_step(ComplaintActivities.apply_command, commands[0])
                else:
                    view = await self._store_step(
                        ComplaintActivities.apply_alarms, AlarmCommands(commands=commands)
                    )
            except ActivityError as error:
                refusal = error.cause
                if isinstance(refusal, ApplicationError):
                    raise ApplicationError(str(refusal.message), type=refusal.type) from None
                raise
            self._set_view(view)
            return view

    def _command_id(self, cause: str, action: AnyAction) -> str:
        """The id the store records an action under once, from what caused it.

        A local activity saves before its workflow task is recorded: if that task is
        lost (a worker gone, a task timed out), the step runs again from the replayed
        history, and another action may reach the case first. An id drawn from the
        run's random sequence would then follow the order of arrival, and a different
        action could take the id of one already stored (and be dropped as a repeat).
        So the id is made of the cause: the update that asked for the action, the
        alarm that rang (its moment), the notice that failed; and the action's type
        and kind.
        Runs before STORE_STEPS_LOCAL drew it from the random sequence: their steps
        were scheduled, with the id, before anything was stored.
        """
        if not self._steps_local:
            return str(workflow.uuid4())
        info = workflow.info()
        # Two clocks may ring at one moment: the kind tells their alarms apart.
        kind = getattr(action, "kind", "")
        name = f"{info.workflow_id}/{info.run_id}/{cause}/{action.type}/{kind}"
        return str(uuid.uuid5(COMMAND_IDS, name))

    async def _store_step(self, step: Callable[..., T], *args: Any) -> T:
        """One of the store's steps (load, decide, save: short, and idempotent by its
        command id), run as a local activity inside the workflow task that asks for
        it: no activity task through the server, no second workflow task. Retried in
        the worker by the same policy; a worker lost mid-step runs it again from the
        replayed task, with the same command id, and the store records it once."""
        if self._steps_local:
            result: T = await workflow.execute_local_activity_method(
                step, args=args, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY
            )
            return result
        return await legacy.store_step_through_server(step, args, ACTIVITY_TIMEOUT, RETRY)  # type: ignore[no-any-return]

    def _set_view(self, view: CaseView) -> None:
        current = self._view
        if current is not None and current.version > view.version:
            # A notice recorded after this view was read reported a later head; the
            # events since are delivery records, which the view does not show.
            view = view.model_copy(
                update={"version": current.version, "head_digest": current.head_digest}
            )
        self._view = view
        self._changed = True
        workflow.upsert_search_attributes(search_attribute_updates(view))

    async def _notify(
        self, view: CaseView, kind: NoticeKind, recipient: str, detail: str = ""
    ) -> None:
        """Send a notice in the background: an action never waits on a mail server."""
        notice = Notice(
            case_id=view.case_id,
            receipt_code=view.receipt_code,
            kind=kind,
            recipient=recipient,
            command_id=str(workflow.uuid4()),
            detail=detail,
            at=workflow.now(),
        )
        if self._patched(legacy.NOTICES_BY_CHANNEL):
            if self._gathered is not None:
                self._gathered.append(notice)
            else:
                self._start_delivery(self._deliver(notice))
        else:
            await legacy.queue_notice_as_before(notice, ACTIVITY_TIMEOUT, RETRY)

    def _start_delivery(self, delivery: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(delivery)
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver_together(self, notices: list[Notice]) -> None:
        """An alarm's notices by one activity, each delivered and recorded once; one
        that can never be delivered is recorded as failed. While a channel keeps
        failing after the batch's tries, each notice left goes on alone, with its own
        tries (those already sent are found recorded)."""
        if len(notices) == 1:
            await self._deliver(notices[0])
            return
        try:
            outcomes = await workflow.execute_activity_method(
                NoticeActivities.send_notices,
                NoticeBatch(notices=notices),
                start_to_close_timeout=ACTIVITY_TIMEOUT * len(notices),
                retry_policy=BATCH_RETRY,
            )
        except ActivityError:
            await asyncio.gather(*(self._deliver(notice) for notice in notices))
            return
        for notice, outcome in zip(notices, outcomes.outcomes, strict=True):
            if outcome.delivery is not None:
                self._anchor(outcome.delivery.version, outcome.delivery.head_digest)
            else:
                await self._record_failure(notice, outcome.failure or "undeliverable")

    async def _record_failure(self, notice: Notice, reason: str) -> None:
        await self._apply(
            RecordNoticeFailed(kind=notice.kind, recipient=notice.recipient, reason=reason),
            cause=f"notice/{notice.command_id}",
        )

    async def _deliver(self, notice: Notice) -> None:
        try:
            delivered = await workflow.execute_activity_method(
                NoticeActivities.send_notice,
                notice,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=NOTICE_RETRY,
            )
        except ActivityError as error:
            # Out of retries, or undeliverable: recorded on the case for ops to see.
            cause = error.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
            await self._record_failure(notice, reason)
            return
        # Histories recorded before the result carried the head hold the channel alone.
        if isinstance(delivered, NoticeDelivery):
            self._anchor(delivered.version, delivered.head_digest)

    def _anchor(self, version: int, head_digest: str) -> None:
        """Move the view's anchor to a head recorded in the background, if it is newer.

        Notices run alongside actions, so their results may arrive after a later
        action's view: the anchor only moves forward.
        """
        view = self._view
        if view is not None and version > view.version:
            self._view = view.model_copy(update={"version": version, "head_digest": head_digest})

    async def _all_finished(self) -> None:
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._deliveries
        )

    # -- messages -------------------------------------------------------------------

    @workflow.query
    def status(self) -> CaseView:
        return self._current

    @workflow.update
    async def registered(self) -> CaseView:
        """Returns once the case is recorded: how a client learns its receipt code."""
        await workflow.wait_condition(lambda: self._view is not None)
        return self._current

    @workflow.update
    async def act(self, action: AnyAction) -> CaseView:
        if self._view is None:
            # Accepted while the case was being registered: check it now it exists.
            await workflow.wait_condition(lambda: self._view is not None)
            try:
                self._check(action)
            except ValueError as error:
                raise ApplicationError(str(error), type="ActionRefused") from None
        view = await self._apply(action, cause=_update_cause())
        to_resident = RESIDENT_NOTICES.get(action.type)
        if to_resident:
            await self._notify(view, to_resident, "resident")
        return view

    @workflow.update
    async def recount(self, action: Recount) -> CaseView:
        await workflow.wait_condition(lambda: self._view is not None)
        before = {c.kind: c.due for c in self._current.commitments if c.status == "open"}
        view = await self._apply(action, cause=_update_cause())
        for commitment in view.commitments:
            previous = before.get(commitment.kind)
            if commitment.status == "open" and previous is not None and commitment.due > previous:
                await self._notify(view, "rescheduled", "resident", commitment.kind)
        return view

    @recount.validator
    def _validate_recount(self, action: Recount) -> None:
        reason = unsealed_reason(action)
        if reason is not None:
            raise ApplicationError(f"refused: {reason}", type="UnsealedPayload", non_retryable=True)
        if not isinstance(action, Recount):
            raise ValueError(f"a recount is required, not {action!r:.40}")
        if self._draining:
            raise ApplicationError(
                "the case is moving to a new run; send the recount again", type=CONTINUING
            )
        if self._view is not None and self._view.is_terminal:
            raise ValueError(f"case {self._view.receipt_code} has ended: nothing to recount")

    @act.validator
    def _validate(self, action: AnyAction) -> None:
        reason = unsealed_reason(action)
        if reason is not None:
            raise ApplicationError(f"refused: {reason}", type="UnsealedPayload", non_retryable=True)
        if not isinstance(action, Action):
            # null and raw bytes reach here undecoded: their converters ignore the type.
            raise ValueError(f"an action object with a 'type' is required, not {action!r:.40}")
        if self._draining:
            raise ApplicationError(
                "the case is moving to a new run; send the action again", type=CONTINUING
            )
        if action.internal:
            raise ValueError(f"'{action.name}' is recorded by the case's own workflow")
        if action.actor in SYSTEM_ACTORS:
            raise ValueError("actions from outside are made by a person, not the system")
        if self._view is not None:
            self._check(action)

    def _check(self, action: AnyAction) -> None:
        """The domain's own rules, run on the live view; a refusal is a ValueError."""
        view = self._current
        now = workflow.now()
        try:
            check_action_allowed(
                action.command,
                receipt_code=view.receipt_code,
                status=view.status,
                private=view.private,
                investigation=view.investigation,
                investigated=view.investigated,
                apology_required=view.apology_required,
                apologies=view.apologies,
                open_kinds=[c.kind for c in view.commitments if c.status == "open"],
                escalation_level=len(view.escalations),
                escalation_levels=len(self._policy.escalation) if self._policy else None,
                announcement_pending=_announcement_pending(view),
            )
            if isinstance(action, SendInterimReply):
                commitment = view.commitment(action.kind)
                if commitment is None:
                    raise ValueError(f"this case has no '{action.kind}' commitment")
                check_interim_reply(
                    commitment,
                    at=now,
                    new_due=action.new_due,
                    latest=commitment.extend_until,
                    consent=action.consent,
                )
            if isinstance(action, RecordApology):
                check_apology(action.mode, private=view.private)
            if isinstance(action, TakeMessage) and action.callback_by <= now:
                raise ValueError("the promised callback time must be in the future")
        except ComplaintError as error:
            raise ValueError(str(error)) from None
