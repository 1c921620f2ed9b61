"""After an erasure, nothing we hold names the person: a canary written on every
path (the residents' form API, the staff API, the CLI, every action with personal
text, a mail server refusing the address and repeating it) is found nowhere — not
in the SQLite file or its WAL (read models included), not in any payload of any
history event of the Temporal dev server opened with the payload key (inputs,
update arguments and results, failures), not in the server's logs; and on
PostgreSQL not in a `pg_dump` of the schema. Every case has a snapshot of its state
when the person is erased, which the erasure leaves unreadable too."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload

from activities.channels import Channels, FileSmsOutbox, SmtpEmail
from application.service import Complaints
from domain.calendar import SEOUL
from domain.commands import AddNote, Answer, RateSatisfaction
from privacy.snapshots import SnapshotUnusableError
from projections.runner import ReadModels
from tests.support.mail import Mailbox, smtp_server
from tests.support.samples import kst, sample_intake
from tests.support.stores import POSTGRES_ENV
from tests.support.temporal import collect_payloads
from tests.support.web import WebStack, minwon, web_stack

pytestmark = pytest.mark.temporal

CANARY = f"canary{uuid.uuid4().hex[:8]}"
MINWON = Path(sys.executable).parent / "minwon"


@pytest.fixture(scope="module")
def refusing_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    """The stack, its mail going to a server that refuses every address and repeats it."""
    folder = tmp_path_factory.mktemp("canaries")
    mailbox = Mailbox(refuse_with=f"550 5.1.1 <{CANARY}@example.org>: Recipient address rejected")
    for settings in smtp_server(mailbox):
        channels = Channels(email=SmtpEmail(settings), sms=FileSmsOutbox(folder / "sms.jsonl"))
        with web_stack(folder, channels=channels) as stack:
            yield stack


def post(web: WebStack, staff: str | None, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with web.http(staff) as client:
        response = client.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def history_payloads(web: WebStack) -> bytes:
    async def opened() -> bytes:
        payloads: list[Payload] = []
        async for run in web.client.list_workflows():
            history = await web.client.get_workflow_handle(
                run.id, run_id=run.run_id
            ).fetch_history()
            for event in history.events:
                collect_payloads(event, payloads)
        codec = web.client.data_converter.payload_codec
        assert codec is not None
        return b"".join(payload.data for payload in await codec.decode(payloads))

    return web.run(opened(), timeout=120)


def settle(web: WebStack, codes: list[str]) -> None:
    """Every case's receipt notice recorded, sent or failed (in the background)."""
    deadline = time.monotonic() + 60
    for code in codes:
        case_id = web.complaints.case_id_for_receipt(code)
        while not any(
            type(e).__name__ in ("NoticeSent", "NoticeFailed")
            for e in web.complaints.history(case_id)
        ):
            assert time.monotonic() < deadline, f"no notice recorded for {code}"
            time.sleep(0.2)


def snapshotted(app: Complaints, case_id: uuid.UUID) -> None:
    """Snapshot the case (as a save does at every SNAPSHOT_INTERVAL-th event): its
    state, the person's contact in it, sealed under the person's key."""
    app.take_snapshot(case_id)
    assert app.snapshots is not None
    with app.keys.one_reading():
        latest = next(app.snapshots.get(case_id, desc=True, limit=1))
    assert CANARY in latest.state["contact"]


def shredded(app: Complaints, case_id: uuid.UUID) -> None:
    """Every snapshot of the case is there, and none opens once its person is erased."""
    assert app.snapshots is not None
    records = app.snapshots.recorder.select_events(case_id)
    assert records
    for record in records:
        with pytest.raises(SnapshotUnusableError, match="its person was erased"):
            app.snapshots.mapper.to_domain_event(record)


