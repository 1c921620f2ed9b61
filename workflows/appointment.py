"""AppointmentWorkflow: the clock of one appointment (domain.appointment).

Input: the appointment's id; output: how it ended (done, no_show). Signal
`changed()`: read the appointment again from the store (sent by the API after a
move or an outcome; it carries nothing, so it can only make the workflow look).
Query `status()`: the appointment as the workflow last read it.

For the appointment's current time `start` it sends, each once (the command id
names the notice and `start`, so a moved appointment is told and reminded again):

- the booking to the resident, with the staff member's contact (나.④, 라.②), at once;
- the reminders at 10:00 the day before: to the staff member, and to the resident
  unless the booking was made after that moment (its notice stands in);
- at the end of the visit's day, a request to the staff member to record the outcome
  if none was recorded.

The facts live in the store: every step is decided from the appointment as read
after the last change, so a workflow started again (the reconciler) resumes where
the store says it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.appointments import AppointmentActivities
    from workflows.models import AppointmentNotice, AppointmentNoticeKind, AppointmentView
    from workflows.waiting import until

ACTIVITY_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=6,
)
WORKFLOW_PREFIX = "appointment-"


def appointment_workflow_id(appointment_id: str) -> str:
    return f"{WORKFLOW_PREFIX}{appointment_id}"


@dataclass(frozen=True)
class Step:
    at: datetime
    kind: AppointmentNoticeKind
    recipient: str
    command_id: str


def next_step(view: AppointmentView, failed: frozenset[str] = frozenset()) -> Step | None:
    """The first notice of the appointment's current time not yet sent (nor given up
    on: `failed`), if any."""
    key = view.start.isoformat()
    steps = [Step(view.changed_at, "appointment_booked", "resident", f"booked:{key}")]
    if view.reminder_at > view.changed_at:
        steps.append(Step(view.reminder_at, "appointment_reminder", "resident", f"reminder:{key}"))
    if view.reminder_at < view.start:
        steps.append(
            Step(
                max(view.reminder_at, view.changed_at),
                "appointment_reminder_staff",
                view.staff,
                f"reminder-staff:{key}",
            )
        )
    steps.append(
        Step(view.outcome_due_at, "appointment_outcome_due", view.staff, f"outcome-due:{key}")
    )
    done = {*view.sent, *failed}
    return next((step for step in steps if step.command_id not in done), None)


@workflow.defn
class AppointmentWorkflow:
    def __init__(self) -> None:
        self._view: AppointmentView | None = None
        self._changed = False
        # Notices out of retries in this run: passed over, not tried in a loop.
        self._failed: set[str] = set()

    @workflow.signal
    def changed(self) -> None:
        self._changed = True

    @workflow.query
    def status(self) -> AppointmentView | None:
        return self._view

    @workflow.run
    async def run(self, appointment_id: str) -> str:
        view = await self._read(appointment_id)
        while view.status == "booked":
            step = next_step(view, frozenset(self._failed))
            if await self._rings(step) and step is not None:
                await self._send(view, step)
            view = await self._read(appointment_id)
        return view.status

    async def _read(self, appointment_id: str) -> AppointmentView:
        self._changed = False
        self._view = await workflow.execute_activity_method(
            AppointmentActivities.appointment_view,
            appointment_id,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )
        return self._view

    async def _rings(self, step: Step | None) -> bool:
        """True when the step's moment came; False when the appointment changed first."""
        return await until(step.at if step else None, lambda: self._changed)

    async def _send(self, view: AppointmentView, step: Step) -> None:
        notice = AppointmentNotice(
            appointment_id=view.appointment_id,
            kind=step.kind,
            recipient=step.recipient,
            command_id=step.command_id,
        )
        try:
            await workflow.execute_activity_method(
                AppointmentActivities.send_appointment_notice,
                notice,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=NOTICE_RETRY,
            )
        except ActivityError as error:
            # Out of retries: said in the log and the workflow's history; the next
            # step still comes (a reminder that failed does not hold up the rest).
            workflow.logger.warning(
                "appointment notice not delivered: %s %s (%s)",
                step.kind,
                step.recipient,
                error.cause or error,
            )
            self._failed.add(step.command_id)
