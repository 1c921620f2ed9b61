"""Attacks on who acts, tried on the real paths: each is refused and records nothing.

One stack for the module, as `make run` serves it: the Temporal dev server from the
wheel, a worker with the real activities, the SQLite store, the API under uvicorn.
The attacker uses what an insider or a stranger could reach: a raw Temporal client
(with and without the payload key), the `minwon` command, plain HTTP. For each
path that is allowed, the recorded actor and the access log name the person the
server authenticated.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from domain.calendar import SEOUL
from domain.complaint import CaseNotFoundError, Complaint
from domain.credentials import AccessToken
from domain.receipt import ReceiptIndex
from tests.support.temporal import collect_payloads
from tests.support.web import WebStack, minwon, web_stack
from workflows.actor_proof import ActorSeal, default_seal
from workflows.client import workflow_id
from workflows.codec import EncryptionCodec, data_converter
from workflows.complaint import ComplaintWorkflow
from workflows.models import AddNote, Answer, CaseView, Recount

pytestmark = pytest.mark.temporal

MINWON = Path(sys.executable).parent / "minwon"
RESIDENT = {"contact": "resident@example.kr", "text": "프로그램 신청 방법을 알려주세요"}


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with web_stack(tmp_path_factory.mktemp("boundaries")) as stack:
        yield stack


def file_case(web: WebStack, staff: str = "lee.service", **fields: Any) -> dict[str, Any]:
    """A case filed at the desk; an inquiry about a program goes to lee.service."""
    body = {"channel": "visit", "category": "inquiry", "topic": "program", **RESIDENT, **fields}
    with web.http(staff) as client:
        response = client.post("/api/staff/cases", json=body)
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()["case"]
    return case


def events(web: WebStack, code: str) -> list[Any]:
    return web.complaints.history(web.complaints.case_id_for_receipt(code))


def names(web: WebStack, code: str) -> list[str]:
    """What was recorded on the case, less the notices going out in the background."""
    return [
        type(e).__name__
        for e in events(web, code)
        if type(e).__name__ not in ("NoticeSent", "NoticeFailed")
    ]


def access_entries(web: WebStack) -> list[dict[str, str]]:
    today = datetime.now(SEOUL).date()
    return web.complaints.access_entries(since=today, until=today)


async def raw_client(web: WebStack, *, sealed: bool, own_key: bool = False) -> Client:
    """A Temporal client on the stack's server: with the payload key, with none, or with
    a key of its own (sealed, but not by us)."""
    config = web.client.service_client.config
    if sealed:
        return await Client.connect(
            config.target_host, namespace="default", data_converter=web.client.data_converter
        )
    converter = data_converter(EncryptionCodec(os.urandom(32))) if own_key else None
    return await Client.connect(
        config.target_host,
        namespace="default",
        data_converter=converter or pydantic_data_converter,
    )


# -- Temporal, without the payload key -------------------------------------------------------


@pytest.mark.parametrize(
    ("own_key", "reason"),
    [(False, "not sealed"), (True, "a key this installation does not have")],
    ids=["no-key", "another-key"],
)
def test_a_raw_start_without_the_payload_key_fails_at_once_and_files_nothing(
    web: WebStack, own_key: bool, reason: str
) -> None:
    ref = f"forged-{uuid.uuid4().hex[:8]}"
    intake = {"intake_ref": ref, "channel": "phone", "category": "inquiry", **RESIDENT}

    async def attack() -> Any:
        client = await raw_client(web, sealed=False, own_key=own_key)
        handle = await client.start_workflow(
            "ComplaintWorkflow", intake, id=workflow_id(ref), task_queue=web.task_queue
        )
        deadline = time.monotonic() + 30
        while True:
            described = await handle.describe()
            if described.status != WorkflowExecutionStatus.RUNNING or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        history = await handle.fetch_history()
        return described.status, [e.event_type for e in history.events], history

    status, event_types, history = web.run(attack())
    # Failed by the first workflow task, not a task failing and retrying forever.
    assert status == WorkflowExecutionStatus.FAILED
    failed = history.events[-1].workflow_execution_failed_event_attributes
    # The failure is sealed like a payload: the history shows nothing of it in clear...
    assert failed.failure.message == "Encoded failure"
    # ... and the installation, holding the key, reads why it was refused.
    assert reason in web.run(failure_of(web, workflow_id(ref)))
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in event_types
    with pytest.raises(CaseNotFoundError):
        web.complaints.get_case(Complaint.create_id(ref))


def test_a_raw_update_without_the_payload_key_is_refused_and_records_nothing(
    web: WebStack,
) -> None:
    case = file_case(web)
    before = names(web, case["receipt_code"])
    forged = {"type": "answer", "text": "forged answer", "by": "lee.service"}

    async def attack() -> BaseException:
        client = await raw_client(web, sealed=False)
        handle = client.get_workflow_handle(_workflow_id_of(web, case))
        try:
            await handle.execute_update("act", forged)
        except (WorkflowUpdateFailedError, RPCError) as refused:
            return refused
        raise AssertionError("the unsealed update was accepted")

    refused = web.run(attack())
    # Refused for what it is (the type is in clear), the reason sealed: nothing for a
    # client without the key to learn from.
    cause = getattr(refused, "cause", None) or refused
    assert "UnsealedPayload" in str(cause) or "not sealed" in str(cause)
    assert names(web, case["receipt_code"]) == before
    assert "Answered" not in names(web, case["receipt_code"])


def test_a_raw_recount_without_the_payload_key_is_refused_and_records_nothing(
    web: WebStack,
) -> None:
    case = file_case(web)
    before = names(web, case["receipt_code"])

    async def attack() -> BaseException:
        client = await raw_client(web, sealed=False)
        handle = client.get_workflow_handle(_workflow_id_of(web, case))
        try:
            await handle.execute_update("recount", {"type": "recount"})
        except (WorkflowUpdateFailedError, RPCError) as refused:
            return refused
        raise AssertionError("the unsealed recount was accepted")

    refused = web.run(attack())
    # Refused for what it is (the type is in clear), the reason sealed: nothing for a
    # client without the key to learn from.
    cause = getattr(refused, "cause", None) or refused
    assert "UnsealedPayload" in str(cause) or "not sealed" in str(cause)
    assert names(web, case["receipt_code"]) == before


def test_a_recount_with_the_payload_key_cannot_move_a_due_the_calendar_does_not_move(
    web: WebStack,
) -> None:
    """An insider with the payload key claims a day off the calendar does not have."""
    case = file_case(web)
    code = case["receipt_code"]
    due_before = web.complaints.get_case(uuid.UUID(case["case_id"])).commitments["reply"].due

    async def attack() -> CaseView:
        client = await raw_client(web, sealed=True)
        handle = client.get_workflow_handle(_workflow_id_of(web, case), result_type=CaseView)
        claimed = Recount(added={due_before.date().isoformat(): "임시공휴일"})
        view: CaseView = await handle.execute_update(ComplaintWorkflow.recount, claimed)
        return view

    view = web.run(attack())
    assert view.commitment("reply").due == due_before
    assert "CommitmentRescheduled" not in names(web, code)
    assert web.complaints.get_case(uuid.UUID(case["case_id"])).commitments["reply"].due == (
        due_before
    )


def names_with_notices(web: WebStack, code: str) -> list[str]:
    return [type(e).__name__ for e in events(web, code)]


async def failure_of(web: WebStack, workflow: str) -> str:
    """A failed workflow's failure, read with the installation's payload key."""
    try:
        await web.client.get_workflow_handle(workflow).result()
    except WorkflowFailureError as error:
        return str(error.cause)
    raise AssertionError(f"{workflow} did not fail")


def _workflow_id_of(web: WebStack, case: dict[str, Any]) -> str:
    return workflow_id(web.complaints.get_case(uuid.UUID(case["case_id"])).intake_ref)


# -- Temporal, with the payload key but not the API's word -----------------------------------


def test_an_update_naming_someone_else_is_refused_even_with_the_payload_key(
    web: WebStack,
) -> None:
    """An insider holding the payload key writes `by` for the case's own assignee."""
    case = file_case(web)
    code = case["receipt_code"]
    before = names(web, code)

    async def attack() -> list[str]:
        client = await raw_client(web, sealed=True)
        handle = client.get_workflow_handle(_workflow_id_of(web, case), result_type=CaseView)
        refusals = []
        # No proof at all.
        try:
            await handle.execute_update(
                ComplaintWorkflow.act, Answer(text="forged by choi", by="lee.service")
            )
        except WorkflowUpdateFailedError as refused:
            refusals.append(str(refused.cause))
        # A proof made with another key than the API's.
        stranger = ActorSeal(os.urandom(32))
        update_id = str(uuid.uuid4())
        signed = stranger.sign(handle.id, update_id, AddNote(text="forged note", by="lee.service"))
        try:
            await handle.execute_update(ComplaintWorkflow.act, signed, id=update_id)
        except WorkflowUpdateFailedError as refused:
            refusals.append(str(refused.cause))
        return refusals

    refusals = web.run(attack())
    assert len(refusals) == 2, refusals
    assert "no proof of who acts" in refusals[0]
    assert "does not verify" in refusals[1]
    assert names(web, code) == before


