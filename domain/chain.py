"""Tamper evidence: each event carries the digest of its predecessor.

The digest covers every attribute of an event (id, version, timestamp, the
previous digest and the payload) in a canonical JSON form, plus the event's
chain name, so changing, removing, reordering or inserting an event breaks
the chain at that point. Personal fields are the exception: they are sealed
per person when stored, and erasing a person must leave the chain intact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

GENESIS = "0" * 64


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal, date)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot put {type(value).__name__} into the hash chain")


def chain_name(event: object) -> str:
    """Stable name of an event class: a renamed class keeps its old `chain_name`."""
    name = getattr(type(event), "chain_name", None)
    return name if isinstance(name, str) else type(event).__qualname__


def personal_fields(event: object) -> tuple[str, ...]:
    """The fields of an event that hold personal data (sealed per person when stored)."""
    fields = getattr(type(event), "personal_fields", ())
    return tuple(fields) if isinstance(fields, tuple) else ()


def event_digest(event: object) -> str:
    # Personal fields are left out: they are sealed per person (AES-GCM, which
    # authenticates them) and erasing a person must not break the chain.
    hidden = personal_fields(event)
    state = {k: v for k, v in vars(event).items() if k not in hidden}
    body = {"name": chain_name(event), "state": state}
    text = json.dumps(
        body, default=_canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
        expected_digest = event_digest(event)
        expected_version += 1
    return None
