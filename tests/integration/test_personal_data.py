"""Every field of every event has a decision (domain.personal_data), and sealing follows it.

The events are found, not listed: every module of the packages pyproject.toml ships is
imported, and every aggregate defined there gives its nested event classes (`@event`
makes most of them). A field is a field of the event's dataclass, which eventsourcing
builds from the `@event` method's parameters.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import tomllib
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from application.service import Complaints
from domain.calendar import SEOUL
from domain.chain import GENESIS, class_chain_name, class_personal_fields
from domain.personal_data import FIELDS, Decision

ROOT = Path(__file__).resolve().parents[2]
# What eventsourcing gives every event, and the chain's link: not the event's own state.
ENGINE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "prev_digest"}
)
# Sealed in stored records, so sealed for ever (a record cannot be rewritten): a field
# joins this list only as a new field, and never leaves it.
SEALED_IN_STORED_RECORDS = {
    "Complaint.Received": ("contact", "text"),
    "Complaint.MessageTaken": ("note",),
    "Complaint.InvestigationConcluded": ("finding",),
    "Complaint.ApologyMade": ("note",),
    "Complaint.CalledBack": ("note",),
    "Complaint.Answered": ("text",),
    "Complaint.SatisfactionRated": ("comment",),
    "Complaint.NoteAdded": ("text",),
    "Appointment.Booked": ("purpose", "contact", "address"),
    "Appointment.Moved": ("reason",),
    "Appointment.OutcomeRecorded": ("note",),
    "SurveyInvitation.Invited": ("contact",),
    "SurveyInvitation.Answered": ("comment",),
    "MonitoringCall.Recorded": ("note",),
    "MonitoringCall.CorrectiveActionTaken": ("note",),
    "Award.Granted": ("reason",),
}
AT = datetime(2026, 9, 21, 10, tzinfo=SEOUL)


def shipped_modules() -> Iterator[str]:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package in setuptools["packages"]:
        yield package
        path = importlib.import_module(package).__path__
        for module in pkgutil.walk_packages(path, f"{package}."):
            if not module.name.endswith(".__main__"):  # it runs the server
                yield module.name


def project_aggregates() -> list[type[Aggregate]]:
    modules = set(shipped_modules())
    for name in modules:
        importlib.import_module(name)
    found: list[type[Aggregate]] = []
    pending = [Aggregate]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        # Aggregates that tests define are none of the project's.
        if cls.__module__ in modules:
            found.append(cls)
    return found


@dataclasses.dataclass(frozen=True)
class EventClass:
    aggregate: type[Aggregate]
    event_class: type
    fields: dict[str, str]  # name → annotation, as written


def event_classes() -> dict[str, EventClass]:
    """Every event class of every aggregate, by chain name."""
    found: dict[str, EventClass] = {}
    for aggregate in project_aggregates():
        for name in dir(aggregate):
            value = getattr(aggregate, name)
            if name == "Event" or not (
                isinstance(value, type) and issubclass(value, Aggregate.Event)
            ):
                continue
            fields = {
                f.name: str(f.type)
                for f in dataclasses.fields(value)
                if f.name not in ENGINE_FIELDS
            }
            found[class_chain_name(value)] = EventClass(aggregate, value, fields)
    return found


@pytest.fixture(scope="module")
def events() -> dict[str, EventClass]:
    return event_classes()


def test_the_walk_finds_the_events_of_every_aggregate(events: dict[str, EventClass]) -> None:
    some = {"Complaint.Received", "Complaint.Answered", "AccessLog.Accessed", "Roster.Seeded"}

    assert some | {"CheckpointLog.Signed", "ResidentSecret.Issued"} <= events.keys()
    received = events["Complaint.Received"].fields  # made from the decorated __init__
    assert {"contact", "text"} <= received.keys()
    assert not received.keys() & ENGINE_FIELDS


def test_every_field_of_every_event_has_a_decision(events: dict[str, EventClass]) -> None:
    missing = []
    for name, found in sorted(events.items()):
        decided = FIELDS.get(name)
        if decided is None:
            if found.fields:  # an event with no state of its own has nothing to decide
                listed = ", ".join(f"{field} ({kind})" for field, kind in found.fields.items())
                missing.append(f"{name} is not in the table; its fields: {listed}")
            continue
        missing.extend(
            f"{name}.{field} ({kind}) has no decision"
            for field, kind in found.fields.items()
            if field not in decided
        )

    assert not missing, (
        "decide in domain/personal_data.py FIELDS whether each is personal (sealed per "
        "person) or not, and why:\n" + "\n".join(missing)
    )


def test_the_table_names_only_events_and_fields_that_exist(
    events: dict[str, EventClass],
) -> None:
    stale = []
    for name, decided in FIELDS.items():
        found = events.get(name)
        if found is None:
            stale.append(f"{name}: no aggregate has this event (renamed? keep its chain_name)")
            continue
        stale.extend(
            f"{name}.{field}: the event has no such field"
            for field in decided
            if field not in found.fields
        )

    assert not stale, "domain/personal_data.py FIELDS names:\n" + "\n".join(stale)


def test_every_decision_says_why_in_one_line() -> None:
    unexplained = [
        f"{name}.{field}"
        for name, decided in FIELDS.items()
        for field, decision in decided.items()
        if not isinstance(decision, Decision) or not decision.why.strip() or "\n" in decision.why
    ]

    assert not unexplained, f"decisions without a one-line reason: {unexplained}"


def test_a_personal_field_holds_text(events: dict[str, EventClass]) -> None:
    # The mapper seals str(value) and opens it as text.
    not_text = [
        f"{name}.{field} ({found.fields.get(field)})"
        for name, found in events.items()
        for field in class_personal_fields(found.event_class)
        if found.fields.get(field) not in ("str", "str | None")
    ]

    assert not not_text, f"personal fields that are not text: {not_text}"


def test_what_is_sealed_is_what_stored_records_were_sealed_with(
    events: dict[str, EventClass],
) -> None:
    sealed = {
        name: fields
        for name, found in events.items()
        if (fields := class_personal_fields(found.event_class))
    }

    assert sealed == SEALED_IN_STORED_RECORDS, (
        "what is sealed changed: a field sealed in stored records must stay sealed under "
        "the same chain name, and a field stored in plain text needs a new event version "
        "before it is sealed (docs/personal-data.md)"
    )


def test_the_docs_name_every_sealed_field_and_every_free_text_decision() -> None:
    docs = (ROOT / "docs" / "personal-data.md").read_text()
    unnamed = [
        f"{name}.{field}"
        for name, decided in FIELDS.items()
        for field, decision in decided.items()
        if (decision.personal or decision.free_text) and f"`{name}.{field}`" not in docs
    ]

    assert not unnamed, f"docs/personal-data.md does not name: {unnamed}"


# -- the mapper follows the table -----------------------------------------------------


def sample(field: str, annotation: str) -> Any:
    kind = annotation.removesuffix(" | None")
    canary = f"canary-{field}-{uuid.uuid4().hex[:12]}"
    samples = {"str": canary, "datetime": AT, "bool": False, "int": 1, "float": 1.5}
    if kind.startswith(("dict[", "list[")):
        return {"canary": canary} if kind.startswith("dict") else [canary]
    if kind not in samples:
        pytest.fail(f"no sample value for a field of type {annotation}: add one")
    return samples[kind]


def stored_alone(app: Complaints, found: EventClass) -> tuple[Any, dict[str, Any]]:
    """An event of the class with every field filled in, stored as the first of its
    own aggregate: its record as stored, and the values it was given."""
    values = {field: sample(field, kind) for field, kind in found.fields.items()}
    engine: dict[str, Any] = {
        "originator_id": uuid.uuid4(),
        "originator_version": 1,
        "timestamp": AT,
        "originator_topic": get_topic(found.aggregate),  # a created event's
        "prev_digest": GENESIS,  # a chained event's
    }
    wanted = {f.name for f in dataclasses.fields(found.event_class)}
    event = found.event_class(**{k: v for k, v in engine.items() if k in wanted}, **values)
    app.recorder.insert_events([app.mapper.to_stored_event(event)])
    [record] = app.recorder.select_events(event.originator_id)
    return record, values


def test_the_mapper_seals_exactly_the_fields_the_table_calls_personal(
    complaints: Complaints, events: dict[str, EventClass]
) -> None:
    with_personal = {
        name: found for name, found in events.items() if class_personal_fields(found.event_class)
    }
    assert with_personal

    for name, found in with_personal.items():
        record, values = stored_alone(complaints, found)
        stored = json.loads(record.state)
        personal = class_personal_fields(found.event_class)
        for field, value in values.items():
            if field in personal:
                sealed = isinstance(stored[field], dict) and stored[field].keys() == {"sealed"}
                assert sealed, f"{name}.{field} is stored as {stored[field]!r}, not sealed"
                assert value.encode() not in record.state, f"{name}.{field} is in the clear"
            elif isinstance(value, str):
                assert stored[field] == value, f"{name}.{field} is not stored as written"
        opened = complaints.mapper.to_domain_event(record)
        assert {field: getattr(opened, field) for field in values} == values, name
