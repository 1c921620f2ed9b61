"""The yearly survey over HTTP: the resident's page behind their single-use link, the
staff's commands (as `minwon survey` sends them) and the results report.

- `GET|POST /survey/{invitation}/{secret}`: the questions (1–5 each, free text, and
  "no more survey contact"); answered once, before the survey closes;
- `POST /api/surveys/start`: start the year's survey now (ops, the director);
- `POST /api/surveys/{year}/improvements`: what was decided from the results
  (the director, the officer); the next year's report shows it;
- `POST /api/surveys/refusals`: a case's resident asked for no survey contact
  (any staff member who may see the case);
- `GET /api/reports/survey`: the results per question and category, against the
  year before, in text, CSV or JSON (whoever reads reports).
"""

from __future__ import annotations

import asyncio
import hmac
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from domain.access import PERMISSIONS, AccessDeniedError, authorize
from domain.calendar import to_seoul
from domain.complaint import CaseNotFoundError
from domain.survey import (
    QUESTIONS,
    RecordImprovement,
    RecordSurveyRefusal,
    StartSurvey,
    SurveyAnswer,
    SurveyError,
    SurveyNotFoundError,
)
from web.api import Staff, desk_of
from web.desk import Desk, forbidden
from web.pages import render, same_origin
from web.problems import Problem
from web.records import allowed, refused
from web.rendered import MEDIA_TYPES, TEXT, json_response, rendered
from web.reports import open_read_models, render_table, to_csv
from workflows.survey import ensure_survey_year

router = APIRouter()
Year = Annotated[int, Path(ge=2000, le=9999)]
Output = Annotated[Literal["text", "csv", "json"], Query(alias="format")]
REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not allowed for this staff member"},
    404: {"description": "No such case or survey"},
    422: {"description": "Invalid input, or refused by the survey's rules (nothing recorded)"},
}


class Started(BaseModel):
    year: int
    started: bool
    detail: str


class ImprovementOut(BaseModel):
    year: int
    improvements: int


class RefusalOut(BaseModel):
    receipt_code: str
    recorded: bool


# -- staff -------------------------------------------------------------------------------


@router.post(
    "/api/surveys/start",
    tags=["survey"],
    summary="Start the year's satisfaction survey now (ops, the director)",
    responses=REFUSED,
)
async def start(request: Request, body: StartSurvey, user: Staff) -> Started:
    desk = desk_of(request)
    now = desk.clock()
    allowed(desk, user, StartSurvey.rule, now)
    year = body.year or to_seoul(now).year
    try:
        running = await desk.temporal(
            ensure_survey_year(desk.client, desk.task_queue, year, now=True)
        )
    except RuntimeError:  # a lazily connected client that cannot reach Temporal
        raise Problem(
            503,
            "temporal-unavailable",
            "Temporal unavailable",
            "Temporal is unreachable: is the worker running?",
        ) from None
    if running:
        detail = f"the {year} survey starts now: each resident is invited once"
    else:
        detail = f"the {year} survey workflow had run already; `minwon survey report` shows it"
    return Started(year=year, started=running, detail=detail)


@router.post(
    "/api/surveys/{year}/improvements",
    tags=["survey"],
    summary="Record an improvement decided from a year's results (결과를 반영)",
    responses=REFUSED,
)
async def improve(
    request: Request, year: Year, body: RecordImprovement, user: Staff
) -> ImprovementOut:
    desk = desk_of(request)
    now = desk.clock()
    allowed(desk, user, RecordImprovement.rule, now)
    if body.year != year:
        raise refused("survey", SurveyError(f"the body's year {body.year} is not {year}"))
    try:
        found = await asyncio.to_thread(
            desk.complaints.surveys.record_improvement, year, body.text, user.staff, now
        )
    except SurveyError as error:
        raise refused("survey", error) from None
    return ImprovementOut(year=year, improvements=len(found.improvements))


