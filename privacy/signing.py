"""The checkpoint signing key (Ed25519), held outside the event store.

`MINWON_SIGNING_KEY` (the 32-byte private key, url-safe base64) or
`MINWON_SIGNING_KEY_FILE` (a file holding it) in production; `var/signing.key`,
made on first use with mode 0600, for the embedded stack. Processes that only
publish or check checkpoints (web servers, auditors) need the public key alone:
`MINWON_CHECKPOINT_PUBLIC_KEY`, or the one derived from the private key when the
process has it. `minwon admin public-key` prints it; the web serves it at
`/.well-known/minwon-checkpoint-key`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from privacy.files import private_folder, write_private
from runtime.paths import VAR

KEY_ENV = "MINWON_SIGNING_KEY"
KEY_FILE_ENV = "MINWON_SIGNING_KEY_FILE"
PUBLIC_KEY_ENV = "MINWON_CHECKPOINT_PUBLIC_KEY"
DEV_KEY_FILE = VAR / "signing.key"


class SigningKeyError(ValueError):
    """No usable signing or public key."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str, what: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as error:
        raise SigningKeyError(f"{what} is not url-safe base64: {error}") from None
    if len(data) != 32:
        raise SigningKeyError(f"{what} must be 32 bytes, got {len(data)}")
    return data


def new_key_text() -> str:
    return _b64(Ed25519PrivateKey.generate().private_bytes_raw())


def signing_key(env: Mapping[str, str], dev: bool = False) -> Ed25519PrivateKey:
    """This installation's signing key; made in var/ only for the embedded stack."""
    text = env.get(KEY_ENV, "")
    if not text and env.get(KEY_FILE_ENV):
        text = Path(env[KEY_FILE_ENV]).read_text(encoding="utf-8")
    if not text:
        if not dev:
            raise SigningKeyError(
                f"{KEY_ENV} (or {KEY_FILE_ENV}) is not set: generate one with "
                "`python -c 'from privacy.signing import new_key_text; print(new_key_text())'`"
            )
        if not DEV_KEY_FILE.exists():
            private_folder(DEV_KEY_FILE.parent)
            write_private(DEV_KEY_FILE, (new_key_text() + "\n").encode())
        text = DEV_KEY_FILE.read_text(encoding="utf-8")
    return Ed25519PrivateKey.from_private_bytes(_unb64(text, KEY_ENV))


def public_key_text(key: Ed25519PrivateKey) -> str:
    return _b64(key.public_key().public_bytes_raw())


def key_id(public_text: str) -> str:
    """A short name for a public key, written into each checkpoint it signs."""
    return hashlib.sha256(_unb64(public_text, "public key")).hexdigest()[:16]


def public_key(env: Mapping[str, str], dev: bool = False) -> str:
    """The public key to publish or check with: given, or derived from the private key."""
    given = env.get(PUBLIC_KEY_ENV, "")
    if given:
        _unb64(given, PUBLIC_KEY_ENV)
        return given.strip()
    return public_key_text(signing_key(env, dev))


def sign(key: Ed25519PrivateKey, data: bytes) -> str:
    return _b64(key.sign(data))


class Verifier:
    """Checks signatures with a public key alone."""

    def __init__(self, public_text: str) -> None:
        self.public_text = public_text.strip()
        self.key_id = key_id(self.public_text)
        self._key = Ed25519PublicKey.from_public_bytes(_unb64(self.public_text, "public key"))

    def __call__(self, data: bytes, signature: str) -> bool:
        try:
            raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
            self._key.verify(raw, data)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True
