"""What the endpoints of the records beside the cases share (the survey, appointments,
monitoring and awards): who may, the store's work off the event loop with its
refusals as problems, and an answer as JSON or as the lines `minwon` prints."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from eventsourcing.persistence import IntegrityError
from fastapi.responses import Response
from pydantic import BaseModel

from domain.access import AccessDeniedError, Rule, authorize
from web.desk import Desk, StaffUser, forbidden
from web.problems import FieldProblem, Problem
from web.rendered import TEXT, json_response, rendered

T = TypeVar("T")


def allowed(desk: Desk, user: StaffUser, rule: Rule, at: datetime) -> None:
    """The user may do what `rule` says on the day `at` (domain.access), or 403."""
    try:
        authorize(desk.complaints.roster.current(), user.staff, rule, at)
    except AccessDeniedError as error:
        raise forbidden(str(error)) from None


def refused(what: str, error: Exception) -> Problem:
    """A refusal by a record's rules: 422, and nothing was recorded."""
    return Problem(
        422,
        "refused",
        f"Refused by the {what}'s rules",
        f"nothing recorded: {error}",
        errors=[FieldProblem(location="body", message=str(error))],
    )


async def recorded(
    work: Callable[[], T],
    *,
    what: str,
    refusals: tuple[type[Exception], ...],
    missing: tuple[type[Exception], ...],
) -> T:
    """Run `work` (the store is synchronous) off the event loop; its refusals, what it
    did not find and a record that kept changing under it as problems."""
    try:
        return await asyncio.to_thread(work)
    except refusals as error:
        raise refused(what, error) from None
    except missing as error:
        raise Problem(404, "not-found", "Not found", str(error)) from None
    except IntegrityError:
        raise Problem(409, "conflict", "Conflict", f"the {what} kept changing: retry") from None


def answer(document: BaseModel, lines: list[str], format: str, status: int = 200) -> Response:
    """JSON, or the lines the command prints."""
    response = (
        json_response(document.model_dump(mode="json"))
        if format == "json"
        else rendered("\n".join(lines), TEXT)
    )
    response.status_code = status
    return response
