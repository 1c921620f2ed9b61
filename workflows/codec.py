"""Encrypting payload codec: what the Temporal server stores is ciphertext.

Workflow inputs carry a complainant's contact and text, so every payload is
sealed with AES-256-GCM before it leaves the process. The key comes from
`MINWON_PAYLOAD_KEY` (32 bytes, url-safe base64); older keys that may still
be needed to read running workflows go in `MINWON_PAYLOAD_OLD_KEYS`
(comma-separated). Each payload names the key it was sealed with.

A payload that is not sealed with a key of ours (a raw JSON start or update from
the Temporal CLI, a client with another key, bytes that fail authentication) is
never opened: it decodes to `UNSEALED` and a reason, which the workflow refuses
(an update is rejected before it enters history; a start fails the workflow at
once, with the reason). Raising here instead would fail the workflow task over
and over, or fail a running case because of someone else's update.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    EncodingPayloadConverter,
    PayloadCodec,
)

from privacy.files import write_private

ENCODING = b"binary/encrypted"
NONCE_BYTES = 12
# What a payload that is not ours decodes to (raw bytes reach the workflow as they are).
UNSEALED = b"minwon:unsealed-payload"
_PLAIN_BYTES = b"binary/plain"


def unsealed(reason: str) -> Payload:
    return Payload(metadata={"encoding": _PLAIN_BYTES}, data=UNSEALED + b": " + reason.encode())


def unsealed_reason(value: object) -> str | None:
    """The reason a decoded value is an unsealed payload's marker, or None."""
    if isinstance(value, bytes) and value.startswith(UNSEALED):
        return value[len(UNSEALED) + 2 :].decode(errors="replace")
    return None


class PayloadKeyError(ValueError):
    pass


def decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode() + b"==")
    except ValueError as error:
        raise PayloadKeyError(f"payload key is not url-safe base64: {error}") from None
    if len(key) != 32:
        raise PayloadKeyError(f"payload key must be 32 bytes, got {len(key)}")
    return key


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).hexdigest()[:16].encode()


class EncryptionCodec(PayloadCodec):
    def __init__(self, key: bytes, old_keys: Sequence[bytes] = ()) -> None:
        self._current = (key_id(key), AESGCM(key))
        self._readers: Mapping[bytes, AESGCM] = {key_id(k): AESGCM(k) for k in (key, *old_keys)}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        kid, cipher = self._current
        sealed = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), kid)
            sealed.append(Payload(metadata={"encoding": ENCODING, "key-id": kid}, data=data))
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._open(payload) for payload in payloads]

    def _open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return unsealed("the payload is not sealed with the installation's payload key")
        kid = payload.metadata.get("key-id", b"")
        cipher = self._readers.get(kid)
        if cipher is None:
            return unsealed(
                f"the payload is sealed with a key this installation does not have "
                f"(id {kid.decode(errors='replace')!r}; an old key goes in MINWON_PAYLOAD_OLD_KEYS)"
            )
        nonce, body = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            opened = cipher.decrypt(nonce, body, kid)
        except InvalidTag:
            return unsealed("the sealed payload does not authenticate (altered or forged)")
        plain = Payload()
        plain.ParseFromString(opened)
        return plain


def codec_from_env(env: Mapping[str, str], dev_key_file: Path | None = None) -> EncryptionCodec:
    """The codec for this process's settings. Without a key, only the embedded stack
    may make one (kept in `dev_key_file` so its cases survive a restart)."""
    text = env.get("MINWON_PAYLOAD_KEY", "")
    if not text:
        if dev_key_file is None:
            raise PayloadKeyError(
                "MINWON_PAYLOAD_KEY is not set: generate one with "
                "`python -c 'from workflows.codec import new_key; print(new_key())'`"
            )
        if not dev_key_file.exists():
            write_private(dev_key_file, (new_key() + "\n").encode())
        text = dev_key_file.read_text(encoding="utf-8")
    old = [decode_key(k) for k in env.get("MINWON_PAYLOAD_OLD_KEYS", "").split(",") if k.strip()]
    return EncryptionCodec(decode_key(text), old)


class SharedPydanticPayloadConverter(PydanticPayloadConverter):
    """The SDK's pydantic payload converter, its parts made once for every instance.

    The worker's SDK builds a new data converter, and with it a new payload converter,
    for every workflow activation it encodes or decodes. A new
    `PydanticPayloadConverter` makes its encoding converters again and starts with an
    empty cache of pydantic type adapters, so every activation built the adapters of
    the types it met again. The encoding converters keep no state but that cache (an
    `lru_cache`, safe across threads); here every instance shares one set.
    """

    _shared: tuple[EncodingPayloadConverter, ...] = ()

    def __init__(self) -> None:
        if not SharedPydanticPayloadConverter._shared:
            # Two threads may both get here first: each makes a set, one is kept.
            made = PydanticPayloadConverter().converters.values()
            SharedPydanticPayloadConverter._shared = tuple(made)
        CompositePayloadConverter.__init__(self, *SharedPydanticPayloadConverter._shared)


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """pydantic models in and out; sealed by `codec` on the wire, failures included.

    A failure's message and stack trace are not payloads: by default Temporal keeps
    them in clear in the history, and a refused input's validation message can
    repeat what it was given. With a codec they travel as encoded attributes,
    sealed like any payload (the history shows "Encoded failure").
    """
    shared = dataclasses.replace(
        pydantic_data_converter, payload_converter_class=SharedPydanticPayloadConverter
    )
    if codec is None:
        return dataclasses.replace(shared, payload_codec=None)
    return dataclasses.replace(
        shared,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
