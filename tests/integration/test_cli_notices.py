"""`minwon notices CODE` (and `GET /api/staff/cases/{code}/notices`): what was sent for
a case, what was given up on, and what still waits in the notice outbox, through the
real API on a store written at 7a1bfda (tests/fixtures/store-7a1bfda-notices.db)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli.main import main
from privacy.kek import KEK_ENV
from tests.support.api import api_without_temporal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXPECTED = json.loads((FIXTURES / "store-7a1bfda-notices.json").read_text(encoding="utf-8"))
CODE = EXPECTED["case"]["receipt_code"]


def test_the_notices_of_a_case_list_the_queued_ones_after_the_done_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(FIXTURES / "store-7a1bfda-notices.db", tmp_path / "events.db")
    monkeypatch.setenv(KEK_ENV, EXPECTED[KEK_ENV])

    def minwon(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(args))
        return code, capsys.readouterr().out

    with api_without_temporal(monkeypatch, tmp_path, "lee.service"):
        code, out = minwon("notices", CODE, "--json")
        assert code == 0, out
        listed = [(n["kind"], n["recipient"], n["outcome"], n["channel"]) for n in json.loads(out)]
        assert listed == [
            ("reminder", "lee.service", "sent", "email"),
            ("breach", "lee.service", "sent", "email"),
            ("overdue", "resident", "failed", None),
            ("escalation", "park.officer", "queued", None),
        ]

        code, out = minwon("notices", CODE)
        assert code == 0, out
        lines = out.splitlines()
        assert len(lines) == 4
        assert "overdue" in lines[2] and "failed" in lines[2] and "retries-exhausted" in lines[2]
        assert lines[3].split()[1:] == ["escalation", "queued", "-", "to", "park.officer"]
        print(out, end="")  # shown with -s: docs/api.md quotes it
