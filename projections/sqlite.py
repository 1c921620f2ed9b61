"""Views on SQLite: the DDL, the tracking table and the value adapters.

eventsourcing's `SQLiteTrackingRecorder` keeps every tracking record of a
database in one table named `tracking`, keyed by application name; the views of
one application would then share a single position. Each view here has its own
`{name}_tracking` table instead (as eventsourcing's PostgreSQL recorder does).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from eventsourcing.persistence import ProgrammingError, Tracking
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from projections.base import AlreadyTracked, Cursor, View, utc_text

_TYPES = {
    "text": "TEXT",
    "integer": "INTEGER",
    "boolean": "INTEGER",
    "real": "REAL",
    # Fixed-width UTC text (`utc_text`), so MIN() and comparisons are in time order.
    "moment": "TEXT",
}


class SQLiteView(View, SQLiteTrackingRecorder):
    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        if not datastore.single_row_tracking:
            raise ProgrammingError(f"view {self.name} needs single-row tracking")
        super().__init__(datastore, **kwargs)
        self._tracking_table = _quote(f"{self.name}_tracking")
        self._statements: dict[str, str] = {}
        self._names = {table.name: _quote(table.name) for table in self.tables}

    def construct_create_table_statements(self) -> list[str]:
        statements = []
        for table in self.tables:
            columns = ", ".join(f"{_quote(name)} {_TYPES[kind]}" for name, kind in table.columns)
            key = ", ".join(table.key)
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {_quote(table.name)} ({columns}, PRIMARY KEY ({key}))"
            )
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {_quote(self.name + '_tracking')} "
            "(application_name TEXT PRIMARY KEY, notification_id INTEGER) WITHOUT ROWID"
        )
        return statements

    def create_table(self) -> None:
        # The library's version migrates its shared `tracking` table; these are new.
        with self.datastore.transaction(commit=True) as cursor:
            for statement in self.create_table_statements:
                cursor.execute(statement)

    @contextmanager
    def _begin(self) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    @contextmanager
    def _read(self) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor

    def _track(self, cursor: Cursor, tracking: Tracking) -> None:
        cursor.execute(
            f"INSERT INTO {self._tracking_table} VALUES (:application, :position) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = :position "
            f"WHERE {self._tracking_table}.notification_id < :position "
            "RETURNING notification_id",
            {"application": tracking.application_name, "position": tracking.notification_id},
        )
        if cursor.fetchone() is None:
            raise AlreadyTracked(
                f"view {self.name} has already processed notification "
                f"{tracking.notification_id} of {tracking.application_name}"
            )

    def _forget(self, cursor: Cursor) -> None:
        cursor.execute(f"DELETE FROM {self._tracking_table}")

    def max_tracking_id(self, application_name: str) -> int | None:
        with self._read() as cursor:
            cursor.execute(
                f"SELECT notification_id FROM {self._tracking_table} WHERE application_name = ?",
                (application_name,),
            )
            row = cursor.fetchone()
        return None if row is None else int(row[0])

    def dialect(self, statement: str) -> str:
        text = self._statements.get(statement)
        if text is None:
            # sqlite3 takes `:name` placeholders as they are.
            text = self._statements[statement] = statement.format_map(self._names)
        return text

    def adapt(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return {
            name: utc_text(value) if isinstance(value, datetime) else value
            for name, value in params.items()
        }


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
