"""The auditor's view of a case: its history as rows, and checks that nothing was altered.

`replay` folds a case's events onto the aggregate one at a time, as the repository
does, and records after each event who did it, when (the business moment), what it
said and how the commitment clocks stood. Personal fields are masked unless asked
for.

`check_chain` recomputes a case's hash chain (`domain.chain.verify_chain`) and keeps
its head. The chain cannot see a change to, or the removal of, the last events: the
head is therefore compared with an `Anchor` kept outside the event store (the case
workflow's last view, which carries the version and digest it last saw) by
`check_tail`.

Nothing here talks to Temporal; `verify_case` and `walk_cases` read the event store
through the `Complaints` application.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from operator import is_
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from eventsourcing.utils import get_topic

from domain.calendar import to_seoul
from domain.chain import (
    BrokenLink,
    class_personal_fields,
    digest_of,
    event_digest,
    is_meta,
    name_of,
    verify_chain,
)
from domain.complaint import CaseNotFoundError, Commitment, Complaint, ComplaintError
from domain.disclosure import ACTOR_BY_NAME, masked
from domain.receipt import ReceiptIndex

if TYPE_CHECKING:
    from application.service import Complaints

# Shown apart from the details (version, moment, actor) or only noise to a reader.
NOT_DETAILS = frozenset(
    {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "prev_digest",
        "command_id",
        "by",
        "at",
    }
)
# The receipt index's event class is made by `@event`, out of mypy's sight.
ISSUED_TOPIC = get_topic(getattr(ReceiptIndex, "Issued"))  # noqa: B009
RECEIVED_TOPIC = get_topic(Complaint.Received)


class AuditError(ComplaintError):
    """A history that cannot be replayed as stored (run verify to see why)."""


# -- replay ----------------------------------------------------------------------------


class HistoryRow(NamedTuple):
    """One event as an auditor reads it, with the clocks as they stood after it.

    A named tuple: a long case has one per event, and it is made fastest."""

    version: int
    moment: datetime  # the business moment, with the offset it was recorded in
    recorded: datetime  # when the store recorded it
    actor: str
    event: str
    details: dict[str, object]
    clocks: tuple[Commitment, ...]
    command_id: str | None
    digest: str | None = None  # the event's chain digest, when asked for


@dataclass(frozen=True)
class Replay:
    rows: list[HistoryRow]
    case: Complaint  # the case after the last row
    personal_shown: bool


def _pick(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], dict[str, object]]:
    """A function that copies `keys` (in their order) out of an event's attributes.

    A dict display of a few fixed keys is made in half the time of a comprehension,
    and an event has at most a handful of details."""
    if len(keys) == 1:
        (a,) = keys
        return lambda state: {a: state[a]}
    if len(keys) == 2:
        a, b = keys
        return lambda state: {a: state[a], b: state[b]}
    if len(keys) == 3:
        a, b, c = keys
        return lambda state: {a: state[a], b: state[b], c: state[c]}
    if len(keys) == 4:
        a, b, c, d = keys
        return lambda state: {a: state[a], b: state[b], c: state[c], d: state[d]}
    return lambda state: {key: state[key] for key in keys}


class _RowsOf:
    """What the rows of one event class show, worked out once per class, not per event.

    The details depend on the attributes an event has and their order, which the
    stored record decides: they are worked out again whenever an event of the class
    comes with other attributes (`keys`) than the one before."""

    __slots__ = ("hidden", "keys", "name", "personal", "pick")

    def __init__(self, event_class: type) -> None:
        self.name = event_class.__name__
        self.hidden = class_personal_fields(event_class)
        self.keys: tuple[str, ...] = ()
        self.pick = _pick(())
        self.personal: tuple[str, ...] = ()

    def learn(self, keys: tuple[str, ...]) -> None:
        received = self.name == "Received"
        details = tuple(
            key
            for key in keys
            if key not in NOT_DETAILS
            and not is_meta(key)
            and not (received and key == "received_at")
        )
        self.keys = keys
        self.pick = _pick(details)
        self.personal = tuple(key for key in details if key in self.hidden)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block, if it was on; back on after it.

    Why a replay pauses it: a long case's replay keeps a row per event, and every
    row is an object the collector tracks for as long as it lives (a `HistoryRow` is
    a named tuple, which CPython never stops tracking, and it holds the clocks'
    `Commitment`s, which are tracked too), beside the records and the batch of events
    being read. Every 700 tracked objects made start a collection of the young ones,
    which finds the rows all alive and moves them on, to the oldest generation in
    the end; with 10,000 of them, a full collection of the whole process followed
    in almost every replay of a 10,000-event case: 20-30 ms, more than the rows cost
    to make (bench/README.md, `replay_verify.py`). The replay makes nothing for the
    collector to find: rows, events and the case are freed by their reference counts
    as soon as they are dropped.

    Why it is safe:

    - pausing the collector only delays it. Reference counting frees everything
      that is not in a cycle as usual; a cycle made meanwhile (by this thread or
      another) is found by the first collection after the pause, and the objects
      made meanwhile are counted, so that collection comes with the next tracked
      object made after it. `gc.collect()` still collects while the collector is off;
    - the collector is switched back on in a `finally`, whatever ends the block (an
      `AuditError`, an error from the events' iterator, an interrupt), and only if
      this block switched it off: a process that runs with it off keeps it off;
    - it is process-wide. The web server replays in a worker thread
      (`asyncio.to_thread`), so while one replay runs (reading the events included:
      about 0.15 s for a 10,000-event case on SQLite, in proportion to the case's
      length, longer if the store is slow to answer) no thread's cycles are collected.
      That is accepted: the pause is bounded by one replay, it loses nothing, and
      audit replays are an auditor's occasional request, not a hot path. With two
      replays at once, the one that paused the collector switches it back on when it
      ends, even if the other still runs (which then merely runs with it on): it is
      never left off for longer than the replay that switched it off. The one thing
      not kept is another thread's own `gc.disable()` made during a replay that had
      paused the collector; nothing in this project does that.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def replay(
    events: Iterable[object],
    *,
    show_personal: bool = False,
    version: int | None = None,
    as_of: datetime | None = None,
    digests: bool = False,
) -> Replay:
    """Fold the events onto the case, up to `version` or the moment `as_of`.

    `as_of` follows `Complaints.as_of`: events are taken in order until the first
    whose business moment is later.

    A long case has a row per event, and each is made with as little work as can
    be: what an event class's rows show is worked out once per class (`_RowsOf`),
    a row whose event left the clocks as they were shares the row before's tuple of
    them (the same commitment objects, in the same order), and the rows are made as
    plain tuples. What a row says is what `event_moment`, `actor_of`,
    `personal_fields` and `masked` decide. The cyclic garbage collector is paused
    while the rows are made (`_collector_paused` says why, and why that is safe).
    """
    with _collector_paused():
        return _replay(
            events, show_personal=show_personal, version=version, as_of=as_of, digests=digests
        )


def _replay(
    events: Iterable[object],
    *,
    show_personal: bool,
    version: int | None,
    as_of: datetime | None,
    digests: bool,
) -> Replay:
    moment_limit = to_seoul(as_of) if as_of is not None else None
    case: Complaint | None = None
    rows: list[HistoryRow] = []
    append = rows.append
    new_row = tuple.__new__
    rows_of: dict[type, _RowsOf] = {}
    clocks: tuple[Commitment, ...] = ()
    last_command: str | None = None
    last_actor = ""
    # Each event's class is checked the first time it comes, below.
    stream: Iterable[Any] = events
    for event in stream:
        event_class = type(event)
        of = rows_of.get(event_class)
        if of is None:
            if not isinstance(event, Complaint.Event):
                raise AuditError(f"not an event of a complaint: {event_class.__name__}")
            of = rows_of[event_class] = _RowsOf(event_class)
        # The business moment, as `event_moment` takes it.
        moment = getattr(event, "at", None)
        if not isinstance(moment, datetime):
            moment = getattr(event, "received_at", None)
            if not isinstance(moment, datetime):
                moment = event.timestamp
        if moment_limit is not None and moment > moment_limit:
            break
        try:
            case = event.mutate(case)
        except Exception as error:  # a version gap or a forged event: anything may fail
            raise AuditError(
                f"version {event.originator_version} does not apply to the case "
                f"({type(error).__name__}: {error})"
            ) from None
        if case is None:
            raise AuditError(f"version {event.originator_version} left no case")
        # Who did it, as `actor_of` decides.
        name = of.name
        by = getattr(event, "by", None)
        command_id = getattr(event, "command_id", None)
        if not isinstance(command_id, str):
            command_id = None
        if isinstance(by, str) and by:
            actor = by
        elif name in ACTOR_BY_NAME:
            actor = ACTOR_BY_NAME[name]
        elif name == "MessageTaken":
            actor = str(getattr(event, "taken_by", "system"))
        elif (
            command_id is not None
            and last_command
            and (command_id == last_command or command_id.startswith(last_command + ":"))
        ):
            actor = last_actor
        else:
            actor = "system"
        last_command, last_actor = command_id, actor
        state = event.__dict__
        keys = tuple(state)
        if keys != of.keys:
            of.learn(keys)
        details = of.pick(state)
        if of.personal and not show_personal:
            for key in of.personal:
                details[key] = masked(key, details[key])
        commitments = case.commitments.values()
        if len(commitments) != len(clocks) or not all(map(is_, commitments, clocks)):
            clocks = tuple(commitments)
        append(
            new_row(
                HistoryRow,
                (
                    event.originator_version,
                    moment,
                    event.timestamp,
                    actor,
                    name,
                    details,
                    clocks,
                    command_id,
                    event_digest(event) if digests else None,
                ),
            )
        )
        if version is not None and event.originator_version >= version:
            break
    if case is None:
        when = f" at {moment_limit.isoformat()}" if moment_limit else ""
        raise CaseNotFoundError(f"the case did not exist{when}")
    if version is not None and case.version < version:
        raise CaseNotFoundError(
            f"the case has {case.version} events; there is no version {version}"
        )
    return Replay(rows, case, show_personal)


def plain(value: object) -> Any:
    """A value as JSON has it: moments in Seoul time, ids as text."""
    if isinstance(value, datetime):
        return to_seoul(value).isoformat()
    if isinstance(value, (uuid.UUID, date)):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return value


def clock_document(clock: Commitment) -> dict[str, Any]:
    return {
        "kind": clock.kind,
        "status": clock.status,
        "due": plain(clock.due),
        "extensions": clock.extensions,
        "warned": clock.warned,
        "met_at": plain(clock.met_at),
    }


def row_document(row: HistoryRow) -> dict[str, Any]:
    document: dict[str, Any] = {
        "version": row.version,
        "moment": plain(row.moment),
        "recorded": plain(row.recorded),
        "actor": row.actor,
        "event": row.event,
        "details": plain(row.details),
        "clocks": [clock_document(c) for c in row.clocks],
        "command_id": row.command_id,
    }
    if row.digest is not None:
        document["digest"] = row.digest
    return document


def state_document(case: Complaint, *, show_personal: bool = False) -> dict[str, Any]:
    """The case as it stood: what `minwon show` says, plus the head of its chain."""
    return {
        "case_id": str(case.id),
        "receipt_code": case.receipt_code,
        "version": case.version,
        "head_digest": case.head_digest,
        "status": case.status,
        "category": case.category,
        "channel": case.channel,
        "topic": case.topic,
        "private": case.private,
        "contact": case.contact if show_personal else masked("contact", case.contact),
        "text": case.text if show_personal else masked("text", case.text),
        "received_at": plain(case.received_at),
        "assignee": case.assignee,
        "assignee_role": case.assignee_role,
        "commitments": [clock_document(c) for c in case.commitments.values()],
        "escalations": [
            {"level": e.level, "to_role": e.to_role, "to_staff": e.to_staff, "at": plain(e.at)}
            for e in case.escalations
        ],
        "interim_replies": len(case.interim_replies),
        "investigation": case.investigation,
        "fault_confirmed": case.fault_confirmed,
        "apologies": len(case.apologies),
        "corrective_actions": len(case.corrective_actions),
        "answered_at": plain(case.answered_at),
        "announced": case.announcement is not None,
        "satisfaction": case.satisfaction,
        "closed_at": plain(case.closed_at),
    }


# Records decoded at a time by `stored_events`, inside one reading of the person's key.
DECODED_AT_ONCE = 1_000


def stored_events(app: Complaints, case_id: uuid.UUID, version: int | None = None) -> Iterator[Any]:
    """The case's events as stored; a record that no longer decodes stops the replay.

    The records are decoded a batch at a time inside `PersonKeys.one_reading`, as a
    load of the case decodes them: the person's key is read once per batch, not once
    per sealed event (an apology, a note), and the reading ends before the batch's
    events are handed on. A record that does not decode stops the batch; the events
    before it are still given, then the error, where the replay reaches it.
    """
    records = app.recorder.select_events(case_id, lte=version)
    decode = app.mapper.to_domain_event
    for start in range(0, len(records), DECODED_AT_ONCE):
        events: list[Any] = []
        failure: AuditError | None = None
        with app.keys.one_reading():
            for record in records[start : start + DECODED_AT_ONCE]:
                try:
                    events.append(decode(record))
                except Exception as error:  # a tampered record may fail in any way
                    failure = AuditError(
                        f"version {record.originator_version} no longer decodes "
                        f"({type(error).__name__}: {error})"
                    )
                    break
        yield from events
        if failure is not None:
            raise failure from None


# -- tamper evidence -----------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """The last stored event of a case: its version and chain digest."""

    version: int
    digest: str


@dataclass(frozen=True)
class ChainCheck:
    broken: BrokenLink | None
    head: Head | None  # None when the chain broke before its end
    digest_at_anchor: str | None = None  # of the event at the anchor's version
    after_anchor: tuple[str, ...] = ()  # names of the events after it


def check_chain(events: Iterable[object], *, anchor_version: int | None = None) -> ChainCheck:
    """Recompute the chain; keep its head, and what it holds at and after `anchor_version`."""
    at_anchor: list[str] = []
    after: list[str] = []
    last: list[object] = []

    def watched() -> Iterator[object]:
        for event in events:
            if anchor_version is not None:
                version = getattr(event, "originator_version", 0)
                if version == anchor_version:
                    at_anchor.append(digest_of(event))
                elif version > anchor_version:
                    after.append(name_of(event))
            last[:] = [event]
            yield event

    broken = verify_chain(watched())
    if broken is not None or not last:
        return ChainCheck(broken, None)
    (final,) = last
    version: int = getattr(final, "originator_version")  # noqa: B009
    return ChainCheck(
        None,
        Head(version, digest_of(final)),
        at_anchor[0] if at_anchor else None,
        tuple(after),
    )


@dataclass(frozen=True)
class Anchor:
    """What the case's workflow last saw of it, kept outside the event store."""

    version: int
    digest: str  # "" from a workflow that predates the digest: the version alone is checked
    final: bool  # the workflow has ended: nothing can still be on its way to the store
    in_flight: bool  # an activity was running: the store may be ahead for a moment
    source: str  # "running workflow" or "workflow result"


