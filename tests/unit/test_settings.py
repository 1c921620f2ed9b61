"""One settings object, read from the environment in one place (`runtime.settings`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from runtime.paths import VAR
from runtime.settings import Settings, SettingsError
from runtime.worker import workflow_runner

ROOT = Path(__file__).resolve().parents[2]
# The packages a minwon process runs; tests and bench scripts set up processes of their own.
RUNNING_CODE = ["activities", "cli", "domain", "privacy", "projections", "runtime", "web"]
RUNNING_CODE += ["workflows", "worker.py"]
# The one reader, and the HTTP client of `minwon` (two variables, no pydantic at start-up).
READERS = {"runtime/settings.py", "cli/remote.py"}


def test_the_defaults_are_the_embedded_stacks() -> None:
    settings = Settings.load({})
    assert (settings.web_host, settings.web_port) == ("127.0.0.1", 8000)
    assert settings.activity_threads == 16 and settings.workflow_cache == 200
    assert settings.task_polls == 5 and settings.sticky_seconds == 60.0
    assert settings.schedules and not settings.serve_web and not settings.has_payload_key
    assert settings.outbox == VAR / "outbox.jsonl"
    assert settings.checkpoint_file == VAR / "checkpoints.jsonl"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.trusted_proxies == ()
    assert not settings.workflow_sandbox
    assert settings.worker_role == "all"


def test_every_variable_is_read_and_typed() -> None:
    settings = Settings.load(
        {
            "MINWON_LOG_LEVEL": "debug",
            "MINWON_SERVE_WEB": "yes",
            "MINWON_WEB_HOST": "0.0.0.0",
            "MINWON_WEB_PORT": "8443",
            "MINWON_ACTIVITY_THREADS": "4",
            "MINWON_WORKFLOW_CACHE": "0",
            "MINWON_TASK_POLLS": "6",
            "MINWON_STICKY_SECONDS": "12.5",
            "MINWON_WORKFLOW_SANDBOX": "on",
            "MINWON_WORKER_ROLE": " Workflows ",
            "MINWON_RETENTION_SCHEDULE": "off",
            "MINWON_PUBLIC_URL": "https://minwon.example.org/",
            "MINWON_OUTBOX": "/srv/minwon/outbox.jsonl",
            "MINWON_CHECKPOINT_FILE": "/srv/minwon/checkpoints.jsonl",
            "MINWON_CHECKPOINT_EVENTS": "50",
            "MINWON_CHECKPOINT_MINUTES": "7.5",
            "MINWON_RECONCILE_MINUTES": "0.05",
            "MINWON_RESTORE_LIMIT": "2",
            "MINWON_TRUSTED_PROXIES": "10.0.0.1, 10.0.1.0/24,",
            "MINWON_PAYLOAD_KEY": "k",
        }
    )
    assert settings.log_level == "DEBUG" and settings.serve_web
    assert (settings.web_host, settings.web_port) == ("0.0.0.0", 8443)
    assert (settings.activity_threads, settings.workflow_cache) == (4, 0)
    assert settings.task_polls == 6 and settings.sticky_seconds == 12.5
    assert settings.workflow_sandbox and settings.worker_role == "workflows"
    assert not settings.schedules
    assert settings.public_url == "https://minwon.example.org"
    assert settings.outbox == Path("/srv/minwon/outbox.jsonl")
    assert settings.checkpoint_file == Path("/srv/minwon/checkpoints.jsonl")
    assert (settings.checkpoint_events, settings.checkpoint_minutes) == (50, 7.5)
    assert (settings.reconcile_minutes, settings.restore_limit) == (0.05, 2)
    assert settings.trusted_proxies == ("10.0.0.1", "10.0.1.0/24")
    assert settings.has_payload_key
    # The families of variables parsed where they are used travel whole.
    assert settings.env["MINWON_PAYLOAD_KEY"] == "k"


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("MINWON_WEB_PORT", "eighty", "write a whole number"),
        ("MINWON_WEB_PORT", "70000", "less than or equal to 65535"),
        ("MINWON_ACTIVITY_THREADS", "0", "greater than or equal to 1"),
        ("MINWON_TASK_POLLS", "1", "greater than or equal to 2"),
        ("MINWON_STICKY_SECONDS", "0.5", "greater than or equal to 1"),
        ("MINWON_STICKY_SECONDS", "a minute", "write a number"),
        ("MINWON_SERVE_WEB", "maybe", "write one of on/off"),
        ("MINWON_LOG_LEVEL", "LOUD", "Input should be 'DEBUG'"),
        ("MINWON_PUBLIC_URL", "minwon.example.org", "write the address residents open"),
        ("MINWON_CHECKPOINT_MINUTES", "0", "greater than 0"),
        ("MINWON_WORKER_ROLE", "both", "Input should be 'all', 'workflows' or 'activities'"),
    ],
)
def test_a_value_that_does_not_parse_names_its_variable(
    variable: str, value: str, said: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.load({variable: value})
    assert f"{variable}={value!r}" in str(refused.value)
    assert said in str(refused.value)


def test_two_bad_values_are_both_named() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.load({"MINWON_WEB_PORT": "x", "MINWON_RESTORE_LIMIT": "0"})
    assert "MINWON_WEB_PORT='x'" in str(refused.value)


def test_nothing_but_the_settings_reads_the_environment() -> None:
    """`os.environ` and `os.getenv` appear only in the one reader (and the HTTP client)."""
    readers = set()
    for top in RUNNING_CODE:
        for path in [ROOT / top] if top.endswith(".py") else (ROOT / top).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "os"
                    and node.attr in ("environ", "getenv", "environb", "putenv")
                ):
                    readers.add(str(path.relative_to(ROOT)))
    assert readers == READERS


def test_workflow_code_runs_in_the_sandbox_only_when_asked() -> None:
    assert isinstance(workflow_runner(Settings.load({})), UnsandboxedWorkflowRunner)
    sandboxed = Settings.load({"MINWON_WORKFLOW_SANDBOX": "on"})
    assert isinstance(workflow_runner(sandboxed), SandboxedWorkflowRunner)
    with pytest.raises(SettingsError, match="MINWON_WORKFLOW_SANDBOX='maybe'"):
        Settings.load({"MINWON_WORKFLOW_SANDBOX": "maybe"})
    # The workers this test process builds run workflow code in the sandbox (conftest).
    assert isinstance(workflow_runner(Settings.load()), SandboxedWorkflowRunner)
