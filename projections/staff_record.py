"""The staff record: per staff member, the cases handled and how they went.

- cases handled: cases the staff member was ever assigned to (routing on intake,
  assignment or reassignment alike), each counted once;
- breaches: commitments breached while the case was assigned to them — a
  commitment counts once, whether the breach timer fired, it was kept late, or both;
- commendations: cases whose satisfaction score is 5 (매우 만족), credited to the
  case's assignee when it was rated. The latest rating of a case counts, so a
  case re-rated from 5 to 3 is no longer a commendation;
- corrective actions recorded against them, by kind (주의 warning, 교육 training).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from projections.base import (
    Assigned,
    CommitmentBreached,
    CommitmentMet,
    CommitmentStarted,
    CorrectiveActionRecorded,
    Reassigned,
    SatisfactionRated,
    Table,
    View,
    Writer,
    case_id,
)
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView

COMMENDATION_SCORE = 5


@dataclass(frozen=True)
class StaffLine:
    staff: str
    cases_handled: int
    breaches: int
    commendations: int
    warnings: int
    trainings: int


class StaffRecordView(View):
    name = "staff_record"
    tables = (
        # Who holds each case now, and the latest clock of each kind on it.
        Table("staff_cases", (("case_id", "text"), ("assignee", "text")), key=("case_id",)),
        Table(
            "staff_clocks",
            (("case_id", "text"), ("kind", "text"), ("started_version", "integer")),
            key=("case_id", "kind"),
        ),
        Table(
            "staff_assignments", (("staff", "text"), ("case_id", "text")), key=("staff", "case_id")
        ),
        Table(
            "staff_breaches",
            (
                ("case_id", "text"),
                ("kind", "text"),
                ("started_version", "integer"),
                ("staff", "text"),
                ("breached_at", "moment"),
            ),
            key=("case_id", "kind", "started_version"),
        ),
        Table(
            "staff_ratings",
            (("case_id", "text"), ("staff", "text"), ("score", "integer")),
            key=("case_id",),
        ),
        Table(
            "staff_corrective_actions",
            (("case_id", "text"), ("version", "integer"), ("staff", "text"), ("action", "text")),
            key=("case_id", "version"),
        ),
    )

    def case_assigned(self, tracking: Tracking, *, case: str, staff: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {staff_cases} (case_id, assignee) VALUES (:case, :staff) "
                "ON CONFLICT (case_id) DO UPDATE SET assignee = excluded.assignee",
                case=case,
                staff=staff,
            )
            tx.execute(
                "INSERT INTO {staff_assignments} (staff, case_id) VALUES (:staff, :case) "
                "ON CONFLICT (staff, case_id) DO NOTHING",
                case=case,
                staff=staff,
            )

    def clock_started(self, tracking: Tracking, *, case: str, kind: str, version: int) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {staff_clocks} (case_id, kind, started_version) "
                "VALUES (:case, :kind, :version) ON CONFLICT (case_id, kind) "
                "DO UPDATE SET started_version = excluded.started_version",
                case=case,
                kind=kind,
                version=version,
            )

    def clock_breached(self, tracking: Tracking, *, case: str, kind: str, at: datetime) -> None:
        with self._writing(tracking) as tx:
            assignee = self._assignee(tx, case)
            if assignee is None:
                return  # nobody held the case: a breach of the center, not of a person
            # A breach already counted (the timer, then a late answer) is not counted again.
            tx.execute(
                "INSERT INTO {staff_breaches} (case_id, kind, started_version, staff, breached_at) "
                "SELECT case_id, kind, started_version, :staff, :at FROM {staff_clocks} "
                "WHERE case_id = :case AND kind = :kind "
                "ON CONFLICT (case_id, kind, started_version) DO NOTHING",
                case=case,
                kind=kind,
                staff=assignee,
                at=at,
            )

    def case_rated(self, tracking: Tracking, *, case: str, score: int) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {staff_ratings} (case_id, staff, score) "
                "VALUES (:case, :staff, :score) ON CONFLICT (case_id) "
                "DO UPDATE SET staff = excluded.staff, score = excluded.score",
                case=case,
                staff=self._assignee(tx, case),
                score=score,
            )

    def corrective_action_recorded(
        self, tracking: Tracking, *, case: str, version: int, staff: str, action: str
    ) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {staff_corrective_actions} (case_id, version, staff, action) "
                "VALUES (:case, :version, :staff, :action)",
                case=case,
                version=version,
                staff=staff,
                action=action,
            )

    def _assignee(self, tx: Writer, case: str) -> str | None:
        row = tx.one("SELECT assignee FROM {staff_cases} WHERE case_id = :case", case=case)
        return None if row is None else row["assignee"]

    def ratings_of(self, staff: str) -> list[int]:
        """The latest score of each rated case credited to `staff`."""
        rows = self.fetch("staff_ratings")["staff_ratings"]
        return [row["score"] for row in rows if row["staff"] == staff]

    def lines(self) -> list[StaffLine]:
        """One line per staff member who appears in any of the counts, by staff id."""
        tables = self.fetch(
            "staff_assignments", "staff_breaches", "staff_ratings", "staff_corrective_actions"
        )
        counts: dict[str, dict[str, int]] = {}

        def add(staff: str | None, measure: str) -> None:
            if staff is not None:
                line = counts.setdefault(staff, dict.fromkeys(_MEASURES, 0))
                line[measure] += 1

        for row in tables["staff_assignments"]:
            add(row["staff"], "cases_handled")
        for row in tables["staff_breaches"]:
            add(row["staff"], "breaches")
        for row in tables["staff_ratings"]:
            if row["score"] == COMMENDATION_SCORE:
                add(row["staff"], "commendations")
        for row in tables["staff_corrective_actions"]:
            add(row["staff"], f"{row['action']}s")
        return [StaffLine(staff=staff, **counts[staff]) for staff in sorted(counts)]


_MEASURES = ("cases_handled", "breaches", "commendations", "warnings", "trainings")


class SQLiteStaffRecord(StaffRecordView, SQLiteView):
    pass


class PostgresStaffRecord(StaffRecordView, PostgresView):
    pass


class StaffRecordProjection(Projection[StaffRecordView]):
    name = "staff_record"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Assigned)
    @process_event.register(Reassigned)
    def assigned(self, event: Any, tracking: Tracking) -> None:
        self.view.case_assigned(tracking, case=case_id(event), staff=event.staff)

    @process_event.register(CommitmentStarted)
    def commitment_started(self, event: Any, tracking: Tracking) -> None:
        self.view.clock_started(
            tracking, case=case_id(event), kind=event.kind, version=event.originator_version
        )

    @process_event.register(CommitmentBreached)
    def commitment_breached(self, event: Any, tracking: Tracking) -> None:
        self.view.clock_breached(tracking, case=case_id(event), kind=event.kind, at=event.at)

    @process_event.register(CommitmentMet)
    def commitment_met(self, event: Any, tracking: Tracking) -> None:
        if event.on_time:
            self.view.insert_tracking(tracking)
        else:
            self.view.clock_breached(tracking, case=case_id(event), kind=event.kind, at=event.at)

    @process_event.register(SatisfactionRated)
    def satisfaction_rated(self, event: Any, tracking: Tracking) -> None:
        self.view.case_rated(tracking, case=case_id(event), score=event.score)

    @process_event.register(CorrectiveActionRecorded)
    def corrective_action_recorded(self, event: Any, tracking: Tracking) -> None:
        self.view.corrective_action_recorded(
            tracking,
            case=case_id(event),
            version=event.originator_version,
            staff=event.staff,
            action=event.action,
        )
