"""`minwon deadline`, through the same entry point as the installed command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main


@pytest.fixture(autouse=True)
def shipped_overrides_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # An override file set in the developer's shell must not change the answers.
    monkeypatch.delenv("MINWON_CALENDAR_OVERRIDES", raising=False)


@pytest.fixture(autouse=True)
def staff_member_on_a_scratch_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The command reads nothing of a case or a person: it needs no login and no store.
    monkeypatch.delenv("MINWON_TOKEN", raising=False)
    monkeypatch.setenv("MINWON_URL", "http://127.0.0.1:9")


def run_minwon(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_thursday_october_first_for_seven_days_from_monday_before_chuseok(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_minwon(
        capsys, "deadline", "--received", "2026-09-21T10:00+09:00", "--days", "7"
    )

    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "2026-10-01T18:00:00+09:00"
    assert "working days" in out
    assert "2026-09-25 추석" in out


def test_prints_wednesday_four_pm_for_three_days_from_friday_afternoon(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_minwon(
        capsys, "deadline", "--received", "2026-07-10T16:00+09:00", "--days", "3"
    )

    assert code == 0
    assert out.splitlines()[0] == "2026-07-15T16:00:00+09:00"
    assert "working hours" in out


def test_calendar_rule_is_chosen_with_rule_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_minwon(
        capsys,
        "deadline",
        "--received",
        "2026-09-21T10:00+09:00",
        "--days",
        "7",
        "--rule",
        "calendar",
    )

    assert code == 0
    # 민법 §157: the day of receipt is left out; the seventh day (Mon 09-28) ends at 24:00.
    assert out.splitlines()[0] == "2026-09-29T00:00:00+09:00"
    assert "counted: 2026-09-22 to the end of 2026-09-28" in out


def test_a_working_hours_duration_before_a_due_shows_each_stretch_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_minwon(
        capsys, "deadline", "--from", "2026-09-30T16:00+09:00", "--hours", "8", "--before"
    )

    assert code == 0
    assert out.splitlines() == [
        "2026-09-29T16:00:00+09:00",
        "8 working hours before 2026-09-30T16:00:00+09:00",
        "counted:",
        "  2026-09-29 16:00–18:00 (2 h)",
        "  2026-09-30 09:00–12:00 (3 h)",
        "  2026-09-30 13:00–16:00 (3 h)",
    ]


def test_an_escalation_window_after_a_friday_breach_ends_on_wednesday_in_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_minwon(
        capsys, "deadline", "--from", "2026-07-10T18:00+09:00", "--hours", "24", "--json"
    )

    assert code == 0
    document = json.loads(out)
    assert document["moment"] == "2026-07-15T18:00:00+09:00"
    assert document["counting"] == "working"
    assert sum(span["hours"] for span in document["counted"]) == 24
    assert document["counted"][0]["from"] == "2026-07-13T09:00:00+09:00"


def test_clock_hours_are_counted_when_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_minwon(
        capsys,
        "deadline",
        "--from",
        "2026-07-10T18:00+09:00",
        "--hours",
        "24",
        "--counting",
        "clock",
    )

    assert code == 0
    assert out.splitlines()[0] == "2026-07-11T18:00:00+09:00"


def test_json_output_is_one_object_with_the_deadline_and_skipped_days(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_minwon(
        capsys, "deadline", "--received", "2026-09-21T01:00Z", "--days", "7", "--json"
    )

    assert code == 0
    document = json.loads(out)
    assert document["received"] == "2026-09-21T10:00:00+09:00"
    assert document["due"] == "2026-10-01T18:00:00+09:00"
    assert document["days"] == 7
    assert document["rule"] == "business"
    assert document["method"] == "working_days"
    assert {"date": "2026-09-24", "reason": "추석 전날"} in document["skipped"]
    # Korean reasons stay readable rather than \uXXXX escapes.
    assert "추석" in out


def test_override_file_from_the_environment_replaces_the_shipped_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    overrides = tmp_path / "overrides.toml"
    overrides.write_text('[[closure]]\ndate = 2026-09-30\nname = "임시 휴관"\n', encoding="utf-8")
    monkeypatch.setenv("MINWON_CALENDAR_OVERRIDES", str(overrides))

    code, out, _ = run_minwon(
        capsys, "deadline", "--received", "2026-09-21T10:00+09:00", "--days", "7"
    )

    assert code == 0
    assert out.splitlines()[0] == "2026-10-02T18:00:00+09:00"
    assert "임시 휴관" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--received", "2026-09-21T10:00", "--days", "7"], "+09:00"),
        (["--received", "next monday", "--days", "7"], "ISO 8601"),
        (["--received", "2026-09-21T10:00+09:00", "--days", "0"], "at least 1"),
        (["--received", "2026-09-21T10:00+09:00", "--days", "seven"], "whole number"),
        (["--received", "2026-09-21T10:00+09:00", "--hours", "eight"], "number of hours"),
        (["--received", "2026-09-21T10:00+09:00", "--hours", "-1"], "between 0"),
        (
            ["--received", "2026-09-21T10:00+09:00", "--days", "7", "--overrides", "/no/such.toml"],
            "/no/such.toml",
        ),
    ],
)
def test_bad_input_is_one_minwon_line_on_stderr_and_exit_code_two(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = run_minwon(capsys, "deadline", *argv)

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("minwon: ")
    assert expected in err
    assert "Traceback" not in err


def test_bad_override_file_names_the_entry(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    overrides = tmp_path / "overrides.toml"
    overrides.write_text("[[holiday]]\ndate = 2026-09-30\n", encoding="utf-8")

    code, _, err = run_minwon(
        capsys,
        "deadline",
        "--received",
        "2026-09-21T10:00+09:00",
        "--days",
        "7",
        "--overrides",
        str(overrides),
    )

    assert code == 2
    assert err.startswith(f"minwon: {overrides}: [[holiday]] entry #1")


def installed_minwon() -> str:
    beside_python = Path(sys.executable).parent / "minwon"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("minwon")
    if found is None:
        pytest.fail("the `minwon` console script is not installed (pip install -e .)")
    return found


def test_installed_console_script_prints_the_due_moment() -> None:
    env = {key: value for key, value in os.environ.items() if key != "MINWON_CALENDAR_OVERRIDES"}

    result = subprocess.run(
        [installed_minwon(), "deadline", "--received", "2026-09-21T10:00+09:00", "--days", "7"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "2026-10-01T18:00:00+09:00"


def test_installed_console_script_exits_two_without_traceback_on_naive_time() -> None:
    env = {key: value for key, value in os.environ.items() if key != "MINWON_CALENDAR_OVERRIDES"}

    result = subprocess.run(
        [installed_minwon(), "deadline", "--received", "2026-09-21T10:00", "--days", "7"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("minwon: ")
    assert "Traceback" not in result.stderr
