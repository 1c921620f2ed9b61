"""A bad setting stops every entry point at once, naming the variable, before it
opens the store or Temporal (`runtime.settings`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "worker.py"],
        [sys.executable, "-m", "web"],
        [str(Path(sys.executable).parent / "minwon"), "admin", "reconcile", "--dry-run"],
    ],
    ids=["worker", "web", "minwon-admin"],
)
def test_an_entry_point_with_a_bad_setting_stops_before_anything_opens(
    command: list[str], tmp_path: Path
) -> None:
    store = tmp_path / "events.db"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SQLITE_DBNAME": str(store),
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "MINWON_WEB_PORT": "eighty",
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
    }
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "MINWON_WEB_PORT='eighty': write a whole number" in done.stderr
    assert not store.exists()  # nothing opened, nothing written
