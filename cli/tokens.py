"""`minwon token`: bearer tokens for staff using the HTTP API and the staff desk.

`issue` prints a new token once, on stdout alone (so a script can capture it);
only its SHA-256 digest is stored, in the event store. What a token's holder may
do follows from the roster (their roles on the day) and the cases assigned to
them, not from the token.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from cli.actor import add_actor_option, authorise
from cli.errors import CliError
from domain.calendar import SEOUL
from domain.service import Complaints
from web.credentials import AccessToken, CredentialError

DEFAULT_DAYS = 90


def register(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="API and staff-desk tokens (stored as digests)")
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")

    issue = actions.add_parser("issue", help="issue a token for a staff member; printed once")
    issue.add_argument("--staff", required=True, help="staff id (directory or roster)")
    issue.add_argument("--days", type=int, default=DEFAULT_DAYS, help="valid for (default 90)")
    add_actor_option(issue, "who issues it: ops or the director")
    issue.set_defaults(handler=run_issue)

    revoke = actions.add_parser("revoke", help="revoke a token by the id printed at issue")
    revoke.add_argument("token_id", help="the token's id (12 hex digits)")
    add_actor_option(revoke, "who revokes it: ops or the director")
    revoke.set_defaults(handler=run_revoke)


def issue_token(
    app: Complaints, staff: str, *, issued_by: str, days: int
) -> tuple[AccessToken, str]:
    """Issue and store a token for someone the center knows: in the directory or the roster."""
    now = datetime.now(SEOUL)
    if app.roster.staff(staff) is None and not app.roster.roles_of(staff, now):
        raise CliError(f"'{staff}' is neither in the staff directory nor on today's roster")
    try:
        token, text = AccessToken.issue(staff=staff, issued_by=issued_by, at=now, days=days)
    except CredentialError as error:
        raise CliError(str(error)) from None
    app.save(token)
    return token, text


def run_issue(args: argparse.Namespace) -> int:
    actor, _ = authorise(args, "manage_tokens")
    app = Complaints()
    try:
        token, text = issue_token(app, args.staff, issued_by=actor, days=args.days)
        roles = ", ".join(app.roster.roles_of(args.staff, datetime.now(SEOUL))) or "no role today"
    finally:
        app.close()
    print(text)
    print(
        f"token {token.token_id} for {token.staff} ({roles}), valid until "
        f"{token.expires_at.date().isoformat()}. It is shown only this once: only its digest "
        f"is stored. Revoke it with `minwon token revoke {token.token_id}`.",
        file=sys.stderr,
    )
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    actor, _ = authorise(args, "manage_tokens")
    app = Complaints()
    try:
        try:
            token: AccessToken = app.repository.get(AccessToken.create_id(args.token_id))
        except AggregateNotFoundError:
            raise CliError(f"no token with id {args.token_id}") from None
        token.revoke(by=actor, at=datetime.now(SEOUL))
        app.save(token)
    finally:
        app.close()
    print(f"token {token.token_id} of {token.staff} revoked")
    return 0
