"""The HTTP API against a running stack: dev server, real worker, uvicorn (`tests/support/web.py`).

Residents submit and look up; staff act with bearer tokens, each action going
through the workflow update; ops list and escalate in bulk. What the tests assert
about a case is read back from the event store the worker wrote, and about the
secret from what Temporal holds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from application.service import Intake
from domain.calendar import SEOUL, BusinessCalendar
from domain.credentials import AccessToken, ResidentSecret
from domain.disclosure import mask_contact
from tests.support.web import WebStack, web_stack
from workflows.client import workflow_id
from workflows.models import FileComplaintInput

pytestmark = pytest.mark.temporal

PROBLEM = "application/problem+json"
RESIDENT = {"contact": "resident@example.kr", "text": "프로그램 신청 방법을 알려주세요"}


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    with web_stack(tmp_path_factory.mktemp("web-api")) as stack:
        yield stack


@pytest.fixture(scope="module")
def resident(web: WebStack) -> Iterator[httpx.Client]:
    with web.http() as client:
        yield client


def submit(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/complaints", json={**RESIDENT, "topic": "program", **fields})
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


def events(web: WebStack, code: str) -> list[Any]:
    return web.complaints.history(web.complaints.case_id_for_receipt(code))


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    document: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(document)
    assert document["status"] == status
    return document


def wait_for(check: Callable[[], Any], what: str, seconds: float = 30.0) -> Any:
    """Visibility is eventually consistent: poll until `check` gives something truthy."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}; last: {result!r}")
        time.sleep(0.2)


# -- residents ---------------------------------------------------------------------------------


def test_a_resident_gets_a_receipt_code_and_a_secret_the_store_keeps_only_as_a_digest(
    web: WebStack, resident: httpx.Client
) -> None:
    receipt = submit(resident)

    assert receipt["receipt_code"].startswith("MW-")
    assert len(receipt["secret"]) == 11 and receipt["secret"][5] == "-"
    assert receipt["category_title"].startswith("민원·질의")
    assert [e["label"] for e in receipt["expectations"]] == ["답변"]
    assert receipt["handler"] == {"title": "서비스제공팀 사회복지사", "phone": "02-000-1002"}
    case_id = web.complaints.case_id_for_receipt(receipt["receipt_code"])
    record: ResidentSecret = web.complaints.repository.get(ResidentSecret.create_id(case_id))
    assert record.admits(receipt["secret"])
    stored = b"".join(
        n.state for n in web.complaints.recorder.select_notifications(start=1, limit=10_000)
    )
    assert receipt["secret"].encode() not in stored
    assert receipt["secret"].replace("-", "").encode() not in stored


def test_the_secret_never_reaches_temporal(web: WebStack, resident: httpx.Client) -> None:
    receipt = submit(resident, private=True)
    case = web.complaints.find_by_receipt(receipt["receipt_code"])

    async def what_temporal_holds() -> tuple[list[Any], dict[str, Any]]:
        handle = web.client.get_workflow_handle(workflow_id(case.intake_ref))
        history = await handle.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        inputs = await web.client.data_converter.decode(
            started.input.payloads, [FileComplaintInput]
        )
        description = await handle.describe()
        return inputs, dict(description.search_attributes)

    inputs, attributes = web.run(what_temporal_holds())
    secret = receipt["secret"]
    assert secret not in inputs[0].model_dump_json()
    assert all(secret not in str(value) for value in attributes.values())
    assert attributes["MinwonReceipt"] == [receipt["receipt_code"]]


