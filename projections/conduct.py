"""The staff's conduct by year: monitoring calls, what low scores led to, and awards.

Kept for the compliance report's monitoring and award sections and for the staff
record. Only staff ids, moments, scores, action kinds and award titles; never the
evaluator's note or the director's reason (sealed under the staff member's key).
A call counts in the year it was made, an award in the year it was given (Seoul).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.calendar import to_seoul
from domain.conduct import CHECKLIST, CORRECTIVE_ACTIONS, Award, MonitoringCall
from projections.base import Table, View, mean_of, nested
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView

CallRecorded = nested(MonitoringCall, "Recorded")
CorrectiveActionTaken = nested(MonitoringCall, "CorrectiveActionTaken")
AwardGranted = nested(Award, "Granted")


@dataclass(frozen=True)
class AwardLine:
    staff: str
    title: str
    granted_at: datetime
    by: str


@dataclass(frozen=True)
class ConductYear:
    """One year's monitoring and awards, as the compliance report shows them."""

    year: int
    calls: int = 0
    average: float | None = None
    low: int = 0
    # Each checklist item: its average over the calls that scored it.
    items: dict[str, float | None] = field(default_factory=dict)
    corrective_actions: dict[str, int] = field(default_factory=dict)
    # Low calls with no corrective action recorded (yet).
    low_without_action: int = 0
    awards: list[AwardLine] = field(default_factory=list)


@dataclass(frozen=True)
class StaffConduct:
    """One staff member's monitoring and awards, over every year."""

    monitoring_calls: int = 0
    monitoring_average: float | None = None
    warnings: int = 0
    trainings: int = 0
    awards: int = 0


class ConductView(View):
    name = "conduct"
    tables = (
        Table(
            "conduct_calls",
            (
                ("call_id", "text"),
                ("staff", "text"),
                ("called_at", "moment"),
                ("year", "integer"),
                ("score", "real"),
                ("low", "boolean"),
                ("action", "text"),
            ),
            key=("call_id",),
        ),
        Table(
            "conduct_call_items",
            (("call_id", "text"), ("item", "text"), ("score", "integer")),
            key=("call_id", "item"),
        ),
        Table(
            "conduct_awards",
            (
                ("award_id", "text"),
                ("staff", "text"),
                ("title", "text"),
                ("granted_at", "moment"),
                ("year", "integer"),
                ("granted_by", "text"),
            ),
            key=("award_id",),
        ),
    )

    def call_recorded(
        self,
        tracking: Tracking,
        *,
        call: str,
        staff: str,
        called_at: datetime,
        score: float,
        low: bool,
        scores: dict[str, int | None],
    ) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {conduct_calls} (call_id, staff, called_at, year, score, low) "
                "VALUES (:call, :staff, :called_at, :year, :score, :low)",
                call=call,
                staff=staff,
                called_at=called_at,
                year=to_seoul(called_at).year,
                score=score,
                low=low,
            )
            for item, value in scores.items():
                if value is not None:
                    tx.execute(
                        "INSERT INTO {conduct_call_items} (call_id, item, score) "
                        "VALUES (:call, :item, :score)",
                        call=call,
                        item=item,
                        score=value,
                    )

    def corrective_action_taken(self, tracking: Tracking, *, call: str, action: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {conduct_calls} SET action = :action WHERE call_id = :call",
                call=call,
                action=action,
            )

    def award_granted(
        self, tracking: Tracking, *, award: str, staff: str, title: str, at: datetime, by: str
    ) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {conduct_awards} "
                "(award_id, staff, title, granted_at, year, granted_by) "
                "VALUES (:award, :staff, :title, :at, :year, :by)",
                award=award,
                staff=staff,
                title=title,
                at=at,
                year=to_seoul(at).year,
                by=by,
            )

    def year(self, year: int) -> ConductYear:
        tables = self.fetch()
        calls = [row for row in tables["conduct_calls"] if row["year"] == year]
        ids = {row["call_id"] for row in calls}
        by_item: dict[str, list[float]] = defaultdict(list)
        for row in tables["conduct_call_items"]:
            if row["call_id"] in ids:
                by_item[row["item"]].append(row["score"])
        actions = [row["action"] for row in calls if row["action"]]
        awards = sorted(
            (
                AwardLine(row["staff"], row["title"], row["granted_at"], row["granted_by"])
                for row in tables["conduct_awards"]
                if row["year"] == year
            ),
            key=lambda line: line.granted_at,
        )
        return ConductYear(
            year=year,
            calls=len(calls),
            average=mean_of([row["score"] for row in calls]),
            low=sum(1 for row in calls if row["low"]),
            items={item: mean_of(by_item[item]) for item in CHECKLIST},
            corrective_actions={kind: actions.count(kind) for kind in CORRECTIVE_ACTIONS},
            low_without_action=sum(1 for row in calls if row["low"] and not row["action"]),
            awards=awards,
        )

    def of_staff(self, year: int | None = None) -> dict[str, StaffConduct]:
        """Per staff member (in one year, or all years): calls, their average, what
        low scores led to, awards."""
        tables = self.fetch("conduct_calls", "conduct_awards")
        scores: dict[str, list[float]] = defaultdict(list)
        actions: dict[str, list[str]] = defaultdict(list)
        awards: dict[str, int] = defaultdict(int)
        for row in tables["conduct_calls"]:
            if year is None or row["year"] == year:
                scores[row["staff"]].append(row["score"])
                if row["action"]:
                    actions[row["staff"]].append(row["action"])
        for row in tables["conduct_awards"]:
            if year is None or row["year"] == year:
                awards[row["staff"]] += 1
        return {
            staff: StaffConduct(
                monitoring_calls=len(scores[staff]),
                monitoring_average=mean_of(scores[staff]),
                warnings=actions[staff].count("warning"),
                trainings=actions[staff].count("training"),
                awards=awards[staff],
            )
            for staff in sorted({*scores, *awards})
        }


class SQLiteConduct(ConductView, SQLiteView):
    pass


class PostgresConduct(ConductView, PostgresView):
    pass


class ConductProjection(Projection[ConductView]):
    name = "conduct"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(CallRecorded)
    def call_recorded(self, event: Any, tracking: Tracking) -> None:
        self.view.call_recorded(
            tracking,
            call=str(event.originator_id),
            staff=event.staff,
            called_at=event.called_at,
            score=event.score,
            low=event.low,
            scores=event.scores,
        )

    @process_event.register(CorrectiveActionTaken)
    def corrective_action_taken(self, event: Any, tracking: Tracking) -> None:
        self.view.corrective_action_taken(
            tracking, call=str(event.originator_id), action=event.action
        )

    @process_event.register(AwardGranted)
    def award_granted(self, event: Any, tracking: Tracking) -> None:
        self.view.award_granted(
            tracking,
            award=str(event.originator_id),
            staff=event.staff,
            title=event.title,
            at=event.at,
            by=event.by,
        )
