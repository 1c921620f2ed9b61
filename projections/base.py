"""What every read model shares: its tables, declared once, and how it writes them.

A view is an eventsourcing `TrackingRecorder`: each handler writes the view's rows
and the tracking record of the event in ONE transaction, so an event is counted
exactly once whatever crashes or runs twice. The tracking record is written
first in that transaction: a second projector that reaches the same event waits
for the first one's lock and then finds the position taken (`AlreadyTracked`),
before it has read or written any row.

Views hold no personal data: never a name, contact, complaint text, answer,
finding, note or comment — only codes, categories, staff ids, moments and counts.

The SQL of the views is written once, with `{table}` fields for table names and
`:name` placeholders; the backend classes (`projections.sqlite`,
`projections.postgres`) quote and qualify the names, convert the placeholders and
adapt the values, and own the DDL and the tracking table, which differ.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Protocol

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder

from domain.calendar import to_seoul
from domain.complaint import Complaint

ColumnType = Literal["text", "integer", "boolean", "moment", "real"]


@dataclass(frozen=True)
class Table:
    """One table of a view: columns with their logical types, and the primary key."""

    name: str
    columns: tuple[tuple[str, ColumnType], ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


class AlreadyTracked(IntegrityError):
    """The view has already recorded this position: another projector processed it."""


class Cursor(Protocol):
    """What both backends' cursors offer (sqlite3 through eventsourcing, psycopg)."""

    def execute(self, statement: Any, params: Any = ..., /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> Any: ...


class Writer:
    """The statements a handler runs inside the view's transaction."""

    def __init__(self, view: View, cursor: Cursor) -> None:
        self._view = view
        self._cursor = cursor

    def execute(self, statement: str, **params: Any) -> None:
        self._cursor.execute(self._view.dialect(statement), self._view.adapt(params))

    def one(self, statement: str, **params: Any) -> dict[str, Any] | None:
        self.execute(statement, **params)
        row = self._cursor.fetchone()
        return None if row is None else dict(row)


@dataclass
class _Batch:
    writer: Writer
    claimed: Tracking | None = None
    last: Tracking | None = None


class View(TrackingRecorder, ABC):
    """A read model's tables and tracking record, on one database."""

    name: ClassVar[str]
    """Also the projection's name: the tracking table is `{name}_tracking`."""
    tables: ClassVar[tuple[Table, ...]]

    # Set while a batch is open: handlers then join its transaction.
    _batch: _Batch | None = None

    # -- backend ---------------------------------------------------------------------

    @abstractmethod
    def _begin(self) -> AbstractContextManager[Cursor]:
        """A write transaction, committed when the block ends without error."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Cursor]:
        """A read-only transaction that sees one consistent state of every table."""

    @abstractmethod
    def _track(self, cursor: Cursor, tracking: Tracking) -> None:
        """Record `tracking`; raise AlreadyTracked if that position is already recorded."""

    @abstractmethod
    def _forget(self, cursor: Cursor) -> None:
        """Delete the view's tracking record (its rows are deleted by `reset`)."""

    @abstractmethod
    def dialect(self, statement: str) -> Any:
        """The backend's text of a statement written with `{table}` and `:name`."""

    @abstractmethod
    def adapt(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Parameter values as the backend stores them (moments, booleans)."""

    # -- writing -----------------------------------------------------------------------

    @contextmanager
    def _writing(self, tracking: Tracking) -> Iterator[Writer]:
        """The transaction in which a handler writes rows together with `tracking`."""
        batch = self._batch
        if batch is None:
            with self._begin() as cursor:
                self._track(cursor, tracking)
                yield Writer(self, cursor)
            return
        if batch.claimed is None:
            # The batch's first position is claimed before anything is written, as
            # for a single event; the last one is recorded when the batch ends.
            self._track(batch.writer._cursor, tracking)
            batch.claimed = tracking
        batch.last = tracking
        yield batch.writer

    def insert_tracking(self, tracking: Tracking) -> None:
        """An event this view does not show: its position is still recorded as seen."""
        with self._writing(tracking):
            pass

    @contextmanager
    def batch(self, *, reset: bool = False) -> Iterator[None]:
        """Process several events in one transaction; with `reset`, from an empty view.

        Rows and tracking of every event in the batch commit together or not at
        all, so a batch keeps the exactly-once guarantee of a single event; the
        tracking record is written for the first event (claiming the position)
        and the last. A rebuild is one batch: readers see the old view until the
        new one is complete, and a projector running meanwhile waits, then finds
        its positions taken.
        """
        if self._batch is not None:
            raise RuntimeError(f"view {self.name}: a batch is already open")
        with self._begin() as cursor:
            batch = _Batch(Writer(self, cursor))
            if reset:
                for table in self.tables:
                    batch.writer.execute(f"DELETE FROM {{{table.name}}}")
                self._forget(cursor)
            self._batch = batch
            try:
                yield
                if batch.last is not None and batch.last != batch.claimed:
                    self._track(cursor, batch.last)
            finally:
                self._batch = None

    # -- reading -----------------------------------------------------------------------

    def fetch(self, *table_names: str) -> dict[str, list[dict[str, Any]]]:
        """Every row of the named tables (all by default), typed, ordered by key.

        Read in one transaction, so the tables agree with each other.
        """
        wanted = [t for t in self.tables if not table_names or t.name in table_names]
        result: dict[str, list[dict[str, Any]]] = {}
        with self._read() as cursor:
            for table in wanted:
                columns = ", ".join(table.column_names)
                order = ", ".join(table.key)
                cursor.execute(
                    self.dialect(f"SELECT {columns} FROM {{{table.name}}} ORDER BY {order}")
                )
                result[table.name] = [typed_row(table, dict(row)) for row in cursor.fetchall()]
        return result

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, as tuples: what a rebuilt view must equal."""
        return {name: [tuple(row.values()) for row in rows] for name, rows in self.fetch().items()}


def typed_row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    # SQLite gives text and integers back; PostgreSQL gives moments in the
    # session's zone. Both read back as the same Python values. (Only the columns
    # the row holds: a statement may select some.)
    for name, kind in table.columns:
        value = row.get(name)
        if value is None:
            continue
        if kind == "moment":
            row[name] = to_seoul(
                value if isinstance(value, datetime) else datetime.fromisoformat(value)
            )
        elif kind == "boolean":
            row[name] = bool(value)
        elif kind == "real":
            row[name] = float(value)
    return row


def mean_of(values: Sequence[float]) -> float | None:
    """The mean to two places, as the reports show it; None for no values."""
    return round(sum(values) / len(values), 2) if values else None


def utc_text(moment: datetime) -> str:
    """A moment as fixed-width UTC text: text order is time order (for SQLite)."""
    return to_seoul(moment).astimezone(UTC).isoformat(timespec="microseconds")


# -- events ---------------------------------------------------------------------------


def nested(owner: type[Any], name: str) -> type[Any]:
    # The event classes `@event` makes when an aggregate class is created (the
    # survey's, appointments', conduct's): a type checker cannot see them as attributes.
    event_class: type[Any] = getattr(owner, name)
    return event_class


# A case's events are declared on the class (domain.complaint.aggregate).
Received = Complaint.Received
Assigned = Complaint.Assigned
Reassigned = Complaint.Reassigned
CommitmentStarted = Complaint.CommitmentStarted
CommitmentExtended = Complaint.CommitmentExtended
CommitmentRescheduled = Complaint.CommitmentRescheduled
CommitmentBreached = Complaint.CommitmentBreached
CommitmentMet = Complaint.CommitmentMet
Escalated = Complaint.Escalated
ApologyMade = Complaint.ApologyMade
CorrectiveActionRecorded = Complaint.CorrectiveActionRecorded
Answered = Complaint.Answered
ResultAnnounced = Complaint.ResultAnnounced
Reopened = Complaint.Reopened
Withdrawn = Complaint.Withdrawn
Closed = Complaint.Closed
SatisfactionRated = Complaint.SatisfactionRated


def case_id(domain_event: Any) -> str:
    return str(domain_event.originator_id)


WorkingHours = Callable[[datetime, datetime], float]
