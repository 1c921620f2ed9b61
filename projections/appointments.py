"""The appointment book: every appointment's time, kind, staff member and status.

For the staff list of today's and tomorrow's appointments. No purpose, contact or
address: those stay sealed in the appointment's own record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.appointment import KINDS, Appointment
from domain.calendar import to_seoul
from projections.base import Table, View, nested
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView

Booked = nested(Appointment, "Booked")
Moved = nested(Appointment, "Moved")
OutcomeRecorded = nested(Appointment, "OutcomeRecorded")


@dataclass(frozen=True)
class BookLine:
    appointment_id: str
    kind: str
    start: datetime
    minutes: int
    staff: str
    status: str
    receipt_code: str | None
    booked_by: str


class AppointmentBookView(View):
    name = "appointment_book"
    tables = (
        Table(
            "appointment_book",
            (
                ("appointment_id", "text"),
                ("kind", "text"),
                ("start", "moment"),
                ("day", "text"),
                ("minutes", "integer"),
                ("staff", "text"),
                ("status", "text"),
                ("receipt_code", "text"),
                ("booked_by", "text"),
            ),
            key=("appointment_id",),
        ),
    )

    def booked(self, tracking: Tracking, line: BookLine) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {appointment_book} (appointment_id, kind, start, day, minutes, "
                "staff, status, receipt_code, booked_by) VALUES (:appointment_id, :kind, "
                ":start, :day, :minutes, :staff, :status, :receipt_code, :booked_by)",
                day=to_seoul(line.start).date().isoformat(),
                **line.__dict__,
            )

    def moved(self, tracking: Tracking, *, appointment: str, start: datetime) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {appointment_book} SET start = :start, day = :day "
                "WHERE appointment_id = :appointment",
                appointment=appointment,
                start=start,
                day=to_seoul(start).date().isoformat(),
            )

    def ended(self, tracking: Tracking, *, appointment: str, status: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {appointment_book} SET status = :status "
                "WHERE appointment_id = :appointment",
                appointment=appointment,
                status=status,
            )

    def lines(self, days: tuple[date, ...] | None = None) -> list[BookLine]:
        """The appointments on `days` (all by default), soonest first."""
        rows = self.fetch()["appointment_book"]
        wanted = None if days is None else {day.isoformat() for day in days}
        return sorted(
            (
                BookLine(**{k: v for k, v in row.items() if k != "day"})
                for row in rows
                if wanted is None or row["day"] in wanted
            ),
            key=lambda line: (line.start, line.appointment_id),
        )

    def year(self, year: int) -> dict[str, dict[str, int]]:
        """The year's appointments (by the day they are for): per kind, how many are
        still booked, done and missed (no-show)."""
        counts = {kind: dict.fromkeys(("booked", "done", "no_show"), 0) for kind in KINDS}
        for line in self.lines():
            if to_seoul(line.start).year == year:
                kind = counts.setdefault(line.kind, {})
                kind[line.status] = kind.get(line.status, 0) + 1
        return counts


class SQLiteAppointmentBook(AppointmentBookView, SQLiteView):
    pass


class PostgresAppointmentBook(AppointmentBookView, PostgresView):
    pass


class AppointmentBookProjection(Projection[AppointmentBookView]):
    name = "appointment_book"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Booked)
    def booked(self, event: Any, tracking: Tracking) -> None:
        self.view.booked(
            tracking,
            BookLine(
                appointment_id=str(event.originator_id),
                kind=event.kind,
                start=event.start,
                minutes=event.minutes,
                staff=event.staff,
                status="booked",
                receipt_code=event.receipt_code,
                booked_by=event.by,
            ),
        )

    @process_event.register(Moved)
    def moved(self, event: Any, tracking: Tracking) -> None:
        self.view.moved(tracking, appointment=str(event.originator_id), start=event.start)

    @process_event.register(OutcomeRecorded)
    def outcome_recorded(self, event: Any, tracking: Tracking) -> None:
        self.view.ended(tracking, appointment=str(event.originator_id), status=event.outcome)