# Recorded in the background: by the notice activity, whose result moves the
# workflow's anchor only once it reaches the workflow (runs from before notices
# reported their head never did), and by the notice outbox (activities.outbox), which
# delivers a clock's notices, or gives them up, outside the workflow: such records
# may follow its last view.
UNSEEN_BY_WORKFLOW = frozenset({"NoticeSent", "NoticeFailed"})
# Recorded beside the workflow by a lawful act of its own: an erasure (`minwon privacy
# erase`, the retention sweep) is expected after the workflow's last view, and reported
# as what it is (who, when, why), never as a break.
RECORDED_BESIDE_WORKFLOW = frozenset({"PersonalDataErased"})
ERASED_EVENT = "PersonalDataErased"

# matched: the head is what the workflow saw; matched_before: it saw everything up to
# records it has not taken in (UNSEEN_BY_WORKFLOW); in_flight: an activity is still saving.
TailStatus = Literal["matched", "matched_before", "in_flight", "broken", "not_checked"]


@dataclass(frozen=True)
class TailCheck:
    status: TailStatus
    note: str = ""
    broken: BrokenLink | None = None


def check_tail(anchor: Anchor, chain: ChainCheck) -> TailCheck:
    """Compare the store's head with the anchor; `chain` is intact up to its head."""
    head = chain.head
    if head is None:
        raise ValueError("the tail is checked on an intact chain")
    if head.version < anchor.version:
        missing = anchor.version - head.version
        return TailCheck(
            "broken",
            broken=BrokenLink(
                version=head.version + 1,
                problem=f"{missing} event(s) missing at the end of the history",
                expected=f"last version {anchor.version} (seen by the {anchor.source})",
                found=f"last version {head.version}",
            ),
        )
    if anchor.digest and chain.digest_at_anchor != anchor.digest:
        which = "last event" if head.version == anchor.version else "event"
        return TailCheck(
            "broken",
            broken=BrokenLink(
                version=anchor.version,
                problem=f"{which} differs from what the {anchor.source} saw",
                expected=anchor.digest,
                found=str(chain.digest_at_anchor),
            ),
        )
    how = "" if anchor.digest else " (version only: the workflow's view has no digest)"
    if head.version == anchor.version:
        return TailCheck("matched", note=f"tail matches the {anchor.source}{how}")
    extra = head.version - anchor.version
    if anchor.in_flight and not anchor.final:
        return TailCheck(
            "in_flight",
            note=f"{extra} event(s) after the workflow's last view, an activity in flight: "
            "check again later",
        )
    if chain.after_anchor and set(chain.after_anchor) <= (
        UNSEEN_BY_WORKFLOW | RECORDED_BESIDE_WORKFLOW
    ):
        names = ", ".join(sorted(set(chain.after_anchor)))
        return TailCheck(
            "matched_before",
            note=f"matches the {anchor.source} up to version {anchor.version}; "
            f"{extra} later event(s) ({names}) are not anchored",
        )
    return TailCheck(
        "broken",
        broken=BrokenLink(
            version=anchor.version + 1,
            problem=f"{extra} event(s) after the last one the workflow recorded",
            expected=f"last version {anchor.version} (seen by the {anchor.source})",
            found=f"last version {head.version}",
        ),
    )


