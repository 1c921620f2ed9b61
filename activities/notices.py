"""Notices to residents and staff, rendered from Korean templates and delivered.

`send_notice` is idempotent: the case's NoticeSent event, keyed by the notice's
command id, is the delivery record, looked up before anything is sent and
written right after. (A crash between the send and that write can send twice;
the Message-ID, derived from the command id, lets the receiving side drop it.)
It returns the case's head after that record, which the workflow keeps as the
anchor of the case's hash chain.

Templates live in templates/notices/ as files a center can edit; the first
line of a rendered template is the subject.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channels import Channels, Message, PermanentDeliveryError, TemporaryDeliveryError
from application.service import Complaints
from domain.calendar import korean_moment
from domain.complaint import Complaint
from domain.contact import contact_channel
from domain.roster import RosterReader, StaffMember
from workflows.models import Notice, NoticeBatch, NoticeDelivery, NoticeOutcome, NoticeOutcomes

log = structlog.get_logger()

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "notices"
COMMITMENT_LABELS = {
    "reply": "답변",
    "result": "처리 결과 안내",
    "investigation": "조사 결과 안내",
    "callback": "약속드린 연락",
    "expedited": "신속 처리",
}
STATUS_LABELS = {"open": "진행 중", "met": "지킴", "breached": "기한 초과", "cancelled": "취소"}


# The templates' filter: a moment as residents read it.
kst = korean_moment


def template_environment(folder: Path = TEMPLATES) -> Environment:
    # Plain text, not HTML: nothing to escape, but a missing value is an error,
    # never a silently empty line in a letter to a resident.
    environment = Environment(
        loader=FileSystemLoader(folder),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    environment.filters["kst"] = kst
    return environment


def resident_channel(contact: str) -> tuple[str, str]:
    """The resident's preferred channel, read from the contact they gave."""
    channel = contact_channel(contact)
    if channel is None:
        raise PermanentDeliveryError(
            "no-usable-contact", "neither an e-mail address nor a phone number"
        )
    return channel


