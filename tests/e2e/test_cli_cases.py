"""The `minwon` console script against a running stack, as staff and ops use it.

The real script from the virtualenv runs in its own process and knows only the
server's address and its token: `worker.py --web` (also its own process) runs the
workflows and serves the API on the dev server, its SQLite store and payload key.
The first token comes from `minwon admin bootstrap` with the server's environment,
as on the server host; ops then issue the staff's tokens with `minwon token issue`.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.support.processes import (
    DEADLINE_SECONDS,
    WorkerProcess,
    base_env,
    free_port,
    start_dev_server,
    wait_until,
)
from workflows.client import CaseFilter
from workflows.search import RECEIPT as RECEIPT_ATTRIBUTE

pytestmark = pytest.mark.temporal

MINWON = Path(sys.executable).parent / "minwon"
RECEIPT = re.compile(r"Receipt code: (MW-[0-9A-Z]{5}-[0-9A-Z]{5})")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


async def minwon(env: dict[str, str], *args: str) -> Run:
    process = await asyncio.create_subprocess_exec(
        str(MINWON),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(DEADLINE_SECONDS):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"`minwon {' '.join(args)}` did not finish in {DEADLINE_SECONDS:.0f} s")
    assert process.returncode is not None
    return Run(process.returncode, stdout.decode(), stderr.decode())


def one_line_error(run: Run) -> str:
    """The refusal a user sees: exit 2, one `minwon:` line on stderr, no traceback."""
    assert run.code == 2, run
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("minwon: "), run.stderr
    return lines[0]


FILE_ARGS = (
    "--channel", "homepage", "--topic", "program",
    "--contact", "010-1234-5678", "--text", "프로그램 신청 방법을 알려주세요",
)  # fmt: skip


# -- fixtures -------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    server = await start_dev_server()
    yield server
    await server.shutdown()


@pytest.fixture(scope="module")
def server_env(dev_server: WorkflowEnvironment, tmp_path_factory: Any) -> dict[str, str]:
    """The worker's environment: its store, and the API it serves on a free port."""
    folder = tmp_path_factory.mktemp("cli")
    task_queue = f"minwon-cli-{uuid.uuid4().hex[:8]}"
    return {
        **base_env(dev_server, task_queue, folder / "outbox.jsonl"),
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(folder / "events.db"),
        "MINWON_SERVE_WEB": "1",
        "MINWON_WEB_PORT": str(free_port()),
    }


@pytest_asyncio.fixture(scope="module")
async def worker(server_env: dict[str, str], tmp_path_factory: Any) -> AsyncIterator[WorkerProcess]:
    process = WorkerProcess(server_env, tmp_path_factory.mktemp("worker") / "worker.log")
    await process.start()
    try:
        yield process
    finally:
        try:
            await process.stop()
        finally:
            process.kill()


@pytest_asyncio.fixture(scope="module")
async def tokens(
    worker: WorkerProcess, server_env: dict[str, str], tmp_path_factory: Any
) -> dict[str, str]:
    """A token per staff member: ops' from the server host, the others from ops."""
    home = tmp_path_factory.mktemp("home")
    bootstrap = await minwon(server_env, "admin", "bootstrap", "--staff", "han.ops")
    assert bootstrap.code == 0, bootstrap
    issued = {"han.ops": bootstrap.stdout.strip()}
    ops = client_env(server_env, home, issued["han.ops"])
    for staff in ("kim.casemgr", "lee.service"):
        run = await minwon(ops, "token", "issue", "--staff", staff)
        assert run.code == 0, run
        issued[staff] = run.stdout.strip()
    return issued


def client_env(server_env: dict[str, str], home: Path, token: str) -> dict[str, str]:
    """What a staff member's shell holds: where the server is, and their token."""
    return {
        "PATH": server_env["PATH"],
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "LANG": "C.UTF-8",
        "MINWON_URL": f"http://127.0.0.1:{server_env['MINWON_WEB_PORT']}",
        "MINWON_TOKEN": token,
    }


@pytest.fixture(scope="module")
def staff_env(
    server_env: dict[str, str], tokens: dict[str, str], tmp_path_factory: Any
) -> dict[str, dict[str, str]]:
    home = tmp_path_factory.mktemp("staff-home")
    return {staff: client_env(server_env, home, token) for staff, token in tokens.items()}


@pytest.fixture(scope="module")
def cli_env(staff_env: dict[str, dict[str, str]]) -> dict[str, str]:
    """Most commands here are the case manager's, who files at the desk."""
    return staff_env["kim.casemgr"]


async def file_case(env: dict[str, str], category: str = "inquiry") -> str:
    run = await minwon(env, "file", "--category", category, *FILE_ARGS)
    assert run.code == 0, run
    match = RECEIPT.search(run.stdout)
    assert match, run.stdout
    return match.group(1)


# -- tests ----------------------------------------------------------------------------


