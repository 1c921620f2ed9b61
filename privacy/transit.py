"""Personal text in transit through Temporal, sealed under the person's own key.

An action's free text about a person (an answer, a note, a finding, an apology's
note, a rating's comment, a message's note) goes to the case's workflow as an
update, and Temporal keeps it in the workflow's history as long as the case plus
the namespace's retention. The payload codec seals the whole update under the
installation's key; this seals each personal field, before that, under the
person's own key (AES-256-GCM, bound to the case and the field), so destroying
the key (erasure, crypto-shredding) leaves nothing readable in Temporal either.
The API seals (`seal_action`); the command activity opens (`open_action`).
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.commands import SEALED_TEXT, Action
from domain.complaint import ERASED

NONCE_BYTES = 12


class UnsealedTextError(ValueError):
    """A sealed text that does not open: altered, moved to another case or field."""


def _place(case_id: object, field: str) -> bytes:
    return f"transit:{case_id}:{field}".encode()


def seal_text(key: bytes, case_id: object, field: str, text: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, text.encode("utf-8"), _place(case_id, field))
    return SEALED_TEXT + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_text(key: bytes | None, case_id: object, field: str, value: str) -> str:
    """The plain text (ERASED once the key is gone); a value not sealed is itself."""
    if not value.startswith(SEALED_TEXT):
        return value  # updates recorded before texts were sealed in transit
    if key is None:
        return ERASED
    try:
        raw = base64.urlsafe_b64decode(value[len(SEALED_TEXT) :])
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _place(case_id, field))
    except (InvalidTag, binascii.Error, ValueError):
        raise UnsealedTextError(
            f"the sealed {field} of case {case_id} does not open (altered or moved)"
        ) from None
    return plain.decode("utf-8")


def seal_action(action: Action, key: bytes, case_id: object) -> Action:
    """The action with its personal text sealed under the person's key."""
    sealed: dict[str, Any] = {
        field: seal_text(key, case_id, field, value)
        for field in action.personal
        if isinstance(value := getattr(action, field), str) and value
    }
    return action.model_copy(update=sealed) if sealed else action


def open_action(action: Action, key: bytes | None, case_id: object) -> Action:
    """The action with its personal text opened again, for the aggregate."""
    opened: dict[str, Any] = {
        field: open_text(key, case_id, field, value)
        for field in action.personal
        if isinstance(value := getattr(action, field), str) and value.startswith(SEALED_TEXT)
    }
    return action.model_copy(update=opened) if opened else action
