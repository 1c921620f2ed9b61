"""The notice outbox: the notices the cases' clocks queued and no one has delivered yet.

A reminder, a breach or an escalation queues who hears of it in the save that
records it (`Complaint.NoticeQueued`); the notice is done once the case records
its delivery (`NoticeSent`) or gives it up (`NoticeFailed`), both under the notice's
id. This view holds the notices in between, one row each, for the outbox that
delivers them (activities.outbox); its rows are deleted as their records arrive.

Who is delivering which row is a claim on it, outside the tracked rows: a deliverer
claims a batch for a while (`claim`), so two workers' outboxes never hold the same
notice at once; a claim that ran out (its deliverer stopped) is taken again.

No personal data: a recipient is "resident" or a staff id or role, never an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.complaint import Complaint
from projections.base import Table, View, Writer, typed_row
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView

NoticeQueued = Complaint.NoticeQueued
NoticeSent = Complaint.NoticeSent
NoticeFailed = Complaint.NoticeFailed


@dataclass(frozen=True)
class QueuedNotice:
    notice_id: str
    case_id: str
    kind: str
    recipient: str
    detail: str
    at: datetime


OUTBOX = Table(
    "notice_outbox",
    (
        ("notice_id", "text"),
        ("case_id", "text"),
        ("kind", "text"),
        ("recipient", "text"),
        ("detail", "text"),
        ("at", "moment"),
        ("seq", "integer"),  # in the log: the order they were queued in
        ("claimed_by", "text"),
        ("claimed_until", "moment"),
    ),
    key=("notice_id",),
)
_NOTICE = ("notice_id", "case_id", "kind", "recipient", "detail", "at")


class NoticeOutboxView(View):
    name = "notice_outbox"
    tables = (OUTBOX,)

    def queued(self, tracking: Tracking, notice: QueuedNotice) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {notice_outbox} (notice_id, case_id, kind, recipient, detail, at, "
                "seq) VALUES (:notice_id, :case_id, :kind, :recipient, :detail, :at, "
                ":seq)",
                seq=tracking.notification_id,
                **notice.__dict__,
            )

    def done(self, tracking: Tracking, notice_id: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "DELETE FROM {notice_outbox} WHERE notice_id = :notice_id", notice_id=notice_id
            )

    def due(self, now: datetime) -> bool:
        """Whether a notice is waiting that no one holds at `now`: read before claiming,
        so an idle outbox never takes the store's write lock."""
        with self._read() as cursor:
            cursor.execute(
                self.dialect(
                    "SELECT notice_id FROM {notice_outbox} "
                    "WHERE claimed_until IS NULL OR claimed_until < :now LIMIT 1"
                ),
                self.adapt({"now": now}),
            )
            return cursor.fetchone() is not None

    def claim(self, by: str, now: datetime, until: datetime, limit: int) -> list[QueuedNotice]:
        """Claim up to `limit` notices no one holds (or whose claim ran out before
        `now`) under the token `by` (one per claim) until `until`, in the order
        they were queued; one transaction."""
        with self._begin() as cursor:
            writer = Writer(self, cursor)
            writer.execute(
                "UPDATE {notice_outbox} SET claimed_by = :by, claimed_until = :until "
                "WHERE notice_id IN (SELECT notice_id FROM {notice_outbox} "
                "WHERE claimed_until IS NULL OR claimed_until < :now "
                "ORDER BY seq LIMIT :limit)",
                by=by,
                until=until,
                now=now,
                limit=limit,
            )
            writer.execute(
                "SELECT notice_id, case_id, kind, recipient, detail, at FROM {notice_outbox} "
                "WHERE claimed_by = :by ORDER BY seq",
                by=by,
            )
            rows = cursor.fetchall()
        return [QueuedNotice(**typed_row(OUTBOX, dict(row))) for row in rows]

    def release(self, notice_ids: list[str], until: datetime) -> None:
        """Hold the notices until `until` (their next try), claimed by no one then."""
        with self._begin() as cursor:
            writer = Writer(self, cursor)
            for notice_id in notice_ids:
                writer.execute(
                    "UPDATE {notice_outbox} SET claimed_by = NULL, claimed_until = :until "
                    "WHERE notice_id = :notice_id",
                    notice_id=notice_id,
                    until=until,
                )

    def waiting(self) -> list[QueuedNotice]:
        """Every notice not yet delivered or given up, in the order they were queued."""
        rows = self.fetch("notice_outbox")["notice_outbox"]
        rows.sort(key=lambda row: row["seq"])
        return [QueuedNotice(**{k: row[k] for k in _NOTICE}) for row in rows]


class SQLiteNoticeOutbox(NoticeOutboxView, SQLiteView):
    pass


class PostgresNoticeOutbox(NoticeOutboxView, PostgresView):
    pass


class NoticeOutboxProjection(Projection[NoticeOutboxView]):
    name = "notice_outbox"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(NoticeQueued)
    def notice_queued(self, event: Any, tracking: Tracking) -> None:
        self.view.queued(
            tracking,
            QueuedNotice(
                notice_id=event.notice_id,
                case_id=str(event.originator_id),
                kind=event.kind,
                recipient=event.recipient,
                detail=event.detail,
                at=event.at,
            ),
        )

    @process_event.register(NoticeSent)
    @process_event.register(NoticeFailed)
    def notice_done(self, event: Any, tracking: Tracking) -> None:
        self.view.done(tracking, event.command_id)
