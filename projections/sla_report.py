"""The SLA report: how the charter's commitments were kept, per month and kind.

One row is stored per commitment (a reopened case starts its kinds again: a new
row, keyed by the version of its `CommitmentStarted` event), with its outcome and,
once kept, the working hours it took (`BusinessCalendar.working_hours_between`,
from its start to the moment it was kept). The report is computed from those
rows, so medians and percentiles are exact.

Outcomes, which add up to `started`:
- `met` — kept by its original deadline;
- `met_after_interim` — extended by an interim reply (중간회신), then kept by the new one;
- `breached` — its deadline passed unkept (the breach timer fired, or it was kept late);
- `open` — still running; `cancelled` — the case was withdrawn while it ran.

`extended` counts the commitments extended, whatever their outcome. A month is
the month (Asia/Seoul) in which the commitment started.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.calendar import BusinessCalendar, to_seoul
from projections.base import (
    CommitmentBreached,
    CommitmentExtended,
    CommitmentMet,
    CommitmentRescheduled,
    CommitmentStarted,
    Table,
    View,
    Withdrawn,
    WorkingHours,
    case_id,
)
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView

OUTCOMES = ("met", "met_after_interim", "breached", "open", "cancelled")

# The latest commitment of a kind on a case: the one its later events are about.
_LATEST = (
    "case_id = :case AND kind = :kind AND started_version = "
    "(SELECT MAX(started_version) FROM {sla_commitments} WHERE case_id = :case AND kind = :kind)"
)


@dataclass(frozen=True)
class SlaLine:
    """One month and kind of the report (or one kind of a year, `month` then being the year)."""

    month: str
    kind: str
    started: int
    met: int
    met_after_interim: int
    breached: int
    open: int
    cancelled: int
    extended: int
    median_hours: float | None
    p90_hours: float | None


class SlaReportView(View):
    name = "sla_report"
    tables = (
        Table(
            "sla_commitments",
            (
                ("case_id", "text"),
                ("kind", "text"),
                ("started_version", "integer"),
                ("month", "text"),
                ("started_at", "moment"),
                ("due", "moment"),
                ("extensions", "integer"),
                ("status", "text"),
                ("kept_at", "moment"),
                ("on_time", "boolean"),
                ("working_hours", "real"),
            ),
            key=("case_id", "kind", "started_version"),
        ),
    )

    def commitment_started(
        self,
        tracking: Tracking,
        *,
        case: str,
        kind: str,
        version: int,
        started_at: datetime,
        due: datetime,
    ) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {sla_commitments} (case_id, kind, started_version, month, "
                "started_at, due, extensions, status, kept_at, on_time, working_hours) "
                "VALUES (:case, :kind, :version, :month, :started_at, :due, 0, 'open', "
                "NULL, NULL, NULL)",
                case=case,
                kind=kind,
                version=version,
                month=to_seoul(started_at).strftime("%Y-%m"),
                started_at=started_at,
                due=due,
            )

    def commitment_extended(
        self, tracking: Tracking, *, case: str, kind: str, due: datetime, extended: bool = True
    ) -> None:
        """The due moved: by an interim reply (`extended`), or by the calendar."""
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {sla_commitments} SET due = :due, extensions = extensions + :counted "
                f"WHERE {_LATEST}",
                case=case,
                kind=kind,
                due=due,
                counted=1 if extended else 0,
            )

    def commitment_breached(self, tracking: Tracking, *, case: str, kind: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                f"UPDATE {{sla_commitments}} SET status = 'breached' WHERE {_LATEST}",
                case=case,
                kind=kind,
            )

    def commitment_kept(
        self,
        tracking: Tracking,
        *,
        case: str,
        kind: str,
        on_time: bool,
        kept_at: datetime,
        working_hours: WorkingHours,
    ) -> None:
        with self._writing(tracking) as tx:
            row = tx.one(
                f"SELECT started_at FROM {{sla_commitments}} WHERE {_LATEST}", case=case, kind=kind
            )
            if row is None:
                raise LookupError(f"case {case}: '{kind}' kept but never started")
            started_at = _moment(row["started_at"])
            tx.execute(
                "UPDATE {sla_commitments} SET kept_at = :kept_at, on_time = :on_time, "
                "working_hours = :hours, status = CASE WHEN :on_time THEN 'met' ELSE 'breached' "
                f"END WHERE {_LATEST}",
                case=case,
                kind=kind,
                kept_at=kept_at,
                on_time=on_time,
                hours=working_hours(started_at, kept_at),
            )

    def case_withdrawn(self, tracking: Tracking, *, case: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {sla_commitments} SET status = 'cancelled' "
                "WHERE case_id = :case AND status = 'open'",
                case=case,
            )

    # -- reading -----------------------------------------------------------------------

    def commitments(self) -> list[dict[str, Any]]:
        return self.fetch("sla_commitments")["sla_commitments"]

    def monthly(self, year: int | None = None) -> list[SlaLine]:
        """The report by month and kind, months in order; one year's months if given."""
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in self.commitments():
            if year is None or row["month"].startswith(f"{year}-"):
                groups.setdefault((row["month"], row["kind"]), []).append(row)
        return [summarise(month, kind, rows) for (month, kind), rows in sorted(groups.items())]

    def yearly(self, year: int) -> list[SlaLine]:
        """One year's commitments (by the month they started), by kind."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in self.commitments():
            if row["month"].startswith(f"{year}-"):
                groups.setdefault(row["kind"], []).append(row)
        return [summarise(str(year), kind, rows) for kind, rows in sorted(groups.items())]


def outcome(row: dict[str, Any]) -> str:
    if row["status"] == "met":
        return "met_after_interim" if row["extensions"] else "met"
    return str(row["status"])


def summarise(month: str, kind: str, rows: list[dict[str, Any]]) -> SlaLine:
    counts = dict.fromkeys(OUTCOMES, 0)
    for row in rows:
        counts[outcome(row)] += 1
    hours = [row["working_hours"] for row in rows if row["working_hours"] is not None]
    return SlaLine(
        month=month,
        kind=kind,
        started=len(rows),
        extended=sum(1 for row in rows if row["extensions"]),
        median_hours=statistics.median(hours) if hours else None,
        p90_hours=percentile(hours, 90),
        **counts,
    )


def percentile(values: Iterable[float], p: int) -> float | None:
    """The nearest-rank percentile: a value that occurred, at rank ⌈p/100 · n⌉."""
    ordered = sorted(values)
    if not ordered:
        return None
    # Integer arithmetic: 90/100 · 10 in floating point is a hair above 9.
    rank = max(1, -(-p * len(ordered) // 100))
    return ordered[rank - 1]


def _moment(value: Any) -> datetime:
    # Read inside the writing transaction, before the view's typed reading applies.
    return to_seoul(value if isinstance(value, datetime) else datetime.fromisoformat(value))


class SQLiteSlaReport(SlaReportView, SQLiteView):
    pass


class PostgresSlaReport(SlaReportView, PostgresView):
    pass


class SlaReportProjection(Projection[SlaReportView]):
    name = "sla_report"
    calendar: ClassVar[BusinessCalendar | None] = None

    @classmethod
    def counting_with(cls, calendar: BusinessCalendar) -> type[SlaReportProjection]:
        """This projection counting working hours with `calendar`.

        `ProjectionRunner` builds a projection from its class and view alone, so
        the calendar travels on a subclass.
        """
        bound: type[SlaReportProjection] = type(
            cls.__name__, (cls,), {"name": cls.name, "calendar": calendar}
        )
        return bound

    def __init__(self, view: SlaReportView) -> None:
        super().__init__(view)
        if self.calendar is None:
            raise TypeError("use SlaReportProjection.counting_with(calendar)")
        self.working_hours: WorkingHours = self.calendar.working_hours_between

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(CommitmentStarted)
    def commitment_started(self, event: Any, tracking: Tracking) -> None:
        self.view.commitment_started(
            tracking,
            case=case_id(event),
            kind=event.kind,
            version=event.originator_version,
            started_at=event.at,
            due=event.due,
        )

    @process_event.register(CommitmentExtended)
    @process_event.register(CommitmentRescheduled)
    def commitment_moved(self, event: Any, tracking: Tracking) -> None:
        self.view.commitment_extended(
            tracking,
            case=case_id(event),
            kind=event.kind,
            due=event.new_due,
            extended=isinstance(event, CommitmentExtended),
        )

    @process_event.register(CommitmentBreached)
    def commitment_breached(self, event: Any, tracking: Tracking) -> None:
        self.view.commitment_breached(tracking, case=case_id(event), kind=event.kind)

    @process_event.register(CommitmentMet)
    def commitment_met(self, event: Any, tracking: Tracking) -> None:
        self.view.commitment_kept(
            tracking,
            case=case_id(event),
            kind=event.kind,
            on_time=event.on_time,
            kept_at=event.at,
            working_hours=self.working_hours,
        )

    @process_event.register(Withdrawn)
    def withdrawn(self, event: Any, tracking: Tracking) -> None:
        self.view.case_withdrawn(tracking, case=case_id(event))
