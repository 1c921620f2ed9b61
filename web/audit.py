"""The auditors' API, behind `minwon audit replay | verify | export | access`.

Each answer is rendered here, as the command prints it: text, CSV or JSON. Who
asks is the token's staff member; every endpoint needs the audit permission
(`domain.access`), and a case's history also needs that case to be theirs to
see (a private case is not the director's). Personal data is shown only when
asked for and allowed, and each such reveal is one entry in the access log.

`verify` reads the event store and asks Temporal, through the server's client,
for each case workflow's last view of its case: the anchor that lets it see a
change to, or the removal of, the last events. Without Temporal it says the
tails were not checked and still checks every chain. Its `Minwon-Exit-Code`
header is 1 when something is broken, as is that of an access listing with a
broken day.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AwareDatetime
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetSystemInfoRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from application.service import Complaints
from cli.audit import EVENTS_HEADER, RECEIPT_HEADER
from cli.remote import EXIT_HEADER
from domain import audit, checkpoint
from domain.access import PERMISSIONS, AccessDeniedError, Grant, authorize
from domain.audit import Anchor, CaseRef, CaseVerdict, HistoryRow, Replay
from domain.calendar import SEOUL, to_seoul
from domain.checkpoint import read_checkpoint_file
from domain.complaint import CaseNotFoundError, Commitment, Complaint
from domain.receipt import ReceiptCodeError, normalise_receipt_code
from privacy.signing import SigningKeyError, Verifier, public_key
from runtime.settings import Settings
from web.api import Staff, desk_of, origin
from web.desk import StaffUser, forbidden
from web.problems import Problem
from web.rendered import CSV, JSON, TEXT, json_text, rendered
from workflows.client import WORKFLOW_PREFIX, workflow_id
from workflows.complaint import ComplaintWorkflow
from workflows.models import CaseView

router = APIRouter(prefix="/api", tags=["audit"])

TEMPORAL_TIMEOUT = timedelta(seconds=10)
# Cases whose workflows are asked for their anchor at the same time.
ANCHOR_CONCURRENCY = 8
PAGE = 32
# A store ahead of an idle running workflow is looked at once more after this:
# an activity may have saved just after the workflow was described.
RECHECK_AFTER = 2.0


AUDITORS: dict[int | str, dict[str, Any]] = {
    "403": {"description": "Not an auditor or the director"}
}
ONE_CASE: dict[int | str, dict[str, Any]] = {
    "403": {
        "description": (
            "Not an auditor or the director; a private case not theirs to see; "
            "personal data they may not see"
        )
    },
    "404": {"description": "No such case, or nothing in its history at that point"},
    "422": {"description": "The stored history no longer replays (run verify)"},
}
CaseCode = Annotated[
    str,
    Path(min_length=1, max_length=64, description="receipt code (or case id)"),
]
AsOf = Annotated[
    AwareDatetime | None,
    Query(description="only what had happened by this moment, e.g. 2026-10-01T12:00+09:00"),
]
Version = Annotated[int | None, Query(ge=1, description="only the first N events")]
ShowPersonal = Annotated[
    bool,
    Query(
        description=(
            "reveal the complainant's contact and words (masked by default): for the "
            "case's own people, the designated officer and auditors; each reveal is "
            "written to the access log"
        )
    ),
]


async def _auditor(request: Request, user: StaffUser) -> Grant:
    """The audit grant of whoever the token is; 403 for anyone else."""
    return await asyncio.to_thread(desk_of(request).grant, user, "audit")


# -- finding cases ---------------------------------------------------------------------


def _find(app: Complaints, code: str) -> CaseRef:
    try:
        case_id = uuid.UUID(code)
    except ValueError:
        pass
    else:
        if not app.recorder.select_events(case_id, limit=1):
            raise _not_found(f"no case {case_id} in the event store")
        first = audit.first_event(app, case_id)
        return CaseRef(case_id, getattr(first, "receipt_code", None))
    try:
        return CaseRef(app.case_id_for_receipt(code), normalise_receipt_code(code))
    except ReceiptCodeError as error:
        raise Problem(422, "invalid-receipt-code", "Invalid receipt code", str(error)) from None
    except CaseNotFoundError as error:
        raise _not_found(str(error)) from None


def _not_found(detail: str) -> Problem:
    return Problem(404, "case-not-found", "Case not found", detail)


def _damaged(ref: CaseRef, code: str, error: Exception) -> Problem:
    # Something is broken, as a broken chain is: exit 1 for a client that reads it.
    return Problem(
        422,
        "history-damaged",
        "The stored history does not replay",
        f"{ref.label}: {error}; run `minwon audit verify {code}`",
        headers={EXIT_HEADER: "1"},
    )


# -- replay and export -----------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """One request for a case's history, and who makes it from where."""

    code: str
    as_of: datetime | None
    version: int | None
    show_personal: bool
    command: str  # replay or export, as the access log names the read
    actor: str
    at: datetime
    origin: str


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


