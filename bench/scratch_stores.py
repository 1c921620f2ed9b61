"""Throw-away stores for the benchmarks: a PostgreSQL schema made and dropped per run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

POSTGRES_ENV = {
    "PERSISTENCE_MODULE": "eventsourcing.postgres",
    "POSTGRES_DBNAME": "test",
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "5432",
    "POSTGRES_USER": "postgres",
    "POSTGRES_PASSWORD": "",
}
POSTGRES_CONNINFO = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=5"


@contextmanager
def postgres_schema_env() -> Iterator[dict[str, str]]:
    """eventsourcing settings for a fresh schema; it creates its tables, not the schema."""
    schema = f"minwon_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_CONNINFO, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield {**POSTGRES_ENV, "POSTGRES_SCHEMA": schema}
    finally:
        with psycopg.connect(POSTGRES_CONNINFO, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
