"""Case subcommands: file, show, the staff and ops actions, bulk escalation.

Every action goes to the case's workflow as an update, which validates it
before it enters history. Cases are found by receipt code through the event
store (same settings as the worker). The acting staff member is checked
against the roster first (cli.actor).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.client import WorkflowUpdateFailedError as UpdateFailed
from temporalio.service import RPCError

from cli.actor import add_actor_option, authorise, origin
from cli.errors import CliError
from domain.access import (
    mask_contact,
    mask_text,
    may_see_case,
    may_see_personal_data,
)
from domain.calendar import to_seoul
from domain.complaint import ComplaintError
from domain.receipt import ReceiptCodeError
from domain.service import Complaints
from workflows import models
from workflows.client import (
    CaseFilter,
    TemporalSettings,
    act,
    connect,
    escalate_matching,
    file_complaint,
    workflow_id,
)
from workflows.codec import PayloadKeyError
from workflows.complaint import ComplaintWorkflow
from workflows.models import CaseView, FileComplaintInput

T = TypeVar("T")


def register(subparsers: Any) -> None:
    file = subparsers.add_parser("file", help="file a complaint; prints its receipt code")
    file.add_argument("--channel", choices=models.CHANNELS)
    file.add_argument("--category", help="policy category, e.g. inquiry, opinion, late_reply")
    file.add_argument("--topic", default="intake", help="routing topic (intake, program, tour…)")
    file.add_argument("--contact", help="how to reach the complainant (encrypted)")
    file.add_argument("--text", help="the complaint in the complainant's words (encrypted)")
    file.add_argument("--private", action="store_true", help="비공개: never announced")
    file.add_argument("--linked-to", metavar="CODE", help="receipt code this complaint is about")
    file.add_argument("--ref", help="intake reference (default: generated); never personal data")
    file.add_argument("--json-file", type=Path, help="read the complaint fields from JSON")
    _common(file)
    file.set_defaults(handler=run_file)

    show = subparsers.add_parser("show", help="live status and commitments of a case")
    show.add_argument("code", help="receipt code")
    show.add_argument(
        "--personal",
        action="store_true",
        help="also show the contact and text (assignee, officer, auditors; logged)",
    )
    _common(show)
    show.set_defaults(handler=run_show)

    for name, model, help_text, fields in ACTIONS:
        action = subparsers.add_parser(name, help=help_text)
        action.add_argument("code", help="receipt code")
        for flags, options in fields:
            action.add_argument(*flags, **options)
        _common(action)
        action.set_defaults(handler=run_action, model=model)

    notices = subparsers.add_parser("notices", help="what was sent for a case, when and how")
    notices.add_argument("code", help="receipt code")
    _common(notices)
    notices.set_defaults(handler=run_notices)

    escalate = subparsers.add_parser(
        "escalate", help="escalate one case, or every open case matching a filter"
    )
    escalate.add_argument("code", nargs="?", help="receipt code (or use the filters)")
    escalate.add_argument("--reason", required=True)
    escalate.add_argument("--overdue", action="store_true", help="all cases past a deadline")
    escalate.add_argument("--category", help="all open cases of this category")
    escalate.add_argument("--assignee", help="all open cases of this staff member")
    _common(escalate)
    escalate.set_defaults(handler=run_escalate)


def _common(parser: argparse.ArgumentParser) -> None:
    add_actor_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")


def _when(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs an offset, e.g. {text}+09:00")
    return moment


# name, model, help, [(flags, argparse options)]; `by` is the actor.
Option = tuple[tuple[str, ...], dict[str, Any]]
ACTIONS: list[tuple[str, type[models.Action], str, list[Option]]] = [
    ("assign", models.Assign, "assign or reassign a case",
     [(("--staff",), {"required": True}), (("--role",), {"default": "staff"})]),
    ("message", models.TakeMessage, "take a message for an absent colleague",
     [(("--for-staff",), {"required": True}),
      (("--callback-by",), {"required": True, "type": _when}),
      (("--note",), {"default": ""})]),
    ("interim", models.SendInterimReply, "send an interim reply (중간회신) with a new date",
     [(("--reason",), {"required": True}), (("--new-due",), {"required": True, "type": _when}),
      (("--kind",), {"default": "reply"})]),
    ("answer", models.Answer, "answer the complainant", [(("--text",), {"required": True})]),
    ("finding", models.RecordFinding, "record the investigation's finding",
     [(("--fault",), {"dest": "fault_confirmed", "action": argparse.BooleanOptionalAction,
                      "required": True}),
      (("--finding",), {"required": True})]),
    ("apology", models.RecordApology, "record an apology",
     [(("--mode",), {"required": True, "choices": ["in_person", "phone", "public"]}),
      (("--note",), {"default": ""})]),
    ("corrective", models.RecordCorrectiveAction, "record a warning or training for staff",
     [(("--staff",), {"required": True}),
      (("--action",), {"required": True, "choices": ["warning", "training"]}),
      (("--note",), {"default": ""})]),
    ("announce", models.Announce, "announce the result publicly",
     [(("--summary",), {"required": True})]),
    ("reopen", models.Reopen, "reopen an answered or closed case",
     [(("--reason",), {"required": True})]),
    ("withdraw", models.Withdraw, "withdraw a case", [(("--reason",), {"required": True})]),
    ("close", models.Close, "close an answered case", []),
    ("note", models.AddNote, "add a working note (처리 메모) to the case",
     [(("--text",), {"required": True})]),
    ("rate", models.RateSatisfaction, "record the complainant's satisfaction (1-5)",
     [(("--score",), {"required": True, "type": int}), (("--comment",), {"default": ""})]),
]  # fmt: skip


# -- plumbing -----------------------------------------------------------------------------


def _run(work: Callable[[], Awaitable[T]]) -> T:
    """Run async work, turning every failure a user can act on into one line."""
    settings = TemporalSettings.from_env()
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except UpdateFailed as error:
        raise CliError(f"refused: {_cause(error)}") from None
    except WorkflowQueryFailedError as error:
        raise CliError(f"the case did not answer: {error}") from None
    except RPCError as error:
        raise CliError(
            f"Temporal at {settings.address}: {error} (is the worker running?)"
        ) from None
    except RuntimeError as error:
        if "connect" in str(error).lower():
            raise CliError(
                f"cannot reach Temporal at {settings.address}: start the stack with `make run`"
            ) from None
        raise
    except (ValidationError, PayloadKeyError, ComplaintError, ReceiptCodeError) as error:
        raise CliError(_message(error)) from None


def _cause(error: UpdateFailed) -> str:
    cause: object = error.cause
    while getattr(cause, "cause", None) is not None:
        cause = getattr(cause, "cause")  # noqa: B009 - walking an untyped chain
    return str(getattr(cause, "message", cause))


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'input'}: {item['msg']}"
            for item in error.errors()
        )
    return str(error)


async def _client() -> Client:
    return await connect(TemporalSettings.from_env(), dev=_is_embedded())


def _is_embedded() -> bool:
    """Without a payload key the embedded stack's key file is used, as the worker does."""
    return not os.environ.get("MINWON_PAYLOAD_KEY")


