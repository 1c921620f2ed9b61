"""Files the tests change under a running service (calendar overrides, policy)."""

from __future__ import annotations

import os
from pathlib import Path


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # Two writes within the file system's clock tick must still read as a change.
    stamp = os.stat(path).st_mtime_ns + 1_000_000
    os.utime(path, ns=(stamp, stamp))
