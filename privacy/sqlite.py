"""The SQLite store: a file only this user reads, that overwrites what it deletes.

The file is created here, empty and 0600, before SQLite opens it (an empty file
is an empty database): SQLite makes the -wal and -shm files with the mode of the
main file, so they are 0600 too. Every connection runs with `secure_delete`, so
a deleted row (a destroyed person key) is overwritten with zeros in its page
rather than left in the page's free space; the erasure then empties the WAL,
which still holds the page as it was (`privacy.keys`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory

from privacy.files import open_private, tighten_path


class _SecureDeletePool(SQLiteConnectionPool):
    """eventsourcing's SQLite pool, every connection with `secure_delete` on."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        # Per connection: whichever one deletes a row must overwrite it.
        connection.cursor().execute("PRAGMA secure_delete = ON")
        return connection


def private_factory(factory: InfrastructureFactory[Any]) -> InfrastructureFactory[Any]:
    """A SQLite factory whose file is 0600 before SQLite opens it, and whose
    connections overwrite what they delete; any other factory as it is."""
    if not isinstance(factory, SQLiteFactory):
        return factory
    pool = factory.datastore.pool
    if not (pool.is_sqlite_memory_mode or pool.db_name.startswith("file:")):
        # A file that exists may be open in this process already (the worker's store
        # when the notice outbox opens its view, the web's when a report opens the
        # read models): it is tightened by its name, never opened and closed, which
        # would drop the locks SQLite holds on it and on -wal and -shm.
        path = Path(pool.db_name)
        try:
            # An empty file is an empty database; -wal and -shm take its mode.
            os.close(open_private(path, os.O_RDWR | os.O_EXCL))
        except FileExistsError:
            tighten_path(path)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                # Left by an older version with its looser mode; never created here.
                tighten_path(Path(pool.db_name + suffix))
    # The factory has opened no connection yet: its pool is replaced by one alike.
    factory.datastore.pool = _SecureDeletePool(
        db_name=pool.db_name,
        lock_timeout=pool.lock_timeout,
        pool_size=pool.pool_size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.pool_timeout,
        max_age=pool.max_age,
        pre_ping=pool.pre_ping,
    )
    pool.close()
    return factory
