"""How the engine reaches a resident: the channel their contact allows."""

from __future__ import annotations

import re

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 -]{7,18}[0-9]$")


def contact_channel(contact: str) -> tuple[str, str] | None:
    """("email", address) or ("sms", digits) for the contact a resident gave; None when
    it is neither (a postal address, a name)."""
    text = contact.strip()
    if EMAIL.match(text):
        return "email", text
    if PHONE.match(text):
        return "sms", re.sub(r"[ -]", "", text)
    return None
