"""The HTTP API of the staff's conduct record, as `minwon monitoring` and `minwon award`
call it.

- `POST /api/monitoring`: a monitored call and its checklist scores (the designated
  officer or the director, never about themselves);
- `POST /api/monitoring/{id}/corrective-action`: what a low score led to;
- `POST /api/awards`: a 모범직원포상 (the director), with the evidence of the year
  taken from the read models at that moment;
- `GET /api/monitoring`, `GET /api/awards`: the year's records (the director, the
  officer, auditors); `GET /api/monitoring?mine=true`: the calls about the signed-in
  staff member, for any of them.

Who acts is the token's person; the command's rule (domain.conduct) says who may.
A request sent again with the same `request_id` records nothing twice. Answers are
JSON, or with `format=text` the lines `minwon` prints.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from domain.access import PERMISSIONS
from domain.calendar import to_seoul
from domain.conduct import (
    CHECKLIST,
    ConductError,
    ConductNotFoundError,
    Evidence,
    GrantAward,
    MonitoringCall,
    RecordMonitoring,
    TakeCorrectiveAction,
)
from web.api import Staff, desk_of
from web.desk import Desk
from web.labels import CORRECTIVE_LABELS
from web.pages import render, signed_in
from web.problems import Problem
from web.records import allowed, answer, recorded
from web.rendered import TEXT, json_response, rendered
from web.reports import open_read_models
from web.surveys import survey_report

T = TypeVar("T")
Format = Annotated[
    Literal["text", "json"],
    Query(description="`text`: the lines `minwon` prints; `json`: the document"),
]
Year = Annotated[int | None, Query(ge=2000, le=9999, description="default: this year (Seoul)")]
RecordId = Annotated[uuid.UUID, Path(description="the monitoring call's id")]
READ_RULE = PERMISSIONS["read_conduct"]
OWN_RULE = PERMISSIONS["read_own_conduct"]
Mine = Annotated[
    bool,
    Query(description="only the calls about the signed-in staff member: theirs to read"),
]

router = APIRouter(tags=["conduct"])

REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the designated officer or the director (awards: the director)"},
    404: {"description": "No such monitoring call"},
    409: {"description": "The record kept changing under the command"},
    422: {"description": "Invalid input, or refused by the record's rules (nothing recorded)"},
}


class CallOut(BaseModel):
    id: str
    staff: str
    evaluator: str
    called_at: datetime
    scores: dict[str, int | None]
    score: float
    low: bool
    corrective_action: str | None
    recorded: bool


class AwardOut(BaseModel):
    id: str
    staff: str
    title: str
    by: str
    granted_at: datetime
    evidence: dict[str, Any]
    recorded: bool


def _call_out(call: MonitoringCall, recorded: bool) -> CallOut:
    return CallOut(
        id=str(call.id),
        staff=call.staff,
        evaluator=call.evaluator,
        called_at=call.called_at,
        scores=call.scores,
        score=call.score,
        low=call.low,
        corrective_action=call.corrective_action,
        recorded=recorded,
    )


def _kst(moment: datetime) -> str:
    return to_seoul(moment).strftime("%Y-%m-%d %H:%M")


def _call_lines(call: CallOut) -> list[str]:
    again = "" if call.recorded else " (recorded before; nothing new)"
    low = " — LOW" if call.low else ""
    lines = [
        f"monitoring call {call.id}{again}",
        f"  {call.staff}, called {_kst(call.called_at)}, evaluated by {call.evaluator}: "
        f"{call.score:.2f}{low}",
    ]
    lines += [
        f"  {item:<24} {'-' if score is None else score}  {CHECKLIST[item]}"
        for item, score in call.scores.items()
    ]
    if call.corrective_action:
        lines.append(f"  corrective action: {call.corrective_action}")
    return lines


async def _recorded(work: Callable[[], T]) -> T:
    return await recorded(
        work, what="record", refusals=(ConductError,), missing=(ConductNotFoundError,)
    )


# -- monitoring -----------------------------------------------------------------------------


@router.post(
    "/api/monitoring",
    status_code=201,
    summary="Record a monitored call and its checklist scores (전화 모니터링)",
    response_model=CallOut,
    responses=REFUSED,
)
async def record_monitoring(
    request: Request, body: RecordMonitoring, user: Staff, format: Format = "json"
) -> Response:
    desk = desk_of(request)
    now = desk.clock()

    def record() -> CallOut:
        allowed(desk, user, RecordMonitoring.rule, now)
        call, new = desk.complaints.conduct.record_monitoring(body, user.staff, now)
        return _call_out(call, new)

    call = await _recorded(record)
    return answer(call, _call_lines(call), format, 201 if call.recorded else 200)


@router.post(
    "/api/monitoring/{call_id}/corrective-action",
    summary="Record the corrective action (warning, training) a low score led to",
    response_model=CallOut,
    responses=REFUSED,
)
async def corrective_action(
    request: Request,
    call_id: RecordId,
    body: TakeCorrectiveAction,
    user: Staff,
    format: Format = "json",
) -> Response:
    desk = desk_of(request)
    now = desk.clock()

    def record() -> CallOut:
        allowed(desk, user, TakeCorrectiveAction.rule, now)
        call, new = desk.complaints.conduct.take_corrective_action(call_id, body, user.staff, now)
        return _call_out(call, new)

    call = await _recorded(record)
    return answer(call, _call_lines(call), format)


@router.get(
    "/api/monitoring",
    summary="The year's monitored calls: scores and what low ones led to (with `mine`, "
    "a staff member's own)",
    responses=REFUSED,
)
async def monitoring_year(
    request: Request, user: Staff, year: Year = None, mine: Mine = False, format: Format = "json"
) -> Response:
    desk = desk_of(request)
    now = desk.clock()
    chosen = year or to_seoul(now).year

    def read() -> list[dict[str, Any]]:
        allowed(desk, user, OWN_RULE if mine else READ_RULE, now)
        with open_read_models(desk.complaints, ("conduct",)) as models:
            rows = models.conduct.fetch("conduct_calls")["conduct_calls"]
        return sorted(
            (
                row
                for row in rows
                if row["year"] == chosen and (not mine or row["staff"] == user.staff)
            ),
            key=lambda row: row["called_at"],
        )

    rows = await _recorded(read)
    if format == "json":
        return json_response(
            [{**row, "called_at": row["called_at"].isoformat(), "year": chosen} for row in rows]
        )
    if not rows:
        return rendered(f"no monitored calls in {chosen}", TEXT)
    lines = [f"monitored calls in {chosen}"] + [
        f"  {_kst(row['called_at'])}  {row['staff']:<14} {row['score']:.2f}"
        f"{'  LOW' if row['low'] else ''}"
        f"{'  → ' + row['action'] if row['action'] else ''}  {row['call_id']}"
        for row in rows
    ]
    return rendered("\n".join(lines), TEXT)


# -- awards ------------------------------------------------------------------------------------


def evidence_of(desk: Desk, staff: str, year: int) -> Evidence:
    """What the read models hold on `staff` now: ratings of their cases to date, and
    their monitored calls of `year`."""
    with open_read_models(desk.complaints, ("staff_record", "conduct")) as models:
        scores = models.staff_record.ratings_of(staff)
        conduct = models.conduct.of_staff(year).get(staff)
    return Evidence(
        year=year,
        ratings=len(scores),
        rating_average=round(sum(scores) / len(scores), 2) if scores else None,
        commendations=sum(1 for score in scores if score == 5),
        monitoring_calls=conduct.monitoring_calls if conduct else 0,
        monitoring_average=conduct.monitoring_average if conduct else None,
    )


def _award_lines(award: AwardOut) -> list[str]:
    again = "" if award.recorded else " (recorded before; nothing new)"
    e = award.evidence
    rated = "-" if e["rating_average"] is None else f"{e['rating_average']:.2f}"
    monitored = "-" if e["monitoring_average"] is None else f"{e['monitoring_average']:.2f}"
    return [
        f"award {award.id}{again}",
        f"  {award.title}: {award.staff}, given by {award.by} on {_kst(award.granted_at)}",
        f"  evidence: {e['ratings']} rating(s) to date, average {rated}, "
        f"{e['commendations']} rated 5; {e['monitoring_calls']} monitored call(s) in "
        f"{e['year']}, average {monitored}",
    ]


@router.post(
    "/api/awards",
    status_code=201,
    summary="Record a 모범직원포상 with its evidence (the director)",
    response_model=AwardOut,
    responses=REFUSED,
)
async def grant_award(
    request: Request, body: GrantAward, user: Staff, format: Format = "json"
) -> Response:
    desk = desk_of(request)
    now = desk.clock()

    def grant() -> AwardOut:
        allowed(desk, user, GrantAward.rule, now)
        evidence = evidence_of(desk, body.staff, to_seoul(now).year)
        award, new = desk.complaints.conduct.grant_award(body, evidence, user.staff, now)
        return AwardOut(
            id=str(award.id),
            staff=award.staff,
            title=award.title,
            by=award.by,
            granted_at=award.granted_at,
            evidence=award.evidence,
            recorded=new,
        )

    award = await _recorded(grant)
    return answer(award, _award_lines(award), format, 201 if award.recorded else 200)


@router.get("/api/awards", summary="The year's awards", responses=REFUSED)
async def awards_year(
    request: Request, user: Staff, year: Year = None, format: Format = "json"
) -> Response:
    desk = desk_of(request)
    now = desk.clock()
    chosen = year or to_seoul(now).year

    def read() -> list[dict[str, Any]]:
        allowed(desk, user, READ_RULE, now)
        with open_read_models(desk.complaints, ("conduct",)) as models:
            found = models.conduct.year(chosen).awards
        return [
            {"staff": a.staff, "title": a.title, "granted_at": a.granted_at, "by": a.by}
            for a in found
        ]

    rows = await _recorded(read)
    if format == "json":
        return json_response([{**row, "granted_at": row["granted_at"].isoformat()} for row in rows])
    if not rows:
        return rendered(f"no awards in {chosen}", TEXT)
    lines = [f"awards in {chosen}"] + [
        f"  {_kst(row['granted_at'])}  {row['staff']:<14} {row['title']} (by {row['by']})"
        for row in rows
    ]
    return rendered("\n".join(lines), TEXT)


# -- the page: the charter's other promises, for the supervisors and auditors --------------


@router.get("/staff/charter", response_class=HTMLResponse, include_in_schema=False)
async def charter_page(request: Request, year: int | None = None) -> HTMLResponse:
    """서비스 개선: the year's survey, monitored calls and awards on one page."""
    user = await signed_in(request)
    desk = desk_of(request)
    now = desk.clock()
    chosen = year or to_seoul(now).year

    def read() -> dict[str, Any]:
        allowed(desk, user, READ_RULE, now)
        names = ("conduct", "survey_results", "staff_record")
        with open_read_models(desk.complaints, names) as models:
            calls = [
                row
                for row in models.conduct.fetch("conduct_calls")["conduct_calls"]
                if row["year"] == chosen
            ]
            return {
                "conduct": models.conduct.year(chosen),
                "calls": sorted(calls, key=lambda row: row["called_at"]),
                "survey": survey_report(models.survey_results, chosen),
            }

    try:
        found = await _recorded(read)
    except Problem as problem:
        return render(request, "error.html", problem.status, problem=problem, user=user)
    return render(
        request,
        "staff_charter.html",
        user=user,
        year=chosen,
        checklist=CHECKLIST,
        corrective_labels=CORRECTIVE_LABELS,
        **found,
    )
