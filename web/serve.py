"""Serving the web application with uvicorn, inside a process that has its own loop.

`worker.py --dev` runs it in the worker's event loop, beside the worker, so
`make run` is one command; the worker's signal handlers stop both.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the host process decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def web_address() -> tuple[str, int]:
    """Where to serve: MINWON_WEB_HOST and MINWON_WEB_PORT, else 127.0.0.1:8000."""
    return (
        os.environ.get("MINWON_WEB_HOST", DEFAULT_HOST),
        int(os.environ.get("MINWON_WEB_PORT", str(DEFAULT_PORT))),
    )


async def start(app: FastAPI, host: str, port: int) -> tuple[EmbeddedServer, asyncio.Task[None]]:
    """Start serving in the running loop; returns once the socket listens."""
    server = EmbeddedServer(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # the error that stopped it (e.g. the port is taken)
            raise RuntimeError(f"the web server on {host}:{port} stopped while starting")
        await asyncio.sleep(0.05)
    return server, task


async def stop(server: EmbeddedServer, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await task
