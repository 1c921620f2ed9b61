"""`minwon admin …`: commands for the server host, with the server's own configuration.

These do not go through the API: they open the event store (PERSISTENCE_MODULE,
SQLITE_DBNAME, POSTGRES_*) with the server's settings and secrets, so only someone
who can read those can run them. No token is involved: having the server's
configuration is the credential.

- `bootstrap --staff ID` prints a first token for a holder of the director's or
  ops' role, while they hold no valid token (or with `--force`); the token's
  issue is an event in the store, naming the host user who ran it.
- `projections run | rebuild` bring the read models up to date, or rebuild them.
- `reconcile [--dry-run] [--json]` gives every open case a running workflow now, as
  the reconciler's schedule does, replaces the run of a case the store has ended
  behind its workflow's back, and lists every divergence it found.
- `calendar reload | diff` follows a change of the calendar now, or shows what
  another `holidays` release would change (`cli.calendar_admin`).
- `checkpoint [--force]`, `public-key` sign the store now, and print the key that
  checks it (`cli.checkpoint_admin`).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import socket
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cli import calendar_admin, checkpoint_admin, projections
from cli.errors import CliError, server_settings

if TYPE_CHECKING:
    from workflows.models import ReconcileReport

ADMIN_NOTE = "Runs on the server host, with its configuration (its store and secrets)."
BOOTSTRAP_DAYS = 7


def register(subparsers: Any) -> None:
    admin = subparsers.add_parser(
        "admin",
        help="server-host commands (need the server's configuration, not a token)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    actions = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    bootstrap = actions.add_parser(
        "bootstrap",
        help="print a first token for the director or ops (server host only)",
        description=(
            "Print a first token (mwt_…) for a holder of the director's or ops' role today, "
            "while they have no valid token; --force issues one anyway. " + ADMIN_NOTE
        ),
    )
    bootstrap.add_argument("--staff", required=True, help="staff id of the director or ops")
    bootstrap.add_argument(
        "--days", type=int, default=BOOTSTRAP_DAYS, help=f"valid for (default {BOOTSTRAP_DAYS})"
    )
    bootstrap.add_argument(
        "--force", action="store_true", help="issue one even though they hold a valid token"
    )
    bootstrap.set_defaults(handler=run_bootstrap)
    projections.register(actions)

    reconcile = actions.add_parser(
        "reconcile",
        help="give every open case a running workflow; list what diverged (server host)",
        description=(
            "Compare every open case in the event store with Temporal and start the "
            "workflow of each case that has none (missing, terminated, failed …), as the "
            "schedule minwon-reconcile does; replace the run of a case the store has closed "
            "or withdrawn while its workflow still sees it open; list running workflows "
            "without a case. " + ADMIN_NOTE
        ),
    )
    reconcile.add_argument("--dry-run", action="store_true", help="list only, change nothing")
    reconcile.add_argument("--json", action="store_true", help="print JSON")
    reconcile.set_defaults(handler=run_reconcile)
    calendar_admin.register(actions, ADMIN_NOTE)
    checkpoint_admin.register(actions, ADMIN_NOTE)
    checkpoint_admin.register_export(actions, ADMIN_NOTE)
    rotate = actions.add_parser(
        "rotate-kek",
        help="wrap every person key and the pseudonym secret under the current KEK",
        description=(
            "Re-wrap every person key and the pseudonym secret under the current "
            "key-encryption key (MINWON_KEK), reading those wrapped under an older one "
            "(MINWON_KEK_OLD) or stored before wrapping. Rotate by setting the new key as "
            "MINWON_KEK and the old as MINWON_KEK_OLD, running this, then dropping "
            "MINWON_KEK_OLD. " + ADMIN_NOTE
        ),
    )
    rotate.set_defaults(handler=run_rotate_kek)


def run_reconcile(args: argparse.Namespace) -> int:
    # The server's own modules: only this command needs Temporal and the store.
    from activities.reconcile import Reconciler
    from application.store import open_complaints
    from workflows.client import TemporalSettings, connect

    process = server_settings()
    settings = TemporalSettings.from_env(process.env)

    async def work() -> ReconcileReport:
        client = await connect(settings, env=process.env, dev=not process.has_payload_key)
        complaints = open_complaints(process.env)
        try:
            reconciler = Reconciler(
                complaints, client, settings.task_queue, limit=process.restore_limit
            )
            return await reconciler.reconcile(dry_run=args.dry_run)
        finally:
            complaints.close()

    try:
        report = asyncio.run(work())
    except RuntimeError as error:
        raise CliError(f"cannot reach Temporal at {settings.address}: {error}", 3) from None
    if args.json:
        print(report.model_dump_json(indent=2))
        return 0
    for d in report.divergences:
        print(f"{d.receipt_code or '-':<15} {d.workflow_id:<50} {d.found:<11} {d.action}")
    for appointment_id in report.appointments_restarted:
        print(f"appointment {appointment_id}: its workflow was gone, started again")
    print(
        f"{report.open_cases} open case(s), {report.running} running workflow(s), "
        f"{len(report.divergences)} divergence(s)"
    )
    return 0


def run_rotate_kek(args: argparse.Namespace) -> int:
    from application.store import open_complaints
    from privacy.kek import KekError

    try:
        complaints = open_complaints(server_settings().env)
    except KekError as error:
        raise CliError(str(error)) from None
    try:
        rewrapped = complaints.keys.rotate()
    except KekError as error:
        raise CliError(str(error)) from None
    finally:
        complaints.close()
    print(f"{rewrapped} key(s) wrapped under the current key-encryption key")
    return 0


def run_bootstrap(args: argparse.Namespace) -> int:
    # The server's own modules: only this command needs the store.
    from application.store import open_complaints
    from domain.access import DIRECTOR, OPS, roles_of
    from domain.calendar import SEOUL
    from domain.credentials import CredentialError
    from domain.policy import PolicyError
    from domain.tokens import issue_token, valid_tokens

    now = datetime.now(SEOUL)
    try:
        complaints = open_complaints(server_settings().env)
    except PolicyError as error:
        raise CliError(f"cannot open the store: invalid policy {error}") from None
    try:
        roles = roles_of(complaints.roster, args.staff, now)
        if not roles & {DIRECTOR, OPS}:
            raise CliError(
                f"refused: {args.staff} holds neither the director's nor ops' role today "
                f"({', '.join(sorted(roles)) or 'not on the roster'}); bootstrap is for them"
            )
        held = valid_tokens(complaints, args.staff, now)
        if held and not args.force:
            raise CliError(
                f"refused: {args.staff} already holds {len(held)} valid token(s) "
                f"({', '.join(t.token_id for t in held)}); ask them, or use --force"
            )
        issuer = f"admin-bootstrap{'-forced' if args.force else ''}:" + (
            f"{getpass.getuser()}@{socket.gethostname()}"
        )
        try:
            token, text = issue_token(
                complaints, args.staff, issued_by=issuer, days=args.days, at=now
            )
        except CredentialError as error:
            raise CliError(str(error)) from None
    finally:
        complaints.close()
    print(text)
    print(
        f"token {token.token_id} for {token.staff} ({', '.join(sorted(roles))}), valid until "
        f"{token.expires_at.date().isoformat()}, issued by {issuer}. Log in with "
        "`minwon login` (it reads the token without echo) or `--token-file FILE`.",
        file=sys.stderr,
    )
    return 0
