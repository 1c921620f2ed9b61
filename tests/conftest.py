"""Shared fixtures: event stores on both backends, the application, sample intakes.

`store_env` runs a test once per backend — a real SQLite file and the real
PostgreSQL server — so the same persistence tests prove both.
PostgreSQL being down fails its tests instead of skipping them: a skipped
backend would let CI pass without having proved it.

Later test modules add their own fixtures below the sections here.
"""

from __future__ import annotations

import base64
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
import structlog
from psycopg import sql
from psycopg.conninfo import make_conninfo
from temporalio.testing import WorkflowEnvironment

from domain.calendar import SEOUL
from domain.service import Complaints, Intake

# The actor key (workflows.actor_proof) of this test process and of every worker and
# API process it starts, so that what the API signs here a worker there accepts;
# no test writes the embedded stack's key file under var/.
TEST_ACTOR_KEY_TEXT = base64.urlsafe_b64encode(bytes(range(32, 64))).decode().rstrip("=")
os.environ["MINWON_ACTOR_KEY"] = TEST_ACTOR_KEY_TEXT
# The server's logs go to stderr, as worker.py sends them: a test of the `minwon` command
# run in process against the app reads the command's stdout alone.
structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))

# -- event stores -------------------------------------------------------------------

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


def _connect_postgres() -> psycopg.Connection[Any]:
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
    with _connect_postgres() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with _connect_postgres() as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the test database, dropped with everything in it afterwards."""
    with fresh_postgres_schema() as name:
        yield name


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Environment for `Complaints(env=...)`: an empty event store of one backend."""
    if request.param == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "events.db"),
        }
    # Requested lazily so the SQLite run never needs the server.
    schema: str = request.getfixturevalue("postgres_schema")
    return {**POSTGRES_ENV, "POSTGRES_SCHEMA": schema}


@pytest.fixture
def open_complaints(store_env: dict[str, str]) -> Iterator[Callable[[], Complaints]]:
    """Opens further `Complaints` instances on the same store, all closed afterwards.

    Each instance has its own connections, as separate worker processes would.
    """
    opened: list[Complaints] = []

    def open_one() -> Complaints:
        app = Complaints(env=store_env)
        opened.append(app)
        return app

    yield open_one
    for app in opened:
        app.close()


@pytest.fixture
def complaints(open_complaints: Callable[[], Complaints]) -> Complaints:
    """The application on an empty store of the parametrized backend."""
    return open_complaints()


@pytest_asyncio.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, one per test: a workflow left waiting by another
    test would hold time skipping back while its worker is gone."""
    from tests.support.temporal import start_time_skipping

    env = await start_time_skipping()
    yield env
    await env.shutdown()


# -- sample data ---------------------------------------------------------------------


def kst(text: str) -> datetime:
    """A moment on Seoul's clock: `kst("2026-09-21T10:00")`."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        raise ValueError(f"{text!r} already has an offset; kst() gives it Seoul's")
    return moment.replace(tzinfo=SEOUL)


def sample_intake(
    intake_ref: str | None = None,
    *,
    received_at: datetime | None = None,
    **changes: Any,
) -> Intake:
    """A written inquiry (7-day reply) received Monday 2026-09-21 10:00 KST."""
    fields: dict[str, Any] = {
        "intake_ref": intake_ref or f"intake-{uuid.uuid4().hex[:8]}",
        "channel": "email",
        "category": "inquiry",
        "topic": "program",
        "private": False,
        "contact": "홍길동 010-1234-5678",
        "text": "프로그램 신청 방법을 알려 주세요.",
        "received_at": received_at or kst("2026-09-21T10:00"),
    }
    fields.update(changes)
    return Intake(**fields)


@pytest.fixture
def make_intake() -> Callable[..., Intake]:
    """`make_intake(ref=None, received_at=None, **fields)` → an `Intake` (see `sample_intake`)."""
    return sample_intake