@dataclass(frozen=True)
class CaseRef:
    """A case found in the store; `problem` when it was found the wrong way round."""

    case_id: uuid.UUID
    receipt_code: str | None
    problem: str | None = None

    @property
    def label(self) -> str:
        return self.receipt_code or f"case {self.case_id}"


@dataclass(frozen=True)
class CaseVerdict:
    ref: CaseRef
    broken: BrokenLink | None
    where: Literal["chain", "tail", "store", "index", ""]
    tail: TailCheck
    head: Head | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def first_event(app: Complaints, case_id: uuid.UUID) -> Any | None:
    """Version 1 of the case as stored, or None if it is missing or does not decode."""
    records = app.recorder.select_events(case_id, limit=1)
    if not records or records[0].originator_version != 1:
        return None
    try:
        return app.mapper.to_domain_event(records[0])
    except Exception:  # a tampered record; verify says where
        return None


def verify_case(app: Complaints, ref: CaseRef, anchor: Anchor | str) -> CaseVerdict:
    """The case's chain from the stored records, then its tail against `anchor`.

    `anchor` is a reason when there is none to compare with ("Temporal unreachable").
    """
    if not app.recorder.select_events(ref.case_id, limit=1):
        gone = BrokenLink(
            version=1,
            problem="the case has no events at all",
            expected="version 1",
            found="nothing",
        )
        return CaseVerdict(ref, gone, "store", TailCheck("not_checked"), None)
    anchor_version = anchor.version if isinstance(anchor, Anchor) else None
    with app.keys.one_reading():
        chain = check_chain(app.chain_links(ref.case_id), anchor_version=anchor_version)
    if chain.broken is not None or chain.head is None:
        return CaseVerdict(ref, chain.broken, "chain", TailCheck("not_checked"), None)
    if ref.problem is not None:
        # Intake saves the case and its receipt index together: one without the
        # other was removed or altered afterwards.
        lost = BrokenLink(
            version=1,
            problem=f"receipt index: {ref.problem}",
            expected=f"receipt code {ref.receipt_code or '?'} naming case {ref.case_id}",
            found="no such receipt index",
        )
        return CaseVerdict(ref, lost, "index", TailCheck("not_checked"), chain.head)
    if isinstance(anchor, str):
        return CaseVerdict(ref, None, "", TailCheck("not_checked", anchor), chain.head)
    tail = check_tail(anchor, chain)
    if tail.broken is not None:
        return CaseVerdict(ref, tail.broken, "tail", tail, chain.head)
    if ERASED_EVENT in chain.after_anchor:
        tail = replace(tail, note=f"{tail.note}; {erasures(app, ref.case_id)}")
    return CaseVerdict(ref, None, "", tail, chain.head)


