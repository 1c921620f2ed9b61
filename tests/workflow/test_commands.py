"""The command registry: one name per action, on every path that takes it.

Each action of `domain.commands` is a `minwon` subcommand, an API route and a
discriminator value of the workflow update `act` under the same name, with the
same input fields; the actor is never an input. And a registered action works end
to end: the promised call back, sent as the API sends it, keeps its commitment.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, get_args

import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cli.main import build_parser
from domain.appointment import APPOINTMENT_COMMANDS
from domain.commands import ACTIONS, STAFF_ACTIONS, AnyAction, CallBack
from domain.conduct import CONDUCT_COMMANDS
from domain.survey import SURVEY_COMMANDS
from tests.support.temporal import Stack, running_stack, start_time_skipping
from web.app import create_app
from web.schemas import ACTION_BODIES
from workflows.client import act as api_act
from workflows.client import file_complaint
from workflows.complaint import ComplaintWorkflow
from workflows.models import FileComplaintInput, TakeMessage


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [group] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(group.choices)


def test_every_staff_action_is_a_subcommand_a_route_and_an_update_type_of_one_name() -> None:
    update_types = {
        model.model_fields["type"].default for model in get_args(get_args(AnyAction)[0])
    }
    assert update_types == set(ACTIONS)
    cli = subcommands(build_parser())
    # What clients see: the schema's POST operations.
    routes = {path for path, item in create_app().openapi()["paths"].items() if "post" in item}
    for name, model in STAFF_ACTIONS.items():
        assert name in cli, name
        assert f"/api/staff/cases/{{code}}/{name}" in routes, name
        assert set(ACTION_BODIES[name].model_fields) == set(model.input_fields()), name
        assert model.actor_field not in ACTION_BODIES[name].model_fields
    for name, model in ACTIONS.items():
        if model.internal:
            assert name not in cli and f"/api/staff/cases/{{code}}/{name}" not in routes


def test_every_command_has_one_name_across_the_registries_and_the_command_line() -> None:
    """A case action, a conduct or appointment command and a `minwon` command never
    share a name: the case actions are `minwon` commands of their own."""
    registries = [
        set(ACTIONS),
        set(CONDUCT_COMMANDS),
        set(APPOINTMENT_COMMANDS),
        set(SURVEY_COMMANDS),
    ]
    names = [name for registry in registries for name in registry]
    assert len(names) == len(set(names))
    # Each case action is a top-level command, beside the other commands, once.
    cli = subcommands(build_parser())
    assert set(STAFF_ACTIONS) <= set(cli)
    assert {"monitoring", "award", "appointment", "survey"} <= set(cli) - set(ACTIONS)


def test_an_actions_options_are_its_input_fields_and_never_the_actor() -> None:
    cli = subcommands(build_parser())
    for name, model in STAFF_ACTIONS.items():
        if name == "escalate":
            continue  # one case or a filter: its own options
        options = {
            action.dest
            for action in cli[name]._actions
            if action.option_strings and action.dest not in ("help", "json")
        }
        assert options == set(model.input_fields()), name


@pytest_asyncio.fixture
async def stack(tmp_path: Any) -> AsyncIterator[tuple[WorkflowEnvironment, Stack]]:
    env = await start_time_skipping()
    try:
        async with running_stack(env.client, tmp_path) as running:
            yield env, running
    finally:
        await env.shutdown()


@pytest.mark.temporal
async def test_the_promised_call_back_keeps_the_callback_through_the_workflow(
    stack: tuple[WorkflowEnvironment, Stack],
) -> None:
    env, running = stack
    handle, filed = await file_complaint(
        running.client,
        FileComplaintInput(
            intake_ref=f"callback-{uuid.uuid4().hex[:8]}",
            channel="phone",
            category="inquiry",
            topic="program",
            contact="010-1234-5678",
            text="담당자와 통화하고 싶습니다",
        ),
        running.task_queue,
    )
    now = await env.get_current_time()
    await api_act(
        handle,
        TakeMessage(
            for_staff="lee.service", taken_by="kim.casemgr", callback_by=now + timedelta(hours=4)
        ),
    )
    view = await api_act(handle, CallBack(note="오후 3시 통화 완료", by="lee.service"))
    callback = view.commitment("callback")
    assert callback is not None and callback.status == "met"
    names = [type(e).__name__ for e in running.complaints.history(uuid.UUID(filed.case_id))]
    assert "CalledBack" in names
    # No second call back is owed: the workflow's validator passes it, the case refuses it.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await api_act(handle, CallBack(by="lee.service"))
    assert "owes no promised callback" in str(refused.value.cause)
    assert (await handle.query(ComplaintWorkflow.status)).commitment("callback") == callback
