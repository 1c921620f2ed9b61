"""A mapper that seals personal fields with the person's key as events are stored.

Each personal field (as domain.personal_data decides for the event's class) is
replaced by `{"sealed": base64(nonce + AES-GCM ciphertext)}`, bound to its place
(case, version, field) as associated data, so a sealed value moved elsewhere or
altered fails to open. Reading a field whose key was destroyed gives ERASED. In a
record of the v2 chain a personal field that is neither sealed nor ERASED is
refused: it was put there in plain text by someone other than this mapper.

The mapper also keeps the v2 hash chain (domain.chain): a chained event is stored
with `"chain": 2` and the digest of the record before it as `prev_digest` (the
record just stored in the same save, or the one the aggregate was loaded with),
and each event read or written learns its own record's digest.

`to_chain_link` reads a record for `verify`: the event's link in its case's chain,
decoded as `to_domain_event` decodes it (same transcodings, sealed fields opened so
that an altered one is caught) but without building the event.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NamedTuple, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

from domain.chain import (
    CHAIN_FIELD,
    CHAIN_V2,
    CHAIN_VERSION,
    GENESIS,
    RECORD_DIGEST,
    Link,
    canonical,
    canonical_moment,
    class_chain_name,
    class_personal_fields,
    is_meta,
    personal_fields,
    record_digest,
    state_digest,
)
from domain.complaint import ERASED
from privacy.keys import PersonKeys

NONCE_BYTES = 12


class TamperedPersonalDataError(ValueError):
    pass


def _place(case_id: object, version: int, field: str) -> bytes:
    return f"{case_id}:{version}:{field}".encode()


class PersonalDataMapper(Mapper[uuid.UUID]):
    """eventsourcing's Mapper, with personal fields sealed per person."""

    keys: PersonKeys | None = None  # set once the recorder exists

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(transcoder, compressor, cipher)
        # Chain links are read through to_domain_event with any other transcoder.
        self._chain_decoder = (
            _canonical_decoder(transcoder) if type(transcoder) is JSONTranscoder else None
        )
        self._last_id: tuple[Any, ...] = ()
        self._chain_kinds: dict[str, _ChainKind] = {}
        # The records of the save in progress on this thread, by (id, version): how
        # a record finds the digest of the one written just before it in the same
        # save. Only within one save: a save that failed on a concurrent writer
        # wrote nothing, and what it mapped must not link the next attempt.
        self._batch = threading.local()

    @contextmanager
    def one_save(self) -> Iterator[None]:
        """Link the records mapped inside it to each other (`Complaints.save`)."""
        self._batch.records = {}
        try:
            yield
        finally:
            self._batch.records = {}

    def _in_this_save(self) -> dict[tuple[str, int], str]:
        records: dict[tuple[str, int], str] | None = getattr(self._batch, "records", None)
        if records is None:
            records = self._batch.records = {}
        return records

    def _person_for_writing(self, event: Any) -> str:
        assert self.keys is not None, "the key store is attached after the recorder is made"
        case_id: uuid.UUID = event.originator_id
        if event.originator_version == 1:
            # The case's first event names its person (or, failing that, the case itself).
            person = str(getattr(event, "person_id", None) or f"case-{case_id}")
            self.keys.link(case_id, person)
            return person
        return self.keys.person_of(case_id) or f"case-{case_id}"

    def _person_for_reading(self, case_id: Any, version: int, person_id: object) -> str:
        assert self.keys is not None
        person = person_id if version == 1 else None
        return str(person or self.keys.person_of(case_id) or f"case-{case_id}")

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        fields = personal_fields(domain_event)
        chained = "prev_digest" in vars(domain_event)
        if not fields and not chained:
            return super().to_stored_event(domain_event)
        state = {k: v for k, v in vars(domain_event).items() if not is_meta(k)}
        if chained:
            version = domain_event.originator_version
            # The aggregate linked this event in memory; the record before it may
            # have been stored in this same save, with a digest only known now.
            # Else the aggregate's head: the digest of the record it was loaded with.
            before = self._in_this_save().get((str(domain_event.originator_id), version - 1))
            state["prev_digest"] = GENESIS if version == 1 else before or state["prev_digest"]
            state[CHAIN_FIELD] = CHAIN_V2
        key = None
        if fields:
            assert self.keys is not None
            key = self.keys.key_for_writing(self._person_for_writing(domain_event))
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
        stored = super().to_stored_event(shell)
        if chained:
            digest = record_digest(
                stored.topic, stored.originator_id, stored.originator_version, stored.state
            )
            # The event in memory now says what its record says.
            domain_event.__dict__.update(
                {"prev_digest": state["prev_digest"], RECORD_DIGEST: digest, CHAIN_VERSION: 2}
            )
            self._in_this_save()[(str(stored.originator_id), stored.originator_version)] = digest
        return stored

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event = super().to_domain_event(stored_event)
        state = domain_event.__dict__
        chain = state.pop(CHAIN_FIELD, 1)
        self._open_sealed(stored_event, type(domain_event), state, strict=chain == CHAIN_V2)
        if chain == CHAIN_V2:
            digest = record_digest(
                stored_event.topic,
                stored_event.originator_id,
                stored_event.originator_version,
                stored_event.state,
            )
            state[RECORD_DIGEST] = digest
            state[CHAIN_VERSION] = CHAIN_V2
        return domain_event

    def _open_sealed(
        self, stored_event: StoredEvent, event_class: type, state: Any, strict: bool = False
    ) -> None:
        """Replace each sealed personal field in `state` by its plain text (or ERASED).

        `strict` (a v2 record): a personal field stored neither sealed nor ERASED was
        not written by this mapper, and is refused.
        """
        fields = class_personal_fields(event_class)
        if not fields:
            return
        assert self.keys is not None
        key: bytes | None = None
        looked_up = False
        for field in fields:
            value = state.get(field)
            if not (isinstance(value, dict) and "sealed" in value):
                if strict and value is not None and value != ERASED:
                    raise TamperedPersonalDataError(
                        f"personal field {field!r} of {stored_event.originator_id} version "
                        f"{stored_event.originator_version} is stored unsealed"
                    )
                continue
            if not looked_up:
                version = stored_event.originator_version
                person = self._person_for_reading(
                    state["originator_id"], version, state.get("person_id")
                )
                key = self.keys.key(person)
                looked_up = True
            if key is None:
                state[field] = ERASED
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
            state[field] = plain.decode("utf-8")

    # -- reading for the hash chain ---------------------------------------------------

    def to_chain_link(self, stored_event: StoredEvent) -> Link:
        """The record's link in its chain: version, the digest it carries, its own digest.

        Fails where `to_domain_event` fails, and gives the digest `event_digest` gives
        for the event it decodes, without building the event: transcoded values go
        straight to the digest's canonical form (a stored moment to its ISO text, not
        to a datetime and back). Sealed personal fields, which the digest leaves out,
        are still opened: that is what authenticates them (inside
        `PersonKeys.one_reading`, a case's records read the person's key once).
        """
        kind = self._chain_kinds.get(stored_event.topic)
        if kind is None:
            kind = self._chain_kinds[stored_event.topic] = _ChainKind.of(
                resolve_topic(stored_event.topic)
            )
        decoder = self._chain_decoder
        if decoder is None or not kind.plain:
            return Link.of(self.to_domain_event(stored_event))
        stored_state = stored_event.state
        try:
            if self.cipher:
                stored_state = self.cipher.decrypt(stored_state)
            if self.compressor:
                stored_state = self.compressor.decompress(stored_state)
            text = stored_state.decode("utf8")
            state: dict[str, Any]
            try:
                state, end = decoder.raw_decode(text)
            except ValueError:
                end = -1
            if end != len(text):
                # Surrounding white space, or no JSON: decode() accepts or rejects
                # the text exactly as the transcoder does.
                state = decoder.decode(text)
        except Exception as error:
            raise MapperDeserialisationError(
                f"Failed to deserialise state of stored event with topic "
                f"'{stored_event.topic}', originator_id '{stored_event.originator_id}' "
                f"and originator_version {stored_event.originator_version}: {error}"
            ) from error
        if "class_version" in state:  # written by a newer class: decode it the long way
            return Link.of(self.to_domain_event(stored_event))
        case_id, case_id_text = self._originator_id(kind.event_class, stored_event.originator_id)
        if state.pop(CHAIN_FIELD, 1) == CHAIN_V2:
            if kind.hidden:
                # Opened to authenticate them; refused if put there unsealed.
                state["originator_id"] = case_id
                self._open_sealed(stored_event, kind.event_class, state, strict=True)
            return Link(
                stored_event.originator_version,
                state.get("prev_digest"),
                record_digest(
                    stored_event.topic,
                    stored_event.originator_id,
                    stored_event.originator_version,
                    stored_event.state,
                ),
                kind.name,
                CHAIN_V2,
            )
        if kind.hidden:
            state["originator_id"] = case_id
            self._open_sealed(stored_event, kind.event_class, state)
            for field in kind.hidden:
                state.pop(field, None)
        state["originator_id"] = case_id_text
        state["originator_version"] = stored_event.originator_version
        return Link(
            stored_event.originator_version,
            state.get("prev_digest"),
            state_digest(kind.chain_name, state),
            kind.name,
        )

    def _originator_id(self, event_class: type, stored_id: Any) -> tuple[Any, str]:
        """The id as the event holds it, and as the digest writes it."""
        # Every record of a case carries the same id: convert it once per run of them.
        last = self._last_id
        if (
            last
            and last[0] is event_class
            and type(last[1]) is type(stored_id)
            and last[1] == stored_id
        ):
            return last[2], last[3]
        convertor = find_id_convertor(event_class, cast(Hashable, type(stored_id)))
        converted = convertor(stored_id)
        text = str(canonical(converted))
        self._last_id = (event_class, stored_id, converted, text)
        return converted, text


