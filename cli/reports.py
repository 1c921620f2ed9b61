"""Reading the read models: `minwon cases` and `minwon report compliance|sla|staff|notices`.

Every command first brings the views it reads up to date (as `minwon projections
run --once` would), so what it shows is never stale; then it reads them, never
the events. Text for a terminal; CSV and JSON for machines.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from cli.actor import add_actor_option, authorise
from cli.errors import CliError
from cli.projections import open_read_models
from domain.calendar import SEOUL, to_seoul
from projections import ReadModels
from projections.case_board import BoardRow
from projections.sla_report import SlaLine, summarise

FORMATS = ("text", "csv", "json")
_DURATION = re.compile(r"^(\d+)([dh])$")
SLA_MEASURES = (
    "started",
    "met",
    "met_after_interim",
    "breached",
    "open",
    "cancelled",
    "extended",
    "median_hours",
    "p90_hours",
)
SLA_HEADINGS = (
    "started",
    "met",
    "after interim",
    "breached",
    "open",
    "cancelled",
    "extended",
    "median h",
    "p90 h",
)
SLA_NOTE = (
    "met: kept by the original deadline; after interim: kept by the deadline an interim\n"
    "reply (중간회신) set; breached: the deadline passed unkept. Hours are working hours\n"
    "from the start of the commitment to the moment it was kept (median, 90th percentile\n"
    "by nearest rank)."
)


def register(subparsers: Any) -> None:
    cases = subparsers.add_parser(
        "cases",
        help="the case board: open cases by next due, overdue marked",
        description="Open cases from the case board, the earliest next due first.",
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
    add_actor_option(cases)
    cases.set_defaults(handler=run_cases)

    report = subparsers.add_parser("report", help="reports from the read models")
    reports = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    compliance = reports.add_parser(
        "compliance", help="the charter's yearly self-assessment (commitments, escalations…)"
    )
    compliance.add_argument("--year", help="calendar year, Asia/Seoul (default: this year)")
    _format_option(compliance)
    add_actor_option(compliance)
    compliance.set_defaults(handler=run_compliance)

    sla = reports.add_parser("sla", help="commitments kept and breached, by month and kind")
    sla.add_argument("--year", help="one year's months only")
    _format_option(sla)
    add_actor_option(sla)
    sla.set_defaults(handler=run_sla)

    staff = reports.add_parser(
        "staff", help="per staff member: cases, breaches, commendations, corrective actions"
    )
    _format_option(staff)
    add_actor_option(staff)
    staff.set_defaults(handler=run_staff)

    notices = reports.add_parser("notices", help="public notices for the homepage")
    _format_option(notices)
    add_actor_option(notices)
    notices.set_defaults(handler=run_notices)


def _format_option(parser: argparse.ArgumentParser) -> None:
    # Checked in the handler, not by argparse, so a bad value is one `minwon:` line.
    parser.add_argument("--format", default="text", help="text, csv or json (default: text)")


def _chosen_format(args: argparse.Namespace) -> str:
    if args.format not in FORMATS:
        raise CliError(f"--format must be one of {', '.join(FORMATS)}, not {args.format!r}")
    return str(args.format)


def _year(text: str | None) -> int:
    if text is None:
        return datetime.now(SEOUL).year
    if not re.fullmatch(r"\d{4}", text):
        raise CliError(f"--year takes a year like 2026, not {text!r}")
    return int(text)


# -- cases ------------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise CliError(f"--due-within takes a duration like 2d or 36h, not {text!r}")
    amount, unit = int(match[1]), match[2]
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(SEOUL)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--at takes an ISO date-time, not {text!r}") from None
    if moment.tzinfo is None:
        raise CliError(f"--at {text!r} needs an offset, e.g. {text}+09:00")
    return to_seoul(moment)


def run_cases(args: argparse.Namespace) -> int:
    authorise(args, "show")
    now = _moment(args.at)
    window = parse_duration(args.due_within) if args.due_within else None
    with open_read_models(("case_board",)) as models:
        models.catch_up()
        rows = models.case_board.rows()
    selected = [
        row
        for row in rows
        if (args.all or row.is_open)
        and (not args.overdue or row.overdue(now))
        and (window is None or (row.next_due is not None and row.next_due <= now + window))
        and (not args.escalated or row.escalated)
        and (args.assignee is None or row.assignee == args.assignee)
    ]
    if args.json:
        print(json.dumps(_cases_json(selected, now), ensure_ascii=False, indent=2))
    else:
        print(_cases_text(selected, now))
    return 0


def _cases_json(rows: list[BoardRow], now: datetime) -> dict[str, Any]:
    return {
        "as_of": now.isoformat(),
        "cases": [
            {
                "receipt_code": row.receipt_code,
                "category": row.category,
                "channel": row.channel,
                "status": row.status,
                "assignee": row.assignee,
                "next_due": row.next_due.isoformat() if row.next_due else None,
                "overdue": row.overdue(now),
                "breached": row.breached,
                "escalated": row.escalated,
                "received_at": row.received_at.isoformat(),
            }
            for row in rows
        ],
    }


def _kst(moment: datetime | None) -> str:
    return to_seoul(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


def _cases_text(rows: list[BoardRow], now: datetime) -> str:
    as_of = f"as of {_kst(now)} KST"
    if not rows:
        return f"no cases match, {as_of}"
    table = [
        [
            row.receipt_code,
            row.category,
            row.channel,
            row.status,
            row.assignee or "-",
            _kst(row.next_due),
            ", ".join(
                flag
                for flag, on in (
                    ("OVERDUE", row.overdue(now)),
                    ("breached", row.breached),
                    ("escalated", row.escalated),
                )
                if on
            ),
        ]
        for row in rows
    ]
    headings = ["RECEIPT", "CATEGORY", "CHANNEL", "STATUS", "ASSIGNEE", "NEXT DUE (KST)", "FLAGS"]
    overdue = sum(1 for row in rows if row.overdue(now))
    return f"{render_table(headings, table)}\n{len(rows)} case(s), {overdue} overdue, {as_of}"


# -- compliance ---------------------------------------------------------------------------


def run_compliance(args: argparse.Namespace) -> int:
    authorise(args, "report")
    year = _year(args.year)
    output = _chosen_format(args)
    with open_read_models(("sla_report", "compliance")) as models:
        models.catch_up()
        report = compliance_report(models, year)
    if output == "json":
        print(json.dumps(report, ensure_ascii=False, indent=2))
    elif output == "csv":
        print(_compliance_csv(report), end="")
    else:
        print(_compliance_text(report))
    return 0


def compliance_report(models: ReadModels, year: int) -> dict[str, Any]:
    """The year's figures, as plain data (the JSON output; text and CSV are drawn from it)."""
    lines = {line.kind: line for line in models.sla_report.yearly(year)}
    # Every commitment the charter makes is listed, those that never started with 0.
    kinds = list(
        dict.fromkeys(
            [rule.kind for c in models.policy.categories.values() for rule in c.commitments]
            + list(lines)
        )
    )
    facts = models.compliance.year(year)
    average = facts.rating_average
    return {
        "center": models.policy.center.name,
        "year": year,
        "up_to_notification": min(models.position(name) for name in models.names),
        "commitments": {
            kind: _sla_measures(lines.get(kind) or summarise(str(year), kind, [])) for kind in kinds
        },
        "escalations": {"total": sum(facts.escalations.values()), "by_trigger": facts.escalations},
        "apologies": {"total": sum(facts.apologies.values()), "by_mode": facts.apologies},
        "corrective_actions": {
            "total": sum(facts.corrective_actions.values()),
            "by_kind": facts.corrective_actions,
        },
        "satisfaction": {
            "count": facts.rating_count,
            "average": None if average is None else round(average, 2),
            "distribution": {str(score): n for score, n in facts.ratings.items()},
        },
    }


