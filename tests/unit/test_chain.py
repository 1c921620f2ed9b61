"""Tamper evidence: `verify_chain` finds the first broken link in a case's history."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.application import Application
from hypothesis import given
from hypothesis import strategies as st

from domain.chain import (
    GENESIS,
    BrokenLink,
    Link,
    _canonical,
    canonical_moment,
    class_personal_fields,
    event_digest,
    verify_chain,
)
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


# -- the canonical form, computed cheaply ------------------------------------------------


def digest_by_json_dumps(event: Any) -> str:
    """The digest as the canonical form defines it, with a fresh `json.dumps`."""
    hidden = class_personal_fields(type(event))
    state = {k: v for k, v in vars(event).items() if k not in hidden}
    body = {"name": type(event).__qualname__, "state": state}
    text = json.dumps(
        body, default=_canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_shared_encoder_writes_what_json_dumps_writes(history: list[Any]) -> None:
    odd = altered(history[3], reason='따옴표 " 역슬래시 \\ 탭\t', weight=0.1, share=Decimal("1.50"))

    for event in [*history, odd]:
        assert event_digest(event) == digest_by_json_dumps(event)


def test_a_chain_of_links_verifies_like_the_chain_of_its_events(history: list[Any]) -> None:
    links = [Link.of(event) for event in history]
    assert verify_chain(links) is None

    history[3] = altered(history[3], reason="담당자 휴가")
    broken_events = verify_chain(history)
    broken_links = verify_chain([Link.of(event) for event in history])

    assert broken_events is not None and broken_links == broken_events


aware = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [
            None,
            UTC,
            SEOUL,
            timezone(timedelta(hours=-5, minutes=-30)),
            timezone(timedelta(hours=5, minutes=45, seconds=30)),
        ]
    ),
)


@given(aware)
def test_a_moment_written_by_isoformat_is_its_own_canonical_form(moment: datetime) -> None:
    text = moment.isoformat()
    assert canonical_moment(text) == text


@given(aware, st.sampled_from(["T", " "]))
def test_a_moment_in_any_iso_spelling_gets_the_canonical_form_of_what_it_parses_to(
    moment: datetime, separator: str
) -> None:
    for text in (
        moment.isoformat(sep=separator, timespec="microseconds"),
        moment.isoformat(sep=separator, timespec="milliseconds"),
        moment.isoformat(sep=separator, timespec="seconds"),
    ):
        assert canonical_moment(text) == datetime.fromisoformat(text).isoformat()


@pytest.mark.parametrize(
    "text",
    [
        "2026-09-21T10:00:00-00:00",  # a zero offset is written +00:00
        "2026-09-21T10:00:00.000000+09:00",  # zero microseconds are not written
        "2026-09-21T10:00:00+09:75",  # parsed as +10:15
        "2026-09-21T10:00:00Z",
        "2026-09-21T10:00:00+0900",
        "20260921T100000+09:00",
        "2026-W39-1T10:00:00+09:00",
    ],
)
def test_a_moment_spelt_unlike_isoformat_is_written_as_isoformat_would(text: str) -> None:
    assert canonical_moment(text) == datetime.fromisoformat(text).isoformat() != text


@pytest.mark.parametrize(
    "text", ["2026-13-21T10:00:00+09:00", "2026-02-30T10:00:00", "2026-09-21T24:00:00", "soon"]
)
def test_a_moment_that_does_not_parse_is_refused_as_the_transcoder_refuses_it(text: str) -> None:
    with pytest.raises(ValueError):
        canonical_moment(text)
