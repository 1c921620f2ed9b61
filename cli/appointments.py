"""`minwon appointment`: visits to the center booked ahead, and home visits (나.④, 라.①②).

- `book --kind visit|home --at MOMENT --staff ID --purpose TEXT --contact PHONE_OR_EMAIL`:
  a home visit needs `--address` and `--agreed-by-phone-at` (when its purpose and
  time were agreed with the resident by phone); `--case CODE` links it to a case;
- `move ID --at MOMENT --reason TEXT` (a home visit: `--agreed-by-phone-at` again);
- `outcome ID --outcome done|no_show [--note TEXT]`: on the linked case too;
- `list [--on DAY ...]`: today's and tomorrow's appointments.

The resident is told the booking with the staff member's contact, and both are
reminded the day before (the server's workflow sends them). Each command is one
call to the API as the token's person; the server renders what is printed.
"""

from __future__ import annotations

import argparse
import uuid
from datetime import datetime
from typing import Any

from cli import remote
from cli.args import day, moment


def register(subparsers: Any) -> None:
    appointment = subparsers.add_parser(
        "appointment", help="예약: visits to the center and home visits, reminded the day before"
    )
    actions = appointment.add_subparsers(
        dest="appointment_command", required=True, metavar="ACTION"
    )

    book = actions.add_parser("book", help="book a visit to the center or a home visit")
    book.add_argument("--kind", required=True, choices=("visit", "home"))
    book.add_argument("--at", required=True, type=moment, help="e.g. 2026-12-08T14:00+09:00")
    book.add_argument("--minutes", type=int, default=60, help="how long (default 60)")
    book.add_argument("--staff", required=True, help="who receives or visits the resident")
    book.add_argument("--purpose", required=True, help="what the visit is for (sealed)")
    book.add_argument("--contact", required=True, help="the resident's phone or e-mail (sealed)")
    book.add_argument("--address", help="a home visit's address (sealed)")
    book.add_argument("--case", help="the receipt code of the case it is about")
    book.add_argument(
        "--agreed-by-phone-at",
        type=moment,
        help="a home visit: when its purpose and time were agreed by phone (라.①)",
    )
    _json_option(book)
    book.set_defaults(handler=run_book)

    move = actions.add_parser("move", help="move an appointment to a new time")
    move.add_argument("appointment_id")
    move.add_argument("--at", required=True, type=moment)
    move.add_argument("--reason", required=True, help="why (sealed)")
    move.add_argument("--agreed-by-phone-at", type=moment, help="a home visit: agreed again")
    _json_option(move)
    move.set_defaults(handler=run_move)

    outcome = actions.add_parser("outcome", help="record how it went: done or no_show")
    outcome.add_argument("appointment_id")
    outcome.add_argument("--outcome", required=True, choices=("done", "no_show"))
    outcome.add_argument("--note", help="what came of it (sealed)")
    _json_option(outcome)
    outcome.set_defaults(handler=run_outcome)

    listing = actions.add_parser("list", help="today's and tomorrow's appointments")
    listing.add_argument("--on", action="append", type=day, help="a day (repeat for more)")
    _json_option(listing)
    listing.set_defaults(handler=run_list)


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def _format(args: argparse.Namespace) -> dict[str, str]:
    return {"format": "json" if args.json else "text"}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def run_book(args: argparse.Namespace) -> int:
    body = {
        "request_id": uuid.uuid4().hex,
        "kind": args.kind,
        "start": args.at.isoformat(),
        "minutes": args.minutes,
        "staff": args.staff,
        "purpose": args.purpose,
        "contact": args.contact,
        "address": args.address,
        "receipt_code": args.case,
        "agreed_by_phone_at": _iso(args.agreed_by_phone_at),
    }
    return remote.printed(
        remote.request("POST", "/api/appointments", params=_format(args), json=body)
    )


def run_move(args: argparse.Namespace) -> int:
    body = {
        "request_id": uuid.uuid4().hex,
        "start": args.at.isoformat(),
        "reason": args.reason,
        "agreed_by_phone_at": _iso(args.agreed_by_phone_at),
    }
    path = f"/api/appointments/{args.appointment_id}/move"
    return remote.printed(remote.request("POST", path, params=_format(args), json=body))


def run_outcome(args: argparse.Namespace) -> int:
    body = {"request_id": uuid.uuid4().hex, "outcome": args.outcome, "note": args.note}
    path = f"/api/appointments/{args.appointment_id}/outcome"
    return remote.printed(remote.request("POST", path, params=_format(args), json=body))


def run_list(args: argparse.Namespace) -> int:
    params: dict[str, Any] = _format(args)
    if args.on:
        params["on"] = [day.isoformat() for day in args.on]
    return remote.printed(remote.request("GET", "/api/appointments", params=params))
