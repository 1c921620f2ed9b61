"""Who may do what: least privilege by role (개인정보의 안전성 확보조치 기준 §5).

Roles come from the roster on the day of the action: every staff member in the
directory is `staff`; the holders of `designated_officer`, `director`, `ops`
and `auditor` have those roles too. A case's assignee may see its personal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

STAFF = "staff"
OFFICER = "designated_officer"
DIRECTOR = "director"
OPS = "ops"
AUDITOR = "auditor"
ROLES = (
    "case_manager",
    "service_social_worker",
    "tour_social_worker",
    OFFICER,
    DIRECTOR,
    OPS,
    AUDITOR,
)

# Whoever is on the roster on the day, in any role.
ANY_ROLE = frozenset({STAFF, *ROLES})
# Commands by name (the Complaints service's) and reads by name.
PERMISSIONS: dict[str, frozenset[str]] = {
    "file": frozenset({STAFF}),
    "show": frozenset({STAFF, OFFICER, DIRECTOR, OPS, AUDITOR}),
    "notices": frozenset({STAFF, OFFICER, DIRECTOR, OPS, AUDITOR}),
    "assign": frozenset({OPS, OFFICER, DIRECTOR}),
    "take_message": frozenset({STAFF}),
    "send_interim_reply": frozenset({STAFF}),
    "answer_case": frozenset({STAFF}),
    "conclude_investigation": frozenset({OFFICER, DIRECTOR}),
    "make_apology": frozenset({OFFICER, DIRECTOR, STAFF}),
    # 나.② the officer decides a warning or training for a staff member.
    "record_corrective_action": frozenset({OFFICER}),
    "announce_result": frozenset({OFFICER, DIRECTOR, OPS}),
    "close": frozenset({STAFF}),
    "reopen": frozenset({STAFF, OFFICER, DIRECTOR}),
    "withdraw": frozenset({STAFF}),
    "rate_satisfaction": frozenset({STAFF}),
    "add_note": frozenset({STAFF}),
    "escalate": frozenset({OPS, OFFICER, DIRECTOR}),
    "audit": frozenset({AUDITOR, DIRECTOR}),
    "report": frozenset({AUDITOR, DIRECTOR, OFFICER, OPS}),
    "erase_person": frozenset({DIRECTOR, OFFICER}),
    "roster": frozenset({OPS, DIRECTOR}),
    # Sign-in tokens for the web desk and the API are handed out by ops or the director.
    "manage_tokens": frozenset({OPS, DIRECTOR}),
    # Reference reads that show nothing about a case or a person.
    "compute_deadline": ANY_ROLE,
    "check_policy": ANY_ROLE,
    "read_roster": ANY_ROLE,
}
# Personal data is shown to whom the case needs: its assignee, the officer, auditors.
PERSONAL_DATA_ROLES = frozenset({OFFICER, AUDITOR})
PRIVATE_CASE_ROLES = frozenset({OFFICER, AUDITOR})
SYSTEM_ACTORS = frozenset({"system", "retention-sweep"})


class AccessDeniedError(PermissionError):
    pass


class RosterView(Protocol):
    def holder(self, role: str, at: datetime) -> str | None: ...
    def staff(self, staff_id: str) -> object | None: ...


def roles_of(roster: RosterView, actor: str, at: datetime) -> frozenset[str]:
    roles = {role for role in ROLES if roster.holder(role, at) == actor}
    # Auditors read; they are not case workers unless the directory says so.
    if roster.staff(actor) is not None or roles - {AUDITOR}:
        roles.add(STAFF)
    return frozenset(roles)


def require(roster: RosterView, actor: str, action: str, at: datetime) -> frozenset[str]:
    """The actor's roles, if they may do `action`; AccessDeniedError otherwise."""
    if actor in SYSTEM_ACTORS:
        return frozenset({"system"})
    roles = roles_of(roster, actor, at)
    if not roles:
        raise AccessDeniedError(f"{actor!r} is not on the roster")
    allowed = PERMISSIONS.get(action)
    if allowed is None:
        raise AccessDeniedError(f"no permission is defined for {action!r}")
    if not roles & allowed:
        raise AccessDeniedError(
            f"{actor} ({', '.join(sorted(roles))}) may not {action.replace('_', ' ')}: "
            f"that needs {' or '.join(sorted(allowed))}"
        )
    return roles


def may_see_personal_data(roles: Iterable[str], actor: str, assignee: str | None) -> bool:
    return actor == assignee or bool(set(roles) & PERSONAL_DATA_ROLES)


def may_see_case(roles: Iterable[str], actor: str, assignee: str | None, private: bool) -> bool:
    return not private or actor == assignee or bool(set(roles) & PRIVATE_CASE_ROLES)


def mask_contact(contact: str) -> str:
    """010-1234-5678 → 010-****-5678; a@b.kr → a***@b.kr."""
    if "@" in contact:
        name, _, domain = contact.partition("@")
        return f"{name[:1]}***@{domain}"
    digits = [ch for ch in contact if ch.isdigit()]
    if len(digits) < 8:
        return "***"
    return f"{''.join(digits[:3])}-****-{''.join(digits[-4:])}"


def mask_text(text: str) -> str:
    return f"[{len(text)} characters, hidden]"