def test_a_signed_action_moved_to_another_case_is_refused(web: WebStack) -> None:
    """A proof is for one case and one update: a captured one cannot be reused elsewhere."""
    mine, other = file_case(web), file_case(web)
    with web.http("lee.service") as staff:
        response = staff.post(
            f"/api/staff/cases/{mine['receipt_code']}/note", json={"text": "진행 메모"}
        )
    assert response.status_code == 200, response.text
    noted = [e for e in events(web, mine["receipt_code"]) if type(e).__name__ == "NoteAdded"]
    assert [e.by for e in noted] == ["lee.service"]
    before = names(web, other["receipt_code"])

    async def attack() -> str:
        client = await raw_client(web, sealed=True)
        first = client.get_workflow_handle(_workflow_id_of(web, mine), result_type=CaseView)
        update_id = str(uuid.uuid4())
        # What the API signed for the first case (made here with the server's key, as
        # if captured from the first case's history).
        signed = default_seal().sign(first.id, update_id, AddNote(text="moved", by="lee.service"))
        target = client.get_workflow_handle(_workflow_id_of(web, other), result_type=CaseView)
        try:
            await target.execute_update(ComplaintWorkflow.act, signed, id=update_id)
        except WorkflowUpdateFailedError as refused:
            return str(refused.cause)
        raise AssertionError("the moved action was accepted")

    assert "does not verify" in web.run(attack())
    assert names(web, other["receipt_code"]) == before


