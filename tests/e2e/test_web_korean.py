"""The staff desk speaks Korean: the case page, the queue and the ops page, over HTTP.

Cases with an assignment, an interim reply, escalations (by hand and by the
deadline), a note, a finding, an apology, a staff member's corrective action and
a message taken for an absent colleague are rendered by the running stack
(`tests/support/web.py`) for a signed-in officer. The words the pages must not show
raw come from the code: every field of a case's events (`domain.personal_data`),
the values the domain's types name (statuses, clocks, channels, roles, counting,
…), and the code's names the API gives for these very cases. Identifiers stay as
they are: staff ids, receipt codes, category codes, intake references; so does
free text, which someone (or the engine) wrote.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args, get_type_hints

import httpx
import pytest

from domain.audit import NOT_DETAILS
from domain.calendar import SEOUL, CountingMethod, CountingRule, HourCounting
from domain.complaint import (
    ApologyMode,
    Commitment,
    ConsentMode,
    CorrectiveKind,
    EscalationTrigger,
    Status,
)
from domain.personal_data import FIELDS
from domain.policy import Channel, CommitmentKind, Role, load_policy
from tests.support.web import WebStack, web_stack
from web.schemas import CaseDetail

pytestmark = pytest.mark.temporal

OFFICER = "park.officer"
CODE_WORD = re.compile(r"[a-z][a-z_-]*")
RECEIPT_CODE = re.compile(r"MW-[0-9A-Z]{5}-[0-9A-Z]{5}")
INTAKE_REF = re.compile(r"\b(?:desk|web)-[0-9a-f]{32}\b")
STAFF_ID = re.compile(r"\b[a-z]+\.[a-z]+\b")
# Identifiers the history shows as they are.
IDENTIFIERS = frozenset({"intake_ref", "receipt_code", "category", "linked_to", "case_id"})


class MainText(HTMLParser):
    """The text a person reads in a page's <main>: no tags, attributes or URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inside = self.inside or tag == "main"

    def handle_endtag(self, tag: str) -> None:
        self.inside = self.inside and tag != "main"

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.parts.append(data)


def main_text(page: str) -> str:
    parser = MainText()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def domain_words() -> set[str]:
    """Every field of a case's events and every value the domain's types name."""
    fields = {
        field
        for event, decisions in FIELDS.items()
        if event.startswith("Complaint.")
        for field in decisions
    }
    clock = get_args(get_type_hints(Commitment)["status"])
    named = (Status, ApologyMode, ConsentMode, CorrectiveKind, EscalationTrigger, Channel)
    named += (CommitmentKind, Role, CountingRule, CountingMethod, HourCounting)
    return fields | set(clock) | {value for kind in named for value in get_args(kind)}


def api_words(detail: dict[str, Any]) -> set[str]:
    """The code's names the API gives for a case: its values, its history's fields and
    values, who acted (identifiers and free text left out)."""
    values = [detail["channel"], detail["topic"], detail["status"], detail["investigation"]]
    values += [clock[key] for clock in detail["clocks"] for key in ("kind", "status")]
    values += [e[key] for e in detail["escalations"] for key in ("to_role", "trigger", "by")]
    words = set()
    for entry in detail["history"]:
        values.append(entry["actor"])
        event = FIELDS[f"Complaint.{entry['event']}"]
        for field, value in entry["details"].items():
            words.add(field)
            if field not in IDENTIFIERS and not (event[field].free_text or event[field].personal):
                values.append(value)
    return words | {v for v in values if isinstance(v, str) and CODE_WORD.fullmatch(v)}


def free_text(detail: dict[str, Any]) -> list[str]:
    """What people (or the engine) wrote: shown as written, whatever its language."""
    written = [e["reason"] for e in detail["escalations"]]
    for entry in detail["history"]:
        event = FIELDS[f"Complaint.{entry['event']}"]
        written += [
            value
            for field, value in entry["details"].items()
            if isinstance(value, str) and (event[field].free_text or event[field].personal)
        ]
    return sorted(written, key=len, reverse=True)


def code_words_in(text: str, categories: list[str]) -> set[str]:
    """The words in Latin letters left in the text once identifiers are taken out."""
    for pattern in (RECEIPT_CODE, INTAKE_REF, STAFF_ID):
        text = pattern.sub(" ", text)
    return set(re.findall(r"[A-Za-z][A-Za-z_-]*", text)) - set(categories)


def file(ops: httpx.Client, **fields: Any) -> str:
    body = {"channel": "visit", "category": "inquiry", "topic": "program", **fields}
    response = ops.post(
        "/api/staff/cases", json={"contact": "010-5555-6666", "text": "문의합니다", **body}
    )
    assert response.status_code == 201, response.text
    code: str = response.json()["case"]["receipt_code"]
    return code


def ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    with web_stack(tmp_path_factory.mktemp("web-korean")) as stack:
        yield stack


