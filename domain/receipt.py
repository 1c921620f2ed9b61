"""The receipt index: a resident's receipt code → the case it names.

Saved atomically with the case, so a code is never given to two cases: a
collision fails the save, and intake draws another code.
"""

from __future__ import annotations

import secrets
import uuid

from eventsourcing.domain import Aggregate, event

RECEIPT_NAMESPACE = uuid.UUID("0b8f4c53-2a9e-4f7d-8c61-5d0e3a7b9f12")
# Crockford's base32: no I, L, O or U, so a code read over the phone is unambiguous.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10


class ReceiptCodeError(ValueError):
    pass


def new_receipt_code() -> str:
    """50 random bits, shown as `MW-XXXXX-XXXXX`: short enough to read aloud."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"MW-{raw[:5]}-{raw[5:]}"


def normalise_receipt_code(text: str) -> str:
    """Accept what residents type: lower case, spaces, O for 0, I or L for 1."""
    cleaned = text.strip().upper().replace(" ", "").replace("-", "")
    # The prefix is optional, and a code's own characters may begin with M, W too.
    if len(cleaned) == CODE_LENGTH + 2:
        cleaned = cleaned.removeprefix("MW")
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        raise ReceiptCodeError(f"'{text}' is not a receipt code (like MW-7K3QX-9PD2M)")
    return f"MW-{cleaned[:5]}-{cleaned[5:]}"


class ReceiptIndex(Aggregate):
    @staticmethod
    def create_id(code: str) -> uuid.UUID:
        return uuid.uuid5(RECEIPT_NAMESPACE, code)

    @event("Issued")
    def __init__(self, code: str, case_id: uuid.UUID) -> None:
        self.code = code
        self.case_id = case_id
