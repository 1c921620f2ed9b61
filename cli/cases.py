"""Case subcommands: file, show, every action of the registry, notices, escalation.

Each is one call to the HTTP API with the logged-in token; the server decides who
may (domain.access) and sends an action to the case's workflow as the update
`act`, which validates it before it enters history. An action's subcommand, its
options and its help come from the command registry (domain.commands): one name
per action, the same on the command line, in the API path and in the update.
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo

from cli import remote
from cli.args import moment
from cli.errors import CliError

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from domain.commands import Action

SEOUL = ZoneInfo("Asia/Seoul")
# What became of the case's workflow (running, missing, terminated …), from the server.
WORKFLOW_HEADER = "Minwon-Workflow"


def register(subparsers: Any) -> None:
    """Every case command; when main names the one being run (`subparsers.only`, one of
    ours whose name is fixed), that command alone: `show` then does without the command
    registry and its pydantic models, which `file` (its channels) and the actions need."""
    only = getattr(subparsers, "only", None)
    if only in (None, "file"):
        _register_file(subparsers)
    if only in (None, "show"):
        _register_show(subparsers)
    if only is None:
        _register_actions(subparsers)
    if only in (None, "notices"):
        _register_notices(subparsers)
    if only in (None, "escalate"):
        _register_escalate(subparsers)


def _register_file(subparsers: Any) -> None:
    from domain.commands import CHANNELS

    file = subparsers.add_parser("file", help="file a complaint; prints its receipt code")
    file.add_argument("--channel", choices=CHANNELS)
    file.add_argument("--category", help="policy category, e.g. inquiry, opinion, late_reply")
    file.add_argument("--topic", help="routing topic (intake, program, tour…; default intake)")
    file.add_argument("--contact", help="how to reach the complainant (encrypted)")
    file.add_argument("--text", help="the complaint in the complainant's words (encrypted)")
    file.add_argument("--private", action="store_true", help="비공개: never announced")
    file.add_argument("--linked-to", metavar="CODE", help="receipt code this complaint is about")
    file.add_argument(
        "--received-at", type=moment, help="when it reached the center, if earlier (ISO, offset)"
    )
    file.add_argument("--json-file", type=Path, help="read the complaint fields from JSON")
    _json_option(file)
    file.set_defaults(handler=run_file)


def _register_show(subparsers: Any) -> None:
    show = subparsers.add_parser("show", help="live status and commitments of a case")
    show.add_argument("code", help="receipt code")
    show.add_argument(
        "--personal",
        action="store_true",
        help="also show the contact, text and notes (the case's own people, the officer, "
        "auditors; each read is logged)",
    )
    _json_option(show)
    show.set_defaults(handler=run_show)


def _register_actions(subparsers: Any) -> None:
    from domain.commands import STAFF_ACTIONS

    for name, model in STAFF_ACTIONS.items():
        if name == "escalate":
            continue  # one case or many: below
        action = subparsers.add_parser(name, help=model.doc, description=f"{model.doc}.")
        action.add_argument("code", help="receipt code")
        add_input_options(action, model)
        _json_option(action)
        action.set_defaults(handler=run_action, model=model)


def _register_notices(subparsers: Any) -> None:
    notices = subparsers.add_parser(
        "notices", help="what was sent for a case, given up on, or still queued"
    )
    notices.add_argument("code", help="receipt code")
    _json_option(notices)
    notices.set_defaults(handler=run_notices)


def _register_escalate(subparsers: Any) -> None:
    escalate = subparsers.add_parser(
        "escalate", help="escalate one case, or every open case matching a filter"
    )
    escalate.add_argument("code", nargs="?", help="receipt code (or use the filters)")
    escalate.add_argument("--reason", required=True)
    escalate.add_argument("--overdue", action="store_true", help="all cases past a deadline")
    escalate.add_argument("--category", help="all open cases of this category")
    escalate.add_argument("--assignee", help="all open cases of this staff member")
    _json_option(escalate)
    escalate.set_defaults(handler=run_escalate)


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def add_input_options(parser: argparse.ArgumentParser, model: type[Action]) -> None:
    """One option per input field of the action: `fault_confirmed` is --fault-confirmed."""
    for name, info in model.input_fields().items():
        flag = "--" + name.replace("_", "-")
        options: dict[str, Any] = {"dest": name, "help": info.description}
        kind = _bare(info)
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif kind is int:
            options["type"] = int
        elif kind is datetime:
            options["type"] = moment
            options["metavar"] = "ISO_DATETIME"
        elif get_origin(kind) is Literal:
            options["choices"] = get_args(kind)
        if info.is_required():
            options["required"] = True
        else:
            options["default"] = info.default
        parser.add_argument(flag, **options)


def _bare(info: FieldInfo) -> Any:
    """The field's type without Optional or Annotated."""
    kind = info.annotation
    if get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(arg for arg in get_args(kind) if arg is not type(None))
    return kind


