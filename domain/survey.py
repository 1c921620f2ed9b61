"""The yearly satisfaction survey (이용자 만족도조사, 서비스 개선 다.): held at least once a
year, its results taken into account.

- `SurveyRound` (one per year): started on the policy's day with the questions
  and who was invited, closed after the policy's days; the improvements decided
  from its results are recorded on it, and the next year's report shows them.
- `SurveyInvitation` (one per resident and year): the resident's contact (sealed
  under their key, like their cases), the category of their latest closed case,
  the notice sent with their single-use link (or that it could not be sent: a contact
  no channel can use), and their answers (the free text sealed). A link answers once.
- `SurveyRefusal` (one per resident): a resident who asked not to be contacted for
  surveys is never invited again.

The questions are the charter's promises, each scored 1–5.
"""

from __future__ import annotations

import contextlib
import hmac
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, ClassVar, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import event
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic
from pydantic import BaseModel, ConfigDict, Field

from domain.access import DIRECTOR, OFFICER, OPS, STAFF, Rule
from domain.calendar import to_seoul
from domain.chain import GENESIS
from domain.chained import ChainedAggregate
from domain.commands import RecordCommand, ShortText, Text, rule_of
from domain.complaint import Complaint
from domain.contact import contact_channel

if TYPE_CHECKING:
    from application.service import Complaints

SURVEY_NAMESPACE = uuid.UUID("5e0b8f3a-7c21-4d6e-9b14-2a8f6c0d1e73")

# One question per promise of the charter, as residents read them.
QUESTIONS: dict[str, str] = {
    "welcome": "방문하셨을 때 직원이 친절하게 맞이하고 안내했습니까?",
    "phone": "전화를 빨리 받고 친절하게 응대했습니까?",
    "reply_on_time": "요청하신 일에 약속한 기한 안에 답변을 드렸습니까?",
    "visit_promise": "방문 약속(시간, 담당자)을 미리 정하고 지켰습니까?",
    "correction": "불편이나 잘못을 말씀하셨을 때 바로잡고 알려드렸습니까?",
    "overall": "우리 복지관의 서비스에 전반적으로 만족하십니까?",
}
SCORES = range(1, 6)


class SurveyError(ValueError):
    """Refused by the survey's rules; nothing was recorded."""


def round_id(year: int) -> uuid.UUID:
    return uuid.uuid5(SURVEY_NAMESPACE, f"round:{year}")


def invitation_id(year: int, person_id: str) -> uuid.UUID:
    return uuid.uuid5(SURVEY_NAMESPACE, f"invitation:{year}:{person_id}")


def refusal_id(person_id: str) -> uuid.UUID:
    return uuid.uuid5(SURVEY_NAMESPACE, f"refusal:{person_id}")


class SurveyRound(ChainedAggregate):
    """One year's survey: when it ran, whom it asked, what was decided after it."""

    @classmethod
    def start(
        cls,
        *,
        year: int,
        opens_at: datetime,
        closes_at: datetime,
        invitations: list[str],
        by: str,
        at: datetime,
    ) -> SurveyRound:
        if closes_at <= opens_at:
            raise SurveyError("a survey closes after it opens")
        return cls(
            year=year,
            questions=dict(QUESTIONS),
            opens_at=to_seoul(opens_at),
            closes_at=to_seoul(closes_at),
            invitations=list(invitations),
            by=by,
            at=to_seoul(at),
            prev_digest=GENESIS,
        )

    @staticmethod
    def create_id(year: int) -> uuid.UUID:
        return round_id(year)

    @event("Started")
    def __init__(
        self,
        year: int,
        questions: dict[str, str],
        opens_at: datetime,
        closes_at: datetime,
        invitations: list[str],
        by: str,
        at: datetime,
        prev_digest: str,
    ) -> None:
        self.year = year
        self.questions = dict(questions)
        self.opens_at, self.closes_at = opens_at, closes_at
        self.invitations = list(invitations)
        self.started_by = by
        self.closed_at: datetime | None = None
        self.improvements: list[dict[str, object]] = []

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def close(self, at: datetime) -> bool:
        if self.closed_at is not None:
            return False
        self._closed(at=to_seoul(at))
        return True

    @event("Closed")
    def _closed(self, at: datetime) -> None:
        self.closed_at = at

    def record_improvement(self, *, text: str, by: str, at: datetime) -> None:
        """결과를 반영: what the center decided to change from this year's results."""
        self._improvement_recorded(text=text, by=by, at=to_seoul(at))

    @event("ImprovementRecorded")
    def _improvement_recorded(self, text: str, by: str, at: datetime) -> None:
        self.improvements.append({"text": text, "by": by, "at": at})


