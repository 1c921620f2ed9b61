"""A case's command ids (`domain.complaint.CommandIds`): a set of strings, exactly.

Loaded from a snapshot, the ids are searched where they lie (the uuids' bytes, the
other ids' lines) rather than put into a set; these tests hold the result to a plain
set's, for ids made to trip the search: ids holding newlines and backslashes, the
empty id, uuids written otherwise than `str(uuid)` does, prefixes and suffixes of
ids held, and uuids whose 16 bytes straddle two held ones.
"""

from __future__ import annotations

import copy
import itertools
import random
import uuid

import pytest

from domain.complaint import CommandIds, Complaint
from tests.support.samples import kst

AWKWARD = [
    "",
    "\n",
    "\\",
    "\\n",
    "a\nb",
    "a\\nb",
    "a\\\nb",
    "x\n",
    "\ny",
    "c1",
    "c12",
    "명령-1",
    "tab\there",
    "nul\x00here",
    "12345678-1234-1234-1234-1234567890AB",  # a uuid in capitals: not as str() writes it
    "{12345678-1234-1234-1234-1234567890ab}",
    "12345678123412341234123456789abc",
    "12345678-1234-1234-1234-1234567890ab:callback",
]


def uuids(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def reloaded(ids: CommandIds) -> CommandIds:
    """As a snapshot keeps them and a load reads them back."""
    return CommandIds.from_snapshot_bytes(memoryview(ids.snapshot_bytes()))


def near_misses(held: list[str]) -> set[str]:
    """Ids that are not among `held` but look for trouble: their prefixes, suffixes
    and neighbours, and uuids whose bytes straddle two held uuids."""
    misses = {"a", "b", "\\\\", "n", "c", "c123", "1", "명령", "x", "y", "\n\n"}
    for command_id in held:
        misses.update({command_id[1:], command_id[:-1], command_id + "\n", "\n" + command_id})
        misses.add(command_id.upper())
    packed = [uuid.UUID(h).bytes for h in held if len(h) == 36 and str(uuid.UUID(h)) == h]
    for first, second in itertools.pairwise(packed):
        for cut in (1, 4, 8, 15):
            misses.add(str(uuid.UUID(bytes=first[cut:] + second[:cut])))
    return misses - set(held)


@pytest.mark.parametrize("later", [0, 1, 50])
def test_the_ids_read_back_from_a_snapshot_are_the_same_set(later: int) -> None:
    first = [*uuids(300, 1), *AWKWARD, *(f"c{n}" for n in range(200))]
    random.Random(2).shuffle(first)
    ids = CommandIds(first)
    loaded = reloaded(ids)
    then = uuids(later, 3) + [f"later-{n}" for n in range(later)]
    for command_id in [*then, first[0], first[-1], "a\nb"]:  # some again
        loaded.add(command_id)
        ids.add(command_id)
    every = set(first) | set(then)

    for candidate in (ids, loaded, reloaded(loaded), reloaded(reloaded(loaded))):
        assert set(candidate) == every
        assert len(candidate) == len(every)
        assert candidate == every and every == candidate
        assert all(command_id in candidate for command_id in every)
        assert not any(miss in candidate for miss in near_misses(sorted(every)))
        assert 17 not in candidate and None not in candidate


def test_each_id_is_held_once_however_often_it_is_added() -> None:
    ids = reloaded(CommandIds(["a", "b", str(uuid.UUID(int=7))]))
    for _ in range(3):
        ids.add("a")
        ids.add(str(uuid.UUID(int=7)))
        ids.add("c")
    assert len(ids) == 4
    data = reloaded(ids).snapshot_bytes()
    assert data == reloaded(reloaded(ids)).snapshot_bytes()
    assert sorted(reloaded(ids)) == sorted(["a", "b", "c", str(uuid.UUID(int=7))])


def test_an_empty_set_and_the_empty_id() -> None:
    empty = reloaded(CommandIds())
    assert len(empty) == 0 and "" not in empty and set(empty) == set()
    only = reloaded(CommandIds([""]))
    assert "" in only and len(only) == 1 and "\n" not in only


def test_a_copy_is_a_set_of_its_own() -> None:
    ids = reloaded(CommandIds(["a", str(uuid.UUID(int=1))]))
    other = ids.copy()
    other.add("b")
    assert "b" in other and "b" not in ids
    assert set(ids) == {"a", str(uuid.UUID(int=1))}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x00\x00\x05abcde",  # uuids not a multiple of 16 bytes
        b"\x00\x00\x01\x00",  # longer than the record
        b"\x00\x00\x00\x00not compressed",
        b"\x00\x00\x00\x00" + __import__("zlib").compress(b"a\nb\n"),  # no leading newline
    ],
)
def test_bytes_not_as_written_are_refused(data: bytes) -> None:
    with pytest.raises(Exception):  # noqa: B017 (any: the snapshot is passed over)
        CommandIds.from_snapshot_bytes(data)


def test_a_case_copied_for_a_command_does_not_share_its_ids_with_the_cached_one() -> None:
    case = Complaint.receive(intake_ref="ids-copy", receipt_code="MW-AAAAA-BBBBB",
                             channel="email", category="inquiry", topic="program",
                             private=False, contact="홍길동 010-1234-5678", text="문의",
                             received_at=kst("2026-09-21T10:00"))  # fmt: skip
    case.command_ids = reloaded(CommandIds(["held"]))
    copied = copy.deepcopy(case)
    copied.assign(staff="kim.casemgr", role="case_manager", by="han.ops",
                  at=kst("2026-09-21T11:00"), command_id="new")  # fmt: skip
    assert "new" in copied.command_ids and "held" in copied.command_ids
    assert "new" not in case.command_ids
    assert copied.messages is not case.messages and copied.commitments is not case.commitments
