"""Issuing and revoking staff tokens, on the server: who may hand out which token.

Ops and the director hand out tokens (domain.access `manage_tokens`). A token for
someone who holds the designated officer's or the director's role on the day
needs the director: ops may issue tokens for staff, ops and auditors only.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from eventsourcing.application import AggregateNotFoundError

from domain.access import DIRECTOR, DIRECTOR_ISSUED_ROLES, AccessDeniedError, require
from domain.calendar import SEOUL
from domain.credentials import AccessToken, CredentialError

if TYPE_CHECKING:
    from application.service import Complaints

DEFAULT_DAYS = 90


class UnknownStaffError(CredentialError):
    pass


def issue_token(
    app: Complaints, staff: str, *, issued_by: str, days: int, at: datetime | None = None
) -> tuple[AccessToken, str]:
    """Issue and store a token for someone the center knows: in the directory or the roster.

    `issued_by` is trusted here (the server authenticated them, or it is the server's
    own bootstrap); whether they may is `check_issuer`'s decision."""
    now = at or datetime.now(SEOUL)
    if app.roster.staff(staff) is None and not app.roster.roles_of(staff, now):
        raise UnknownStaffError(
            f"'{staff}' is neither in the staff directory nor on today's roster"
        )
    token, text = AccessToken.issue(staff=staff, issued_by=issued_by, at=now, days=days)
    app.save(token)
    return token, text


def check_issuer(app: Complaints, issuer: str, staff: str, at: datetime) -> None:
    """AccessDeniedError unless `issuer` may hand `staff` a token on the day `at`."""
    roles = require(app.roster, issuer, "manage_tokens", at)
    powerful = set(app.roster.roles_of(staff, at)) & DIRECTOR_ISSUED_ROLES
    if powerful and DIRECTOR not in roles:
        raise AccessDeniedError(
            f"{issuer} may not issue a token for {staff} ({', '.join(sorted(powerful))}): "
            "tokens for the designated officer or the director are issued by the director"
        )


def find_token(app: Complaints, token_id: str) -> AccessToken:
    try:
        token: AccessToken = app.repository.get(AccessToken.create_id(token_id))
    except AggregateNotFoundError:
        raise CredentialError(f"no token with id {token_id}") from None
    return token


def revoke_token(app: Complaints, token_id: str, *, by: str, at: datetime) -> AccessToken:
    token = find_token(app, token_id)
    token.revoke(by=by, at=at)
    app.save(token)
    return token


def valid_tokens(app: Complaints, staff: str, at: datetime) -> list[AccessToken]:
    """The staff member's tokens that still admit them (not revoked, not expired)."""
    found = []
    for token_id in token_ids_of(app, staff):
        token = find_token(app, token_id)
        if token.revoked_at is None and at < token.expires_at:
            found.append(token)
    return found


ISSUED_TOPIC = f"{AccessToken.__module__}:{AccessToken.__qualname__}.Issued"
PAGE = 500


def token_ids_of(app: Complaints, staff: str) -> list[str]:
    """Every token ever issued to `staff`, read from the store's log of issues."""
    ids: list[str] = []
    start: int | None = None
    while True:
        page = app.recorder.select_notifications(
            start, PAGE, topics=[ISSUED_TOPIC], inclusive_of_start=start is None
        )
        for notification in page:
            issued = app.mapper.to_domain_event(notification)
            if getattr(issued, "staff", None) == staff:
                ids.append(str(getattr(issued, "token_id")))  # noqa: B009
        if len(page) < PAGE:
            return ids
        start = page[-1].id