def _body(model: type[Action], args: argparse.Namespace) -> dict[str, Any]:
    body = {}
    for name in model.input_fields():
        value = getattr(args, name)
        body[name] = value.isoformat() if isinstance(value, datetime) else value
    return body


# -- commands -----------------------------------------------------------------------------


def run_file(args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {}
    if args.json_file:
        try:
            loaded = json.loads(args.json_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise CliError(f"{args.json_file}: {error}") from None
        if not isinstance(loaded, dict):
            raise CliError(f"{args.json_file}: expected a JSON object of complaint fields")
        fields.update(loaded)
    for name in ("channel", "category", "topic", "contact", "text", "linked_to", "received_at"):
        value = getattr(args, name)
        if value is not None:
            fields[name] = value.isoformat() if isinstance(value, datetime) else value
    if args.private:
        fields["private"] = True
    filed = remote.post("/api/staff/cases", fields)
    if args.json:
        print(json.dumps(filed, ensure_ascii=False, indent=2))
        return 0
    print(describe(filed["case"], filed=True))
    if filed.get("note"):
        print(f"  note: {filed['note']}")
    print(
        f"  resident's secret: {filed['secret']} (give it with the receipt code; it is "
        "shown only now)"
    )
    return 0


def run_show(args: argparse.Namespace) -> int:
    response = remote.request("GET", f"/api/staff/cases/{_code(args.code)}/status")
    view = response.json()
    print(json.dumps(view, ensure_ascii=False, indent=2) if args.json else describe(view))
    workflow = response.headers.get(WORKFLOW_HEADER, "running")
    if workflow == "unknown" and not args.json:
        print("  (Temporal did not answer: whether its workflow runs is not known)")
    elif workflow not in ("running", "ended") and not args.json:
        print(
            f"  NO RUNNING WORKFLOW ({workflow}): its deadlines run on no clock until the "
            "reconciler restores it, within minutes (`minwon admin reconcile` does it now)"
        )
    if args.personal:
        print(personal_data(args.code))
    return 0


def personal_data(code: str) -> str:
    """The complainant's contact, text and the staff's notes; the server logs the read."""
    data = remote.get(f"/api/staff/cases/{_code(code)}/personal")
    lines = [f"  contact: {data['contact']}", f"  text: {data['text']}"]
    lines += [f"  note {_at(note['at'])} {note['by']}: {note['text']}" for note in data["notes"]]
    return "\n".join(lines)


def run_action(args: argparse.Namespace) -> int:
    model: type[Action] = args.model
    view = remote.post(f"/api/staff/cases/{_code(args.code)}/{model.name}", _body(model, args))
    print(json.dumps(view, ensure_ascii=False, indent=2) if args.json else describe(view))
    return 0


def run_escalate(args: argparse.Namespace) -> int:
    bulk = args.overdue or args.category or args.assignee
    if bool(args.code) == bool(bulk):
        raise CliError("give either a receipt code or a filter (--overdue, --category, --assignee)")
    if args.code:
        view = remote.post(f"/api/staff/cases/{_code(args.code)}/escalate", {"reason": args.reason})
        print(json.dumps(view, ensure_ascii=False, indent=2) if args.json else describe(view))
        return 0
    result = remote.post(
        "/api/ops/escalations",
        {
            "reason": args.reason,
            "overdue": bool(args.overdue),
            "category": args.category,
            "assignee": args.assignee,
        },
    )
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for outcome in result["outcomes"]:
            if outcome["error"]:
                print(f"{outcome['receipt_code'] or outcome['workflow_id']}: not escalated: "
                      f"{outcome['error']}")  # fmt: skip
            else:
                print(f"{outcome['receipt_code']}: escalated")
        print(f"{result['escalated']} of {result['matched']} matching case(s) escalated")
    return 0 if result["escalated"] == result["matched"] else 1


def run_notices(args: argparse.Namespace) -> int:
    notices = remote.get(f"/api/staff/cases/{_code(args.code)}/notices")
    if args.json:
        print(json.dumps(notices, ensure_ascii=False, indent=2))
        return 0
    if not notices:
        print(f"{args.code}: no notices recorded yet")
    for notice in notices:
        how, outcome = notice["channel"] or "-", notice["outcome"]
        line = f"{_at(notice['at'])}  {notice['kind']:<20} {outcome:<6} {how:<5}"
        line += f" to {notice['recipient']}"
        if notice["outcome"] == "failed":
            line += f"  ({notice['reason']})"
        print(line)
    return 0


def _code(code: str) -> str:
    """The receipt code as a path segment (the server normalises what residents type)."""
    cleaned = code.strip()
    if not cleaned or "/" in cleaned or len(cleaned) > 40:
        raise CliError(f"not a receipt code: {code!r}")
    return cleaned


# -- output ---------------------------------------------------------------------------------


def _at(moment: str | None) -> str:
    if not moment:
        return "-"
    return datetime.fromisoformat(moment).astimezone(SEOUL).isoformat(timespec="minutes")


def describe(view: dict[str, Any], *, filed: bool = False) -> str:
    """A case's live view (the API's CaseView) for a terminal."""
    lines = []
    if filed:
        lines.append(f"접수되었습니다. Receipt code: {view['receipt_code']}")
    owner = f"{view['assignee']} ({view['assignee_role']})" if view["assignee"] else "not assigned"
    private = ", 비공개" if view["private"] else ""
    lines += [
        f"{view['receipt_code']}  {view['category']}  {view['status']}  {owner}{private}",
        f"  received {_at(view['received_at'])} via {view['channel']}, topic {view['topic']}",
    ]
    if view["linked_to"]:
        lines.append(f"  about case {view['linked_to']}")
    for c in view["commitments"]:
        extra = f", extended {c['extensions']}/{c['max_extensions']}" if c["max_extensions"] else ""
        kept = f", kept {_at(c['met_at'])}" if c["met_at"] else ""
        if c.get("extend_until"):
            extra += f", may be extended to {_at(c['extend_until'])}"
        lines.append(
            f"  {c['kind']:<13} {c['status']:<9} due {_at(c['due'])}  "
            f"(warn {_at(c['warn_at'])}{extra}{kept})"
        )
    for e in view["escalations"]:
        who = e["to_staff"] or "no holder on the roster"
        act_by = f", acts by {_at(e['act_by'])}" if e.get("act_by") else ""
        lines.append(
            f"  escalated #{e['level']} to {e['to_role']} ({who}) {_at(e['at'])} "
            f"[{e['trigger']}]{act_by}"
        )
    if view["investigation"] != "none":
        fault = {None: "", True: ", fault confirmed", False: ", no fault"}[view["fault_confirmed"]]
        lines.append(f"  investigation {view['investigation']}{fault}")
    if view["apology_required"]:
        lines.append(f"  apology required: {'made' if view['apologies'] else 'NOT YET MADE'}")
    if view["notices_failed"]:
        lines.append(
            f"  NOTICES FAILED: {view['notices_failed']} "
            f"(see `minwon notices {view['receipt_code']}`)"
        )
    return "\n".join(lines)
