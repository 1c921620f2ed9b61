"""The `minwon` command is a client of the HTTP API: who acts is whoever the token is.

The server is `MINWON_URL` (default http://127.0.0.1:8000). The token is
`MINWON_TOKEN`, else the one `minwon login` kept in `$XDG_CONFIG_HOME/minwon/token`
(`~/.config/minwon/token`, mode 0600). The server takes the actor from the token
and decides what it may do; nothing the command line says names the actor.

Errors come back as problem documents (RFC 9457) and end the command with their
detail on one line: exit 2 for a refusal or bad input, 3 when the server cannot
be reached or does not answer.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from cli.errors import CliError

URL_ENV = "MINWON_URL"
TOKEN_ENV = "MINWON_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# The exit code of a command whose server was not there to ask.
UNREACHABLE = 3
# A read whose answer is "something is wrong" (a broken chain) says so in this header.
EXIT_HEADER = "Minwon-Exit-Code"

# Tests hand the command an in-process client of the app (the same HTTP stack).
_transport_client: httpx.Client | None = None


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "minwon"


def token_file() -> Path:
    return config_dir() / "token"


def server_url() -> str:
    return os.environ.get(URL_ENV) or DEFAULT_URL


def stored_token() -> str | None:
    path = token_file()
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    return text or None


def current_token() -> str | None:
    return os.environ.get(TOKEN_ENV) or stored_token()


def keep_token(token: str) -> Path:
    """Write the token where only its owner can read it (0600 from its first byte)."""
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    path.chmod(0o600)  # an older file keeps its mode through O_CREAT
    return path


def forget_token() -> bool:
    try:
        token_file().unlink()
    except FileNotFoundError:
        return False
    return True


@contextmanager
def using(client: httpx.Client) -> Iterator[None]:
    """Send every request through `client` (tests: the app in process)."""
    global _transport_client
    previous, _transport_client = _transport_client, client
    try:
        yield
    finally:
        _transport_client = previous


def _problem_detail(response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(document, dict):
        return str(document.get("detail") or document.get("title") or document)
    return str(document)


def request(
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    token: str | None = None,
    authenticated: bool = True,
) -> httpx.Response:
    """One call to the API; a problem document becomes a CliError with its detail."""
    headers = {"Accept": "application/json, text/plain, text/csv"}
    if authenticated:
        token = token or current_token()
        if not token:
            raise CliError(
                f"not logged in: run `minwon login` (or set {TOKEN_ENV}) with a token from "
                "ops or the director"
            )
        headers["Authorization"] = f"Bearer {token}"
    query = {k: _param(v) for k, v in (params or {}).items() if v is not None and v is not False}
    try:
        if _transport_client is not None:
            response = _transport_client.request(
                method, path, params=query, json=json, headers=headers
            )
        else:
            with httpx.Client(base_url=server_url(), timeout=TIMEOUT) as client:
                response = client.request(method, path, params=query, json=json, headers=headers)
    except httpx.TransportError as error:
        raise CliError(
            f"cannot reach the minwon server at {server_url()} ({error}): is it running "
            f"(`make run`), and is {URL_ENV} right?",
            exit_code=UNREACHABLE,
        ) from None
    if response.status_code >= 400:
        detail = _problem_detail(response)
        if EXIT_HEADER in response.headers:
            # A verdict the server rendered as a problem (a history that no longer replays).
            raise CliError(detail, exit_code=int(response.headers[EXIT_HEADER]))
        if response.status_code == 401:
            raise CliError(f"not logged in: {detail} (run `minwon login`)")
        if response.status_code in (403, 409):
            raise CliError(f"refused: {detail}")
        if response.status_code >= 500:
            raise CliError(f"the server failed: {detail}", exit_code=UNREACHABLE)
        raise CliError(detail)
    return response


def _param(value: Any) -> Any:
    if value is True:
        return "true"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def get(path: str, **params: Any) -> Any:
    return request("GET", path, params=params).json()


def post(path: str, body: Any = None, **params: Any) -> Any:
    return request("POST", path, json=body if body is not None else {}, params=params).json()


def printed(response: httpx.Response, *, end: str = "\n") -> int:
    """Print a rendered answer as it came; its exit code is the server's verdict."""
    text = response.text
    print(text, end="" if text.endswith("\n") else end)
    return int(response.headers.get(EXIT_HEADER, "0"))
