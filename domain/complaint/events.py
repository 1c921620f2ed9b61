"""What a case's events are made of, and the values they put into the case.

Every event of a case is a class nested in `Complaint` (domain.complaint.aggregate)
with typed fields and an `apply` that changes the case; it derives from one of the
two bases here:

- `CaseEvent` (the aggregate's `Complaint.Event`): a link of the case's hash chain,
  carrying `prev_digest` (domain.chained).
- `CommandEvent`: an event a command with an id recorded — every event after intake.
  The case keeps the id (`Complaint.command_ids`, a `CommandIds`) here, for every
  such event, so that a command whose id it holds is accepted again silently
  (`@once` on the commands): a retried activity records nothing twice.
"""

from __future__ import annotations

import json
import re
import zlib
from abc import abstractmethod
from collections.abc import Iterable, Iterator, MutableSequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, overload

from domain.chained import ChainedAggregate
from domain.complaint.rules import EscalationTrigger

# What a personal field reads once the person's key is destroyed.
ERASED = "[erased]"
T = TypeVar("T")


class CaseEvent(ChainedAggregate.Event):
    """Every event of a case: a link of its hash chain."""


class CommandEvent(CaseEvent):
    """An event recorded by a command with an id: the case keeps the id.

    Each event class declares `command_id: str` itself, where its stored records have
    always had it (a record's fields are in the order of its class's fields); this
    class adds it to the case's `command_ids` after the event's own `apply`, which
    need not call this one.
    """

    if TYPE_CHECKING:
        command_id: str

    def mutate(self, aggregate: Any) -> Any:
        case = super().mutate(aggregate)
        case.command_ids.add(self.command_id)
        return case


class CommandIds(Set[str]):
    """The id of every command a case recorded, for its whole history: a set of
    strings (`in`, `add`, iteration, equality), kept so that loading a long case from
    its snapshot does not build it (docs/decisions/0009).

    A case of 10,000 events holds 10,000 ids; a set of them, each id a new string
    hashed and inserted, would be most of what loading its snapshot costs. So the ids
    a snapshot holds are kept as it holds them (`from_snapshot_bytes`), and looked
    for in place:

    - `uuids`: each id that is a uuid as `str(uuid)` writes it (what the workflows
      give a command), as its 16 bytes, one after the other. An id is there if its
      16 bytes are found at a multiple of 16.
    - `lines`: every other id on a line of its own between newlines, escaped (a
      backslash and a newline in an id are written `\\\\` and `\\n`). An id is there
      if the escaped id is found between two newlines, which finds a line equal to
      it and nothing else.

    Either search of 10,000 ids takes at most some 30 µs, where building the set takes
    milliseconds. The ids recorded since (the events after the snapshot, the commands
    run on the case) are kept in a dict, in the order recorded, and written with the
    others into the next snapshot (`snapshot_bytes`), each once. Iterating, `len` and
    `==` build the whole set: for tests and the writing of a snapshot, not for a load.
    """

    __slots__ = ("_added", "_lines", "_uuids")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._uuids = b""
        self._lines = "\n"
        self._added: dict[str, None] = dict.fromkeys(ids)

    @classmethod
    def from_snapshot_bytes(cls, data: bytes | memoryview) -> CommandIds:
        """The ids `snapshot_bytes` wrote, kept as they are."""
        view = memoryview(data)
        end = 4 + int.from_bytes(view[:4], "big")
        if end > len(view) or (end - 4) % UUID_BYTES:
            raise ValueError("command ids: not as `snapshot_bytes` writes them")
        lines = zlib.decompress(view[end:]).decode("utf-8", "surrogatepass")
        if not (lines.startswith("\n") and lines.endswith("\n")):
            raise ValueError("command ids: not one a line")
        ids = cls()
        ids._uuids, ids._lines = bytes(view[4:end]), lines
        return ids

    def snapshot_bytes(self) -> bytes:
        """The length of `uuids` (4 bytes), `uuids`, then `lines` in UTF-8 compressed
        (the uuids would not shrink; ids written by hand, `c1` `c2` …, to a third)."""
        uuids, lines = self._uuids, self._lines
        if self._added:
            held = {uuids[at : at + UUID_BYTES] for at in range(0, len(uuids), UUID_BYTES)}
            held_lines = set(lines[1:-1].split("\n")) if lines != "\n" else set()
            new: list[bytes] = []
            new_lines: list[str] = []
            for command_id in self._added:
                packed = _packed(command_id)
                if packed is None:
                    line = _escaped(command_id)
                    if line not in held_lines:
                        new_lines.append(f"{line}\n")
                elif packed not in held:
                    new.append(packed)
            uuids = b"".join([uuids, *new])
            lines += "".join(new_lines)
        text = zlib.compress(lines.encode("utf-8", "surrogatepass"), 1)
        return b"".join([len(uuids).to_bytes(4, "big"), uuids, text])

    def add(self, command_id: str) -> None:
        self._added[command_id] = None

    def copy(self) -> CommandIds:
        """Another set of the same ids (what a snapshot gave is shared: never changed)."""
        ids = CommandIds()
        ids._uuids, ids._lines, ids._added = self._uuids, self._lines, dict(self._added)
        return ids

    def __contains__(self, command_id: object) -> bool:
        if command_id in self._added:
            return True
        if not isinstance(command_id, str):
            return False
        packed = _packed(command_id)
        if packed is None:
            return self._lines != "\n" and f"\n{_escaped(command_id)}\n" in self._lines
        at = self._uuids.find(packed)
        while at != -1 and at % UUID_BYTES:  # across two: not one of them
            at = self._uuids.find(packed, at + 1)
        return at != -1

    def __iter__(self) -> Iterator[str]:
        held = self._uuids.hex()
        seen = {f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
                for h in (held[at : at + 32] for at in range(0, len(held), 32))}  # fmt: skip
        if self._lines != "\n":
            seen.update(_unescaped(line) for line in self._lines[1:-1].split("\n"))
        yield from seen
        yield from (command_id for command_id in self._added if command_id not in seen)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"CommandIds({sorted(self)!r})"


