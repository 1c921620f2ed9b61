"""What a reader is shown of a stored event: who did it, and its personal fields
masked. One home for both rules, so the audit's replay, the API and the staff desk
name the same actor for an event and mask a contact or a text the same way."""

from __future__ import annotations

import re

from domain.complaint import ERASED

_PHONE = re.compile(r"(\d{2,3})([-. ]?)(\d{3,4})([-. ]?)(\d{4})")


def mask_contact(value: str) -> str:
    """`홍길동 010-1234-5678` → `홍** 010-****-5678`; e-mail `h***@example.org`."""
    return " ".join(_mask_token(token) for token in value.split())


def _mask_token(token: str) -> str:
    if "@" in token:
        local, _, domain = token.partition("@")
        return f"{local[:1]}***@{domain}"
    if any(ch.isdigit() for ch in token):
        phone = _PHONE.fullmatch(token)
        if phone:
            first, sep1, middle, sep2, last = phone.groups()
            return f"{first}{sep1}{'*' * len(middle)}{sep2}{last}"
        digits = sum(ch.isdigit() for ch in token)
        seen = 0
        masked = []
        for ch in token:
            if ch.isdigit():
                seen += 1
                masked.append(ch if seen > digits - 4 else "*")
            else:
                masked.append(ch)
        return "".join(masked)
    return token[:1] + "*" * (len(token) - 1)


def mask_text(value: str) -> str:
    """A text shown by its length alone (가림: hidden; 자: characters)."""
    return f"[가림: {len(value)}자]" if value else ""


def masked(name: str, value: object) -> object:
    """A personal field as shown to a reader not allowed to see it; an erased one
    says so."""
    if not isinstance(value, str) or value == ERASED:
        return value
    return mask_contact(value) if name == "contact" else mask_text(value)


# Who did an event that names nobody (no `by`), by its class; MessageTaken is looked up.
ACTOR_BY_NAME = {"Received": "intake", "SatisfactionRated": "resident"}


def actor_of(event: object, name: str, previous: tuple[str | None, str]) -> str:
    """Who did it: `by`, else the command the event belongs to, else intake or system.

    `previous` is (command id, actor) of the event before: the events one command
    records are consecutive and share its command id (or extend it with `:suffix`).
    (`domain.audit.replay` decides the same, inline, for speed; a test holds them equal.)
    """
    by = getattr(event, "by", None)
    if isinstance(by, str) and by:
        return by
    if name in ACTOR_BY_NAME:
        return ACTOR_BY_NAME[name]
    if name == "MessageTaken":
        return str(getattr(event, "taken_by", "system"))
    command_id = getattr(event, "command_id", None)
    last_command, last_actor = previous
    if (
        isinstance(command_id, str)
        and last_command
        and (command_id == last_command or command_id.startswith(last_command + ":"))
    ):
        return last_actor
    return "system"
