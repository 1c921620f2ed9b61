"""Signed checkpoints against someone who can write to the database (SQLite and
PostgreSQL): each attack on a store with a checkpoint is caught, and lawful
activity after it verifies clean."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from application.service import Complaints
from cli.main import main
from domain.access_log import AccessLog
from domain.bundle import export_lines, verify_bundle
from domain.chain import CHAIN_FIELD, record_digest
from domain.checkpoint import (
    CheckpointLog,
    Signer,
    canonical_bytes,
    checkpoint_log,
    sign_checkpoint,
    verify_store,
)
from domain.commands import Answer, Close, Reopen
from domain.receipt import ReceiptIndex
from privacy.signing import PUBLIC_KEY_ENV, Verifier, public_key_text, sign
from tests.support.api import ApiServer, api_server
from tests.support.samples import kst, sample_intake
from tests.support.stores import StoredRows

CASES = 50
AT = kst("2026-09-30T12:00")


@dataclass
class Store:
    app: Complaints
    fresh: Callable[[], Complaints]  # as an auditor's process reads it: nothing cached
    rows: StoredRows
    cases: list[uuid.UUID]
    signer: Signer
    verifier: Verifier
    outside: list[dict[str, Any]]

    def checkpoint(self, minutes: int = 0) -> dict[str, Any]:
        signed = sign_checkpoint(self.app, self.signer, AT + timedelta(minutes=minutes), force=True)
        assert signed is not None
        self.outside.append(json.loads(json.dumps(signed)))
        return signed

    def problems(self) -> list[str]:
        found, _, _ = verify_store(self.fresh(), self.verifier, self.outside)
        return [p.describe() for p in found]

    def broken_cases(self) -> list[tuple[uuid.UUID, int]]:
        found = []
        app = self.fresh()
        for case_id in self.cases:
            if not app.recorder.select_events(case_id, limit=1):
                continue
            broken = app.verify(case_id)
            if broken is not None:
                found.append((case_id, broken.version))
        return found


@pytest.fixture
def store(store_env: dict[str, str], open_complaints: Callable[[], Complaints]) -> Store:
    app = open_complaints()
    cases = []
    for number in range(CASES):
        case = app.file(sample_intake(received_at=kst("2026-09-21T10:00")))
        if number % 2 == 0:
            app.perform(case.id, Answer(text=f"답변 {number}", by="lee.service"),
                        at=kst("2026-09-22T10:00"), command_id=f"a{number}")  # fmt: skip
        cases.append(case.id)
    app.log_access(actor="yoon.audit", at=kst("2026-09-22T11:00"), origin="test",
                   case=app.get_case(cases[0]), action="read")  # fmt: skip
    key = Ed25519PrivateKey.generate()
    public = public_key_text(key)
    verifier = Verifier(public)
    signer = Signer(verifier.key_id, lambda data: sign(key, data))
    made = Store(app, open_complaints, StoredRows(store_env), cases, signer, verifier, [])
    made.checkpoint()
    assert made.problems() == []
    return made


def answered(store: Store) -> uuid.UUID:
    return store.cases[0]


def answer_version(store: Store) -> int:
    """The version of the answered case's `Answered` event, whose text is sealed."""
    return next(
        event.originator_version
        for event in store.app.history(answered(store))
        if type(event).__name__ == "Answered"
    )


def caught_by_checkpoint(problems: list[str]) -> bool:
    return any(problem.startswith("checkpoint #1: the store") for problem in problems)


def test_lawful_activity_after_a_checkpoint_verifies_clean(store: Store) -> None:
    app, case_id = store.app, answered(store)
    app.perform(case_id, Close(by="lee.service"), at=kst("2026-09-23T10:00"), command_id="c")
    app.perform(case_id, Reopen(reason="추가", by="lee.service"), at=kst("2026-09-24T10:00"),
                command_id="r")  # fmt: skip
    app.erase_person(app.get_case(store.cases[1]).person_id, reason="본인 요청", by="han.ops",
                     at=kst("2026-09-25T10:00"))  # fmt: skip
    app.execute(case_id, lambda case: case.record_notice_sent(
        kind="answer", channel="sms", recipient="resident", at=kst("2026-09-25T11:00"),
        command_id="notice"))  # fmt: skip
    store.checkpoint(minutes=90)

    assert store.problems() == []
    assert store.broken_cases() == []


