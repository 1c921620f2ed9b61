"""What an appointment's workflow does outside itself: read its clock, send its notices.

`send_appointment_notice` is idempotent as a case's notices are: the appointment's
NoticeSent event, keyed by the notice's command id, is looked up before anything is
sent and written right after. The resident's contact is opened here, from the
appointment's sealed record; the workflow never sees it.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notices import NoticeActivities
from application.service import Complaints
from domain.appointment import Appointment, AppointmentNotFoundError
from workflows.models import AppointmentNotice, AppointmentView

log = structlog.get_logger()
KIND_LABELS = {"visit": "내방 상담", "home": "가정 방문"}


def view_of(appointment: Appointment) -> AppointmentView:
    changed = appointment.moves[-1]["at"] if appointment.moves else appointment.booked_at
    return AppointmentView(
        appointment_id=str(appointment.id),
        kind=appointment.kind,
        start=appointment.start,
        staff=appointment.staff,
        status=appointment.status,
        reminder_at=appointment.reminder_at,
        outcome_due_at=appointment.outcome_due_at,
        changed_at=changed,  # type: ignore[arg-type]
        sent=sorted(appointment.command_ids),
    )


class AppointmentActivities:
    def __init__(self, complaints: Complaints, notices: NoticeActivities) -> None:
        self.complaints = complaints
        self.notices = notices

    @activity.defn
    def appointment_view(self, appointment_id: str) -> AppointmentView:
        try:
            appointment = self.complaints.appointments.get(uuid.UUID(appointment_id))
        except AppointmentNotFoundError as error:
            raise ApplicationError(
                str(error), type="AppointmentNotFound", non_retryable=True
            ) from None
        return view_of(appointment)

    def context(self, appointment: Appointment) -> dict[str, Any]:
        member = self.complaints.roster.staff(appointment.staff)
        return {
            "center": self.complaints.policy.center.name,
            "kind": appointment.kind,
            "kind_label": KIND_LABELS.get(appointment.kind, appointment.kind),
            "start": appointment.start,
            "minutes": appointment.minutes,
            "handler": member,
            "receipt_code": appointment.receipt_code,
            "purpose": appointment.purpose,
            "address": appointment.address,
        }

    @activity.defn
    def send_appointment_notice(self, notice: AppointmentNotice) -> str:
        """Render and deliver one notice once; returns the channel used."""
        appointment_id = uuid.UUID(notice.appointment_id)
        appointment = self.complaints.appointments.get(appointment_id)
        if appointment.already_done(notice.command_id):
            return "already sent"
        at = activity.info().scheduled_time
        bound = log.bind(appointment_id=notice.appointment_id, kind=notice.kind)
        channel, recipient = self.notices.deliver(
            kind=notice.kind,
            recipient=notice.recipient,
            contact=lambda: appointment.contact,
            context=lambda: self.context(appointment),
            # The command id names the notice within its appointment; the message id,
            # which a receiver uses to drop a copy, must be unique beyond it.
            message_id=str(uuid.uuid5(uuid.UUID(notice.appointment_id), notice.command_id)),
            at=at,
            log=bound,
        )
        self.complaints.appointments.change(
            appointment_id,
            lambda latest: _recorded(latest, notice, channel, recipient, at),
        )
        bound.info("notice_sent", channel=channel, recipient=recipient)
        return channel


def _recorded(
    appointment: Appointment, notice: AppointmentNotice, channel: str, recipient: str, at: Any
) -> bool:
    if appointment.already_done(notice.command_id):
        return False
    appointment.record_notice_sent(
        kind=notice.kind, channel=channel, recipient=recipient, at=at, command_id=notice.command_id
    )
    return True
