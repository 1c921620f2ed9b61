"""`minwon deadline`: when a commitment made at a given moment falls due.

Staff use it to answer "by when must we reply?" and auditors to check a recorded
deadline against the calendar, so it prints the rule used, every day skipped and
what was counted. With `--hours` it counts a duration instead (a warning's lead
time with `--before`, an escalation window), in working or clock hours.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cli.errors import CliError, server_settings
from domain.calendar import (
    COUNTING_RULES,
    HOUR_COUNTINGS,
    BusinessCalendar,
    CalendarError,
    CountingRule,
    Deadline,
    HourCounting,
    to_seoul,
)
from domain.policy import OVERRIDES_ENV, PolicyError, load_policy, overrides_path, policy_path

_METHOD_DESCRIPTIONS = {
    "working_hours": "counted in working hours (8 per day, 09:00–12:00 and 13:00–18:00)",
    "working_days": "counted in working days, the day of receipt first, due at 18:00",
    "calendar_days": (
        "counted in calendar days by 민법 §157 (the day of receipt is not counted unless "
        "received at 00:00) and §161 (a last day on a Saturday or holiday moves to the "
        "next day), due when the last day ends (24:00)"
    ),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "deadline",
        help="compute when a commitment falls due",
        description=(
            "Compute the due moment of a commitment of DAYS days from the moment of "
            "receipt, per 민원 처리에 관한 법률 §19 (rule 'business') or in plain "
            "calendar days (rule 'calendar'). With --hours, the moment a duration of "
            "H working (or clock) hours after it ends, or --before it begins: how a "
            "warning's lead time or an escalation window is counted. Times are shown "
            "in Asia/Seoul."
        ),
    )
    parser.add_argument(
        "--received",
        "--from",
        dest="received",
        required=True,
        metavar="ISO_DATETIME",
        help=(
            "moment of receipt (or to count from) with its UTC offset, e.g. 2026-09-21T10:00+09:00"
        ),
    )
    # Parsed in `run`, not by argparse, so a bad value is one `minwon:` line.
    span = parser.add_mutually_exclusive_group(required=True)
    span.add_argument("--days", metavar="N", help="period in days (1 or more)")
    span.add_argument("--hours", metavar="H", help="a duration in hours (0 or more)")
    parser.add_argument(
        "--counting",
        choices=HOUR_COUNTINGS,
        default="working",
        help="with --hours: working hours (default) or clock hours",
    )
    parser.add_argument(
        "--before",
        action="store_true",
        help="with --hours: count back from the moment (a warning before a due)",
    )
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
    overrides = _overrides_path(args.overrides)
    try:
        calendar = BusinessCalendar.from_override_file(overrides)
        if args.hours is not None:
            document = _duration(
                calendar, received, _parse_hours(args.hours), args.counting, args.before
            )
            print(
                json.dumps(document, ensure_ascii=False) if args.json else _duration_text(document)
            )
            return 0
        rule: CountingRule = args.rule
        deadline = calendar.due(received, _parse_days(args.days), rule)
    except CalendarError as error:
        raise CliError(str(error)) from error
    if args.json:
        print(json.dumps(_as_json(deadline), ensure_ascii=False))
    else:
        print(_as_text(deadline))
    return 0


def _parse_hours(value: str) -> float:
    try:
        hours = float(value)
    except ValueError:
        raise CliError(f"--hours {value!r} is not a number of hours") from None
    if not 0 <= hours <= 24 * 365:
        raise CliError(f"--hours must be between 0 and {24 * 365}, got {value}")
    return hours


def _duration(
    calendar: BusinessCalendar,
    moment: datetime,
    hours: float,
    counting: HourCounting,
    before: bool,
) -> dict[str, Any]:
    """A duration counted as the engine counts warnings and escalation windows."""
    moment = to_seoul(moment)
    if before:
        start, end = calendar.hours_before(moment, hours, counting), moment
    else:
        start, end = moment, calendar.hours_after(moment, hours, counting)
    spans = calendar.working_spans(start, end) if counting == "working" else ((start, end),)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "moment": (start if before else end).isoformat(),
        "hours": hours,
        "counting": counting,
        "direction": "before" if before else "after",
        "counted": [_span_json(opens, closes) for opens, closes in spans],
    }


def _span_json(opens: datetime, closes: datetime) -> dict[str, Any]:
    return {
        "from": opens.isoformat(),
        "to": closes.isoformat(),
        "hours": (closes - opens) / timedelta(hours=1),
    }


def _duration_text(document: dict[str, Any]) -> str:
    unit = "working hours" if document["counting"] == "working" else "clock hours"
    where = "before" if document["direction"] == "before" else "after"
    anchor = document["to"] if where == "before" else document["from"]
    lines = [
        document["moment"],
        f"{document['hours']:g} {unit} {where} {anchor}",
        "counted:",
    ]
    lines.extend(
        _span_line(datetime.fromisoformat(span["from"]), datetime.fromisoformat(span["to"]))
        for span in document["counted"]
    )
    if not document["counted"]:
        lines[-1] = "counted: nothing (0 hours)"
    return "\n".join(lines)


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
    env = server_settings().env
    source = policy_path(env)
    try:
        policy = load_policy(source)
    except PolicyError as error:
        raise CliError(f"invalid policy {error}") from None
    return overrides_path(policy, source, env)


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
        "counted": [_span_json(opens, closes) for opens, closes in deadline.counted],
    }


def _as_text(deadline: Deadline) -> str:
    lines = [
        deadline.due.isoformat(),
        f"received {deadline.received.isoformat()}, "
        f"{deadline.days} day{'' if deadline.days == 1 else 's'}, "
        f"rule {deadline.rule}: {_METHOD_DESCRIPTIONS[deadline.method]}",
    ]
    if deadline.method == "working_days":
        lines.append(
            "counted: " + ", ".join(opens.date().isoformat() for opens, _ in deadline.counted)
        )
    elif deadline.method == "working_hours":
        lines.append("counted:")
        lines.extend(_span_line(opens, closes) for opens, closes in deadline.counted)
    else:
        ((opens, closes),) = deadline.counted
        lines.append(
            f"counted: {opens.date().isoformat()} to the end of "
            f"{(closes - timedelta(days=1)).date().isoformat()}"
        )
    if deadline.skipped:
        lines.append(
            "last day moved past (민법 §161):"
            if deadline.method == "calendar_days"
            else "not counted:"
        )
        lines.extend(
            f"  {skipped.day.isoformat()} {skipped.reason}" for skipped in deadline.skipped
        )
    elif deadline.method != "calendar_days":
        lines.append("not counted: none")
    return "\n".join(lines)


def _span_line(opens: datetime, closes: datetime) -> str:
    return (
        f"  {opens.strftime('%Y-%m-%d %H:%M')}–{closes.strftime('%H:%M')} "
        f"({(closes - opens) / timedelta(hours=1):g} h)"
    )
