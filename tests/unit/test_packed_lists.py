"""A case's notes and apologies (`domain.complaint.CaseNotes`, `Apologies`): lists, exactly.

Loaded from a snapshot, they hold its bytes and decode them the first time an item
is read; these tests hold them to a plain list of the same items: read back from a
snapshot, appended to before and after they are decoded, copied, written again
with items added while still packed; texts made to trip their JSON (commas,
brackets, quotes, backslashes, newlines), moments keeping their offset; an apology
not as `ApologyMade` makes it is not written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.complaint import Apologies, CaseNote, CaseNotes
from tests.support.samples import kst

AWKWARD = ["", ",", "]", "[", '"', '",', "\\", "\\n", "a\nb", "메모, 한글", "x" * 2000]
AT = kst("2026-09-21T10:00")


def notes(count: int, start: int = 0) -> list[CaseNote]:
    return [
        CaseNote(
            text=AWKWARD[n % len(AWKWARD)] + str(n),
            by=f"staff{n % 3}",
            at=AT + timedelta(minutes=n),
        )
        for n in range(start, start + count)
    ]


def apologies(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "mode": ("phone", "in_person", "public")[n % 3],
            "by": "park.officer",
            "note": AWKWARD[n % len(AWKWARD)],
            "at": AT + timedelta(hours=n),
        }
        for n in range(start, start + count)
    ]


def reloaded(items: Any) -> Any:
    """As a snapshot keeps them and a load reads them back."""
    return type(items).from_snapshot_bytes(memoryview(items.snapshot_bytes()))


def same_items(a: list[Any], b: list[Any]) -> None:
    """Equal, and each moment with the same offset."""
    assert a == b
    for x, y in zip(a, b, strict=True):
        at_x, at_y = (x.at, y.at) if isinstance(x, CaseNote) else (x["at"], y["at"])
        assert at_x.isoformat() == at_y.isoformat()


@pytest.mark.parametrize(("kind", "make"), [(CaseNotes, notes), (Apologies, apologies)])
@pytest.mark.parametrize("later", [0, 1, 30])
def test_read_back_from_a_snapshot_they_are_the_same_list(
    kind: type[Any], make: Any, later: int
) -> None:
    first, then = make(40), make(later, start=40)
    plain = list(first)
    items, loaded = kind(first), reloaded(kind(first))
    assert len(loaded) == 40 and loaded._items is None  # counted, not decoded
    for item in then:
        plain.append(item)
        items.append(item)
        loaded.append(item)
    assert len(loaded) == len(plain) and loaded._items is None
    written = reloaded(loaded)  # written with the items added, none decoded
    assert loaded._items is None and written._items is None
    for candidate in (items, loaded, written, reloaded(reloaded(written)), reloaded(items)):
        same_items(list(candidate), plain)
        assert candidate == plain and plain == candidate
        assert len(candidate) == len(plain) and bool(candidate)
        assert candidate[0] == plain[0] and candidate[-1] == plain[-1]
        assert candidate[3:7] == plain[3:7]
        assert list(reversed(candidate)) == plain[::-1]
        assert plain[5] in candidate and candidate.index(plain[5]) == 5
    assert items.snapshot_bytes() == written.snapshot_bytes() == reloaded(written).snapshot_bytes()


@pytest.mark.parametrize(("kind", "make"), [(CaseNotes, notes), (Apologies, apologies)])
def test_changed_like_a_list(kind: type[Any], make: Any) -> None:
    new, plain = make(3, start=100), make(10)
    items = reloaded(kind(plain))
    items.insert(2, new[0])
    plain.insert(2, new[0])
    items[4] = new[1]
    plain[4] = new[1]
    del items[0]
    del plain[0]
    items.extend(new)
    plain.extend(new)
    assert items.pop() == plain.pop()
    items.remove(new[0])
    plain.remove(new[0])
    assert items == plain and reloaded(items) == plain


def test_empty_lists() -> None:
    for empty in (CaseNotes(), Apologies(), reloaded(CaseNotes()), reloaded(Apologies())):
        assert len(empty) == 0 and not empty and empty == [] and list(empty) == []
        with pytest.raises(IndexError):
            empty[0]


def test_a_copy_is_a_list_of_its_own() -> None:
    for items in (reloaded(Apologies(apologies(5))), Apologies(apologies(5))):
        other = items.copy()
        other.append(apologies(1, start=9)[0])
        assert len(other) == 6 and len(items) == 5
        assert other[:5] == list(items)
        assert all(a is not b for a, b in zip(other, items, strict=False))  # dicts copied


def test_an_apology_is_written_only_as_apply_makes_it() -> None:
    odd = Apologies([{"by": "park.officer", "mode": "phone", "note": "", "at": AT}])
    with pytest.raises(ValueError, match="keys"):
        odd.snapshot_bytes()
    extra = Apologies([{**apologies(1)[0], "extra": 1}])
    with pytest.raises(ValueError, match="keys"):
        extra.snapshot_bytes()


def test_a_moment_keeps_its_offset() -> None:
    utc = datetime(2026, 9, 21, 1, 0, tzinfo=UTC)
    items = reloaded(CaseNotes([CaseNote(text="t", by="b", at=utc), *notes(1)]))
    assert [note.at.utcoffset() for note in items] == [timedelta(0), timedelta(hours=9)]