def _history(app: Complaints, ask: Ask, *, digests: bool) -> History:
    ref = _find(app, ask.code)
    last = app.recorder.select_events(ref.case_id, desc=True, limit=1)
    if not last:
        raise _not_found(f"{ref.label} has no events in the store: run `minwon audit verify`")
    try:
        case = app.get_case(ref.case_id)
    except CaseNotFoundError as error:
        raise _not_found(f"{ref.label}: {error}") from None
    except Exception as error:  # a tampered record may fail in any way
        raise _damaged(ref, ask.code, error) from None
    # Decided on the case as it is now: a private case, and whose it is, are today's.
    try:
        grant = authorize(app.roster.current(), ask.actor, PERMISSIONS["audit"], ask.at, case)
    except AccessDeniedError as error:
        raise forbidden(str(error)) from None
    if ask.show_personal and not grant.personal_data:
        raise forbidden(
            "personal data is shown to the case's assignee, the designated officer and "
            "auditors; run without --show-personal for the masked history"
        )
    try:
        replayed = audit.replay(
            audit.stored_events(app, ref.case_id, ask.version),
            show_personal=ask.show_personal,
            version=ask.version,
            as_of=ask.as_of,
            digests=digests,
        )
    except audit.AuditError as error:
        raise _damaged(ref, ask.code, error) from None
    except CaseNotFoundError as error:
        raise Problem(
            404, "not-in-history", "Not in the case's history", f"{ref.label}: {error}"
        ) from None
    if ask.show_personal:
        # Logged once the history is in hand and before it leaves: one entry per reveal.
        _log_personal_read(app, case, ask)
    return History(ref, replayed, last[0].originator_version, ask.as_of, ask.version)


def _log_personal_read(app: Complaints, case: Complaint, ask: Ask) -> None:
    app.log_access(
        actor=ask.actor,
        at=ask.at,
        origin=ask.origin,
        case=case,
        action=f"audit {ask.command} --show-personal",
    )


async def _ask(
    request: Request,
    user: StaffUser,
    code: str,
    as_of: datetime | None,
    version: int | None,
    show_personal: bool,
    command: str,
) -> Ask:
    await _auditor(request, user)
    return Ask(
        code=code,
        as_of=as_of,
        version=version,
        show_personal=show_personal,
        command=command,
        actor=user.staff,
        at=desk_of(request).clock(),
        origin=origin(request, "api"),
    )


@router.get(
    "/audit/cases/{code}/replay",
    summary="A case's whole history, in order, with its clocks after each event",
    responses=ONE_CASE,
    response_class=Response,
)
async def replay(
    request: Request,
    user: Staff,
    code: CaseCode,
    as_of: AsOf = None,
    version: Version = None,
    show_personal: ShowPersonal = False,
    format: Literal["text", "json"] = "text",
) -> Response:
    """Every event: business moment (KST), actor, event, details and the commitment
    clocks as they stood after it, then the case's state at the end (or at `as_of` /
    `version`, not both)."""
    ask = await _ask(request, user, code, as_of, version, show_personal, "replay")
    if as_of is not None and version is not None:
        raise _both()
    history = await asyncio.to_thread(_history, desk_of(request).complaints, ask, digests=False)
    if format == "json":
        return rendered(json_text(history.document()), JSON)
    return rendered(render_history(history), TEXT)


