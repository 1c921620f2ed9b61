"""The read models over HTTP: the case board (`minwon cases`) and the reports
(`minwon report compliance|sla|staff|notices`).

Each request first brings the views it reads up to date with the event store
(as `minwon admin projections run --once` would), so what it shows is never
stale; then it reads them, never the events. The answer is rendered here, as the
command prints it: text for a terminal (`text/plain`), CSV and JSON for machines
(`text/csv`, `application/json`). The read models and the store are blocking,
so every request does its work on a worker thread.

Who may read follows `domain.access`: the board needs `list_cases` and lists a
private (비공개) case only to those who may see it (its assignee, whoever it was
escalated to, the designated officer, auditors); the reports need `report`. The
board and the reports hold no personal data, so no read is written to the
access log.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from application.service import Complaints
from domain.access import (
    PRIVATE_CASE_ROLES,
    Grant,
    may_see_case,
)
from domain.calendar import to_seoul
from domain.complaint import CaseNotFoundError
from domain.policy import PolicyError
from domain.receipt import ReceiptCodeError
from projections import ReadModels, UnsupportedStoreError
from projections.case_board import BoardRow
from projections.conduct import ConductYear, StaffConduct
from projections.sla_report import SlaLine, summarise
from projections.staff_record import StaffLine
from projections.survey_results import YearResults
from web.api import Staff, desk_of
from web.desk import invalid
from web.problems import FieldProblem, Problem
from web.rendered import MEDIA_TYPES, json_text, rendered

router = APIRouter(prefix="/api", tags=["reports"])

Format = Literal["text", "csv", "json"]
RENDERED: dict[int | str, dict[str, Any]] = {
    "200": {
        "description": "The rendered answer, as `minwon` prints it",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {}},
        },
    },
    "403": {"description": "Not a role that may read this"},
    "503": {"description": "The read models could not be opened or read"},
}
# The board comes as text or JSON only.
BOARD: dict[int | str, dict[str, Any]] = {
    **RENDERED,
    "200": {
        **RENDERED["200"],
        "content": {
            media: body for media, body in RENDERED["200"]["content"].items() if media != "text/csv"
        },
    },
}
DURATION = re.compile(r"^(\d+)([dh])$")
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

Year = Annotated[
    int | None,
    Query(ge=1000, le=9999, description="calendar year, Asia/Seoul", examples=[2026]),
]
FormatQuery = Annotated[Format, Query(alias="format", description="text, csv or json")]


# -- plumbing ---------------------------------------------------------------------------------


@contextmanager
def open_read_models(complaints: Complaints, names: tuple[str, ...]) -> Iterator[ReadModels]:
    """The named read models on the server's own store, caught up with it."""
    try:
        models = ReadModels(complaints.env, names=names)
    except (PersistenceError, OSError, UnsupportedStoreError, PolicyError) as error:
        raise _unavailable(f"cannot open the read models: {_one_line(error)}") from None
    try:
        models.catch_up()
        yield models
    except PersistenceError as error:
        raise _unavailable(f"read models: {_one_line(error)}") from None
    finally:
        models.close()


def _unavailable(detail: str) -> Problem:
    return Problem(503, "read-models-unavailable", "Read models unavailable", detail)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# -- the case board ---------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    match = DURATION.match(text.strip())
    if not match:
        raise _bad_query("due_within", f"takes a duration like 2d or 36h, not {text!r}")
    amount, unit = int(match[1]), match[2]
    try:
        return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
    except OverflowError:
        raise _bad_query("due_within", f"{text!r} is longer than any calendar") from None


def _bad_query(name: str, message: str) -> Problem:
    return invalid([FieldProblem(location=f"query.{name}", message=message)])


