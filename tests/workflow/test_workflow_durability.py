"""Durability of the complaint workflow: replay of recorded histories, retries."""

from __future__ import annotations

import json
import re
import tomllib
import uuid
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.complaints import ComplaintActivities
from tests.support.changed_workflow import ChangedComplaintWorkflow, PatchedComplaintWorkflow
from tests.support.histories_scenarios import HISTORIES, SCENARIOS, record, sample_intake
from tests.support.temporal import local_activity_markers, running_stack, sealed_converter
from workflows.client import act as api_act
from workflows.client import file_complaint
from workflows.complaint import COMMAND_IDS, ComplaintWorkflow
from workflows.models import Answer, Assign, CaseCommand, CaseView

pytestmark = pytest.mark.temporal

RECORDED = sorted(HISTORIES.glob("*.json"))
WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"complaint-{path.stem}", path.read_text(encoding="utf-8"))


def test_every_scenario_has_a_committed_history() -> None:
    current = {path.stem for path in RECORDED if "--" not in path.stem}
    assert current == set(SCENARIOS)
    assert any("--" in path.stem for path in RECORDED), "histories from before a patch"


def test_the_manifest_lists_every_history_and_each_patch_it_protects_is_in_the_code() -> None:
    manifest = tomllib.loads((HISTORIES / "manifest.toml").read_text(encoding="utf-8"))
    listed = {entry["file"]: entry for entry in manifest["history"]}
    assert sorted(listed) == sorted(path.name for path in RECORDED)
    code = "\n".join(p.read_text(encoding="utf-8") for p in WORKFLOWS.glob("*.py"))
    for name, entry in listed.items():
        assert entry["protects"] and entry["delete_when"], name
        for patch in entry["protects"]:
            if re.fullmatch(r"[a-z-]+", patch):  # a patch id: still patched in the code
                assert f'"{patch}"' in code, (name, patch)


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
async def test_committed_histories_replay_on_the_current_workflow(path: Path) -> None:
    replayer = Replayer(workflows=[ComplaintWorkflow], data_converter=sealed_converter())
    await replayer.replay_workflow(load(path))


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
async def test_an_unpatched_change_to_the_workflow_fails_replay(path: Path) -> None:
    replayer = Replayer(workflows=[ChangedComplaintWorkflow], data_converter=sealed_converter())
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
async def test_the_same_change_behind_workflow_patched_replays(path: Path) -> None:
    replayer = Replayer(workflows=[PatchedComplaintWorkflow], data_converter=sealed_converter())
    await replayer.replay_workflow(load(path))


async def test_a_history_recorded_now_replays_too(tmp_path: Path) -> None:
    text = await record("fresh", SCENARIOS["extended_by_interim_reply"], tmp_path)
    replayer = Replayer(workflows=[ComplaintWorkflow], data_converter=sealed_converter())
    await replayer.replay_workflow(WorkflowHistory.from_json("fresh", text))


async def test_a_run_started_now_asks_its_patches_once_in_its_first_task(tmp_path: Path) -> None:
    """Since current-paths a run records one patch marker, with its one
    TemporalChangeVersion upsert, in its first task; the tasks after it (a breach's,
    at a deadline peak) hold no more of either."""
    text = await record("fresh", SCENARIOS["breached_and_escalated"], tmp_path)
    events = WorkflowHistory.from_json("fresh", text).events
    patches = [
        (event.event_id, json.loads(attributes.details["patch-data"].payloads[0].data)["id"])
        for event in events
        for attributes in [event.marker_recorded_event_attributes]
        if event.HasField("marker_recorded_event_attributes")
        and attributes.marker_name == "core_patch"
    ]
    versions = [
        event.event_id
        for event in events
        if event.HasField("upsert_workflow_search_attributes_event_attributes")
        and "TemporalChangeVersion"
        in event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    ]
    tasks = [e.event_id for e in events if e.HasField("workflow_task_completed_event_attributes")]
    assert [patch for _, patch in patches] == ["current-paths"]
    assert len(versions) == 1 and patches[0][0] < versions[0] < tasks[1]
    rang = [e for e in events if e.HasField("timer_fired_event_attributes")]
    assert len(rang) >= 2, "the scenario's breach and next escalation rang"


class FailsAfterSaving(ComplaintActivities):
    """Saves the event, then loses the reply once, as a dropped connection would."""

    @activity.defn(name="apply_command")
    def apply_command(self, command: CaseCommand) -> CaseView:
        view = super().apply_command(command)
        if command.action.type == "answer" and activity.info().attempt == 1:
            raise ConnectionError("connection lost after the save")
        return view


