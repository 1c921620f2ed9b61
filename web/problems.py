"""Errors as problem documents (RFC 9457), and the guard that refuses bad bodies early.

Every error the API returns is `application/problem+json` with `type`, `title`,
`status` and `detail` (and `errors`, field by field, for invalid input). The
pages show the same problem as a short Korean HTML page instead.

`BodyGuard` runs before routing: a body over the limit, or an API body that is
not JSON, is refused before it is parsed, so nothing of it reaches Temporal.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import BaseModel, Field

PROBLEM_JSON = "application/problem+json"
BODY_LIMIT = 64 * 1024
# An oversized body up to this size is read and dropped before the refusal is sent:
# a server that answers and closes while the client is still sending makes the
# client see a reset connection instead of the 413. Beyond it, the connection goes.
DRAIN_LIMIT = 1024 * 1024
TYPE_PREFIX = "urn:minwon:problem:"
API_PREFIX = "/api/"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FieldProblem(BaseModel):
    location: str = Field(description="where in the request, e.g. `body.text`")
    message: str


class ProblemDocument(BaseModel):
    """An error, as RFC 9457 describes it."""

    type: str = Field(
        description="a URI naming the kind of problem; `about:blank` for plain HTTP errors"
    )
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong this time, and what to do about it")
    errors: list[FieldProblem] | None = Field(
        default=None, description="for invalid input: each field's problem"
    )


class Problem(Exception):
    """An error the client can act on; rendered as a problem document or an error page."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        *,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.type = f"{TYPE_PREFIX}{kind}" if kind != "about:blank" else kind
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def document(self) -> dict[str, Any]:
        return ProblemDocument(
            type=self.type,
            title=self.title,
            status=self.status,
            detail=self.detail,
            errors=self.errors,
        ).model_dump(exclude_none=True)


def wants_json(path: str) -> bool:
    return path.startswith(API_PREFIX) or path == "/openapi.json"


def plain_error_page(problem: Problem) -> str:
    """The page shown when the templates cannot be used (before routing)."""
    return (
        '<!doctype html><html lang="ko"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(problem.title)}</title></head><body><main>"
        f"<h1>{html.escape(problem.title)}</h1><p>{html.escape(problem.detail)}</p>"
        '<p><a href="/">처음으로</a></p></main></body></html>'
    )


async def _send_problem(scope: Scope, send: Send, problem: Problem) -> None:
    if wants_json(scope.get("path", "")):
        body = json.dumps(problem.document(), ensure_ascii=False).encode()
        content_type = PROBLEM_JSON
    else:
        body = plain_error_page(problem).encode()
        content_type = "text/html; charset=utf-8"
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "body-too-large",
        "Request body too large",
        f"the request body is larger than {limit // 1024} KiB; nothing was recorded",
    )


class BodyGuard:
    """Refuses oversized bodies, and API bodies that are not JSON, before routing.

    The body is read here, up to the limit, and handed on from memory: a client
    that sends no Content-Length (chunked) is held to the same limit.
    """

    def __init__(self, app: ASGIApp, limit: int = BODY_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_problem(
                    scope,
                    send,
                    Problem(400, "malformed-request", "Malformed request", "bad Content-Length"),
                )
                return
            if int(declared) > self.limit:
                await _drain(receive, int(declared))
                await _send_problem(scope, send, too_large(self.limit))
                return
        has_body = declared not in (None, "0") or "transfer-encoding" in headers
        if not has_body:
            await self.app(scope, receive, send)
            return
        if scope.get("path", "").startswith(API_PREFIX) and not _is_json(
            headers.get("content-type", "")
        ):
            await _send_problem(
                scope,
                send,
                Problem(
                    415,
                    "unsupported-media-type",
                    "Unsupported media type",
                    "the API takes JSON bodies: send Content-Type: application/json",
                ),
            )
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                if message.get("more_body", False):
                    await _drain(receive, size)
                await _send_problem(scope, send, too_large(self.limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _drain(receive: Receive, size: int) -> None:
    """Read the rest of a refused body without keeping it, up to DRAIN_LIMIT in all."""
    while size <= DRAIN_LIMIT:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
