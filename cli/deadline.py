"""`minwon deadline`: when a commitment made at a given moment falls due.

Staff use it to answer "by when must we reply?" and auditors to check a recorded
deadline against the calendar, so it prints the rule used and every day skipped.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from cli.errors import CliError
from domain.calendar import (
    COUNTING_RULES,
    BusinessCalendar,
    CalendarError,
    CountingRule,
    Deadline,
)
from domain.policy import OVERRIDES_ENV, PolicyError, load_policy, overrides_path, policy_path

_METHOD_DESCRIPTIONS = {
    "working_hours": "counted in working hours (8 per day, 09:00–12:00 and 13:00–18:00)",
    "working_days": "counted in working days, the day of receipt first, due at 18:00",
    "calendar_days": "counted in calendar days, nothing skipped",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "deadline",
        help="compute when a commitment falls due",
        description=(
            "Compute the due moment of a commitment of DAYS days from the moment of "
            "receipt, per 민원 처리에 관한 법률 §19 (rule 'business') or in plain "
            "calendar days (rule 'calendar'). Times are shown in Asia/Seoul."
        ),
    )
    parser.add_argument(
        "--received",
        required=True,
        metavar="ISO_DATETIME",
        help="moment of receipt with its UTC offset, e.g. 2026-09-21T10:00+09:00",
    )
    # Parsed in `run`, not by argparse, so a bad value is one `minwon:` line.
    parser.add_argument("--days", required=True, metavar="N", help="period in days (1 or more)")
    parser.add_argument(
        "--rule",
        choices=COUNTING_RULES,
        default="business",
        help="counting rule (default: business)",
    )
    parser.add_argument(
        "--overrides",
        metavar="FILE",
        help=(
            "calendar override file (added holidays, center closures); default: "
            f"${OVERRIDES_ENV}, else the file the policy names (policy/calendar-overrides.toml)"
        ),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    received = _parse_received(args.received)
    days = _parse_days(args.days)
    rule: CountingRule = args.rule
    overrides = _overrides_path(args.overrides)
    try:
        calendar = BusinessCalendar.from_override_file(overrides)
        deadline = calendar.due(received, days, rule)
    except CalendarError as error:
        raise CliError(str(error)) from error
    if args.json:
        print(json.dumps(_as_json(deadline), ensure_ascii=False))
    else:
        print(_as_text(deadline))
    return 0


def _parse_received(value: str) -> datetime:
    try:
        received = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(
            f"--received {value!r} is not an ISO 8601 date and time; "
            "write e.g. 2026-09-21T10:00+09:00"
        ) from None
    if received.tzinfo is None or received.utcoffset() is None:
        raise CliError(
            f"--received {value!r} has no UTC offset; add one such as +09:00 "
            "(e.g. 2026-09-21T10:00+09:00)"
        )
    return received


def _parse_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise CliError(f"--days {value!r} is not a whole number of days") from None
    if days < 1:
        raise CliError(f"--days must be at least 1, got {days}")
    return days


def _overrides_path(given: str | None) -> Path:
    """--overrides, else the file the service would use (env, then the policy's)."""
    if given:
        return Path(given)
    source = policy_path(os.environ)
    try:
        policy = load_policy(source)
    except PolicyError as error:
        raise CliError(f"invalid policy {error}") from None
    return overrides_path(policy, source, os.environ)


def _as_json(deadline: Deadline) -> dict[str, Any]:
    return {
        "received": deadline.received.isoformat(),
        "due": deadline.due.isoformat(),
        "days": deadline.days,
        "rule": deadline.rule,
        "method": deadline.method,
        "skipped": [
            {"date": skipped.day.isoformat(), "reason": skipped.reason}
            for skipped in deadline.skipped
        ],
    }


def _as_text(deadline: Deadline) -> str:
    lines = [
        deadline.due.isoformat(),
        f"received {deadline.received.isoformat()}, "
        f"{deadline.days} day{'' if deadline.days == 1 else 's'}, "
        f"rule {deadline.rule}: {_METHOD_DESCRIPTIONS[deadline.method]}",
    ]
    if deadline.skipped:
        lines.append("not counted:")
        lines.extend(
            f"  {skipped.day.isoformat()} {skipped.reason}" for skipped in deadline.skipped
        )
    elif deadline.method != "calendar_days":
        lines.append("not counted: none")
    return "\n".join(lines)