def _sla_measures(line: SlaLine) -> dict[str, Any]:
    measures = asdict(line)
    return {name: measures[name] for name in SLA_MEASURES}


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {n}" for key, n in counts.items())


def _compliance_text(report: dict[str, Any]) -> str:
    commitments = [
        [kind, *(_number(measures[name]) for name in SLA_MEASURES)]
        for kind, measures in report["commitments"].items()
    ]
    satisfaction = report["satisfaction"]
    average = satisfaction["average"]
    distribution = ", ".join(f"{s}★ {n}" for s, n in satisfaction["distribution"].items())
    rows = [
        (
            "Escalations",
            report["escalations"]["total"],
            _counts(report["escalations"]["by_trigger"]),
        ),
        ("Apologies", report["apologies"]["total"], _counts(report["apologies"]["by_mode"])),
        (
            "Corrective actions",
            report["corrective_actions"]["total"],
            _counts(report["corrective_actions"]["by_kind"]),
        ),
    ]
    return "\n".join(
        [
            f"{report['center']} — charter self-assessment {report['year']}",
            f"(read models up to notification {report['up_to_notification']})",
            "",
            "Commitments, by the year they started",
            render_table(["KIND", *(h.upper() for h in SLA_HEADINGS)], commitments),
            SLA_NOTE,
            "",
            *(f"{label:<19} {total:>3}  ({detail})" for label, total, detail in rows),
            f"{'Satisfaction':<19} {satisfaction['count']:>3}  rating(s), average "
            f"{'-' if average is None else f'{average:.2f}'} ({distribution})",
        ]
    )