UUID_BYTES = 16
# A uuid as `str(uuid)` writes it, and only that: its 16 bytes give it back.
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _packed(command_id: str) -> bytes | None:
    if len(command_id) == 36 and _UUID_TEXT.fullmatch(command_id):
        return bytes.fromhex(command_id.replace("-", ""))
    return None


def _escaped(command_id: str) -> str:
    if "\\" in command_id or "\n" in command_id:
        return command_id.replace("\\", "\\\\").replace("\n", "\\n")
    return command_id


def _unescaped(line: str) -> str:
    if "\\" not in line:
        return line
    return _ESCAPED.sub(lambda m: "\n" if m[1] == "n" else m[1], line)


@dataclass(frozen=True)
class Commitment:
    """One promise with a clock, as it stands now."""

    kind: str
    started_at: datetime
    due: datetime
    original_due: datetime
    rule: str
    days: int | None
    warn_at: datetime
    max_extensions: int
    extensions: int = 0
    # How far ahead of the due the warning comes, and how that is counted
    # ("working" hours; commitments recorded before that rule warned in "clock" hours).
    warn_hours: float | None = None
    warn_counting: str = "clock"
    # Further extensions allowed with the resident's consent (시행령: once more,
    # within the same limit); none for commitments recorded before.
    max_consented_extensions: int = 0
    status: Literal["open", "met", "breached", "cancelled"] = "open"
    warned: bool = False
    met_at: datetime | None = None
    breached_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def original_period(self) -> timedelta:
        return self.original_due - self.started_at


@dataclass(frozen=True)
class Escalation:
    level: int
    to_role: str
    to_staff: str | None
    reason: str
    by: str
    trigger: EscalationTrigger
    at: datetime
    # When the next level takes over if this one has not acted, and how that was
    # counted; escalations recorded before that rule leave it to the workflow.
    act_by: datetime | None = None
    act_counting: str | None = None


@dataclass(frozen=True)
class CaseNote:
    text: str
    by: str
    at: datetime


