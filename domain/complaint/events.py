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

import re
import zlib
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from domain.chained import ChainedAggregate
from domain.complaint.rules import EscalationTrigger

# What a personal field reads once the person's key is destroyed.
ERASED = "[erased]"


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
