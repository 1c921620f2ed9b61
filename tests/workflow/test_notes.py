"""Working notes (처리 메모): sealed like the rest of what a case says about a person."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from application.service import Complaints, Intake
from cli.main import main
from domain.access import AccessDeniedError, authorize
from domain.complaint import ERASED
from tests.support.api import api_server
from tests.support.temporal import running_stack, start_time_skipping
from workflows.client import act, file_complaint
from workflows.models import AddNote, FileComplaintInput

KST = ZoneInfo("Asia/Seoul")
CANARY_NOTE = "카나리아메모-NB42-보호자와통화"


def intake(ref: str) -> Intake:
    return Intake(
        intake_ref=ref,
        channel="phone",
        category="inquiry",
        topic="program",
        private=False,
        contact="010-5555-0101",
        text="프로그램 문의",
        received_at=datetime(2026, 9, 21, 10, tzinfo=KST),
    )


def add_note(app: Complaints, case_id: uuid.UUID, text: str, command_id: str) -> None:
    app.perform(
        case_id, AddNote(text=text, by="lee.service"),
        at=datetime(2026, 9, 22, 10, tzinfo=KST), command_id=command_id,
    )  # fmt: skip


def test_a_note_is_stored_sealed_and_reads_erased_once_the_person_is_erased(
    complaints: Complaints, open_complaints: Callable[[], Complaints]
) -> None:
    case = complaints.file(intake("note-privacy-1"))
    add_note(complaints, case.id, CANARY_NOTE, "note-1")

    stored = b"".join(r.state for r in complaints.recorder.select_events(case.id))
    assert CANARY_NOTE.encode() not in stored
    assert [n.text for n in open_complaints().get_case(case.id).notes] == [CANARY_NOTE]

    assert case.person_id is not None
    complaints.erase_person(
        case.person_id, reason="본인 요청", by="park.officer", at=datetime(2026, 10, 1, tzinfo=KST)
    )

    fresh = open_complaints()
    assert [n.text for n in fresh.get_case(case.id).notes] == [ERASED]
    assert fresh.verify(case.id) is None
    # The erasing process keeps recent cases in memory: they hold no more than the store.
    add_note(complaints, case.id, "지운 뒤의 메모", "note-after")
    assert case.person_id not in complaints.keys.persons()  # no key made again to seal it
    for app in (complaints, fresh, open_complaints()):
        assert [n.text for n in app.get_case(case.id).notes] == [ERASED, ERASED]
        assert (app.get_case(case.id).contact, app.get_case(case.id).text) == (ERASED, ERASED)


def test_a_note_sent_twice_with_one_command_id_is_recorded_once(complaints: Complaints) -> None:
    case = complaints.file(intake("note-twice-1"))

    add_note(complaints, case.id, "방문 상담 예약", "note-twice")
    add_note(complaints, case.id, "방문 상담 예약", "note-twice")

    names = [type(e).__name__ for e in complaints.history(case.id)]
    assert names.count("NoteAdded") == 1


def test_staff_may_write_a_note_and_an_auditor_may_not(complaints: Complaints) -> None:
    at = datetime(2026, 9, 22, tzinfo=KST)

    assert "staff" in authorize(complaints.roster, "lee.service", AddNote.rule, at).roles
    with pytest.raises(AccessDeniedError, match=r"yoon\.audit .* may not add note"):
        authorize(complaints.roster, "yoon.audit", AddNote.rule, at)


@pytest.mark.temporal
async def test_notes_through_the_workflow_are_each_recorded_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env: WorkflowEnvironment = await start_time_skipping()
    try:
        async with running_stack(env.client, tmp_path) as stack:
            handle, filed = await file_complaint(
                stack.client,
                FileComplaintInput(
                    intake_ref=f"note-{uuid.uuid4().hex[:12]}",
                    channel="mail",
                    category="inquiry",
                    topic="program",
                    contact="010-5555-0102",
                    text="프로그램 문의",
                ),
                stack.task_queue,
            )
            first = AddNote(text="보호자와 통화: 오후 연락 희망", by="lee.service")
            await act(handle, first, update_id="note-a")
            await act(handle, first, update_id="note-a")  # the same update, sent again
            await act(handle, AddNote(text="방문 상담 예약", by="lee.service"), update_id="note-b")
            with pytest.raises(WorkflowUpdateFailedError):
                await act(handle, AddNote(text="감사가 쓴 메모", by="yoon.audit"))
            case = stack.complaints.get_case(uuid.UUID(filed.case_id))
    finally:
        await env.shutdown()

    assert [(n.text, n.by) for n in case.notes] == [
        ("보호자와 통화: 오후 연락 희망", "lee.service"),
        ("방문 상담 예약", "lee.service"),
    ]


def test_show_personal_lists_the_notes_for_the_assignee_and_masks_them_for_ops(
    store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    with api_server() as server:
        complaints = server.complaints
        case = complaints.file(intake("note-show-1"))
        add_note(complaints, case.id, CANARY_NOTE, "note-show")

        server.login(monkeypatch, "lee.service")
        assert main(["show", case.receipt_code, "--personal"]) == 0
        assert f"2026-09-22T10:00+09:00 lee.service: {CANARY_NOTE}" in capsys.readouterr().out
        server.login(monkeypatch, "han.ops")
        assert main(["show", case.receipt_code, "--personal"]) == 2
        out, err = capsys.readouterr()
        assert "stays masked" in err
        assert CANARY_NOTE not in out + err