class SurveyInvitation(ChainedAggregate):
    """One resident's invitation to a year's survey, and their answers."""

    @classmethod
    def invite(
        cls,
        *,
        year: int,
        person_id: str,
        contact: str,
        category: str,
        closes_at: datetime,
        at: datetime,
    ) -> SurveyInvitation:
        return cls(
            year=year,
            person_id=person_id,
            contact=contact,
            category=category,
            closes_at=to_seoul(closes_at),
            at=to_seoul(at),
            prev_digest=GENESIS,
        )

    @staticmethod
    def create_id(year: int, person_id: str) -> uuid.UUID:
        return invitation_id(year, person_id)

    @event("Invited")
    def __init__(
        self,
        year: int,
        person_id: str,
        contact: str,
        category: str,
        closes_at: datetime,
        at: datetime,
        prev_digest: str,
    ) -> None:
        self.year, self.person_id = year, person_id
        self.contact, self.category = contact, category
        self.closes_at = closes_at
        self.invited_at = at
        self.sent_at: datetime | None = None
        self.undeliverable_at: datetime | None = None
        self.answered_at: datetime | None = None
        self.scores: dict[str, int] = {}
        self.comment = ""
        self.refused = False

    @property
    def unsent(self) -> bool:
        """Still to go out: neither sent, nor recorded undeliverable, nor answered."""
        return self.sent_at is None and self.undeliverable_at is None and self.answered_at is None

    def record_sent(self, *, channel: str, at: datetime) -> bool:
        if self.sent_at is not None:
            return False
        self._sent(channel=channel, at=to_seoul(at))
        return True

    @event("Sent")
    def _sent(self, channel: str, at: datetime) -> None:
        self.sent_at = at

    def record_undeliverable(self, *, at: datetime) -> bool:
        """The invitation can never go out (no channel takes the contact, or the mail
        server refuses the address for good): recorded once, so the report counts who
        could not be asked. Why is in the worker's log (`notice_undeliverable`, a code)."""
        if self.sent_at is not None or self.undeliverable_at is not None:
            return False
        self._undeliverable(at=to_seoul(at))
        return True

    @event("Undeliverable")
    def _undeliverable(self, at: datetime) -> None:
        self.undeliverable_at = at

    def check_open(self, at: datetime) -> None:
        if self.answered_at is not None:
            raise SurveyError("이 설문에는 이미 응답하셨습니다 (a link answers once)")
        if to_seoul(at) >= self.closes_at:
            raise SurveyError("설문 기간이 끝났습니다 (the survey has closed)")

    def answer(self, *, scores: dict[str, int], comment: str, at: datetime) -> None:
        self.check_open(at)
        unknown = sorted(set(scores) - set(QUESTIONS))
        missing = sorted(set(QUESTIONS) - set(scores))
        if unknown or missing:
            raise SurveyError(f"every question is answered once (missing {missing}, {unknown})")
        if any(score not in SCORES for score in scores.values()):
            raise SurveyError("each answer is a score from 1 to 5")
        self._answered(scores=dict(scores), comment=comment, at=to_seoul(at))

    @event("Answered")
    def _answered(self, scores: dict[str, int], comment: str, at: datetime) -> None:
        self.scores, self.comment, self.answered_at = dict(scores), comment, at


class SurveyRefusal(ChainedAggregate):
    """A resident asked not to be contacted for surveys (through a survey link, or by
    telling staff)."""

    @staticmethod
    def create_id(person_id: str) -> uuid.UUID:
        return refusal_id(person_id)

    @classmethod
    def record(cls, *, person_id: str, via: str, by: str, at: datetime) -> SurveyRefusal:
        return cls(person_id=person_id, via=via, by=by, at=to_seoul(at), prev_digest=GENESIS)

    @event("Recorded")
    def __init__(self, person_id: str, via: str, by: str, at: datetime, prev_digest: str) -> None:
        self.person_id, self.via, self.by, self.at = person_id, via, by, at


