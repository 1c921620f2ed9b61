"""What the API and the pages do, in one place: residents, staff, ops.

Reads come from the event store (a case, its history, credentials, the roster)
or from Temporal's visibility (queues, by search attribute). Every change to a
case goes to its workflow as the update `act`, as `minwon` does: the workflow
validates it and an activity records it; nothing here writes a case. The
credentials (a token's digest, a resident secret's digest) and the counts of the
residents' limits (`web.limits`) are the only things written here, next to the
cases.

Who may do what follows `domain.access` (the rules `minwon` and the command
activity enforce), checked here first so a refusal is a 403 before Temporal:
roles come from the roster on the day. On top of the role, an action that only
the `staff` role allows is for the case's own people: its assignee, whoever it
was escalated to, the designated officer or the director (any staff member may
still take a message for an absent colleague). Personal data is shown as
`domain.access` says (assignee, officer, auditor), and every such read is written
to the access log, as is every status lookup a resident makes with their secret.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
from eventsourcing.application import AggregateNotFoundError
from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError, RPCStatusCode

from activities.complaints import case_view
from activities.notices import COMMITMENT_LABELS, STATUS_LABELS
from application.service import (
    Claim,
    Complaints,
    Intake,
    LinkedCaseRequiredError,
    event_moment,
)
from domain.access import (
    DIRECTOR,
    OFFICER,
    OPS,
    PERMISSIONS,
    AccessDeniedError,
    Grant,
    RosterView,
    Rule,
    authorize,
    require,
    roles_of,
)
from domain.audit import NOT_DETAILS
from domain.calendar import SEOUL, korean_moment, to_seoul
from domain.chain import is_meta, personal_fields
from domain.commands import STAFF_ACTIONS, Action, Escalate, with_actor
from domain.complaint import ERASED, CaseNotFoundError, Complaint
from domain.credentials import (
    AccessToken,
    CredentialError,
    ResidentSecret,
    StaffSession,
    session_id_of,
    token_id_of,
)
from domain.disclosure import actor_of, mask_contact, mask_text, masked
from domain.policy import CommitmentRule, UnknownCategoryError
from domain.receipt import ReceiptCodeError, normalise_receipt_code
from domain.roster import StaffMember
from domain.tokens import check_issuer, issue_token, revoke_token
from privacy.transit import seal_action
from runtime.settings import Settings
from web.labels import CASE_STATUS_LABELS, CLOCK_KIND_LABELS, ROLE_LABELS, TOPIC_LABELS
from web.limits import LimitReachedError, PublicLimits
from web.notices import PublicNotices
from web.problems import FieldProblem, Problem
from web.schemas import (
    ApologyOut,
    BulkEscalation,
    BulkOutcomeOut,
    BulkResult,
    CaseDetail,
    CommitmentClock,
    CommitmentOut,
    ComplaintSubmission,
    Directory,
    DirectoryEntry,
    ErasureDone,
    ErasureRequest,
    Expectation,
    Handler,
    HistoryEntry,
    InterimReplyOut,
    IssuedToken,
    Me,
    NoteOut,
    NoticeRecord,
    OpsOverview,
    PersonalData,
    PublicNoticeOut,
    QueueItem,
    Receipt,
    ResidentStatus,
    ServiceGuide,
    StaffFiling,
    TokenRequest,
    TokenRevoked,
)
from workflows.client import CaseFilter, escalate_matching, file_complaint, workflow_id
from workflows.client import act as act_on
from workflows.models import CaseView, FileComplaintInput
from workflows.search import ASSIGNEE, CATEGORY, ESCALATED, NEXT_DUE, RECEIPT, STATUS

log = structlog.get_logger()
T = TypeVar("T")

TEMPORAL_TIMEOUT = 30.0
DUE_SOON = timedelta(hours=24)
SUPERVISORS = frozenset({OFFICER, DIRECTOR})
QUEUE_LIMIT = 500
# The case page shows what the audit replay shows, less the person's pseudonym.
_NOT_DETAILS = NOT_DETAILS | {"person_id"}


@dataclass(frozen=True)
class StaffUser:
    staff: str
    roles: frozenset[str]
    member: StaffMember | None
    # The token (or the web session's token) that proved who this is.
    token_id: str | None = None

    @property
    def supervises(self) -> bool:
        return bool(self.roles & SUPERVISORS)

    @property
    def runs_ops(self) -> bool:
        return OPS in self.roles or self.supervises

    def me(self) -> Me:
        return Me(
            staff=self.staff,
            name=self.member.name if self.member else None,
            title=self.member.title if self.member else None,
            roles=sorted(self.roles),
        )


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Not allowed", detail)


def check_action(roster: RosterView, user: StaffUser, case: Complaint, name: str) -> None:
    """Raise 403 unless the user may run action `name` on the case (domain.access)."""
    model = STAFF_ACTIONS[name]
    try:
        authorize(roster, user.staff, model.rule, _now(), case)
    except AccessDeniedError as error:
        raise forbidden(str(error)) from None


def may(roster: RosterView, user: StaffUser, case: Complaint, name: str) -> bool:
    try:
        check_action(roster, user, case, name)
    except Problem:
        return False
    return True


def allowed_actions(roster: RosterView, user: StaffUser, case: Complaint) -> list[str]:
    """The staff actions the user may run on the case, decided on one roster."""
    return [name for name in STAFF_ACTIONS if may(roster, user, case, name)]


def to_action(name: str, body: BaseModel, actor: str) -> Action:
    """The workflow's action for an API or form body; the actor is the signed-in staff."""
    return with_actor(STAFF_ACTIONS[name], body.model_dump(), actor)