async def test_filing_prints_the_receipt_code_and_when_the_reply_is_due(
    cli_env: dict[str, str],
) -> None:
    run = await minwon(cli_env, "file", "--category", "inquiry", *FILE_ARGS)
    assert run.code == 0, run
    assert RECEIPT.search(run.stdout), run.stdout
    assert re.search(r"^\s+reply\s+open\s+due \d{4}-\d\d-\d\dT18:00\+09:00", run.stdout, re.M), (
        run.stdout
    )
    # Personal data stays out of what is printed.
    assert "010-1234-5678" not in run.stdout


async def test_show_prints_the_commitment_of_the_case_named_by_its_receipt_code(
    cli_env: dict[str, str],
) -> None:
    code = await file_case(cli_env)
    run = await minwon(cli_env, "show", code)
    assert run.code == 0, run
    assert run.stdout.startswith(f"{code}  inquiry  assigned  lee.service"), run.stdout
    assert re.search(r"^\s+reply\s+open\s+due ", run.stdout, re.M), run.stdout
    # Residents type codes loosely; the same case is found.
    loose = await minwon(cli_env, "show", code.lower().replace("-", " "))
    assert loose.code == 0, loose
    assert loose.stdout == run.stdout


async def test_answering_keeps_the_reply_commitment(
    cli_env: dict[str, str], staff_env: dict[str, dict[str, str]]
) -> None:
    code = await file_case(cli_env)
    run = await minwon(
        staff_env["lee.service"], "answer", code, "--text", "신청 방법을 안내드립니다"
    )
    assert run.code == 0, run
    assert f"{code}  inquiry  answered" in run.stdout
    assert re.search(r"^\s+reply\s+met\s+due .*kept ", run.stdout, re.M), run.stdout


async def test_closing_an_unanswered_case_is_refused_in_one_line(
    cli_env: dict[str, str], staff_env: dict[str, dict[str, str]]
) -> None:
    code = await file_case(cli_env)
    run = await minwon(staff_env["lee.service"], "close", code)
    assert one_line_error(run).startswith("minwon: refused:")
    still = await minwon(cli_env, "show", code)
    assert f"{code}  inquiry  assigned" in still.stdout


async def test_showing_an_unknown_receipt_code_says_there_is_no_case(
    cli_env: dict[str, str],
) -> None:
    run = await minwon(cli_env, "show", "MW-00000-00000")
    assert "no case" in one_line_error(run)
    assert "MW-00000-00000" in run.stderr


async def test_filing_without_the_text_names_the_missing_field(cli_env: dict[str, str]) -> None:
    run = await minwon(
        cli_env, "file", "--channel", "visit", "--category", "inquiry", "--contact", "010"
    )
    line = one_line_error(run)
    assert line.startswith("minwon: body.text: "), line


async def test_bulk_escalation_by_category_prints_how_many_cases_it_escalated(
    dev_server: WorkflowEnvironment, cli_env: dict[str, str], staff_env: dict[str, dict[str, str]]
) -> None:
    codes = {await file_case(cli_env) for _ in range(2)}
    opinion = await file_case(cli_env, "opinion")
    query = CaseFilter(category="inquiry").visibility_query(datetime.now(UTC))

    # Visibility lags: wait until the new cases are listed and the list has settled,
    # so the CLI sees the same set of open inquiries as the assertion below.
    async def listed() -> set[str | None]:
        return {
            execution.typed_search_attributes.get(RECEIPT_ATTRIBUTE)
            async for execution in dev_server.client.list_workflows(query)
        }

    async def settled() -> set[str | None]:
        before = await listed()
        await asyncio.sleep(0.5)
        after = await listed()
        return after if before == after and codes <= after else set()

    expected = await wait_until(settled, "the open inquiries in visibility")
    run = await minwon(
        staff_env["han.ops"], "escalate", "--category", "inquiry", "--reason", "민원 급증"
    )
    assert run.code == 0, run
    lines = run.stdout.strip().splitlines()
    assert lines[-1] == f"{len(expected)} of {len(expected)} matching case(s) escalated", run
    escalated = {line.split(":")[0] for line in lines[:-1] if line.endswith(": escalated")}
    assert escalated == expected
    assert opinion not in escalated

    shown = await minwon(cli_env, "show", next(iter(codes)))
    assert re.search(
        r"escalated #1 to designated_officer \(park\.officer\) .*\[manual\]", shown.stdout
    )
    untouched = await minwon(cli_env, "show", opinion)
    assert "escalated #" not in untouched.stdout


async def test_an_unreachable_server_is_reported_in_one_line_naming_its_address(
    cli_env: dict[str, str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = await minwon({**cli_env, "MINWON_URL": url}, "file", "--category", "inquiry", *FILE_ARGS)
    assert run.code == 3, run
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"minwon: cannot reach the minwon server at {url}"), run.stderr
