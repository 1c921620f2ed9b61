"""The key store: one AES-256 key per person, kept apart from the events.

Its tables live in the same database as the events (SQLite file or PostgreSQL
schema), reached through the event recorder's own datastore, but no event
refers to a key: destroying a person's key row is what erasure means. A person
is named by a pseudonym, an HMAC of their normalised contact under a secret
kept in the same store, so the same resident filing twice is one person and
the pseudonym reveals nothing without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

KEY_BYTES = 32


def normalise_contact(contact: str) -> str:
    """The same resident writes 010-1234-5678 or 01012345678, A@B.kr or a@b.kr."""
    text = unicodedata.normalize("NFKC", contact).strip().lower()
    if "@" in text:
        return text
    digits = re.sub(r"[^0-9+]", "", text)
    return digits.replace("+82", "0", 1) if digits.startswith("+82") else digits or text


class PersonKeys:
    """Keys, case→person links and erasures, on SQLite or PostgreSQL."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        datastore = getattr(recorder, "datastore", None)
        self._sqlite: SQLiteDatastore | None
        self._postgres: PostgresDatastore | None
        if isinstance(datastore, SQLiteDatastore):
            self._sqlite, self._postgres = datastore, None
            self._prefix, self._blob, self._text = "", "BLOB", "TEXT"
        elif isinstance(datastore, PostgresDatastore):
            self._sqlite, self._postgres = None, datastore
            self._prefix, self._blob, self._text = f"{datastore.schema}.", "BYTEA", "TEXT"
        else:
            raise TypeError(f"personal data needs SQLite or PostgreSQL, not {type(recorder)}")
        # A case never changes hands: its person is looked up once per process.
        self._person_of: dict[uuid.UUID, str] = {}
        self._lock = threading.Lock()
        # Keys read during one load of a case, per thread (see `one_reading`).
        self._reading = threading.local()
        self._secret: bytes | None = None
        self.create_tables()

    @contextmanager
    def _cursor(self, commit: bool = True) -> Iterator[Any]:
        if self._sqlite is not None:
            with self._sqlite.transaction(commit=commit) as cursor:
                yield cursor
        else:
            assert self._postgres is not None
            with self._postgres.transaction(commit=commit) as cursor:
                yield cursor

    def _sql(self, statement: str) -> str:
        statement = statement.replace("{p}", self._prefix)
        statement = statement.replace("{blob}", self._blob).replace("{text}", self._text)
        return statement if self._sqlite is not None else statement.replace("?", "%s")

    def create_tables(self) -> None:
        statements = [
            "CREATE TABLE IF NOT EXISTS {p}minwon_person_keys "
            "(person_id {text} PRIMARY KEY, key {blob} NOT NULL, created_at {text} NOT NULL)",
            "CREATE TABLE IF NOT EXISTS {p}minwon_case_persons "
            "(case_id {text} PRIMARY KEY, person_id {text} NOT NULL)",
            "CREATE INDEX IF NOT EXISTS minwon_case_persons_person "
            "ON {p}minwon_case_persons (person_id)",
            "CREATE TABLE IF NOT EXISTS {p}minwon_erased_persons "
            "(person_id {text} PRIMARY KEY, erased_at {text} NOT NULL, reason {text} NOT NULL)",
            "CREATE TABLE IF NOT EXISTS {p}minwon_secrets "
            "(name {text} PRIMARY KEY, value {blob} NOT NULL)",
        ]
        with self._cursor() as cursor:
            for statement in statements:
                cursor.execute(self._sql(statement))

    def _insert_ignore(self, table: str, columns: str, values: tuple[Any, ...]) -> None:
        marks = ", ".join("?" for _ in values)
        if self._sqlite is not None:
            statement = f"INSERT OR IGNORE INTO {{p}}{table} ({columns}) VALUES ({marks})"
        else:
            statement = (
                f"INSERT INTO {{p}}{table} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING"
            )
        with self._cursor() as cursor:
            cursor.execute(self._sql(statement), values)

    def _one(self, statement: str, values: tuple[Any, ...]) -> Any:
        if self._postgres is not None:
            # One statement reads consistently by itself: in autocommit it is one
            # round trip, where a transaction around it would add BEGIN and ROLLBACK.
            with self._postgres.get_connection() as connection:
                row = connection.execute(self._sql(statement), values).fetchone()
        else:
            with self._cursor(commit=False) as cursor:
                cursor.execute(self._sql(statement), values)
                row = cursor.fetchone()
        if row is None:
            return None
        return row[0] if not isinstance(row, dict) else next(iter(row.values()))

    # -- pseudonyms ----------------------------------------------------------------

    def person_id_for(self, contact: str) -> str:
        if self._secret is None:
            # Two processes may race to create the secret: the first insert wins.
            self._insert_ignore("minwon_secrets", "name, value", ("person-pepper", os.urandom(32)))
            self._secret = bytes(
                self._one("SELECT value FROM {p}minwon_secrets WHERE name = ?", ("person-pepper",))
            )
        digest = hmac.new(self._secret, normalise_contact(contact).encode(), hashlib.sha256)
        return f"p-{digest.hexdigest()[:32]}"

    # -- keys ----------------------------------------------------------------------

    def link(self, case_id: uuid.UUID, person_id: str) -> None:
        self._insert_ignore("minwon_case_persons", "case_id, person_id", (str(case_id), person_id))
        with self._lock:
            self._person_of[case_id] = person_id

    def person_of(self, case_id: uuid.UUID) -> str | None:
        with self._lock:
            known = self._person_of.get(case_id)
        if known is not None:
            return known
        found = self._one(
            "SELECT person_id FROM {p}minwon_case_persons WHERE case_id = ?", (str(case_id),)
        )
        if found is not None:
            with self._lock:
                self._person_of[case_id] = str(found)
        return None if found is None else str(found)

    @contextmanager
    def one_reading(self) -> Iterator[None]:
        """Within it, each person's key is read from the table once, on this thread.

        A load of a case opens every sealed event (the intake, the answer, each note)
        with the same person's key: one read per load rather than one per sealed
        event keeps a case with thousands of notes as cheap to load as a short one.
        The load still sees every erasure committed before it began; nothing is kept
        once it ends.
        """
        outer = getattr(self._reading, "keys", None)
        if outer is None:
            self._reading.keys = {}
        try:
            yield
        finally:
            if outer is None:
                del self._reading.keys

    def key(self, person_id: str) -> bytes | None:
        """The person's key, or None once erased.

        Read from the table on every use (once per load inside `one_reading`), never
        kept beyond: an erasure committed by any process is what the next read sees.
        """
        memo: dict[str, bytes | None] | None = getattr(self._reading, "keys", None)
        if memo is not None and person_id in memo:
            return memo[person_id]
        key = self._read_key(person_id)
        if memo is not None:
            memo[person_id] = key
        return key

    def _read_key(self, person_id: str) -> bytes | None:
        """One indexed read (one round trip on PostgreSQL, see `_one`)."""
        found = self._one("SELECT key FROM {p}minwon_person_keys WHERE person_id = ?", (person_id,))
        return None if found is None else bytes(found)

    def key_for_writing(self, person_id: str) -> bytes | None:
        """The key to seal new data with; made on first use, None for an erased person."""
        if self.is_erased(person_id):
            return None
        key = self._read_key(person_id)
        if key is None:
            created = datetime.now(UTC).isoformat()
            self._insert_ignore(
                "minwon_person_keys",
                "person_id, key, created_at",
                (person_id, os.urandom(KEY_BYTES), created),
            )
            key = self._read_key(person_id)
        return key

    def is_erased(self, person_id: str) -> bool:
        return (
            self._one("SELECT 1 FROM {p}minwon_erased_persons WHERE person_id = ?", (person_id,))
            is not None
        )

    def cases_of(self, person_id: str) -> list[uuid.UUID]:
        with self._cursor(commit=False) as cursor:
            cursor.execute(
                self._sql("SELECT case_id FROM {p}minwon_case_persons WHERE person_id = ?"),
                (person_id,),
            )
            rows = cursor.fetchall()
        return [uuid.UUID(row[0] if not isinstance(row, dict) else row["case_id"]) for row in rows]

    def persons(self) -> list[str]:
        """Every person with a key, i.e. not yet erased."""
        with self._cursor(commit=False) as cursor:
            cursor.execute(self._sql("SELECT person_id FROM {p}minwon_person_keys"))
            rows = cursor.fetchall()
        return sorted(row[0] if not isinstance(row, dict) else row["person_id"] for row in rows)

    def erase(self, person_id: str, reason: str) -> None:
        """Destroy the key; remember the erasure so no new key is ever made for them."""
        self._insert_ignore(
            "minwon_erased_persons",
            "person_id, erased_at, reason",
            (person_id, datetime.now(UTC).isoformat(), reason),
        )
        with self._cursor() as cursor:
            cursor.execute(
                self._sql("DELETE FROM {p}minwon_person_keys WHERE person_id = ?"), (person_id,)
            )