class SurveyOverdue(ChainedAggregate):
    """No survey had started by the policy's day in a year: who was warned, when."""

    @staticmethod
    def create_id(year: int) -> uuid.UUID:
        return uuid.uuid5(SURVEY_NAMESPACE, f"overdue:{year}")

    @classmethod
    def record(cls, *, year: int, warned: list[str], at: datetime) -> SurveyOverdue:
        return cls(year=year, warned=list(warned), at=to_seoul(at), prev_digest=GENESIS)

    @event("Warned")
    def __init__(self, year: int, warned: list[str], at: datetime, prev_digest: str) -> None:
        self.year, self.warned, self.at = year, list(warned), at


# -- the commands (one name each; who may run them is their rule) ------------------------------


class StartSurvey(RecordCommand):
    name: ClassVar[str] = "start_survey"
    doc: ClassVar[str] = "start this year's survey now (the schedule does it on the policy's day)"
    rule: ClassVar[Rule] = rule_of("start_survey", OPS, DIRECTOR)
    year: int | None = Field(default=None, ge=2000, le=9999)


class RecordImprovement(RecordCommand):
    name: ClassVar[str] = "record_improvement"
    doc: ClassVar[str] = "record an improvement decided from a year's results (결과를 반영)"
    rule: ClassVar[Rule] = rule_of("record_improvement", DIRECTOR, OFFICER)
    year: int = Field(ge=2000, le=9999)
    text: ShortText


class RecordSurveyRefusal(RecordCommand):
    name: ClassVar[str] = "refuse_survey"
    doc: ClassVar[str] = "record that a case's resident does not want survey contact"
    rule: ClassVar[Rule] = rule_of("refuse_survey", STAFF)
    receipt_code: str


