"""The FastAPI application: the HTTP API under /api, the pages, their errors.

`create_app()` opens what it is not given when it starts (the event store from
the environment, a Temporal client from `TemporalSettings`) and closes only what
it opened; `worker.py --dev` hands it the worker's own client and store.

Every response carries the same security headers (`SecurityHeaders`): nothing
runs or loads from another origin, no page is framed. /api/docs is therefore a
page rendered here from the schema, without Swagger UI's scripts from a CDN.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from application.service import Complaints
from application.store import creating_tables, open_complaints
from runtime.settings import Settings
from web import (
    api,
    appointments,
    audit,
    checkpoints,
    conduct,
    pages,
    reports,
    roster,
    surveys,
)
from web.desk import Desk
from web.docs import docs_page
from web.limits import LimitSettings, PublicLimits
from web.notices import PublicNotices
from web.problems import (
    BODY_LIMIT,
    PROBLEM_JSON,
    BodyGuard,
    FieldProblem,
    Problem,
    ProblemDocument,
    wants_json,
)
from workflows.client import TemporalSettings, connect

log = structlog.get_logger()
HERE = Path(__file__).resolve().parent

DESCRIPTION = """\
The HTTP API of minwon, the complaint (민원) workflow engine of 안심종합사회복지관.

- **Residents** submit a complaint from the homepage (질문과 답변, 건의와 고충상담,
  비공개상담) and get a receipt code and a secret; with both they look up its status.
  Public notices list announced results; private cases never appear.
- **Staff and ops** (bearer token from `minwon token issue --staff ID`) take the same
  actions as the `minwon` command. Each action goes to the case's workflow as an update,
  which validates it before it is recorded.

