"""The alarms of one moment recorded in one step (`apply_alarms`): in order, once each,
and a refused later alarm never takes the breach before it down with it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.complaints import ComplaintActivities
from application.service import Complaints
from application.store import open_complaints
from domain.calendar import to_seoul
from tests.support.samples import sample_intake
from workflows.actor_proof import ActorSeal
from workflows.models import AlarmCommands, Breach, CaseCommand, Escalate


@pytest.fixture
def complaints(tmp_path: Path) -> Iterator[Complaints]:
    app = open_complaints(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "events.db")}
    )
    yield app
    app.close()


def activities(complaints: Complaints, folder: Path) -> ComplaintActivities:
    return ComplaintActivities(
        complaints, outbox=folder / "outbox.jsonl", seal=ActorSeal(os.urandom(32))
    )


def alarms(case_id: uuid.UUID, at: object, *actions: Breach | Escalate) -> AlarmCommands:
    return AlarmCommands(
        commands=[
            CaseCommand(case_id=str(case_id), at=at, command_id=f"alarm-{n}", action=action)  # type: ignore[arg-type]
            for n, action in enumerate(actions)
        ]
    )


def names(complaints: Complaints, case_id: uuid.UUID) -> list[str]:
    return [type(e).__name__ for e in complaints.history(case_id)]


DEADLINE = Escalate(reason="기한 초과 (reply)", by="system", trigger="deadline")


def test_a_breach_and_its_escalation_are_recorded_in_order_and_once(
    complaints: Complaints, tmp_path: Path
) -> None:
    case = complaints.file(sample_intake())
    due = case.commitments["reply"].due
    step = alarms(case.id, due, Breach(kind="reply"), DEADLINE)
    run = ActivityEnvironment().run

    view = run(activities(complaints, tmp_path).apply_alarms, step)

    assert view.commitment("reply").status == "breached"
    assert [(e.level, e.to_role, e.trigger) for e in view.escalations] == [
        (1, "designated_officer", "deadline")
    ]
    recorded = names(complaints, case.id)
    assert recorded[-2:] == ["CommitmentBreached", "Escalated"]
    # A retry of the whole step (the worker died before reporting it) records nothing.
    again = run(activities(complaints, tmp_path).apply_alarms, step)
    assert names(complaints, case.id) == recorded
    assert again.version == view.version


def test_an_escalation_refused_after_the_breach_leaves_the_breach_recorded(
    complaints: Complaints, tmp_path: Path
) -> None:
    """The chain is already at its top (ops escalated by hand twice): the breach is
    recorded, the escalation is not, and the step does not fail."""
    case = complaints.file(sample_intake())
    due = case.commitments["reply"].due
    for n, reason in enumerate(["민원인 재요청", "관장 보고 필요"]):
        complaints.perform(
            case.id,
            Escalate(reason=reason, by="han.ops"),
            at=to_seoul(due) - timedelta(hours=2 - n),
            command_id=f"by-hand-{n}",
        )
    run = ActivityEnvironment().run

    with capture_logs() as logs:
        view = run(
            activities(complaints, tmp_path).apply_alarms,
            alarms(case.id, due, Breach(kind="reply"), DEADLINE),
        )

    assert view.commitment("reply").status == "breached"
    assert len(view.escalations) == 2
    # The log says what was recorded, and what was not.
    said = [entry["event"] for entry in logs]
    assert "breach_recorded" in said and "alarm_refused" in said
    assert "escalate_recorded" not in said
    assert names(complaints, case.id).count("Escalated") == 2


def test_a_refused_first_alarm_fails_the_step_and_records_nothing(
    complaints: Complaints, tmp_path: Path
) -> None:
    case = complaints.file(sample_intake())
    before = names(complaints, case.id)
    due = case.commitments["reply"].due
    run = ActivityEnvironment().run

    with pytest.raises(ApplicationError):
        # No such clock on an inquiry: refused, as `apply_command` refuses it.
        run(
            activities(complaints, tmp_path).apply_alarms,
            alarms(case.id, due, Breach(kind="investigation"), DEADLINE),
        )

    assert names(complaints, case.id) == before
