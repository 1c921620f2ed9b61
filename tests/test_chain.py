"""Tamper evidence: `verify_chain` finds the first broken link in a case's history."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.application import Application

from domain.chain import GENESIS, BrokenLink, event_digest, verify_chain
from domain.complaint import Complaint

SEOUL = ZoneInfo("Asia/Seoul")
T0 = datetime(2026, 6, 8, 10, 0, tzinfo=SEOUL)


def case_with_history(intake_ref: str = "email:chain-1") -> Complaint:
    """Eight events: received, assigned, reply clock, interim reply (two), answer (two), closed."""
    case = Complaint.receive(
        intake_ref=intake_ref,
        receipt_code="MW-7K3QX-9PD2M",
        channel="email",
        category="inquiry",
        topic="program",
        private=False,
        contact="010-1234-5678",
        text="프로그램 신청 방법을 알려 주세요.",
        received_at=T0,
    )
    case.assign(staff="kim", role="service_social_worker", by="ops", at=T0, command_id="c1")
    case.start_commitment(
        kind="reply",
        due=T0 + timedelta(days=7),
        rule="business",
        days=7,
        warn_at=T0 + timedelta(days=6),
        max_extensions=1,
        at=T0,
        command_id="c2",
    )
    case.send_interim_reply(
        kind="reply",
        reason="외부 기관 확인 중",
        new_due=T0 + timedelta(days=10),
        by="kim",
        at=T0 + timedelta(days=2),
        command_id="c3",
    )
    case.answer_case(text="답변드립니다.", by="kim", at=T0 + timedelta(days=8), command_id="c4")
    case.close(by="kim", at=T0 + timedelta(days=9), command_id="c5")
    return case


@pytest.fixture
def history() -> list[Any]:
    events = case_with_history().collect_events()
    assert len(events) == 8
    return events


def altered(event: Any, **changes: Any) -> Any:
    """A copy of a stored event with some attributes rewritten, as an intruder would."""
    forged = copy.copy(event)
    for name, value in changes.items():
        object.__setattr__(forged, name, value)
    return forged


def test_an_intact_history_verifies(history: list[Any]) -> None:
    assert verify_chain(history) is None


def test_an_empty_history_verifies() -> None:
    assert verify_chain([]) is None


def test_a_history_read_back_from_the_event_store_verifies() -> None:
    # The digest must survive encoding: Seoul times come back with a fixed +09:00 offset.
    app: Application[Any] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    case = case_with_history()
    app.save(case)

    stored = list(app.events.get(case.id))

    assert [e.originator_version for e in stored] == list(range(1, 9))
    assert verify_chain(stored) is None
    assert event_digest(stored[-1]) == case.head_digest


def test_a_changed_attribute_in_the_middle_breaks_the_link_to_the_next_event(
    history: list[Any],
) -> None:
    original = history[3]  # version 4: the interim reply
    history[3] = altered(original, reason="담당자 휴가")

    broken = verify_chain(history)

    assert broken == BrokenLink(
        version=5,
        problem="previous-event digest does not match",
        expected=event_digest(history[3]),
        found=event_digest(original),
    )
    assert broken.describe().startswith("version 5: previous-event digest does not match")
    assert event_digest(original) in broken.describe()


def test_a_moved_deadline_is_caught_as_well_as_changed_text(history: list[Any]) -> None:
    # version 5 extended the reply clock; pushing the date further hides a late answer.
    history[4] = altered(history[4], new_due=T0 + timedelta(days=30))

    broken = verify_chain(history)

    assert broken is not None
    assert broken.version == 6


def test_a_rewritten_link_is_reported_at_the_event_that_carries_it(history: list[Any]) -> None:
    history[2] = altered(history[2], prev_digest="f" * 64)

    broken = verify_chain(history)

    assert broken is not None
    assert broken.version == 3
    assert broken.expected == event_digest(history[1])
    assert broken.found == "f" * 64


def test_a_changed_first_event_is_caught(history: list[Any]) -> None:
    history[0] = altered(history[0], private=True)

    broken = verify_chain(history)

    assert broken is not None
    assert broken.version == 2


def test_a_first_event_that_does_not_start_from_the_genesis_is_caught(
    history: list[Any],
) -> None:
    history[0] = altered(history[0], prev_digest="1" * 64)

    broken = verify_chain(history)

    assert broken is not None
    assert broken.version == 1
    assert broken.expected == GENESIS


@pytest.mark.parametrize("removed", [0, 3, 6])
def test_a_deleted_event_is_reported_at_the_missing_version(
    history: list[Any], removed: int
) -> None:
    del history[removed]

    broken = verify_chain(history)

    missing = removed + 1
    assert broken == BrokenLink(
        version=missing,
        problem="event missing or out of order",
        expected=f"version {missing}",
        found=f"version {missing + 1}",
    )
    assert broken.describe() == (
        f"version {missing}: event missing or out of order "
        f"(expected version {missing}, found version {missing + 1})"
    )


def test_two_swapped_events_are_reported_at_the_first_of_them(history: list[Any]) -> None:
    history[3], history[4] = history[4], history[3]

    broken = verify_chain(history)

    assert broken is not None
    assert broken.version == 4
    assert broken.problem == "event missing or out of order"
    assert broken.found == "version 5"


def test_swapped_events_renumbered_to_look_in_order_are_still_caught(
    history: list[Any],
) -> None:
    fourth, fifth = history[3], history[4]
    history[3] = altered(fifth, originator_version=4)
    history[4] = altered(fourth, originator_version=5)

    broken = verify_chain(history)

    assert broken is not None
    assert broken.version == 4
    assert broken.problem == "previous-event digest does not match"


def test_a_forged_event_inserted_with_a_correct_link_is_caught_at_the_event_after_it(
    history: list[Any],
) -> None:
    # The intruder links the forgery to version 3 and renumbers what follows.
    forged = altered(
        history[3],
        originator_version=4,
        reason="민원인이 연기를 요청함",
        prev_digest=event_digest(history[2]),
    )
    renumbered = [altered(e, originator_version=e.originator_version + 1) for e in history[3:]]
    tampered = [*history[:3], forged, *renumbered]

    broken = verify_chain(tampered)

    assert broken is not None
    assert broken.version == 5
    assert broken.problem == "previous-event digest does not match"
    assert broken.expected == event_digest(forged)


def test_a_forged_event_inserted_without_renumbering_is_caught(history: list[Any]) -> None:
    forged = altered(history[5], text="다른 답변")
    tampered = [*history[:5], forged, *history[5:]]

    broken = verify_chain(tampered)

    assert broken is not None
    assert broken.version == 7
    assert broken.problem == "event missing or out of order"
    assert broken.found == "version 6"


def test_an_event_of_another_case_spliced_in_is_caught(history: list[Any]) -> None:
    other = case_with_history(intake_ref="email:chain-2").collect_events()
    history[5] = other[5]

    broken = verify_chain(history)

    assert broken is not None
    assert broken.version == 6