class SurveyAnswer(BaseModel):
    """What the survey page sends: a score per question, and free text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scores: dict[str, int]
    comment: Text | None = None
    refuse_contact: bool = False


SURVEY_COMMANDS: dict[str, type[RecordCommand]] = {
    model.name: model for model in (StartSurvey, RecordImprovement, RecordSurveyRefusal)
}


def day_in(year: int, month_day: str) -> date:
    month, day = (int(part) for part in month_day.split("-"))
    return date(year, month, day)


# -- the surveys, in the event store --------------------------------------------------------


class Surveys:
    """Rounds, invitations and refusals, stored with the cases."""

    def __init__(self, app: Complaints) -> None:
        self._app = app

    def _get(self, aggregate_id: uuid.UUID, kind: type[A]) -> A | None:
        found: object = None
        with contextlib.suppress(AggregateNotFoundError):
            found = self._app.repository.get(aggregate_id)
        return found if isinstance(found, kind) else None

    def round(self, year: int) -> SurveyRound | None:
        return self._get(round_id(year), SurveyRound)

    def invitation(self, invitation: uuid.UUID) -> SurveyInvitation:
        found = self._get(invitation, SurveyInvitation)
        if found is None:
            raise SurveyNotFoundError("no such survey invitation")
        return found

    def refused(self, person_id: str) -> bool:
        return self._get(refusal_id(person_id), SurveyRefusal) is not None

    def to_send(self, invitation: SurveyInvitation) -> bool:
        """Still to go out: unsent, and its resident has not refused survey contact
        since the round began (staff may record a refusal on any day of it)."""
        return invitation.unsent and not self.refused(invitation.person_id)

    def closed_in(self, year: int) -> list[Complaint]:
        """The cases closed in `year` (Seoul) and still closed, latest first."""
        closed_topic = get_topic(Complaint.Closed)
        ids = dict.fromkeys(r.originator_id for r in self._app.notifications(topics=[closed_topic]))
        cases = [self._app.get_case(case_id) for case_id in ids]
        return sorted(
            (c for c in cases if c.status == "closed" and c.closed_at and c.closed_at.year == year),
            key=lambda c: c.closed_at or c.received_at,
            reverse=True,
        )

    def start(
        self, year: int, *, opens_at: datetime, closes_at: datetime, by: str
    ) -> SurveyRound | None:
        """Invite each resident whose case closed in `year` and who did not refuse
        contact, once (their latest closed case's category); one whose contact no
        channel can use is recorded undeliverable at once. The year's round, or None
        when there is nobody who can be asked yet: nothing is recorded then."""
        existing = self.round(year)
        if existing is not None:
            return existing
        invitations: list[SurveyInvitation] = []
        seen: set[str] = set()
        for case in self.closed_in(year):
            person = case.person_id
            if not person or person in seen:
                continue
            seen.add(person)
            if self._app.keys.is_erased(person) or self.refused(person):
                continue
            usable = contact_channel(case.contact) is not None
            invitation = SurveyInvitation.invite(
                year=year,
                person_id=person,
                # A contact no channel takes is of no use here: not copied.
                contact=case.contact if usable else "",
                category=case.category,
                closes_at=closes_at,
                at=opens_at,
            )
            if not usable:
                # Asked, but no channel takes the contact: counted as unreachable in
                # the report rather than left out of it.
                invitation.record_undeliverable(at=opens_at)
            invitations.append(invitation)
        if all(invitation.undeliverable_at for invitation in invitations):
            return None  # nobody can be reached yet: nothing is recorded
        for invitation in invitations:
            with contextlib.suppress(IntegrityError):  # invited by a start cut short
                self._app.save(invitation)
        invited = [str(invitation.id) for invitation in invitations]
        started = SurveyRound.start(
            year=year,
            opens_at=opens_at,
            closes_at=closes_at,
            invitations=invited,
            by=by,
            at=opens_at,
        )
        try:
            self._app.save(started)
        except IntegrityError:
            return self.round(year)  # started by another worker meanwhile
        return started

    def record_sent(self, invitation: uuid.UUID, channel: str, at: datetime) -> None:
        self._change(invitation, SurveyInvitation, lambda i: i.record_sent(channel=channel, at=at))

    def record_undeliverable(self, invitation: uuid.UUID, at: datetime) -> None:
        self._change(invitation, SurveyInvitation, lambda i: i.record_undeliverable(at=at))

    def answer(
        self, invitation: uuid.UUID, secret: str, answer: SurveyAnswer, at: datetime
    ) -> SurveyInvitation:
        """Record a resident's answers, once; the link's secret must be its own."""
        if not hmac.compare_digest(secret, self.link_secret(invitation)):
            raise SurveyNotFoundError("no such survey invitation")

        def answered(found: SurveyInvitation) -> bool:
            found.answer(scores=answer.scores, comment=answer.comment or "", at=at)
            return True

        done = self._change(invitation, SurveyInvitation, answered)
        if answer.refuse_contact:
            self.refuse(done.person_id, via="survey link", by="resident", at=at)
        return done

    def link_secret(self, invitation: uuid.UUID) -> str:
        """The secret of an invitation's link: derived from the installation's secret,
        so a retried notice carries the same link and nothing secret is stored."""
        return self._app.keys.derived_secret(f"survey-link:{invitation}")

    def refuse(self, person_id: str, *, via: str, by: str, at: datetime) -> bool:
        if self.refused(person_id):
            return False
        with contextlib.suppress(IntegrityError):
            self._app.save(SurveyRefusal.record(person_id=person_id, via=via, by=by, at=at))
        return True

    def warned(self, year: int) -> bool:
        return self._get(SurveyOverdue.create_id(year), SurveyOverdue) is not None

    def record_warning(self, year: int, warned: list[str], at: datetime) -> None:
        with contextlib.suppress(IntegrityError):  # recorded by a pass cut short
            self._app.save(SurveyOverdue.record(year=year, warned=warned, at=at))

    def close(self, year: int, at: datetime) -> SurveyRound:
        return self._change(round_id(year), SurveyRound, lambda r: r.close(at))

    def record_improvement(self, year: int, text: str, by: str, at: datetime) -> SurveyRound:
        if self.round(year) is None:
            raise SurveyError(f"no survey was held in {year}")

        def recorded(found: SurveyRound) -> bool:
            found.record_improvement(text=text, by=by, at=at)
            return True

        return self._change(round_id(year), SurveyRound, recorded)

    def _change(self, aggregate_id: uuid.UUID, kind: type[A], command: Callable[[A], bool]) -> A:
        for _ in range(CONFLICT_RETRIES):
            found = self._get(aggregate_id, kind)
            if found is None:
                raise SurveyNotFoundError(f"no {kind.__name__} {aggregate_id}")
            if not command(found):
                return found
            try:
                self._app.save(found)
            except IntegrityError:
                continue
            return found
        raise IntegrityError(f"{kind.__name__} {aggregate_id} kept changing under the command")


class SurveyNotFoundError(LookupError):
    pass


CONFLICT_RETRIES = 5
A = TypeVar("A", bound=ChainedAggregate)
