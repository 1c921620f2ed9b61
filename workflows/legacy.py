"""What workflow runs started before a change still need, in one place, with when it goes.

A run replays its recorded history on every worker restart, so a change to what a
workflow does is made behind `workflow.patched(NAME)`: new runs take the new path,
runs recorded before keep the old one. Each patch is listed in `PATCHES` with the
commit that introduced it, what the old path still does, and when it may go.

Removing one (docs/architecture.md, "Long cases"):
1. once no run started before its commit is open (in production nothing from
   `temporal workflow list --query "ExecutionStatus = 'Running' AND StartTime <
   '<that deploy>'"`), `workflow.patched(NAME)` becomes
   `workflow.deprecate_patch(NAME)` for one release;
2. then the old branch here, the patch's entry and the recorded histories that
   protect it (tests/histories/manifest.toml) are deleted together.

The complaint workflow asks the patches in CURRENT_PATHS_COVERS through
`ComplaintWorkflow._patched`: a run started since CURRENT_PATHS records that one
marker, in its first task, and takes each of them as new. A patch added after it is
asked of `workflow.patched` itself (to `_patched` every run started since
CURRENT_PATHS has it, those started before the new patch too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.complaints import ComplaintActivities
    from workflows.models import Escalate, Notice


@dataclass(frozen=True)
class Patch:
    name: str
    since: str  # the commit that introduced the new path
    old_path: str  # what runs started before it still do
    note: str = ""  # what else bears on when it may go

    @property
    def remove_when(self) -> str:
        return f"no run of its workflow started before {self.since} is open{self.note}"


# Notices are delivered by channel (e-mail, SMS) with their own retries; runs
# recorded before that queued a subset of them in a file.
NOTICES_BY_CHANNEL = "notices-by-channel"
# A closed case's announcement clock is warned, breached and escalated.
ANNOUNCEMENT_CLOCK = "announcement-clock"
# A breach is told to the resident too, with how to ask for an investigation.
RESIDENT_OVERDUE_NOTICE = "resident-overdue-notice"
# Escalations recorded with their `act_by` (working time) are followed by it.
WORKING_TIME_ESCALATION = "working-time-escalation"
# The reconciler's pass follows a changed calendar, then signs a checkpoint.
CALENDAR_WATCH = "calendar-watch"
CHECKPOINTS = "checkpoints"
# A breach and the escalation it sets off are recorded together, in one activity.
BREACH_ESCALATES_AT_ONCE = "breach-escalates-at-once"
# The store's steps run as local activities, inside the workflow task that asks for them.
STORE_STEPS_LOCAL = "store-steps-local"
# The notices of one alarm go out by one activity.
ALARM_NOTICES_TOGETHER = "alarm-notices-together"
# A survey's invitations left unsent are tried again each day until the round closes.
SURVEY_UNSENT_RETRIED = "survey-unsent-retried"
# An alarm's notices are queued in the store with its record, for the notice outbox.
ALARM_NOTICES_OUTBOX = "alarm-notices-outbox"
# A complaint workflow run asks this once, in its first task: started since, it takes
# every patch in CURRENT_PATHS_COVERS as new, without a marker of each.
CURRENT_PATHS = "current-paths"
CURRENT_PATHS_COVERS = frozenset(
    {
        NOTICES_BY_CHANNEL,
        ANNOUNCEMENT_CLOCK,
        RESIDENT_OVERDUE_NOTICE,
        WORKING_TIME_ESCALATION,
        BREACH_ESCALATES_AT_ONCE,
        STORE_STEPS_LOCAL,
        ALARM_NOTICES_TOGETHER,
        ALARM_NOTICES_OUTBOX,
    }
)

PATCHES = (
    Patch(
        NOTICES_BY_CHANNEL,
        "c0eac05",
        "queue_notice_as_before: six kinds of notice appended to the outbox file",
    ),
    Patch(
        ANNOUNCEMENT_CLOCK,
        "6c9abb1",
        "a closed case's run ends when its window passes, the announcement unwatched",
    ),
    Patch(
        RESIDENT_OVERDUE_NOTICE,
        "eaf4b97",
        "a breach is told to the staff member alone",
    ),
    Patch(
        WORKING_TIME_ESCALATION,
        "ff83760",
        "clock_hours_escalation: the next level after clock hours",
    ),
    Patch(
        CALENDAR_WATCH,
        "24e09c0",
        "the reconciler's pass does not follow the calendar",
        " (each pass is short: soon after deploy)",
    ),
    Patch(
        CHECKPOINTS,
        "4eb8a38",
        "the reconciler's pass signs no checkpoint",
        " (each pass is short: soon after deploy)",
    ),
    Patch(
        BREACH_ESCALATES_AT_ONCE,
        "d2a3081",
        "the breach is recorded, then the escalation, each by its own activity",
    ),
    Patch(
        STORE_STEPS_LOCAL,
        "70f2bce",
        "store_step_through_server: each of the store's steps its own activity task",
    ),
    Patch(
        ALARM_NOTICES_TOGETHER,
        "3635ea9",
        "each of an alarm's notices by an activity of its own",
    ),
    Patch(
        ALARM_NOTICES_OUTBOX,
        "6113b02",
        "the workflow sends an alarm's notices by an activity after recording it",
    ),
    Patch(
        CURRENT_PATHS,
        "db7e709",
        "each patch above is asked where first used, its marker and TemporalChangeVersion"
        " upsert in that task (a breach's, at a deadline peak)",
        " (goes with the last of the complaint workflow's patches above)",
    ),
    Patch(
        SURVEY_UNSENT_RETRIED,
        "57880cb",
        "invitations left unsent after the first pass wait for the round's close unsent",
        " (a survey year's run lasts at most a year; tests/histories/survey/ holds the"
        " history from before it)",
    ),
)

# The notices the file outbox took before notices were delivered by channel.
LEGACY_NOTICE_KINDS = ("receipt", "reminder", "breach", "escalation", "answer", "interim_reply")


async def queue_notice_as_before(
    notice: Notice, timeout: timedelta, retry_policy: RetryPolicy
) -> None:
    """NOTICES_BY_CHANNEL's old path: runs started before notices were delivered keep
    queueing the kinds they queued, in the outbox file."""
    if notice.kind in LEGACY_NOTICE_KINDS:
        await workflow.execute_activity_method(
            ComplaintActivities.queue_notice,
            notice,
            start_to_close_timeout=timeout,
            retry_policy=retry_policy,
        )


async def store_step_through_server(
    step: Callable[..., Any], args: tuple[Any, ...], timeout: timedelta, retry_policy: RetryPolicy
) -> Any:
    """STORE_STEPS_LOCAL's old path: runs started before it schedule each of the
    store's steps as an activity of its own, through the server."""
    return await workflow.execute_activity_method(
        step, args=args, start_to_close_timeout=timeout, retry_policy=retry_policy
    )


def clock_hours_escalation(
    to_role: str, escalated_at: datetime, hours: float
) -> tuple[datetime, Escalate]:
    """WORKING_TIME_ESCALATION's old path: the next level after `hours` clock hours."""
    reason = f"{to_role} did not act within {hours:g} h of the escalation"
    return escalated_at + timedelta(hours=hours), Escalate(
        reason=reason, by="system", trigger="deadline"
    )
