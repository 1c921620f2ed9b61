"""Server-rendered pages: residents (submit, receipt, status, notices), staff desk, ops.

Plain HTML forms, Korean, usable by keyboard and on a phone. The pages do what
the API does, through the same `Desk`: an action posted from a form is the
same workflow update. Staff sign in with their token once: the token itself is
never kept in the browser, only an eight-hour session (HttpOnly, SameSite=Strict
cookie) that signing out ends on the server. A form posted from another site, or
one that does not say where it came from, is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from activities.notices import STATUS_LABELS as CLOCK_STATUS_LABELS
from domain.calendar import SEOUL, WEEKDAYS, korean_moment, to_seoul
from domain.commands import STAFF_ACTIONS
from domain.credentials import SESSION_HOURS, StaffSession, session_id_of
from domain.roster import Roster, StaffMember, StoredRoster
from web.api import client_address, origin
from web.desk import Desk, StaffUser
from web.labels import (
    APPOINTMENT_KIND_LABELS,
    APPOINTMENT_STATUS_LABELS,
    CASE_STATUS_LABELS,
    EVENT_LABELS,
    ROLE_LABELS,
    TRIGGER_LABELS,
    field_label,
    value_label,
)
from web.problems import FieldProblem, Problem, plain_error_page
from web.schemas import ACTION_BODIES, BulkEscalation, ComplaintSubmission

log = structlog.get_logger()
HERE = Path(__file__).resolve().parent
COOKIE = "minwon_staff"
DATETIME_FIELDS = frozenset({"new_due", "callback_by"})

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")

RESIDENT_CATEGORIES = {
    "inquiry": ("질문과 답변", "궁금한 점을 물어보세요. 7일 이내에 답변드립니다."),
    "opinion": ("건의와 고충상담", "불편·불만·건의 사항. 15일 이내에 처리 결과를 알려드립니다."),
    "unkind_service": ("불친절 신고", "불친절한 상담이나 전화 응대. 지정책임관이 직접 조사합니다."),
    "late_reply": (
        "회신 지연·무성의 처리 신고",
        "7일 안에 회신이 없었거나 무성의했던 경우. 3일 이내에 조사 결과를 알려드립니다.",
    ),
}
TOPICS = {
    "intake": "처음 이용 상담 (인테이크)",
    "program": "프로그램 및 서비스 이용",
    "facility": "시설 이용 및 견학",
}
ACTION_LABELS = {
    "answer": "답변",
    "interim_reply": "중간회신",
    "escalate": "상향 보고",
    "assign": "담당자 지정",
    "finding": "조사 결과 기록",
    "apology": "사과 기록",
    "corrective_action": "직원 조치 기록",
    "announce": "결과 공지",
    "decline_announcement": "결과 미공지 결정",
    "close": "종결",
    "reopen": "재개",
    "withdraw": "취하",
    "take_message": "부재 직원 메모",
    "call_back": "약속한 연락 완료",
    "rate": "만족도 기록",
    "note": "처리 메모",
    "record_appointment": "예약 결과 기록",
}
MESSAGES = {
    "missing": "꼭 입력해 주세요.",
    "string_too_short": "꼭 입력해 주세요.",
    "string_too_long": "너무 깁니다.",
    "literal_error": "선택지 중에서 골라 주세요.",
    "bool_parsing": "선택지 중에서 골라 주세요.",
    "int_parsing": "숫자를 입력해 주세요.",
    "datetime_parsing": "날짜와 시각을 입력해 주세요.",
    "timezone_aware": "날짜와 시각을 입력해 주세요.",
    "string_pattern_mismatch": "형식이 맞지 않습니다.",
}


def kst_or_dash(moment: datetime | None) -> str:
    return "-" if moment is None else korean_moment(moment)


def short_moment(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    local = to_seoul(moment)
    return local.strftime(f"%m-%d({WEEKDAYS[local.weekday()]}) %H:%M")


def detail_value(value: object) -> str:
    """A value of an event in the history, as a person reads it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "예" if value else "아니오"
    if isinstance(value, datetime):
        return short_moment(value)
    return str(value)