# -- the CLI and the API ----------------------------------------------------------------------


def test_the_cli_without_a_token_is_refused_and_records_nothing(web: WebStack) -> None:
    case = file_case(web)
    before = names(web, case["receipt_code"])
    run = minwon(web, "note", case["receipt_code"], "--text", "토큰 없이")
    assert run.returncode == 2, run
    assert run.stderr.startswith("minwon: not logged in"), run.stderr
    assert "Traceback" not in run.stderr
    assert names(web, case["receipt_code"]) == before
    # --actor is gone: naming someone is an unknown option, not a way in.
    run = minwon(web, "note", case["receipt_code"], "--text", "x", "--actor", "lee.service")
    assert run.returncode == 2 and "unrecognized arguments: --actor" in run.stderr


def test_a_staff_member_cannot_act_on_anothers_case_by_cli_or_api(web: WebStack) -> None:
    case = file_case(web)  # lee.service's
    code = case["receipt_code"]
    before = names(web, code)
    run = minwon(web, "note", code, "--text", "남의 사건 메모", token=web.token("choi.tour"))
    assert run.returncode == 2, run
    assert f"refused: choi.tour may not add note: case {code} is not theirs" in run.stderr
    run = minwon(web, "answer", code, "--text", "남의 사건 답변", token=web.token("choi.tour"))
    assert run.returncode == 2 and "may not answer case: case" in run.stderr, run.stderr
    with web.http("choi.tour") as api:
        response = api.post(f"/api/staff/cases/{code}/answer", json={"text": "남의 사건"})
    assert response.status_code == 403, response.text
    assert names(web, code) == before