async def test_an_activity_retried_after_its_save_records_the_event_once(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with running_stack(ts_env.client, tmp_path, activities_class=FailsAfterSaving) as stack:
        handle, _ = await file_complaint(stack.client, sample_intake(), stack.task_queue)
        view = await api_act(handle, Answer(text="답변드립니다", by="lee.service"))
        assert view.status == "answered"
        names = [type(e).__name__ for e in stack.complaints.history(uuid.UUID(view.case_id))]
        assert names.count("Answered") == 1
        assert names.count("CommitmentMet") == 1
        history = await handle.fetch_history()
        failed = [e for e in history.events if e.HasField("activity_task_failed_event_attributes")]
        # The store's steps are local activities: the retry ran in the worker, and the
        # step's marker records the attempt that succeeded.
        attempts = {
            step["activity_type"]: step["attempt"]
            for step in local_activity_markers(history.events)
        }
        assert attempts["apply_command"] == 2 and not failed


async def test_a_store_step_is_recorded_under_an_id_made_of_what_asked_for_it(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A local store step saves before its workflow task is recorded: run again (a lost
    task, the update delivered again), it must find its own id, whatever reached the
    case in between. The id is made of the update that asked (with the run, the
    action's type), not drawn in order of arrival: a repeated update is recorded once,
    two updates never share an id."""
    async with running_stack(ts_env.client, tmp_path) as stack:
        handle, view = await file_complaint(stack.client, sample_intake(), stack.task_queue)
        run_id = (await handle.describe()).run_id
        kim, lee = "kim.casemgr", "lee.service"
        for update_id, staff in [("assign-1", kim), ("assign-2", lee), ("assign-1", kim)]:
            await api_act(handle, Assign(staff=staff, by="han.ops"), update_id=update_id)
        recorded = [
            e.command_id  # type: ignore[attr-defined]
            for e in stack.complaints.history(uuid.UUID(view.case_id))
            if type(e).__name__ == "Reassigned"
        ]
        assert recorded == [
            str(uuid.uuid5(COMMAND_IDS, f"{handle.id}/{run_id}/update/{update_id}/assign/"))
            for update_id in ("assign-1", "assign-2")
        ]


async def test_a_long_lived_case_continues_as_new_and_keeps_its_state(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with running_stack(ts_env.client, tmp_path, history_limit=60) as stack:
        handle, view = await file_complaint(stack.client, sample_intake(), stack.task_queue)
        first_run = (await handle.describe()).run_id
        staff = ["kim.casemgr", "lee.service"]
        for number in range(30):
            await api_act(handle, Assign(staff=staff[number % 2], by="han.ops"))
        latest = stack.client.get_workflow_handle(handle.id, result_type=CaseView)
        description = await latest.describe()
        assert description.run_id != first_run
        now = await latest.query(ComplaintWorkflow.status)
        assert now.receipt_code == view.receipt_code
        assert now.assignee == staff[29 % 2]
        assert now.commitment("reply").status == "open"
        names = [type(e).__name__ for e in stack.complaints.history(uuid.UUID(view.case_id))]
        assert names.count("Received") == 1
        assert names.count("Reassigned") == 30


def test_every_patch_is_listed_with_its_removal_plan_and_every_listed_one_is_in_use() -> None:
    """The old branches have one home (workflows/legacy.py): each `workflow.patched`
    names a patch listed there, with its commit and when it may go."""
    from workflows import legacy

    listed = {patch.name: patch for patch in legacy.PATCHES}
    used: set[str] = set()
    for path in WORKFLOWS.glob("*.py"):
        if path.name == "legacy.py":
            continue  # the list itself, and its instructions
        asked = r"(?:workflow\.|self\._)patched\(\s*((?:legacy\.)?[A-Z_]+)\s*\)"
        for call in re.findall(asked, path.read_text("utf-8")):
            used.add(getattr(legacy, call.removeprefix("legacy.")))
    assert used == set(listed)
    for patch in listed.values():
        assert re.fullmatch(r"[0-9a-f]{7}", patch.since) and patch.old_path and patch.remove_when


def test_the_patches_asked_once_are_those_current_paths_covers() -> None:
    """`ComplaintWorkflow._patched` answers yes for every run started since
    current-paths: it is asked exactly of the patches from before it, and refuses any
    other (a patch added later goes to `workflow.patched` itself)."""
    from workflows import legacy

    code = (WORKFLOWS / "complaint.py").read_text("utf-8")
    asked = re.findall(r"self\._patched\(\s*legacy\.([A-Z_]+)\s*\)", code)
    assert {getattr(legacy, name) for name in asked} == legacy.CURRENT_PATHS_COVERS
    assert {legacy.CURRENT_PATHS, legacy.SURVEY_UNSENT_RETRIED}.isdisjoint(
        legacy.CURRENT_PATHS_COVERS
    )
    with pytest.raises(ValueError, match="came after current-paths"):
        ComplaintWorkflow()._patched(legacy.SURVEY_UNSENT_RETRIED)
