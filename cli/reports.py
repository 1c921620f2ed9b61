"""Reading the read models: `minwon cases` and `minwon report compliance|sla|staff|notices`.

Each command is one call to the HTTP API (`GET /api/cases`, `GET /api/reports/…`,
see `web.reports`): the server brings the views up to date, decides what the
token's holder may see, and renders the answer, which is printed as it comes.
Text for a terminal; CSV and JSON for machines.

Options are checked here only where that gives a clearer message (naming the
option); the server checks them all again.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cli import remote
from cli.errors import CliError

FORMATS = ("text", "csv", "json")
_DURATION = re.compile(r"^\d+[dh]$")


def register(subparsers: Any) -> None:
    cases = subparsers.add_parser(
        "cases",
        help="the case board: open cases by next due, overdue marked",
        description=(
            "Open cases from the case board, the earliest next due first; a private "
            "(비공개) case only to those who may see it."
        ),
    )
    cases.add_argument("--overdue", action="store_true", help="only cases past a deadline")
    cases.add_argument(
        "--due-within", metavar="2d|36h", help="only cases due within this time (overdue too)"
    )
    cases.add_argument("--escalated", action="store_true", help="only escalated cases")
    cases.add_argument("--assignee", metavar="STAFF", help="only this staff member's cases")
    cases.add_argument("--all", action="store_true", help="closed and withdrawn cases too")
    cases.add_argument(
        "--at", metavar="ISO_DATETIME", help="judge overdue as of this moment (default: now)"
    )
    cases.add_argument("--json", action="store_true", help="print JSON")
    cases.set_defaults(handler=run_cases)

    report = subparsers.add_parser("report", help="reports from the read models")
    reports = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    compliance = reports.add_parser(
        "compliance", help="the charter's yearly self-assessment (commitments, escalations…)"
    )
    compliance.add_argument("--year", help="calendar year, Asia/Seoul (default: this year)")
    _format_option(compliance)
    compliance.set_defaults(handler=_report("compliance"))

    sla = reports.add_parser("sla", help="commitments kept and breached, by month and kind")
    sla.add_argument("--year", help="one year's months only")
    _format_option(sla)
    sla.set_defaults(handler=_report("sla"))

    staff = reports.add_parser(
        "staff", help="per staff member: cases, breaches, commendations, corrective actions"
    )
    _format_option(staff)
    staff.set_defaults(handler=_report("staff"))

    notices = reports.add_parser("notices", help="public notices for the homepage")
    _format_option(notices)
    notices.set_defaults(handler=_report("notices"))


def _format_option(parser: argparse.ArgumentParser) -> None:
    # Checked in the handler, not by argparse, so a bad value is one `minwon:` line.
    parser.add_argument("--format", default="text", help="text, csv or json (default: text)")


def _chosen_format(args: argparse.Namespace) -> str:
    if args.format not in FORMATS:
        raise CliError(f"--format must be one of {', '.join(FORMATS)}, not {args.format!r}")
    return str(args.format)


def _year(text: str | None) -> str | None:
    if text is not None and not re.fullmatch(r"\d{4}", text):
        raise CliError(f"--year takes a year like 2026, not {text!r}")
    return text


def _duration(text: str | None) -> str | None:
    if text is not None and not _DURATION.match(text.strip()):
        raise CliError(f"--due-within takes a duration like 2d or 36h, not {text!r}")
    return text.strip() if text is not None else None


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--at takes an ISO date-time, not {text!r}") from None
    if moment.tzinfo is None:
        raise CliError(f"--at {text!r} needs an offset, e.g. {text}+09:00")
    return moment


def run_cases(args: argparse.Namespace) -> int:
    params = {
        "all": args.all,
        "overdue": args.overdue,
        "due_within": _duration(args.due_within),
        "escalated": args.escalated,
        "assignee": args.assignee,
        "at": _moment(args.at),
        "format": "json" if args.json else "text",
    }
    return remote.printed(remote.request("GET", "/api/cases", params=params))


def _report(name: str) -> Callable[[argparse.Namespace], int]:
    """The handler of `minwon report NAME`: `GET /api/reports/NAME`."""

    def run(args: argparse.Namespace) -> int:
        params = {"format": _chosen_format(args), "year": _year(getattr(args, "year", None))}
        return remote.printed(remote.request("GET", f"/api/reports/{name}", params=params))

    run.__name__ = f"run_{name}"
    return run
