"""The access log: one entry for every read of personal data, hash-chained.

One aggregate per day (KST), so writers contend only within a day and a
reader walks the days it asks for. Entries name the person by pseudonym and
never hold the data that was read. Kept at least as long as the policy says
(`retention.access_log_years`); the retention sweep never touches it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from eventsourcing.domain import event

from domain.calendar import to_seoul
from domain.chain import GENESIS
from domain.chained import ChainedAggregate

ACCESS_LOG_NAMESPACE = uuid.UUID("a3c5e1f0-4b6d-4e8a-9c2f-7d1b0e5a3f64")


class AccessLog(ChainedAggregate):
    """The entries of one day."""

    @staticmethod
    def create_id(day: str) -> uuid.UUID:
        return uuid.uuid5(ACCESS_LOG_NAMESPACE, day)

    @classmethod
    def open_day(cls, day: date) -> AccessLog:
        return cls(day=day.isoformat(), prev_digest=GENESIS)

    @event("Opened")
    def __init__(self, day: str, prev_digest: str) -> None:
        self.day = day
        self.entries: list[dict[str, str]] = []

    def record(
        self,
        *,
        actor: str,
        at: datetime,
        origin: str,
        person_id: str,
        case_id: str,
        action: str,
    ) -> None:
        at = to_seoul(at)
        if at.date().isoformat() != self.day:
            raise ValueError(f"an access at {at.isoformat()} is not on {self.day}")
        self._accessed(
            actor=actor, at=at, origin=origin, person_id=person_id, case_id=case_id, action=action
        )

    @event("Accessed")
    def _accessed(
        self, actor: str, at: datetime, origin: str, person_id: str, case_id: str, action: str
    ) -> None:
        self.entries.append(
            {
                "actor": actor,
                "at": at.isoformat(),
                "origin": origin,
                "person_id": person_id,
                "case_id": case_id,
                "action": action,
            }
        )