def change_a_sealed_byte(store: Store) -> None:
    case_id, version = answered(store), answer_version(store)
    state = store.rows.state(case_id, version)
    sealed = re.search(rb'"sealed": ?"([A-Za-z0-9+/]{8})', state)
    assert sealed is not None
    start = sealed.start(1)
    flipped = b"B" if state[start : start + 1] != b"B" else b"C"
    store.rows.set_state(case_id, version, state[:start] + flipped + state[start + 1 :])


def test_a_changed_byte_of_a_sealed_field_is_caught_at_its_case_and_by_the_checkpoint(
    store: Store,
) -> None:
    version = answer_version(store)
    change_a_sealed_byte(store)

    # The seal no longer opens.
    assert store.broken_cases() == [(answered(store), version)]
    assert caught_by_checkpoint(store.problems())


def put_plain_text_in_a_sealed_field(store: Store) -> None:
    case_id, version = answered(store), answer_version(store)
    state = json.loads(store.rows.state(case_id, version))
    state["text"] = "위조된 답변"
    store.rows.set_state(case_id, version, json.dumps(state, ensure_ascii=False).encode())


def test_a_sealed_field_replaced_by_plain_text_is_refused(store: Store) -> None:
    version = answer_version(store)
    put_plain_text_in_a_sealed_field(store)

    assert store.broken_cases() == [(answered(store), version)]
    assert caught_by_checkpoint(store.problems())


def change_a_field_and_recompute_the_chain(store: Store) -> None:
    case_id = store.cases[3]
    records = store.app.recorder.select_events(case_id)
    first = json.loads(records[0].state)
    first["channel"] = "visit"  # was email
    rewrite_chain(store, case_id, {1: first})


def test_a_changed_field_with_the_chain_recomputed_is_caught_by_the_checkpoint(
    store: Store,
) -> None:
    change_a_field_and_recompute_the_chain(store)

    assert store.broken_cases() == []  # the published algorithm, recomputed
    assert caught_by_checkpoint(store.problems())


def rewrite_chain(store: Store, case_id: uuid.UUID, changed: dict[int, dict[str, Any]]) -> None:
    """Write `changed` states and recompute every later link with the published digest."""
    previous = None
    for record in store.app.recorder.select_events(case_id):
        state = changed.get(record.originator_version) or json.loads(record.state)
        assert state[CHAIN_FIELD] == 2
        if previous is not None:
            state["prev_digest"] = previous
        data = json.dumps(state, ensure_ascii=False).encode()
        store.rows.set_state(case_id, record.originator_version, data)
        previous = record_digest(record.topic, record.originator_id, record.originator_version,
                                 data)  # fmt: skip


def delete_case_and_receipt(store: Store, case_id: uuid.UUID) -> None:
    case = store.app.get_case(case_id)
    for version in range(case.version, 0, -1):
        store.rows.delete(case_id, version)
    store.rows.delete(ReceiptIndex.create_id(case.receipt_code), 1)


def test_a_whole_case_and_its_receipt_index_deleted_is_caught(store: Store) -> None:
    delete_case_and_receipt(store, store.cases[5])

    problems = store.problems()
    assert caught_by_checkpoint(problems), problems


def delete_an_access_log_day(store: Store) -> None:
    day = AccessLog.create_id("2026-09-22")
    versions = len(store.app.recorder.select_events(day))
    for version in range(versions, 0, -1):
        store.rows.delete(day, version)


def test_a_deleted_day_of_the_access_log_is_caught(store: Store) -> None:
    delete_an_access_log_day(store)

    assert caught_by_checkpoint(store.problems())


def reorder_two_events(store: Store) -> None:
    case_id = answered(store)
    first, second = store.rows.state(case_id, 2), store.rows.state(case_id, 3)
    store.rows.set_state(case_id, 2, second)
    store.rows.set_state(case_id, 3, first)


def test_reordered_events_are_caught_at_their_case(store: Store) -> None:
    reorder_two_events(store)

    assert [version for _, version in store.broken_cases()] == [2]
    assert store.problems() != []