@router.get(
    "/audit/cases/{code}/export",
    summary="A case's history as JSON or CSV, with each event's chain digest",
    responses=ONE_CASE,
    response_class=Response,
)
async def export(
    request: Request,
    user: Staff,
    code: CaseCode,
    format: Literal["json", "csv"],
    as_of: AsOf = None,
    version: Version = None,
    show_personal: ShowPersonal = False,
) -> Response:
    """The rows of the replay. A CSV written to a file should start with a UTF-8
    byte-order mark so Excel reads 한글 (`minwon audit export --output` does)."""
    ask = await _ask(request, user, code, as_of, version, show_personal, "export")
    if as_of is not None and version is not None:
        raise _both()
    history = await asyncio.to_thread(_history, desk_of(request).complaints, ask, digests=True)
    about = {
        RECEIPT_HEADER: history.replay.case.receipt_code,
        EVENTS_HEADER: str(len(history.replay.rows)),
    }
    if format == "json":
        return rendered(json_text(history.document()), JSON, headers=about)
    return rendered(export_csv(history.replay.rows), CSV, headers=about)


def _both() -> Problem:
    return Problem(422, "invalid-input", "Invalid input", "give as_of or version, not both")


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


# -- the access log ----------------------------------------------------------------------


@router.get(
    "/audit/access",
    summary="The access log: who read whose personal data, when, from where",
    responses=AUDITORS,
    response_class=Response,
)
async def access(
    request: Request,
    user: Staff,
    person: Annotated[str | None, Query(description="a person's pseudonym (p-…)")] = None,
    case: Annotated[
        str | None, Query(description="the person who filed this case (receipt code)")
    ] = None,
    reader: Annotated[
        str | None,
        Query(description="only reads by this reader: a staff id, or resident:RECEIPT-CODE"),
    ] = None,
    since: Annotated[date | None, Query(description="first day (default: 30 days ago)")] = None,
    until: Annotated[date | None, Query(description="last day (default: today)")] = None,
    format: Literal["text", "json"] = "text",
) -> Response:
    """Entries of the hash-chained access log, one per read of personal data, and
    any day whose chain is broken (`Minwon-Exit-Code: 1`)."""
    await _auditor(request, user)
    # Days of the access log are Seoul days, whatever the server's time zone.
    last = until or datetime.now(SEOUL).date()
    first = since or last - timedelta(days=30)

    def read() -> tuple[list[dict[str, str]], list[tuple[date, Any]]]:
        app = desk_of(request).complaints
        whose = app.person_of_case(_find(app, case).case_id) if case else person
        entries = app.access_entries(since=first, until=last, person=whose, actor=reader)
        broken = [
            (day, link)
            for day in (first + timedelta(days=n) for n in range((last - first).days + 1))
            if (link := app.verify_access_log(day)) is not None
        ]
        return entries, broken

    try:
        entries, broken = await asyncio.to_thread(read)
    except CaseNotFoundError as error:
        raise _not_found(str(error)) from None
    exit_code = 1 if broken else 0
    if format == "json":
        document = {
            "entries": entries,
            "broken": [{"day": day.isoformat(), "link": link.describe()} for day, link in broken],
        }
        return rendered(json_text(document), JSON, exit_code)
    # Residents are named by their receipt (resident:MW-…), longer than a staff id.
    width = max([14, *(len(e["actor"]) for e in entries)])
    lines = [
        f"{e['at']}  {e['actor']:<{width}} {e['action']:<32} {e['person_id']}  "
        f"case {e['case_id']}  from {e['origin']}"
        for e in entries
    ]
    lines.append(f"{len(entries)} access(es) from {first} to {last}")
    lines += [f"ACCESS LOG OF {day} BROKEN: {link.describe()}" for day, link in broken]
    return rendered("\n".join(lines), TEXT, exit_code)


# -- verify ----------------------------------------------------------------------------


@router.get(
    "/audit/verify",
    summary="Recompute hash chains and check each tail against its workflow",
    responses=AUDITORS,
    response_class=Response,
)
async def verify(
    request: Request,
    user: Staff,
    code: Annotated[str | None, Query(description="receipt code (or case id)")] = None,
    every_case: Annotated[
        bool, Query(alias="all", description="every case in the event store")
    ] = False,
    no_tail: Annotated[bool, Query(description="do not ask Temporal: the chains only")] = False,
    format: Literal["text", "json"] = "text",
) -> Response:
    """The hash chain of one case or of every case, and each case's last event held
    against the version and digest its Temporal workflow last saw (the chain alone
    cannot see the last events change or disappear). `Minwon-Exit-Code: 1` if
    anything is broken."""
    await _auditor(request, user)
    if bool(code) == every_case:
        raise Problem(
            422, "invalid-input", "Invalid input", "give a receipt code (code=) or all=true"
        )
    desk = desk_of(request)
    app = desk.complaints
    refs = (
        audit.walk_cases(app)
        if every_case
        else iter([await asyncio.to_thread(_find, app, code or "")])
    )
    report = Report()
    anchors = await WorkflowAnchors.open(desk.client, wanted=not no_tail)
    await _verify_all(app, refs, anchors, report)
    if every_case:
        await asyncio.to_thread(_verify_checkpoints, app, report, desk.settings)
        await _workflows_without_case(app, anchors, report)
    exit_code = 0 if report.clean else 1
    if format == "json":
        return rendered(json_text(report.document()), JSON, exit_code)
    return rendered("\n".join([*report.lines, report.summary()]), TEXT, exit_code)


