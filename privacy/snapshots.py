"""Snapshots of a case, sealed whole under its person's key (docs/decisions/0009).

A snapshot is a case's state at one version, so once opened it holds in plain text
what the case's events hold sealed: the contact and the complaint, the answer, the
notes, the last event with its personal fields. It is therefore stored sealed as a
whole (AES-256-GCM) under the key that seals the case's events, bound to its place
(case, version) and to the code that wrote it. An erasure destroys that key, and
with it every snapshot of the person's cases, wherever a copy of them is: the
store, its WAL, its backups. Nothing else ever reads a snapshot: the hash chain,
`verify`, the audit replay and the checkpoints read the stored events only.

A record is `MAGIC`, the digest of the code that wrote it (`source_digest`), a
newline, then the nonce and the sealed state (the application's cipher, if one is
set, encrypts the whole record again). What is sealed is the length of the
compressed JSON of the state (4 bytes), that JSON, then the values of the types
`prepare` names as packed (a case's command ids, its notes and its apologies), each
as the bytes it gives (`snapshot_bytes`): a load hands them back to their type as
they are (`from_snapshot_bytes`), with no item of them decoded; the notes and the
apologies are decoded when the case's code first reads one of them. A snapshot
that cannot be used is passed over and the case is replayed from its events
(`SnapshotStore.get`): its person erased, its bytes altered, moved to another case
or version, or written by other code, whose state might not be what this code's
replay of the same events gives.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import sys
import uuid
import zlib
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import fields, is_dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    DatetimeAsISO,
    DecimalAsStr,
    EventStore,
    JSONTranscoder,
    Mapper,
    PersistenceError,
    Recording,
    StoredEvent,
    Transcoder,
    Transcoding,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteDatastore
from eventsourcing.utils import get_topic, resolve_topic
from psycopg.sql import SQL, Identifier

from privacy.keys import PersonKeys

MAGIC = b"minwon-snapshot-1\n"
NONCE_BYTES = 12
# The attribute of a chained aggregate that holds its last event (domain.chained).
LAST_EVENT = "last_event"

log = logging.getLogger(__name__)
# How loud a snapshot passed over is: expected after an erasure or a new version of
# the code; anything else is a record someone or something altered.
_PASSED_OVER_LEVEL = {
    "its person was erased": logging.DEBUG,
    "written by other code": logging.INFO,
}


class SnapshotNotTakenError(RuntimeError):
    """A snapshot that is not to be stored: its person was erased."""


class SnapshotUnusableError(ValueError):
    """A stored snapshot that is not to be loaded from; the case is replayed instead."""

    def __init__(self, record: StoredEvent, why: str) -> None:
        super().__init__(
            f"snapshot of {record.originator_id} at version {record.originator_version}: {why}"
        )
        self.why = why


class Packed(Protocol):
    """A value of a state that a snapshot holds as the bytes it gives, not as JSON;
    its class reads them back (`from_snapshot_bytes`)."""

    def snapshot_bytes(self) -> bytes: ...


class _SetAsList(Transcoding):
    type = set
    name = "set"

    def encode(self, obj: set[Any]) -> list[Any]:
        return list(obj)

    def decode(self, data: list[Any]) -> set[Any]:
        return set(data)


class _DataclassAsDict(Transcoding):
    """A dataclass of the state (a case's `Commitment`), by its fields."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = get_topic(cls)
        self.fields = frozenset(f.name for f in fields(cls))
        # Made without its __init__ (a frozen one sets each field through
        # object.__setattr__), when that __init__ would only set the fields.
        self.plain = not (hasattr(cls, "__slots__") or hasattr(cls, "__post_init__"))

    def encode(self, obj: Any) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in fields(obj)}

    def decode(self, data: dict[str, Any]) -> Any:
        if not self.plain or data.keys() != self.fields:
            return self.type(**data)
        obj: Any = object.__new__(self.type)
        obj.__dict__.update(data)
        return obj


