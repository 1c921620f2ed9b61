"""The HTTP API: residents (no account), staff and ops (bearer tokens).

Paths and what they do are in the OpenAPI schema (`/openapi.json`, browsable at
`/api/docs`). Every staff action is the workflow update `act`, as `minwon` sends it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from web.desk import Desk, StaffUser
from web.problems import Problem
from web.schemas import (
    RECEIPT_PATTERN,
    AnnounceBody,
    AnswerBody,
    ApologyBody,
    AssignBody,
    BulkEscalation,
    BulkResult,
    CaseDetail,
    ComplaintSubmission,
    CorrectiveActionBody,
    FindingBody,
    InterimReplyBody,
    Me,
    MessageBody,
    NoBody,
    NoteBody,
    OpsOverview,
    PublicNoticeOut,
    QueueItem,
    ReasonBody,
    Receipt,
    ResidentStatus,
    SatisfactionBody,
    StaffFiled,
    StaffFiling,
    StatusLookup,
)
from workflows.models import CaseView

# Declared on every operation (401 only where a token is needed); see web.app._openapi.
ERROR_RESPONSES = {
    "400": "Malformed request (e.g. a body that is not valid JSON)",
    "401": "No valid bearer token",
    "413": "Body larger than 64 KiB",
    "415": "Body that is not JSON",
    "422": "Invalid input, field by field",
    "503": "Temporal did not answer (is the worker running?)",
}

router = APIRouter(prefix="/api")
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="staffToken",
    description="a staff token from `minwon token issue --staff ID`",
)


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


async def staff_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> StaffUser:
    if credentials is None:
        raise Problem(
            401,
            "unauthorized",
            "Authentication required",
            "send Authorization: Bearer <token> (`minwon token issue --staff ID`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return await desk_of(request).authenticate(credentials.credentials)


def origin(request: Request, via: str) -> str:
    """Where a read came from, for the access log."""
    return f"{via}:{request.client.host if request.client else 'unknown'}"


Staff = Annotated[StaffUser, Depends(staff_user)]
Code = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        pattern=RECEIPT_PATTERN,
        description="receipt code, e.g. MW-7K3QX-9PD2M",
    ),
]
CASE: dict[int | str, dict[str, Any]] = {
    "403": {"description": "Not this staff member's to do"},
    "404": {"description": "No case with this receipt code"},
    "409": {"description": "Refused by the case's workflow (its rules), or the case is over"},
}


# -- residents ----------------------------------------------------------------------------


@router.post(
    "/complaints",
    status_code=201,
    tags=["residents"],
    summary="Submit a complaint (homepage)",
    responses={"404": {"description": "about_receipt_code names no case"}},
)
async def submit_complaint(request: Request, body: ComplaintSubmission) -> Receipt:
    """Files the complaint; answers with the receipt code and a secret shown only now."""
    return await desk_of(request).submit(body)


@router.post(
    "/complaints/status",
    tags=["residents"],
    summary="Look up a complaint with its receipt code and secret",
    responses={
        "404": {"description": "No case with this receipt code and secret"},
        "429": {"description": "Too many wrong secrets for this receipt code"},
    },
)
async def complaint_status(request: Request, body: StatusLookup) -> ResidentStatus:
    return await desk_of(request).resident_status(
        body.receipt_code, body.secret, origin=origin(request, "api")
    )


@router.get("/notices", tags=["residents"], summary="Public notices of results (헌장 5)")
async def public_notices(request: Request) -> list[PublicNoticeOut]:
    return await desk_of(request).public_notices()


# -- staff -------------------------------------------------------------------------------------


@router.get("/staff/me", tags=["staff"], summary="Who the token belongs to, and their roles")
async def me(user: Staff) -> Me:
    return user.me()


@router.get(
    "/staff/queue",
    tags=["staff"],
    summary="My open cases, soonest due first (with overdue and due-soon flags)",
)
async def queue(request: Request, user: Staff) -> list[QueueItem]:
    return await desk_of(request).queue(user)


@router.post(
    "/staff/cases",
    status_code=201,
    tags=["staff"],
    summary="File a complaint taken on any channel (as `minwon file`)",
    responses={"404": {"description": "linked_to names no case"}},
)
async def file_case(request: Request, body: StaffFiling, user: Staff) -> StaffFiled:
    view, secret = await desk_of(request).file(user, body)
    return StaffFiled(case=view, secret=secret)


@router.get(
    "/staff/cases/{code}",
    tags=["staff"],
    summary="A case: its clocks and full history",
    responses=CASE,
)
async def case_detail(request: Request, code: Code, user: Staff) -> CaseDetail:
    return await desk_of(request).case_detail(user, code, origin=origin(request, "api"))


async def _act(
    request: Request, user: StaffUser, code: str, name: str, body: BaseModel
) -> CaseView:
    return await desk_of(request).act(user, code, name, body)


@router.post(
    "/staff/cases/{code}/assign",
    tags=["staff"],
    summary="Assign or reassign",
    responses=CASE,
)
async def assign(request: Request, code: Code, body: AssignBody, user: Staff) -> CaseView:
    return await _act(request, user, code, "assign", body)


@router.post(
    "/staff/cases/{code}/message",
    tags=["staff"],
    summary="Take a message for an absent colleague (promised callback)",
    responses=CASE,
)
async def take_message(request: Request, code: Code, body: MessageBody, user: Staff) -> CaseView:
    return await _act(request, user, code, "message", body)


@router.post(
    "/staff/cases/{code}/interim-reply",
    tags=["staff"],
    summary="Send an interim reply (중간회신) with the reason and a new date",
    responses=CASE,
)
async def interim_reply(
    request: Request, code: Code, body: InterimReplyBody, user: Staff
) -> CaseView:
    return await _act(request, user, code, "interim-reply", body)


@router.post(
    "/staff/cases/{code}/answer",
    tags=["staff"],
    summary="Answer the complainant",
    responses=CASE,
)
async def answer(request: Request, code: Code, body: AnswerBody, user: Staff) -> CaseView:
    return await _act(request, user, code, "answer", body)


@router.post(
    "/staff/cases/{code}/finding",
    tags=["staff"],
    summary="Record the investigation's finding",
    responses=CASE,
)
async def finding(request: Request, code: Code, body: FindingBody, user: Staff) -> CaseView:
    return await _act(request, user, code, "finding", body)


@router.post(
    "/staff/cases/{code}/apology",
    tags=["staff"],
    summary="Record an apology",
    responses=CASE,
)
async def apology(request: Request, code: Code, body: ApologyBody, user: Staff) -> CaseView:
    return await _act(request, user, code, "apology", body)


@router.post(
    "/staff/cases/{code}/corrective-action",
    tags=["staff"],
    summary="Record a warning or training for a staff member",
    responses=CASE,
)
async def corrective_action(
    request: Request, code: Code, body: CorrectiveActionBody, user: Staff
) -> CaseView:
    return await _act(request, user, code, "corrective-action", body)


@router.post(
    "/staff/cases/{code}/announce",
    tags=["staff"],
    summary="Announce the result publicly (never a private case)",
    responses=CASE,
)
async def announce(request: Request, code: Code, body: AnnounceBody, user: Staff) -> CaseView:
    return await _act(request, user, code, "announce", body)


@router.post(
    "/staff/cases/{code}/reopen",
    tags=["staff"],
    summary="Reopen a case",
    responses=CASE,
)
async def reopen(request: Request, code: Code, body: ReasonBody, user: Staff) -> CaseView:
    return await _act(request, user, code, "reopen", body)


@router.post(
    "/staff/cases/{code}/withdraw",
    tags=["staff"],
    summary="Withdraw a case",
    responses=CASE,
)
async def withdraw(request: Request, code: Code, body: ReasonBody, user: Staff) -> CaseView:
    return await _act(request, user, code, "withdraw", body)


@router.post(
    "/staff/cases/{code}/close",
    tags=["staff"],
    summary="Close an answered case",
    responses=CASE,
)
async def close(request: Request, code: Code, user: Staff) -> CaseView:
    return await _act(request, user, code, "close", NoBody())


@router.post(
    "/staff/cases/{code}/escalate",
    tags=["staff"],
    summary="Escalate one level up the chain, with a reason",
    responses=CASE,
)
async def escalate(request: Request, code: Code, body: ReasonBody, user: Staff) -> CaseView:
    return await _act(request, user, code, "escalate", body)


@router.post(
    "/staff/cases/{code}/satisfaction",
    tags=["staff"],
    summary="Record the complainant's satisfaction (1–5)",
    responses=CASE,
)
async def satisfaction(
    request: Request, code: Code, body: SatisfactionBody, user: Staff
) -> CaseView:
    return await _act(request, user, code, "satisfaction", body)


@router.post(
    "/staff/cases/{code}/note",
    tags=["staff"],
    summary="Add a working note (처리 메모): kept with the case, never sent",
    responses=CASE,
)
async def note(request: Request, code: Code, body: NoteBody, user: Staff) -> CaseView:
    return await _act(request, user, code, "note", body)


# -- ops ------------------------------------------------------------------------------------------


@router.get(
    "/ops/cases",
    tags=["ops"],
    summary="Overdue and escalated open cases",
    responses={"403": {"description": "Not ops, the designated officer or the director"}},
)
async def ops_cases(request: Request, user: Staff) -> OpsOverview:
    return await desk_of(request).ops_overview(user)


@router.post(
    "/ops/escalations",
    tags=["ops"],
    summary="Escalate every open case matching a filter, with a reason",
    responses={"403": {"description": "Not ops, the designated officer or the director"}},
)
async def bulk_escalate(request: Request, body: BulkEscalation, user: Staff) -> BulkResult:
    return await desk_of(request).escalate_in_bulk(user, body)