def erasures(app: Complaints, case_id: uuid.UUID) -> str:
    """Who erased the case's person, when and why: a lawful act, said as such."""
    found = [
        f"erased by {getattr(event, 'by', '?')} at {getattr(event, 'at', '?')}: "
        f"{getattr(event, 'reason', '?')}"
        for event in app.history(case_id)
        if type(event).__name__ == ERASED_EVENT
    ]
    return "; ".join(found) or "an erasure"


def walk_cases(app: Complaints, page_size: int = 200) -> Iterator[CaseRef]:
    """Every case in the store, a page of the notification log at a time.

    First every receipt code issued (so a case whose events were all deleted is
    still found), then every case received whose receipt code does not lead back
    to it.
    """
    for notification in _notifications(app, ISSUED_TOPIC, page_size):
        try:
            index = app.mapper.to_domain_event(notification)
        except Exception:
            # A tampered index names no case; the walk over received cases finds it.
            continue
        yield CaseRef(getattr(index, "case_id"), getattr(index, "code"))  # noqa: B009
    for notification in _notifications(app, RECEIVED_TOPIC, page_size):
        case_id = uuid.UUID(str(notification.originator_id))
        try:
            received = app.mapper.to_domain_event(notification)
            code = str(getattr(received, "receipt_code"))  # noqa: B009
        except Exception:
            yield CaseRef(case_id, None, "no receipt index found (first event does not decode)")
            continue
        index_records = app.recorder.select_events(ReceiptIndex.create_id(code), limit=1)
        points_back = False
        if index_records:
            try:
                index = app.mapper.to_domain_event(index_records[0])
                points_back = getattr(index, "case_id", None) == case_id
            except Exception:
                points_back = False
        if not points_back:
            yield CaseRef(case_id, code, "its receipt code does not lead to it")


def _notifications(app: Complaints, topic: str, page_size: int) -> Iterator[Any]:
    return app.notifications(topics=[topic], page=page_size)
