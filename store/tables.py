"""Tables of our own beside the events, in the same SQLite file or PostgreSQL schema.

The person keys (`privacy.keys`) and the public endpoints' rate limits
(`web.limits`) are not events: a row is changed in place or deleted, which an
event store never does. They are reached through the event recorder's own
datastore, so they share its connections and pool sizes, and every process that
opens the store sees the same rows. Statements are written once, with `?`
placeholders and `{p}` for the schema's prefix, `{blob}`, `{text}` and `{real}`
for the column types of the backend in use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore


class StoreTables:
    """Runs statements on the recorder's SQLite or PostgreSQL datastore."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        datastore = getattr(recorder, "datastore", None)
        self._sqlite: SQLiteDatastore | None
        self._postgres: PostgresDatastore | None
        if isinstance(datastore, SQLiteDatastore):
            self._sqlite, self._postgres = datastore, None
            self._types = {"p": "", "blob": "BLOB", "text": "TEXT", "real": "REAL"}
        elif isinstance(datastore, PostgresDatastore):
            self._sqlite, self._postgres = None, datastore
            self._types = {
                "p": f"{datastore.schema}.",
                "blob": "BYTEA",
                "text": "TEXT",
                "real": "DOUBLE PRECISION",
            }
        else:
            raise TypeError(
                f"{type(self).__name__} needs SQLite or PostgreSQL, not {type(recorder)}"
            )

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
        for name, value in self._types.items():
            statement = statement.replace("{" + name + "}", value)
        return statement if self._sqlite is not None else statement.replace("?", "%s")

    def _execute_all(self, statements: list[str]) -> None:
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
        """The first column of the first row, or None."""
        row = self._row(statement, values)
        return None if row is None else row[0]

    def _row(self, statement: str, values: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row's values, or None."""
        if self._postgres is not None:
            # One statement reads consistently by itself: in autocommit it is one
            # round trip, where a transaction around it would add BEGIN and ROLLBACK.
            with self._postgres.get_connection() as connection:
                row = connection.execute(self._sql(statement), values).fetchone()
        else:
            with self._cursor(commit=False) as cursor:
                cursor.execute(self._sql(statement), values)
                row = cursor.fetchone()
        return None if row is None else row_values(row)


def row_values(row: Any) -> tuple[Any, ...]:
    """A row's values in column order: sqlite3 gives rows by position, psycopg dicts."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)