def test_the_status_needs_the_receipt_code_and_its_secret_and_shows_only_the_residents_case(
    web: WebStack, resident: httpx.Client
) -> None:
    receipt = submit(resident)
    code, secret = receipt["receipt_code"], receipt["secret"]

    found = resident.post(
        "/api/complaints/status",
        json={"receipt_code": code.lower().replace("-", " "), "secret": secret.lower()},
    )
    assert found.status_code == 200, found.text
    status = found.json()
    assert status["receipt_code"] == code
    assert status["status"] == "assigned" and status["status_label"] == "담당자 배정, 처리 중"
    assert [(c["kind"], c["status"]) for c in status["commitments"]] == [("reply", "open")]
    assert status["answer"] is None
    # Nothing but their own case and what the center tells every resident.
    assert "contact" not in status and "text" not in status and "assignee" not in status

    wrong = resident.post("/api/complaints/status", json={"receipt_code": code, "secret": "X"})
    assert "receipt code and secret" in problem_of(wrong, 404)["detail"]
    other = resident.post(
        "/api/complaints/status", json={"receipt_code": "MW-00000-00000", "secret": secret}
    )
    assert problem_of(other, 404)["detail"] == problem_of(wrong, 404)["detail"]
    problem_of(
        resident.post("/api/complaints/status", json={"receipt_code": "nope", "secret": "x"}),
        422,
    )

    # The page's lookup is a read too; each admitted lookup is one access-log entry.
    page = resident.post(
        "/status", data={"receipt_code": code, "secret": secret}, headers={"origin": web.url}
    )
    assert page.status_code == 200 and code in page.text
    case = web.complaints.find_by_receipt(code)
    case_id = str(case.id)
    today = datetime.now(SEOUL).date()
    entries = web.complaints.access_entries(
        since=today - timedelta(days=1), until=today, person=case.person_id
    )
    reads = [(e["actor"], e["origin"], e["action"]) for e in entries if e["case_id"] == case_id]
    assert reads == [
        (f"resident:{code}", "api:127.0.0.1", "status"),
        (f"resident:{code}", "web:127.0.0.1", "status"),
    ]


def test_guessing_a_secret_is_stopped_after_ten_wrong_tries(resident: httpx.Client) -> None:
    code = submit(resident)["receipt_code"]
    lookup = {"receipt_code": code, "secret": "AAAAA-AAAAA"}
    for _ in range(10):
        problem_of(resident.post("/api/complaints/status", json=lookup), 404)

    blocked = resident.post("/api/complaints/status", json=lookup)

    assert problem_of(blocked, 429)["title"] == "Too many attempts"
    assert int(blocked.headers["retry-after"]) > 0


def test_a_late_reply_complaint_names_an_existing_case_whose_reply_is_late(
    web: WebStack, resident: httpx.Client
) -> None:
    # A case received a month ago and never answered: its reply is overdue.
    overdue = web.complaints.file(
        Intake(
            intake_ref=f"overdue-{uuid.uuid4().hex[:8]}",
            channel="email",
            category="inquiry",
            topic="program",
            private=False,
            contact="010-2222-3333",
            text="문의",
            received_at=datetime.now(SEOUL) - timedelta(days=30),
        )
    )

    linked = submit(
        resident, category="late_reply", about_receipt_code=overdue.receipt_code.lower()
    )
    missing = resident.post(
        "/api/complaints",
        json={**RESIDENT, "category": "late_reply", "about_receipt_code": "MW-00000-00000"},
    )
    unlinked = resident.post("/api/complaints", json={**RESIDENT, "category": "late_reply"})

    assert linked["category"] == "late_reply"
    assert [e["kind"] for e in linked["expectations"]] == ["investigation"]
    problem_of(missing, 404)
    assert problem_of(unlinked, 422)["errors"][0]["location"] == "body.about_receipt_code"


def test_a_late_reply_complaint_about_a_case_on_time_is_filed_as_an_opinion_saying_why(
    web: WebStack, resident: httpx.Client
) -> None:
    on_time = submit(resident)

    filed = submit(resident, category="late_reply", about_receipt_code=on_time["receipt_code"])

    assert filed["category"] == "opinion"
    assert [e["kind"] for e in filed["expectations"]] == ["result"]
    assert "answered within its deadline" in filed["message"]
    assert on_time["receipt_code"] in filed["message"]
    case = web.complaints.find_by_receipt(filed["receipt_code"])
    assert (case.category, case.linked_to) == ("opinion", None)


# -- staff ----------------------------------------------------------------------------------------


def test_staff_answer_through_the_workflow_and_the_resident_then_reads_the_answer(
    web: WebStack, resident: httpx.Client
) -> None:
    receipt = submit(resident)
    code = receipt["receipt_code"]

    with web.http("lee.service") as staff:
        answered = staff.post(
            f"/api/staff/cases/{code}/answer", json={"text": "1층 안내데스크에서 신청하세요."}
        )
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"

    answered_event = next(e for e in events(web, code) if type(e).__name__ == "Answered")
    assert answered_event.by == "lee.service"
    assert answered_event.text == "1층 안내데스크에서 신청하세요."
    status = resident.post(
        "/api/complaints/status",
        json={"receipt_code": code, "secret": receipt["secret"]},
    ).json()
    assert status["answer"] == "1층 안내데스크에서 신청하세요."
    assert [(c["kind"], c["status"]) for c in status["commitments"]] == [("reply", "met")]


