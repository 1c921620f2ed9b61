"""Shared fixtures: event stores on both backends, the application, sample intakes.

`store_env` runs a test once per backend — a real SQLite file and the real
PostgreSQL server — so the same persistence tests prove both.
PostgreSQL being down fails its tests instead of skipping them: a skipped
backend would let CI pass without having proved it.

The fixtures here apply to every folder below tests/. What test modules import
(sample data, stores, stacks) is in tests/support/, never in a test module or here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import structlog
from temporalio.testing import WorkflowEnvironment

from application.service import Complaints, Intake
from tests.support.keys import TEST_ACTOR_KEY_TEXT, TEST_KEK_TEXT
from tests.support.samples import sample_intake
from tests.support.stores import POSTGRES_ENV, fresh_postgres_schema

# The actor key of this test process and of every worker and API process it starts.
os.environ["MINWON_ACTOR_KEY"] = TEST_ACTOR_KEY_TEXT
# Likewise the KEK that wraps the person keys of every store a test opens.
os.environ["MINWON_KEK"] = TEST_KEK_TEXT
# The workers built in this process run workflow code in the SDK's sandbox, which
# refuses a non-deterministic call at once; worker.py processes started by the tests
# (a clean environment) run it as production does, unsandboxed.
os.environ["MINWON_WORKFLOW_SANDBOX"] = "on"
# The server's logs go to stderr, as worker.py sends them: a test of the `minwon` command
# run in process against the app reads the command's stdout alone.
structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))

# -- kinds ---------------------------------------------------------------------------

KINDS = ("unit", "integration", "workflow", "e2e", "faults")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked with its folder's kind: `pytest -m "not e2e and not faults"`."""
    for item in items:
        kind = item.path.parent.name
        if kind in KINDS:
            item.add_marker(kind)


# -- event stores -------------------------------------------------------------------


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


@pytest.fixture
def make_intake() -> Callable[..., Intake]:
    """`make_intake(ref=None, received_at=None, **fields)` → an `Intake` (see `sample_intake`)."""
    return sample_intake