@pytest.fixture(scope="module")
def cases(web: WebStack) -> dict[str, str]:
    """Four cases whose histories hold most kinds of events, by what they show."""
    now = datetime.now(SEOUL)
    with web.http("han.ops") as ops, web.http("lee.service") as lee, web.http(OFFICER) as boss:
        handled = file(ops, topic="service")
        [clock] = lee.get(f"/api/staff/cases/{handled}").json()["clocks"]
        interim = {"reason": "강사 일정 확인 중", "new_due": clock["extend_until"]}
        ok(lee.post(f"/api/staff/cases/{handled}/interim_reply", json=interim))
        ok(lee.post(f"/api/staff/cases/{handled}/note", json={"text": "보호자와 오후 통화"}))
        ok(ops.post(f"/api/staff/cases/{handled}/escalate", json={"reason": "예산 판단 필요"}))

        investigated = file(ops, category="unkind_service", channel="phone", topic="intake")
        finding = {"fault_confirmed": True, "finding": "전화 응대 불친절 확인"}
        ok(boss.post(f"/api/staff/cases/{investigated}/finding", json=finding))
        ok(
            boss.post(
                f"/api/staff/cases/{investigated}/corrective_action",
                json={"staff": "lee.service", "action": "training", "note": "응대 교육"},
            )
        )
        ok(
            boss.post(
                f"/api/staff/cases/{investigated}/apology",
                json={"mode": "in_person", "note": "방문하여 사과"},
            )
        )

        message = file(ops, category="callback", channel="phone")
        promised = (now + timedelta(hours=2)).isoformat()
        ok(
            ops.post(
                f"/api/staff/cases/{message}/take_message",
                json={"for_staff": "lee.service", "callback_by": promised, "note": "오후 통화"},
            )
        )

        overdue = file(ops, channel="mail", received_at=(now - timedelta(days=20)).isoformat())
    return {
        "handled": handled,
        "investigated": investigated,
        "message": message,
        "overdue": overdue,
    }


@pytest.fixture(scope="module")
def officer(web: WebStack) -> Iterator[httpx.Client]:
    """The designated officer's browser: signed in, with the session's cookie."""
    with httpx.Client(base_url=web.url, timeout=60.0) as client:
        signed_in = client.post(
            "/staff/login",
            data={"token": web.token(OFFICER), "next": "/staff"},
            headers={"origin": web.url},
        )
        assert signed_in.status_code == 303, signed_in.text
        yield client


def page_when(client: httpx.Client, path: str, codes: list[str], seconds: float = 30.0) -> str:
    """Visibility lists cases a moment after they change: ask until the page shows them."""
    deadline = time.monotonic() + seconds
    while True:
        page = client.get(path)
        assert page.status_code == 200, page.text
        if all(code in page.text for code in codes) or time.monotonic() > deadline:
            return page.text
        time.sleep(0.3)


def test_the_case_page_shows_its_facts_and_history_in_korean(
    web: WebStack, cases: dict[str, str], officer: httpx.Client
) -> None:
    categories = list(web.complaints.policy.categories)
    pages = {}
    with web.http(OFFICER) as api:
        for name, code in cases.items():
            detail = api.get(f"/api/staff/cases/{code}").json()
            assert set(detail) == set(CaseDetail.model_fields)  # the API keeps the code's names
            page = officer.get(f"/staff/cases/{code}")
            assert page.status_code == 200, page.text
            pages[name] = text = main_text(page.text)
            for written in free_text(detail):
                text = text.replace(written, " ")
            words = domain_words() | api_words(detail)
            assert sorted(code_words_in(text, categories) & words) == [], code
            for korean in ("경로", "상담 주제", "접수번호", "연락처", "시스템", "문자", "민원인"):
                assert korean in text, (code, korean)

    expected = {
        "handled": (
            "방문",
            "서비스 이용 상담",
            "새 기한",
            "이전 기한",
            "연장 한도 계산",
            "근무일",
            "보고 대상",
            "지정책임관",
            "계기",
            "직접",
            "처리 메모",
            "접수 안내",
        ),
        "investigated": ("잘못 확인", "교육", "직접 방문", "방법", "조치", "지킴", "완료"),
        "message": ("담당 직원", "받은 직원", "연락 약속 시각", "약속한 시각", "약속드린 연락"),
        "overdue": ("우편", "기한 초과로 자동", "조치 기한 계산", "근무시간", "처리 지연 안내"),
    }
    missing = [(name, k) for name, words in expected.items() for k in words if k not in pages[name]]
    assert missing == []


def test_the_queue_and_the_ops_page_show_no_word_of_the_code(
    web: WebStack, cases: dict[str, str], officer: httpx.Client
) -> None:
    listed = [cases["handled"], cases["investigated"], cases["overdue"]]
    queue = main_text(page_when(officer, "/staff", listed))
    ops = main_text(page_when(officer, "/ops", [cases["overdue"], cases["handled"]]))

    for text in (queue, ops):
        left = code_words_in(text, list(web.complaints.policy.categories))
        assert sorted(left & domain_words()) == []
        assert "담당자 배정, 처리 중" in text and "기한 초과" in text and "상향됨" in text
    assert "지정책임관" in queue


def test_every_field_and_value_the_domain_names_has_a_korean_label() -> None:
    from activities.notices import TEMPLATES
    from web.labels import field_label, value_label

    # The history shows every field but the chain's and the person's pseudonym.
    hidden = NOT_DETAILS | {"person_id", "received_at"}
    fields = {
        field
        for event, decisions in FIELDS.items()
        if event.startswith("Complaint.")
        for field in decisions
        if field not in hidden
    }
    assert sorted(f for f in fields if field_label(f) == f) == []

    notices = [p.name.removesuffix(".txt.j2") for p in Path(TEMPLATES).glob("[!_]*.txt.j2")]
    named: dict[str, tuple[Any, ...]] = {
        "channel": get_args(Channel),
        "topic": tuple(load_policy().routing.topics),
        "role": get_args(Role),
        "kind": get_args(CommitmentKind),
        "rule": (*get_args(CountingRule), "promised"),  # a callback's time (application.service)
        "limit_rule": get_args(CountingMethod),
        "warn_counting": get_args(HourCounting),
        "mode": get_args(ApologyMode),
        "action": get_args(CorrectiveKind),
        "consent": get_args(ConsentMode),
    }
    unlabelled = [(f, v) for f, values in named.items() for v in values if value_label(f, v) == v]
    unlabelled += [n for n in notices if value_label("kind", n, "NoticeSent") == n]
    assert unlabelled == []
