"""Opening the event store as the worker, the web server and `minwon admin` do.

Settings are eventsourcing's, from the environment (`PERSISTENCE_MODULE`,
`SQLITE_DBNAME`, `POSTGRES_*`). Two things are added here for PostgreSQL, where
several processes share one database:

- **Pool sizes.** Every eventsourcing application and read-model view in a process
  has a connection pool that keeps `POSTGRES_POOL_SIZE` connections open and opens
  up to `POSTGRES_MAX_OVERFLOW` more under load. The library's defaults (5 and 10,
  so up to 15 per pool) would let three workers and two web servers alone exhaust
  a stock server's 100 connections; `POOL_DEFAULTS` apply wherever neither is set
  (docs/operations.md, "Production", has the arithmetic).
- **The first start.** On an empty schema each process creates the tables, types
  and functions it needs; PostgreSQL refuses concurrent DDL on the same objects
  ("tuple concurrently updated", a duplicate type) although every statement says IF
  NOT EXISTS. `creating_tables` holds a session-level advisory lock, one per schema,
  while they are created, so processes starting at the same moment create them one
  after the other and the later ones find them made.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment

from application.service import Complaints, store_settings

# Per pool: 2 kept open, at most 2 + 4. A worker's 16 activity threads hold a
# connection only for a statement or a save, so 6 keep them busy.
POOL_DEFAULTS = {"POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "4"}
# The lock's own connection: one, for as long as the tables take.
_LOCK_POOL = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}


def store_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` for an eventsourcing application, with the pool defaults where neither
    it nor the process environment sets them."""
    given = dict(env or {})
    merged = store_settings(env)
    for name, value in POOL_DEFAULTS.items():
        if not merged.get(name):
            given[name] = value
    return given


@contextmanager
def creating_tables(env: Mapping[str, str] | None = None) -> Iterator[None]:
    """On PostgreSQL, one process of all those on the schema at a time; else nothing."""
    settings = {**store_settings(env), **_LOCK_POOL}
    factory = InfrastructureFactory.construct(Environment(Complaints.name, settings))
    try:
        if not isinstance(factory, PostgresFactory):
            yield
            return
        key = f"minwon-tables:{factory.datastore.schema}"
        # Advisory locks are per database; the key names the schema, so stores in
        # other schemas of the same database do not wait for each other.
        with factory.datastore.get_connection() as connection:
            connection.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            try:
                yield
            finally:
                connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
    finally:
        factory.close()


def open_complaints(env: Mapping[str, str] | None = None) -> Complaints:
    """The application on the configured store, its tables created if need be."""
    settings = store_env(env)
    with creating_tables(settings):
        return Complaints(env=settings)
