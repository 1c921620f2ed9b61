"""Where the embedded stack keeps its files: var/ beside the code (the SQLite store,
the development keys, the outboxes). The one place that computes it; plain pathlib,
so the `minwon` command's HTTP client may import it and still start fast."""

from __future__ import annotations

from pathlib import Path

VAR = Path(__file__).resolve().parent.parent / "var"