templates.env.filters["value"] = detail_value
templates.env.filters["kst"] = kst_or_dash
templates.env.filters["short"] = short_moment
templates.env.globals.update(
    event_labels=EVENT_LABELS,
    trigger_labels=TRIGGER_LABELS,
    clock_labels=CLOCK_STATUS_LABELS,
    categories=RESIDENT_CATEGORIES,
    topics=TOPICS,
    action_labels=ACTION_LABELS,
    role_labels=ROLE_LABELS,
    status_labels=CASE_STATUS_LABELS,
    field_name=field_label,
    value_label=value_label,
    appointment_kind_labels=APPOINTMENT_KIND_LABELS,
    appointment_status_labels=APPOINTMENT_STATUS_LABELS,
)


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    # Pages may show a secret, personal data or a case: never kept by a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, problem: Problem) -> HTMLResponse:
    response = render(request, "error.html", problem.status, problem=problem)
    for name, value in problem.headers.items():
        if name.lower() != "www-authenticate":
            response.headers[name] = value
    return response


def plain_error(problem: Problem) -> str:
    return plain_error_page(problem)


def form_errors(error: ValidationError) -> list[FieldProblem]:
    problems = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "form"
        message = MESSAGES.get(item["type"])
        if item["type"] == "value_error":
            message = str(item.get("ctx", {}).get("error", item["msg"]))
        problems.append(FieldProblem(location=name, message=message or item["msg"]))
    return problems


def same_origin(request: Request) -> None:
    """A form must come from these pages: a cross-site post is refused.

    Browsers send Origin with every POST (Referer too, under the pages'
    same-origin referrer policy), so a post with neither did not come from a page
    of ours; one from another site says `null` or its own origin."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or urlsplit(origin).netloc != request.url.netloc:
        raise Problem(403, "cross-site", "Cross-site form", "이 사이트에서 보낸 양식이 아닙니다.")


def _values(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str)}


# -- residents ------------------------------------------------------------------------------


@router.get("/")
async def index(request: Request) -> HTMLResponse:
    return render(request, "index.html")


@router.get("/complaints/new")
async def submit_form(request: Request) -> HTMLResponse:
    return render(request, "submit.html", values={"category": "inquiry", "topic": "intake"})


@router.post("/complaints/new")
async def submit(request: Request) -> Response:
    same_origin(request)
    values = _values(await request.form())
    errors: list[FieldProblem] = []
    if values.get("consent") != "yes":
        errors.append(
            FieldProblem(location="consent", message="개인정보 수집·이용에 동의해 주세요.")
        )
    fields: dict[str, Any] = {
        name: values[name]
        for name in ("category", "topic", "contact", "text", "about_receipt_code")
        if values.get(name, "").strip()
    }
    fields["private"] = values.get("private") == "yes"
    form: ComplaintSubmission | None = None
    try:
        form = ComplaintSubmission.model_validate(fields)
    except ValidationError as error:
        errors += form_errors(error)
    if errors or form is None:
        return render(request, "submit.html", 422, values=values, errors=errors)
    try:
        receipt = await desk_of(request).submit(form, client_address(request))
    except Problem as problem:
        errors = [
            FieldProblem(location=e.location.removeprefix("body."), message=e.message)
            for e in problem.errors or []
        ]
        if problem.status == 429:
            problem.detail = (
                "짧은 시간에 접수가 너무 많아 이번 신청은 접수하지 않았습니다. "
                f"{_minutes(problem)} 뒤에 다시 신청하시거나 복지관에 전화해 주세요."
            )
        page = render(
            request, "submit.html", problem.status, values=values, errors=errors, problem=problem
        )
        page.headers.update(problem.headers)
        return page
    return render(request, "receipt.html", 201, receipt=receipt)


def _minutes(problem: Problem) -> str:
    """Retry-After as a resident reads it."""
    seconds = int(problem.headers.get("Retry-After", "60"))
    return f"{-(-seconds // 60)}분"


@router.get("/status")
async def status_form(request: Request) -> HTMLResponse:
    return render(request, "status.html", values={})


@router.post("/status")
async def status(request: Request) -> HTMLResponse:
    same_origin(request)
    values = _values(await request.form())
    code, secret = values.get("receipt_code", "").strip(), values.get("secret", "").strip()
    if not code or not secret:
        problem = Problem(
            422, "invalid-input", "입력 확인", "접수번호와 비밀번호를 모두 입력해 주세요."
        )
        return render(request, "status.html", 422, values=values, problem=problem)
    try:
        result = await desk_of(request).resident_status(
            code[:40], secret[:40], via="web", address=client_address(request)
        )
    except Problem as problem:
        if problem.status in (404, 422):
            problem.detail = "접수번호 또는 비밀번호가 맞지 않습니다. 다시 확인해 주세요."
        if problem.status == 429:
            problem.detail = (
                "비밀번호가 여러 번 틀려 잠시 조회를 막았습니다. "
                f"{_minutes(problem)} 뒤에 다시 조회해 주세요."
            )
        page = render(request, "status.html", problem.status, values=values, problem=problem)
        page.headers.update(problem.headers)
        return page
    return render(request, "status.html", values={"receipt_code": code}, result=result)


@router.get("/directory")
async def directory(request: Request) -> HTMLResponse:
    """직원 배치와 담당 업무, 서비스 안내 (헌장 가.①, 알 권리 가.)."""
    return render(request, "directory.html", directory=desk_of(request).directory())


@router.get("/notices")
async def notices(request: Request) -> HTMLResponse:
    return render(request, "notices.html", notices=await desk_of(request).public_notices())


# -- staff sign-in -----------------------------------------------------------------------------


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def sign_in_redirect(request: Request, error: SignInRequired) -> Response:
    return RedirectResponse(f"/staff/login?next={quote(error.next_path)}", status_code=303)


async def signed_in(request: Request) -> StaffUser:
    session = request.cookies.get(COOKIE)
    if not session:
        raise SignInRequired(request.url.path)
    try:
        return await desk_of(request).authenticate_session(session)
    except Problem:
        raise SignInRequired(request.url.path) from None


def _end_session(desk: Desk, text: str) -> StaffSession | None:
    """End the session the cookie names, if it is the cookie's; None if there was none."""
    session_id = session_id_of(text)
    if session_id is None:
        return None
    try:
        session: StaffSession = desk.complaints.repository.get(StaffSession.create_id(session_id))
    except AggregateNotFoundError:
        return None
    if not session.matches(text) or session.ended_at is not None:
        return None
    session.end(at=desk.clock())
    try:
        desk.complaints.save(session)
    except IntegrityError:
        return None  # a second sign-out of this session, at the same moment, ended it
    return session


