"""Durability of the survey year's workflow: histories recorded before a change replay.

tests/histories/survey/ holds runs recorded by tests.support.survey_history; a file
named `before-<patch>--…` was recorded before that patch and protects it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.support.survey_history import SURVEY_HISTORIES, record_survey_year
from tests.support.temporal import sealed_converter
from workflows.survey import SurveyYearWorkflow

pytestmark = pytest.mark.temporal

RECORDED = sorted(SURVEY_HISTORIES.glob("*.json"))
BEFORE_RETRIES = SURVEY_HISTORIES / "before-survey-unsent-retried--waiting_for_close.json"


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


def replayer() -> Replayer:
    return Replayer(
        workflows=[SurveyYearWorkflow],
        data_converter=sealed_converter(),
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
async def test_committed_survey_histories_replay_on_the_current_workflow(path: Path) -> None:
    await replayer().replay_workflow(load(path))


async def test_without_its_patch_the_daily_retry_would_break_a_run_from_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The retry's first step (counting the unsent) where the old run waited for the
    close: replayed unpatched, the run from before fails as nondeterministic."""
    monkeypatch.setattr(workflow, "patched", lambda _name: True)
    result = await replayer().replay_workflow(load(BEFORE_RETRIES), raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()


async def test_a_survey_history_recorded_now_replays_too(tmp_path: Path) -> None:
    text = await record_survey_year(tmp_path)
    await replayer().replay_workflow(WorkflowHistory.from_json("fresh", text))
