"""The survey's results by year: who was invited, who answered, the scores, and the
improvements decided from them.

Scores are kept per invitation and question with the category of the resident's
latest closed case, so the report can show each question by category and against
the year before. No contact and no free text: those stay sealed in the invitation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.survey import SurveyInvitation, SurveyRound
from projections.base import Table, View, mean_of, nested
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView

RoundStarted = nested(SurveyRound, "Started")
RoundClosed = nested(SurveyRound, "Closed")
ImprovementRecorded = nested(SurveyRound, "ImprovementRecorded")
Invited = nested(SurveyInvitation, "Invited")
Sent = nested(SurveyInvitation, "Sent")
Undeliverable = nested(SurveyInvitation, "Undeliverable")
Answered = nested(SurveyInvitation, "Answered")


@dataclass(frozen=True)
class YearResults:
    year: int
    held: bool = False
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    closed: bool = False
    invited: int = 0
    sent: int = 0
    unreachable: int = 0  # invitations no channel could take
    answered: int = 0
    by_question: dict[str, float | None] = field(default_factory=dict)
    by_category: dict[str, dict[str, float | None]] = field(default_factory=dict)
    improvements: list[str] = field(default_factory=list)


class SurveyResultsView(View):
    name = "survey_results"
    tables = (
        Table(
            "survey_rounds",
            (
                ("year", "integer"),
                ("round_id", "text"),
                ("opens_at", "moment"),
                ("closes_at", "moment"),
                ("closed", "boolean"),
            ),
            key=("year",),
        ),
        Table(
            "survey_invitations",
            (
                ("invitation_id", "text"),
                ("year", "integer"),
                ("category", "text"),
                ("sent", "boolean"),
                ("answered", "boolean"),
            ),
            key=("invitation_id",),
        ),
        # A table of its own, not a column of the one above: a view made before
        # invitations could be undeliverable gains it as it starts, empty, which is
        # right, since no such event was stored before.
        Table("survey_unreachable", (("invitation_id", "text"),), key=("invitation_id",)),
        Table(
            "survey_scores",
            (("invitation_id", "text"), ("question", "text"), ("score", "integer")),
            key=("invitation_id", "question"),
        ),
        Table(
            "survey_improvements",
            (("year", "integer"), ("number", "integer"), ("text", "text")),
            key=("year", "number"),
        ),
    )

    def round_started(
        self,
        tracking: Tracking,
        *,
        year: int,
        round_id: str,
        opens_at: datetime,
        closes_at: datetime,
    ) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {survey_rounds} (year, round_id, opens_at, closes_at, closed) "
                "VALUES (:year, :round_id, :opens_at, :closes_at, :closed)",
                year=year,
                round_id=round_id,
                opens_at=opens_at,
                closes_at=closes_at,
                closed=False,
            )

    def round_closed(self, tracking: Tracking, *, round_id: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {survey_rounds} SET closed = :closed WHERE round_id = :round_id",
                closed=True,
                round_id=round_id,
            )

    def improvement(self, tracking: Tracking, *, round_id: str, version: int, text: str) -> None:
        with self._writing(tracking) as tx:
            row = tx.one(
                "SELECT year FROM {survey_rounds} WHERE round_id = :round_id", round_id=round_id
            )
            if row is None:
                return  # an improvement is recorded on a round that started: never here
            tx.execute(
                "INSERT INTO {survey_improvements} (year, number, text) "
                "VALUES (:year, :number, :text)",
                year=row["year"],
                number=version,
                text=text,
            )

    def invited(self, tracking: Tracking, *, invitation: str, year: int, category: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {survey_invitations} (invitation_id, year, category, sent, answered) "
                "VALUES (:invitation, :year, :category, :no, :no)",
                invitation=invitation,
                year=year,
                category=category,
                no=False,
            )

    def sent(self, tracking: Tracking, *, invitation: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {survey_invitations} SET sent = :yes WHERE invitation_id = :invitation",
                yes=True,
                invitation=invitation,
            )

    def unreachable(self, tracking: Tracking, *, invitation: str) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {survey_unreachable} (invitation_id) VALUES (:invitation)",
                invitation=invitation,
            )

    def answered(self, tracking: Tracking, *, invitation: str, scores: dict[str, int]) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "UPDATE {survey_invitations} SET answered = :yes WHERE invitation_id = :invitation",
                yes=True,
                invitation=invitation,
            )
            for question, score in scores.items():
                tx.execute(
                    "INSERT INTO {survey_scores} (invitation_id, question, score) "
                    "VALUES (:invitation, :question, :score)",
                    invitation=invitation,
                    question=question,
                    score=score,
                )

    def year(self, year: int) -> YearResults:
        tables = self.fetch()
        found = next((r for r in tables["survey_rounds"] if r["year"] == year), None)
        invitations = {
            r["invitation_id"]: r for r in tables["survey_invitations"] if r["year"] == year
        }
        by_question: dict[str, list[int]] = defaultdict(list)
        by_category: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for row in tables["survey_scores"]:
            invitation = invitations.get(row["invitation_id"])
            if invitation is None:
                continue
            by_question[row["question"]].append(row["score"])
            by_category[invitation["category"]][row["question"]].append(row["score"])
        return YearResults(
            year=year,
            held=found is not None,
            opens_at=found["opens_at"] if found else None,
            closes_at=found["closes_at"] if found else None,
            closed=bool(found and found["closed"]),
            invited=len(invitations),
            sent=sum(1 for r in invitations.values() if r["sent"]),
            unreachable=sum(
                1 for r in tables["survey_unreachable"] if r["invitation_id"] in invitations
            ),
            answered=sum(1 for r in invitations.values() if r["answered"]),
            by_question={q: mean_of(scores) for q, scores in sorted(by_question.items())},
            by_category={
                category: {q: mean_of(scores) for q, scores in sorted(questions.items())}
                for category, questions in sorted(by_category.items())
            },
            improvements=[r["text"] for r in tables["survey_improvements"] if r["year"] == year],
        )


class SQLiteSurveyResults(SurveyResultsView, SQLiteView):
    pass


class PostgresSurveyResults(SurveyResultsView, PostgresView):
    pass


class SurveyResultsProjection(Projection[SurveyResultsView]):
    name = "survey_results"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(RoundStarted)
    def round_started(self, event: Any, tracking: Tracking) -> None:
        self.view.round_started(
            tracking,
            year=event.year,
            round_id=str(event.originator_id),
            opens_at=event.opens_at,
            closes_at=event.closes_at,
        )

    @process_event.register(RoundClosed)
    def round_closed(self, event: Any, tracking: Tracking) -> None:
        self.view.round_closed(tracking, round_id=str(event.originator_id))

    @process_event.register(ImprovementRecorded)
    def improvement(self, event: Any, tracking: Tracking) -> None:
        self.view.improvement(
            tracking,
            round_id=str(event.originator_id),
            version=event.originator_version,
            text=event.text,
        )

    @process_event.register(Invited)
    def invited(self, event: Any, tracking: Tracking) -> None:
        self.view.invited(
            tracking, invitation=str(event.originator_id), year=event.year, category=event.category
        )

    @process_event.register(Sent)
    def sent(self, event: Any, tracking: Tracking) -> None:
        self.view.sent(tracking, invitation=str(event.originator_id))

    @process_event.register(Undeliverable)
    def unreachable(self, event: Any, tracking: Tracking) -> None:
        self.view.unreachable(tracking, invitation=str(event.originator_id))

    @process_event.register(Answered)
    def answered(self, event: Any, tracking: Tracking) -> None:
        self.view.answered(tracking, invitation=str(event.originator_id), scores=event.scores)
