"""Serving the web application with uvicorn, inside a process that has its own loop.

`worker.py --dev` runs it in the worker's event loop, beside the worker, so
`make run` is one command; the worker's signal handlers stop both.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the host process decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def start(app: FastAPI, host: str, port: int) -> tuple[EmbeddedServer, asyncio.Task[None]]:
    """Start serving in the running loop; returns once the socket listens."""
    # Bound here, so a taken port is an error to report, not uvicorn's exit.
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise RuntimeError(
            f"cannot serve the web pages on {host}:{port}: {error.strerror} "
            "(set MINWON_WEB_PORT to another port)"
        ) from None
    server = EmbeddedServer(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default: the
            # app does, from MINWON_TRUSTED_PROXIES only (`web.app.trusted_proxies`).
            proxy_headers=False,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"the web server on {host}:{port} stopped while starting")
        await asyncio.sleep(0.05)
    return server, task


async def stop(server: EmbeddedServer, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await task