def _compliance_csv(report: dict[str, Any]) -> str:
    rows: list[tuple[Any, ...]] = []
    for kind, measures in report["commitments"].items():
        rows += [("commitments", kind, name, value) for name, value in measures.items()]
    for section, key in (
        ("escalations", "by_trigger"),
        ("apologies", "by_mode"),
        ("corrective_actions", "by_kind"),
    ):
        rows.append((section, "all", "count", report[section]["total"]))
        rows += [(section, group, "count", n) for group, n in report[section][key].items()]
    satisfaction = report["satisfaction"]
    rows.append(("satisfaction", "all", "count", satisfaction["count"]))
    rows.append(("satisfaction", "all", "average", satisfaction["average"]))
    rows += [("satisfaction", s, "count", n) for s, n in satisfaction["distribution"].items()]
    return to_csv(["section", "group", "measure", "value"], rows)


# -- the other views ------------------------------------------------------------------------


def run_sla(args: argparse.Namespace) -> int:
    authorise(args, "report")
    year = _year(args.year) if args.year else None
    output = _chosen_format(args)
    with open_read_models(("sla_report",)) as models:
        models.catch_up()
        lines = models.sla_report.monthly(year)
    headings = ["month", "kind", *SLA_MEASURES]
    rows = [[line.month, line.kind, *(_sla_measures(line).values())] for line in lines]
    note = SLA_NOTE if output == "text" else ""
    _print_rows(output, headings, rows, note=note, text_headings=["MONTH", "KIND",
                *(h.upper() for h in SLA_HEADINGS)])  # fmt: skip
    return 0


def run_staff(args: argparse.Namespace) -> int:
    authorise(args, "report")
    output = _chosen_format(args)
    with open_read_models(("staff_record",)) as models:
        models.catch_up()
        lines = models.staff_record.lines()
    rows = [list(asdict(line).values()) for line in lines]
    headings = ["staff", "cases_handled", "breaches", "commendations", "warnings", "trainings"]
    note = "commendations: cases rated 5 (매우 만족) while assigned to them" if rows else ""
    _print_rows(output, headings, rows, note=note if output == "text" else "")
    return 0


def run_notices(args: argparse.Namespace) -> int:
    authorise(args, "report")
    output = _chosen_format(args)
    with open_read_models(("public_notices",)) as models:
        models.catch_up()
        notices = models.public_notices.notices()
    headings = ["number", "receipt_code", "category", "announced_at", "public_apology",
                "apologised_at", "summary"]  # fmt: skip
    rows = [
        [
            n.number,
            n.receipt_code,
            n.category,
            _kst(n.announced_at) if output == "text" else _iso(n.announced_at),
            ("yes" if n.public_apology else "no") if output == "text" else n.public_apology,
            _kst(n.apologised_at) if output == "text" else _iso(n.apologised_at),
            n.summary or ("-" if output == "text" else None),
        ]
        for n in notices
    ]
    _print_rows(output, headings, rows)
    return 0


def _iso(moment: datetime | None) -> str | None:
    return to_seoul(moment).isoformat() if moment else None


def _print_rows(
    output: str,
    headings: list[str],
    rows: list[list[Any]],
    *,
    note: str = "",
    text_headings: list[str] | None = None,
) -> None:
    if output == "json":
        print(json.dumps([dict(zip(headings, row, strict=True)) for row in rows],
                         ensure_ascii=False, indent=2))  # fmt: skip
    elif output == "csv":
        print(to_csv(headings, rows), end="")
    elif not rows:
        print("nothing to report yet")
    else:
        table = [[_number(value) for value in row] for row in rows]
        print(render_table(text_headings or [h.upper().replace("_", " ") for h in headings], table))
        if note:
            print(note)


# -- rendering -------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns a terminal gives `text`: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


_NUMERIC = re.compile(r"^(-|-?\d+(\.\d+)?)$")


def render_table(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; columns of numbers aligned on the right."""
    columns = list(zip(headings, *rows, strict=True))
    widths = [max(display_width(str(cell)) for cell in column) for column in columns]
    numeric = [all(_NUMERIC.match(str(cell)) for cell in column[1:]) for column in columns]
    lines = []
    for row in [headings, *rows]:
        cells = []
        for cell, width, right in zip(row, widths, numeric, strict=True):
            padding = " " * (width - display_width(str(cell)))
            cells.append(padding + str(cell) if right else str(cell) + padding)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def to_csv(headings: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headings)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return buffer.getvalue()
