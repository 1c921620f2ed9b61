"""`minwon token issue | revoke`: bearer tokens for the API, the CLI and the staff desk.

Both are calls to the API as the logged-in person: ops or the director hand out
tokens, and a token for the designated officer or the director needs the
director. `issue` prints the new token once, on stdout alone (so a script can
capture it); only its SHA-256 digest is stored. What its holder may do follows
from the roster on the day, not from the token.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli import remote

DEFAULT_DAYS = 90


def register(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="API and staff-desk tokens (stored as digests)")
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")

    issue = actions.add_parser(
        "issue",
        help="issue a token for a staff member; printed once (ops or the director)",
        description=(
            "Issue a token for a staff member. Ops may issue tokens for staff, ops and "
            "auditors; tokens for the designated officer or the director need the director."
        ),
    )
    issue.add_argument("--staff", required=True, help="staff id (directory or roster)")
    issue.add_argument("--days", type=int, default=DEFAULT_DAYS, help="valid for (default 90)")
    issue.set_defaults(handler=run_issue)

    revoke = actions.add_parser("revoke", help="revoke a token by the id printed at issue")
    revoke.add_argument("token_id", help="the token's id (12 hex digits)")
    revoke.set_defaults(handler=run_revoke)


def run_issue(args: argparse.Namespace) -> int:
    issued = remote.post("/api/tokens", {"staff": args.staff, "days": args.days})
    print(issued["token"])
    roles = ", ".join(issued["roles"]) or "no role today"
    print(
        f"token {issued['token_id']} for {issued['staff']} ({roles}), valid until "
        f"{issued['expires_at'][:10]}. It is shown only this once: only its digest is "
        f"stored. Revoke it with `minwon token revoke {issued['token_id']}`.",
        file=sys.stderr,
    )
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    revoked = remote.post(f"/api/tokens/{args.token_id}/revoke")
    print(f"token {revoked['token_id']} of {revoked['staff']} revoked")
    return 0
