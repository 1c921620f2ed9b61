"""The charter's other facts for the yearly self-assessment, by year (Asia/Seoul).

The SLA report keeps the commitments; this view keeps what the compliance
report counts besides them: escalations (by what triggered them), apologies (by
mode), corrective actions (by kind) and satisfaction ratings. Each is dated by
the moment it happened. A case's latest rating is its rating: one rating per
case, in the year it was given. No notes, reasons or comments are kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.calendar import to_seoul
from domain.complaint import APOLOGY_MODES, CORRECTIVE_KINDS
from projections.base import (
    ApologyMade,
    CorrectiveActionRecorded,
    Escalated,
    SatisfactionRated,
    Table,
    View,
    case_id,
)
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView

TRIGGERS = ("deadline", "manual")
SCORES = (1, 2, 3, 4, 5)


def _facts(name: str, detail: str) -> Table:
    return Table(
        name,
        (("case_id", "text"), ("version", "integer"), (detail, "text"), ("year", "integer")),
        key=("case_id", "version"),
    )


@dataclass(frozen=True)
class YearFacts:
    year: int
    escalations: dict[str, int] = field(default_factory=dict)
    apologies: dict[str, int] = field(default_factory=dict)
    corrective_actions: dict[str, int] = field(default_factory=dict)
    ratings: dict[int, int] = field(default_factory=dict)

    @property
    def rating_count(self) -> int:
        return sum(self.ratings.values())

    @property
    def rating_average(self) -> float | None:
        count = self.rating_count
        if not count:
            return None
        return sum(score * n for score, n in self.ratings.items()) / count


class ComplianceView(View):
    name = "compliance"
    tables = (
        _facts("compliance_escalations", "triggered_by"),
        _facts("compliance_apologies", "mode"),
        _facts("compliance_corrective_actions", "action"),
        Table(
            "compliance_ratings",
            (("case_id", "text"), ("score", "integer"), ("year", "integer")),
            key=("case_id",),
        ),
    )

    def fact_recorded(
        self,
        tracking: Tracking,
        *,
        table: str,
        case: str,
        version: int,
        detail: str,
        at: datetime,
    ) -> None:
        column = next(t.columns[2][0] for t in self.tables if t.name == table)
        with self._writing(tracking) as tx:
            tx.execute(
                f"INSERT INTO {{{table}}} (case_id, version, {column}, year) "
                "VALUES (:case, :version, :detail, :year)",
                case=case,
                version=version,
                detail=detail,
                year=to_seoul(at).year,
            )

    def case_rated(self, tracking: Tracking, *, case: str, score: int, at: datetime) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {compliance_ratings} (case_id, score, year) "
                "VALUES (:case, :score, :year) ON CONFLICT (case_id) "
                "DO UPDATE SET score = excluded.score, year = excluded.year",
                case=case,
                score=score,
                year=to_seoul(at).year,
            )

    def year(self, year: int) -> YearFacts:
        tables = self.fetch()

        def count(table: str, column: str, keys: tuple[Any, ...]) -> dict[Any, int]:
            found = Counter(row[column] for row in tables[table] if row["year"] == year)
            # Every known key is shown, with 0, and anything unexpected after them.
            return {key: found.pop(key, 0) for key in keys} | dict(sorted(found.items()))

        return YearFacts(
            year=year,
            escalations=count("compliance_escalations", "triggered_by", TRIGGERS),
            apologies=count("compliance_apologies", "mode", APOLOGY_MODES),
            corrective_actions=count("compliance_corrective_actions", "action", CORRECTIVE_KINDS),
            ratings=count("compliance_ratings", "score", SCORES),
        )


class SQLiteCompliance(ComplianceView, SQLiteView):
    pass


class PostgresCompliance(ComplianceView, PostgresView):
    pass


class ComplianceProjection(Projection[ComplianceView]):
    name = "compliance"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    def _fact(self, table: str, event: Any, detail: str, tracking: Tracking) -> None:
        self.view.fact_recorded(
            tracking,
            table=table,
            case=case_id(event),
            version=event.originator_version,
            detail=detail,
            at=event.at,
        )

    @process_event.register(Escalated)
    def escalated(self, event: Any, tracking: Tracking) -> None:
        self._fact("compliance_escalations", event, event.trigger, tracking)

    @process_event.register(ApologyMade)
    def apology_made(self, event: Any, tracking: Tracking) -> None:
        self._fact("compliance_apologies", event, event.mode, tracking)

    @process_event.register(CorrectiveActionRecorded)
    def corrective_action_recorded(self, event: Any, tracking: Tracking) -> None:
        self._fact("compliance_corrective_actions", event, event.action, tracking)

    @process_event.register(SatisfactionRated)
    def satisfaction_rated(self, event: Any, tracking: Tracking) -> None:
        self.view.case_rated(tracking, case=case_id(event), score=event.score, at=event.at)