@router.get(
    "/cases",
    summary="The case board: open cases by next due, overdue marked (as `minwon cases`)",
    response_class=PlainTextResponse,
    responses=BOARD,
)
async def cases(
    request: Request,
    user: Staff,
    include_closed: Annotated[
        bool, Query(alias="all", description="closed and withdrawn cases too")
    ] = False,
    overdue: Annotated[bool, Query(description="only cases past a deadline")] = False,
    due_within: Annotated[
        str | None,
        Query(description="only cases due within this time (overdue too): 2d, 36h"),
    ] = None,
    escalated: Annotated[bool, Query(description="only escalated cases")] = False,
    assignee: Annotated[
        str | None,
        Query(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="only this staff member's"),
    ] = None,
    at: Annotated[
        datetime | None,
        Query(description="judge overdue as of this moment, with an offset (default: now)"),
    ] = None,
    output: Annotated[
        Literal["text", "json"], Query(alias="format", description="text or json")
    ] = "text",
) -> Response:
    desk = desk_of(request)
    if at is not None and at.tzinfo is None:
        raise _bad_query("at", "needs an offset, e.g. +09:00")
    try:
        now = to_seoul(at) if at is not None else desk.clock()
    except OverflowError:
        raise _bad_query("at", "is outside the calendar") from None
    window = parse_duration(due_within) if due_within else None
    try:
        horizon = now + window if window is not None else None
    except OverflowError:
        raise _bad_query("due_within", "reaches past the end of the calendar") from None

    def board() -> str:
        grant = desk.grant(user, "list_cases")
        with open_read_models(desk.complaints, ("case_board",)) as models:
            rows = models.case_board.rows()
        selected = [
            row
            for row in rows
            if (include_closed or row.is_open)
            and (not overdue or row.overdue(now))
            and (horizon is None or (row.next_due is not None and row.next_due <= horizon))
            and (not escalated or row.escalated)
            and (assignee is None or row.assignee == assignee)
        ]
        shown = visible_rows(desk.complaints, grant, selected)
        if output == "json":
            return json_text(casesjson_text(shown, now))
        return cases_text(shown, now) + "\n"

    return rendered(await asyncio.to_thread(board), MEDIA_TYPES[output])


def visible_rows(complaints: Complaints, grant: Grant, rows: list[BoardRow]) -> list[BoardRow]:
    """The rows whose case the actor may see, case by case (`may_see_case`)."""
    if grant.roles & PRIVATE_CASE_ROLES:
        # The officer and auditors see every case: no case need be loaded to know.
        return rows
    shown = []
    for row in rows:
        # The board holds no private flag, nor whom a case was escalated to: the case does.
        try:
            case = complaints.find_by_receipt(row.receipt_code)
        except (CaseNotFoundError, ReceiptCodeError):
            continue  # not in the store as a case: nothing to say who may see it
        if may_see_case(grant.roles, grant.actor, case):
            shown.append(row)
    return shown


def casesjson_text(rows: list[BoardRow], now: datetime) -> dict[str, Any]:
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


def cases_text(rows: list[BoardRow], now: datetime) -> str:
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


@router.get(
    "/reports/compliance",
    summary="The charter's yearly self-assessment (as `minwon report compliance`)",
    response_class=PlainTextResponse,
    responses=RENDERED,
)
async def compliance(
    request: Request, user: Staff, year: Year = None, output: FormatQuery = "text"
) -> Response:
    desk = desk_of(request)
    chosen = year if year is not None else desk.clock().year

    def render() -> str:
        desk.grant(user, "report")
        names = ("sla_report", "compliance", "conduct", "survey_results", "appointment_book")
        with open_read_models(desk.complaints, names) as models:
            report = compliance_report(models, chosen)
        if output == "json":
            return json_text(report)
        if output == "csv":
            return compliance_csv(report)
        return compliance_text(report) + "\n"

    return rendered(await asyncio.to_thread(render), MEDIA_TYPES[output])


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
        "survey": _survey_section(
            models.survey_results.year(year), models.survey_results.year(year - 1)
        ),
        # 나.④, 라.①②: visits booked ahead and home visits, by how they went.
        "appointments": models.appointment_book.year(year),
        **_conduct_sections(models.conduct.year(year)),
    }


def _survey_section(this: YearResults, last: YearResults) -> dict[str, Any]:
    """서비스 개선 다.: was the yearly survey held, how many answered, and what changed
    because of last year's (결과를 반영)."""
    return {
        "held": this.held,
        "opens_at": _iso(this.opens_at),
        "invited": this.invited,
        "unreachable": this.unreachable,
        "answered": this.answered,
        "overall": this.by_question.get("overall"),
        "overall_last_year": last.by_question.get("overall"),
        "improvements_from_last_year": last.improvements,
        "improvements": this.improvements,
    }


