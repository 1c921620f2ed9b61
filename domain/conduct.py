"""The center's record of its staff's conduct: telephone monitoring and awards.

서비스 개선 가. (전화 모니터링): an evaluator listens to or makes a call and scores the
staff member who answered against the charter's telephone standard (이용자를 맞이하는
자세 나.①–③); a low score can lead to a corrective action (주의 warning, 교육
training). 나. (모범직원포상): the director records an award, with the evidence it was
given on (the staff member's ratings and monitoring scores of the year, as the read
models had them).

Each monitoring call and each award is an aggregate of its own, hash-chained like a
case. What the evaluator and the director write about a staff member is that staff
member's personal data: it is sealed under their own key (person `staff:<id>`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import event
from eventsourcing.persistence import IntegrityError
from pydantic import AwareDatetime, Field

from domain.access import DIRECTOR, OFFICER, Rule
from domain.calendar import to_seoul
from domain.chain import GENESIS
from domain.chained import ChainedAggregate
from domain.commands import RequestCommand, ShortText, StaffId, rule_of
from domain.roster import RosterReader

CONDUCT_NAMESPACE = uuid.UUID("2b7e51c9-4d0a-4c3f-8e61-95f0a7d3c2e4")

# The charter's telephone standard, one item per promise (이용자를 맞이하는 자세 나.).
CHECKLIST: dict[str, str] = {
    "answered_by_third_ring": "벨이 세 번 울리기 전에 받음 (나.①)",
    "greeting": "기관명과 자신의 이름을 밝힘 (나.①)",
    "courtesy": "상냥하고 정중한 태도 (나.①)",
    "handled": "직접 답변, 담당자 연결 또는 회신 약속 (나.②③)",
    "callback_kept": "약속한 시간 안에 회신 (나.③)",
}
# Scored only when the call promised a callback.
IF_PROMISED = frozenset({"callback_kept"})
SCORE_RANGE = (1, 5)
CORRECTIVE_ACTIONS = ("warning", "training")


class ConductError(ValueError):
    """A conduct record refused by its rules; nothing was recorded."""


def staff_person(staff: str) -> str:
    """The key a staff member's evaluations are sealed under."""
    return f"staff:{staff}"


def overall(scores: dict[str, int | None]) -> float:
    """The call's score: the mean of the items scored, to two places."""
    given = [score for score in scores.values() if score is not None]
    return round(sum(given) / len(given), 2)


