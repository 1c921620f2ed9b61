"""`minwon roster`: the 업무분장 — who holds which role, by period, and the staff directory.

The roster lives in the server's event store as events (seeded once from
policy/roster.toml); `assign` and `add-staff` record new ones as the token's
person (ops or the director), `history` lists them, `show` says who holds each
role on a day. Routing and escalation read the holder valid at a case's moment,
so a change made here routes the next case. The server renders what is printed.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli import remote
from cli.args import day
from domain.access import ROLES


def register(subparsers: Any) -> None:
    roster = subparsers.add_parser("roster", help="업무분장: role holders by period, staff")
    actions = roster.add_subparsers(dest="roster_command", required=True, metavar="ACTION")

    show = actions.add_parser("show", help="who holds each role on a day (default: today)")
    show.add_argument("--on", type=day, help="the day, e.g. 2027-01-04 (default: today, Seoul)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=run_show)

    assign = actions.add_parser("assign", help="give a role to a staff member from a date on")
    assign.add_argument("--role", required=True, choices=ROLES)
    assign.add_argument("--staff", required=True, help="staff id (in the staff directory)")
    assign.add_argument("--from", dest="start", required=True, type=day, help="first day")
    assign.set_defaults(handler=run_assign)

    add_staff = actions.add_parser("add-staff", help="add or change a staff directory entry")
    add_staff.add_argument("--id", required=True, dest="staff_id")
    add_staff.add_argument("--name", required=True)
    add_staff.add_argument("--title", required=True)
    add_staff.add_argument("--phone", required=True, help="desk phone (told to residents)")
    add_staff.add_argument("--email", help="work address (staff reminders)")
    add_staff.add_argument("--photo", help="a photo's file name in web/static/staff/")
    add_staff.set_defaults(handler=run_add_staff)

    history = actions.add_parser("history", help="every change to the roster, as recorded")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(handler=run_history)


def _format(args: argparse.Namespace) -> str:
    return "json" if getattr(args, "json", False) else "text"


def run_show(args: argparse.Namespace) -> int:
    # Without --on the server's today counts (Seoul), not this machine's.
    params = {"on": args.on, "format": _format(args)}
    return remote.printed(remote.request("GET", "/api/roster", params=params))


def run_assign(args: argparse.Namespace) -> int:
    body = {"role": args.role, "staff": args.staff, "from": args.start.isoformat()}
    response = remote.request(
        "POST", "/api/roster/assignments", params={"format": "text"}, json=body
    )
    return remote.printed(response)


def run_add_staff(args: argparse.Namespace) -> int:
    body = {
        "id": args.staff_id,
        "name": args.name,
        "title": args.title,
        "phone": args.phone,
        "email": args.email,
        "photo": args.photo,
    }
    response = remote.request("POST", "/api/roster/staff", params={"format": "text"}, json=body)
    return remote.printed(response)


def run_history(args: argparse.Namespace) -> int:
    params = {"format": _format(args)}
    return remote.printed(remote.request("GET", "/api/roster/history", params=params))