def _conduct_sections(conduct: ConductYear) -> dict[str, Any]:
    """서비스 개선 가. (telephone monitoring) and 나. (awards) for one year."""
    return {
        "monitoring": {
            "calls": conduct.calls,
            "average": conduct.average,
            "low": conduct.low,
            "low_without_action": conduct.low_without_action,
            "by_item": conduct.items,
            "corrective_actions": conduct.corrective_actions,
        },
        "awards": {
            "total": len(conduct.awards),
            "list": [
                {"staff": a.staff, "title": a.title, "granted_at": _iso(a.granted_at)}
                for a in conduct.awards
            ],
        },
    }


def _sla_measures(line: SlaLine) -> dict[str, Any]:
    measures = asdict(line)
    return {name: measures[name] for name in SLA_MEASURES}


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _survey_line(survey: dict[str, Any], year: int) -> str:
    if not survey["held"]:
        return f"{'Survey':<19}   -  not held in {year} (yet)"
    unreachable = f" ({survey['unreachable']} unreachable)" if survey["unreachable"] else ""
    return (
        f"{'Survey':<19} {survey['answered']:>3}  answer(s) of {survey['invited']} invited"
        f"{unreachable}, from {survey['opens_at'][:10]}; overall {_score(survey['overall'])} "
        f"({year - 1}: {_score(survey['overall_last_year'])})"
    )


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {n}" for key, n in counts.items())


def compliance_text(report: dict[str, Any]) -> str:
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
    monitoring, awards = report["monitoring"], report["awards"]
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
            _survey_line(report["survey"], report["year"]),
            *(
                f"{'':<25}from {report['year'] - 1}: {text}"
                for text in report["survey"]["improvements_from_last_year"]
            ),
            *(
                f"{label:<19} {sum(counts.values()):>3}  ({_counts(counts)})"
                for label, counts in (
                    ("Visits booked", report["appointments"].get("visit", {})),
                    ("Home visits", report["appointments"].get("home", {})),
                )
            ),
            f"{'Phone monitoring':<19} {monitoring['calls']:>3}  call(s), average "
            f"{_score(monitoring['average'])}, {monitoring['low']} low "
            f"({monitoring['low_without_action']} without a corrective action; "
            f"{_counts(monitoring['corrective_actions'])})",
            *(
                f"{'':<25}{item:<24} {_score(score)}"
                for item, score in monitoring["by_item"].items()
            ),
            f"{'Awards':<19} {awards['total']:>3}"
            + "".join(
                f"\n{'':<25}{a['granted_at'][:10]}  {a['staff']}  {a['title']}"
                for a in awards["list"]
            ),
        ]
    )


def compliance_csv(report: dict[str, Any]) -> str:
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
    survey = report["survey"]
    rows += [
        ("survey", "all", measure, survey[measure])
        for measure in (
            "held",
            "invited",
            "unreachable",
            "answered",
            "overall",
            "overall_last_year",
        )
    ]
    rows += [("survey", "from_last_year", "improvement", t)
             for t in survey["improvements_from_last_year"]]  # fmt: skip
    for kind, counts in report["appointments"].items():
        rows += [("appointments", kind, status, n) for status, n in counts.items()]
    monitoring = report["monitoring"]
    rows += [
        ("monitoring", "all", measure, monitoring[measure])
        for measure in ("calls", "average", "low", "low_without_action")
    ]
    rows += [("monitoring", item, "average", v) for item, v in monitoring["by_item"].items()]
    rows += [
        ("monitoring", kind, "corrective_actions", n)
        for kind, n in monitoring["corrective_actions"].items()
    ]
    rows.append(("awards", "all", "count", report["awards"]["total"]))
    rows += [("awards", a["staff"], "award", a["title"]) for a in report["awards"]["list"]]
    return to_csv(["section", "group", "measure", "value"], rows)


# -- the other views ------------------------------------------------------------------------