def _local(path: str | None) -> str:
    """Only a path of these pages is a place to go after signing in."""
    if path and path.startswith(("/staff", "/ops")) and "//" not in path:
        return path
    return "/staff"


@router.get("/staff/login")
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "staff_login.html", next=_local(next))


@router.post("/staff/login")
async def login(request: Request) -> Response:
    same_origin(request)
    values = _values(await request.form())
    token = values.get("token", "").strip()
    desk = desk_of(request)
    user: StaffUser | None = None
    with contextlib.suppress(Problem):
        user = await desk.authenticate(token)
    if user is None or user.token_id is None:
        problem = Problem(401, "unauthorized", "로그인 실패", "토큰이 맞지 않거나 만료되었습니다.")
        return render(
            request, "staff_login.html", 401, next=_local(values.get("next")), problem=problem
        )
    session, text = StaffSession.start(staff=user.staff, token_id=user.token_id, at=desk.clock())
    await asyncio.to_thread(desk.complaints.save, session)
    log.info("staff_signed_in", session_id=session.session_id, staff=user.staff)
    response = RedirectResponse(_local(values.get("next")), status_code=303)
    response.set_cookie(
        COOKIE,
        text,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=SESSION_HOURS * 3600,
        path="/",
    )
    return response


@router.post("/staff/logout")
async def logout(request: Request) -> Response:
    same_origin(request)
    desk = desk_of(request)
    text = request.cookies.get(COOKIE)
    ended = await asyncio.to_thread(_end_session, desk, text) if text else None
    if ended is not None:
        log.info("staff_signed_out", session_id=ended.session_id, staff=ended.staff)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(
        COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


# -- staff desk ----------------------------------------------------------------------------------


@router.get("/staff")
async def staff_queue(request: Request) -> HTMLResponse:
    user = await signed_in(request)
    items = await desk_of(request).queue(user)
    return render(request, "staff_queue.html", user=user, items=items, now=desk_of(request).clock())


async def _case_page(
    request: Request,
    user: StaffUser,
    code: str,
    *,
    status: int = 200,
    problem: Problem | None = None,
    action: str | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    desk = desk_of(request)
    detail = await desk.case_detail(user, code, origin=origin(request, "web"))
    return render(
        request,
        "staff_case.html",
        status,
        user=user,
        case=detail,
        members=_members(desk),
        problem=problem,
        failed_action=action,
        values=values or {},
        done=request.query_params.get("done"),
        now=desk.clock(),
    )


def _members(desk: Desk) -> list[StaffMember]:
    """The staff directory, for the forms that name a colleague."""
    roster = desk.complaints.roster
    if isinstance(roster, StoredRoster):
        return roster.current().members()
    if isinstance(roster, Roster):
        return roster.members()
    return []


@router.get("/staff/cases/{code}")
async def case_page(request: Request, code: str) -> HTMLResponse:
    user = await signed_in(request)
    return await _case_page(request, user, code[:40])


def form_body(name: str, values: dict[str, str]) -> BaseModel:
    """A staff action's body from its form: empty fields take their defaults."""
    model = ACTION_BODIES[name]
    fields: dict[str, Any] = {}
    for field, info in model.model_fields.items():
        raw = values.get(field, "").strip()
        if not raw:
            continue
        if info.annotation is bool:
            fields[field] = {"true": True, "false": False}.get(raw, raw)
        elif info.annotation is int:
            fields[field] = int(raw) if raw.isdigit() else raw
        elif field in DATETIME_FIELDS:
            try:
                moment = datetime.fromisoformat(raw)
            except ValueError:
                fields[field] = raw  # refused by the model, with its message
                continue
            fields[field] = moment if moment.tzinfo else moment.replace(tzinfo=SEOUL)
        else:
            fields[field] = raw
    return model.model_validate(fields)


@router.post("/staff/cases/{code}/{action}")
async def case_action(request: Request, code: str, action: str) -> Response:
    same_origin(request)
    user = await signed_in(request)
    code = code[:40]
    if action not in STAFF_ACTIONS:
        raise Problem(404, "about:blank", "Not found", f"no action '{action}'")
    values = _values(await request.form())
    try:
        body = form_body(action, values)
        await desk_of(request).act(user, code, action, body)
    except ValidationError as error:
        problem = Problem(
            422,
            "invalid-input",
            "입력 확인",
            " ".join(f"{e.location}: {e.message}" for e in form_errors(error)),
        )
        return await _case_page(
            request, user, code, status=422, problem=problem, action=action, values=values
        )
    except Problem as problem:
        if problem.status in (404, 422) and problem.type.endswith(
            ("case-not-found", "invalid-receipt-code")
        ):
            raise
        return await _case_page(
            request,
            user,
            code,
            status=problem.status,
            problem=problem,
            action=action,
            values=values,
        )
    return RedirectResponse(f"/staff/cases/{quote(code)}?done={quote(action)}", status_code=303)


# -- ops ------------------------------------------------------------------------------------------


async def _ops_page(
    request: Request,
    user: StaffUser,
    *,
    status: int = 200,
    result: Any = None,
    problem: Problem | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    desk = desk_of(request)
    overview = await desk.ops_overview(user)
    return render(
        request,
        "ops.html",
        status,
        user=user,
        overview=overview,
        result=result,
        problem=problem,
        values=values or {},
        policy_categories=desk.complaints.policy.categories,
        members=_members(desk),
    )


@router.get("/ops")
async def ops(request: Request) -> HTMLResponse:
    user = await signed_in(request)
    return await _ops_page(request, user)


@router.post("/ops/escalate")
async def ops_escalate(request: Request) -> HTMLResponse:
    same_origin(request)
    user = await signed_in(request)
    values = _values(await request.form())
    fields: dict[str, Any] = {
        name: values[name] for name in ("reason", "category", "assignee") if values.get(name)
    }
    fields["overdue"] = values.get("overdue") == "yes"
    try:
        form = BulkEscalation.model_validate(fields)
        result = await desk_of(request).escalate_in_bulk(user, form)
    except ValidationError as error:
        problem = Problem(
            422,
            "invalid-input",
            "입력 확인",
            " ".join(f"{e.location}: {e.message}" for e in form_errors(error)),
        )
        return await _ops_page(request, user, status=422, problem=problem, values=values)
    except Problem as problem:
        if problem.status == 403:
            raise
        return await _ops_page(request, user, status=problem.status, problem=problem, values=values)
    return await _ops_page(request, user, result=result)