class WorkflowAnchors:
    """Each case workflow's last view of its case: the anchor for the chain's tail."""

    def __init__(self, client: Client | None, unavailable: str) -> None:
        self.client = client
        self.unavailable = unavailable

    @classmethod
    async def open(cls, client: Client, *, wanted: bool) -> WorkflowAnchors:
        if not wanted:
            return cls(None, "--no-tail")
        # The server's client connects lazily: asked once here, so an absent Temporal
        # is one note for the whole audit rather than one per case.
        try:
            await client.workflow_service.get_system_info(
                GetSystemInfoRequest(), timeout=TEMPORAL_TIMEOUT
            )
        except (RPCError, RuntimeError, OSError, TimeoutError):
            return cls(None, f"Temporal unreachable at {client.service_client.config.target_host}")
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
                return NO_WORKFLOW
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
            return f"workflow {status.name.lower()}{ENDED}"
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

    async def anchor_of(intake_ref: str | None) -> Anchor | str:
        async with limit:
            return await anchors.anchor(intake_ref)

    while page := await asyncio.to_thread(_next_page, app, refs):
        # Each workflow is asked before its case is read, so the store can only be
        # ahead of the anchor (an activity saving meanwhile), never behind it.
        found = await asyncio.gather(*(anchor_of(intake_ref) for _, intake_ref in page))
        verdicts = await asyncio.to_thread(_verdicts, app, page, found)
        for (ref, intake_ref), anchor, verdict in zip(page, found, verdicts, strict=True):
            if _maybe_in_flight(verdict, anchor):
                await asyncio.sleep(RECHECK_AFTER)
                again = await anchor_of(intake_ref)
                verdict = await asyncio.to_thread(audit.verify_case, app, ref, again)
            report.add(verdict)
            if (
                verdict.intact
                and workflow_gone(anchor)
                and await asyncio.to_thread(_open, app, ref)
            ):
                report.add_without_workflow(verdict)


RUNNING_CASES = "WorkflowType = 'ComplaintWorkflow' AND ExecutionStatus = 'Running'"


async def _workflows_without_case(
    app: Complaints, anchors: WorkflowAnchors, report: Report
) -> None:
    """A case workflow running in Temporal whose case the store does not have: the
    case was removed from the store, or the workflow was started from outside."""
    if anchors.client is None:
        return
    try:
        running = [run.id async for run in anchors.client.list_workflows(RUNNING_CASES)]
    except RPCError as error:  # a server without visibility queries (the test server)
        report.notes.append(f"running workflows not listed: {error.message}")
        return
    for workflow in running:
        if not workflow.startswith(WORKFLOW_PREFIX):
            continue
        case_id = Complaint.create_id(workflow.removeprefix(WORKFLOW_PREFIX))
        if not await asyncio.to_thread(app.recorder.select_events, case_id, limit=1):
            line = f"BROKEN workflow {workflow} runs in Temporal; its case is not in the store"
            report.store_problems.append(line)
            report.lines.append(line)


def _open(app: Complaints, ref: CaseRef) -> bool:
    try:
        return not app.get_case(ref.case_id).is_terminal
    except CaseNotFoundError:
        return False


def _next_page(app: Complaints, refs: Iterator[CaseRef]) -> list[tuple[CaseRef, str | None]]:
    """The next cases of the walk, each with its workflow's intake reference."""
    return [(ref, _intake_ref(app, ref)) for ref in islice(refs, PAGE)]