def field_problems(error: ValidationError, prefix: str = "body") -> list[FieldProblem]:
    return [
        FieldProblem(
            location=".".join([prefix, *(str(part) for part in item["loc"])]),
            message=item["msg"],
        )
        for item in error.errors()
    ]


def invalid(errors: list[FieldProblem]) -> Problem:
    return Problem(
        422,
        "invalid-input",
        "Invalid input",
        "; ".join(f"{e.location}: {e.message}" for e in errors),
        errors=errors,
    )


def too_many(refused: LimitReachedError) -> Problem:
    """The 429 for a refused intake or lookup, with when to try again."""
    wait = refused.retry_after
    if refused.what == "lookup":
        kind, title = "too-many-attempts", "Too many attempts"
        detail = f"too many wrong secrets for this receipt code; try again in {wait} s"
    else:
        kind, title = "too-many-submissions", "Too many submissions"
        detail = (
            f"too many complaints from this {refused.what} for now; nothing was recorded: "
            f"try again in {wait} s, or call the center"
        )
    return Problem(429, kind, title, detail, headers={"Retry-After": str(wait)})


def _cause(error: BaseException) -> str:
    cause: object = error
    while getattr(cause, "cause", None) is not None:
        cause = getattr(cause, "cause")  # noqa: B009 - walking an untyped chain
    return str(getattr(cause, "message", cause))


def _now() -> datetime:
    return datetime.now(SEOUL)


def resident_actor(receipt_code: str) -> str:
    """Who reads a case with its receipt code and secret, as the access log names them."""
    return f"resident:{receipt_code}"


