"""Temporal servers, and the worker process, for the benchmarks that run the worker as
its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from workflows.codec import EncryptionCodec, data_converter, decode_key
from workflows.search import ALL_KEYS, register_search_attributes

DEV_SERVER = Path(sys.executable).parent / "temporal"
TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
ROOT = Path(__file__).resolve().parent.parent


def start_worker(env: dict[str, str], log: Path, nice: int = 0) -> subprocess.Popen[bytes]:
    """`python worker.py` as deployed, configured by `env` alone, its output in `log`;
    `nice` as systemd's `Nice=` would set it."""
    with log.open("wb") as out:
        return subprocess.Popen(
            ["nice", "-n", str(nice), sys.executable, str(ROOT / "worker.py")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def start_server(key: str) -> WorkflowEnvironment:
    """An in-memory dev server; it prints a banner on the stdout it inherits: not on ours."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        return await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(DEV_SERVER),
            search_attributes=ALL_KEYS,
            data_converter=data_converter(EncryptionCodec(decode_key(key))),
        )
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


async def start_skipping_server(key: str) -> WorkflowEnvironment:
    """The time-skipping test server: time stands still until `env.sleep` moves it on."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER),
        data_converter=data_converter(EncryptionCodec(decode_key(key))),
    )
    await register_search_attributes(env.client, "default")
    return env
