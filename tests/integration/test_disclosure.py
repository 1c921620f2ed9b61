"""One rule for who did an event and how personal fields are masked: the staff desk
and the audit's replay read the same stored case the same way (`domain.disclosure`)."""

from __future__ import annotations

from application.service import Complaints
from domain import audit
from domain.disclosure import mask_contact, mask_text
from tests.support.audit import CONTACT, TEXT, file_audited_case
from web.desk import history_entries


def test_the_desk_and_the_audit_name_the_same_actor_and_mask_alike(
    complaints: Complaints,
) -> None:
    audited = file_audited_case(complaints)
    events = complaints.history(audited.case_id)
    replayed = audit.replay(events, show_personal=False)
    desk = history_entries(events, personal_shown=False)

    assert [entry.actor for entry in desk] == [row.actor for row in replayed.rows]
    # The interim reply's extension names no one itself: it is the command's author's,
    # not "system" (the desk said "system" before both read the one rule).
    extended = [entry for entry in desk if entry.event == "CommitmentExtended"]
    assert extended and {entry.actor for entry in extended} == {"kim.casemgr"}

    received = desk[0].details
    assert received["contact"] == mask_contact(CONTACT) == replayed.rows[0].details["contact"]
    assert received["text"] == mask_text(TEXT) == replayed.rows[0].details["text"]
    assert CONTACT not in str([entry.details for entry in desk])
    assert TEXT not in str([entry.details for entry in desk])


def test_shown_the_desk_and_the_audit_give_the_same_personal_fields(
    complaints: Complaints,
) -> None:
    audited = file_audited_case(complaints)
    events = complaints.history(audited.case_id)
    replayed = audit.replay(events, show_personal=True)
    desk = history_entries(events, personal_shown=True)
    assert desk[0].details["contact"] == replayed.rows[0].details["contact"] == CONTACT
    assert desk[0].details["text"] == replayed.rows[0].details["text"] == TEXT
