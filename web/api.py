"""The HTTP API: residents (no account), staff and ops (bearer tokens).

Paths and what they do are in the OpenAPI schema (`/openapi.json`, browsable at
`/api/docs`). Every staff action is the workflow update `act`, as `minwon` sends it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from cli.cases import WORKFLOW_HEADER
from domain.commands import STAFF_ACTIONS
from web.desk import Desk, StaffUser
from web.problems import Problem
from web.schemas import (
    ACTION_BODIES,
    RECEIPT_PATTERN,
    BulkEscalation,
    BulkResult,
    CaseDetail,
    ComplaintSubmission,
    Directory,
    ErasureDone,
    ErasureRequest,
    IssuedToken,
    Me,
    NoticeRecord,
    OpsOverview,
    PersonalData,
    PublicNoticeOut,
    QueueItem,
    Receipt,
    ResidentStatus,
    StaffFiled,
    StaffFiling,
    StatusLookup,
    TokenRequest,
    TokenRevoked,
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


def client_address(request: Request) -> str:
    """The client's address: the peer's, or behind a proxy named in
    MINWON_TRUSTED_PROXIES the one it forwarded (`web.app`); never a header's
    otherwise, which anyone can send."""
    return request.client.host if request.client else "unknown"


def origin(request: Request, via: str) -> str:
    """Where a read came from, for the access log."""
    return f"{via}:{client_address(request)}"


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
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds until another try may be admitted",
        "schema": {"type": "integer", "minimum": 1},
    }
}
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
    responses={
        "404": {"description": "about_receipt_code names no case"},
        "429": {
            "description": "Too many complaints from this address or for this contact "
            "(nothing recorded)",
            "headers": RETRY_AFTER,
        },
    },
)
async def submit_complaint(request: Request, body: ComplaintSubmission) -> Receipt:
    """Files the complaint; answers with the receipt code and a secret shown only now."""
    return await desk_of(request).submit(body, client_address(request))


@router.post(
    "/complaints/status",
    tags=["residents"],
    summary="Look up a complaint with its receipt code and secret",
    responses={
        "404": {"description": "No case with this receipt code and secret"},
        "429": {
            "description": "Too many wrong secrets for this receipt code from this address",
            "headers": RETRY_AFTER,
        },
    },
)
async def complaint_status(request: Request, body: StatusLookup) -> ResidentStatus:
    return await desk_of(request).resident_status(
        body.receipt_code, body.secret, via="api", address=client_address(request)
    )


@router.get(
    "/directory",
    tags=["residents"],
    summary="Who holds each role today, and what each kind of request promises",
)
async def directory(request: Request) -> Directory:
    return desk_of(request).directory()


@router.get("/notices", tags=["residents"], summary="Public notices of results (헌장 5)")
async def public_notices(request: Request) -> list[PublicNoticeOut]:
    return await desk_of(request).public_notices()


# -- staff -------------------------------------------------------------------------------------


@router.get("/staff/me", tags=["staff"], summary="Who the token belongs to, and their roles")
async def me(user: Staff) -> Me:
    return user.me()


@router.post(
    "/staff/me/revoke",
    tags=["staff"],
    summary="Revoke the token this request was made with (`minwon logout --revoke`)",
)
async def revoke_own_token(request: Request, user: Staff) -> TokenRevoked:
    return await desk_of(request).revoke_own_token(user)


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
    view, secret, note = await desk_of(request).file(user, body)
    return StaffFiled(case=view, secret=secret, note=note)


@router.get(
    "/staff/cases/{code}",
    tags=["staff"],
    summary="A case: its clocks and full history",
    responses=CASE,
)
async def case_detail(request: Request, code: Code, user: Staff) -> CaseDetail:
    return await desk_of(request).case_detail(user, code, origin=origin(request, "api"))


def _action_endpoint(name: str, body_model: type[BaseModel] | None) -> Callable[..., Any]:
    """`POST /api/staff/cases/{code}/{name}` for one action of the registry."""

    async def endpoint(request: Request, code: str, user: StaffUser, **body: Any) -> CaseView:
        form = body.get("body") or (body_model() if body_model else _NoBody())
        return await desk_of(request).act(user, code, name, form)

    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("code", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Code),
        inspect.Parameter("user", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Staff),
    ]
    if body_model is not None:
        parameters.append(
            inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=body_model)
        )
    # FastAPI reads the parameters from the signature: one body model per action.
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        parameters, return_annotation=CaseView
    )
    endpoint.__name__ = name
    return endpoint


class _NoBody(BaseModel):
    pass


for _name, _model in STAFF_ACTIONS.items():
    _body = ACTION_BODIES[_name]
    router.add_api_route(
        f"/staff/cases/{{code}}/{_name}",
        _action_endpoint(_name, _body if _body.model_fields else None),
        methods=["POST"],
        tags=["staff"],
        summary=_model.doc[:1].upper() + _model.doc[1:],
        responses=CASE,
        response_model=CaseView,
    )


@router.get(
    "/staff/cases/{code}/status",
    tags=["staff"],
    summary="A case's clocks and escalations as its workflow sees them (no personal data)",
    responses=CASE,
)
async def case_status(request: Request, code: Code, user: Staff, response: Response) -> CaseView:
    """Header `Minwon-Workflow`: running, or what became of an open case's workflow."""
    view, workflow = await desk_of(request).case_status(user, code)
    response.headers[WORKFLOW_HEADER] = workflow
    return view


@router.get(
    "/staff/cases/{code}/personal",
    tags=["staff"],
    summary="The complainant's contact and words and the notes (access-logged)",
    responses=CASE,
)
async def personal_data(request: Request, code: Code, user: Staff) -> PersonalData:
    return await desk_of(request).personal_data(user, code, origin(request, "api"))


@router.get(
    "/staff/cases/{code}/notices",
    tags=["staff"],
    summary="What was sent for a case, when and how",
    responses=CASE,
)
async def case_notices(request: Request, code: Code, user: Staff) -> list[NoticeRecord]:
    return await desk_of(request).notices_of(user, code)


# -- tokens and personal data (ops, the director, the officer) -------------------------------


@router.post(
    "/tokens",
    status_code=201,
    tags=["admin"],
    summary="Issue a token for a staff member (shown once; only its digest is kept)",
    responses={
        "403": {"description": "Not ops or the director, or a token only the director issues"}
    },
)
async def issue_token(request: Request, body: TokenRequest, user: Staff) -> IssuedToken:
    return await desk_of(request).issue_token(user, body)


@router.post(
    "/tokens/{token_id}/revoke",
    tags=["admin"],
    summary="Revoke a token by its id",
    responses={
        "403": {"description": "Not ops or the director"},
        "404": {"description": "No such token"},
    },
)
async def revoke_token(
    request: Request,
    token_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")],
    user: Staff,
) -> TokenRevoked:
    return await desk_of(request).revoke_token(user, token_id)


@router.post(
    "/privacy/erasures",
    tags=["admin"],
    summary="Erase a person's personal data (crypto-shredding): their cases read [erased]",
    responses={"403": {"description": "Not the director or the designated officer"}},
)
async def erase_person(request: Request, body: ErasureRequest, user: Staff) -> ErasureDone:
    return await desk_of(request).erase_person(user, body)


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
