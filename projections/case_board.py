"""The case board: one row per case, for ops to see what is due and what is late.

Columns: receipt code, category, channel, status, assignee, the next due moment
(the earliest due of the case's open commitments), whether any commitment of the
case was ever breached, whether it was escalated. No contact, no text.

The status follows the aggregate's rules: `received`, `assigned` on the first
assignment, `answered`, `closed`, back to `assigned` (or `received`) when
reopened, `withdrawn` — which cancels the open commitments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from projections.base import (
    Answered,
    Assigned,
    Closed,
    CommitmentBreached,
    CommitmentExtended,
    CommitmentMet,
    CommitmentRescheduled,
    CommitmentStarted,
    Escalated,
    Reassigned,
    Received,
    Reopened,
    Table,
    View,
    Withdrawn,
    Writer,
    case_id,
)
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView


@dataclass(frozen=True)
class BoardRow:
    receipt_code: str
    category: str
    channel: str
    status: str
    assignee: str | None
    next_due: datetime | None
    breached: bool
    escalated: bool
    received_at: datetime

    @property
    def is_open(self) -> bool:
        return self.status not in ("closed", "withdrawn")

    def overdue(self, now: datetime) -> bool:
        return self.next_due is not None and self.next_due < now


class CaseBoardView(View):
    name = "case_board"
    tables = (
        Table(
            "case_board",
            (
                ("case_id", "text"),
                ("receipt_code", "text"),
                ("category", "text"),
                ("channel", "text"),
                ("status", "text"),
                ("assignee", "text"),
                ("next_due", "moment"),
                ("breached", "boolean"),
                ("escalated", "boolean"),
                ("received_at", "moment"),
            ),
            key=("case_id",),
        ),
        # The latest clock of each kind; a reopened case starts its kinds again.
        Table(
            "case_board_clocks",
            (("case_id", "text"), ("kind", "text"), ("due", "moment"), ("status", "text")),
            key=("case_id", "kind"),
        ),
    )

    def case_received(
        self,
        tracking: Tracking,
        *,
        case: str,
        receipt_code: str,
        category: str,
        channel: str,
        received_at: datetime,
    ) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {case_board} (case_id, receipt_code, category, channel, status, "
                "assignee, next_due, breached, escalated, received_at) VALUES (:case, "
                ":receipt_code, :category, :channel, 'received', NULL, NULL, :no, :no, "
                ":received_at)",
                case=case,
                receipt_code=receipt_code,
                category=category,
                channel=channel,
                no=False,
                received_at=received_at,
            )

    def case_assigned(self, tracking: Tracking, *, case: str, staff: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {case_board} SET assignee = :staff, status = CASE status "
                "WHEN 'received' THEN 'assigned' ELSE status END WHERE case_id = :case",
                case=case,
                staff=staff,
            )

    def status_changed(self, tracking: Tracking, *, case: str, status: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {case_board} SET status = :status WHERE case_id = :case",
                case=case,
                status=status,
            )

    def case_reopened(self, tracking: Tracking, *, case: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {case_board} SET status = CASE WHEN assignee IS NULL "
                "THEN 'received' ELSE 'assigned' END WHERE case_id = :case",
                case=case,
            )

    def case_withdrawn(self, tracking: Tracking, *, case: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {case_board_clocks} SET status = 'cancelled' "
                "WHERE case_id = :case AND status = 'open'",
                case=case,
            )
            tx.execute(
                "UPDATE {case_board} SET status = 'withdrawn' WHERE case_id = :case", case=case
            )
            self._refresh_next_due(tx, case)

    def case_escalated(self, tracking: Tracking, *, case: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {case_board} SET escalated = :yes WHERE case_id = :case",
                case=case,
                yes=True,
            )

    def clock_started(self, tracking: Tracking, *, case: str, kind: str, due: datetime) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {case_board_clocks} (case_id, kind, due, status) "
                "VALUES (:case, :kind, :due, 'open') ON CONFLICT (case_id, kind) "
                "DO UPDATE SET due = excluded.due, status = excluded.status",
                case=case,
                kind=kind,
                due=due,
            )
            self._refresh_next_due(tx, case)

    def clock_moved(self, tracking: Tracking, *, case: str, kind: str, due: datetime) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {case_board_clocks} SET due = :due WHERE case_id = :case AND kind = :kind",
                case=case,
                kind=kind,
                due=due,
            )
            self._refresh_next_due(tx, case)

    def clock_stopped(self, tracking: Tracking, *, case: str, kind: str, kept: bool) -> None:
        """Kept on time, or breached (by the breach timer or by a late answer)."""
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {case_board_clocks} SET status = :status "
                "WHERE case_id = :case AND kind = :kind",
                case=case,
                kind=kind,
                status="met" if kept else "breached",
            )
            if not kept:
                tx.execute(
                    "UPDATE {case_board} SET breached = :yes WHERE case_id = :case",
                    case=case,
                    yes=True,
                )
            self._refresh_next_due(tx, case)

    def _refresh_next_due(self, tx: Writer, case: str) -> None:
        tx.execute(
            "UPDATE {case_board} SET next_due = (SELECT MIN(due) FROM {case_board_clocks} "
            "WHERE case_id = :case AND status = 'open') WHERE case_id = :case",
            case=case,
        )

    def rows(self) -> list[BoardRow]:
        """Every case, the earliest next due first; cases with nothing due last."""
        rows = [
            BoardRow(**{k: v for k, v in row.items() if k != "case_id"})
            for row in self.fetch("case_board")["case_board"]
        ]
        return sorted(rows, key=_by_next_due)


def _by_next_due(row: BoardRow) -> tuple[bool, datetime, str]:
    return (row.next_due is None, row.next_due or row.received_at, row.receipt_code)


class SQLiteCaseBoard(CaseBoardView, SQLiteView):
    pass


class PostgresCaseBoard(CaseBoardView, PostgresView):
    pass


class CaseBoardProjection(Projection[CaseBoardView]):
    name = "case_board"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Received)
    def received(self, event: Any, tracking: Tracking) -> None:
        self.view.case_received(
            tracking,
            case=case_id(event),
            receipt_code=event.receipt_code,
            category=event.category,
            channel=event.channel,
            received_at=event.received_at,
        )

    @process_event.register(Assigned)
    @process_event.register(Reassigned)
    def assigned(self, event: Any, tracking: Tracking) -> None:
        self.view.case_assigned(tracking, case=case_id(event), staff=event.staff)

    @process_event.register(Answered)
    def answered(self, event: Any, tracking: Tracking) -> None:
        self.view.status_changed(tracking, case=case_id(event), status="answered")

    @process_event.register(Closed)
    def closed(self, event: Any, tracking: Tracking) -> None:
        self.view.status_changed(tracking, case=case_id(event), status="closed")

    @process_event.register(Reopened)
    def reopened(self, event: Any, tracking: Tracking) -> None:
        self.view.case_reopened(tracking, case=case_id(event))

    @process_event.register(Withdrawn)
    def withdrawn(self, event: Any, tracking: Tracking) -> None:
        self.view.case_withdrawn(tracking, case=case_id(event))

    @process_event.register(Escalated)
    def escalated(self, event: Any, tracking: Tracking) -> None:
        self.view.case_escalated(tracking, case=case_id(event))

    @process_event.register(CommitmentStarted)
    def commitment_started(self, event: Any, tracking: Tracking) -> None:
        self.view.clock_started(tracking, case=case_id(event), kind=event.kind, due=event.due)

    @process_event.register(CommitmentExtended)
    @process_event.register(CommitmentRescheduled)
    def commitment_moved(self, event: Any, tracking: Tracking) -> None:
        self.view.clock_moved(tracking, case=case_id(event), kind=event.kind, due=event.new_due)

    @process_event.register(CommitmentBreached)
    def commitment_breached(self, event: Any, tracking: Tracking) -> None:
        self.view.clock_stopped(tracking, case=case_id(event), kind=event.kind, kept=False)

    @process_event.register(CommitmentMet)
    def commitment_met(self, event: Any, tracking: Tracking) -> None:
        self.view.clock_stopped(tracking, case=case_id(event), kind=event.kind, kept=event.on_time)