@router.get(
    "/reports/sla",
    summary="Commitments kept and breached, by month and kind (as `minwon report sla`)",
    response_class=PlainTextResponse,
    responses=RENDERED,
)
async def sla(
    request: Request,
    user: Staff,
    year: Annotated[
        int | None, Query(ge=1000, le=9999, description="one year's months only (default: all)")
    ] = None,
    output: FormatQuery = "text",
) -> Response:
    desk = desk_of(request)

    def render() -> str:
        desk.grant(user, "report")
        with open_read_models(desk.complaints, ("sla_report",)) as models:
            lines = models.sla_report.monthly(year)
        headings = ["month", "kind", *SLA_MEASURES]
        rows = [[line.month, line.kind, *(_sla_measures(line).values())] for line in lines]
        return render_rows(output, headings, rows, note=SLA_NOTE, text_headings=["MONTH", "KIND",
                           *(h.upper() for h in SLA_HEADINGS)])  # fmt: skip

    return rendered(await asyncio.to_thread(render), MEDIA_TYPES[output])


@router.get(
    "/reports/staff",
    summary="Per staff member: cases, breaches, commendations, corrective actions",
    response_class=PlainTextResponse,
    responses=RENDERED,
)
async def staff(request: Request, user: Staff, output: FormatQuery = "text") -> Response:
    desk = desk_of(request)

    def render() -> str:
        desk.grant(user, "report")
        with open_read_models(desk.complaints, ("staff_record", "conduct")) as models:
            lines = {line.staff: line for line in models.staff_record.lines()}
            conduct = models.conduct.of_staff()
        rows = [
            _staff_row(staff, lines.get(staff), conduct.get(staff, StaffConduct()))
            for staff in sorted({*lines, *conduct})
        ]
        headings = ["staff", "cases_handled", "breaches", "commendations", "warnings",
                    "trainings", "monitored_calls", "monitoring_average", "awards"]  # fmt: skip
        note = (
            "commendations: cases rated 5 (매우 만족) while assigned to them; warnings and "
            "trainings: corrective actions after a case or a low monitoring score"
        )
        return render_rows(output, headings, rows, note=note)

    return rendered(await asyncio.to_thread(render), MEDIA_TYPES[output])


@router.get(
    "/reports/notices",
    summary="Public notices for the homepage, never a private case (as `minwon report notices`)",
    response_class=PlainTextResponse,
    responses=RENDERED,
)
async def notices(request: Request, user: Staff, output: FormatQuery = "text") -> Response:
    desk = desk_of(request)
    text = output == "text"

    def render() -> str:
        desk.grant(user, "report")
        with open_read_models(desk.complaints, ("public_notices",)) as models:
            found = models.public_notices.notices()
        headings = ["number", "receipt_code", "category", "announced_at", "public_apology",
                    "apologised_at", "summary"]  # fmt: skip
        rows = [
            [
                n.number,
                n.receipt_code,
                n.category,
                _kst(n.announced_at) if text else _iso(n.announced_at),
                ("yes" if n.public_apology else "no") if text else n.public_apology,
                _kst(n.apologised_at) if text else _iso(n.apologised_at),
                n.summary or ("-" if text else None),
            ]
            for n in found
        ]
        return render_rows(output, headings, rows)

    return rendered(await asyncio.to_thread(render), MEDIA_TYPES[output])


def _staff_row(staff: str, line: StaffLine | None, conduct: StaffConduct) -> list[Any]:
    cases = line or StaffLine(staff, 0, 0, 0, 0, 0)
    return [
        staff,
        cases.cases_handled,
        cases.breaches,
        cases.commendations,
        cases.warnings + conduct.warnings,
        cases.trainings + conduct.trainings,
        conduct.monitoring_calls,
        conduct.monitoring_average,
        conduct.awards,
    ]


def _iso(moment: datetime | None) -> str | None:
    return to_seoul(moment).isoformat() if moment else None


# -- rendering -------------------------------------------------------------------------------


def render_rows(
    output: str,
    headings: list[str],
    rows: list[list[Any]],
    *,
    note: str = "",
    text_headings: list[str] | None = None,
) -> str:
    """Rows as JSON objects, CSV, or a table for a terminal (with its note, if any rows)."""
    if output == "json":
        return json_text([dict(zip(headings, row, strict=True)) for row in rows])
    if output == "csv":
        return to_csv(headings, rows)
    if not rows:
        return "nothing to report yet\n"
    table = [[_number(value) for value in row] for row in rows]
    shown = render_table(text_headings or [h.upper().replace("_", " ") for h in headings], table)
    return f"{shown}\n{note}\n" if note else f"{shown}\n"


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
