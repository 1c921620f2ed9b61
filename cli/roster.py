"""`minwon roster`: the 업무분장 — who holds which role, by period, and the staff directory.

The roster lives in the event store as events (seeded once from
policy/roster.toml); `assign` and `add-staff` record new ones, `history` lists
them, `show` says who holds each role on a day. Routing and escalation read the
holder valid at a case's moment, so a change made here routes the next case.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from cli.actor import add_actor_option, authorise
from cli.errors import CliError
from domain.calendar import SEOUL, to_seoul
from domain.roster import ROLES, Roster, RosterError, StaffMember, StoredRoster
from domain.service import Complaints

WEEKDAYS = "월화수목금토일"


def register(subparsers: Any) -> None:
    roster = subparsers.add_parser("roster", help="업무분장: role holders by period, staff")
    actions = roster.add_subparsers(dest="roster_command", required=True, metavar="ACTION")

    show = actions.add_parser("show", help="who holds each role on a day (default: today)")
    show.add_argument("--on", type=_day, help="the day, e.g. 2027-01-04 (default: today, Seoul)")
    show.add_argument("--json", action="store_true", help="print JSON")
    add_actor_option(show)
    show.set_defaults(handler=run_show)

    assign = actions.add_parser("assign", help="give a role to a staff member from a date on")
    assign.add_argument("--role", required=True, choices=ROLES)
    assign.add_argument("--staff", required=True, help="staff id (in the staff directory)")
    assign.add_argument("--from", dest="start", required=True, type=_day, help="first day")
    add_actor_option(assign)
    assign.set_defaults(handler=run_assign)

    add_staff = actions.add_parser("add-staff", help="add or change a staff directory entry")
    add_staff.add_argument("--id", required=True, dest="staff_id")
    add_staff.add_argument("--name", required=True)
    add_staff.add_argument("--title", required=True)
    add_staff.add_argument("--phone", required=True, help="desk phone (told to residents)")
    add_staff.add_argument("--email", help="work address (staff reminders)")
    add_actor_option(add_staff)
    add_staff.set_defaults(handler=run_add_staff)

    history = actions.add_parser("history", help="every change to the roster, as recorded")
    history.add_argument("--json", action="store_true", help="print JSON")
    add_actor_option(history)
    history.set_defaults(handler=run_history)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _today() -> date:
    return datetime.now(SEOUL).date()


@contextmanager
def _roster() -> Iterator[StoredRoster]:
    app = Complaints()
    try:
        if not isinstance(app.roster, StoredRoster):
            raise CliError("this application's roster is not stored in its event store")
        yield app.roster
    finally:
        app.close()


def _label(day: date) -> str:
    return f"{day.isoformat()} ({WEEKDAYS[day.weekday()]})"


# -- show ----------------------------------------------------------------------------------


def holders_on(roster: Roster, day: date) -> list[dict[str, Any]]:
    """Each role's holder on `day`, with the period they hold it in, and who is next."""
    rows = []
    for role in roster.roles():
        schedule = roster.schedule(role)
        current = next(
            (p for p in schedule if p.start <= day and (p.end is None or day <= p.end)), None
        )
        upcoming = next((p for p in schedule if p.start > day), None)
        member = roster.staff(current.staff) if current and current.staff else None
        rows.append(
            {
                "role": role,
                "staff": current.staff if current else None,
                "name": member.name if member else None,
                "title": member.title if member else None,
                "phone": member.phone if member else None,
                "since": current.start.isoformat() if current else None,
                "until": current.end.isoformat() if current and current.end else None,
                "next": upcoming and {"staff": upcoming.staff, "from": upcoming.start.isoformat()},
            }
        )
    return rows


def run_show(args: argparse.Namespace) -> int:
    authorise(args, "read_roster")
    day = args.on or _today()
    with _roster() as stored:
        roster = stored.current()
    rows = holders_on(roster, day)
    if args.json:
        print(json.dumps({"on": day.isoformat(), "roles": rows}, ensure_ascii=False, indent=2))
        return 0
    print(f"업무분장 on {_label(day)}")
    for row in rows:
        if row["staff"] is None:
            line = f"  {row['role']:<22} (no holder)"
        else:
            until = f" until {row['until']}" if row["until"] else ""
            line = f"  {row['role']:<22} {row['staff']:<14} since {row['since']}{until}"
            if row["name"]:
                line += f"  {row['name']}, {row['title']}, {row['phone']}"
            else:
                line += "  (not in the staff directory)"
        if row["next"]:
            line += f"\n  {'':<22} → {row['next']['staff']} from {row['next']['from']}"
        print(line)
    return 0


# -- changes ---------------------------------------------------------------------------------


def run_assign(args: argparse.Namespace) -> int:
    # The roster is changed by ops or the director (domain.access), as on that day.
    actor, _ = authorise(args, "roster")
    now = datetime.now(SEOUL)
    with _roster() as stored:
        before = stored.current().holder_on(args.role, args.start)
        try:
            roster = stored.assign(
                role=args.role, staff=args.staff, start=args.start, by=actor, at=now
            )
        except RosterError as error:
            raise CliError(f"cannot assign: {error}") from None
    after = roster.holder_on(args.role, args.start)
    was = f" (was {before})" if before and before != after else ""
    print(f"{args.role}: {after} from {_label(args.start)}{was}")
    upcoming = next((p for p in roster.schedule(args.role) if p.start > args.start), None)
    if upcoming:
        print(f"  then {upcoming.staff} from {upcoming.start.isoformat()}, as planned before")
    return 0


def run_add_staff(args: argparse.Namespace) -> int:
    actor, _ = authorise(args, "roster")
    member = StaffMember(
        id=args.staff_id, name=args.name, title=args.title, phone=args.phone, email=args.email
    )
    now = datetime.now(SEOUL)
    with _roster() as stored:
        try:
            roster = stored.register_staff(member, by=actor, at=now)
        except RosterError as error:
            raise CliError(f"cannot add {args.staff_id}: {error}") from None
    entry = roster.staff(args.staff_id)
    assert entry is not None, "just registered"
    email = f", {entry.email}" if entry.email else ""
    print(f"{entry.id}: {entry.name}, {entry.title}, {entry.phone}{email}")
    return 0


# -- history ------------------------------------------------------------------------------------


def describe_change(domain_event: Any) -> dict[str, Any]:
    """One roster event as a line of its history."""
    name = type(domain_event).__name__
    row: dict[str, Any] = {
        "version": domain_event.originator_version,
        "recorded": to_seoul(domain_event.timestamp).isoformat(timespec="seconds"),
        "event": name,
    }
    if name == "Seeded":
        row["what"] = (
            f"seeded from {domain_event.source}: {len(domain_event.holdings)} holding(s), "
            f"{len(domain_event.staff)} staff"
        )
    elif name == "RoleAssigned":
        row["by"] = domain_event.by
        row["what"] = f"{domain_event.role} → {domain_event.staff} from {domain_event.start}"
    elif name == "StaffRegistered":
        row["by"] = domain_event.by
        member = domain_event.member
        row["what"] = f"staff {member['id']}: {member['name']}, {member['title']}"
    return row


def run_history(args: argparse.Namespace) -> int:
    authorise(args, "read_roster")
    with _roster() as stored:
        changes = [describe_change(e) for e in stored.history()]
    if args.json:
        print(json.dumps(changes, ensure_ascii=False, indent=2))
        return 0
    for change in changes:
        by = f"  by {change['by']}" if "by" in change else ""
        print(f"#{change['version']:<3} {change['recorded']}  {change['what']}{by}")
    return 0
