"""Personal data: sealed per person in the store, erased by destroying the key."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment

from application.service import Complaints, Intake
from cli.main import main
from domain.complaint import ERASED
from tests.support.api import api_server
from tests.support.temporal import running_stack, sealed_converter
from workflows.client import act as api_act
from workflows.client import file_complaint
from workflows.models import AddNote, Answer, FileComplaintInput
from workflows.search import ALL_KEYS

KST = ZoneInfo("Asia/Seoul")
CANARY_CONTACT = "010-7777-4242"
CANARY_TEXT = "카나리아사연-QX81-할머니의-병원비"
CANARY_ANSWER = "카나리아답변-ZT55"


def intake(ref: str, contact: str = CANARY_CONTACT, text: str = CANARY_TEXT) -> Intake:
    return Intake(
        intake_ref=ref,
        channel="phone",
        category="inquiry",
        topic="program",
        private=False,
        contact=contact,
        text=text,
        received_at=datetime(2026, 9, 21, 10, tzinfo=KST),
    )


def raw_states(app: Complaints, case_id: uuid.UUID) -> bytes:
    return b"".join(record.state for record in app.recorder.select_events(case_id))


def test_personal_fields_are_never_stored_in_the_clear(complaints: Complaints) -> None:
    case = complaints.file(intake("privacy-1"))
    complaints.perform(
        case.id, Answer(text=CANARY_ANSWER, by="lee.service"),
        at=datetime(2026, 9, 22, 10, tzinfo=KST), command_id="answer-1",
    )  # fmt: skip
    stored = raw_states(complaints, case.id)
    for canary in (CANARY_CONTACT, CANARY_TEXT, CANARY_ANSWER):
        assert canary.encode() not in stored
    reloaded = complaints.get_case(case.id)
    assert (reloaded.contact, reloaded.text, reloaded.answer) == (
        CANARY_CONTACT,
        CANARY_TEXT,
        CANARY_ANSWER,
    )


def test_the_same_contact_written_differently_is_one_person(complaints: Complaints) -> None:
    first = complaints.file(intake("privacy-a", contact="010-1234-5678"))
    second = complaints.file(intake("privacy-b", contact=" +82 10 1234 5678 "))
    other = complaints.file(intake("privacy-c", contact="someone@example.kr"))
    assert first.person_id == second.person_id != other.person_id
    # The pseudonym is hex, where a bare "1234" could turn up by chance.
    assert not [digits for digits in ("1234-5678", "12345678") if digits in (first.person_id or "")]


def test_erasing_a_person_blanks_their_cases_and_the_chain_still_verifies(
    complaints: Complaints, open_complaints
) -> None:  # type: ignore[no-untyped-def]
    theirs = [complaints.file(intake(f"erase-{n}")) for n in range(2)]
    someone_else = complaints.file(intake("keep-1", contact="keep@example.kr", text="남는 민원"))
    person = theirs[0].person_id
    assert person is not None

    erased = complaints.erase_person(
        person, reason="본인 요청", by="yoon.audit", at=datetime(2026, 10, 1, tzinfo=KST)
    )

    assert sorted(erased) == sorted(case.id for case in theirs)
    fresh = open_complaints()  # another process's view: nothing cached
    for case in theirs:
        replayed = fresh.get_case(case.id)
        assert (replayed.contact, replayed.text) == (ERASED, ERASED)
        assert replayed.erased
        assert fresh.verify(case.id) is None
        names = [type(e).__name__ for e in fresh.history(case.id)]
        assert names.count("PersonalDataErased") == 1
    kept = fresh.get_case(someone_else.id)
    assert kept.text == "남는 민원"
    assert fresh.keys.key(person) is None
    # New personal data about an erased person is not kept either.
    fresh.perform(
        theirs[0].id, Answer(text="지운 뒤의 답변", by="lee.service"),
        at=datetime(2026, 10, 2, tzinfo=KST), command_id="late-answer",
    )  # fmt: skip
    assert open_complaints().get_case(theirs[0].id).answer == ERASED


def test_an_erasure_in_one_process_is_seen_by_another_on_its_very_next_read(
    open_complaints: Callable[[], Complaints],
) -> None:
    erasing, reading = open_complaints(), open_complaints()
    case = erasing.file(intake("elsewhere-1"))
    erasing.perform(
        case.id, Answer(text=CANARY_ANSWER, by="lee.service"),
        at=datetime(2026, 9, 22, 10, tzinfo=KST), command_id="answer-elsewhere",
    )  # fmt: skip
    # The reader has just used the key, as a worker does on every command.
    before = reading.get_case(case.id)
    assert (before.contact, before.text, before.answer) == (
        CANARY_CONTACT,
        CANARY_TEXT,
        CANARY_ANSWER,
    )
    person = case.person_id
    assert person is not None

    erasing.erase_person(
        person, reason="본인 요청", by="park.officer", at=datetime(2026, 10, 1, tzinfo=KST)
    )

    after = reading.get_case(case.id)
    assert (after.contact, after.text, after.answer) == (ERASED, ERASED, ERASED)
    received = next(iter(reading.history(case.id)))
    assert (received.contact, received.text) == (ERASED, ERASED)
    assert reading.keys.key(person) is None


def test_erasing_twice_records_the_erasure_once(complaints: Complaints) -> None:
    case = complaints.file(intake("twice-1"))
    person = case.person_id
    assert person is not None
    at = datetime(2026, 10, 1, tzinfo=KST)
    complaints.erase_person(person, reason="요청", by="yoon.audit", at=at)
    complaints.erase_person(person, reason="요청", by="yoon.audit", at=at)
    names = [type(e).__name__ for e in complaints.history(case.id)]
    assert names.count("PersonalDataErased") == 1


def test_the_erase_command_finds_the_person_by_contact_or_by_case(
    store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    with api_server() as server:
        app = server.complaints
        by_contact = app.file(intake("cli-1", contact="010-5555-0000"))
        by_case = app.file(intake("cli-2", contact="case@example.kr"))
        # Only the director or the designated officer erases; a staff member is refused.
        server.login(monkeypatch, "lee.service")
        assert main(["privacy", "erase", "--case", by_case.receipt_code, "--reason", "x"]) == 2
        assert "refused: lee.service" in capsys.readouterr().err
        assert app.get_case(by_case.id).text != ERASED

        server.login(monkeypatch, "park.officer")
        assert main(["privacy", "erase", "--contact", "010 5555 0000", "--reason", "요청"]) == 0
        assert main(["privacy", "erase", "--case", by_case.receipt_code,
                     "--reason", "보존기간 경과"]) == 0  # fmt: skip
        out = capsys.readouterr().out
        assert "erased in 1 case(s)" in out
        assert app.get_case(by_contact.id).contact == ERASED
        assert app.get_case(by_case.id).text == ERASED
        # The erasure is recorded under the authenticated officer's name.
        [erased] = [e for e in app.history(by_case.id) if type(e).__name__ == "PersonalDataErased"]
        assert erased.by == "park.officer"
        assert main(["privacy", "erase", "--case", "MW-00000-00000", "--reason", "x"]) == 2
        assert "no case" in capsys.readouterr().err


@pytest.mark.temporal
async def test_after_erasure_no_canary_is_left_in_the_store_temporal_data_or_logs(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    temporal_file = tmp_path / "temporal.db"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        dev_server_database_filename=str(temporal_file),
        search_attributes=ALL_KEYS,
        data_converter=sealed_converter(),
    )
    try:
        async with running_stack(env.client, tmp_path) as stack:
            handle, view = await file_complaint(
                stack.client,
                FileComplaintInput(
                    intake_ref=f"canary-{uuid.uuid4().hex[:8]}",
                    channel="phone",
                    category="inquiry",
                    topic="program",
                    contact=CANARY_CONTACT,
                    text=CANARY_TEXT,
                ),
                stack.task_queue,
            )
            await api_act(handle, Answer(text=CANARY_ANSWER, by="lee.service"))
            await stack.wait_for_notices(view.case_id, [("answer", "resident")])
            person = stack.complaints.person_of_case(uuid.UUID(view.case_id))
            stack.complaints.erase_person(
                person, reason="canary", by="yoon.audit", at=datetime.now(KST) + timedelta(0)
            )
            replayed = stack.complaints.get_case(uuid.UUID(view.case_id))
            assert replayed.text == ERASED
            await handle.terminate("test over")
    finally:
        await env.shutdown()
    logs = capfd.readouterr()
    places = {
        "event store": (tmp_path / "events.db").read_bytes(),
        "Temporal data file": temporal_file.read_bytes(),
        "logs": (logs.out + logs.err).encode(),
    }
    for wal in tmp_path.glob("*.db-wal"):
        places[wal.name] = wal.read_bytes()
    for place, content in places.items():
        for canary in (CANARY_CONTACT, CANARY_TEXT, CANARY_ANSWER):
            assert canary.encode() not in content, f"{canary} found in the {place}"


def test_whole_store_encryption_at_rest_is_switched_on_by_eventsourcings_cipher_settings(
    tmp_path: Path,
) -> None:
    from eventsourcing.cryptography import AESCipher

    env = {
        "SQLITE_DBNAME": str(tmp_path / "sealed.db"),
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
    }
    app = Complaints(env=env)
    try:
        case = app.file(intake("at-rest-1"))
        stored = raw_states(app, case.id)
        assert b"inquiry" not in stored and b"receipt_code" not in stored
        assert app.get_case(case.id).category == "inquiry"
        assert app.verify(case.id) is None
    finally:
        app.close()
    app = Complaints(env={**env, "CIPHER_KEY": AESCipher.create_key(32)})
    try:
        with pytest.raises(Exception, match=r"(?i)decrypt|tag|invalid"):
            app.get_case(case.id)
    finally:
        app.close()


def test_loading_a_case_reads_its_person_key_once_however_many_sealed_events(
    complaints: Complaints, open_complaints: Callable[[], Complaints], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    case = complaints.file(intake("one-read-1"))
    for n in range(20):
        complaints.perform(
            case.id, AddNote(text=f"{CANARY_TEXT}-메모-{n}", by="lee.service"),
            at=datetime(2026, 9, 22, 10, tzinfo=KST), command_id=f"note-{n}",
        )  # fmt: skip
    reader = open_complaints()
    reads: list[str] = []
    real_read = reader.keys._read_key

    def counted(person_id: str) -> bytes | None:
        reads.append(person_id)
        return real_read(person_id)

    monkeypatch.setattr(reader.keys, "_read_key", counted)

    loaded = reader.get_case(case.id)
    history = reader.history(case.id)

    assert [n.text for n in loaded.notes] == [f"{CANARY_TEXT}-메모-{n}" for n in range(20)]
    assert sum(type(e).__name__ == "NoteAdded" for e in history) == 20
    assert reads == [case.person_id, case.person_id]  # one per load, not 21 per load
    # Between loads nothing is kept: an erasure shows on the very next load.
    assert case.person_id is not None
    complaints.erase_person(
        case.person_id, reason="본인 요청", by="park.officer", at=datetime(2026, 10, 1, tzinfo=KST)
    )
    assert {n.text for n in reader.get_case(case.id).notes} == {ERASED}
