"""Public notices: results and public apologies for the center's homepage (헌장 5).

A notice shows the case's receipt code (so the resident recognises their own
case), a public number (`2026-0001`: the year of the case's first notice and its
order in that year's notices), the category, and:
- the result summary staff wrote for the public (`ResultAnnounced.summary`, the
  latest one if announced again);
- that a public apology (mode `public`) was made, and when — never its note.
  `ApologyMade.note` is free text staff write about the case, and the domain
  holds it as personal data (sealed with the person's key, erasable); a copy on
  the homepage would outlive an erasure. Words meant for the public go in the
  result summary, which staff write for the public by design. Apologies in
  person or by phone are not shown at all.

Nothing else: never a name, contact, complaint text, answer, finding, note or comment.
A private (비공개) case never appears — its receipt code and category are not
even stored here, so nothing about it can leak from this view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.calendar import to_seoul
from projections.base import (
    ApologyMade,
    Received,
    ResultAnnounced,
    Table,
    View,
    Writer,
    case_id,
)
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView


@dataclass(frozen=True)
class Notice:
    number: str
    receipt_code: str
    category: str
    summary: str | None
    announced_at: datetime | None
    public_apology: bool
    apologised_at: datetime | None


class PublicNoticesView(View):
    name = "public_notices"
    tables = (
        # The public cases only: a notice is made for a case found here.
        Table(
            "public_cases",
            (("case_id", "text"), ("receipt_code", "text"), ("category", "text")),
            key=("case_id",),
        ),
        Table(
            "public_notices",
            (
                ("case_id", "text"),
                ("year", "integer"),
                ("seq", "integer"),
                ("receipt_code", "text"),
                ("category", "text"),
                ("summary", "text"),
                ("announced_at", "moment"),
                ("public_apology", "boolean"),
                ("apologised_at", "moment"),
            ),
            key=("case_id",),
        ),
    )

    def public_case_received(
        self, tracking: Tracking, *, case: str, receipt_code: str, category: str
    ) -> None:
        with self._writing(tracking) as tx:
            tx.execute(
                "INSERT INTO {public_cases} (case_id, receipt_code, category) "
                "VALUES (:case, :receipt_code, :category)",
                case=case,
                receipt_code=receipt_code,
                category=category,
            )

    def result_announced(
        self, tracking: Tracking, *, case: str, summary: str, at: datetime
    ) -> None:
        with self._writing(tracking) as tx:
            if self._notice_for(tx, case, at):
                tx.execute(
                    "UPDATE {public_notices} SET summary = :summary, announced_at = :at "
                    "WHERE case_id = :case",
                    case=case,
                    summary=summary,
                    at=at,
                )

    def public_apology_made(self, tracking: Tracking, *, case: str, at: datetime) -> None:
        with self._writing(tracking) as tx:
            if self._notice_for(tx, case, at):
                tx.execute(
                    "UPDATE {public_notices} SET public_apology = :yes, apologised_at = :at "
                    "WHERE case_id = :case",
                    case=case,
                    yes=True,
                    at=at,
                )

    def _notice_for(self, tx: Writer, case: str, at: datetime) -> bool:
        """Make sure the case has a notice; False for a case that is not public."""
        if tx.one("SELECT 1 AS found FROM {public_notices} WHERE case_id = :case", case=case):
            return True
        public = tx.one(
            "SELECT receipt_code, category FROM {public_cases} WHERE case_id = :case", case=case
        )
        if public is None:
            return False
        year = to_seoul(at).year
        # Numbered in the order of the notification log, so a rebuild numbers alike.
        last = tx.one("SELECT MAX(seq) AS seq FROM {public_notices} WHERE year = :year", year=year)
        seq = (last["seq"] if last and last["seq"] is not None else 0) + 1
        tx.execute(
            "INSERT INTO {public_notices} (case_id, year, seq, receipt_code, category, summary, "
            "announced_at, public_apology, apologised_at) VALUES (:case, :year, :seq, "
            ":receipt_code, :category, NULL, NULL, :no, NULL)",
            case=case,
            year=year,
            seq=seq,
            receipt_code=public["receipt_code"],
            category=public["category"],
            no=False,
        )
        return True

    def notices(self) -> list[Notice]:
        """Every notice, newest number first within a year, latest year first."""
        rows = self.fetch("public_notices")["public_notices"]
        rows.sort(key=lambda row: (row["year"], row["seq"]), reverse=True)
        return [
            Notice(
                number=f"{row['year']}-{row['seq']:04d}",
                receipt_code=row["receipt_code"],
                category=row["category"],
                summary=row["summary"],
                announced_at=row["announced_at"],
                public_apology=row["public_apology"],
                apologised_at=row["apologised_at"],
            )
            for row in rows
        ]


class SQLitePublicNotices(PublicNoticesView, SQLiteView):
    pass


class PostgresPublicNotices(PublicNoticesView, PostgresView):
    pass


class PublicNoticesProjection(Projection[PublicNoticesView]):
    name = "public_notices"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register(Received)
    def received(self, event: Any, tracking: Tracking) -> None:
        if event.private:
            self.view.insert_tracking(tracking)
            return
        self.view.public_case_received(
            tracking,
            case=case_id(event),
            receipt_code=event.receipt_code,
            category=event.category,
        )

    @process_event.register(ResultAnnounced)
    def result_announced(self, event: Any, tracking: Tracking) -> None:
        self.view.result_announced(
            tracking, case=case_id(event), summary=event.summary, at=event.at
        )

    @process_event.register(ApologyMade)
    def apology_made(self, event: Any, tracking: Tracking) -> None:
        if event.mode != "public":
            self.view.insert_tracking(tracking)
            return
        self.view.public_apology_made(tracking, case=case_id(event), at=event.at)
