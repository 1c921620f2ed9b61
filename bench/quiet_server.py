"""Temporal servers, and the worker process, for the benchmarks that run the worker as
its own process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from workflows.codec import EncryptionCodec, data_converter, decode_key
from workflows.search import ALL_KEYS, register_search_attributes

DEV_SERVER = Path(sys.executable).parent / "temporal"
TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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


async def start_server(key: str, metrics_port: int | None = None) -> WorkflowEnvironment:
    """An in-memory dev server; it prints a banner on the stdout it inherits: not on ours.
    With `metrics_port`, its Prometheus counters are served there (`server_counters`)."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        return await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(DEV_SERVER),
            search_attributes=ALL_KEYS,
            data_converter=data_converter(EncryptionCodec(decode_key(key))),
            dev_server_extra_args=["--metrics-port", str(metrics_port)] if metrics_port else [],
        )
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def server_counters(metrics_port: int, wanted: dict[str, str]) -> dict[str, float]:
    """The dev server's request counters named in `wanted` (label: a piece of the
    Prometheus series, e.g. `operation="AddWorkflowTask",service_name="matching"`),
    each summed over the series that hold it."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as page:
        text = page.read().decode()
    totals = dict.fromkeys(wanted, 0.0)
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        for label, piece in wanted.items():
            if series.startswith("service_requests{") and piece in series:
                totals[label] += float(value)
    return totals


async def start_skipping_server(key: str) -> WorkflowEnvironment:
    """The time-skipping test server: time stands still until `env.sleep` moves it on."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER),
        data_converter=data_converter(EncryptionCodec(decode_key(key))),
    )
    await register_search_attributes(env.client, "default")
    return env