def insert_a_forged_event_and_recompute_the_chain(store: Store) -> None:
    case_id = store.cases[7]
    last = store.app.get_case(case_id).version
    template = json.loads(store.rows.state(case_id, last))
    topic = store.app.recorder.select_events(case_id)[-1].topic
    store.rows.insert(case_id, last + 1, topic, json.dumps(template).encode())
    rewrite_chain(store, case_id, {})


def test_a_forged_event_inserted_with_a_recomputed_chain_is_caught_by_the_checkpoint(
    store: Store,
) -> None:
    insert_a_forged_event_and_recompute_the_chain(store)

    assert store.broken_cases() == []
    assert caught_by_checkpoint(store.problems())


def cut_the_store_back_to_before_the_latest_checkpoint(store: Store) -> None:
    app = store.app
    app.perform(answered(store), Close(by="lee.service"), at=kst("2026-09-23T10:00"),
                command_id="c")  # fmt: skip
    store.checkpoint(minutes=90)
    # Back to the first checkpoint: the close and the second checkpoint are gone.
    close_version = app.get_case(answered(store)).version
    store.rows.delete(answered(store), close_version)
    store.rows.delete(CheckpointLog.create_id(), 3)


def test_a_store_cut_back_to_before_the_latest_checkpoint_is_caught(store: Store) -> None:
    cut_the_store_back_to_before_the_latest_checkpoint(store)

    problems = store.problems()
    assert "checkpoint #2: kept outside the store but missing from it" in problems


def forge_a_checkpoint_without_the_key(store: Store) -> None:
    log_id = CheckpointLog.create_id()
    state = json.loads(store.rows.state(log_id, 2))
    state["statement"]["root"] = "0" * 64
    state["signature"] = sign(Ed25519PrivateKey.generate(), canonical_bytes(state["statement"]))
    store.rows.set_state(log_id, 2, json.dumps(state).encode())


def test_a_checkpoint_forged_without_the_key_is_caught(store: Store) -> None:
    forge_a_checkpoint_without_the_key(store)

    problems = store.problems()
    assert "checkpoint #1: signature does not verify" in problems


ATTACKS: dict[str, Callable[[Store], None]] = {
    "a byte of a sealed field changed": change_a_sealed_byte,
    "a sealed field replaced by plain text": put_plain_text_in_a_sealed_field,
    "a field changed and the chain recomputed": change_a_field_and_recompute_the_chain,
    "a case and its receipt index deleted": lambda store: delete_case_and_receipt(
        store, store.cases[5]
    ),
    "a day of the access log deleted": delete_an_access_log_day,
    "events reordered": reorder_two_events,
    "a forged event inserted, chain recomputed": insert_a_forged_event_and_recompute_the_chain,
    "the store cut back before the latest checkpoint": (
        cut_the_store_back_to_before_the_latest_checkpoint
    ),
    "a checkpoint forged without the key": forge_a_checkpoint_without_the_key,
}


# -- the auditor's verify and the published key, through the API and the CLI --------------


def write_outside(store: Store, path: Any) -> None:
    """The checkpoint file kept outside the store, as the worker appends it."""
    path.write_text("".join(json.dumps(entry) + "\n" for entry in store.outside))