class MonitoringCall(ChainedAggregate):
    """One monitored call to a staff member, and what followed it."""

    @staticmethod
    def create_id(request_id: str) -> uuid.UUID:
        return uuid.uuid5(CONDUCT_NAMESPACE, f"monitoring:{request_id}")

    @classmethod
    def record(
        cls,
        *,
        request_id: str,
        staff: str,
        evaluator: str,
        called_at: datetime,
        scores: dict[str, int | None],
        note: str,
        low_below: float,
        at: datetime,
    ) -> MonitoringCall:
        if staff == evaluator:
            raise ConductError(f"{evaluator} may not evaluate their own calls")
        if called_at > at:
            raise ConductError("the call is in the future: record a call once it was made")
        unknown = sorted(set(scores) - set(CHECKLIST))
        missing = sorted(set(CHECKLIST) - set(scores) - IF_PROMISED)
        if unknown or missing:
            raise ConductError(
                f"the checklist is {', '.join(CHECKLIST)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
        low, high = SCORE_RANGE
        for item, given in scores.items():
            if given is None and item not in IF_PROMISED:
                raise ConductError(f"{item} must be scored ({low}–{high})")
            if given is not None and not low <= given <= high:
                raise ConductError(f"{item}: a score is {low}–{high}, not {given}")
        checked = {item: scores.get(item) for item in CHECKLIST}
        score = overall(checked)
        return cls(
            request_id=request_id,
            staff=staff,
            evaluator=evaluator,
            called_at=to_seoul(called_at),
            scores=checked,
            score=score,
            low=score < low_below,
            note=note,
            person_id=staff_person(staff),
            at=to_seoul(at),
            prev_digest=GENESIS,
        )

    @event("Recorded")
    def __init__(
        self,
        request_id: str,
        staff: str,
        evaluator: str,
        called_at: datetime,
        scores: dict[str, int | None],
        score: float,
        low: bool,
        note: str,
        person_id: str,
        at: datetime,
        prev_digest: str,
    ) -> None:
        self.staff, self.evaluator = staff, evaluator
        self.called_at = called_at
        self.scores = dict(scores)
        self.score, self.low = score, low
        self.note = note
        self.recorded_at = at
        self.corrective_action: str | None = None
        self.corrective_note = ""
        self.corrected_by: str | None = None

    def take_corrective_action(self, *, action: str, note: str, by: str, at: datetime) -> bool:
        """Record what follows a low score; False when this very action was recorded."""
        if action not in CORRECTIVE_ACTIONS:
            raise ConductError(f"a corrective action is {' or '.join(CORRECTIVE_ACTIONS)}")
        if self.corrective_action is not None:
            if (self.corrective_action, self.corrective_note) == (action, note):
                return False
            raise ConductError(
                f"this call already led to a {self.corrective_action} "
                f"(recorded by {self.corrected_by})"
            )
        if not self.low:
            raise ConductError(
                f"a corrective action follows a low score; this call scored {self.score:.2f}"
            )
        if by == self.staff:
            raise ConductError(f"{by} may not decide a corrective action about themselves")
        self._corrective_action_taken(action=action, note=note, by=by, at=to_seoul(at))
        return True

    @event("CorrectiveActionTaken")
    def _corrective_action_taken(self, action: str, note: str, by: str, at: datetime) -> None:
        self.corrective_action, self.corrective_note, self.corrected_by = action, note, by


class Award(ChainedAggregate):
    """A 모범직원포상: to whom, for what, on which evidence."""

    @staticmethod
    def create_id(request_id: str) -> uuid.UUID:
        return uuid.uuid5(CONDUCT_NAMESPACE, f"award:{request_id}")

    @classmethod
    def grant(
        cls,
        *,
        request_id: str,
        staff: str,
        title: str,
        reason: str,
        evidence: dict[str, Any],
        by: str,
        at: datetime,
    ) -> Award:
        if staff == by:
            raise ConductError(f"{by} may not give an award to themselves")
        return cls(
            request_id=request_id,
            staff=staff,
            title=title,
            reason=reason,
            evidence=dict(evidence),
            by=by,
            person_id=staff_person(staff),
            at=to_seoul(at),
            prev_digest=GENESIS,
        )

    @event("Granted")
    def __init__(
        self,
        request_id: str,
        staff: str,
        title: str,
        reason: str,
        evidence: dict[str, Any],
        by: str,
        person_id: str,
        at: datetime,
        prev_digest: str,
    ) -> None:
        self.staff, self.title, self.reason = staff, title, reason
        self.evidence = dict(evidence)
        self.by, self.granted_at = by, at


# -- the commands (one name each; who may run them is their rule) ------------------------------


Score = int | None


class RecordMonitoring(RequestCommand):
    name: ClassVar[str] = "record_monitoring"
    doc: ClassVar[str] = "record a monitored call and its checklist scores (전화 모니터링)"
    # The designated officer and the director evaluate; never oneself (MonitoringCall).
    rule: ClassVar[Rule] = rule_of("record_monitoring", OFFICER, DIRECTOR)
    staff: StaffId = Field(description="who answered the call")
    called_at: AwareDatetime = Field(description="when the call was made")
    answered_by_third_ring: int = Field(ge=1, le=5, description=CHECKLIST["answered_by_third_ring"])
    greeting: int = Field(ge=1, le=5, description=CHECKLIST["greeting"])
    courtesy: int = Field(ge=1, le=5, description=CHECKLIST["courtesy"])
    handled: int = Field(ge=1, le=5, description=CHECKLIST["handled"])
    callback_kept: int | None = Field(
        default=None, ge=1, le=5, description=CHECKLIST["callback_kept"] + " (if promised)"
    )
    note: ShortText | None = Field(default=None, description="what the evaluator noticed")

    def scores(self) -> dict[str, int | None]:
        return {item: getattr(self, item) for item in CHECKLIST}


class TakeCorrectiveAction(RequestCommand):
    name: ClassVar[str] = "monitoring_corrective_action"
    doc: ClassVar[str] = "record the corrective action a low monitoring score led to"
    rule: ClassVar[Rule] = rule_of("monitoring_corrective_action", OFFICER, DIRECTOR)
    action: Literal["warning", "training"]
    note: ShortText | None = Field(default=None, description="what was decided, and why")


class GrantAward(RequestCommand):
    name: ClassVar[str] = "grant_award"
    doc: ClassVar[str] = "record a 모범직원포상, with the evidence of the year"
    # The director alone gives awards (서비스 개선 나.).
    rule: ClassVar[Rule] = rule_of("grant_award", DIRECTOR)
    staff: StaffId
    title: ShortText = Field(description="the award, e.g. 2026년 모범직원포상")
    reason: ShortText = Field(description="why: the conduct it recognises")


CONDUCT_COMMANDS: dict[str, type[RequestCommand]] = {
    model.name: model for model in (RecordMonitoring, TakeCorrectiveAction, GrantAward)
}


@dataclass(frozen=True)
class Evidence:
    """What an award was given on: the staff member's year, as the read models had it."""

    year: int
    ratings: int
    rating_average: float | None
    commendations: int
    monitoring_calls: int
    monitoring_average: float | None

    def as_record(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "ratings": self.ratings,
            "rating_average": self.rating_average,
            "commendations": self.commendations,
            "monitoring_calls": self.monitoring_calls,
            "monitoring_average": self.monitoring_average,
        }


# -- the record, in the event store --------------------------------------------------------------

CONFLICT_RETRIES = 5


class ConductRecord:
    """Monitoring calls and awards, stored with the cases (and their chains and keys)."""

    def __init__(self, app: Application[uuid.UUID], roster: RosterReader, low_below: float):
        self._app = app
        self._roster = roster
        self.low_below = low_below

    def _on_staff(self, staff: str) -> None:
        if self._roster.staff(staff) is None:
            raise ConductError(f"{staff!r} is not in the staff directory")

    def _created(self, aggregate: ChainedAggregate) -> tuple[Any, bool]:
        """Store a new record; the one stored before under its id if it is a retry."""
        try:
            self._app.save(aggregate)
        except IntegrityError:
            return self._app.repository.get(aggregate.id), False
        return aggregate, True

    def _existing(self, aggregate_id: uuid.UUID) -> Any | None:
        try:
            return self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def record_monitoring(
        self, command: RecordMonitoring, evaluator: str, at: datetime
    ) -> tuple[MonitoringCall, bool]:
        """The call recorded (False: this request was recorded before)."""
        found = self._existing(MonitoringCall.create_id(command.request_id))
        if found is not None:
            return found, False
        self._on_staff(command.staff)
        call = MonitoringCall.record(
            request_id=command.request_id,
            staff=command.staff,
            evaluator=evaluator,
            called_at=command.called_at,
            scores=command.scores(),
            note=command.note or "",
            low_below=self.low_below,
            at=at,
        )
        return self._created(call)

    def call(self, call_id: uuid.UUID) -> MonitoringCall:
        found = self._existing(call_id)
        if not isinstance(found, MonitoringCall):
            raise ConductNotFoundError(f"no monitoring call {call_id}")
        return found

    def take_corrective_action(
        self, call_id: uuid.UUID, command: TakeCorrectiveAction, by: str, at: datetime
    ) -> tuple[MonitoringCall, bool]:
        for _ in range(CONFLICT_RETRIES):
            call = self.call(call_id)
            changed = call.take_corrective_action(
                action=command.action, note=command.note or "", by=by, at=at
            )
            if not changed:
                return call, False
            try:
                self._app.save(call)
            except IntegrityError:
                continue  # recorded meanwhile: decide again on the fresh record
            return call, True
        raise IntegrityError("the monitoring call kept changing under the command")

    def grant_award(
        self, command: GrantAward, evidence: Evidence, by: str, at: datetime
    ) -> tuple[Award, bool]:
        found = self._existing(Award.create_id(command.request_id))
        if found is not None:
            return found, False
        self._on_staff(command.staff)
        award = Award.grant(
            request_id=command.request_id,
            staff=command.staff,
            title=command.title,
            reason=command.reason,
            evidence=evidence.as_record(),
            by=by,
            at=at,
        )
        return self._created(award)

    def award(self, award_id: uuid.UUID) -> Award:
        found = self._existing(award_id)
        if not isinstance(found, Award):
            raise ConductNotFoundError(f"no award {award_id}")
        return found


class ConductNotFoundError(LookupError):
    pass
