"""What a year's survey workflow does outside itself: read the plan, start the round,
send the invitations, close it, warn when none was held.

Each invitation's notice goes out once: its `Sent` event is looked up before
sending and written right after. Its link carries a secret derived from the
installation's secret (`Surveys.link_secret`), the same on a retried send.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channels import ADDRESS_REFUSALS, SETUP_REFUSED, delivery_code
from activities.notices import NoticeActivities
from application.service import Complaints
from domain.calendar import SEOUL
from domain.survey import QUESTIONS, day_in
from runtime.settings import Settings
from workflows.models import SurveyBatch, SurveyPlan

log = structlog.get_logger()
STARTS_AT = time(9, 0)


# The error type of a batch the mail server's own setup refused: its pass ends there.
PASS_REFUSED = "survey-pass-refused"


class MailServerRefused(Exception):
    """The mail server refused a message for its own setup (`mail-setup-refused`)."""


class SurveyActivities:
    def __init__(
        self, complaints: Complaints, notices: NoticeActivities, public_url: str | None = None
    ) -> None:
        self.complaints = complaints
        self.notices = notices
        # Where residents reach the pages: the links in the invitations.
        self.public_url = public_url or Settings().public_url

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
            found = [self.complaints.surveys.invitation(uuid.UUID(i)) for i in started.invitations]
            unreachable = sum(1 for invitation in found if invitation.undeliverable_at)
            log.info(
                "survey_started",
                year=year,
                invited=len(started.invitations),
                unreachable=unreachable,
            )
        return self.survey_plan(year)

    @activity.defn
    def send_survey_invitations(self, batch: SurveyBatch) -> int:
        """Send the batch's invitations not sent yet; how many went out now. Nothing
        goes out once the round has closed, nor to a resident who refused meanwhile.
        A refusal of the mail server's own setup fails the batch for good
        (`PASS_REFUSED`): the year's workflow ends its pass there."""
        found = self.complaints.surveys.round(batch.year)
        # A try retried past the close (the mail server away) ends without sending: a
        # link sent then would open a closed survey.
        if found is None or not found.is_open:
            return 0
        if activity.info().current_attempt_scheduled_time >= found.closes_at:
            return 0
        sent = 0
        for text in found.invitations[batch.offset : batch.offset + batch.limit]:
            try:
                if self._send(uuid.UUID(text), found.closes_at):
                    sent += 1
            except MailServerRefused:
                # Its own setup refused (a failed login): the rest of the pass would be
                # refused too, each one more failed login on the center's account. The
                # batch fails for good and the year's workflow ends the pass with it.
                raise ApplicationError(
                    f"the mail server refused its own setup ({SETUP_REFUSED}) after {sent} "
                    "invitation(s) of this batch went out; the pass ends here",
                    type=PASS_REFUSED,
                    non_retryable=True,
                ) from None
        return sent

    def _send(self, invitation_id: uuid.UUID, closes_at: datetime) -> bool:
        surveys = self.complaints.surveys
        invitation = surveys.invitation(invitation_id)
        if not surveys.to_send(invitation):
            return False
        secret = surveys.link_secret(invitation_id)
        context: dict[str, Any] = {
            "center": self.complaints.policy.center.name,
            "year": invitation.year,
            "link": f"{self.public_url}/survey/{invitation_id}/{secret}",
            "closes_at": closes_at,
            "questions": len(QUESTIONS),
        }
        at = activity.info().scheduled_time
        bound = log.bind(invitation=str(invitation_id), kind="survey_invitation")
        try:
            channel, _ = self.notices.deliver(
                kind="survey_invitation",
                recipient="resident",
                contact=lambda: invitation.contact,
                context=lambda: context,
                message_id=f"survey-invitation-{invitation_id}",
                at=at,
                log=bound,
            )
        except ApplicationError as error:
            if not error.non_retryable:
                raise  # the mail server is away: the batch is tried again, the sent skipped
            # One resident unreachable does not hold up the others. An address refused
            # for good is recorded, so the report counts it and a retried batch does not
            # try it again. A refusal of the server's own setup (`mail-setup-refused`: a
            # failed login, a refused sender) says nothing of the resident and would
            # refuse every other invitation alike: the pass ends. Another refusal of the
            # message (`mail-refused`, e.g. at DATA) may be of this message alone: the
            # others go on. Either way it is not counted, the invitation is left unsent
            # and the reason is in the log (`notice_undeliverable`); the year's workflow
            # tries it again each day until the round closes.
            code = delivery_code(str(error.message))
            if code in ADDRESS_REFUSALS:
                surveys.record_undeliverable(invitation_id, at)
            elif code == SETUP_REFUSED:
                raise MailServerRefused from None
            return False
        surveys.record_sent(invitation_id, channel, at)
        return True

    @activity.defn
    def unsent_survey_invitations(self, year: int) -> int:
        """How many of the round's invitations are still to go out: those a refusal of
        the mail server (`mail-setup-refused`: a failed login, a refused sender; or
        `mail-refused`) left unsent. Logged at warning level for ops while there are any."""
        found = self.complaints.surveys.round(year)
        if found is None:
            return 0
        surveys = self.complaints.surveys
        unsent = sum(
            1 for text in found.invitations if surveys.to_send(surveys.invitation(uuid.UUID(text)))
        )
        if unsent:
            log.warning(
                "survey_invitations_unsent", year=year, unsent=unsent, closes_at=found.closes_at
            )
        return unsent

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
        context = {
            "center": self.complaints.policy.center.name,
            "year": year,
            "due": self.survey_plan(year).due_at,
        }
        recipients = []
        for role in ("ops", "director"):
            try:
                _, staff = self.notices.deliver(
                    kind="survey_overdue",
                    recipient=role,
                    contact=lambda: "",
                    context=lambda: dict(context),
                    message_id=f"survey-overdue-{year}-{role}",
                    at=at,
                    log=log.bind(year=year, kind="survey_overdue"),
                )
            except ApplicationError as error:
                if not error.non_retryable:
                    raise
                continue  # no entry to reach them by: the other is still told
            recipients.append(staff)
        surveys.record_warning(year, recipients, at)
        log.warning("survey_overdue", year=year, warned=recipients)
        return True