Every error is an RFC 9457 problem document (`application/problem+json`). Bodies over
64 KiB, and API bodies that are not JSON, are refused before anything reaches Temporal.
"""


def create_app(
    *,
    complaints: Complaints | None = None,
    client: Client | None = None,
    task_queue: str | None = None,
    dev: bool = False,
    notices_interval: float = 1.0,
    lazy_temporal: bool = False,
    limits: LimitSettings | None = None,
    proxies: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """`settings` are the process's (read from the environment when not given);
    `limits` (the residents', `web.limits`) and `proxies` (the reverse proxies whose
    forwarded client address is believed) override theirs."""
    settings = settings or Settings.load()
    limit_settings = limits or LimitSettings.from_env(settings.env)
    proxies = list(settings.trusted_proxies) if proxies is None else list(proxies)
    process = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = TemporalSettings.from_env(process.env)
        store = complaints or open_complaints(process.env)
        try:
            # Lazy: the reads that need no Temporal work while it is away (tests).
            temporal = client or await connect(
                settings, env=process.env, dev=dev, lazy=lazy_temporal
            )
            notices = PublicNotices(store.env, interval=notices_interval)
            # Its table is created under the schema's lock, as the store's are.
            with creating_tables(store.env):
                public_limits = PublicLimits(store, limit_settings)
            app.state.desk = Desk(
                complaints=store,
                client=temporal,
                task_queue=task_queue or settings.task_queue,
                notices=notices,
                limits=public_limits,
                settings=process,
            )
            try:
                yield
            finally:
                notices.close()
        finally:
            if complaints is None:
                store.close()

    app = FastAPI(
        title="minwon",
        summary="Complaints (민원) for residents, staff and ops of a welfare center",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.include_router(api.router)
    app.include_router(reports.router)
    app.include_router(audit.router)
    app.include_router(checkpoints.router)
    app.include_router(roster.router)
    app.include_router(conduct.router)
    app.include_router(appointments.router)
    app.include_router(surveys.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(Problem, _problem_handler)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_handler)  # type: ignore[arg-type]
    app.add_exception_handler(pages.SignInRequired, pages.sign_in_redirect)  # type: ignore[arg-type]
    app.add_middleware(BaseHTTPMiddleware, dispatch=_unexpected_errors)
    app.add_middleware(BodyGuard, limit=BODY_LIMIT)
    if proxies:
        # Only the proxies named are believed about the client's address (and the
        # scheme): the limits count by it, the access log records it.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(proxies))
    # Outermost, so the refusals of the guards inside get the headers too.
    app.add_middleware(SecurityHeaders)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.get("/api/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(docs_page(app.openapi()))

    return app


# -- security headers --------------------------------------------------------------------------

# The templates have no script and no inline style; only /static/style.css is loaded.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not no-referrer: under it browsers send `Origin: null` with a form post, and the
    # pages' cross-site check reads Origin. Another site still learns nothing.
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """Adds the security headers to every response; /api answers are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = wants_json(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if api:
                    # A case, a contact, an access log: personal data stays out of caches.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- errors ------------------------------------------------------------------------------


def problem_response(request: Request, problem: Problem) -> Response:
    if wants_json(request.url.path):
        return JSONResponse(
            problem.document(),
            status_code=problem.status,
            media_type=PROBLEM_JSON,
            headers=problem.headers,
        )
    return pages.error_page(request, problem)


async def _problem_handler(request: Request, problem: Problem) -> Response:
    return problem_response(request, problem)


async def _validation_handler(request: Request, error: RequestValidationError) -> Response:
    items = list(error.errors())
    if any(item.get("type") == "json_invalid" for item in items):
        problem = Problem(
            400, "malformed-json", "Malformed JSON", "the request body is not valid JSON"
        )
        return problem_response(request, problem)
    fields = [
        FieldProblem(
            location=".".join(str(part) for part in item.get("loc", ())),
            message=_message(item),
        )
        for item in items
    ]
    problem = Problem(
        422,
        "invalid-input",
        "Invalid input",
        "; ".join(f"{f.location}: {f.message}" for f in fields) or "invalid input",
        errors=fields,
    )
    return problem_response(request, problem)


# What a field that failed its pattern should look like, said plainly.
FORMATS = {
    "code": "a receipt code, like MW-7K3QX-9PD2M",
    "receipt_code": "a receipt code, like MW-7K3QX-9PD2M",
    "about_receipt_code": "a receipt code, like MW-7K3QX-9PD2M",
    "linked_to": "a receipt code, like MW-7K3QX-9PD2M",
    "staff": "a staff id, like lee.service",
    "for_staff": "a staff id, like lee.service",
    "assignee": "a staff id, like lee.service",
    "category": "a policy category, like inquiry",
    "topic": "a routing topic, like program",
}


def _message(item: Any) -> str:
    field = str(item.get("loc", ("",))[-1])
    if item.get("type") == "string_pattern_mismatch" and field in FORMATS:
        return f"not {FORMATS[field]}"
    return str(item.get("msg", "invalid"))


async def _http_handler(request: Request, error: StarletteHTTPException) -> Response:
    titles = {404: "Not found", 405: "Method not allowed"}
    detail = str(error.detail) if error.detail else "no further detail"
    if error.status_code == 404 and detail == "Not Found":
        detail = f"there is nothing at {request.url.path}"
    problem = Problem(
        error.status_code,
        "about:blank",
        titles.get(error.status_code, detail),
        detail,
        headers=dict(error.headers or {}),
    )
    return problem_response(request, problem)


async def _unexpected_errors(request: Request, call_next: RequestResponseEndpoint) -> Response:
    try:
        return await call_next(request)
    except Exception:
        # A bug: logged with its traceback, answered as a problem without internals.
        log.exception("request_failed", path=request.url.path, method=request.method)
        problem = Problem(
            500,
            "internal-error",
            "Internal error",
            "something went wrong on our side; nothing more was recorded",
        )
        if wants_json(request.url.path):
            return JSONResponse(problem.document(), status_code=500, media_type=PROBLEM_JSON)
        return HTMLResponse(pages.plain_error(problem), status_code=500)


# -- the schema ------------------------------------------------------------------------------


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with every error response declared as a problem document."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["ProblemDocument"] = problem_schema
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    problem_content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, description in api.ERROR_RESPONSES.items():
                if status == "401" and "security" not in operation:
                    continue
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = problem_content
    app.openapi_schema = schema
    return schema