@dataclass
class Desk:
    complaints: Complaints
    client: Client
    task_queue: str
    notices: PublicNotices
    # Counted in the store's database, shared by every web server (`web.limits`).
    limits: PublicLimits
    # What the process was started with (the checkpoint key and file, …).
    settings: Settings = field(default_factory=lambda: Settings())
    clock: Callable[[], datetime] = _now

    # -- plumbing --------------------------------------------------------------------------

    async def temporal(self, work: Awaitable[T]) -> T:
        """Await Temporal, bounded in time, with its failures as problems."""
        try:
            async with asyncio.timeout(TEMPORAL_TIMEOUT):
                return await work
        except WorkflowUpdateFailedError as error:
            raise Problem(409, "action-refused", "Action refused", _cause(error)) from None
        except RPCError as error:
            if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise Problem(
                    409,
                    "case-not-open",
                    "Case no longer takes actions",
                    f"the case's workflow does not take this now: {error.message}",
                ) from None
            raise Problem(
                503, "temporal-unavailable", "Temporal unavailable", f"Temporal: {error.message}"
            ) from None
        except TimeoutError:
            raise Problem(
                503,
                "temporal-timeout",
                "Temporal did not answer in time",
                f"no answer within {TEMPORAL_TIMEOUT:.0f} s: is the worker running?",
            ) from None
        except TemporalError as error:
            raise Problem(503, "temporal-error", "Temporal error", str(error)) from None

    async def _start(self, intake: FileComplaintInput) -> CaseView:
        """Record the case in the store, then start its workflow with no personal data.

        The contact and the text are sealed under the person's key in the store and
        never enter Temporal, whose histories an erasure cannot reach: the workflow
        registers a case already recorded. Should the start fail, the reconciler
        gives the recorded case its workflow.
        """
        received_at = intake.received_at or self.clock()
        linked = None
        if intake.linked_to:
            linked = str(
                await asyncio.to_thread(self.complaints.case_id_for_receipt, intake.linked_to)
            )
        fields = intake.model_dump(exclude={"linked_to", "restored", "received_at"})
        await asyncio.to_thread(
            self.complaints.file, Intake(**fields, received_at=received_at, linked_to=linked)
        )
        bare = intake.model_copy(update={"contact": None, "text": None, "received_at": received_at})
        _, view = await self.temporal(file_complaint(self.client, bare, self.task_queue))
        return view

    def _sealed(self, action: Action, case: Complaint) -> Action:
        """The action's personal text sealed under the person's key for its way through
        Temporal (privacy.transit); an erased person's text is not sent at all."""
        person = case.person_id or f"case-{case.id}"
        key = self.complaints.keys.key_for_writing(person)
        if key is None:
            return action.model_copy(update={field: ERASED for field in action.personal})
        return seal_action(action, key, case.id)

    async def _claim(
        self, category: str, about: str | None, field: str
    ) -> tuple[Claim, str | None]:
        """The category to file under (a late-reply claim that does not hold is filed
        as an opinion) and the receipt code of the case it is about."""
        case = await self._case(about) if about else None
        try:
            claim = self.complaints.check_claim(category, case, self.clock())
        except LinkedCaseRequiredError as error:
            raise invalid([FieldProblem(location=f"body.{field}", message=str(error))]) from None
        if claim.reason is not None:
            log.info("linked_claim_not_upheld", category=category, filed_as=claim.category)
        return claim, case.receipt_code if case else None

    async def _case(self, code: str) -> Complaint:
        try:
            return await asyncio.to_thread(self.complaints.find_by_receipt, code)
        except ReceiptCodeError as error:
            raise Problem(422, "invalid-receipt-code", "Invalid receipt code", str(error)) from None
        except CaseNotFoundError:
            raise Problem(
                404, "case-not-found", "Case not found", f"no case with receipt code {code}"
            ) from None

    def _handler(self, staff: str | None) -> Handler | None:
        member = self.complaints.roster.staff(staff) if staff else None
        return Handler(title=member.title, phone=member.phone) if member else None

    def grant(self, user: StaffUser, permission: str, at: datetime | None = None) -> Grant:
        """The user's grant for one of `PERMISSIONS` on the day (now by default), or 403."""
        try:
            return authorize(
                self.complaints.roster.current(),
                user.staff,
                PERMISSIONS[permission],
                at or self.clock(),
            )
        except AccessDeniedError as error:
            raise forbidden(str(error)) from None

    def _category_title(self, category: str) -> str:
        try:
            return self.complaints.policy.category(category).title
        except UnknownCategoryError:
            return category

    # -- residents ---------------------------------------------------------------------------

    async def submit(self, form: ComplaintSubmission, address: str) -> Receipt:
        """File a homepage complaint; the resident gets the receipt code and a secret.

        Counted against the limits of the client's `address` and of the contact
        first: a refusal (429) records nothing, no case, no secret and no notice.
        """
        try:
            await asyncio.to_thread(self.limits.admit_intake, address, form.contact)
        except LimitReachedError as refused:
            log.info("complaint_refused", reason=f"{refused.what}_limit")
            raise too_many(refused) from None
        linked_category = self.complaints.policy.linked_complaint_category
        if form.category != linked_category and form.about_receipt_code:
            raise invalid(
                [
                    FieldProblem(
                        location="body.about_receipt_code",
                        message=f"only a {linked_category} complaint is about another case",
                    )
                ]
            )
        claim, linked = await self._claim(
            form.category, form.about_receipt_code, "about_receipt_code"
        )
        intake_ref = f"web-{uuid.uuid4().hex}"
        # The case id follows from the intake reference, so the secret is stored
        # first: a receipt code is never given out without its secret on record.
        record, secret = ResidentSecret.issue(Complaint.create_id(intake_ref))
        await asyncio.to_thread(self.complaints.save, record)
        intake = FileComplaintInput(
            intake_ref=intake_ref,
            channel="homepage",
            category=claim.category,
            topic=form.topic if claim.category == "inquiry" else "intake",
            private=form.private,
            contact=form.contact,
            text=form.text,
            linked_to=linked if claim.reason is None else None,
        )
        view = await self._start(intake)
        log.info("complaint_submitted", case_id=view.case_id, category=view.category)
        expectations = [
            Expectation(kind=c.kind, label=COMMITMENT_LABELS.get(c.kind, c.kind), due=c.due)
            for c in view.commitments
            if c.status == "open"
        ]
        first = min(expectations, key=lambda e: e.due) if expectations else None
        promise = f" {first.label}: {korean_moment(first.due)}까지." if first else ""
        return Receipt(
            receipt_code=view.receipt_code,
            secret=secret,
            category=view.category,
            category_title=self._category_title(view.category),
            private=view.private,
            received_at=view.received_at,
            expectations=expectations,
            handler=await asyncio.to_thread(self._handler, view.assignee),
            message=(
                f"접수되었습니다. 접수번호 {view.receipt_code}와 비밀번호를 함께 보관하세요."
                + promise
                + (_not_upheld(claim, self._category_title(claim.category)) if claim.reason else "")
            ),
        )

    async def resident_status(
        self, code: str, secret: str, *, via: str, address: str
    ) -> ResidentStatus:
        """A case as its resident sees it, given the receipt code and the secret.

        The answer and the finding it shows are personal data: each lookup that
        admits the secret is written to the access log, as read by the holder of
        the receipt, from `via` (api or web) and the client's `address`. Wrong secrets
        are counted per address and receipt code: a guesser elsewhere does not lock
        the resident out.
        """
        try:
            key = normalise_receipt_code(code)
        except ReceiptCodeError as error:
            raise Problem(422, "invalid-receipt-code", "Invalid receipt code", str(error)) from None
        try:
            await asyncio.to_thread(self.limits.check_lookup, address, key)
        except LimitReachedError as refused:
            raise too_many(refused) from None
        origin = f"{via}:{address}"

        def read() -> Complaint | None:
            try:
                case_id = self.complaints.case_id_for_receipt(key)
                record: ResidentSecret = self.complaints.repository.get(
                    ResidentSecret.create_id(case_id)
                )
            except (CaseNotFoundError, AggregateNotFoundError):
                return None
            if not record.admits(secret):
                return None
            case = self.complaints.get_case(case_id)
            self.complaints.log_access(
                actor=resident_actor(case.receipt_code),
                at=self.clock(),
                origin=origin,
                case=case,
                action="status",
            )
            return case

        case = await asyncio.to_thread(read)
        if case is None:
            await asyncio.to_thread(self.limits.lookup_failed, address, key)
            raise Problem(
                404,
                "case-not-found",
                "Case not found",
                "no case with this receipt code and secret: check both and try again",
            )
        await asyncio.to_thread(self.limits.lookup_admitted, address, key)
        return await asyncio.to_thread(self._resident_view, case)

    def _resident_view(self, case: Complaint) -> ResidentStatus:
        return ResidentStatus(
            receipt_code=case.receipt_code,
            category=case.category,
            category_title=self._category_title(case.category),
            private=case.private,
            status=case.status,
            status_label=CASE_STATUS_LABELS.get(case.status, case.status),
            received_at=case.received_at,
            commitments=[
                CommitmentOut(
                    kind=c.kind,
                    label=COMMITMENT_LABELS.get(c.kind, c.kind),
                    due=c.due,
                    status=c.status,
                    status_label=STATUS_LABELS[c.status],
                    met_at=c.met_at,
                )
                for c in case.commitments.values()
            ],
            interim_replies=[
                InterimReplyOut(reason=r["reason"], new_due=r["new_due"], at=r["at"])
                for r in case.interim_replies
            ],
            answer=case.answer,
            answered_at=case.answered_at,
            investigation_finding=case.finding if case.investigation == "concluded" else None,
            apologies=[ApologyOut(mode=a["mode"], at=a["at"]) for a in case.apologies],
            closed_at=case.closed_at,
            handler=self._handler(case.assignee),
        )

    def directory(self, role_titles: dict[str, str] = ROLE_LABELS) -> Directory:
        """Who holds each role residents deal with today, and what each kind of request
        promises: from the roster and the policy. A holder's name, title and desk phone
        only — what notices already tell residents (라.②), never a work address."""
        now = self.clock()
        policy = self.complaints.policy
        roster = self.complaints.roster
        categories = policy.categories
        roles = dict.fromkeys(
            [*policy.routing.topics.values(), policy.routing.default]
            + [c.routes_to for c in categories.values() if c.routes_to in role_titles]
            + [level.role for level in policy.escalation.chain]
        )
        staff = []
        for role in roles:
            member = roster.staff(holder) if (holder := roster.holder(role, now)) else None
            duties = [
                TOPIC_LABELS.get(topic, topic)
                for topic, r in policy.routing.topics.items()
                if r == role
            ]
            duties += [c.title for c in categories.values() if c.routes_to == role]
            if any(level.role == role for level in policy.escalation.chain):
                duties.append("기한을 넘긴 민원의 상향 보고")
            staff.append(
                DirectoryEntry(
                    role=role,
                    role_title=role_titles.get(role, role),
                    name=member.name if member else None,
                    title=member.title if member else None,
                    phone=member.phone if member else None,
                    photo=f"/static/staff/{member.photo}" if member and member.photo else None,
                    duties=duties,
                )
            )
        services = [
            ServiceGuide(
                category=name,
                title=category.title,
                promises=[_promise(rule) for rule in category.commitments],
                apply_by=["방문", "전화", "우편", "팩스", "이메일", "홈페이지"],
                handled_by=(
                    "상담 주제에 따라 담당자"
                    if category.routes_to == "by_topic"
                    else "부재 직원 대신 받은 직원이 전달"
                    if category.routes_to == "absent_staff"
                    else role_titles.get(category.routes_to, category.routes_to)
                ),
            )
            for name, category in categories.items()
        ]
        return Directory(on=to_seoul(now).date(), staff=staff, services=services)

    async def public_notices(self) -> list[PublicNoticeOut]:
        notices = await asyncio.to_thread(self.notices.list)
        return [
            PublicNoticeOut(
                number=n.number,
                receipt_code=n.receipt_code,
                category=n.category,
                category_title=self._category_title(n.category),
                summary=n.summary,
                announced_at=n.announced_at,
                public_apology=n.public_apology,
                apologised_at=n.apologised_at,
            )
            for n in notices
        ]

    # -- staff -------------------------------------------------------------------------------

    async def authenticate(self, token: str) -> StaffUser:
        refused = Problem(
            401,
            "unauthorized",
            "Authentication required",
            "the token is unknown, expired or revoked (`minwon token issue --staff ID`)",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
        token_id = token_id_of(token)
        if token_id is None:
            raise refused

        def read() -> StaffUser | None:
            try:
                record: AccessToken = self.complaints.repository.get(
                    AccessToken.create_id(token_id)
                )
            except AggregateNotFoundError:
                return None
            now = self.clock()
            if not record.admits(token, now):
                return None
            roster = self.complaints.roster
            roles = roles_of(roster, record.staff, now)
            if not roles:
                return None  # left the center: the token no longer names anyone
            return StaffUser(record.staff, roles, roster.staff(record.staff), record.token_id)

        user = await asyncio.to_thread(read)
        if user is None:
            raise refused
        return user

    async def authenticate_session(self, text: str) -> StaffUser:
        """Who a staff desk cookie (`mws_…`) signs in: only while its token would too."""
        refused = Problem(
            401, "unauthorized", "Authentication required", "the session is unknown or over"
        )
        session_id = session_id_of(text)
        if session_id is None:
            raise refused

        def read() -> StaffUser | None:
            try:
                session: StaffSession = self.complaints.repository.get(
                    StaffSession.create_id(session_id)
                )
                token: AccessToken = self.complaints.repository.get(
                    AccessToken.create_id(session.token_id)
                )
            except AggregateNotFoundError:
                return None
            now = self.clock()
            if not session.admits(text, now):
                return None
            # Revoking (or outliving) the token ends the sessions it started.
            if token.revoked_at is not None or now >= token.expires_at:
                return None
            roster = self.complaints.roster
            roles = roles_of(roster, session.staff, now)
            if not roles:
                return None
            return StaffUser(session.staff, roles, roster.staff(session.staff), token.token_id)

        user = await asyncio.to_thread(read)
        if user is None:
            raise refused
        return user

    async def file(self, user: StaffUser, form: StaffFiling) -> tuple[CaseView, str, str | None]:
        """A complaint staff take (visit, phone …), as `minwon file`; returns the secret too."""
        if not user.roles & PERMISSIONS["file"].roles:
            raise forbidden(f"{user.staff} may not file complaints")
        try:
            self.complaints.policy.category(form.category)
        except UnknownCategoryError as error:
            raise invalid([FieldProblem(location="body.category", message=str(error))]) from None
        claim, linked = await self._claim(form.category, form.linked_to, "linked_to")
        if form.received_at is not None and form.received_at > self.clock():
            raise invalid(
                [FieldProblem(location="body.received_at", message="must not be in the future")]
            )
        intake_ref = f"desk-{uuid.uuid4().hex}"
        try:
            intake = FileComplaintInput(
                intake_ref=intake_ref,
                received_at=form.received_at,
                channel=form.channel,
                category=claim.category,
                topic=form.topic,
                private=form.private,
                contact=form.contact,
                text=form.text,
                linked_to=linked if claim.reason is None else None,
            )
        except ValidationError as error:
            raise invalid(field_problems(error)) from None
        record, secret = ResidentSecret.issue(Complaint.create_id(intake_ref))
        await asyncio.to_thread(self.complaints.save, record)
        view = await self._start(intake)
        log.info("complaint_filed_by_staff", case_id=view.case_id, staff=user.staff)
        return view, secret, claim.reason

    async def act(self, user: StaffUser, code: str, name: str, body: BaseModel) -> CaseView:
        """One staff or ops action on a case, through the workflow's update `act`."""
        case = await self._case(code)
        check_action(self.complaints.roster.current(), user, case, name)
        try:
            action = to_action(name, body, user.staff)
        except ValidationError as error:
            raise invalid(field_problems(error)) from None
        if action.personal:
            action = await asyncio.to_thread(self._sealed, action, case)
        handle = self.client.get_workflow_handle(workflow_id(case.intake_ref), result_type=CaseView)
        # Through `act`, which sends the action again while a long case continues as new.
        view = await self.temporal(act_on(handle, action))  # type: ignore[arg-type]
        log.info("staff_action_sent", case_id=view.case_id, action=name, staff=user.staff)
        return view

    async def _granted(self, user: StaffUser, code: str, rule: Rule) -> tuple[Complaint, Grant]:
        """The case and the user's grant on it for `rule`, or 403 (domain.access)."""
        case = await self._case(code)
        try:
            grant = authorize(
                self.complaints.roster.current(), user.staff, rule, self.clock(), case
            )
        except AccessDeniedError as error:
            raise forbidden(str(error)) from None
        return case, grant

    async def case_status(self, user: StaffUser, code: str) -> tuple[CaseView, str]:
        """The case as its workflow sees it (no personal data), read from the store, and
        what became of its workflow: `running`, or `missing`, `terminated` … for an open
        case whose clocks nothing runs until the reconciler restores it."""
        case, _ = await self._granted(user, code, PERMISSIONS["show"])
        if case.is_terminal:
            return case_view(case, self.complaints), "ended"
        try:
            described = await self.temporal(
                self.client.get_workflow_handle(workflow_id(case.intake_ref)).describe()
            )
        except Problem as problem:
            if problem.type.endswith("case-not-open"):
                return case_view(case, self.complaints), "missing"
            # Temporal did not answer: the store did.
            return case_view(case, self.complaints), "unknown"
        except RuntimeError:  # a lazily connected client that cannot reach Temporal
            return case_view(case, self.complaints), "unknown"
        status = described.status.name.lower() if described.status else "missing"
        return case_view(case, self.complaints), status

    async def personal_data(self, user: StaffUser, code: str, origin: str) -> PersonalData:
        """The complainant's contact and words and the staff's notes, for those the case
        needs; each read is written to the access log."""
        case, grant = await self._granted(user, code, PERMISSIONS["show"])
        if not grant.personal_data:
            raise forbidden(
                "personal data is shown to the case's assignee, whoever it was escalated to, "
                "the designated officer and auditors; here it stays masked: "
                f"{mask_contact(case.contact)}, {mask_text(case.text)}"
            )
        await asyncio.to_thread(
            self.complaints.log_access,
            actor=user.staff,
            at=self.clock(),
            origin=origin,
            case=case,
            action="show --personal",
        )
        return PersonalData(
            receipt_code=case.receipt_code,
            contact=case.contact,
            text=case.text,
            notes=[NoteOut(at=n.at, by=n.by, text=n.text) for n in case.notes],
        )

    async def notices_of(self, user: StaffUser, code: str) -> list[NoticeRecord]:
        """What was sent for the case, or given up on, then what is still queued for
        the notice outbox: recipients are roles, staff or 'resident'."""
        case, _ = await self._granted(user, code, PERMISSIONS["notices"])
        waiting = await asyncio.to_thread(self.complaints.waiting_notices, case)
        return [NoticeRecord.model_validate(notice) for notice in case.notices] + [
            NoticeRecord(
                kind=notice.kind, recipient=notice.recipient, outcome="queued", at=notice.at
            )
            for notice in waiting
        ]

    # -- tokens and erasure ---------------------------------------------------------------

    async def issue_token(self, user: StaffUser, form: TokenRequest) -> IssuedToken:
        """A token for a staff member, issued by the authenticated ops or director."""
        now = self.clock()

        def issue() -> IssuedToken:
            try:
                check_issuer(self.complaints, user.staff, form.staff, now)
            except AccessDeniedError as error:
                raise forbidden(str(error)) from None
            try:
                token, text = issue_token(
                    self.complaints, form.staff, issued_by=user.staff, days=form.days, at=now
                )
            except CredentialError as error:
                raise invalid([FieldProblem(location="body.staff", message=str(error))]) from None
            return IssuedToken(
                token=text,
                token_id=token.token_id,
                staff=token.staff,
                roles=self.complaints.roster.roles_of(token.staff, now),
                expires_at=token.expires_at,
            )

        issued = await asyncio.to_thread(issue)
        log.info("token_issued", token_id=issued.token_id, staff=issued.staff, by=user.staff)
        return issued

    async def revoke_token(self, user: StaffUser, token_id: str) -> TokenRevoked:
        now = self.clock()

        def revoke() -> TokenRevoked:
            try:
                require(self.complaints.roster.current(), user.staff, "manage_tokens", now)
            except AccessDeniedError as error:
                raise forbidden(str(error)) from None
            return self._revoked(token_id, user.staff, now)

        return await asyncio.to_thread(revoke)

    async def revoke_own_token(self, user: StaffUser) -> TokenRevoked:
        if user.token_id is None:
            raise forbidden("this sign-in is not a token of its own")
        token_id = user.token_id
        return await asyncio.to_thread(self._revoked, token_id, user.staff, self.clock())

    def _revoked(self, token_id: str, by: str, now: datetime) -> TokenRevoked:
        try:
            token = revoke_token(self.complaints, token_id, by=by, at=now)
        except CredentialError as error:
            raise Problem(404, "token-not-found", "Token not found", str(error)) from None
        log.info("token_revoked", token_id=token_id, staff=token.staff, by=by)
        return TokenRevoked(
            token_id=token.token_id, staff=token.staff, revoked_at=token.revoked_at or now
        )

    async def erase_person(self, user: StaffUser, form: ErasureRequest) -> ErasureDone:
        """Crypto-shredding, by the director or the officer: the person's key goes."""
        chosen = [v for v in (form.person, form.contact, form.case) if v]
        if len(chosen) != 1:
            raise invalid(
                [FieldProblem(location="body", message="give one of person, contact or case")]
            )
        now = self.clock()

        def erase() -> ErasureDone:
            try:
                require(self.complaints.roster.current(), user.staff, "erase_person", now)
            except AccessDeniedError as error:
                raise forbidden(str(error)) from None
            if form.contact:
                person = self.complaints.keys.person_id_for(form.contact)
            elif form.case:
                try:
                    case_id = self.complaints.case_id_for_receipt(form.case)
                    person = self.complaints.person_of_case(case_id)
                except (CaseNotFoundError, ReceiptCodeError) as error:
                    raise Problem(404, "case-not-found", "Case not found", str(error)) from None
            else:
                person = str(form.person)
            cases = self.complaints.erase_person(person, reason=form.reason, by=user.staff, at=now)
            return ErasureDone(person=person, cases=len(cases))

        done = await asyncio.to_thread(erase)
        log.info("person_erased", person_id=done.person, cases=done.cases, by=user.staff)
        return done

    async def case_detail(self, user: StaffUser, code: str, origin: str = "web") -> CaseDetail:
        case, grant = await self._granted(user, code, PERMISSIONS["show"])
        now = self.clock()
        shown = grant.personal_data
        events = await asyncio.to_thread(self.complaints.history, case.id)
        if shown:
            # Who read a resident's personal data, from where: never the data itself.
            await asyncio.to_thread(
                self.complaints.log_access,
                actor=user.staff,
                at=now,
                origin=origin,
                case=case,
                action="web case page",
            )
        return CaseDetail(
            receipt_code=case.receipt_code,
            case_id=str(case.id),
            category=case.category,
            category_title=self._category_title(case.category),
            channel=case.channel,
            topic=case.topic,
            private=case.private,
            status=case.status,
            status_label=CASE_STATUS_LABELS.get(case.status, case.status),
            received_at=case.received_at,
            assignee=case.assignee,
            assignee_role=case.assignee_role,
            contact=case.contact if shown else mask_contact(case.contact),
            text=case.text if shown else mask_text(case.text),
            personal_data_shown=shown,
            clocks=[
                CommitmentClock(
                    kind=c.kind,
                    label=CLOCK_KIND_LABELS.get(c.kind, c.kind),
                    status=c.status,
                    started_at=c.started_at,
                    due=c.due,
                    original_due=c.original_due,
                    warn_at=c.warn_at,
                    warn_hours=c.warn_hours,
                    warn_counting=c.warn_counting,
                    warned=c.warned,
                    extensions=c.extensions,
                    max_extensions=c.max_extensions,
                    max_consented_extensions=c.max_consented_extensions,
                    extend_until=limit[0]
                    if c.is_open and (limit := self.complaints.extension_limit(c))
                    else None,
                    met_at=c.met_at,
                    breached_at=c.breached_at,
                    overdue=c.status == "open" and c.due < now,
                )
                for c in case.commitments.values()
            ],
            escalations=[
                {
                    "level": e.level,
                    "to_role": e.to_role,
                    "to_staff": e.to_staff,
                    "reason": e.reason,
                    "by": e.by,
                    "trigger": e.trigger,
                    "at": e.at,
                    "act_by": e.act_by,
                }
                for e in case.escalations
            ],
            investigation=case.investigation,
            apology_required=case.apology_required,
            answer=case.answer if shown else mask_text(case.answer or "") or None,
            history=history_entries(events, shown),
            allowed_actions=allowed_actions(self.complaints.roster.current(), user, case),
        )

    # -- queues (Temporal visibility) -------------------------------------------------------------

    async def _listed(self, query: str, user: StaffUser) -> list[QueueItem]:
        """Cases from visibility, those the user may see (case by case, domain.access)."""
        now = self.clock()

        async def collect() -> list[QueueItem]:
            items = []
            async for execution in self.client.list_workflows(query, limit=QUEUE_LIMIT):
                found = execution.typed_search_attributes
                code = found.get(RECEIPT)
                if not code:
                    continue  # not registered yet: it has no receipt code to show
                next_due = found.get(NEXT_DUE)
                status = found.get(STATUS) or "received"
                open_case = status in ("received", "assigned")
                items.append(
                    QueueItem(
                        receipt_code=code,
                        category=found.get(CATEGORY) or "",
                        status=status,
                        assignee=found.get(ASSIGNEE),
                        next_due=next_due,
                        escalated=bool(found.get(ESCALATED)),
                        overdue=bool(open_case and next_due and next_due < now),
                        due_soon=bool(open_case and next_due and now <= next_due < now + DUE_SOON),
                    )
                )
            return items

        items = await self.temporal(collect())
        items = await asyncio.to_thread(self._visible_to, user, items, now)
        items = await asyncio.to_thread(self._with_breaches, items, now)
        far = datetime.max.replace(tzinfo=SEOUL)
        return sorted(items, key=lambda item: (item.next_due or far, item.receipt_code))

    def _refusal(self, user: StaffUser, code: str, rule: Rule, now: datetime) -> str | None:
        """Why the user may not do `rule` on the case, or None if they may."""
        try:
            case = self.complaints.find_by_receipt(code)
        except (CaseNotFoundError, ReceiptCodeError) as error:
            return str(error)
        try:
            authorize(self.complaints.roster.current(), user.staff, rule, now, case)
        except AccessDeniedError as error:
            return str(error)
        return None

    def _visible_to(
        self, user: StaffUser, items: list[QueueItem], now: datetime
    ) -> list[QueueItem]:
        show = PERMISSIONS["show"]
        return [item for item in items if self._refusal(user, item.receipt_code, show, now) is None]

    def _with_breaches(self, items: list[QueueItem], now: datetime) -> list[QueueItem]:
        """Open cases whose every clock is breached have no next due in visibility.

        A breach closes the commitment, so `MinwonNextDue` is unset just when the
        case is most urgent; such a case is read from the store and shown overdue,
        at the deadline it missed.
        """
        enriched = []
        for item in items:
            if item.next_due is None and item.status in ("received", "assigned"):
                try:
                    case = self.complaints.find_by_receipt(item.receipt_code)
                except (CaseNotFoundError, ReceiptCodeError):
                    enriched.append(item)
                    continue
                missed = [
                    c.due
                    for c in case.commitments.values()
                    if c.status == "breached" and c.met_at is None
                ]
                if missed:
                    item = item.model_copy(update={"next_due": min(missed), "overdue": True})
            enriched.append(item)
        return enriched

    async def queue(self, user: StaffUser) -> list[QueueItem]:
        """The user's open cases, and for the officer and director the escalated ones."""
        staff = _quoted(user.staff)
        base = "WorkflowType = 'ComplaintWorkflow' AND ExecutionStatus = 'Running'"
        mine = await self._listed(
            f"{base} AND MinwonAssignee = '{staff}' "
            "AND MinwonStatus IN ('received', 'assigned', 'answered')",
            user,
        )
        if not user.supervises:
            return mine
        escalated = await self._listed(
            f"{base} AND MinwonEscalated = true AND MinwonStatus IN ('received', 'assigned')",
            user,
        )
        seen = {item.receipt_code for item in mine}
        far = datetime.max.replace(tzinfo=SEOUL)
        merged = mine + [item for item in escalated if item.receipt_code not in seen]
        return sorted(merged, key=lambda item: (item.next_due or far, item.receipt_code))

    def _require_ops(self, user: StaffUser) -> None:
        if not user.roles & Escalate.rule.roles:
            raise forbidden(f"{user.staff} holds no ops, designated officer or director role today")

    async def ops_overview(self, user: StaffUser) -> OpsOverview:
        self._require_ops(user)
        now = self.clock()
        base = (
            "WorkflowType = 'ComplaintWorkflow' AND ExecutionStatus = 'Running' "
            "AND MinwonStatus IN ('received', 'assigned')"
        )
        # Breached clocks are no longer open, so a case past every deadline has no
        # next due at all: both kinds are listed, and the store tells them apart.
        candidates = await self._listed(
            f"{base} AND (MinwonNextDue < '{now.astimezone(UTC).isoformat()}' "
            "OR MinwonNextDue IS NULL)",
            user,
        )
        overdue = [item for item in candidates if item.overdue]
        escalated = await self._listed(f"{base} AND MinwonEscalated = true", user)
        return OpsOverview(now=now, overdue=overdue, escalated=escalated)

    async def escalate_in_bulk(self, user: StaffUser, form: BulkEscalation) -> BulkResult:
        """Every open case matching the filter, each through its own update (ops)."""
        self._require_ops(user)
        if not (form.overdue or form.category or form.assignee):
            raise invalid(
                [
                    FieldProblem(
                        location="body",
                        message="choose which cases: overdue, a category or an assignee",
                    )
                ]
            )
        case_filter = CaseFilter(
            overdue=form.overdue, category=form.category, assignee=form.assignee
        )
        now = self.clock()

        async def refusal(code: str) -> str | None:
            return await asyncio.to_thread(self._refusal, user, code, Escalate.rule, now)

        outcomes = await self.temporal(
            escalate_matching(self.client, case_filter, form.reason, user.staff, now, refusal)
        )
        log.info("bulk_escalation_sent", staff=user.staff, matched=len(outcomes))
        return BulkResult(
            matched=len(outcomes),
            escalated=sum(1 for o in outcomes if o.error is None),
            outcomes=[
                BulkOutcomeOut(
                    workflow_id=o.workflow_id,
                    receipt_code=o.receipt_code,
                    escalated=o.error is None,
                    error=o.error,
                )
                for o in outcomes
            ],
        )


def _quoted(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
        raise Problem(400, "bad-staff-id", "Bad staff id", f"not a staff id: {value!r}")
    return value


def history_entries(domain_events: Iterable[Any], personal_shown: bool) -> list[HistoryEntry]:
    """The case's events as the desk lists them; who did each and what is masked are
    decided as the audit decides them (`domain.disclosure`)."""
    entries = []
    previous: tuple[str | None, str] = (None, "")
    for domain_event in domain_events:
        name = type(domain_event).__name__
        actor = actor_of(domain_event, name, previous)
        command_id = getattr(domain_event, "command_id", None)
        previous = (command_id if isinstance(command_id, str) else None, actor)
        personal = () if personal_shown else personal_fields(domain_event)
        details: dict[str, Any] = {}
        for key, value in vars(domain_event).items():
            if key in _NOT_DETAILS or is_meta(key) or (name == "Received" and key == "received_at"):
                continue
            if key in personal:
                value = masked(key, value)
            elif isinstance(value, uuid.UUID):
                value = str(value)
            details[key] = value
        entries.append(
            HistoryEntry(
                version=domain_event.originator_version,
                moment=to_seoul(event_moment(domain_event)),
                event=name,
                actor=actor,
                details=details,
            )
        )
    return entries


def _not_upheld(claim: Claim, title: str) -> str:
    """Why a late-reply complaint was received as an opinion, for the resident."""
    return (
        f" 지정하신 민원은 처리기한 안에 답변되었고 만족도도 낮게 평가되지 않아, "
        f"'{title}'(으)로 접수하였습니다. ({claim.reason})"
    )


def _promise(rule: CommitmentRule) -> str:
    """A commitment as residents read it: 답변 7일 (근무일 기준)."""
    label = COMMITMENT_LABELS.get(rule.kind, rule.kind)
    if rule.days is None:
        return f"{label}: 약속한 시각까지"
    counted = "근무일" if rule.counting == "business" else "달력일"
    return f"{label}: {rule.days}일 이내 ({counted} 기준)"
