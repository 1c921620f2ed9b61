"""Views on PostgreSQL: the DDL, schema-qualified names and placeholders.

eventsourcing's `PostgresTrackingRecorder` already gives each view its own
tracking table (`{name}_tracking`, from the projection's name) and records a
position with an upsert that refuses to go backwards; the views add their
tables to the statements it creates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import IntegrityError, ProgrammingError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL, Identifier

from projections.base import AlreadyTracked, Cursor, View

_TYPES = {
    "text": "text",
    "integer": "bigint",
    "boolean": "boolean",
    "moment": "timestamptz",
    "real": "double precision",
}
_PLACEHOLDER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class PostgresView(View, PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        if not datastore.single_row_tracking:
            raise ProgrammingError(f"view {self.name} needs single-row tracking")
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        for table in self.tables:
            self.check_identifier_length(table.name)
            columns = SQL(", ").join(
                SQL("{} {}").format(Identifier(name), SQL(_TYPES[kind]))
                for name, kind in table.columns
            )
            key = SQL(", ").join(Identifier(name) for name in table.key)
            self.sql_create_statements.append(
                SQL("CREATE TABLE IF NOT EXISTS {}.{} ({}, PRIMARY KEY ({}))").format(
                    schema, Identifier(table.name), columns, key
                )
            )
        self._names = {
            table.name: SQL("{}.{}").format(schema, Identifier(table.name)).as_string()
            for table in self.tables
        }
        self._statements: dict[str, SQL] = {}

    @contextmanager
    def _begin(self) -> Iterator[Cursor]:
        # Not in pipeline mode, although a batch would gain a third: tried, the
        # tracking upsert's fetch was once handed an earlier UPDATE's result.
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    @contextmanager
    def _read(self) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=False) as cursor:
            # Several tables read in one go must agree with each other.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield cursor

    def _track(self, cursor: Cursor, tracking: Tracking) -> None:
        try:
            self._insert_tracking(cursor, tracking)  # type: ignore[arg-type]
        except IntegrityError as error:
            # Single-row tracking: the upsert returned nothing, the position is taken.
            raise AlreadyTracked(f"view {self.name}: {error}") from None

    def _forget(self, cursor: Cursor) -> None:
        # The library's own row (`__migration__`) tells it the table is up to date.
        cursor.execute(
            SQL("DELETE FROM {}.{} WHERE application_name <> %s").format(
                Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
            ),
            (self.table_migration_identifier,),
        )

    def dialect(self, statement: str) -> SQL:
        text = self._statements.get(statement)
        if text is None:
            converted = _PLACEHOLDER.sub(r"%(\1)s", statement.format_map(self._names))
            # The names were quoted by psycopg above; the rest is the views' own text.
            text = self._statements[statement] = SQL(converted)
        return text

    def adapt(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return params
