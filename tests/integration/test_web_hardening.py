"""The web desk's defences: server-side sessions, cross-site posts, headers, docs.

A token signs staff in once; the browser keeps only an eight-hour session that
signing out (or revoking the token) ends on the server. Forms that do not say
they came from these pages are refused. Every response carries the security
headers, and /api/docs loads nothing from another origin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from application.service import Complaints
from domain.credentials import StaffSession
from domain.tokens import issue_token, revoke_token
from web.app import create_app
from web.desk import Desk
from web.pages import COOKIE
from workflows.codec import new_key

HERE = "http://testserver"
SAME_SITE = {"origin": HERE}
SESSION_TOPICS = [
    f"{StaffSession.__module__}:{StaffSession.__qualname__}.{name}" for name in ("Started", "Ended")
]


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[TestClient]:
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.sqlite")
    monkeypatch.setenv("SQLITE_DBNAME", str(tmp_path / "events.db"))
    monkeypatch.setenv("MINWON_PAYLOAD_KEY", new_key())
    # Cookies are sent back by hand below: a copied cookie is the subject here.
    with TestClient(create_app(lazy_temporal=True), base_url=HERE, follow_redirects=False) as http:
        yield http


def desk_of(client: TestClient) -> Desk:
    desk: Desk = client.app.state.desk  # type: ignore[attr-defined]
    return desk


def complaints_of(client: TestClient) -> Complaints:
    return desk_of(client).complaints


def token_for(client: TestClient, staff: str = "lee.service") -> tuple[str, str]:
    """A token for `staff`, with its id."""
    record, text = issue_token(complaints_of(client), staff, issued_by="tests", days=1)
    return record.token_id, text


def sign_in(client: TestClient, token: str) -> str:
    """Sign in on the login form; returns the cookie's value."""
    response = client.post(
        "/staff/login", data={"token": token, "next": "/staff"}, headers=SAME_SITE
    )
    assert response.status_code == 303, response.text
    client.cookies.clear()
    value: str | None = response.cookies.get(COOKIE)
    assert value
    return value


def use_cookie(client: TestClient, cookie: str | None) -> None:
    """The next request sends exactly this cookie, as a copy of it would."""
    client.cookies.clear()
    if cookie:
        client.cookies.set(COOKIE, cookie)


def staff_page(client: TestClient, cookie: str | None) -> httpx.Response:
    """A staff page with exactly this cookie. No case has this code, and the store
    says so without Temporal: 404 once signed in, a redirect to sign in when not."""
    use_cookie(client, cookie)
    response: httpx.Response = client.get("/staff/cases/MW-00000-00000")
    return response


def signed_in(response: httpx.Response) -> bool:
    if response.status_code == 303:
        assert response.headers["location"].startswith("/staff/login")
        return False
    assert response.status_code == 404 and "Case not found" in response.text
    return True


def recorded(client: TestClient, topics: list[str] | None = None) -> list[Any]:
    return list(
        complaints_of(client).recorder.select_notifications(
            start=1, limit=100_000, topics=topics or []
        )
    )


def test_signing_in_keeps_a_session_in_the_cookie_and_never_the_token(
    client: TestClient,
) -> None:
    token_id, token = token_for(client)
    response = client.post(
        "/staff/login", data={"token": token, "next": "/staff"}, headers=SAME_SITE
    )
    assert response.status_code == 303 and response.headers["location"] == "/staff"
    cookie = response.cookies[COOKIE]
    assert cookie != token and token not in response.headers["set-cookie"]
    assert re.fullmatch(r"mws_[0-9a-f]{12}_[A-Za-z0-9_-]{32,}", cookie)
    flags = response.headers["set-cookie"].lower()
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
    assert "secure" not in flags  # plain http here; https gets Secure

    (started,) = [
        complaints_of(client).mapper.to_domain_event(n) for n in recorded(client, SESSION_TOPICS)
    ]
    session: StaffSession = complaints_of(client).repository.get(started.originator_id)
    assert session.staff == "lee.service" and session.token_id == token_id
    assert session.expires_at - session.created_at == timedelta(hours=8)
    # Only the digest is stored: the cookie's secret appears nowhere in the store.
    secret = cookie.rsplit("_", 1)[1]
    assert all(secret.encode() not in n.state for n in recorded(client))

    assert signed_in(staff_page(client, cookie))
    assert not signed_in(staff_page(client, None))


def test_signing_out_ends_the_session_so_a_copied_cookie_no_longer_works(
    client: TestClient,
) -> None:
    _, token = token_for(client)
    cookie = sign_in(client, token)
    assert signed_in(staff_page(client, cookie))

    use_cookie(client, cookie)
    out = client.post("/staff/logout", headers=SAME_SITE)
    assert out.status_code == 303
    assert f'{COOKIE}=""' in out.headers["set-cookie"] or "max-age=0" in (
        out.headers["set-cookie"].lower()
    )
    assert not signed_in(staff_page(client, cookie))
    ended = recorded(client, [SESSION_TOPICS[1]])
    assert len(ended) == 1

    # Signing out again with the same cookie records nothing more.
    use_cookie(client, cookie)
    client.post("/staff/logout", headers=SAME_SITE)
    assert len(recorded(client, [SESSION_TOPICS[1]])) == 1
    # The token itself still signs in afresh.
    assert signed_in(staff_page(client, sign_in(client, token)))


