"""Every field of every stored event, classified: the resident's personal data or not.

`FIELDS` is the one place that decides it, keyed by the event's chain name
(`domain.chain.class_chain_name`: its qualname, or the name a renamed class keeps),
then by field. The fields the engine itself gives every event (`originator_id`,
`originator_version`, `timestamp`, `originator_topic`) and the chain's
`prev_digest` are not listed. A field is either

- **personal**: what a resident told us, or what staff wrote about them. The mapper
  (privacy.mapper) seals it under that person's own key when the event is stored,
  and it reads `[erased]` once the key is destroyed; or
- **not personal**, with why: a fact the engine sets or checks, a staff member's
  id, a pseudonym, or free text whose purpose keeps the resident out of it.

Stored events are kept for ever, so a decision about an existing field does not
change: a field sealed in stored records stays sealed (a v2 record holding it in
plain text is refused as tampered), and one stored in plain text cannot be sealed
from now on without a new event version (v1 digests include it). A new field gets
its decision when it is added; `tests/integration/test_personal_data.py` fails until it has one.
docs/personal-data.md explains the decisions on free text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    """Whether a field is sealed per person, and why, in one line."""

    personal: bool
    why: str
    free_text: bool = False


PERSONAL = Decision(True, "what the resident told us, or what staff wrote about them")
FACT = Decision(False, "an id, code, moment, number or flag the engine sets or checks")
STAFF = Decision(
    False,
    "a staff id, or the engine's own name (system, retention-sweep): the center's "
    "record of who did what, not erased with a resident",
)
PSEUDONYM = Decision(
    False,
    "the person's pseudonym (a keyed hash of the contact): it chooses the key the "
    "personal fields are sealed under, and names no one without the installation's secret",
)
RECIPIENT = Decision(False, '"resident" or a staff id, never an address')
STAFF_DIRECTORY = Decision(
    False,
    "the staff directory (names, titles, work phones and e-mails from the roster): "
    "employee work contacts (a notice gives the handler's), not a resident's data",
)
DAYS_OFF = Decision(
    False,
    "days off by ISO date, with their names (a public holiday, a center closure): "
    "the center's calendar, nothing of a resident",
    free_text=True,
)


STAFF_EVALUATION = Decision(
    True,
    "what an evaluator or the director wrote about a staff member's conduct: that staff "
    "member's personal data, sealed under their own key",
)
STAFF_KEY = Decision(
    False,
    "whose key the record's personal fields are sealed under: `staff:` and a staff id",
)


def free_text(why: str) -> Decision:
    """Free text stored as written (not sealed): `why` says what keeps it impersonal."""
    return Decision(False, why, free_text=True)


# Who recorded it, when, and the command's id: the tail of most of a case's events.
_ACTED: dict[str, Decision] = {"by": STAFF, "at": FACT, "command_id": FACT}

FIELDS: dict[str, dict[str, Decision]] = {
    # -- the case ---------------------------------------------------------------------
    "Complaint.Received": {
        # Opaque (web-…, desk-…, a channel's own id): it names the case's workflow.
        "intake_ref": FACT,
        "receipt_code": FACT,
        "channel": FACT,
        "category": FACT,
        "topic": FACT,
        "private": FACT,
        "contact": PERSONAL,
        "text": PERSONAL,
        "received_at": FACT,
        "apology_on_fault": FACT,
        "apology_always": FACT,
        "corrective_action": FACT,
        "investigated": FACT,
        "linked_to": FACT,
        "person_id": PSEUDONYM,
    },
    "Complaint.Assigned": {"staff": STAFF, "role": FACT, **_ACTED},
    "Complaint.Reassigned": {"staff": STAFF, "role": FACT, "previous": STAFF, **_ACTED},
    "Complaint.MessageTaken": {
        "for_staff": STAFF,
        "taken_by": STAFF,
        "callback_by": FACT,
        "note": PERSONAL,
        "at": FACT,
        "command_id": FACT,
    },
    "Complaint.CommitmentStarted": {
        "kind": FACT,
        "due": FACT,
        "rule": FACT,
        "days": FACT,
        "warn_at": FACT,
        "max_extensions": FACT,
        "at": FACT,
        "command_id": FACT,
        "warn_hours": FACT,
        "warn_counting": FACT,
        "max_consented_extensions": FACT,
    },
    "Complaint.CommitmentWarned": {"kind": FACT, "due": FACT, "at": FACT, "command_id": FACT},
    "Complaint.CommitmentBreached": {"kind": FACT, "due": FACT, "at": FACT, "command_id": FACT},
    "Complaint.InterimReplySent": {
        "kind": FACT,
        "reason": free_text(
            "why the handling takes longer (a site visit, another office's reply), told "
            "the resident with the new date: about our work, not about them"
        ),
        "new_due": FACT,
        **_ACTED,
        "consent": FACT,  # how consent was given: "phone" or "writing"
    },
    "Complaint.CommitmentExtended": {
        "kind": FACT,
        "previous_due": FACT,
        "new_due": FACT,
        "at": FACT,
        "command_id": FACT,
        "warn_at": FACT,
        "limit_rule": FACT,
    },
    "Complaint.CommitmentRescheduled": {
        "kind": FACT,
        "previous_due": FACT,
        "new_due": FACT,
        "warn_at": FACT,
        "added": DAYS_OFF,
        "removed": DAYS_OFF,
        "at": FACT,
        "command_id": FACT,
    },
    "Complaint.CommitmentMet": {"kind": FACT, "on_time": FACT, "at": FACT, "command_id": FACT},
    "Complaint.Escalated": {
        "level": FACT,
        "to_role": FACT,
        "to_staff": STAFF,
        "reason": free_text(
            "why the case goes up the chain (a deadline passed, the handling stalled), "
            "for the officers who take it over: about the handling, not the resident"
        ),
        "by": STAFF,
        "trigger": FACT,
        "at": FACT,
        "command_id": FACT,
        "act_by": FACT,
        "act_counting": FACT,
    },
    "Complaint.InvestigationOpened": {**_ACTED},
    "Complaint.InvestigationConcluded": {"fault_confirmed": FACT, "finding": PERSONAL, **_ACTED},
    "Complaint.ApologyMade": {
        "mode": FACT,
        "by": STAFF,
        "note": PERSONAL,
        "at": FACT,
        "command_id": FACT,
    },
    "Complaint.CorrectiveActionRecorded": {
        "staff": STAFF,
        "action": FACT,
        "by": STAFF,
        "note": free_text(
            "employee data about the staff member warned or trained, not the resident: "
            "the center's personnel record, which erasing the resident must not destroy"
        ),
        "at": FACT,
        "command_id": FACT,
    },
    "Complaint.CalledBack": {"note": PERSONAL, **_ACTED},
    "Complaint.Answered": {"text": PERSONAL, **_ACTED},
    "Complaint.ResultAnnounced": {
        "summary": free_text(
            "the anonymised result written for the homepage: public by design, and never "
            "made for a private case"
        ),
        **_ACTED,
    },
    "Complaint.AnnouncementDeclined": {
        "reason": free_text(
            "why the result is not published (the resident asked not to, nothing general "
            "to say): a decision about publishing, not a record of the resident"
        ),
        **_ACTED,
    },
    "Complaint.Closed": {**_ACTED},
    "Complaint.Reopened": {
        "reason": free_text(
            "why the case is handled again (the answer missed a point, a new fact came "
            "in): about the handling; what the resident said goes in a sealed note"
        ),
        **_ACTED,
    },
    "Complaint.Withdrawn": {
        "reason": free_text(
            "how the case ended without an answer (the resident withdrew it, a "
            "duplicate): the course of the case; the resident's words go in a sealed note"
        ),
        **_ACTED,
    },
    "Complaint.SatisfactionRated": {
        "score": FACT,
        "comment": PERSONAL,
        "at": FACT,
        "command_id": FACT,
    },
    "Complaint.NoteAdded": {"text": PERSONAL, **_ACTED},
    "Complaint.AppointmentRecorded": {
        "appointment_id": FACT,
        "kind": FACT,
        "start": FACT,
        "outcome": FACT,
        **_ACTED,
    },
    "Complaint.NoticeQueued": {
        "notice_id": FACT,
        "kind": FACT,
        "recipient": RECIPIENT,
        "detail": FACT,
        "at": FACT,
        "command_id": FACT,
    },
    "Complaint.NoticeSent": {
        "kind": FACT,
        "channel": FACT,
        "recipient": RECIPIENT,
        "at": FACT,
        "command_id": FACT,
    },
    "Complaint.NoticeFailed": {
        "kind": FACT,
        "recipient": RECIPIENT,
        "reason": free_text(
            "why delivery failed, for ops: a reason code (recipient-refused, mail-deferred, "
            "…) with the server's numeric codes, never its words, which may hold the address"
        ),
        "at": FACT,
        "command_id": FACT,
    },
    "Complaint.WorkflowRestored": {"found": FACT, "at": FACT, "command_id": FACT},
    "Complaint.PersonalDataErased": {
        "reason": free_text(
            "why the data was erased (the resident's request, retention): the record of "
            "the erasure, which must stay readable once the key is destroyed"
        ),
        **_ACTED,
    },
    # -- the receipt index, the access log ----------------------------------------
    "ReceiptIndex.Issued": {"code": FACT, "case_id": FACT},
    "AccessLog.Opened": {"day": FACT},
    "AccessLog.Accessed": {
        "actor": STAFF,
        "at": FACT,
        "origin": Decision(
            False,
            "where the read came from (the command line, the web, the API) and the "
            "staff client's address: employee data, kept as long as the access log",
        ),
        "person_id": PSEUDONYM,
        "case_id": FACT,
        "action": FACT,
    },
    # -- the roster, the calendar, the checkpoints -----------------------------------
    "Roster.Seeded": {
        "holdings": Decision(False, "who holds which role from which day: roles, staff ids, dates"),
        "staff": STAFF_DIRECTORY,
        "source": FACT,
    },
    "Roster.RoleAssigned": {"role": FACT, "staff": STAFF, "start": FACT, "by": STAFF, "at": FACT},
    "Roster.StaffRegistered": {"member": STAFF_DIRECTORY, "by": STAFF, "at": FACT},
    "CalendarRecord.Started": {
        "days": DAYS_OFF,
        "first": FACT,
        "last": FACT,
        "source": FACT,
        "at": FACT,
    },
    "CalendarRecord.Changed": {
        "days": DAYS_OFF,
        "first": FACT,
        "last": FACT,
        "added": DAYS_OFF,
        "removed": DAYS_OFF,
        "source": FACT,
        "at": FACT,
    },
    "CalendarRecord.Recounted": {"number": FACT, "at": FACT},
    # -- appointments (domain.appointment): sealed under the resident's key ------------
    "Appointment.Booked": {
        "request_id": FACT,
        "kind": FACT,
        "start": FACT,
        "minutes": FACT,
        "staff": STAFF,
        "purpose": PERSONAL,
        "contact": PERSONAL,
        "address": PERSONAL,
        "person_id": PSEUDONYM,
        "case_id": FACT,
        "receipt_code": FACT,
        "agreed_by_phone_at": FACT,
        "agreed_by": STAFF,
        "by": STAFF,
        "at": FACT,
    },
    "Appointment.Moved": {
        "start": FACT,
        # Why it moved often says something of the resident (ill, away): sealed.
        "reason": PERSONAL,
        "agreed_by_phone_at": FACT,
        "agreed_by": STAFF,
        "by": STAFF,
        "at": FACT,
    },
    "Appointment.OutcomeRecorded": {"outcome": FACT, "note": PERSONAL, "by": STAFF, "at": FACT},
    "Appointment.NoticeSent": {
        "kind": FACT,
        "channel": FACT,
        "recipient": RECIPIENT,
        "at": FACT,
        "command_id": FACT,
    },
    # -- the yearly survey (domain.survey): a resident's contact and words sealed -------
    "SurveyRound.Started": {
        "year": FACT,
        "questions": free_text("the survey's questions, the same for every resident"),
        "opens_at": FACT,
        "closes_at": FACT,
        "invitations": Decision(False, "the ids of the year's invitations (uuid5 of a pseudonym)"),
        "by": STAFF,
        "at": FACT,
    },
    "SurveyRound.Closed": {"at": FACT},
    "SurveyRound.ImprovementRecorded": {
        "text": free_text(
            "what the center decided to change from the year's results, for the next report"
        ),
        "by": STAFF,
        "at": FACT,
    },
    "SurveyInvitation.Invited": {
        "year": FACT,
        "person_id": PSEUDONYM,
        "contact": PERSONAL,
        "category": FACT,
        "closes_at": FACT,
        "at": FACT,
    },
    "SurveyInvitation.Sent": {"channel": FACT, "at": FACT},
    "SurveyInvitation.Undeliverable": {"at": FACT},
    "SurveyInvitation.Answered": {
        "scores": Decision(False, "question → score 1–5: counted in the results, no words"),
        "comment": PERSONAL,
        "at": FACT,
    },
    "SurveyRefusal.Recorded": {
        "person_id": PSEUDONYM,
        "via": FACT,
        "by": STAFF,
        "at": FACT,
    },
    "SurveyOverdue.Warned": {"year": FACT, "warned": STAFF, "at": FACT},
    # -- the staff's conduct: monitoring calls and awards (domain.conduct) ------------
    "MonitoringCall.Recorded": {
        "request_id": FACT,
        "staff": STAFF,
        "evaluator": STAFF,
        "called_at": FACT,
        "scores": Decision(False, "checklist item → score 1–5: the center's measure, no words"),
        "score": FACT,
        "low": FACT,
        "note": STAFF_EVALUATION,
        "person_id": STAFF_KEY,
        "at": FACT,
    },
    "MonitoringCall.CorrectiveActionTaken": {
        "action": FACT,
        "note": STAFF_EVALUATION,
        "by": STAFF,
        "at": FACT,
    },
    "Award.Granted": {
        "request_id": FACT,
        "staff": STAFF,
        "title": free_text("the award's name (모범직원포상 2026), as the homepage may print it"),
        "reason": STAFF_EVALUATION,
        "evidence": Decision(False, "counts and averages of the year's ratings and monitoring"),
        "by": STAFF,
        "person_id": STAFF_KEY,
        "at": FACT,
    },
    "CheckpointLog.Started": {},
    # A Merkle root over the store's record digests, and its signature.
    "CheckpointLog.Signed": {"statement": FACT, "signature": FACT},
    # -- staff credentials, residents' secrets (only digests, never the secrets) -------
    "AccessToken.Issued": {
        "token_id": FACT,
        "staff": STAFF,
        "digest": FACT,
        "issued_by": STAFF,
        "issued_at": FACT,
        "expires_at": FACT,
    },
    "AccessToken.Revoked": {"by": STAFF, "at": FACT},
    "StaffSession.Started": {
        "session_id": FACT,
        "staff": STAFF,
        "token_id": FACT,
        "digest": FACT,
        "created_at": FACT,
        "expires_at": FACT,
    },
    "StaffSession.Ended": {"at": FACT},
    "ResidentSecret.Issued": {"case_id": FACT, "salt": FACT, "digest": FACT, "scheme": FACT},
}

_SEALED: dict[str, tuple[str, ...]] = {
    name: sealed
    for name, fields in FIELDS.items()
    if (sealed := tuple(field for field, decision in fields.items() if decision.personal))
}


def sealed_fields(chain_name: str) -> tuple[str, ...]:
    """The fields of the event so named that are sealed per person, in the table's order."""
    return _SEALED.get(chain_name, ())
