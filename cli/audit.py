"""Auditor subcommands: `minwon audit replay | verify | export | access`.

They read the event store directly (same settings as the worker). `verify` also
asks Temporal for each case workflow's last view of its case, the anchor that
lets it see a change to, or the removal of, the last events; without Temporal it
says the tails were not checked and still checks every chain.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from cli.actor import add_actor_option, authorise, origin
from cli.errors import CliError
from domain import audit
from domain.access import may_see_personal_data
from domain.audit import Anchor, CaseRef, CaseVerdict, HistoryRow, Replay
from domain.calendar import SEOUL, to_seoul
from domain.complaint import Commitment
from domain.receipt import ReceiptCodeError, normalise_receipt_code
from domain.service import CaseNotFoundError, Complaints
from workflows.client import DEV_KEY_FILE, TemporalSettings, connect, workflow_id
from workflows.codec import PayloadKeyError
from workflows.complaint import ComplaintWorkflow
from workflows.models import CaseView

PERSONAL_HELP = (
    "reveal the complainant's contact and words (masked by default): for the case's "
    "assignee, the designated officer and auditors; each reveal is written to the access log"
)
TEMPORAL_TIMEOUT = timedelta(seconds=10)
# Cases whose workflows are asked for their anchor at the same time.
ANCHOR_CONCURRENCY = 8
PAGE = 32
# A store ahead of an idle running workflow is looked at once more after this:
# an activity may have saved just after the workflow was described.
RECHECK_AFTER = 2.0


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "audit",
        help="auditors: replay a case, verify hash chains, export a history",
        description="Read a case's history as it was recorded, and check nothing was altered.",
    )
    actions = group.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    replay = actions.add_parser(
        "replay",
        help="a case's whole history, in order, with its clocks after each event",
        description=(
            "Every event of the case in order: business moment (KST), actor, event, "
            "details and the commitment clocks as they stood after it, then the case's "
            "state at the end (or at --as-of / --version)."
        ),
    )
    _history_arguments(replay)
    replay.add_argument("--json", action="store_true", help="one JSON document for machines")
    replay.set_defaults(handler=run_replay)

    verify = actions.add_parser(
        "verify",
        help="recompute hash chains and check each tail against its workflow",
        description=(
            "Recompute the hash chain of one case or of every case in the store, and "
            "compare each case's last event with the version and digest its Temporal "
            "workflow last saw (the chain alone cannot see the last events change or "
            "disappear). Exits 1 if anything is broken."
        ),
    )
    verify.add_argument("code", nargs="?", help="receipt code (or case id)")
    verify.add_argument("--all", action="store_true", help="every case in the event store")
    verify.add_argument(
        "--no-tail", action="store_true", help="do not ask Temporal: check the chains only"
    )
    verify.add_argument("--json", action="store_true", help="one JSON document for machines")
    add_actor_option(verify, "your staff id (auditor)")
    verify.set_defaults(handler=run_verify)

    access = actions.add_parser(
        "access",
        help="the access log: who read whose personal data, when, from where",
        description=(
            "Entries of the hash-chained access log, one per read of personal data. "
            "Here --actor chooses whose reads to list; who is asking comes before the "
            "subcommand (minwon --actor STAFF_ID audit access …) or from MINWON_ACTOR."
        ),
    )
    access.add_argument("--person", help="a person's pseudonym (p-…)")
    access.add_argument("--case", metavar="CODE", help="the person who filed this case")
    access.add_argument(
        "--actor",
        dest="reader",
        metavar="READER",
        help="only reads by this reader: a staff id, or resident:RECEIPT-CODE",
    )
    access.add_argument("--since", type=date.fromisoformat, help="first day (default: 30 days ago)")
    access.add_argument("--until", type=date.fromisoformat, help="last day (default: today)")
    access.add_argument("--json", action="store_true", help="one JSON document for machines")
    access.set_defaults(handler=run_access)

    export = actions.add_parser(
        "export",
        help="a case's history as a JSON or CSV file",
        description=(
            "The rows of `minwon audit replay`, with each event's chain digest. CSV "
            "written to a file starts with a UTF-8 byte-order mark so Excel reads 한글."
        ),
    )
    _history_arguments(export)
    export.add_argument("--format", choices=("json", "csv"), required=True)
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=run_export)


def _history_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("code", help="receipt code (or case id)")
    point = parser.add_mutually_exclusive_group()
    point.add_argument(
        "--as-of",
        type=_moment,
        metavar="MOMENT",
        help="only what had happened by this moment, e.g. 2026-10-01T12:00+09:00",
    )
    point.add_argument("--version", type=int, metavar="N", help="only the first N events")
    parser.add_argument("--show-personal", action="store_true", help=PERSONAL_HELP)
    add_actor_option(parser, "your staff id (auditor)")


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs an offset, e.g. {text}+09:00")
    return moment


# -- finding cases ---------------------------------------------------------------------


@contextmanager
def _store() -> Iterator[Complaints]:
    app = Complaints()
    try:
        yield app
    finally:
        app.close()


def _find(app: Complaints, code: str) -> CaseRef:
    try:
        case_id = uuid.UUID(code)
    except ValueError:
        pass
    else:
        if not app.recorder.select_events(case_id, limit=1):
            raise CliError(f"no case {case_id} in the event store")
        first = audit.first_event(app, case_id)
        return CaseRef(case_id, getattr(first, "receipt_code", None))
    try:
        return CaseRef(app.case_id_for_receipt(code), normalise_receipt_code(code))
    except (CaseNotFoundError, ReceiptCodeError) as error:
        raise CliError(str(error)) from None


# -- replay and export -----------------------------------------------------------------


@dataclass(frozen=True)
class History:
    ref: CaseRef
    replay: Replay
    stored: int  # events stored for the case
    as_of: datetime | None
    version: int | None

    def document(self) -> dict[str, Any]:
        return {
            "case_id": str(self.ref.case_id),
            "receipt_code": self.replay.case.receipt_code,
            "stored_events": self.stored,
            "up_to": {
                "version": self.replay.case.version,
                "as_of": audit.plain(self.as_of) if self.as_of else None,
            },
            "personal_data": "shown" if self.replay.personal_shown else "masked",
            "rows": [audit.row_document(row) for row in self.replay.rows],
            "state": audit.state_document(
                self.replay.case, show_personal=self.replay.personal_shown
            ),
        }


def _history(args: argparse.Namespace, *, digests: bool) -> History:
    if args.version is not None and args.version < 1:
        raise CliError("--version counts from 1")
    actor, roles = authorise(args, "audit")
    with _store() as app:
        ref = _find(app, args.code)
        if args.show_personal:
            _log_personal_read(app, ref.case_id, actor, roles, args.audit_command)
        last = app.recorder.select_events(ref.case_id, desc=True, limit=1)
        if not last:
            raise CliError(f"{ref.label} has no events in the store: run `minwon audit verify`")
        try:
            replayed = audit.replay(
                audit.stored_events(app, ref.case_id, args.version),
                show_personal=args.show_personal,
                version=args.version,
                as_of=args.as_of,
                digests=digests,
            )
        except audit.AuditError as error:
            raise CliError(
                f"{ref.label}: {error}; run `minwon audit verify {args.code}`", exit_code=1
            ) from None
        except CaseNotFoundError as error:
            raise CliError(f"{ref.label}: {error}") from None
    return History(ref, replayed, last[0].originator_version, args.as_of, args.version)


def _log_personal_read(
    app: Complaints, case_id: uuid.UUID, actor: str, roles: frozenset[str], command: str
) -> None:
    case = app.get_case(case_id)
    if not may_see_personal_data(roles, actor, case.assignee):
        raise CliError(
            "refused: personal data is shown to the case's assignee, the designated officer "
            "and auditors; run without --show-personal for the masked history"
        )
    app.log_access(
        actor=actor,
        at=datetime.now().astimezone(),
        origin=origin(),
        case=case,
        action=f"audit {command} --show-personal",
    )


def run_access(args: argparse.Namespace) -> int:
    authorise(args, "audit")
    # Days of the access log are Seoul days, whatever the machine's time zone.
    until = args.until or datetime.now(SEOUL).date()
    since = args.since or until - timedelta(days=30)
    with _store() as app:
        person = args.person
        if args.case:
            person = app.person_of_case(_find(app, args.case).case_id)
        entries = app.access_entries(since=since, until=until, person=person, actor=args.reader)
        broken = [
            (day, link)
            for day in (since + timedelta(days=n) for n in range((until - since).days + 1))
            if (link := app.verify_access_log(day)) is not None
        ]
    if args.json:
        print(json.dumps({"entries": entries, "broken": [
            {"day": day.isoformat(), "link": link.describe()} for day, link in broken
        ]}, ensure_ascii=False, indent=2))  # fmt: skip
    else:
        # Residents are named by their receipt (resident:MW-…), longer than a staff id.
        width = max([14, *(len(e["actor"]) for e in entries)])
        for e in entries:
            print(f"{e['at']}  {e['actor']:<{width}} {e['action']:<32} {e['person_id']}  "
                  f"case {e['case_id']}  from {e['origin']}")  # fmt: skip
        print(f"{len(entries)} access(es) from {since} to {until}")
        for day, link in broken:
            print(f"ACCESS LOG OF {day} BROKEN: {link.describe()}")
    return 1 if broken else 0


def run_replay(args: argparse.Namespace) -> int:
    history = _history(args, digests=False)
    if args.json:
        print(json.dumps(history.document(), ensure_ascii=False, indent=2))
    else:
        print(render_history(history))
    return 0


def run_export(args: argparse.Namespace) -> int:
    history = _history(args, digests=True)
    if args.format == "json":
        text = json.dumps(history.document(), ensure_ascii=False, indent=2) + "\n"
    else:
        text = export_csv(history.replay.rows)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    encoding = "utf-8-sig" if args.format == "csv" else "utf-8"
    try:
        args.output.write_text(text, encoding=encoding, newline="")
    except OSError as error:
        raise CliError(f"cannot write {args.output}: {error}") from None
    rows = len(history.replay.rows)
    masked = "shown" if args.show_personal else "masked"
    print(f"wrote {rows} events of {history.replay.case.receipt_code} to {args.output} "
          f"({args.format}, personal data {masked})")  # fmt: skip
    return 0


CSV_COLUMNS = ("version", "moment", "recorded", "actor", "event", "details", "clocks")


def export_csv(rows: Sequence[HistoryRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow((*CSV_COLUMNS, "command_id", "digest"))
    for row in rows:
        writer.writerow(
            (
                row.version,
                audit.plain(row.moment),
                audit.plain(row.recorded),
                row.actor,
                row.event,
                details_text(row.details),
                clocks_text(row.clocks),
                row.command_id or "",
                row.digest or "",
            )
        )
    return out.getvalue()


def _seconds(moment: datetime | None) -> str:
    return to_seoul(moment).isoformat(timespec="seconds") if moment else "-"


def _minutes(moment: datetime | None) -> str:
    return to_seoul(moment).isoformat(timespec="minutes") if moment else "-"


def _value_text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _minutes(value)
    if isinstance(value, str):
        bare = value and not any(ch.isspace() or ch in ',="' for ch in value)
        return value if bare else json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float, uuid.UUID)):
        return str(value)
    return json.dumps(audit.plain(value), ensure_ascii=False)


def details_text(details: dict[str, object]) -> str:
    return ", ".join(f"{key}={_value_text(value)}" for key, value in details.items())


def clocks_text(clocks: Sequence[Commitment]) -> str:
    if not clocks:
        return "-"
    return "; ".join(f"{c.kind} {c.status} due {_minutes(c.due)}" for c in clocks)


def render_history(history: History) -> str:
    replayed, case = history.replay, history.replay.case
    masked = "shown" if replayed.personal_shown else "masked (--show-personal reveals them)"
    if history.as_of is not None:
        scope = f"up to {_seconds(history.as_of)}: versions 1-{case.version} of {history.stored}"
    elif history.version is not None:
        scope = f"up to version {case.version} of {history.stored}"
    else:
        scope = f"{history.stored} events"
    lines = [f"{case.receipt_code} (case {case.id}): {scope}; personal data {masked}"]
    rows = replayed.rows
    actor_width = max([len("actor"), *(len(row.actor) for row in rows)])
    event_width = max([len("event"), *(len(row.event) for row in rows)])
    number_width = max(1, len(str(case.version)))
    lines.append(
        f"{'v':>{number_width}}  {'moment (KST)':<25}  {'actor':<{actor_width}}  "
        f"{'event':<{event_width}}  details"
    )
    indent = " " * (number_width + 2)
    for row in rows:
        line = (
            f"{row.version:>{number_width}}  {_seconds(row.moment):<25}  "
            f"{row.actor:<{actor_width}}  {row.event:<{event_width}}  {details_text(row.details)}"
        )
        lines.append(line.rstrip())
        lines.append(f"{indent}clocks: {clocks_text(row.clocks)}")
    lines.append("")
    lines += describe_state(case, at=rows[-1].moment)
    return "\n".join(lines)


def describe_state(case: Any, *, at: datetime) -> list[str]:
    owner = f"{case.assignee} ({case.assignee_role})" if case.assignee else "not assigned"
    lines = [f"state after version {case.version} ({_seconds(at)}): {case.status}, {owner}"]
    for c in case.commitments.values():
        kept = f", kept {_minutes(c.met_at)}" if c.met_at else ""
        lines.append(
            f"  {c.kind:<13} {c.status:<9} due {_minutes(c.due)}  "
            f"(extended {c.extensions}/{c.max_extensions}{kept})"
        )
    for e in case.escalations:
        lines.append(
            f"  escalated #{e.level} to {e.to_role} ({e.to_staff or '-'}) {_minutes(e.at)}"
        )
    if case.investigation != "none":
        lines.append(f"  investigation {case.investigation}")
    if case.apologies:
        lines.append(f"  apologies: {len(case.apologies)}")
    lines.append(f"  head digest {case.head_digest}")
    return lines


# -- verify ----------------------------------------------------------------------------


class WorkflowAnchors:
    """Each case workflow's last view of its case: the anchor for the chain's tail."""

    def __init__(self, client: Client | None, unavailable: str) -> None:
        self.client = client
        self.unavailable = unavailable

    @classmethod
    async def open(cls, wanted: bool) -> WorkflowAnchors:
        if not wanted:
            return cls(None, "--no-tail")
        settings = TemporalSettings.from_env()
        # Without a key the embedded stack's key file is used, as the worker does;
        # an audit does not make one up.
        has_key = bool(os.environ.get("MINWON_PAYLOAD_KEY")) or DEV_KEY_FILE.exists()
        if not has_key:
            return cls(None, "no payload key to read the workflows: set MINWON_PAYLOAD_KEY")
        try:
            client = await asyncio.wait_for(
                connect(settings, dev=not os.environ.get("MINWON_PAYLOAD_KEY")),
                TEMPORAL_TIMEOUT.total_seconds(),
            )
        except PayloadKeyError as error:
            return cls(None, f"payload key: {error}")
        except (RuntimeError, OSError, TimeoutError):
            return cls(None, f"Temporal unreachable at {settings.address}")
        return cls(client, "")

    async def anchor(self, intake_ref: str | None) -> Anchor | str:
        if self.client is None:
            return self.unavailable
        if intake_ref is None:
            return "no workflow id: the first event is unreadable"
        handle = self.client.get_workflow_handle(workflow_id(intake_ref), result_type=CaseView)
        try:
            return await self._anchor(handle)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return "no workflow (never started, or past Temporal's retention)"
            if error.status == RPCStatusCode.DEADLINE_EXCEEDED:
                return "the workflow did not answer (is a worker running?)"
            return f"Temporal: {error}"
        except Exception as error:  # an audit reports what it could not check, and goes on
            return f"workflow view unreadable: {type(error).__name__}: {error}"

    async def _anchor(self, handle: Any) -> Anchor | str:
        status, pending = await self._describe(handle.id)
        if status == WorkflowExecutionStatus.COMPLETED:
            view = await handle.result(rpc_timeout=TEMPORAL_TIMEOUT)
            return Anchor(view.version, view.head_digest, True, False, "workflow result")
        if status != WorkflowExecutionStatus.RUNNING:
            return f"workflow {status.name.lower()}: it left no final view"
        view = await handle.query(ComplaintWorkflow.status, rpc_timeout=TEMPORAL_TIMEOUT)
        # Described again after the query: an activity started in between may have
        # saved events the view does not show yet.
        _, pending_after = await self._describe(handle.id)
        in_flight = pending or pending_after
        return Anchor(view.version, view.head_digest, False, in_flight, "running workflow")

    async def _describe(self, workflow: str) -> tuple[WorkflowExecutionStatus, bool]:
        """Status and whether an activity is pending, from the raw description: the
        SDK's `describe()` also decodes search attributes, which a server may store
        in a form it cannot read (the time-skipping test server does)."""
        assert self.client is not None, "described only with a client"
        response = await self.client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=self.client.namespace,
                execution=WorkflowExecution(workflow_id=workflow),
            ),
            retry=True,
            timeout=TEMPORAL_TIMEOUT,
        )
        status = WorkflowExecutionStatus(response.workflow_execution_info.status)
        return status, bool(response.pending_activities)


async def _verify_all(
    app: Complaints, refs: Iterator[CaseRef], anchors: WorkflowAnchors, report: Report
) -> None:
    limit = asyncio.Semaphore(ANCHOR_CONCURRENCY)

    async def anchor_of(ref: CaseRef) -> Anchor | str:
        async with limit:
            return await anchors.anchor(_intake_ref(app, ref))

    while page := [ref for _, ref in zip(range(PAGE), refs, strict=False)]:
        # Each workflow is asked before its case is read, so the store can only be
        # ahead of the anchor (an activity saving meanwhile), never behind it.
        found = await asyncio.gather(*(anchor_of(ref) for ref in page))
        for ref, anchor in zip(page, found, strict=True):
            verdict = audit.verify_case(app, ref, anchor)
            if _maybe_in_flight(verdict, anchor):
                await asyncio.sleep(RECHECK_AFTER)
                anchor = await anchor_of(ref)
                verdict = audit.verify_case(app, ref, anchor)
            report.add(verdict)


def _intake_ref(app: Complaints, ref: CaseRef) -> str | None:
    first = audit.first_event(app, ref.case_id)
    value = getattr(first, "intake_ref", None)
    return value if isinstance(value, str) else None


def _maybe_in_flight(verdict: CaseVerdict, anchor: Anchor | str) -> bool:
    return (
        verdict.where == "tail"
        and isinstance(anchor, Anchor)
        and not anchor.final
        and verdict.head is not None
        and verdict.head.version > anchor.version
    )


class Report:
    """Prints each broken case as it is found, and the summary at the end."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.verified = 0
        self.broken: list[CaseVerdict] = []
        self.tails: Counter[str] = Counter()
        self.notes: list[str] = []

    def add(self, verdict: CaseVerdict) -> None:
        self.verified += 1
        tail = verdict.tail
        if not verdict.intact:
            self.broken.append(verdict)
            if not self.as_json:
                print(describe_broken(verdict))
            return
        if tail.status == "matched":
            self.tails["match the workflow"] += 1
        elif tail.status == "matched_before":
            self.tails["match the workflow up to later notice records (not anchored)"] += 1
        elif tail.status == "in_flight":
            self.tails["not yet anchored (activity in flight)"] += 1
            note = f"{verdict.ref.label}: {tail.note}"
            self.notes.append(note)
            if not self.as_json:
                print(note)
        else:
            self.tails[f"not checked ({tail.note})"] += 1

    def summary(self) -> str:
        n = self.verified
        cases = f"{n} case{'s' if n != 1 else ''}"
        if self.broken:
            head = f"{cases} verified: {len(self.broken)} broken, {n - len(self.broken)} intact"
        else:
            head = f"{cases} verified, chains intact"
        intact = n - len(self.broken)
        if not intact:
            return head
        if len(self.tails) == 1:
            ((label, count),) = self.tails.items()
            if count == intact and label.startswith("not checked"):
                return f"{head}; tail {label}"
        parts = [f"{count} {label}" for label, count in self.tails.items()]
        return f"{head}; tails: {', '.join(parts)}"

    def document(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "intact": not self.broken,
            "broken": [
                {
                    "case_id": str(v.ref.case_id),
                    "receipt_code": v.ref.receipt_code,
                    "where": v.where,
                    "version": v.broken.version,
                    "problem": v.broken.problem,
                    "expected": v.broken.expected,
                    "found": v.broken.found,
                }
                for v in self.broken
                if v.broken is not None
            ],
            "tails": dict(self.tails),
            "notes": self.notes,
            "summary": self.summary(),
        }


def describe_broken(verdict: CaseVerdict) -> str:
    broken = verdict.broken
    assert broken is not None, "only broken verdicts are described"
    label = verdict.ref.receipt_code or "(receipt code unknown)"
    return (
        f"{label} (case {verdict.ref.case_id}): BROKEN at version {broken.version}: "
        f"{broken.problem}\n"
        f"    expected {broken.expected}\n"
        f"    found    {broken.found}"
    )


def run_verify(args: argparse.Namespace) -> int:
    authorise(args, "audit")
    if bool(args.code) == bool(args.all):
        raise CliError("give a receipt code or --all")
    report = Report(args.json)
    with _store() as app:
        refs = audit.walk_cases(app) if args.all else iter([_find(app, args.code)])

        async def work() -> None:
            anchors = await WorkflowAnchors.open(not args.no_tail)
            await _verify_all(app, refs, anchors, report)

        asyncio.run(work())
    if args.json:
        print(json.dumps(report.document(), ensure_ascii=False, indent=2))
    else:
        print(report.summary())
    return 1 if report.broken else 0