class _ChainKind(NamedTuple):
    """What reading a record for the chain needs of its event class, looked up once."""

    event_class: type
    name: str
    chain_name: str
    hidden: tuple[str, ...]  # personal fields, left out of the digest
    plain: bool  # no upcasting: the stored state is the event's state

    @classmethod
    def of(cls, event_class: type) -> _ChainKind:
        return cls(
            event_class,
            event_class.__name__,
            class_chain_name(event_class),
            class_personal_fields(event_class),
            getattr(event_class, "class_version", 1) == 1,
        )


# The library's own transcodings, each decoded value written as the canonical form
# writes it (`canonical(transcoding.decode(data))`, in one step).
_CANONICAL_DECODINGS: dict[type, Callable[[Any], Any]] = {
    DatetimeAsISO: canonical_moment,
    UUIDAsHex: lambda data: str(uuid.UUID(data)),
    DecimalAsStr: lambda data: str(Decimal(data)),
}


def _canonical_decoder(transcoder: JSONTranscoder) -> json.JSONDecoder:
    """Decodes what `transcoder` encoded, with transcoded values in the digest's form."""
    names = transcoder.names

    def transcoded(d: dict[str, Any]) -> Any:
        # The same test as JSONTranscoder._decode_obj.
        if len(d) == 2 and "_type_" in d and "_data_" in d:
            transcoding = names.get(d["_type_"])
            if transcoding is None:
                raise TranscodingNotRegisteredError(f"no transcoding named {d['_type_']!r}")
            decode = _CANONICAL_DECODINGS.get(type(transcoding))
            if decode is not None:
                return decode(d["_data_"])
            return canonical(transcoding.decode(d["_data_"]))
        return d

    return json.JSONDecoder(object_hook=transcoded)