@pytest.fixture
def audited(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> Iterator[tuple[Store, ApiServer]]:
    """The API on the store, its checkpoint file and its public key; the CLI an auditor."""
    path = tmp_path / "checkpoints.jsonl"
    write_outside(store, path)
    monkeypatch.setenv("MINWON_CHECKPOINT_FILE", str(path))
    monkeypatch.setenv(PUBLIC_KEY_ENV, store.verifier.public_text)
    with api_server(store.fresh()) as server:
        server.login(monkeypatch, "yoon.audit")
        yield store, server


def verify_all(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["audit", "verify", "--all", "--no-tail"])
    return code, capsys.readouterr().out.splitlines()


def test_the_auditors_verify_checks_the_checkpoints_with_the_published_key(
    audited: tuple[Store, ApiServer], capsys: pytest.CaptureFixture[str]
) -> None:
    store, server = audited
    published = server.http.get("/.well-known/minwon-checkpoint-key").json()
    assert published["public_key"] == store.verifier.public_text
    assert published["key_id"] == store.verifier.key_id

    code, lines = verify_all(capsys)
    assert code == 0, lines
    covered = store.outside[0]["statement"]["records"]
    assert f"; checkpoints: 1 verified, the latest covering {covered} of " in lines[-1]

    case_id = store.cases[3]
    rewrite_chain(store, case_id, {1: {**json.loads(store.rows.state(case_id, 1)),
                                       "channel": "visit"}})  # fmt: skip
    code, lines = verify_all(capsys)

    assert code == 1
    assert any(
        line.startswith("BROKEN checkpoint #1: the store up to notification") for line in lines
    )
    assert lines[-1].endswith("; store: 1 problem(s)")


# -- an exported bundle, verified offline with the public key alone -------------------------


def bundle_of(store: Store, tmp_path: Any) -> Any:
    app = store.fresh()
    log = checkpoint_log(app)
    path = tmp_path / "bundle.jsonl"
    lines = export_lines(app.notifications(), log.checkpoints if log else [])
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_an_exported_bundle_verifies_offline_with_the_public_key_alone(
    store: Store, tmp_path: Any
) -> None:
    report = verify_bundle(bundle_of(store, tmp_path), store.verifier)

    assert report.problems == []
    assert report.checkpoints == 1
    assert report.chained > CASES  # every case's links, in the new format


@pytest.mark.parametrize(
    "attack", ["recomputed chain", "case and receipt deleted", "access day deleted", "reordered"]
)
def test_a_tampered_store_exported_as_a_bundle_is_caught_offline(
    store: Store, tmp_path: Any, attack: str
) -> None:
    if attack == "recomputed chain":
        case_id = store.cases[3]
        rewrite_chain(store, case_id, {1: {**json.loads(store.rows.state(case_id, 1)),
                                           "channel": "visit"}})  # fmt: skip
    elif attack == "case and receipt deleted":
        delete_case_and_receipt(store, store.cases[5])
    elif attack == "access day deleted":
        day = AccessLog.create_id(AT.date().isoformat())
        for version in range(len(store.app.recorder.select_events(day)), 0, -1):
            store.rows.delete(day, version)
    else:
        first, second = store.rows.state(store.cases[0], 2), store.rows.state(store.cases[0], 3)
        store.rows.set_state(store.cases[0], 2, second)
        store.rows.set_state(store.cases[0], 3, first)

    report = verify_bundle(bundle_of(store, tmp_path), store.verifier)

    assert any(p.startswith("checkpoint #1: the store") for p in report.problems), report.problems


def test_a_bundle_checked_with_another_key_fails(store: Store, tmp_path: Any) -> None:
    other = Verifier(public_key_text(Ed25519PrivateKey.generate()))

    report = verify_bundle(bundle_of(store, tmp_path), other)

    assert "checkpoint #1: signed with another key" in report.problems


def test_minwon_audit_verify_bundle_exits_one_on_a_break_and_zero_when_intact(
    store: Store, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bundle_of(store, tmp_path)
    key = tmp_path / "checkpoint.key"
    key.write_text(store.verifier.public_text + "\n")

    intact = main(["audit", "verify", "--bundle", str(path), "--public-key", str(key)])
    out = capsys.readouterr().out
    assert intact == 0, out
    assert out.strip().endswith(": intact")

    text = path.read_text().splitlines()
    record = json.loads(text[5])
    record["state"] = record["state"][:-4] + ("AAAA" if record["state"][-4:] != "AAAA" else "BBBB")
    text[5] = json.dumps(record)
    path.write_text("\n".join(text) + "\n")
    broken = main(["audit", "verify", "--bundle", str(path), "--public-key", str(key)])

    assert broken == 1
    assert "BROKEN checkpoint #1: the store up to notification" in capsys.readouterr().out


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_makes_the_auditors_verify_exit_one_saying_where(
    audited: tuple[Store, ApiServer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
    attack: str,
) -> None:
    store, _ = audited
    ATTACKS[attack](store)
    write_outside(store, tmp_path / "checkpoints.jsonl")  # what the worker had appended

    code, lines = verify_all(capsys)

    assert code == 1, lines
    broken = [line for line in lines if "BROKEN" in line]
    assert broken, lines
    assert "problem(s)" in lines[-1] or "broken" in lines[-1], lines[-1]
