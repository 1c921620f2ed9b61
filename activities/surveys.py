"""What a year's survey workflow does outside itself: read the plan, start the round,
send the invitations, close it, warn when none was held.

Each invitation's notice goes out once: its `Sent` event is looked up before
sending and written right after. Its link carries a secret derived from the
installation's secret (`Surveys.link_secret`), the same on a retried send.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, time, timedelta
from typing import Any

import structlog
from temporalio import activity

from activities.channels import DeliveryError
from activities.notices import NoticeActivities, resident_channel
from domain.calendar import SEOUL
from domain.service import Complaints
from domain.survey import QUESTIONS, day_in
from workflows.models import SurveyBatch, SurveyPlan

log = structlog.get_logger()
PUBLIC_URL_ENV = "MINWON_PUBLIC_URL"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
STARTS_AT = time(9, 0)


def public_url() -> str:
    """Where residents reach the web pages (links in notices)."""
    return (os.environ.get(PUBLIC_URL_ENV) or DEFAULT_PUBLIC_URL).rstrip("/")


class SurveyActivities:
    def __init__(self, complaints: Complaints, notices: NoticeActivities) -> None:
        self.complaints = complaints
        self.notices = notices

    @activity.defn
    def survey_plan(self, year: int) -> SurveyPlan:
        policy = self.complaints.policy.survey
        start = datetime.combine(day_in(year, policy.start), STARTS_AT, SEOUL)
        due = datetime.combine(day_in(year, policy.due), STARTS_AT, SEOUL)
        found = self.complaints.surveys.round(year)
        return SurveyPlan(
            year=year,
            auto_start=policy.auto_start,
            start_at=start,
            due_at=due,
            open_days=policy.open_days,
            started=found is not None,
            closes_at=found.closes_at if found else None,
            closed=bool(found and not found.is_open),
            invitations=len(found.invitations) if found else 0,
            warned=self.complaints.surveys.warned(year),
        )

    @activity.defn
    def start_survey(self, year: int) -> SurveyPlan:
        at = activity.info().scheduled_time.astimezone(SEOUL)
        days = self.complaints.policy.survey.open_days
        started = self.complaints.surveys.start(
            year, opens_at=at, closes_at=at + timedelta(days=days), by="system"
        )
        if started is None:
            log.warning("survey_nobody_to_ask", year=year)
        else:
            log.info("survey_started", year=year, invited=len(started.invitations))
        return self.survey_plan(year)

    @activity.defn
    def send_survey_invitations(self, batch: SurveyBatch) -> int:
        """Send the batch's invitations not sent yet; how many went out now."""
        found = self.complaints.surveys.round(batch.year)
        if found is None:
            return 0
        sent = 0
        for text in found.invitations[batch.offset : batch.offset + batch.limit]:
            if self._send(uuid.UUID(text), found.closes_at):
                sent += 1
        return sent

    def _send(self, invitation_id: uuid.UUID, closes_at: datetime) -> bool:
        surveys = self.complaints.surveys
        invitation = surveys.invitation(invitation_id)
        if invitation.sent_at is not None or invitation.answered_at is not None:
            return False
        secret = surveys.link_secret(invitation_id)
        context: dict[str, Any] = {
            "center": self.complaints.policy.center.name,
            "year": invitation.year,
            "link": f"{public_url()}/survey/{invitation_id}/{secret}",
            "closes_at": closes_at,
            "questions": len(QUESTIONS),
        }
        try:
            channel, address = resident_channel(invitation.contact)
            message = self.notices.render(
                "survey_invitation", context, f"survey-invitation-{invitation_id}"
            )
            (self.notices.channels.email if channel == "email" else self.notices.channels.sms).send(
                address, message
            )
        except DeliveryError as error:
            # One resident unreachable does not hold up the others; the log says who.
            log.warning("survey_invitation_undeliverable", invitation=str(invitation_id),
                        reason=error.code)  # fmt: skip
            return False
        surveys.record_sent(invitation_id, channel, activity.info().scheduled_time)
        return True

    @activity.defn
    def close_survey(self, year: int) -> SurveyPlan:
        self.complaints.surveys.close(year, activity.info().scheduled_time)
        return self.survey_plan(year)

    @activity.defn
    def warn_no_survey(self, year: int) -> bool:
        """No survey by the policy's day: ops and the director are told, once."""
        surveys = self.complaints.surveys
        if surveys.warned(year) or surveys.round(year) is not None:
            return False
        at = activity.info().scheduled_time
        recipients = []
        for role in ("ops", "director"):
            member = self.notices.staff_member(role, at)
            context = {
                "center": self.complaints.policy.center.name,
                "year": year,
                "due": self.survey_plan(year).due_at,
                "staff": member,
            }
            message = self.notices.render(
                "survey_overdue", context, f"survey-overdue-{year}-{role}"
            )
            channels = self.notices.channels
            if member.email:
                channels.email.send(member.email, message)
            else:
                channels.sms.send(member.phone, message)
            recipients.append(member.id)
        surveys.record_warning(year, recipients, at)
        log.warning("survey_overdue", year=year, warned=recipients)
        return True