def test_a_private_case_and_personal_data_are_refused_to_those_who_may_not_see_them(
    web: WebStack,
) -> None:
    private = file_case(web, private=True)
    code = private["receipt_code"]
    logged = len(access_entries(web))
    for staff in ("choi.tour", "han.ops"):
        run = minwon(web, "show", code, token=web.token(staff))
        assert run.returncode == 2 and "private (비공개)" in run.stderr, (staff, run)
    public = file_case(web)
    run = minwon(web, "show", public["receipt_code"], "--personal", token=web.token("han.ops"))
    assert run.returncode == 2 and "stays masked" in run.stderr, run
    assert "resident@example.kr" not in run.stdout + run.stderr
    assert len(access_entries(web)) == logged  # a refused read is not a read
    # The case's own assignee may, and the access log names them with the API's origin.
    run = minwon(web, "show", code, "--personal", token=web.token("lee.service"))
    assert run.returncode == 0, run
    assert "resident@example.kr" in run.stdout
    [entry] = access_entries(web)[logged:]
    assert entry["actor"] == "lee.service" and entry["origin"].startswith("api:")


def test_bulk_escalation_and_the_ops_listing_skip_a_private_case(web: WebStack) -> None:
    category = "opinion"  # only these two cases are opinions in this module
    private = file_case(web, category=category, private=True)
    public = file_case(web, category=category)

    with web.http("han.ops") as ops:
        deadline = time.monotonic() + 30
        while True:
            response = ops.post(
                "/api/ops/escalations", json={"category": category, "reason": "민원 급증"}
            )
            assert response.status_code == 200, response.text
            result = response.json()
            if result["matched"] >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        by_code = {o["receipt_code"]: o for o in result["outcomes"]}
        assert by_code[public["receipt_code"]]["escalated"] is True
        refusal = by_code[private["receipt_code"]]
        assert refusal["escalated"] is False and "private" in refusal["error"]
        listed = ops.get("/api/ops/cases").json()
    [escalated] = [
        e for e in events(web, public["receipt_code"]) if type(e).__name__ == "Escalated"
    ]
    assert (escalated.by, escalated.trigger) == ("han.ops", "manual")
    assert "Escalated" not in names(web, private["receipt_code"])
    shown = {item["receipt_code"] for item in listed["escalated"] + listed["overdue"]}
    assert private["receipt_code"] not in shown


def test_ops_cannot_mint_a_token_for_the_officer_or_the_director(web: WebStack) -> None:
    def issued_for(staff: str) -> int:
        count = 0
        for notification in web.complaints.recorder.select_notifications(None, 10_000):
            if notification.topic.endswith("AccessToken.Issued"):
                event = web.complaints.mapper.to_domain_event(notification)
                count += getattr(event, "staff") == staff  # noqa: B009
        return count

    before = {staff: issued_for(staff) for staff in ("park.officer", "jung.director")}
    for staff in before:
        run = minwon(web, "token", "issue", "--staff", staff, token=web.token("han.ops"))
        assert run.returncode == 2, run
        assert "issued by the director" in run.stderr, run.stderr
        assert issued_for(staff) == before[staff]
    # The director may, and the token names who issued it.
    run = minwon(web, "token", "issue", "--staff", "park.officer", token=web.token("jung.director"))
    assert run.returncode == 0, run
    token_id = run.stdout.strip().split("_")[1]
    token: AccessToken = web.complaints.repository.get(AccessToken.create_id(token_id))
    assert (token.staff, token.issued_by) == ("park.officer", "jung.director")


def test_a_revoked_token_no_longer_acts(web: WebStack) -> None:
    case = file_case(web)
    run = minwon(web, "token", "issue", "--staff", "lee.service", token=web.token("han.ops"))
    assert run.returncode == 0, run
    token = run.stdout.strip()
    assert minwon(web, "whoami", token=token).returncode == 0
    token_id = token.split("_")[1]
    revoked = minwon(web, "token", "revoke", token_id, token=web.token("han.ops"))
    assert revoked.returncode == 0, revoked
    before = names(web, case["receipt_code"])
    run = minwon(web, "note", case["receipt_code"], "--text", "폐기된 토큰", token=token)
    assert run.returncode == 2 and "not logged in" in run.stderr, run
    assert names(web, case["receipt_code"]) == before