@router.post(
    "/api/surveys/refusals",
    tags=["survey"],
    summary="Record that a case's resident wants no survey contact",
    responses=REFUSED,
)
async def refuse(request: Request, body: RecordSurveyRefusal, user: Staff) -> RefusalOut:
    desk = desk_of(request)
    now = desk.clock()

    def record() -> bool:
        case = desk.complaints.find_by_receipt(body.receipt_code)
        try:
            authorize(desk.complaints.roster.current(), user.staff, PERMISSIONS["show"], now, case)
        except AccessDeniedError as error:
            raise forbidden(str(error)) from None
        return desk.complaints.surveys.refuse(
            case.person_id or f"case-{case.id}", via="staff", by=user.staff, at=now
        )

    allowed(desk, user, RecordSurveyRefusal.rule, now)
    try:
        recorded = await asyncio.to_thread(record)
    except CaseNotFoundError as error:
        raise Problem(404, "not-found", "Not found", str(error)) from None
    return RefusalOut(receipt_code=body.receipt_code, recorded=recorded)


# -- the report ------------------------------------------------------------------------------


@router.get(
    "/api/reports/survey",
    tags=["reports"],
    summary="The year's survey results, per question and category, against the year before",
    response_class=Response,
    responses=REFUSED,
)
async def report(
    request: Request,
    user: Staff,
    year: Annotated[int | None, Query(ge=2000, le=9999)] = None,
    output: Output = "text",
) -> Response:
    desk = desk_of(request)
    now = desk.clock()
    chosen = year or to_seoul(now).year

    def read() -> dict[str, Any]:
        desk.grant(user, "report")
        with open_read_models(desk.complaints, ("survey_results",)) as models:
            return survey_report(models.survey_results, chosen)

    document = await asyncio.to_thread(read)
    if output == "json":
        return json_response(document)
    if output == "csv":
        return rendered(survey_csv(document), MEDIA_TYPES["csv"])
    return rendered(survey_text(document), TEXT)


def survey_report(view: Any, year: int) -> dict[str, Any]:
    """A year's results and the year before's, as plain data (text and CSV come from it)."""
    this, last = view.year(year), view.year(year - 1)
    reached = this.invited - this.unreachable
    return {
        "year": year,
        "held": this.held,
        "opens_at": this.opens_at and to_seoul(this.opens_at).isoformat(),
        "closes_at": this.closes_at and to_seoul(this.closes_at).isoformat(),
        "closed": this.closed,
        "invited": this.invited,
        "sent": this.sent,
        "unreachable": this.unreachable,
        "answered": this.answered,
        # Of those who could be asked: an unreachable resident never saw the link.
        "response_rate": round(this.answered / reached, 3) if reached else None,
        "questions": {
            question: {
                "text": text,
                "average": this.by_question.get(question),
                "last_year": last.by_question.get(question),
            }
            for question, text in QUESTIONS.items()
        },
        "by_category": this.by_category,
        # 결과를 반영: what last year's results led to, and what this year's have so far.
        "improvements_from_last_year": last.improvements,
        "improvements": this.improvements,
    }


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def survey_text(report: dict[str, Any]) -> str:
    year = report["year"]
    if not report["held"]:
        lines = [f"이용자 만족도조사 {year}: not held (yet)"]
    else:
        rate = report["response_rate"]
        lines = [
            f"이용자 만족도조사 {year}: {report['opens_at'][:10]} – {report['closes_at'][:10]}"
            f"{' (closed)' if report['closed'] else ' (open)'}",
            f"invited {report['invited']}, sent {report['sent']},"
            f" unreachable {report['unreachable']}, answered {report['answered']}"
            f" ({'-' if rate is None else f'{rate:.0%}'})",
        ]
    rows = [
        [question, _score(q["average"]), _score(q["last_year"]), q["text"]]
        for question, q in report["questions"].items()
    ]
    lines += ["", render_table(["QUESTION", str(year), str(year - 1), ""], rows)]
    for category, scores in report["by_category"].items():
        shown = ", ".join(f"{q} {_score(v)}" for q, v in scores.items())
        lines.append(f"  {category}: {shown}")
    lines.append("")
    lines.append(f"Improvements decided from {year - 1}'s results:")
    lines += [f"  - {text}" for text in report["improvements_from_last_year"]] or ["  (none)"]
    lines.append(f"Improvements decided from {year}'s results:")
    lines += [f"  - {text}" for text in report["improvements"]] or ["  (none yet)"]
    return "\n".join(lines)