def _handle_for(client: Client, code: str) -> WorkflowHandle[Any, CaseView]:
    complaints = Complaints()
    try:
        case = complaints.find_by_receipt(code)
    finally:
        complaints.close()
    return client.get_workflow_handle(workflow_id(case.intake_ref), result_type=CaseView)


# -- commands -----------------------------------------------------------------------------


def run_file(args: argparse.Namespace) -> int:
    authorise(args, "file")
    fields: dict[str, Any] = {}
    if args.json_file:
        try:
            loaded = json.loads(args.json_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise CliError(f"{args.json_file}: {error}") from None
        if not isinstance(loaded, dict):
            raise CliError(f"{args.json_file}: expected a JSON object of complaint fields")
        fields.update(loaded)
    for name in ("channel", "category", "topic", "contact", "text", "linked_to"):
        value = getattr(args, name)
        if value is not None and not (name == "topic" and "topic" in fields and value == "intake"):
            fields[name] = value
    if args.private:
        fields["private"] = True
    fields.setdefault(
        "intake_ref", args.ref or f"{fields.get('channel', 'x')}-{uuid.uuid4().hex[:16]}"
    )
    try:
        intake = FileComplaintInput.model_validate(fields)
    except ValidationError as error:
        raise CliError(f"cannot file the complaint: {_message(error)}") from None

    async def work() -> CaseView:
        client = await _client()
        _, view = await file_complaint(client, intake, TemporalSettings.from_env().task_queue)
        return view

    view = _run(work)
    print(_json(view) if args.json else describe(view, filed=True))
    return 0


def run_show(args: argparse.Namespace) -> int:
    actor, roles = authorise(args, "show")

    async def work() -> CaseView:
        client = await _client()
        return await _handle_for(client, args.code).query(ComplaintWorkflow.status)

    view = _run(work)
    if not may_see_case(roles, actor, view.assignee, view.private):
        raise CliError(
            f"refused: case {view.receipt_code} is private (비공개): only its assignee, "
            "the designated officer and auditors may see it"
        )
    print(_json(view) if args.json else describe(view))
    if args.personal:
        print(personal_data(actor, roles, view))
    return 0


def run_action(args: argparse.Namespace) -> int:
    model: type[models.Action] = args.model
    values = {
        name: getattr(args, name)
        for name in model.model_fields
        if name not in ("type", "by") and hasattr(args, name)
    }
    actor, _ = authorise(args, model.command)
    for who in ("by", "taken_by"):
        if who in model.model_fields:
            values[who] = actor
    try:
        action = model.model_validate(values)
    except ValidationError as error:
        raise CliError(f"cannot {args.command}: {_message(error)}") from None

    async def work() -> CaseView:
        client = await _client()
        handle = _handle_for(client, args.code)
        # `act` sends the action again while a long case continues as new.
        return await act(handle, action)  # type: ignore[arg-type]

    view = _run(work)
    print(_json(view) if args.json else describe(view))
    return 0


def run_escalate(args: argparse.Namespace) -> int:
    actor, _ = authorise(args, "escalate")
    case_filter = CaseFilter(overdue=args.overdue, category=args.category, assignee=args.assignee)
    bulk = args.overdue or args.category or args.assignee
    if bool(args.code) == bool(bulk):
        raise CliError("give either a receipt code or a filter (--overdue, --category, --assignee)")
    try:
        action = models.Escalate(reason=args.reason, by=actor)
    except ValidationError as error:
        raise CliError(f"cannot escalate: {_message(error)}") from None
    if args.code:

        async def one() -> CaseView:
            client = await _client()
            return await act(_handle_for(client, args.code), action)

        view = _run(one)
        print(_json(view) if args.json else describe(view))
        return 0

    async def many() -> list[Any]:
        client = await _client()
        return await escalate_matching(
            client, case_filter, args.reason, actor, datetime.now().astimezone()
        )

    try:
        outcomes = _run(many)
    except ValueError as error:
        raise CliError(str(error)) from None
    for outcome in outcomes:
        if outcome.error:
            print(f"{outcome.workflow_id}: not escalated: {outcome.error}")
        else:
            print(f"{outcome.receipt_code}: escalated")
    escalated = sum(1 for o in outcomes if not o.error)
    print(f"{escalated} of {len(outcomes)} matching case(s) escalated")
    return 0 if escalated == len(outcomes) else 1


def run_notices(args: argparse.Namespace) -> int:
    """Read from the event store: the delivery records are events on the case."""
    authorise(args, "notices")
    complaints = Complaints()
    try:
        case = complaints.find_by_receipt(args.code)
    except (ComplaintError, ReceiptCodeError) as error:
        raise CliError(str(error)) from None
    finally:
        complaints.close()
    if args.json:
        print(json.dumps(case.notices, default=str, ensure_ascii=False, indent=2))
        return 0
    if not case.notices:
        print(f"{case.receipt_code}: no notices recorded yet")
    for notice in case.notices:
        how, outcome = notice["channel"] or "-", notice["outcome"]
        line = f"{_at(notice['at'])}  {notice['kind']:<20} {outcome:<6} {how:<5}"
        line += f" to {notice['recipient']}"
        if notice["outcome"] == "failed":
            line += f"  ({notice['reason']})"
        print(line)
    return 0


def personal_data(actor: str, roles: frozenset[str], view: CaseView) -> str:
    """The complainant's contact, text and the staff's notes, for those who need them;
    each read is logged."""
    complaints = Complaints()
    try:
        case = complaints.get_case(uuid.UUID(view.case_id))
        if not may_see_personal_data(roles, actor, case.assignee):
            raise CliError(
                "refused: personal data is shown to the case's assignee, the designated "
                "officer and auditors; here it stays masked: "
                f"{mask_contact(case.contact)}, {mask_text(case.text)}"
            )
        complaints.log_access(
            actor=actor,
            at=datetime.now().astimezone(),
            origin=origin(),
            case=case,
            action="show --personal",
        )
        lines = [f"  contact: {case.contact}", f"  text: {case.text}"]
        lines += [f"  note {_at(note.at)} {note.by}: {note.text}" for note in case.notes]
        return "\n".join(lines)
    finally:
        complaints.close()


# -- output ---------------------------------------------------------------------------------


def _json(view: CaseView) -> str:
    return view.model_dump_json(indent=2)


def _at(moment: datetime | None) -> str:
    return to_seoul(moment).isoformat(timespec="minutes") if moment else "-"


def describe(view: CaseView, *, filed: bool = False) -> str:
    lines = []
    if filed:
        lines.append(f"접수되었습니다. Receipt code: {view.receipt_code}")
    owner = f"{view.assignee} ({view.assignee_role})" if view.assignee else "not assigned"
    private = ", 비공개" if view.private else ""
    lines += [
        f"{view.receipt_code}  {view.category}  {view.status}  {owner}{private}",
        f"  received {_at(view.received_at)} via {view.channel}, topic {view.topic}",
    ]
    if view.linked_to:
        lines.append(f"  about case {view.linked_to}")
    for c in view.commitments:
        extra = f", extended {c.extensions}/{c.max_extensions}" if c.max_extensions else ""
        kept = f", kept {_at(c.met_at)}" if c.met_at else ""
        lines.append(
            f"  {c.kind:<13} {c.status:<9} due {_at(c.due)}  (warn {_at(c.warn_at)}{extra}{kept})"
        )
    for e in view.escalations:
        who = e.to_staff or "no holder on the roster"
        lines.append(f"  escalated #{e.level} to {e.to_role} ({who}) {_at(e.at)} [{e.trigger}]")
    if view.investigation != "none":
        fault = {None: "", True: ", fault confirmed", False: ", no fault"}[view.fault_confirmed]
        lines.append(f"  investigation {view.investigation}{fault}")
    if view.apology_required:
        lines.append(f"  apology required: {'made' if view.apologies else 'NOT YET MADE'}")
    if view.notices_failed:
        lines.append(
            f"  NOTICES FAILED: {view.notices_failed} (see `minwon notices {view.receipt_code}`)"
        )
    return "\n".join(lines)