def test_after_erasure_no_canary_is_left_in_the_store_temporal_or_the_logs(
    refusing_web: WebStack, capfd: pytest.CaptureFixture[str]
) -> None:
    web = refusing_web
    # The residents' form API, the staff API and the CLI.
    resident = post(web, None, "/api/complaints", {
        "category": "inquiry", "topic": "program", "contact": f"{CANARY}@example.org",
        "text": f"{CANARY} 웹 민원", "private": False,
    })  # fmt: skip
    staff = post(web, "lee.service", "/api/staff/cases", {
        "channel": "visit", "category": "inquiry", "topic": "program",
        "contact": f"{CANARY}@example.org", "text": f"{CANARY} 방문 민원",
    })["case"]  # fmt: skip
    filed = minwon(web, "file", "--channel", "phone", "--category", "inquiry",
                   "--topic", "program", "--contact", f"{CANARY}@example.org",
                   "--text", f"{CANARY} 전화 민원", "--json",
                   token=web.token("lee.service"))  # fmt: skip
    assert filed.returncode == 0, filed.stderr
    cli = json.loads(filed.stdout)["case"]
    investigated = post(web, "park.officer", "/api/staff/cases", {
        "channel": "phone", "category": "unkind_service", "topic": "intake",
        "contact": f"{CANARY}@example.org", "text": f"{CANARY} 불친절 신고",
    })["case"]  # fmt: skip

    # Every action that carries personal text, by the API and by the CLI.
    code = staff["receipt_code"]
    base = f"/api/staff/cases/{code}"
    callback_by = (datetime.now(SEOUL) + timedelta(days=1)).isoformat()
    post(web, "lee.service", f"{base}/note", {"text": f"{CANARY} 메모"})
    message = {"for_staff": "lee.service", "callback_by": callback_by, "note": f"{CANARY} 용건"}
    post(web, "lee.service", f"{base}/take_message", message)
    post(web, "lee.service", f"{base}/call_back", {"note": f"{CANARY} 통화"})
    post(web, "lee.service", f"{base}/answer", {"text": f"{CANARY} 답변"})
    post(web, "lee.service", f"{base}/rate", {"score": 2, "comment": f"{CANARY} 의견"})
    noted = minwon(web, "note", cli["receipt_code"], "--text", f"{CANARY} CLI 메모",
                   token=web.token("lee.service"))  # fmt: skip
    assert noted.returncode == 0, noted.stderr
    other = f"/api/staff/cases/{investigated['receipt_code']}"
    post(web, "park.officer", f"{other}/finding",
         {"fault_confirmed": True, "finding": f"{CANARY} 조사 결과"})  # fmt: skip
    post(web, "park.officer", f"{other}/apology", {"mode": "phone", "note": f"{CANARY} 사과"})

    codes = [resident["receipt_code"], code, cli["receipt_code"], investigated["receipt_code"]]
    settle(web, codes)
    failed = [
        e
        for c in codes
        for e in web.complaints.history(web.complaints.case_id_for_receipt(c))
        if type(e).__name__ == "NoticeFailed"
    ]
    assert failed, "the refusing mail server was never asked"
    with ReadModels(web.complaints.env) as models:
        models.catch_up()
    for c in codes:
        snapshotted(web.complaints, web.complaints.case_id_for_receipt(c))

    # The erasure: every case of the person (one contact, one person).
    person = web.complaints.get_case(web.complaints.case_id_for_receipt(code)).person_id
    erased = web.complaints.erase_person(
        str(person), reason="본인 요청", by="han.ops", at=datetime.now(SEOUL)
    )
    assert len(erased) == 4
    with ReadModels(web.complaints.env) as models:
        models.catch_up()
    for c in codes:
        shredded(web.complaints, web.complaints.case_id_for_receipt(c))

    store = Path(web.complaints.env["SQLITE_DBNAME"])
    for path in (store, store.with_name(store.name + "-wal")):
        if path.exists():
            assert CANARY.encode() not in path.read_bytes(), path
    assert CANARY.encode() not in history_payloads(web)
    logs = capfd.readouterr()
    assert CANARY not in logs.out and CANARY not in logs.err


@pytest.mark.postgres
def test_after_erasure_a_pg_dump_of_the_schema_holds_no_canary(postgres_schema: str) -> None:
    env = {**POSTGRES_ENV, "POSTGRES_SCHEMA": postgres_schema}
    app = Complaints(env=env)
    try:
        case = app.file(sample_intake(contact=f"{CANARY}@example.org", text=f"{CANARY} 민원"))
        at = kst("2026-09-22T10:00")
        for number, action in enumerate(
            [
                AddNote(text=f"{CANARY} 메모", by="lee.service"),
                Answer(text=f"{CANARY} 답변", by="lee.service"),
                RateSatisfaction(score=2, comment=f"{CANARY} 의견"),
            ]
        ):
            app.perform(case.id, action, at=at, command_id=f"c{number}")
        snapshotted(app, case.id)
        with ReadModels(env) as models:
            models.catch_up()
        app.erase_person(str(case.person_id), reason="본인 요청", by="han.ops", at=at)
        shredded(app, case.id)
    finally:
        app.close()

    dump = subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-n", postgres_schema, "test"],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip

    assert dump.returncode == 0, dump.stderr
    assert postgres_schema.encode() in dump.stdout  # the schema was dumped
    assert f"{postgres_schema}.{Complaints.name}_snapshots".encode() in dump.stdout
    assert CANARY.encode() not in dump.stdout
