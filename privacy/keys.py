"""The key store: one AES-256 key per person, kept apart from the events.

Its tables live in the same database as the events (SQLite file or PostgreSQL
schema), reached through the event recorder's own datastore, but no event
refers to a key: destroying a person's key row is what erasure means. A person
is named by a pseudonym, an HMAC of their normalised contact under a secret
kept in the same store, so the same resident filing twice is one person and
the pseudonym reveals nothing without the secret. Every key and the secret are
stored wrapped under a key-encryption key that is not in the database
(privacy.kek): a copy of the database alone opens nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from eventsourcing.persistence import ApplicationRecorder

from privacy.kek import Wrapper
from store.tables import StoreTables, row_values

KEY_BYTES = 32
PEPPER = "person-pepper"
# How often an erasure asks SQLite to empty its WAL while readers hold it back.
WAL_TRUNCATE_TRIES = 5


class WalNotTruncatedError(RuntimeError):
    """An erasure's key is gone from the table, not yet from SQLite's WAL file."""


def normalise_contact(contact: str) -> str:
    """The same resident writes 010-1234-5678 or 01012345678, A@B.kr or a@b.kr."""
    text = unicodedata.normalize("NFKC", contact).strip().lower()
    if "@" in text:
        return text
    digits = re.sub(r"[^0-9+]", "", text)
    return digits.replace("+82", "0", 1) if digits.startswith("+82") else digits or text


class PersonKeys(StoreTables):
    """Keys, case→person links and erasures, on SQLite or PostgreSQL."""

    def __init__(self, recorder: ApplicationRecorder, wrapper: Wrapper) -> None:
        super().__init__(recorder)
        self.wrapper = wrapper
        # A case never changes hands: its person is looked up once per process.
        self._person_of: dict[uuid.UUID, str] = {}
        self._lock = threading.Lock()
        # Keys read during one load of a case, per thread (see `one_reading`).
        self._reading = threading.local()
        self._secret: bytes | None = None
        self.create_tables()

    def create_tables(self) -> None:
        self._execute_all(
            [
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
        )

    # -- pseudonyms ----------------------------------------------------------------

    def _pepper(self) -> bytes:
        if self._secret is None:
            # Two processes may race to create the secret: the first insert wins.
            wrapped = self.wrapper.wrap(os.urandom(32), PEPPER)
            self._insert_ignore("minwon_secrets", "name, value", (PEPPER, wrapped))
            stored = self._one("SELECT value FROM {p}minwon_secrets WHERE name = ?", (PEPPER,))
            self._secret = self.wrapper.unwrap(bytes(stored), PEPPER)
        return self._secret

    def person_id_for(self, contact: str) -> str:
        digest = hmac.new(self._pepper(), normalise_contact(contact).encode(), hashlib.sha256)
        return f"p-{digest.hexdigest()[:32]}"

    def contact_digest(self, contact: str, purpose: str) -> str:
        """A keyed hash of the contact for `purpose` (a rate limit counts by it).

        One contact however it is written, as for the pseudonym, but never equal to
        it: a row keyed by this digest cannot be joined to a person or their cases.
        """
        message = f"{purpose}\0{normalise_contact(contact)}".encode()
        return hmac.new(self._pepper(), message, hashlib.sha256).hexdigest()[:32]

    def derived_secret(self, name: str) -> str:
        """A secret for `name` (a link's), derived from the installation's secret: the
        same every time it is asked for, and nothing to store."""
        digest = hmac.new(self._pepper(), f"secret\0{name}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:24]).decode()

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
        return None if found is None else self.wrapper.unwrap(bytes(found), person_id)

    def key_for_writing(self, person_id: str) -> bytes | None:
        """The key to seal new data with; made on first use, None for an erased person."""
        # Whether the person is erased and their key, in one statement: every save of
        # personal data asks, so one read rather than two.
        wrapped, erased = self._row(
            # Named: PostgreSQL's rows come as dicts, and two unnamed columns would
            # share one name.
            "SELECT (SELECT key FROM {p}minwon_person_keys WHERE person_id = ?) AS wrapped, "
            "(SELECT 1 FROM {p}minwon_erased_persons WHERE person_id = ?) AS erased",
            (person_id, person_id),
        ) or (None, None)
        if erased is not None:
            return None
        key = None if wrapped is None else self.wrapper.unwrap(bytes(wrapped), person_id)
        if key is None:
            created = datetime.now(UTC).isoformat()
            self._insert_ignore(
                "minwon_person_keys",
                "person_id, key, created_at",
                (person_id, self.wrapper.wrap(os.urandom(KEY_BYTES), person_id), created),
            )
            key = self._read_key(person_id)
        return key

    def rotate(self) -> int:
        """Wrap every key and the secret under the current key-encryption key (those
        wrapped under an older one, or stored before wrapping); how many were."""
        rewrapped = 0
        for table, column, name_column in (
            ("minwon_person_keys", "key", "person_id"),
            ("minwon_secrets", "value", "name"),
        ):
            with self._cursor(commit=False) as cursor:
                cursor.execute(self._sql(f"SELECT {name_column}, {column} FROM {{p}}{table}"))
                rows = [row_values(row) for row in cursor.fetchall()]
            for name, stored in rows:
                if self.wrapper.is_current(bytes(stored)):
                    continue
                plain = self.wrapper.unwrap(bytes(stored), name)
                with self._cursor() as cursor:
                    cursor.execute(
                        self._sql(f"UPDATE {{p}}{table} SET {column} = ? WHERE {name_column} = ?"),
                        (self.wrapper.wrap(plain, name), name),
                    )
                rewrapped += 1
        if rewrapped and self._sqlite is not None:
            self._truncate_wal()  # the unwrapped values' pages
        return rewrapped

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
        return [uuid.UUID(row_values(row)[0]) for row in rows]

    def persons(self) -> list[str]:
        """Every person with a key, i.e. not yet erased."""
        with self._cursor(commit=False) as cursor:
            cursor.execute(self._sql("SELECT person_id FROM {p}minwon_person_keys"))
            rows = cursor.fetchall()
        return sorted(row_values(row)[0] for row in rows)

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
        if self._sqlite is not None:
            self._truncate_wal()

    def _truncate_wal(self) -> None:
        """Empty SQLite's write-ahead log into the file, where the key's row is zeroed.

        The store runs with secure_delete (`privacy.files`), so the DELETE zeroed the
        key in its page; but the WAL keeps every earlier image of that page (the
        insert's among them) until a checkpoint copies the last one into the file,
        and its bytes stay in the WAL file until it is truncated. A reader in another
        connection holds the checkpoint back: it is asked again a few times, and an
        erasure that still finds the WAL held fails so that it is run again.
        """
        assert self._sqlite is not None
        for attempt in range(WAL_TRUNCATE_TRIES):
            with self._sqlite.get_connection(commit=True) as connection:
                cursor = connection.cursor()
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                busy = row_values(cursor.fetchone())[0]
            if not busy:
                return
            time.sleep(0.1 * (attempt + 1))
        raise WalNotTruncatedError(
            "the key is destroyed, but readers kept SQLite from emptying its write-ahead "
            "log, which still holds the key's old page: run the erasure again"
        )