@lru_cache
def source_digest(classes: tuple[type, ...]) -> str:
    """A digest of the code a snapshot's state comes from: the source of the modules
    defining `classes` and their base classes (and every module of a package such a
    module is in, below the top level), and the eventsourcing version. A snapshot
    written by other code is passed over: a change to an event's body or to a
    dataclass of the state would otherwise load a state that a replay no longer gives.
    """
    modules: set[str] = set()
    for cls in classes:
        modules.update(c.__module__ for c in cls.__mro__)
    files: set[Path] = set()
    for name in modules:
        if name.partition(".")[0] in ("builtins", "typing", "abc", "eventsourcing"):
            continue
        module = sys.modules[name]
        source = getattr(module, "__file__", None)
        if source is None:
            continue
        path = Path(source)
        files.add(path)
        # A module in a subpackage (domain.complaint.events): the whole subpackage.
        if name.count(".") >= 2 or path.name == "__init__.py":
            files.update(path.parent.glob("*.py"))
    digest = hashlib.sha256(importlib.metadata.version("eventsourcing").encode())
    for path in sorted(files):
        digest.update(f"\n{path.name}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class SealedSnapshotMapper(Mapper[uuid.UUID]):
    """Snapshots to records and back, sealed under the case's person's key.

    `prepare` attaches the key store (made after the recorder) and names the
    dataclasses the aggregate's state holds; a state holding any other type is not
    snapshotted (the transcoder refuses it), never stored in part.
    """

    keys: PersonKeys | None = None

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(transcoder, compressor, cipher)
        self.state = JSONTranscoder()
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), _SetAsList()):
            self.state.register(transcoding)
        self.code = b""
        # The types of a state's values held packed, by their topics and back.
        self.packed_topics: dict[type, str] = {}
        self.packed_types: dict[str, Any] = {}

    def prepare(
        self,
        keys: PersonKeys,
        aggregate: type,
        state_types: Iterable[type] = (),
        packed_types: Iterable[type] = (),
    ) -> None:
        """`state_types`: the dataclasses the state holds, written by their fields;
        `packed_types`: types held as the bytes they give (`snapshot_bytes`), read
        back by their `from_snapshot_bytes`. The code's digest covers them, and this
        module: a snapshot in another format is written by other code."""
        self.keys = keys
        types = tuple(state_types)
        for cls in types:
            assert is_dataclass(cls), cls
            self.state.register(_DataclassAsDict(cls))
        packed = tuple(packed_types)
        for cls in packed:
            assert callable(getattr(cls, "from_snapshot_bytes", None)), cls
            self.packed_topics[cls] = get_topic(cls)
            self.packed_types[get_topic(cls)] = cls
        self.code = source_digest((aggregate, *types, *packed, type(self))).encode("ascii")

    def _person(self, case_id: uuid.UUID) -> str:
        assert self.keys is not None, "prepare() attaches the key store"
        # As privacy.mapper finds the key of every event after a case's first.
        return self.keys.person_of(case_id) or f"case-{case_id}"

    def _place(self, case_id: uuid.UUID, version: int) -> bytes:
        """What a snapshot is bound to: its case, its version, the code that wrote it."""
        return f"{case_id}:{version}:snapshot:".encode() + self.code

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        snapshot = domain_event
        assert self.keys is not None, "prepare() attaches the key store"
        # The key first: an erased person's case is loaded by a replay every time,
        # and asked to be snapshotted again each time; its state is not even encoded.
        key = self.keys.key_for_writing(self._person(snapshot.originator_id))
        if key is None:
            raise SnapshotNotTakenError(
                f"case {snapshot.originator_id}: its person was erased, nothing new of them is kept"
            )
        state = dict(snapshot.state)
        last = state.get(LAST_EVENT)
        if last is not None:
            state[LAST_EVENT] = {"topic": get_topic(type(last)), "state": dict(vars(last))}
        # The values held packed: [name, topic, length in bytes] each, in order.
        packed: list[list[Any]] = []
        written: list[bytes] = []
        for name, value in list(state.items()):
            topic = self.packed_topics.get(type(value))
            if topic is not None:
                given = cast(Packed, value).snapshot_bytes()
                packed.append([name, topic, len(given)])
                written.append(given)
                del state[name]
        body = {"timestamp": snapshot.timestamp, "topic": snapshot.topic, "state": state,
                "packed": packed}  # fmt: skip
        # What is packed goes as its type gives it: a case's command ids compress
        # what would shrink, not their uuids' bytes, which would only cost a load.
        compressed = zlib.compress(self.state.encode(body), 1)
        plain = b"".join([len(compressed).to_bytes(4, "big"), compressed, *written])
        nonce = os.urandom(NONCE_BYTES)
        place = self._place(snapshot.originator_id, snapshot.originator_version)
        data = MAGIC + self.code + b"\n" + nonce + AESGCM(key).encrypt(nonce, plain, place)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=snapshot.originator_id,
            originator_version=snapshot.originator_version,
            topic=get_topic(type(snapshot)),
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        record = stored_event
        data = record.state
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
        except Exception as error:
            raise SnapshotUnusableError(record, f"not decrypted ({error})") from error
        head = len(MAGIC) + len(self.code) + 1
        if not data.startswith(MAGIC) or data[head - 1 : head] != b"\n":
            raise SnapshotUnusableError(record, "not a sealed snapshot")
        if data[len(MAGIC) : head - 1] != self.code:
            raise SnapshotUnusableError(record, "written by other code")
        cls = resolve_topic(record.topic)
        convertor = find_id_convertor(cls, cast(Hashable, type(record.originator_id)))
        case_id = cast(uuid.UUID, convertor(record.originator_id))
        assert self.keys is not None, "prepare() attaches the key store"
        key = self.keys.key(self._person(case_id))
        if key is None:
            raise SnapshotUnusableError(record, "its person was erased")
        # Views, not copies: a long case's snapshot is a few hundred kilobytes.
        view = memoryview(data)
        nonce, sealed = view[head : head + NONCE_BYTES], view[head + NONCE_BYTES :]
        place = self._place(case_id, record.originator_version)
        try:
            plain = AESGCM(key).decrypt(nonce, sealed, place)
        except InvalidTag:
            raise SnapshotUnusableError(record, "altered or moved") from None
        body, state = self._opened(plain)
        last = state.get(LAST_EVENT)
        if last is not None:
            event = object.__new__(resolve_topic(last["topic"]))
            object.__setattr__(event, "__dict__", last["state"])
            state[LAST_EVENT] = event
        snapshot = object.__new__(cls)
        object.__setattr__(
            snapshot,
            "__dict__",
            {
                "originator_id": case_id,
                "originator_version": record.originator_version,
                "timestamp": body["timestamp"],
                "topic": body["topic"],
                "state": state,
            },
        )
        return snapshot

    def _opened(self, plain: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        """The body and the state of an opened snapshot, what is packed read back."""
        view = memoryview(plain)
        start = 4 + int.from_bytes(view[:4], "big")
        body = self.state.decode(zlib.decompress(view[4:start]))
        state = body["state"]
        packed = body["packed"]
        if len(view) != start + sum(length for _, _, length in packed):
            raise ValueError("what is packed does not end where the snapshot does")
        for name, topic, length in packed:
            state[name] = self.packed_types[topic].from_snapshot_bytes(view[start : start + length])
            start += length
        return body, state


class SnapshotStore(EventStore[uuid.UUID]):
    """eventsourcing's snapshot store, passing over a snapshot it cannot use.

    The repository asks for a case's latest snapshot; one that does not open is
    left out, so the case is replayed from its first event as if it had none.

    Only a case's latest snapshot is kept: storing one deletes the case's older ones
    in the same transaction (`put`). A load at a version before it finds none and
    replays the case from its first event.
    """

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[uuid.UUID]]:
        """Store the snapshots, and delete the older ones of their cases with them.

        On SQLite and PostgreSQL the insert and the delete are one transaction: a
        snapshot that is not stored (another process stored it first) deletes
        nothing. Only the rows before the one stored go: one stored for an earlier
        version than the latest (`take_snapshot(version=N)`) leaves the latest in
        place, and goes with it when a later one is stored.
        """
        recorder = self.recorder
        datastore = getattr(recorder, "datastore", None)
        if not isinstance(datastore, (SQLiteDatastore, PostgresDatastore)):
            return super().put(domain_events, **kwargs)
        records = [self.mapper.to_stored_event(snapshot) for snapshot in domain_events]
        if not records:
            return []
        # Each case's latest snapshot stored now: the rows before it go.
        latest: dict[Any, int] = {}
        for record in records:
            case_id = record.originator_id
            latest[case_id] = max(latest.get(case_id, 0), record.originator_version)
        if isinstance(recorder, SQLiteAggregateRecorder):
            assert isinstance(datastore, SQLiteDatastore)
            table = recorder.events_table_name
            delete = f"DELETE FROM {table} WHERE originator_id = ? AND originator_version < ?"
            with datastore.transaction(commit=True) as cursor:
                recorder._insert_events(cursor, records)
                for case_id, version in latest.items():
                    hexed = case_id.hex if isinstance(case_id, uuid.UUID) else case_id
                    cursor.execute(delete, (hexed, version))
        else:
            assert isinstance(recorder, PostgresAggregateRecorder)
            assert isinstance(datastore, PostgresDatastore)
            statement = SQL(
                "DELETE FROM {table} WHERE originator_id = %s AND originator_version < %s"
            ).format(table=Identifier(datastore.schema, recorder.events_table_name))
            with datastore.transaction(commit=True) as cursor:
                recorder._insert_stored_events(cursor, records)
                for case_id, version in latest.items():
                    cursor.execute(statement, (case_id, version))
        return []

    def get(
        self,
        originator_id: uuid.UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Iterator[Any]:
        try:
            records = self.recorder.select_events(
                originator_id=originator_id, gt=gt, lte=lte, desc=desc, limit=limit
            )
        except PersistenceError as error:  # the table missing (CREATE_TABLE=n), say
            log.warning("snapshots of case %s not read (%s): the case is replayed from its "
                        "events", originator_id, type(error).__name__)  # fmt: skip
            return
        for record in records:
            try:
                yield self.mapper.to_domain_event(record)
            except Exception as error:  # a snapshot is a cache: the events decide
                # Only the kind of an unexpected error: its text might quote the state.
                why = (
                    error.why if isinstance(error, SnapshotUnusableError) else type(error).__name__
                )
                log.log(
                    _PASSED_OVER_LEVEL.get(why, logging.WARNING),
                    "snapshot of case %s at version %s passed over (%s): the case is "
                    "replayed from its events",
                    record.originator_id,
                    record.originator_version,
                    why,
                )
