"""Signed checkpoints: a commitment to the whole store that nobody can recompute.

A case's hash chain shows a change to one of its records, but whoever can write
the store can also recompute a chain. A checkpoint commits to every record of the
store up to a notification position — every event of every case, the receipt
index, the access log, the roster, the tokens, earlier checkpoints — as the root
of a Merkle tree over the records' digests (`domain.chain.record_digest`) in
notification order, with the digest of the checkpoint before it. The statement is
signed with an Ed25519 key held outside the store (privacy.signing), kept in the
store (`CheckpointLog`) and appended to a file outside it.

The tree is the one of RFC 6962 (Certificate Transparency): a leaf is
SHA-256(0x00 ‖ record digest), a node SHA-256(0x01 ‖ left ‖ right), the tree of n
leaves split at the largest power of two below n. Its frontier (the roots of the
complete subtrees, largest first) is kept in each statement, so the next
checkpoint hashes only the records added since.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import event

from domain.access_log import AccessLog
from domain.calendar import to_seoul
from domain.chain import GENESIS, record_digest
from domain.chained import ChainedAggregate

CHECKPOINT_NAMESPACE = uuid.UUID("0c7e5f3a-2d4b-4e61-8a9f-5b2c7d1e3f40")
ALGORITHM = "minwon-checkpoint-v1 (RFC 6962 Merkle tree over record digests, Ed25519)"


def _leaf(record: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(record)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass
class Frontier:
    """The roots of the complete subtrees of a Merkle tree, largest first."""

    size: int = 0
    peaks: list[tuple[int, bytes]] = field(default_factory=list)  # (height, hash)

    def add(self, record: str) -> None:
        height, digest = 0, _leaf(record)
        while self.peaks and self.peaks[-1][0] == height:
            _, left = self.peaks.pop()
            digest = _node(left, digest)
            height += 1
        self.peaks.append((height, digest))
        self.size += 1

    def root(self) -> str:
        if not self.peaks:
            return hashlib.sha256(b"").hexdigest()
        digest = self.peaks[-1][1]
        for _, peak in reversed(self.peaks[:-1]):
            digest = _node(peak, digest)
        return digest.hex()

    def to_json(self) -> list[list[Any]]:
        return [[height, digest.hex()] for height, digest in self.peaks]

    @classmethod
    def from_json(cls, size: int, peaks: Iterable[Iterable[Any]]) -> Frontier:
        return cls(size, [(int(h), bytes.fromhex(str(d))) for h, d in peaks])


def canonical_bytes(statement: dict[str, Any]) -> bytes:
    """The bytes a statement is signed and digested as."""
    return json.dumps(statement, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def statement_digest(statement: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(statement)).hexdigest()


def make_statement(
    *,
    number: int,
    position: int,
    frontier: Frontier,
    previous: dict[str, Any] | None,
    at: datetime,
    key_id: str,
) -> dict[str, Any]:
    """What a checkpoint says: the store up to notification `position` has this root."""
    return {
        "algorithm": ALGORITHM,
        "number": number,
        "position": position,
        "records": frontier.size,
        "root": frontier.root(),
        "frontier": frontier.to_json(),
        "previous": GENESIS if previous is None else statement_digest(previous),
        "at": to_seoul(at).isoformat(),
        "key_id": key_id,
    }


class CheckpointLog(ChainedAggregate):
    """Every checkpoint signed for this store, in order; one log per store."""

    @staticmethod
    def create_id() -> uuid.UUID:
        return uuid.uuid5(CHECKPOINT_NAMESPACE, "checkpoints")

    @classmethod
    def start(cls) -> CheckpointLog:
        return cls(prev_digest=GENESIS)

    @event("Started")
    def __init__(self, prev_digest: str) -> None:
        self.checkpoints: list[dict[str, Any]] = []

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.checkpoints[-1]["statement"] if self.checkpoints else None

    def record(self, statement: dict[str, Any], signature: str) -> None:
        expected = len(self.checkpoints) + 1
        if statement.get("number") != expected:
            raise ValueError(f"checkpoint {statement.get('number')} is not the next ({expected})")
        self._signed(statement=statement, signature=signature)

    @event("Signed")
    def _signed(self, statement: dict[str, Any], signature: str) -> None:
        self.checkpoints.append({"statement": statement, "signature": signature})


@dataclass(frozen=True)
class CheckpointProblem:
    number: int | None  # the checkpoint at fault, if one is
    problem: str

    def describe(self) -> str:
        where = f"checkpoint #{self.number}" if self.number is not None else "checkpoints"
        return f"{where}: {self.problem}"


def check_checkpoints(
    checkpoints: list[dict[str, Any]],
    records: Iterable[tuple[int, str]],
    verify_signature: Any,
    key_id: str,
) -> tuple[list[CheckpointProblem], int]:
    """Check signed checkpoints against the store's records, `(notification id, record
    digest)` in notification order: each signature, each link to the one before, and
    each root over the records up to its position. Returns the problems and how many
    records were hashed."""
    problems: list[CheckpointProblem] = []
    previous: dict[str, Any] | None = None
    for expected, signed in enumerate(checkpoints, start=1):
        statement, signature = signed["statement"], signed["signature"]
        number = statement.get("number")
        if number != expected:
            problems.append(CheckpointProblem(number, f"out of sequence (expected #{expected})"))
        if statement.get("key_id") != key_id:
            problems.append(CheckpointProblem(number, "signed with another key"))
        elif not verify_signature(canonical_bytes(statement), signature):
            problems.append(CheckpointProblem(number, "signature does not verify"))
        wanted = GENESIS if previous is None else statement_digest(previous)
        if statement.get("previous") != wanted:
            problems.append(CheckpointProblem(number, "does not extend the checkpoint before it"))
        previous = statement
    frontier = Frontier()
    pending = list(checkpoints)
    last_position = 0
    for position, digest in records:
        while pending and pending[0]["statement"]["position"] < position:
            problems.extend(_compare(pending.pop(0)["statement"], frontier, last_position))
        frontier.add(digest)
        last_position = position
    for signed in pending:
        problems.extend(_compare(signed["statement"], frontier, last_position))
    return problems, frontier.size


def _compare(
    statement: dict[str, Any], frontier: Frontier, last_position: int
) -> list[CheckpointProblem]:
    number = statement.get("number")
    if last_position < statement["position"] and frontier.size < statement["records"]:
        return [
            CheckpointProblem(
                number,
                f"the store ends before it: {frontier.size} record(s) found up to notification "
                f"{last_position}, it covers {statement['records']} up to {statement['position']}",
            )
        ]
    if frontier.size != statement["records"] or frontier.root() != statement["root"]:
        return [
            CheckpointProblem(
                number,
                f"the store up to notification {statement['position']} is not what was signed "
                f"({frontier.size} record(s), root {frontier.root()[:16]}…; signed "
                f"{statement['records']} record(s), root {statement['root'][:16]}…)",
            )
        ]
    return []


# -- signing and checking a store ----------------------------------------------------------

DEFAULT_EVERY_EVENTS = 1_000
DEFAULT_EVERY_MINUTES = 60
PAGE = 1_000


def record_digests(app: Any, after: int = 0) -> Iterator[tuple[int, str]]:
    """(notification id, record digest) of every record after `after`, in order."""
    for notification in app.notifications(after, page=PAGE):
        yield (
            notification.id,
            record_digest(
                notification.topic,
                notification.originator_id,
                notification.originator_version,
                notification.state,
            ),
        )


def checkpoint_log(app: Any) -> CheckpointLog | None:
    try:
        log: CheckpointLog = app.repository.get(CheckpointLog.create_id())
    except AggregateNotFoundError:
        return None
    return log


@dataclass(frozen=True)
class Signer:
    """What signs statements: the key's id and a function from bytes to a signature."""

    key_id: str
    sign: Any  # Callable[[bytes], str]


def sign_checkpoint(
    app: Any,
    signer: Signer,
    at: datetime,
    *,
    force: bool = False,
    every_events: int = DEFAULT_EVERY_EVENTS,
    every: timedelta = timedelta(minutes=DEFAULT_EVERY_MINUTES),
) -> dict[str, Any] | None:
    """Sign a checkpoint over every record stored so far, when `every_events` records
    were added since the last one or `every` has passed (any new record), or `force`.
    Returns the signed entry, or None when none was due."""
    app.open_access_log_day(at)
    log = checkpoint_log(app) or CheckpointLog.start()
    latest = log.latest
    frontier = (
        Frontier()
        if latest is None
        else Frontier.from_json(int(latest["records"]), latest["frontier"])
    )
    covered = 0 if latest is None else int(latest["position"])
    position = covered
    for notification_id, digest in record_digests(app, covered):
        frontier.add(digest)
        position = notification_id
    added = frontier.size - (0 if latest is None else int(latest["records"]))
    if not force:
        if added == 0:
            return None
        since = None if latest is None else to_seoul(at) - datetime.fromisoformat(latest["at"])
        if added < every_events and since is not None and since < every:
            return None
    statement = make_statement(
        number=len(log.checkpoints) + 1,
        position=position,
        frontier=frontier,
        previous=latest,
        at=at,
        key_id=signer.key_id,
    )
    signature = signer.sign(canonical_bytes(statement))
    log.record(statement, signature)
    app.save(log)  # a concurrent signer makes this fail: its checkpoint stands
    return {"statement": statement, "signature": signature}


def verify_store(
    app: Any, verifier: Any, outside: list[dict[str, Any]] | None = None
) -> tuple[list[CheckpointProblem], int, int]:
    """Every checkpoint kept in the store, checked with the public key alone against
    every record, and against the copies kept outside it (`outside`, the checkpoint
    file), so a store cut back to before a checkpoint is caught. Returns the
    problems, the number of checkpoints and of records checked."""
    log = checkpoint_log(app)
    kept = [] if log is None else list(log.checkpoints)
    problems: list[CheckpointProblem] = []
    for copy in outside or []:
        number = copy["statement"].get("number")
        if not isinstance(number, int) or number < 1 or number > len(kept):
            problems.append(CheckpointProblem(number, "kept outside the store but missing from it"))
        elif kept[number - 1] != copy:
            problems.append(CheckpointProblem(number, "differs from the copy kept outside"))
    found, records = check_checkpoints(kept, record_digests(app), verifier, verifier.key_id)
    missing = missing_access_days(
        kept, lambda day: bool(app.recorder.select_events(AccessLog.create_id(day), limit=1))
    )
    return problems + found + missing, len(kept), records


def missing_access_days(
    checkpoints: list[dict[str, Any]], has_log: Callable[[str], bool]
) -> list[CheckpointProblem]:
    """Since checkpoints are signed, every day from the first to the latest has its
    access log (each checkpoint pass opens the day's, and any missed since): a day
    without one was taken out. `has_log` answers for an ISO date."""
    if not checkpoints:
        return []
    day = date.fromisoformat(checkpoints[0]["statement"]["at"][:10])
    last = date.fromisoformat(checkpoints[-1]["statement"]["at"][:10])
    missing = []
    while day <= last:
        if not has_log(day.isoformat()):
            missing.append(
                CheckpointProblem(None, f"the access log of {day.isoformat()} is missing")
            )
        day += timedelta(days=1)
    return missing


def read_checkpoint_file(path: Path) -> list[dict[str, Any]]:
    """The checkpoints appended to a file outside the store, one JSON object a line."""
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}: line {number} is not JSON: {error}") from None
    return entries
