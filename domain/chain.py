"""Tamper evidence: each event carries the digest of its predecessor.

Two versions of the digest exist, and a case's chain may hold both, in order:

- **v2** (every record written since the chain covered what is stored): the
  SHA-256 of the stored record itself — `record_digest`: its topic, originator
  id, version and state bytes exactly as stored, sealed personal fields and the
  previous digest included. Changing any stored byte breaks the chain; an
  erasure destroys only the key, so the sealed bytes and the chain stay. Such a
  record's state says `"chain": 2`, and the mapper links it to the record
  before it when it stores it (privacy.mapper).
- **v1** (records written before): every attribute of the event in a canonical
  JSON form, plus the event's chain name, personal fields left out:
  `json.dumps(body, default=_canonical, sort_keys=True, ensure_ascii=False,
  separators=(",", ":"))` of `{"name": ..., "state": ...}`. Old records keep
  verifying as they were written; a v1 record after a v2 one is a break.

An event read or written through the mapper knows its v2 digest (`RECORD_DIGEST`
in its `__dict__`; attributes starting with "_" are never part of an event's
state). `verify_chain` takes events, or `Link`s that a mapper read straight from
the stored records without building the events.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, NamedTuple
from uuid import UUID

from domain.personal_data import sealed_fields

GENESIS = "0" * 64
# In the stored state of a record whose digest is its stored bytes (v2).
CHAIN_FIELD = "chain"
CHAIN_V2 = 2
# On an event object read or written through the mapper: its v2 digest.
RECORD_DIGEST = "_record_digest"
CHAIN_VERSION = "_chain"
_RECORD_PREFIX = b"minwon-record-v2\n"


def record_digest(topic: str, originator_id: object, version: int, state: bytes) -> str:
    """The digest of a stored record: what a v2 chain links and a checkpoint covers."""
    digest = hashlib.sha256(_RECORD_PREFIX)
    digest.update(f"{topic}\n{originator_id}\n{version}\n".encode())
    digest.update(state)
    return digest.hexdigest()


def is_meta(name: str) -> bool:
    """An attribute kept on an event object that is not part of its state."""
    return name.startswith("_")


_STRINGIFIED = (UUID, Decimal, date)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, _STRINGIFIED):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot put {type(value).__name__} into the hash chain")


def canonical(value: Any) -> Any:
    """A value as the canonical form writes it: what `_canonical` makes of it, else itself."""
    if isinstance(value, (datetime, UUID, Decimal, date, set, frozenset)):
        return _canonical(value)
    return value


# Exactly the text `datetime.isoformat()` writes: microseconds only when not zero,
# an offset (if any) in hours and minutes, a zero offset as +00:00.
_ISOFORMAT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.(?!000000)[0-9]{6})?"
    r"(?:(?!-00:00)[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
)


def canonical_moment(text: str) -> str:
    """The canonical form of the moment stored as ISO text: `fromisoformat(text).isoformat()`.

    Formatting a moment costs ten times as much as parsing it, and a stored moment
    was written by `isoformat` itself: text already in its exact form (the pattern,
    and a valid moment) is its own canonical form.
    """
    moment = datetime.fromisoformat(text)
    return text if _ISOFORMAT.fullmatch(text) else moment.isoformat()


def _encoder() -> Callable[[Any], str]:
    # One encoder for every digest: json.dumps builds a new one per call, and its
    # set-up costs about as much as encoding a small event. The C encoder is what
    # json.dumps itself runs for these settings, so the text is the same.
    if c_make_encoder is None:
        return json.JSONEncoder(
            default=_canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode
    encode = c_make_encoder(
        None,  # markers: no check for circular references (events have none)
        _canonical,  # default
        encode_basestring,  # for ensure_ascii=False
        None,  # indent
        ":",  # key separator
        ",",  # item separator
        True,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
    return lambda body: "".join(encode(body, 0))


_encode = _encoder()


def class_chain_name(event_class: type) -> str:
    name = getattr(event_class, "chain_name", None)
    return name if isinstance(name, str) else event_class.__qualname__


def chain_name(event: object) -> str:
    """Stable name of an event class: a renamed class keeps its old `chain_name`."""
    return class_chain_name(type(event))


def class_personal_fields(event_class: type) -> tuple[str, ...]:
    """The fields of an event class sealed per person, as domain.personal_data decides."""
    return sealed_fields(class_chain_name(event_class))


def personal_fields(event: object) -> tuple[str, ...]:
    """The fields of an event that hold personal data (sealed per person when stored)."""
    return class_personal_fields(type(event))


def state_digest(name: str, state: dict[str, Any]) -> str:
    """The digest of an event's state, its personal fields already left out."""
    text = _encode({"name": name, "state": state})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_digest(event: object) -> str:
    """An event's chain digest: its stored record's (v2), once it was read or
    written through the mapper; else the canonical digest (v1, and an event not
    yet stored, whose link the mapper sets when it stores it)."""
    state = vars(event)
    recorded = state.get(RECORD_DIGEST)
    if recorded is not None:
        return str(recorded)
    # Personal fields are left out: they are sealed per person (AES-GCM, which
    # authenticates them) and erasing a person must not break the chain.
    hidden = personal_fields(event)
    return state_digest(
        chain_name(event), {k: v for k, v in state.items() if k not in hidden and not is_meta(k)}
    )


def chain_version(event: object) -> int:
    if isinstance(event, Link):
        return event.chain
    return int(vars(event).get(CHAIN_VERSION, 1)) if hasattr(event, "__dict__") else 1


class Link(NamedTuple):
    """An event's place in its chain, as read from its stored record."""

    originator_version: int
    prev_digest: object  # what the record carries; a tampered one may be anything
    digest: str  # of the event itself
    name: str  # of the event's class
    chain: int = 1  # the digest's version

    @classmethod
    def of(cls, event: Any) -> Link:
        return cls(
            event.originator_version,
            getattr(event, "prev_digest", None),
            event_digest(event),
            type(event).__name__,
            chain_version(event),
        )


def digest_of(event: object) -> str:
    """The chain digest of an event or of a `Link`."""
    return event.digest if isinstance(event, Link) else event_digest(event)


def name_of(event: object) -> str:
    return event.name if isinstance(event, Link) else type(event).__name__


@dataclass(frozen=True)
class BrokenLink:
    """Where a case's history stops being trustworthy."""

    version: int
    problem: str
    expected: str
    found: str

    def describe(self) -> str:
        return (
            f"version {self.version}: {self.problem} (expected {self.expected}, found {self.found})"
        )


def verify_chain(events: Iterable[object]) -> BrokenLink | None:
    """Recompute a case's chain; the first broken link, or None if intact."""
    expected_digest = GENESIS
    expected_version = 1
    newest_chain = 1
    for event in events:
        version = getattr(event, "originator_version", None)
        if version != expected_version:
            return BrokenLink(
                version=expected_version,
                problem="event missing or out of order",
                expected=f"version {expected_version}",
                found=f"version {version}",
            )
        found = getattr(event, "prev_digest", None)
        if found != expected_digest:
            return BrokenLink(
                version=expected_version,
                problem="previous-event digest does not match",
                expected=expected_digest,
                found=str(found),
            )
        chain = chain_version(event)
        if chain < newest_chain:
            # Records are written in v2 since it exists: an older one after it was
            # put there, perhaps to leave its personal fields out of the digest.
            return BrokenLink(
                version=expected_version,
                problem="a record in the old chain format follows one in the new",
                expected=f"chain v{newest_chain}",
                found=f"chain v{chain}",
            )
        newest_chain = chain
        expected_digest = digest_of(event)
        expected_version += 1
    return None
