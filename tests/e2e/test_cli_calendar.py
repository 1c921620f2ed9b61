"""Working time and calendar changes through the CLI on a running stack: the
dev server, a worker with the real activities, the API under uvicorn, and the
installed `minwon` command (as staff with a token, and as the server host)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.calendar import BusinessCalendar, to_seoul
from tests.support.api import TEST_KEY_TEXT
from tests.support.files import write
from tests.support.keys import TEST_KEK_TEXT
from tests.support.web import WebStack, minwon, web_stack
from workflows.models import ReconcileRequest
from workflows.reconcile import ReconcileWorkflow

pytestmark = pytest.mark.temporal

MINWON = Path(sys.executable).parent / "minwon"


@pytest.fixture(scope="module")
def overrides(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("calendar") / "overrides.toml"
    write(path, "")
    return path


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, overrides: Path) -> Iterator[WebStack]:
    folder = tmp_path_factory.mktemp("stack")
    with web_stack(folder, env={"MINWON_CALENDAR_OVERRIDES": str(overrides)}) as stack:
        yield stack


def staff(web: WebStack, *args: str) -> subprocess.CompletedProcess[str]:
    return minwon(web, *args, token=web.token("lee.service"))


def file_inquiry(web: WebStack) -> dict[str, Any]:
    filed = minwon(
        web,
        "file", "--channel", "email", "--category", "inquiry", "--topic", "program",
        "--contact", "010-1234-5678", "--text", "프로그램 일정 문의", "--json",
        token=web.token("han.ops"),
    )  # fmt: skip
    assert filed.returncode == 0, filed.stderr
    case: dict[str, Any] = json.loads(filed.stdout)["case"]
    return case


def show(web: WebStack, code: str) -> dict[str, Any]:
    shown = staff(web, "show", code, "--json")
    assert shown.returncode == 0, shown.stderr
    view: dict[str, Any] = json.loads(shown.stdout)
    return view


def reply_of(view: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in view["commitments"] if c["kind"] == "reply")


def moment(text: str) -> datetime:
    return to_seoul(datetime.fromisoformat(text))


def admin(web: WebStack, overrides: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`minwon admin …` as the server host runs it: with the server's settings."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "TEMPORAL_ADDRESS": web.client.service_client.config.target_host,
        "MINWON_TASK_QUEUE": web.task_queue,
        "MINWON_PAYLOAD_KEY": TEST_KEY_TEXT,
        "MINWON_KEK": TEST_KEK_TEXT,
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": web.complaints.env["SQLITE_DBNAME"],
        "MINWON_CALENDAR_OVERRIDES": str(overrides),
    }
    return subprocess.run(
        [str(MINWON), "admin", *args], env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_an_inquirys_warning_lies_its_policy_hours_of_working_time_before_its_due(
    web: WebStack,
) -> None:
    reply = reply_of(show(web, file_inquiry(web)["receipt_code"]))

    hours = BusinessCalendar().working_hours_between(moment(reply["warn_at"]), moment(reply["due"]))
    assert hours == 24  # warn_before_hours of the shipped policy's inquiry


def test_an_interim_reply_to_exactly_seven_working_days_after_the_due_is_accepted_not_one_more(
    web: WebStack,
) -> None:
    case = file_inquiry(web)
    code = case["receipt_code"]
    reply = reply_of(show(web, code))
    latest = moment(reply["extend_until"])
    calendar = web.complaints.calendar
    due = moment(reply["due"])
    days_after = [due.date() + timedelta(days=n) for n in range(1, (latest - due).days + 1)]
    assert latest.hour == 18
    assert sum(calendar.is_working_day(day) for day in days_after) == 7
    one_more = calendar.period_ends_around(latest, "working_days")[1]

    refused = staff(
        web, "interim_reply", code, "--reason", "외부 기관 확인", "--new-due", one_more.isoformat()
    )
    accepted = staff(
        web, "interim_reply", code, "--reason", "외부 기관 확인", "--new-due", latest.isoformat()
    )

    assert refused.returncode != 0
    assert f"latest valid moment {latest.isoformat()}" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert moment(reply_of(show(web, code))["due"]) == latest


def test_a_holiday_added_to_the_override_file_moves_the_due_after_admin_calendar_reload(
    web: WebStack, overrides: Path
) -> None:
    first = admin(web, overrides, "calendar", "reload")
    assert first.returncode == 0, first.stderr
    case = file_inquiry(web)
    code = case["receipt_code"]
    due = moment(reply_of(show(web, code))["due"])
    received = moment(case["received_at"])
    third: date = web.complaints.calendar.due(received, 7).counted[2][0].date()
    expected = BusinessCalendar(extra_holidays={third: "임시공휴일"}).due(received, 7).due

    write(overrides, f'[[holiday]]\ndate = {third.isoformat()}\nname = "임시공휴일"\n')
    started = time.monotonic()
    reloaded = admin(web, overrides, "calendar", "reload")
    took = time.monotonic() - started

    assert reloaded.returncode == 0, reloaded.stderr
    assert f"+ {third.isoformat()} 임시공휴일" in reloaded.stdout
    assert code in reloaded.stdout
    moved = reply_of(show(web, code))
    assert moment(moved["due"]) == expected > due
    print(f"reload moved the due in {took:.1f} s")
    again = admin(web, overrides, "calendar", "reload")
    assert "no change to the days off" in again.stdout
    assert "0 due date(s) moved" in again.stdout


def test_calendar_diff_shows_what_another_holidays_release_would_change(tmp_path: Path) -> None:
    # A stand-in for another release: the installed one's days plus one.
    package = tmp_path / "release" / "holidays"
    package.mkdir(parents=True)
    year = date.today().year + 1
    (package / "__init__.py").write_text(
        "import sys, importlib\n"
        "__version__ = '9.9.9'\n"
        f"_path = [p for p in sys.path if p != {str(tmp_path / 'release')!r}]\n"
        "def country_holidays(country, years, language):\n"
        "    saved, sys.path[:] = sys.path[:], _path\n"
        "    del sys.modules['holidays']\n"
        "    try:\n"
        "        real = importlib.import_module('holidays')\n"
        "        days = dict(real.country_holidays(country, years=years, language=language))\n"
        "    finally:\n"
        "        sys.path[:] = saved\n"
        f"    if years == {year}:\n"
        f"        days[__import__('datetime').date({year}, 3, 3)] = '임시공휴일'\n"
        "    return days\n",
        encoding="utf-8",
    )

    result = subprocess.run(
        [str(MINWON), "admin", "calendar", "diff", "--holidays-from", str(tmp_path / "release")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "→ 9.9.9" in result.stdout
    assert f"  + {year}-03-03 임시공휴일" in result.stdout
    assert "1 day(s) off added, 0 removed, 0 renamed" in result.stdout


def test_the_scheduled_reconcile_pass_follows_a_changed_override_file(
    web: WebStack, overrides: Path
) -> None:
    """What the schedule minwon-reconcile starts, run once by hand: no reload needed."""
    admin(web, overrides, "calendar", "reload")
    case = file_inquiry(web)
    code = case["receipt_code"]
    received = moment(case["received_at"])
    fourth: date = web.complaints.calendar.due(received, 7).counted[3][0].date()
    calendar = web.complaints.calendar.with_extra_holiday(fourth, "임시공휴일")
    expected = calendar.due(received, 7).due
    text = overrides.read_text(encoding="utf-8")
    write(overrides, text + f'[[holiday]]\ndate = {fourth.isoformat()}\nname = "임시공휴일"\n')

    web.run(
        web.client.execute_workflow(
            ReconcileWorkflow.run,
            ReconcileRequest(),
            id=f"reconcile-test-{code}",
            task_queue=web.task_queue,
        ),
        timeout=120,
    )

    assert moment(reply_of(show(web, code))["due"]) == expected
    rescheduled = [
        e
        for e in web.complaints.history(web.complaints.case_id_for_receipt(code))
        if type(e).__name__ == "CommitmentRescheduled"
    ]
    assert [e.added for e in rescheduled] == [{fourth.isoformat(): "임시공휴일"}]  # type: ignore[attr-defined]