def _verdicts(
    app: Complaints,
    page: Sequence[tuple[CaseRef, str | None]],
    anchors: Sequence[Anchor | str],
) -> list[CaseVerdict]:
    return [
        audit.verify_case(app, ref, anchor) for (ref, _), anchor in zip(page, anchors, strict=True)
    ]


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


NO_WORKFLOW = "no workflow (never started, lost, or past Temporal's retention)"
ENDED = ": it left no final view"


def workflow_gone(anchor: Anchor | str) -> bool:
    """True when the anchor says the case has no running workflow at all."""
    return isinstance(anchor, str) and (anchor == NO_WORKFLOW or anchor.endswith(ENDED))


def _verify_checkpoints(app: Complaints, report: Report, settings: Settings) -> None:
    """The signed checkpoints, with the published public key alone, against every
    record of the store and the copies kept outside it."""
    try:
        verifier = Verifier(public_key(settings.env))
    except SigningKeyError:
        if checkpoint.checkpoint_log(app) is not None:
            report.checkpoints_note = "not checked (no checkpoint public key configured)"
        return
    try:
        outside = read_checkpoint_file(settings.checkpoint_file)
    except ValueError as error:
        report.store_problems.append(f"checkpoint file: {error}")
        outside = []
    problems, checked, records = checkpoint.verify_store(app, verifier, outside)
    for problem in problems:
        line = problem.describe()
        report.store_problems.append(line)
        report.lines.append(f"BROKEN {line}")
    log = checkpoint.checkpoint_log(app)
    latest = log.latest if log is not None else None
    report.checkpoints_note = (
        f"{checked} verified, the latest covering {latest['records']} of {records} record(s)"
        if latest is not None
        else "none signed yet"
    )


class Report:
    """Each broken case as it is found, and the summary at the end."""

    def __init__(self) -> None:
        self.store_problems: list[str] = []
        self.checkpoints_note = ""
        self.verified = 0
        self.broken: list[CaseVerdict] = []
        # Open cases whose clocks nothing runs: a deadline would pass unnoticed.
        self.without_workflow: list[str] = []
        self.tails: Counter[str] = Counter()
        self.notes: list[str] = []
        self.lines: list[str] = []  # the text answer, before its summary

    def add(self, verdict: CaseVerdict) -> None:
        self.verified += 1
        tail = verdict.tail
        if not verdict.intact:
            self.broken.append(verdict)
            self.lines.append(describe_broken(verdict))
            return
        if tail.status == "matched":
            self.tails["match the workflow"] += 1
        elif tail.status == "matched_before" and "erased by" in tail.note:
            # A lawful erasure, recorded beside the workflow: said as what it is.
            self.tails["match the workflow up to a lawful erasure"] += 1
            note = f"{verdict.ref.label}: {tail.note[tail.note.index('erased by') :]}"
            self.notes.append(note)
            self.lines.append(note)
        elif tail.status == "matched_before":
            self.tails["match the workflow up to later notice records (not anchored)"] += 1
        elif tail.status == "in_flight":
            self.tails["not yet anchored (activity in flight)"] += 1
            note = f"{verdict.ref.label}: {tail.note}"
            self.notes.append(note)
            self.lines.append(note)
        else:
            self.tails[f"not checked ({tail.note})"] += 1

    def add_without_workflow(self, verdict: CaseVerdict) -> None:
        line = (
            f"{verdict.ref.label} (case {verdict.ref.case_id}): OPEN WITHOUT A WORKFLOW: "
            f"{verdict.tail.note}; its deadlines run on no clock until the reconciler "
            "restores it (`minwon admin reconcile`)"
        )
        self.without_workflow.append(line)
        self.lines.append(line)

    @property
    def clean(self) -> bool:
        return not self.broken and not self.without_workflow and not self.store_problems

    def summary(self) -> str:
        text = self._cases_summary()
        if self.store_problems:
            return f"{text}; store: {len(self.store_problems)} problem(s)"
        if self.checkpoints_note:
            return f"{text}; checkpoints: {self.checkpoints_note}"
        return text

    def _cases_summary(self) -> str:
        n = self.verified
        cases = f"{n} case{'s' if n != 1 else ''}"
        missing = len(self.without_workflow)
        if missing:
            cases = f"{cases} ({missing} open without a workflow)"
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
            "without_workflow": self.without_workflow,
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
            "checkpoints": {
                "problems": self.store_problems,
                "note": self.checkpoints_note,
            },
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
