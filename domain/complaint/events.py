"""What a case's events are made of, and the values they put into the case.

Every event of a case is a class nested in `Complaint` (domain.complaint.aggregate)
with typed fields and an `apply` that changes the case; it derives from one of the
two bases here:

- `CaseEvent` (the aggregate's `Complaint.Event`): a link of the case's hash chain,
  carrying `prev_digest` (domain.chained).
- `CommandEvent`: an event a command with an id recorded — every event after intake.
  The case keeps the id (`Complaint.command_ids`) here, for every such event, so
  that a command whose id it holds is accepted again silently (`@once` on the
  commands): a retried activity records nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from domain.chained import ChainedAggregate
from domain.complaint.rules import EscalationTrigger

# What a personal field reads once the person's key is destroyed.
ERASED = "[erased]"


class CaseEvent(ChainedAggregate.Event):
    """Every event of a case: a link of its hash chain."""


class CommandEvent(CaseEvent):
    """An event recorded by a command with an id: the case keeps the id.

    Each event class declares `command_id: str` itself, where its stored records have
    always had it (a record's fields are in the order of its class's fields); this
    class adds it to the case's `command_ids` after the event's own `apply`, which
    need not call this one.
    """

    if TYPE_CHECKING:
        command_id: str

    def mutate(self, aggregate: Any) -> Any:
        case = super().mutate(aggregate)
        case.command_ids.add(self.command_id)
        return case


@dataclass(frozen=True)
class Commitment:
    """One promise with a clock, as it stands now."""

    kind: str
    started_at: datetime
    due: datetime
    original_due: datetime
    rule: str
    days: int | None
    warn_at: datetime
    max_extensions: int
    extensions: int = 0
    # How far ahead of the due the warning comes, and how that is counted
    # ("working" hours; commitments recorded before that rule warned in "clock" hours).
    warn_hours: float | None = None
    warn_counting: str = "clock"
    # Further extensions allowed with the resident's consent (시행령: once more,
    # within the same limit); none for commitments recorded before.
    max_consented_extensions: int = 0
    status: Literal["open", "met", "breached", "cancelled"] = "open"
    warned: bool = False
    met_at: datetime | None = None
    breached_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def original_period(self) -> timedelta:
        return self.original_due - self.started_at


@dataclass(frozen=True)
class Escalation:
    level: int
    to_role: str
    to_staff: str | None
    reason: str
    by: str
    trigger: EscalationTrigger
    at: datetime
    # When the next level takes over if this one has not acted, and how that was
    # counted; escalations recorded before that rule leave it to the workflow.
    act_by: datetime | None = None
    act_counting: str | None = None


@dataclass(frozen=True)
class CaseNote:
    text: str
    by: str
    at: datetime