class NoticeActivities:
    def __init__(
        self, complaints: Complaints, channels: Channels, templates: Path = TEMPLATES
    ) -> None:
        self.complaints = complaints
        self.channels = channels
        self.environment = template_environment(templates)

    def render(self, kind: str, context: dict[str, Any], message_id: str) -> Message:
        text = self.environment.get_template(f"{kind}.txt.j2").render(context)
        subject, _, body = text.partition("\n")
        return Message(subject=subject.strip(), body=body.lstrip("\n"), message_id=message_id)

    def staff_member(self, recipient: str, at: datetime, roster: RosterReader) -> StaffMember:
        """The directory entry of a staff id, or of the holder of a role on the day."""
        member = roster.staff(recipient)
        if member is None:
            holder = roster.holder(recipient, at)  # a role: its holder on that day
            member = roster.staff(holder) if holder else None
        if member is None:
            raise PermanentDeliveryError("no-staff-entry", f"no directory entry for {recipient}")
        return member

    def context(self, case: Complaint, notice: Notice, roster: RosterReader) -> dict[str, Any]:
        commitments = [
            {
                "kind": c.kind,
                "label": COMMITMENT_LABELS.get(c.kind, c.kind),
                "due": c.due,
                "status_label": STATUS_LABELS[c.status],
            }
            for c in case.commitments.values()
        ]
        handler = roster.staff(case.assignee) if case.assignee else None
        current = case.commitments.get(notice.detail)
        escalation = case.escalations[-1] if case.escalations else None
        escalated_to = (
            roster.staff(escalation.to_staff) if escalation and escalation.to_staff else None
        )
        policy = self.complaints.policy
        linked = policy.category(policy.linked_complaint_category)
        return {
            "center": self.complaints.policy.center.name,
            "investigation_request": {
                "title": linked.title,
                "days": next((rule.days for rule in linked.commitments if rule.days), None),
            },
            "receipt_code": case.receipt_code,
            "category_title": self.complaints.policy.category(case.category).title,
            "received_at": case.received_at,
            "private": case.private,
            "commitments": [c for c in commitments if c["status_label"] != "취소"],
            "handler": handler,
            "interim": case.interim_replies[-1] if case.interim_replies else None,
            "answer": case.answer,
            "finding": case.finding,
            "fault_confirmed": case.fault_confirmed,
            "apology": case.apologies[-1] if case.apologies else None,
            "escalation": escalation
            and {
                "level": escalation.level,
                "reason": escalation.reason,
                "trigger": escalation.trigger,
                "to_title": escalated_to.title if escalated_to else escalation.to_role,
            },
            "reminder": current
            and {"label": COMMITMENT_LABELS.get(current.kind, current.kind), "due": current.due},
            "reschedule": next(
                (
                    {
                        **moved,
                        "label": COMMITMENT_LABELS.get(moved["kind"], moved["kind"]),
                        "days": sorted(moved["added"].items()),
                    }
                    for moved in reversed(case.reschedules)
                    if moved["kind"] == notice.detail
                ),
                None,
            ),
        }

    def deliver(
        self,
        *,
        kind: str,
        recipient: str,
        contact: Callable[[], str],
        context: Callable[[], dict[str, Any]],
        message_id: str,
        at: datetime,
        log: Any,
        roster: RosterReader | None = None,
    ) -> tuple[str, str]:
        """Render `kind` and send it to the resident (by their `contact`) or to a staff
        member or role's holder; the channel, and the recipient as recorded ("resident"
        or a staff id, never an address). A delivery that will never succeed fails the
        activity for good; one that may later is retried by Temporal.

        `roster`, the directory as the caller read it once for all its notices; by
        default the store's, read now."""
        try:
            values = context()
            if recipient == "resident":
                channel, address = resident_channel(contact())
                recorded_as = "resident"
            else:
                member = self.staff_member(recipient, at, roster or self.complaints.roster)
                channel, address = (
                    ("email", member.email) if member.email else ("sms", member.phone)
                )
                recorded_as = member.id
                values["staff"] = member
            message = self.render(kind, values, message_id)
            sender = self.channels.email if channel == "email" else self.channels.sms
            sender.send(address, message)
        except PermanentDeliveryError as error:
            log.warning("notice_undeliverable", reason=str(error))
            raise ApplicationError(
                str(error), type="PermanentDeliveryError", non_retryable=True
            ) from None
        except TemporaryDeliveryError as error:
            # Retried by Temporal; after the last try the workflow records this message.
            log.info("notice_deferred", reason=str(error))
            raise ApplicationError(str(error), type="TemporaryDeliveryError") from None
        return channel, recorded_as

    # `| str`: what it returned before it reported the head, the channel alone; a
    # workflow replaying such a history decodes that result with this annotation.
    @activity.defn
    def send_notice(self, notice: Notice) -> NoticeDelivery | str:
        """Render and deliver one notice once; returns the channel and the case's new head."""
        case = self.complaints.get_case(uuid.UUID(notice.case_id))
        delivery, _ = self.send_once(case, notice, self.complaints.roster.current())
        return delivery

    @activity.defn
    def send_notices(self, batch: NoticeBatch) -> NoticeOutcomes:
        """The notices of one moment of a case (an alarm's), each delivered and recorded
        once, in order, with one load of the case.

        A notice that can never be delivered is reported as failed and the rest go
        on. One whose channel may work later is left until every other was tried,
        then the activity fails to be tried again: those sent are found recorded and
        not sent twice.
        """
        case = self.complaints.get_case(uuid.UUID(batch.notices[0].case_id))
        # The directory read once for the batch: each read of the store's roster is
        # a query, and a notice looks up several people. A change recorded while the
        # batch runs reaches the next activity, not this batch's later notices.
        roster = self.complaints.roster.current()
        outcomes: list[NoticeOutcome] = []
        deferred: list[str] = []
        for notice in batch.notices:
            try:
                delivery, case = self.send_once(case, notice, roster)
            except ApplicationError as error:
                if error.non_retryable:
                    outcomes.append(NoticeOutcome(failure=error.message))
                else:
                    deferred.append(f"{notice.kind} to {notice.recipient}: {error.message}")
            else:
                outcomes.append(NoticeOutcome(delivery=delivery))
        if deferred:
            raise ApplicationError(
                "not delivered yet: " + "; ".join(deferred), type="TemporaryDeliveryError"
            )
        return NoticeOutcomes(outcomes=outcomes)

    def send_once(
        self, case: Complaint, notice: Notice, roster: RosterReader, attempt: int | None = None
    ) -> tuple[NoticeDelivery, Complaint]:
        """Deliver `notice` unless the case records it sent, then record it; the delivery
        and the case after its record. `attempt` and a notice without its moment are
        taken from the activity running it, if not given."""
        if case.already_done(notice.command_id):
            delivery = NoticeDelivery(
                channel="already sent", version=case.version, head_digest=case.head_digest
            )
            return delivery, case
        at = notice.at or activity.info().scheduled_time
        attempt = attempt if attempt is not None else activity.info().attempt
        bound = log.bind(case_id=notice.case_id, kind=notice.kind, attempt=attempt)
        channel, recipient = self.deliver(
            kind=notice.kind,
            recipient=notice.recipient,
            contact=lambda: case.contact,
            context=lambda: self.context(case, notice, roster),
            message_id=notice.command_id,
            at=at,
            log=bound,
            roster=roster,
        )
        recorded = self.complaints.execute(
            case.id,
            lambda latest: latest.record_notice_sent(
                kind=notice.kind,
                channel=channel,
                recipient=recipient,
                at=at,
                command_id=notice.command_id,
            ),
            loaded=case,
        )
        bound.info("notice_sent", channel=channel, recipient=recipient)
        delivery = NoticeDelivery(
            channel=channel, version=recorded.version, head_digest=recorded.head_digest
        )
        return delivery, recorded