def test_login_keeps_the_token_for_the_owner_only_and_whoami_names_them(web: WebStack) -> None:
    home = Path(web.complaints.env["SQLITE_DBNAME"]).parent / "login-home"
    token_file = home / "given.token"
    home.mkdir()
    token_file.write_text(web.token("lee.service") + "\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "MINWON_URL": web.url,
           "XDG_CONFIG_HOME": str(home / "cfg")}  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(MINWON), *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip

    login = cli("login", "--token-file", str(token_file))
    assert login.returncode == 0, login
    assert login.stdout.startswith("logged in as lee.service"), login.stdout
    kept = home / "cfg" / "minwon" / "token"
    assert kept.stat().st_mode & 0o777 == 0o600
    whoami = cli("whoami")
    assert whoami.returncode == 0 and whoami.stdout.startswith("lee.service"), whoami
    assert "staff" in whoami.stdout
    assert (
        cli("whoami", "--json").stdout
        and json.loads(cli("whoami", "--json").stdout)["staff"] == "lee.service"
    )
    case = file_case(web)
    noted = cli("note", case["receipt_code"], "--text", "로그인한 직원의 메모")
    assert noted.returncode == 0, noted
    [note] = [e for e in events(web, case["receipt_code"]) if type(e).__name__ == "NoteAdded"]
    assert note.by == "lee.service"
    assert cli("logout").stdout.strip() == "logged out"
    assert not kept.exists()
    after = cli("whoami")
    assert after.returncode == 2 and "not logged in" in after.stderr


def test_an_allowed_action_records_the_authenticated_person_whatever_the_body_says(
    web: WebStack,
) -> None:
    case = file_case(web)
    with web.http("lee.service") as staff:
        forged = staff.post(
            f"/api/staff/cases/{case['receipt_code']}/note",
            json={"text": "메모", "by": "park.officer"},
        )
        assert forged.status_code == 422  # the actor is not an input
        response = staff.post(
            f"/api/staff/cases/{case['receipt_code']}/note", json={"text": "메모"}
        )
    assert response.status_code == 200, response.text
    [note] = [e for e in events(web, case["receipt_code"]) if type(e).__name__ == "NoteAdded"]
    assert note.by == "lee.service"


