"""A mapper that seals personal fields with the person's key as events are stored.

Each personal field (declared by the event class, see domain.complaint) is
replaced by `{"sealed": base64(nonce + AES-GCM ciphertext)}`, bound to its place
(case, version, field) as associated data, so a sealed value moved elsewhere or
altered fails to open. Reading a field whose key was destroyed gives ERASED.
Everything else of the event, and the hash chain over it, is untouched.
"""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent

from domain.chain import personal_fields
from privacy.keys import PersonKeys

ERASED = "[erased]"
NONCE_BYTES = 12


class TamperedPersonalDataError(ValueError):
    pass


def _place(case_id: object, version: int, field: str) -> bytes:
    return f"{case_id}:{version}:{field}".encode()


class PersonalDataMapper(Mapper[uuid.UUID]):
    """eventsourcing's Mapper, with personal fields sealed per person."""

    keys: PersonKeys | None = None  # set once the recorder exists

    def _person_for_writing(self, event: Any) -> str:
        assert self.keys is not None, "the key store is attached after the recorder is made"
        case_id: uuid.UUID = event.originator_id
        if event.originator_version == 1:
            # The case's first event names its person (or, failing that, the case itself).
            person = str(getattr(event, "person_id", None) or f"case-{case_id}")
            self.keys.link(case_id, person)
            return person
        return self.keys.person_of(case_id) or f"case-{case_id}"

    def _person_for_reading(self, event: Any) -> str:
        assert self.keys is not None
        person = getattr(event, "person_id", None) if event.originator_version == 1 else None
        return str(
            person or self.keys.person_of(event.originator_id) or f"case-{event.originator_id}"
        )

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        fields = personal_fields(domain_event)
        if not fields:
            return super().to_stored_event(domain_event)
        assert self.keys is not None
        key = self.keys.key_for_writing(self._person_for_writing(domain_event))
        state = dict(vars(domain_event))
        for field in fields:
            value = state.get(field)
            if value is None:
                continue
            if key is None:
                state[field] = ERASED  # the person was erased: keep nothing new of them
                continue
            nonce = os.urandom(NONCE_BYTES)
            place = _place(domain_event.originator_id, domain_event.originator_version, field)
            sealed = AESGCM(key).encrypt(nonce, str(value).encode("utf-8"), place)
            state[field] = {"sealed": base64.b64encode(nonce + sealed).decode("ascii")}
        shell = object.__new__(type(domain_event))
        object.__setattr__(shell, "__dict__", state)
        return super().to_stored_event(shell)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event = super().to_domain_event(stored_event)
        fields = personal_fields(domain_event)
        if not fields:
            return domain_event
        assert self.keys is not None
        key: bytes | None = None
        looked_up = False
        for field in fields:
            value = domain_event.__dict__.get(field)
            if not (isinstance(value, dict) and "sealed" in value):
                continue
            if not looked_up:
                key = self.keys.key(self._person_for_reading(domain_event))
                looked_up = True
            if key is None:
                domain_event.__dict__[field] = ERASED
                continue
            raw = base64.b64decode(value["sealed"])
            place = _place(stored_event.originator_id, stored_event.originator_version, field)
            try:
                plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], place)
            except InvalidTag:
                raise TamperedPersonalDataError(
                    f"sealed field {field!r} of case {stored_event.originator_id} "
                    f"version {stored_event.originator_version} was altered or moved"
                ) from None
            domain_event.__dict__[field] = plain.decode("utf-8")
        return domain_event
