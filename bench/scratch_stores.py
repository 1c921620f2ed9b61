"""Throw-away stores for the benchmarks: SQLite files, a PostgreSQL schema per run."""

from __future__ import annotations

import tempfile
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


# Settings for a side under test and its bare baseline, on a store of one backend.
StorePair = tuple[dict[str, str], dict[str, str]]


@contextmanager
def sqlite_pair() -> Iterator[StorePair]:
    """Two SQLite files in a temporary directory: ours and the baseline's."""
    with tempfile.TemporaryDirectory(prefix="minwon-bench-") as tmp:
        yield (
            {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/ours.db"},
            {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/bare.db"},
        )


@contextmanager
def postgres_pair() -> Iterator[StorePair]:
    """One fresh schema; both applications share it, each with its own table."""
    with postgres_schema_env() as env:
        yield env, env


STORE_PAIRS = {"sqlite": sqlite_pair, "postgres": postgres_pair}
