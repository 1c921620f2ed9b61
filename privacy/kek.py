"""The key-encryption key: person keys and the pseudonym secret are stored wrapped.

The key store lives in the event store's database; a copy of that database alone
must open no personal field. So every person key and the pseudonym secret is
stored wrapped with AES-256-GCM under a key-encryption key (KEK) that is not in
the database: `MINWON_KEK` (32 bytes, url-safe base64) or `MINWON_KEK_FILE` in
production, `var/kek.key` (made 0600 on first use) for the embedded stack and the
tests. A wrapped value names the KEK that wrapped it (the first bytes of its
SHA-256) and is bound to its row (the person id, or the secret's name) as
associated data, so a wrapped key moved to another person does not open.

`MINWON_KEK_OLD` (comma-separated) lists earlier KEKs still read; `minwon admin
rotate-kek` re-wraps every value under the current one. Values stored before
wrapping existed (raw 32 bytes) are read as they are and wrapped by the rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.files import private_folder, write_private
from runtime.paths import VAR

KEK_ENV = "MINWON_KEK"
KEK_FILE_ENV = "MINWON_KEK_FILE"
OLD_KEKS_ENV = "MINWON_KEK_OLD"
DEV_KEK_FILE = VAR / "kek.key"
KEY_BYTES = 32
MAGIC = b"mwk1"
KEK_ID_BYTES = 8
NONCE_BYTES = 12


class KekError(ValueError):
    """No usable key-encryption key, or a value no known one opens."""


def _decode(text: str, what: str) -> bytes:
    text = text.strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise KekError(f"{what} is not url-safe base64: {error}") from None
    if len(key) != KEY_BYTES:
        raise KekError(f"{what} must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def new_kek_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip("=")


def kek_id(kek: bytes) -> bytes:
    return hashlib.sha256(kek).digest()[:KEK_ID_BYTES]


class Wrapper:
    """Wraps and unwraps stored keys under the current KEK; reads older ones too."""

    def __init__(self, kek: bytes, old: list[bytes] | None = None) -> None:
        self.kek = kek
        self.kek_id = kek_id(kek)
        self._keks = {kek_id(key): key for key in [kek, *(old or [])]}

    @classmethod
    def from_env(cls, env: Mapping[str, str], dev_file: Path | None = None) -> Wrapper:
        """MINWON_KEK or MINWON_KEK_FILE; else the embedded stack's file (made if missing)."""
        text = env.get(KEK_ENV, "")
        if not text and env.get(KEK_FILE_ENV):
            text = Path(env[KEK_FILE_ENV]).read_text(encoding="utf-8")
        if not text:
            path = dev_file or DEV_KEK_FILE
            if not path.exists():
                private_folder(path.parent)
                write_private(path, (new_kek_text() + "\n").encode())
            text = path.read_text(encoding="utf-8")
        old = [_decode(k, OLD_KEKS_ENV) for k in env.get(OLD_KEKS_ENV, "").split(",") if k.strip()]
        return cls(_decode(text, KEK_ENV), old)

    def wrap(self, key: bytes, bound_to: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.kek).encrypt(nonce, key, bound_to.encode("utf-8"))
        return MAGIC + self.kek_id + nonce + sealed

    def unwrap(self, stored: bytes, bound_to: str) -> bytes:
        if not is_wrapped(stored):
            return stored  # stored before keys were wrapped: `rotate-kek` wraps it
        head = len(MAGIC)
        kek = self._keks.get(stored[head : head + KEK_ID_BYTES])
        if kek is None:
            raise KekError(
                f"the key of {bound_to} is wrapped with a key-encryption key this process "
                f"does not have (set {KEK_ENV}, or {OLD_KEKS_ENV} after a rotation)"
            )
        body = stored[head + KEK_ID_BYTES :]
        try:
            return AESGCM(kek).decrypt(
                body[:NONCE_BYTES], body[NONCE_BYTES:], bound_to.encode("utf-8")
            )
        except InvalidTag:
            raise KekError(f"the wrapped key of {bound_to} was altered or moved") from None

    def is_current(self, stored: bytes) -> bool:
        head = len(MAGIC)
        return is_wrapped(stored) and stored[head : head + KEK_ID_BYTES] == self.kek_id


def is_wrapped(stored: bytes) -> bool:
    return stored.startswith(MAGIC) and len(stored) > KEY_BYTES