def test_revoking_the_token_ends_the_sessions_it_started(client: TestClient) -> None:
    token_id, token = token_for(client)
    first, second = sign_in(client, token), sign_in(client, token)
    assert signed_in(staff_page(client, first)) and signed_in(staff_page(client, second))
    revoke_token(complaints_of(client), token_id, by="han.ops", at=desk_of(client).clock())
    assert not signed_in(staff_page(client, first))
    assert not signed_in(staff_page(client, second))


def test_a_session_lasts_eight_hours_even_when_its_token_lasts_longer(
    client: TestClient,
) -> None:
    _, token = token_for(client)
    cookie = sign_in(client, token)
    desk = desk_of(client)
    started = desk.clock()
    desk.clock = lambda: started + timedelta(hours=7, minutes=59)
    assert signed_in(staff_page(client, cookie))
    desk.clock = lambda: started + timedelta(hours=8, minutes=1)
    assert not signed_in(staff_page(client, cookie))


def test_a_session_is_no_bearer_token_and_a_token_is_no_cookie(client: TestClient) -> None:
    _, token = token_for(client)
    cookie = sign_in(client, token)
    client.cookies.clear()
    me = client.get("/api/staff/me", headers={"Authorization": f"Bearer {cookie}"})
    assert me.status_code == 401
    # The API does not read the desk's cookie either.
    use_cookie(client, cookie)
    assert client.get("/api/staff/me").status_code == 401
    client.cookies.clear()
    assert client.get("/api/staff/me", headers={"Authorization": f"Bearer {token}"}).is_success
    assert not signed_in(staff_page(client, token))


@pytest.mark.parametrize(
    "path",
    ["/staff/logout", "/staff/cases/MW-00000-00000/note", "/staff/login", "/complaints/new"],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"referer": "https://evil.example/form"},
    ],
    ids=["neither-origin-nor-referer", "foreign-origin", "null-origin", "foreign-referer"],
)
def test_a_form_that_does_not_come_from_these_pages_is_refused_and_records_nothing(
    client: TestClient, path: str, headers: dict[str, str]
) -> None:
    _, token = token_for(client)
    cookie = sign_in(client, token)
    before = len(recorded(client))
    use_cookie(client, cookie)
    response = client.post(
        path, data={"text": "forged", "token": token, "consent": "yes"}, headers=headers
    )
    assert response.status_code == 403 and "text/html" in response.headers["content-type"]
    assert len(recorded(client)) == before
    assert signed_in(staff_page(client, cookie))


def test_a_form_from_these_pages_passes_by_its_referer_alone(client: TestClient) -> None:
    _, token = token_for(client)
    response = client.post(
        "/staff/login", data={"token": token}, headers={"referer": f"{HERE}/staff/login"}
    )
    assert response.status_code == 303


def assert_security_headers(response: httpx.Response) -> None:
    headers = response.headers
    policy = headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    page = client.get("/complaints/new")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    api = client.get("/api/notices")
    assert api.status_code == 200 and api.headers["cache-control"] == "no-store"
    api_refusal = client.get("/api/staff/me")
    assert api_refusal.status_code == 401 and api_refusal.headers["cache-control"] == "no-store"
    missing_page, missing_api = client.get("/nowhere"), client.get("/api/nowhere")
    assert missing_page.status_code == 404 and missing_api.status_code == 404
    assert missing_api.headers["cache-control"] == "no-store"
    static = client.get("/static/style.css")
    assert static.status_code == 200
    too_large = client.post(
        "/api/complaints", content=b"{}", headers={"content-length": "99999999"}
    )
    assert too_large.status_code == 413
    for response in (page, api, api_refusal, missing_page, missing_api, static, too_large):
        assert_security_headers(response)


def test_the_templates_need_no_inline_script_or_style(client: TestClient) -> None:
    templates = Path(__file__).resolve().parents[2] / "web" / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", text), template.name


def test_the_api_docs_load_nothing_from_another_origin(client: TestClient) -> None:
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    assert_security_headers(docs)
    html = docs.text
    assert "<script" not in html
    for tag in re.findall(r"<(?:link|img|iframe)\b[^>]*>", html):
        assert not re.search(r"(?:href|src)=\"(?:https?:)?//", tag), tag
    # Each operation of the schema is there, with its request body and its answers.
    schema = client.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        for method in item:
            assert f"<code>{method.upper()} {path}</code>" in html
    assert "ComplaintSubmission" in html and "ProblemDocument" in html
    assert "<h3><code>POST /api/complaints</code></h3>" in html