def test_staff_actions_need_a_valid_token_and_follow_the_roster(
    web: WebStack, resident: httpx.Client
) -> None:
    code = submit(resident)["receipt_code"]
    answer = {"text": "안내드립니다"}

    missing = httpx.post(f"{web.url}/api/staff/cases/{code}/answer", json=answer)
    assert problem_of(missing, 401)["title"] == "Authentication required"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    forged = httpx.post(
        f"{web.url}/api/staff/cases/{code}/answer",
        json=answer,
        headers={"Authorization": "Bearer mwt_000000000000_" + "x" * 43},
    )
    problem_of(forged, 401)

    with web.http("choi.tour") as other, web.http("yoon.audit") as auditor:
        refused = other.post(f"/api/staff/cases/{code}/answer", json=answer)
        assert "may not answer case" in problem_of(refused, 403)["detail"]
        # Another staff member reads the case, not the resident's data.
        read = other.get(f"/api/staff/cases/{code}").json()
        assert read["personal_data_shown"] is False
        assert read["contact"] == mask_contact(RESIDENT["contact"])
        assert RESIDENT["contact"] not in str(read) and RESIDENT["text"] not in str(read)
        # The auditor reads it all (and the read is logged), and acts on nothing.
        audited = auditor.get(f"/api/staff/cases/{code}").json()
        assert audited["personal_data_shown"] is True
        assert (
            "needs staff"
            in problem_of(auditor.post(f"/api/staff/cases/{code}/answer", json=answer), 403)[
                "detail"
            ]
        )
    today = datetime.now(SEOUL).date()
    entries = web.complaints.access_entries(since=today, until=today, actor="yoon.audit")
    assert [(e["action"], e["case_id"]) for e in entries][-1] == (
        "web case page",
        str(web.complaints.case_id_for_receipt(code)),
    )
    assert entries[-1]["origin"].startswith("api:127.0.0.1")

    with web.http("han.ops") as ops:
        moved = ops.post(f"/api/staff/cases/{code}/assign", json={"staff": "kim.casemgr"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["assignee"] == "kim.casemgr"
    with web.http("kim.casemgr") as now_theirs:
        assert now_theirs.post(f"/api/staff/cases/{code}/answer", json=answer).status_code == 200


def test_a_revoked_token_is_refused(web: WebStack) -> None:
    token, text = AccessToken.issue(
        staff="lee.service", issued_by="tests", at=datetime.now(SEOUL), days=1
    )
    web.complaints.save(token)
    headers = {"Authorization": f"Bearer {text}"}
    assert httpx.get(f"{web.url}/api/staff/me", headers=headers).json()["staff"] == "lee.service"

    token.revoke(by="han.ops", at=datetime.now(SEOUL))
    web.complaints.save(token)

    problem_of(httpx.get(f"{web.url}/api/staff/me", headers=headers), 401)


def test_an_action_the_case_does_not_allow_is_refused_by_the_workflow_as_a_409(
    web: WebStack, resident: httpx.Client
) -> None:
    code = submit(resident)["receipt_code"]

    with web.http("lee.service") as staff:
        refused = staff.post(f"/api/staff/cases/{code}/close")
        too_late = staff.post(
            f"/api/staff/cases/{code}/interim_reply",
            json={"reason": "자료 확인 중", "new_due": "2020-01-01T09:00:00+09:00"},
        )

    assert "has not been answered yet" in problem_of(refused, 409)["detail"]
    assert "new expected date must be after" in problem_of(too_late, 409)["detail"]
    assert [type(e).__name__ for e in events(web, code)][-1] != "Closed"


def test_the_case_page_data_shows_every_clock_and_the_full_history_to_the_assignee(
    web: WebStack, resident: httpx.Client
) -> None:
    code = submit(resident)["receipt_code"]
    with web.http("lee.service") as staff:
        staff.post(
            f"/api/staff/cases/{code}/interim_reply",
            json={"reason": "강사 일정 확인 중", "new_due": _next_week_evening()},
        ).raise_for_status()
        detail = staff.get(f"/api/staff/cases/{code}").json()

    assert detail["personal_data_shown"] is True
    assert detail["contact"] == RESIDENT["contact"] and detail["text"] == RESIDENT["text"]
    [clock] = detail["clocks"]
    assert clock["kind"] == "reply" and clock["extensions"] == 1
    assert clock["due"] != clock["original_due"]
    names = [h["event"] for h in detail["history"]]
    assert names[:3] == ["Received", "CommitmentStarted", "Assigned"]
    assert {"InterimReplySent", "CommitmentExtended"} <= set(names)
    assert [h["version"] for h in detail["history"]] == list(range(1, len(names) + 1))


def test_a_note_from_the_desk_is_kept_with_the_case_and_shown_only_to_its_people(
    web: WebStack, resident: httpx.Client
) -> None:
    code = submit(resident)["receipt_code"]
    note = {"text": "보호자와 통화: 오후에만 연락 가능"}

    with web.http("lee.service") as staff, web.http("choi.tour") as other:
        added = staff.post(f"/api/staff/cases/{code}/note", json=note)
        empty = staff.post(f"/api/staff/cases/{code}/note", json={"text": "  "})
        not_theirs = other.post(f"/api/staff/cases/{code}/note", json=note)
        mine = staff.get(f"/api/staff/cases/{code}").json()
        theirs = other.get(f"/api/staff/cases/{code}").json()

    assert added.status_code == 200, added.text
    assert problem_of(empty, 422)["errors"][0]["location"] == "body.text"
    assert "may not add note: case" in problem_of(not_theirs, 403)["detail"]
    assert "note" in mine["allowed_actions"] and "note" not in theirs["allowed_actions"]
    [kept] = [e for e in events(web, code) if type(e).__name__ == "NoteAdded"]
    assert (kept.text, kept.by) == (note["text"], "lee.service")
    [shown] = [h for h in mine["history"] if h["event"] == "NoteAdded"]
    assert shown["details"]["text"] == note["text"]
    [masked] = [h for h in theirs["history"] if h["event"] == "NoteAdded"]
    assert masked["details"]["text"] == f"[가림: {len(note['text'])}자]"


def _next_week_evening() -> str:
    """18:00 of a working day 12 or more days ahead (a weekend or public holiday is
    outside working time and refused as a due)."""
    moment = datetime.now(SEOUL) + timedelta(days=12)
    calendar = BusinessCalendar()
    while not calendar.is_working_day(moment.date()):
        moment += timedelta(days=1)
    return moment.replace(hour=18, minute=0, second=0, microsecond=0).isoformat()


# -- queues and ops -----------------------------------------------------------------------------


def file_case(staff: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"channel": "visit", "category": "inquiry", "topic": "program", **RESIDENT, **fields}
    response = staff.post("/api/staff/cases", json=body)
    assert response.status_code == 201, response.text
    filed: dict[str, Any] = response.json()
    return filed


def test_my_queue_is_sorted_by_next_due_with_overdue_and_due_soon_flags(web: WebStack) -> None:
    now = datetime.now(SEOUL)
    with web.http("han.ops") as ops, web.http("lee.service") as lee:
        late = file_case(ops, received_at=(now - timedelta(days=20)).isoformat())["case"]
        fresh = file_case(ops)["case"]
        callback = file_case(ops, category="callback", channel="phone")["case"]
        code = callback["receipt_code"]
        ops.post(
            f"/api/staff/cases/{code}/take_message",
            json={
                "for_staff": "lee.service",
                "callback_by": (now + timedelta(hours=2)).isoformat(),
            },
        ).raise_for_status()
        ops.post(
            f"/api/staff/cases/{code}/assign", json={"staff": "lee.service"}
        ).raise_for_status()

        wanted = [late["receipt_code"], code, fresh["receipt_code"]]

        def listed() -> list[dict[str, Any]]:
            items = [i for i in lee.get("/api/staff/queue").json() if i["receipt_code"] in wanted]
            overdue_seen = any(i["overdue"] for i in items)
            return items if len(items) == 3 and overdue_seen else []

        items = wait_for(listed, "the three cases in lee.service's queue")

    assert [i["receipt_code"] for i in items] == wanted
    assert [(i["overdue"], i["due_soon"]) for i in items] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    assert items[0]["escalated"] is True  # the deadline escalated it to the officer


def test_ops_see_overdue_and_escalated_cases_and_escalate_in_bulk_with_a_reason(
    web: WebStack,
) -> None:
    now = datetime.now(SEOUL)
    with web.http("han.ops") as ops, web.http("choi.tour") as choi:
        late = file_case(ops, topic="facility", received_at=(now - timedelta(days=30)).isoformat())
        fresh = file_case(ops, topic="facility")
        codes = {late["case"]["receipt_code"], fresh["case"]["receipt_code"]}
        wait_for(
            lambda: codes <= {i["receipt_code"] for i in choi.get("/api/staff/queue").json()},
            "choi.tour's two cases in visibility",
        )

        def escalated_listed() -> dict[str, Any] | None:
            overview: dict[str, Any] = ops.get("/api/ops/cases").json()
            escalated = {i["receipt_code"] for i in overview["escalated"]}
            return overview if late["case"]["receipt_code"] in escalated else None

        overview = wait_for(escalated_listed, "the late case among the escalated")
        assert late["case"]["receipt_code"] in {i["receipt_code"] for i in overview["overdue"]}
        assert fresh["case"]["receipt_code"] not in {i["receipt_code"] for i in overview["overdue"]}

        with web.http("lee.service") as lee:
            denied = lee.post("/api/ops/escalations", json={"reason": "x", "assignee": "choi.tour"})
            problem_of(denied, 403)
        problem_of(ops.post("/api/ops/escalations", json={"reason": "전체"}), 422)

        result = ops.post(
            "/api/ops/escalations",
            json={"reason": "견학 담당 장기 부재: 일괄 상향", "assignee": "choi.tour"},
        ).json()

    assert {o["receipt_code"] for o in result["outcomes"]} == codes
    assert result["escalated"] == 2 == result["matched"]
    for code in codes:
        manual = [
            (e.by, e.trigger, e.reason)
            for e in events(web, code)
            if type(e).__name__ == "Escalated" and e.trigger == "manual"
        ]
        assert manual == [("han.ops", "manual", "견학 담당 장기 부재: 일괄 상향")]


def test_public_notices_list_announced_results_and_never_a_private_case(
    web: WebStack, resident: httpx.Client
) -> None:
    public = submit(resident, text="주차장 안내 표지판이 잘 안 보여요")["receipt_code"]
    private = submit(resident, private=True, text="비공개로 상담하고 싶습니다")["receipt_code"]
    with web.http("lee.service") as staff, web.http("park.officer") as officer:
        for code in (public, private):
            staff.post(f"/api/staff/cases/{code}/answer", json={"text": "확인했습니다"})
        problem_of(staff.post(f"/api/staff/cases/{public}/announce", json={"summary": "x"}), 403)
        officer.post(
            f"/api/staff/cases/{public}/announce",
            json={"summary": "주차장 안내 표지판을 새로 달았습니다."},
        ).raise_for_status()
        refused = officer.post(f"/api/staff/cases/{private}/announce", json={"summary": "x"})
    assert "private" in problem_of(refused, 409)["detail"]

    notices = wait_for(
        lambda: [n for n in resident.get("/api/notices").json() if n["receipt_code"] == public],
        "the public notice",
    )

    assert notices[0]["summary"] == "주차장 안내 표지판을 새로 달았습니다."
    listed = resident.get("/api/notices").text
    assert private not in listed
    assert RESIDENT["contact"] not in listed and "주차장 안내 표지판이 잘" not in listed


# -- refusals before Temporal --------------------------------------------------------------------


def test_oversized_malformed_and_non_json_bodies_are_refused_before_anything_is_filed(
    web: WebStack, resident: httpx.Client
) -> None:
    before = len(_received(web))
    big = {**RESIDENT, "text": "가" * 30_000}

    too_big = resident.post("/api/complaints", json=big)
    chunked = resident.post(
        "/api/complaints",
        content=(b"x" * 8192 for _ in range(10)),
        headers={"content-type": "application/json"},
    )
    malformed = resident.post(
        "/api/complaints", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    not_json = resident.post("/api/complaints", content=b"text=hi")
    unknown = resident.post("/api/complaints", json={**RESIDENT, "owner": "me"})
    blank = resident.post("/api/complaints", json={**RESIDENT, "text": "   "})
    bad_contact = resident.post("/api/complaints", json={**RESIDENT, "contact": "몰라요"})

    assert "64 KiB" in problem_of(too_big, 413)["detail"]
    problem_of(chunked, 413)
    assert problem_of(malformed, 400)["title"] == "Malformed JSON"
    problem_of(not_json, 415)
    assert problem_of(unknown, 422)["errors"][0]["location"] == "body.owner"
    assert problem_of(blank, 422)["errors"][0]["location"] == "body.text"
    assert "e-mail address or a phone number" in problem_of(bad_contact, 422)["detail"]
    assert len(_received(web)) == before


def _received(web: WebStack) -> list[Any]:
    topic = "domain.complaint:Complaint.Received"
    return web.complaints.recorder.select_notifications(start=1, limit=100_000, topics=[topic])


def test_every_error_is_a_problem_document_and_the_schema_says_so(
    web: WebStack, resident: httpx.Client
) -> None:
    problem_of(resident.get("/api/nowhere"), 404)
    problem_of(resident.delete("/api/complaints"), 405)
    problem_of(resident.get(f"/api/staff/cases/{uuid.uuid4().hex}"), 401)
    with web.http("han.ops") as ops:
        assert "receipt code" in problem_of(ops.get("/api/staff/cases/nope"), 422)["detail"]
        problem_of(ops.get("/api/staff/cases/MW-00000-00000"), 404)

    schema = resident.get("/openapi.json").json()
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert len(operations) >= 20
    for operation in operations:
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert {"413", "422"} <= set(errors), operation["summary"]
        for response in errors.values():
            assert list(response["content"]) == [PROBLEM]


def test_pages_are_korean_and_refuse_a_form_posted_from_another_site(
    web: WebStack, tmp_path: Path
) -> None:
    with httpx.Client(base_url=web.url) as browser:
        page = browser.get("/complaints/new")
        assert '<html lang="ko">' in page.text and 'for="contact"' in page.text
        forged = browser.post(
            "/complaints/new",
            data={**RESIDENT, "consent": "yes"},
            headers={"origin": "https://evil.example"},
        )
        assert forged.status_code == 403 and "text/html" in forged.headers["content-type"]
        signed_in = browser.post(
            "/staff/login",
            data={"token": web.token("lee.service"), "next": "/staff"},
            headers={"origin": web.url},
        )
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie


def test_the_directory_names_todays_holders_with_desk_phones_and_each_services_promise(
    web: WebStack, resident: httpx.Client
) -> None:
    response = resident.get("/api/directory")
    assert response.status_code == 200, response.text
    directory = response.json()

    roles = {entry["role"]: entry for entry in directory["staff"]}
    officer = roles["designated_officer"]
    assert (officer["role_title"], officer["name"], officer["phone"]) == (
        "지정책임관",
        web.complaints.roster.staff("park.officer").name,  # type: ignore[union-attr]
        web.complaints.roster.staff("park.officer").phone,  # type: ignore[union-attr]
    )
    assert "기한을 넘긴 민원의 상향 보고" in officer["duties"]
    assert "프로그램 이용 상담" in roles["service_social_worker"]["duties"]
    # Desk phones only: no work address is published.
    assert "@" not in response.text
    inquiry = next(g for g in directory["services"] if g["category"] == "inquiry")
    assert inquiry["promises"] == ["답변: 7일 이내 (근무일 기준)"]
    assert inquiry["handled_by"] == "상담 주제에 따라 담당자"

    page = resident.get("/directory")
    assert page.status_code == 200
    assert "직원·서비스 안내" in page.text and officer["name"] in page.text
    assert "@" not in page.text.split("<main", 1)[1]


def test_every_event_of_a_case_has_a_korean_name_on_the_staff_page() -> None:
    from domain.personal_data import FIELDS
    from web.pages import EVENT_LABELS

    events = {name.split(".", 1)[1] for name in FIELDS if name.startswith("Complaint.")}

    assert sorted(events - set(EVENT_LABELS)) == []