def test_the_cli_needs_no_temporal_or_eventsourcing_to_start() -> None:
    probe = (
        "import sys; from cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in ('temporalio', 'eventsourcing') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out


def test_an_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MINWON_URL": "http://127.0.0.1:9",
           "MINWON_TOKEN": "mwt_000000000000_" + "x" * 40}  # fmt: skip
    run = subprocess.run([str(MINWON), "whoami"], env=env, capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert run.returncode == 3, run
    assert run.stderr.startswith("minwon: cannot reach the minwon server at http://127.0.0.1:9")


# -- the pages --------------------------------------------------------------------------------


def test_a_session_cookie_is_dead_after_logout_and_a_post_needs_its_origin(web: WebStack) -> None:
    """On the real server: the cookie is a session, not the token, and logout ends it."""
    case = file_case(web)
    code = case["receipt_code"]
    with httpx.Client(base_url=web.url) as browser:
        signed_in = browser.post(
            "/staff/login",
            data={"token": web.token("lee.service"), "next": "/staff"},
            headers={"origin": web.url},
        )
        assert signed_in.status_code == 303, signed_in.text
        cookie = browser.cookies["minwon_staff"]
        assert cookie.startswith("mws_") and web.token("lee.service") not in cookie
        assert browser.get(f"/staff/cases/{code}").status_code == 200
        # A form posted with neither Origin nor Referer is refused, and records nothing.
        before = names(web, code)
        forged = browser.post(f"/staff/cases/{code}/note", data={"text": "출처 없는 요청"})
        assert forged.status_code == 403, forged.text
        assert names(web, code) == before
        assert browser.post("/staff/logout", headers={"origin": web.url}).status_code == 303
    # The copied cookie, after logout: the pages ask to sign in again, and a post is refused.
    with httpx.Client(base_url=web.url, cookies={"minwon_staff": cookie}) as stolen:
        page = stolen.get(f"/staff/cases/{code}")
        assert page.status_code == 303 and "/staff/login" in page.headers["location"]
        posted = stolen.post(
            f"/staff/cases/{code}/note", data={"text": "로그아웃 뒤"}, headers={"origin": web.url}
        )
        assert posted.status_code == 303 and "/staff/login" in posted.headers["location"]
        # Nor is a session a bearer token for the API.
        api = stolen.get("/api/staff/me", headers={"Authorization": f"Bearer {cookie}"})
        assert api.status_code == 401
    assert names(web, code) == before


def test_a_case_removed_from_the_store_while_its_workflow_runs_is_found_by_verify(
    web: WebStack,
) -> None:
    """An insider deletes a case's records; Temporal still runs its workflow."""
    case = file_case(web)
    case_id = uuid.UUID(case["case_id"])
    workflow = _workflow_id_of(web, case)
    # The receipt notice is recorded in the background: let it land first.
    deadline = time.monotonic() + 30
    while "NoticeSent" not in names_with_notices(web, case["receipt_code"]):
        assert time.monotonic() < deadline, "the receipt notice was never recorded"
        time.sleep(0.1)
    index = ReceiptIndex.create_id(case["receipt_code"])
    with closing(sqlite3.connect(web.complaints.env["SQLITE_DBNAME"])) as conn, conn:
        removed = conn.execute(
            "DELETE FROM stored_events WHERE originator_id IN (?, ?)", (case_id.hex, index.hex)
        ).rowcount
    assert removed > 1

    verified = minwon(web, "audit", "verify", "--all", token=web.token("yoon.audit"))

    assert verified.returncode == 1, verified.stdout
    assert (
        f"BROKEN workflow {workflow} runs in Temporal; its case is not in the store"
    ) in verified.stdout


def test_a_filed_complaints_contact_and_text_never_enter_temporal(web: WebStack) -> None:
    """Opened with the payload key, nothing in the case workflow's history names the
    resident: the API records the case first and starts the workflow without them."""
    canary = f"카나리아{uuid.uuid4().hex[:6]}"
    case = file_case(web, contact=f"{canary}@example.org", text=f"{canary} 민원 내용")

    decoded = web.run(opened_history(web, case))
    assert b'"intake_ref"' in decoded  # the workflow input, opened
    assert canary.encode() not in decoded
    stored = web.complaints.get_case(uuid.UUID(case["case_id"]))
    assert canary in stored.text  # kept in the store, sealed under the person's key


async def opened_history(web: WebStack, case: dict[str, Any]) -> bytes:
    """Every payload of the case workflow's history, opened with the payload key."""
    handle = web.client.get_workflow_handle(_workflow_id_of(web, case))
    history = await handle.fetch_history()
    payloads: list[Payload] = []
    for event in history.events:
        collect_payloads(event, payloads)
    codec = web.client.data_converter.payload_codec
    assert codec is not None
    return b"".join(payload.data for payload in await codec.decode(payloads))


def test_personal_text_of_actions_travels_sealed_under_the_persons_key(web: WebStack) -> None:
    """An answer and a note pass through Temporal sealed under the person's own key:
    the payload key does not open them, and once the person is erased nothing does."""
    canary = f"카나리아{uuid.uuid4().hex[:6]}"
    case = file_case(web)
    code, case_id = case["receipt_code"], uuid.UUID(case["case_id"])
    with web.http("lee.service") as client:
        for name, body in (
            ("note", {"text": f"{canary} 메모"}),
            ("answer", {"text": f"{canary} 답변"}),
        ):
            response = client.post(f"/api/staff/cases/{code}/{name}", json=body)
            assert response.status_code == 200, response.text

    decoded = web.run(opened_history(web, case))
    assert b"sealed-text-v1:" in decoded  # the texts went through, sealed
    assert canary.encode() not in decoded  # the payload key alone opens nothing of them
    stored = web.complaints.get_case(case_id)
    assert stored.answer is not None and canary in stored.answer  # opened into the store

    web.complaints.erase_person(
        str(stored.person_id), reason="본인 요청", by="han.ops", at=datetime.now(SEOUL)
    )
    assert web.complaints.keys.key(str(stored.person_id)) is None  # nothing opens them now