class PackedList(MutableSequence[T]):
    """A list of a case's values that loading its snapshot does not build: what a
    snapshot holds stays packed until the list is read (docs/decisions/0009).

    A case holds every working note and apology of its history; a long case, a
    thousand notes. Made one by one from a snapshot's JSON (an object and a moment
    each) they were most of what loading a long case from its snapshot cost, while a
    load rarely reads them: a command reads how many apologies there are, an event
    after the snapshot adds one. So the items a snapshot holds are kept as it holds
    them (`from_snapshot_bytes`: their count, then their JSON, compressed) and
    decoded, all at once, the first time an item is read; `len` and `append` do not
    decode them, and `snapshot_bytes` writes them with the items added since without
    decoding them. Otherwise it is the list it replaces (`==` holds it equal to a
    list of the same items). A snapshot's bytes open only when sealed by this code
    (privacy.snapshots), so they decode as they were written.

    Each subclass says how one of its items is written (`_written`: JSON values) and
    read back (`_read`).
    """

    __slots__ = ("_added", "_count", "_items", "_packed")

    def __init__(self, items: Iterable[T] = ()) -> None:
        # Either the items (`_items`), or what a snapshot held packed (`_count` items
        # in `_packed`) and those added since (`_added`).
        self._items: list[T] | None = list(items)
        self._packed = b""
        self._count = 0
        self._added: list[T] = []

    @classmethod
    def from_snapshot_bytes(cls, data: bytes | memoryview) -> Self:
        """The items `snapshot_bytes` wrote, kept as they are."""
        items = cls()
        items._items, items._count = None, int.from_bytes(data[:4], "big")
        items._packed = bytes(data[4:])
        return items

    def snapshot_bytes(self) -> bytes:
        """How many items (4 bytes), then their JSON values, written by `_written`,
        separated by commas, compressed."""
        if self._items is None:
            held = zlib.decompress(self._packed).decode("ascii")
            added = [json.dumps(self._written(item)) for item in self._added]
            text = ",".join([held, *added] if held else added)
        else:
            text = ",".join(json.dumps(self._written(item)) for item in self._items)
        count = len(self).to_bytes(4, "big")
        return count + zlib.compress(text.encode("ascii"), 1)

    @abstractmethod
    def _written(self, item: T) -> Any: ...

    @abstractmethod
    def _read(self, data: Any) -> T: ...

    def _copied(self, items: list[T]) -> list[T]:
        """A copy of `items` for another case's copy (`copy`)."""
        return list(items)

    def _decoded(self) -> list[T]:
        if self._items is None:
            text = zlib.decompress(self._packed).decode("ascii")
            items = [self._read(data) for data in json.loads(f"[{text}]")]
            if len(items) != self._count:
                raise ValueError(f"{type(self).__name__}: {len(items)} items, not {self._count}")
            self._items = items + self._added
            self._packed, self._count, self._added = b"", 0, []
        return self._items

    def copy(self) -> Self:
        """Another list of the same items, for a copy of the case (what a snapshot gave
        is shared: never changed)."""
        copied = type(self)()
        copied._packed, copied._count = self._packed, self._count
        copied._added = self._copied(self._added)
        copied._items = None if self._items is None else self._copied(self._items)
        return copied

    def append(self, value: T) -> None:
        if self._items is None:
            self._added.append(value)
        else:
            self._items.append(value)

    def insert(self, index: int, value: T) -> None:
        self._decoded().insert(index, value)

    def __len__(self) -> int:
        if self._items is None:
            return self._count + len(self._added)
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        return self._decoded()[index]

    @overload
    def __setitem__(self, index: int, value: T) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[T]) -> None: ...
    def __setitem__(self, index: int | slice, value: Any) -> None:
        self._decoded()[index] = value

    def __delitem__(self, index: int | slice) -> None:
        del self._decoded()[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self._decoded())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedList):
            return self._decoded() == other._decoded()
        if isinstance(other, list):
            return self._decoded() == other
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._decoded()!r})"


class CaseNotes(PackedList[CaseNote]):
    """A case's working notes (`Complaint.notes`), each written [text, by, at]."""

    __slots__ = ()

    def _written(self, item: CaseNote) -> list[str]:
        return [item.text, item.by, item.at.isoformat()]

    def _read(self, data: list[str]) -> CaseNote:
        text, by, at = data
        return CaseNote(text=text, by=by, at=datetime.fromisoformat(at))


class Apologies(PackedList[dict[str, Any]]):
    """A case's apologies (`Complaint.apologies`), each a dict as `ApologyMade`
    makes it, written [mode, by, note, at]."""

    __slots__ = ()
    KEYS = ("mode", "by", "note", "at")

    def _written(self, item: dict[str, Any]) -> list[Any]:
        if tuple(item) != self.KEYS:
            raise ValueError(f"an apology with the keys {list(item)}, not {list(self.KEYS)}")
        mode, by, note, at = item.values()
        return [mode, by, note, at.isoformat()]

    def _read(self, data: list[Any]) -> dict[str, Any]:
        mode, by, note, at = data
        return {"mode": mode, "by": by, "note": note, "at": datetime.fromisoformat(at)}

    def _copied(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Each dict copied, as a case's copy copies the containers it holds (domain.chained).
        return [dict(item) for item in items]
