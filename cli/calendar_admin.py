"""`minwon admin calendar …`: the calendar changes, on the server host.

- `reload [--dry-run] [--everything] [--json]` reads the override file now (every
  process also reads it again by itself when it changes), records what it changed
  in the days off, and recounts every open case it moves: each records
  `CommitmentRescheduled`, its timers follow, the resident hears of a later due.
- `diff --holidays-from PATH [--years N] [--json]` shows what another release of
  the `holidays` package (a wheel or a folder holding it, e.g. from `pip download
  holidays==X --no-deps`) would change in the days off this year and the next N,
  so an upgrade of the pinned version is a reviewed change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.errors import CliError, server_settings

if TYPE_CHECKING:
    from workflows.models import CalendarReport

DEFAULT_YEARS = 3
# Runs in a fresh interpreter, so the release under `path` is imported instead of ours.
_READ_RELEASE = """
import json, sys
path, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if path:
    sys.path.insert(0, path)
import holidays
days = {}
for year in range(first, last + 1):
    for day, name in holidays.country_holidays("KR", years=year, language="ko").items():
        days[day.isoformat()] = name
print(json.dumps({"version": getattr(holidays, "__version__", "?"), "days": days}))
"""


def register(actions: Any, admin_note: str) -> None:
    calendar = actions.add_parser(
        "calendar",
        help="follow a change of the calendar now, or review a new holidays release",
        description=(__doc__ or "").split("\n\n")[1] + " " + admin_note,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steps = calendar.add_subparsers(dest="calendar_command", required=True, metavar="STEP")
    reload = steps.add_parser(
        "reload",
        help="read the override file now and recount the open cases it moves",
        description=(
            "Read the calendar override file now, record what it changes in the days "
            "off, and recount every open case whose due moves. " + admin_note
        ),
    )
    reload.add_argument("--dry-run", action="store_true", help="record nothing; list what moves")
    reload.add_argument(
        "--everything",
        action="store_true",
        help="look at every open case even if the days off did not change",
    )
    reload.add_argument("--json", action="store_true", help="print the report as JSON")
    reload.set_defaults(handler=run_reload)
    diff = steps.add_parser(
        "diff",
        help="what another holidays release changes in the days off",
        description=(
            "Compare the installed holidays release with another one (a wheel or a folder "
            "holding the package) for this year and the next N years."
        ),
    )
    diff.add_argument("--holidays-from", required=True, metavar="PATH", type=Path)
    diff.add_argument(
        "--years", type=int, default=DEFAULT_YEARS, help=f"years ahead (default {DEFAULT_YEARS})"
    )
    diff.add_argument("--json", action="store_true", help="print one JSON object")
    diff.set_defaults(handler=run_diff)


def run_reload(args: argparse.Namespace) -> int:
    # The server's own modules: only this command needs Temporal and the store.
    from activities.calendar import CalendarWatch
    from application.store import open_complaints
    from domain.calendar import CalendarError
    from workflows.client import TemporalSettings, connect

    process = server_settings()
    settings = TemporalSettings.from_env(process.env)
    complaints = open_complaints(process.env)
    try:
        if complaints.calendar_error is not None:
            raise CliError(f"calendar overrides not used: {complaints.calendar_error}")

        async def work() -> CalendarReport:
            client = await connect(settings, env=process.env, dev=not process.has_payload_key)
            watch = CalendarWatch(complaints, client)
            return await watch.follow(everything=args.everything, dry_run=args.dry_run)

        try:
            report = asyncio.run(work())
        except CalendarError as error:
            raise CliError(str(error)) from None
        except RuntimeError as error:
            raise CliError(f"cannot reach Temporal at {settings.address}: {error}", 3) from None
        change = complaints.calendar_change(report.change) if report.change else None
    finally:
        complaints.close()
    if args.json:
        print(report.model_dump_json(indent=2))
        return 0
    source = complaints.calendar_source
    if change is None:
        print(f"{source}: no change to the days off" + (" (dry run)" if args.dry_run else ""))
    else:
        print(f"{source}: calendar change #{change.number}")
        for day, reason in sorted(change.added.items()):
            print(f"  + {day} {reason}")
        for day, reason in sorted(change.removed.items()):
            print(f"  - {day} {reason}")
    for moved in report.moved:
        print(
            f"{moved.receipt_code:<15} {moved.kind:<13} {_at(moved.previous_due)} → "
            f"{_at(moved.new_due)}"
        )
    verb = "would move" if args.dry_run else "moved"
    print(f"{len(report.moved)} due date(s) {verb}")
    return 0


def _at(moment: Any) -> str:
    from domain.calendar import to_seoul

    return str(to_seoul(moment).strftime("%Y-%m-%d %H:%M"))


def release_days(path: Path | None, first: int, last: int) -> dict[str, Any]:
    """The KR holidays of a holidays release (the installed one without `path`)."""
    result = subprocess.run(
        [sys.executable, "-c", _READ_RELEASE, str(path or ""), str(first), str(last)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise CliError(f"cannot read the holidays release at {path}: {last_line}")
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def run_diff(args: argparse.Namespace) -> int:
    from domain.calendar_record import diff_days

    if not args.holidays_from.exists():
        raise CliError(f"--holidays-from {args.holidays_from}: no such file or folder")
    if not 0 <= args.years <= 20:
        raise CliError(f"--years must be between 0 and 20, got {args.years}")
    first = date.today().year
    last = first + args.years
    installed = release_days(None, first, last)
    other = release_days(args.holidays_from.resolve(), first, last)
    added, removed, renamed = diff_days(installed["days"], other["days"])
    if args.json:
        print(
            json.dumps(
                {
                    "installed": installed["version"],
                    "other": other["version"],
                    "years": [first, last],
                    "added": added,
                    "removed": removed,
                    "renamed": {day: list(names) for day, names in renamed.items()},
                },
                ensure_ascii=False,
            )
        )
        return 0
    print(
        f"holidays {installed['version']} (installed) → {other['version']} "
        f"({args.holidays_from}), {first}–{last}"
    )
    for day in sorted({*added, *removed, *renamed}):
        if day in added:
            print(f"  + {day} {added[day]}")
        elif day in removed:
            print(f"  - {day} {removed[day]}")
        else:
            print(f"  ~ {day} {renamed[day][0]} → {renamed[day][1]}")
    changes = len(added) + len(removed)
    print(
        f"{len(added)} day(s) off added, {len(removed)} removed, {len(renamed)} renamed"
        + ("" if changes else ": no due date would move")
    )
    return 0
