"""What the read endpoints answer: a document rendered as `minwon` prints it.

Reports, the audit and the roster are rendered by the server, so any HTTP client
gets what the command shows; the command prints the body as it came. A verdict
("a chain is broken") travels in the `Minwon-Exit-Code` header, which becomes
the command's exit code.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response

from cli.remote import EXIT_HEADER

TEXT = "text/plain; charset=utf-8"
CSV = "text/csv; charset=utf-8"
JSON = "application/json"
MEDIA_TYPES = {"text": TEXT, "csv": CSV, "json": JSON}


def json_text(document: Any) -> str:
    # Indented, Korean as written.
    return json.dumps(document, ensure_ascii=False, indent=2)


def rendered(
    body: str, media_type: str, exit_code: int = 0, headers: dict[str, str] | None = None
) -> Response:
    text = body if body.endswith("\n") else body + "\n"
    return Response(
        text, media_type=media_type, headers={EXIT_HEADER: str(exit_code), **(headers or {})}
    )


def json_response(
    document: Any, exit_code: int = 0, headers: dict[str, str] | None = None
) -> Response:
    return rendered(json_text(document), JSON, exit_code, headers)