def survey_csv(report: dict[str, Any]) -> str:
    rows: list[tuple[Any, ...]] = [
        ("survey", "all", measure, report[measure])
        for measure in ("held", "invited", "sent", "unreachable", "answered", "response_rate")
    ]
    for question, q in report["questions"].items():
        rows.append(("question", question, "average", q["average"]))
        rows.append(("question", question, "last_year", q["last_year"]))
    for category, scores in report["by_category"].items():
        rows += [(f"category:{category}", q, "average", v) for q, v in scores.items()]
    rows += [
        ("improvement", report["year"] - 1, "text", t)
        for t in report["improvements_from_last_year"]
    ]
    rows += [("improvement", report["year"], "text", t) for t in report["improvements"]]
    return to_csv(["section", "group", "measure", "value"], rows)


# -- the resident's page -----------------------------------------------------------------------

Invitation = Annotated[uuid.UUID, Path()]
WRONG_LINK = "설문 주소가 맞지 않습니다. 받으신 안내의 주소를 다시 확인해 주세요."
Secret = Annotated[str, Path(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _answer_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    return render(request, "survey.html", status, questions=QUESTIONS, **context)


@router.get("/survey/{invitation}/{secret}", response_class=HTMLResponse, include_in_schema=False)
async def survey_page(request: Request, invitation: Invitation, secret: Secret) -> HTMLResponse:
    desk = desk_of(request)
    try:
        found = await asyncio.to_thread(_checked, desk, invitation, secret)
    except SurveyNotFoundError:
        return _answer_page(
            request, 404, gone="설문 주소가 맞지 않습니다. 받으신 안내의 주소를 다시 확인해 주세요."
        )
    except SurveyError as error:
        return _answer_page(request, 409, gone=str(error).split(" (")[0] + ".")
    return _answer_page(request, year=found.year, closes_at=found.closes_at, values={})


def _checked(desk: Desk, invitation: uuid.UUID, secret: str) -> Any:
    surveys = desk.complaints.surveys
    if not hmac.compare_digest(secret, surveys.link_secret(invitation)):
        raise SurveyNotFoundError("no such survey invitation")
    found = surveys.invitation(invitation)
    found.check_open(desk.clock())
    return found


@router.post("/survey/{invitation}/{secret}", response_class=HTMLResponse, include_in_schema=False)
async def survey_answer(request: Request, invitation: Invitation, secret: Secret) -> HTMLResponse:
    same_origin(request)
    desk = desk_of(request)
    form = await request.form()
    values = {key: str(value) for key, value in form.items()}
    try:
        answer = SurveyAnswer(
            scores={q: int(values[q]) for q in QUESTIONS if values.get(q, "").isdigit()},
            comment=values.get("comment") or None,
            refuse_contact=values.get("refuse_contact") == "yes",
        )
    except ValidationError:
        answer = None
    missing = [q for q in QUESTIONS if not values.get(q, "").isdigit()]
    if answer is None or missing:
        try:
            found = await asyncio.to_thread(_checked, desk, invitation, secret)
        except (SurveyError, SurveyNotFoundError):
            return _answer_page(request, 404, gone="설문 주소가 맞지 않거나 이미 응답하셨습니다.")
        return _answer_page(
            request, 422, year=found.year, closes_at=found.closes_at, values=values,
            missing=missing or list(QUESTIONS),
        )  # fmt: skip
    try:
        await asyncio.to_thread(
            desk.complaints.surveys.answer, invitation, secret, answer, desk.clock()
        )
    except SurveyNotFoundError:
        return _answer_page(
            request, 404, gone="설문 주소가 맞지 않습니다. 받으신 안내의 주소를 다시 확인해 주세요."
        )
    except SurveyError as error:
        return _answer_page(request, 409, gone=str(error).split(" (")[0] + ".")
    return _answer_page(request, thanks=True, refused=answer.refuse_contact)
