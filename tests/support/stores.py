"""The event stores behind the application, for tests that go around it.

The PostgreSQL test server's settings, a fresh schema per test, the stored event rows
read and altered behind the application (as someone with database access would), and
calls released together on threads to make them collide on a store.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from application.service import Complaints

T = TypeVar("T")

POSTGRES_ENV = {
    "PERSISTENCE_MODULE": "eventsourcing.postgres",
    "POSTGRES_DBNAME": "test",
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "5432",
    "POSTGRES_USER": "postgres",
    "POSTGRES_PASSWORD": "",
}


def postgres_conninfo(env: dict[str, str] | None = None) -> str:
    """A psycopg connection string for the server an env dict points at."""
    env = env or POSTGRES_ENV
    return make_conninfo(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        connect_timeout=5,
    )


def connect_postgres() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(postgres_conninfo(), autocommit=True)
    except psycopg.OperationalError as error:
        problem = str(error)
    env = POSTGRES_ENV
    pytest.fail(
        f"PostgreSQL is not reachable on {env['POSTGRES_HOST']}:{env['POSTGRES_PORT']} "
        f"(database {env['POSTGRES_DBNAME']!r}, user {env['POSTGRES_USER']!r}); the "
        "persistence tests must run on both backends, so this fails instead of "
        f"skipping. Start the server with `make postgres`.\npsycopg said: {problem}",
        pytrace=False,
    )


@contextmanager
def fresh_postgres_schema() -> Iterator[str]:
    """A new schema in the test database, dropped with everything in it afterwards."""
    # eventsourcing creates its tables in POSTGRES_SCHEMA but not the schema itself.
    name = f"minwon_test_{uuid.uuid4().hex[:12]}"
    with connect_postgres() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with connect_postgres() as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


class StoredRows:
    """The stored event rows of one backend, read and altered behind the application."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def _sqlite(self, statement: str, parameters: tuple[Any, ...]) -> list[Any]:
        with closing(sqlite3.connect(self.env["SQLITE_DBNAME"])) as conn, conn:
            cursor = conn.execute(statement, parameters)
            rows = cursor.fetchall()
            if not statement.lstrip().upper().startswith("SELECT"):
                assert cursor.rowcount == 1, f"{statement} changed {cursor.rowcount} rows"
            return rows

    def _postgres(self, statement: str, parameters: tuple[Any, ...]) -> list[Any]:
        # eventsourcing names the table after the application, in POSTGRES_SCHEMA.
        table = sql.Identifier(self.env["POSTGRES_SCHEMA"], f"{Complaints.name}_events")
        query = sql.SQL(statement).format(table=table)
        with psycopg.connect(postgres_conninfo(self.env), autocommit=True) as conn:
            cursor = conn.execute(query, parameters)
            if cursor.description is None:
                assert cursor.rowcount == 1, f"{statement} changed {cursor.rowcount} rows"
                return []
            return cursor.fetchall()

    def _execute(self, statement: str, case_id: uuid.UUID, *values: Any) -> list[Any]:
        if self.env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
            # The SQLite recorder keeps UUIDs as 32 hex digits in a TEXT column.
            sqlite_statement = statement.replace("{table}", "stored_events").replace("%s", "?")
            return self._sqlite(sqlite_statement, (*values, case_id.hex))
        return self._postgres(statement, (*values, case_id))

    def state(self, case_id: uuid.UUID, version: int) -> bytes:
        rows = self._execute(
            "SELECT state FROM {table} WHERE originator_version = %s AND originator_id = %s",
            case_id,
            version,
        )
        assert len(rows) == 1, f"no stored event {case_id} v{version}"
        return bytes(rows[0][0])

    def set_state(self, case_id: uuid.UUID, version: int, state: bytes) -> None:
        self._execute(
            "UPDATE {table} SET state = %s WHERE originator_version = %s AND originator_id = %s",
            case_id,
            state,
            version,
        )

    def delete(self, case_id: uuid.UUID, version: int) -> None:
        self._execute(
            "DELETE FROM {table} WHERE originator_version = %s AND originator_id = %s",
            case_id,
            version,
        )

    def set_version(self, case_id: uuid.UUID, version: int, new_version: int) -> None:
        self._execute(
            "UPDATE {table} SET originator_version = %s "
            "WHERE originator_version = %s AND originator_id = %s",
            case_id,
            new_version,
            version,
        )

    def insert(self, case_id: uuid.UUID, version: int, topic: str, state: bytes) -> None:
        self._execute(
            "INSERT INTO {table} (originator_version, topic, state, originator_id) "
            "VALUES (%s, %s, %s, %s)",
            case_id,
            version,
            topic,
            state,
        )


def run_in_threads(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run each call on its own thread, released together to make them collide."""
    barrier = threading.Barrier(len(calls))

    def start(call: Callable[[], T]) -> T:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(start, call) for call in calls]
        return [future.result(timeout=120) for future in futures]
