"""The retention sweep's activity: erase every person whose retention has run out."""

from __future__ import annotations

import structlog
from temporalio import activity

from application.service import Complaints
from workflows.models import SweepInput, SweepResult

log = structlog.get_logger()


class RetentionActivities:
    def __init__(self, complaints: Complaints) -> None:
        self.complaints = complaints

    @activity.defn
    def erase_expired_persons(self, sweep: SweepInput) -> SweepResult:
        assert sweep.as_of is not None, "the workflow stamps the sweep's moment"
        years = self.complaints.policy.retention.personal_data_years_after_close
        reason = f"보존기간 경과: closed more than {years} year(s) ago (개인정보 보호법 §21)"
        erased = []
        for person in self.complaints.expired_persons(sweep.as_of):
            cases = self.complaints.erase_person(
                person, reason=reason, by="retention-sweep", at=sweep.as_of
            )
            # The pseudonym only: who it was is exactly what is being destroyed.
            log.info("person_erased", person_id=person, cases=len(cases), reason="retention")
            erased.append(person)
        return SweepResult(as_of=sweep.as_of, erased=erased)
