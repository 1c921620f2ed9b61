"""The complaint application service: load a case, run a command, save it.

Persistence comes from the environment (eventsourcing's `PERSISTENCE_MODULE`,
`SQLITE_DBNAME`, `POSTGRES_*`); the defaults give a SQLite file under `var/`.
Concurrent writers to one case meet in optimistic concurrency: the losing save
fails on the version number, and the command is run again on the fresh state.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, TypeVar, cast

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, InfrastructureFactory, IntegrityError, Mapper
from eventsourcing.utils import Environment, get_topic

from domain import credentials  # noqa: F401  (records under its old module's topic resolve)
from domain.access import Grant, authorize
from domain.access_log import AccessLog
from domain.appointment import Appointment, Appointments
from domain.calendar import (
    COUNTING_RULES,
    BusinessCalendar,
    CalendarFile,
    HourCounting,
    to_seoul,
)
from domain.calendar_record import CalendarChange, CalendarRecord
from domain.chain import BrokenLink, verify_chain
from domain.commands import Action, Run
from domain.complaint import (
    ALARMS,
    ANNOUNCEMENT,
    POOR_RATING,
    Alarm,
    Apologies,
    CaseNotes,
    CaseNotFoundError,
    CommandIds,
    Commitment,
    Complaint,
    ComplaintError,
    DueOutsideWorkingTimeError,
    Escalation,
)
from domain.conduct import ConductRecord
from domain.policy import (
    OVERRIDES_ENV,
    POLICY_ENV,
    Policy,
    load_policy,
    overrides_path,
    policy_path,
)
from domain.receipt import ReceiptIndex, new_receipt_code, normalise_receipt_code
from domain.roster import DEFAULT_ROSTER_PATH, ROSTER_ENV, RosterReader, StoredRoster
from domain.survey import Surveys
from privacy.kek import Wrapper
from privacy.keys import PersonKeys
from privacy.mapper import PersonalDataMapper
from privacy.snapshots import SealedSnapshotMapper, SnapshotNotTakenError, SnapshotStore
from privacy.sqlite import private_factory
from runtime.paths import VAR

DEFAULT_SQLITE_PATH = VAR / "minwon-events.db"

CONFLICT_RETRIES = 10
# A case is snapshotted at every SNAPSHOT_INTERVAL-th event, so its first load in a
# process reads one snapshot and fewer than this many events (decision 0009): at 25,
# the most a load replays after its snapshot (24 events) costs a third of a short
# case's whole first load.
SNAPSHOT_INTERVAL = 25
# The dataclasses a case's state holds, besides plain values, moments and sets; and
# what a snapshot holds packed, not as JSON (its command ids, notes and apologies:
# none of their items decoded by a load).
SNAPSHOT_STATE_TYPES = (Commitment, Escalation)
SNAPSHOT_PACKED_TYPES = (CommandIds, CaseNotes, Apologies)
RECEIVED_TOPIC = get_topic(Complaint.Received)
A = TypeVar("A", bound=Aggregate)

log = logging.getLogger(__name__)


# Where a period counted each way may end (`BusinessCalendar.is_period_end`).
_PERIOD_ENDS = {
    "working_days": "the end of a working day (18:00)",
    "working_hours": "inside working time (09:00–12:00, 13:00–18:00 on a working day)",
    "calendar_days": "the end of a day that is not a Saturday or a holiday (24:00)",
}


class LinkedCaseRequiredError(ComplaintError):
    """A complaint about another case's reply that does not say which case."""


@dataclass(frozen=True)
class Claim:
    """The category a complaint is filed under, and why, if not the one asked for."""

    category: str
    reason: str | None = None


@dataclass(frozen=True)
class CalendarFollowed:
    """What `Complaints.follow_calendar` found."""

    change: CalendarChange | None  # to recount: new, or left by a pass cut short
    new: bool
    started: bool  # the record begins now: every open case is looked at


@dataclass(frozen=True)
class EscalationTarget:
    """The next level up the chain and, unless it is the last, by when it must act."""

    role: str
    holder: str | None
    levels: int
    act_by: datetime | None
    act_counting: HourCounting | None


@dataclass(frozen=True)
class Intake:
    """What is known at first contact; `intake_ref` names the case for good."""

    intake_ref: str
    channel: str
    category: str
    topic: str
    private: bool
    contact: str
    text: str
    received_at: datetime
    linked_to: str | None = None


def _years_after(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February: the day after, a year that has none
        return moment.replace(year=moment.year + years, month=3, day=1)


def _mutate_in_order(aggregate: Any, domain_events: Iterable[Any]) -> Any:
    # The library's default projector checks a runtime protocol on every event,
    # which costs as much as decoding it; the store only holds our own events.
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class _Load:
    """The projector of one load of a case, counting the records it applied."""

    def __init__(self) -> None:
        self.applied = 0

    def __call__(self, aggregate: Any, domain_events: Iterable[Any]) -> Any:
        applied = 0
        for applied, domain_event in enumerate(domain_events, 1):  # noqa: B007
            aggregate = domain_event.mutate(aggregate)
        self.applied += applied
        return aggregate


def event_moment(domain_event: object) -> datetime:
    """When a fact happened in business time (the workflow's clock), else when recorded."""
    for name in ("at", "received_at"):
        value = getattr(domain_event, name, None)
        if isinstance(value, datetime):
            return value
    recorded: datetime = getattr(domain_event, "timestamp")  # noqa: B009
    return recorded


class Complaints(Application[uuid.UUID]):
    """Runs commands on Complaint aggregates; intake is idempotent by reference."""

    name = "minwon"
    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(DEFAULT_SQLITE_PATH),
        # Recently used cases stay in memory and catch up with the store's newer
        # events on each load (eventsourcing's fast-forward), so a command on a long
        # case decodes only what is new. Personal data in them follows erasure: the
        # PersonalDataErased event blanks it in memory as a replay would.
        "AGGREGATE_CACHE_MAXSIZE": "500",
    }
    # eventsourcing's snapshots, sealed under the case's person's key like its events
    # (privacy.snapshots). IS_SNAPSHOTTING_ENABLED=n turns them off.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Complaint: SNAPSHOT_INTERVAL}
    snapshotting_projectors: ClassVar[dict[type[Any], Any]] = {Complaint: _mutate_in_order}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        policy: Policy | None = None,
        calendar: BusinessCalendar | None = None,
        roster: RosterReader | None = None,
    ) -> None:
        make_default_folder(env)
        super().__init__(env)
        settings = {name: self.env.get(name) or "" for name in (POLICY_ENV, OVERRIDES_ENV)}
        source = policy_path(settings)
        self.policy = policy or load_policy(source)
        # A calendar given is fixed; else the override file's, read again when it changes.
        self._calendar_file: CalendarFile | None = None
        self._fixed_calendar = calendar
        if calendar is None:
            self._calendar_file = CalendarFile(overrides_path(self.policy, source, settings))
        # The roster lives in this store as events, seeded from the file on first use.
        self.roster: RosterReader = roster or StoredRoster(
            self, seed_file=self.env.get(ROSTER_ENV) or DEFAULT_ROSTER_PATH
        )
        self.keys = PersonKeys(self.recorder, Wrapper.from_env(self.env))
        # Monitoring calls and awards live in the same store, chained and sealed alike.
        self.conduct = ConductRecord(self, self.roster, self.policy.monitoring.low_score_below)
        self.appointments = Appointments(self)
        self.surveys = Surveys(self)
        assert isinstance(self.mapper, PersonalDataMapper)
        self.mapper.keys = self.keys
        if self.snapshots is not None:
            assert isinstance(self.snapshots.mapper, SealedSnapshotMapper)
            self.snapshots.mapper.prepare(
                self.keys, Complaint, SNAPSHOT_STATE_TYPES, SNAPSHOT_PACKED_TYPES
            )

    @property
    def calendar(self) -> BusinessCalendar:
        """The calendar deadlines are counted with now."""
        if self._calendar_file is not None:
            return self._calendar_file.current()
        assert self._fixed_calendar is not None
        return self._fixed_calendar

    def use_calendar(self, calendar: BusinessCalendar) -> None:
        """Count with `calendar` from now on (another holiday source, a test's)."""
        self._calendar_file, self._fixed_calendar = None, calendar

    @property
    def calendar_source(self) -> str:
        """Where the calendar comes from, as recorded with its changes."""
        if self._calendar_file is not None:
            return str(self._calendar_file.path)
        return "given"

    @property
    def calendar_error(self) -> str | None:
        """Why the override file was not read the last time it changed, if it was not."""
        return self._calendar_file.error if self._calendar_file is not None else None

    def construct_factory(self, env: Environment) -> InfrastructureFactory[Any]:
        # A SQLite store is a file only this user reads, overwriting what it deletes.
        return private_factory(super().construct_factory(env))

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Store aggregates' new events, each record linked to the one before it in the
        same save (the chain over stored bytes, privacy.mapper)."""
        assert isinstance(self.mapper, PersonalDataMapper)
        with self.mapper.one_save():
            return super().save(*objs, **kwargs)

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        # Personal fields are sealed per person; the key store joins once the
        # recorder (whose database it shares) exists.
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=PersonalDataMapper
        )

    def construct_snapshot_store(self) -> EventStore[uuid.UUID]:
        # The library's table (stored_snapshots; minwon_snapshots on PostgreSQL), made
        # on first use like the events' own, with each snapshot sealed whole; only a
        # case's latest is kept (SnapshotStore.put deletes the ones before it).
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        mapper = self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=SealedSnapshotMapper
        )
        return SnapshotStore(mapper, recorder)

    def take_snapshot(
        self,
        aggregate_id: uuid.UUID,
        version: int | None = None,
        projector_func: Any = _mutate_in_order,
    ) -> None:
        """eventsourcing's, which `save` calls at every SNAPSHOT_INTERVAL-th event of a
        case, with the person's key read once. A snapshot that cannot be taken is
        left out, never raised: the events are recorded by then, and a snapshot is
        only a faster way to what they give."""
        try:
            with self.keys.one_reading():
                super().take_snapshot(aggregate_id, version, projector_func)
        except Exception as error:
            _not_snapshotted(aggregate_id, version, error)

    def _snapshot(self, case: Complaint) -> None:
        """Snapshot a case just loaded, as `take_snapshot` would."""
        if self.snapshots is None:
            return
        try:
            self.snapshots.put([type(case).Snapshot.take(case)])
        except Exception as error:
            _not_snapshotted(case.id, case.version, error)

    # -- intake -------------------------------------------------------------------

    def file(self, intake: Intake) -> Complaint:
        """Receive a case and start its charter clocks; filing twice returns the first."""
        case_id = Complaint.create_id(intake.intake_ref)
        category = self.policy.category(intake.category)
        for _ in range(CONFLICT_RETRIES):
            existing = self._get_or_none(case_id)
            if existing is not None:
                return existing
            case = Complaint.receive(
                intake_ref=intake.intake_ref,
                receipt_code=new_receipt_code(),
                channel=intake.channel,
                category=intake.category,
                topic=intake.topic,
                private=intake.private,
                contact=intake.contact,
                text=intake.text,
                received_at=intake.received_at,
                apology_on_fault=category.apology_on_fault,
                apology_always=category.apology_always,
                corrective_action=category.corrective_action,
                investigated=category.investigated,
                linked_to=intake.linked_to,
                person_id=self.keys.person_id_for(intake.contact),
            )
            received_at = to_seoul(intake.received_at)
            self._start_clocks(case, intake.category, received_at, prefix=intake.intake_ref)
            if category.investigated:
                case.open_investigation(
                    by="system", at=received_at, command_id=f"{intake.intake_ref}:investigate"
                )
            role = self.policy.route(intake.category, intake.topic)
            holder = self.roster.holder(role, received_at)
            if holder is not None:
                case.assign(
                    staff=holder,
                    role=role,
                    by="system",
                    at=received_at,
                    command_id=f"{intake.intake_ref}:route",
                )
            index = ReceiptIndex(code=case.receipt_code, case_id=case.id)
            try:
                self.save(case, index)
            except IntegrityError:
                # Either the same intake won a race (found on the next pass) or
                # the receipt code collided (a new one is drawn).
                continue
            return case
        raise IntegrityError(f"could not record intake {intake.intake_ref!r}")

    def check_claim(self, category: str, about: Complaint | None, at: datetime) -> Claim:
        """A complaint about a late or careless reply (the policy's
        `linked_complaint_category`) names a case whose reply was breached, kept
        late, overdue or rated 2 or lower; otherwise it is filed as the policy's
        `linked_complaint_fallback` (an opinion), with the reason."""
        linked = self.policy.linked_complaint_category
        if category != linked:
            return Claim(category)
        if about is None:
            raise LinkedCaseRequiredError(
                f"a '{linked}' complaint names the case it is about (its receipt code)"
            )
        if about.answered_late_or_poorly(at):
            return Claim(category)
        fallback = self.policy.linked_complaint_fallback
        return Claim(
            fallback,
            f"case {about.receipt_code} was answered within its deadline and not rated "
            f"{POOR_RATING} or lower, so this is filed as '{fallback}' "
            f"({self.policy.category(fallback).title}), not as '{linked}'",
        )

    def _start_clocks(self, case: Complaint, category: str, at: datetime, prefix: str) -> None:
        """Start the category's period commitments, counted from `at` by the calendar."""
        for rule in self.policy.category(category).commitments:
            if rule.days is None:
                continue  # a promised callback starts when the message is taken
            deadline = self.calendar.due(at, rule.days, rule.counting)
            case.start_commitment(
                kind=rule.kind,
                due=deadline.due,
                rule=rule.counting,
                days=rule.days,
                warn_at=self.calendar.hours_before(
                    deadline.due, rule.warn_before_hours, rule.warn_counting
                ),
                max_extensions=rule.max_extensions,
                at=at,
                command_id=f"{prefix}:start:{rule.kind}",
                warn_hours=rule.warn_before_hours,
                warn_counting=rule.warn_counting,
                max_consented_extensions=rule.max_extensions_with_consent,
            )

    # -- commands -------------------------------------------------------------------

    def execute(
        self,
        case_id: uuid.UUID,
        command: Callable[[Complaint], None],
        loaded: Complaint | None = None,
    ) -> Complaint:
        """Run a command on the latest state; a concurrent save makes it run again.

        `loaded`, a copy the caller has just read, saves one load when nobody wrote since.
        """
        return self._retrying(
            lambda: self.get_case(case_id), command, f"case {case_id}", first=loaded
        )

    def _retrying(
        self,
        load: Callable[[], A],
        command: Callable[[A], None],
        what: str,
        first: A | None = None,
    ) -> A:
        for attempt in range(CONFLICT_RETRIES):
            aggregate = first if attempt == 0 and first is not None else load()
            command(aggregate)
            try:
                self.save(aggregate)
            except IntegrityError:
                # Writers that collided back off by different amounts, so the
                # next round does not collide again.
                time.sleep(random.uniform(0, 0.002 * 2**attempt))
                continue
            return aggregate
        raise IntegrityError(f"{what} kept changing under command")

    def perform(
        self,
        case_id: uuid.UUID,
        action: Action,
        *,
        at: datetime,
        command_id: str,
        loaded: Complaint | None = None,
        notify: bool = False,
    ) -> Complaint:
        """Run one action of the registry on the case (its typed handler), once per
        `command_id`. Who may run it is decided before, by `authorized`, whose case
        (`loaded`) saves a second load when nobody wrote since. With `notify` (an
        alarm of the case's clock), who hears of it is queued in the same save, for
        the notice outbox."""
        run = Run(service=self, at=at, command_id=command_id)
        if not notify:
            return self.execute(case_id, lambda case: action.apply(case, run), loaded=loaded)
        alarm = cast(Alarm, getattr(action, "type", ""))
        if alarm not in ALARMS:
            raise ValueError(f"'{alarm}' is not an alarm of a case's clock")

        def decide(case: Complaint) -> None:
            action.apply(case, run)
            case.queue_alarm_notices(
                alarm=alarm,
                kind=getattr(action, "kind", ""),
                at=at,
                command_id=f"{command_id}:notices",
            )

        return self.execute(case_id, decide, loaded=loaded)

    def authorized(
        self, case_id: uuid.UUID, action: Action, at: datetime
    ) -> tuple[Complaint, Grant]:
        """The case, if the action's actor may run it on the case on the day `at`."""
        case = self.get_case(case_id)
        # The roster as it stands, read once for the whole decision.
        return case, authorize(self.roster.current(), action.actor, action.rule, at, case)

    def start_callback(
        self, case: Complaint, callback_by: datetime, at: datetime, command_id: str
    ) -> None:
        """The promised callback clock of a message taken for an absent colleague."""
        rule = self.policy.category("callback").commitment("callback")
        hours = rule.warn_before_hours if rule else 0
        counting = rule.warn_counting if rule else "working"
        case.start_commitment(
            kind="callback",
            due=callback_by,
            rule="promised",
            days=None,
            warn_at=max(to_seoul(at), self.calendar.hours_before(callback_by, hours, counting)),
            max_extensions=0,
            at=at,
            command_id=f"{command_id}:callback",
            warn_hours=hours,
            warn_counting=counting,
        )

    def extension_limit(self, commitment: Commitment) -> tuple[datetime, str] | None:
        """How far an interim reply may move this commitment's due, and how that was
        counted; None for a promise with no period (a callback)."""
        if commitment.days is None or commitment.rule not in COUNTING_RULES:
            return None
        return self.calendar.extension_limit(commitment.due, commitment.days, commitment.rule)

    def warning_before(self, commitment: Commitment, due: datetime) -> datetime | None:
        """The warning ahead of a moved due, `warn_hours` before it counted as the
        commitment's warning was; None for a commitment recorded before warnings
        counted hours (its warning keeps its clock distance to the due)."""
        if commitment.warn_hours is None:
            return None
        counting: HourCounting = "working" if commitment.warn_counting == "working" else "clock"
        return self.calendar.hours_before(due, commitment.warn_hours, counting)

    def send_interim_reply(
        self,
        case: Complaint,
        *,
        kind: str,
        reason: str,
        new_due: datetime,
        by: str,
        at: datetime,
        command_id: str,
        consent: str | None = None,
    ) -> None:
        """An interim reply whose new due is counted as the law counts: within the
        original period once more, at the end of a working period."""
        commitment = case.commitments.get(kind)
        limit = self.extension_limit(commitment) if commitment is not None else None
        warn_at = None
        if commitment is not None and limit is not None:
            latest, method = limit
            new_due = to_seoul(new_due)
            if new_due <= latest and not self.calendar.is_period_end(new_due, method):
                before, after = self.calendar.period_ends_around(new_due, method)
                nearest = [end for end in (before, after) if commitment.due < end <= latest]
                raise DueOutsideWorkingTimeError(
                    f"{new_due.isoformat()} is not {_PERIOD_ENDS[method]}; nearest valid "
                    f"moment{'s' if len(nearest) > 1 else ''}: "
                    + (" or ".join(end.isoformat() for end in nearest) or "none in the limit")
                )
            warn_at = self.warning_before(commitment, new_due)
        case.send_interim_reply(
            kind=kind,
            reason=reason,
            new_due=new_due,
            by=by,
            at=at,
            command_id=command_id,
            latest=limit[0] if limit else None,
            limit_rule=limit[1] if limit else None,
            warn_at=warn_at,
            consent=consent,
        )

    def start_announcement(self, case: Complaint, at: datetime, command_id: str) -> None:
        """On closing, the clock of 결과 공지 (헌장 5) for a category that announces,
        unless the case is private or its result was announced already."""
        rule = self.policy.announcement
        category = self.policy.categories.get(case.category)
        if rule is None or category is None or not category.announce:
            return
        existing = case.commitments.get(ANNOUNCEMENT)
        if case.private or case.announcement is not None or (existing and existing.is_open):
            return
        deadline = self.calendar.due(at, rule.days, rule.counting)
        case.start_commitment(
            kind=ANNOUNCEMENT,
            due=deadline.due,
            rule=rule.counting,
            days=rule.days,
            warn_at=self.calendar.hours_before(
                deadline.due, rule.warn_before_hours, rule.warn_counting
            ),
            max_extensions=0,
            at=at,
            command_id=f"{command_id}:announcement",
            warn_hours=rule.warn_before_hours,
            warn_counting=rule.warn_counting,
        )

    def restart_clocks(self, case: Complaint, by: str, at: datetime, command_id: str) -> None:
        """A reopened case's clocks, counted from now, and its investigation again."""
        self._start_clocks(case, case.category, to_seoul(at), prefix=command_id)
        if case.investigated:
            case.open_investigation(by=by, at=at, command_id=f"{command_id}:investigate")

    # -- the calendar changing under open cases -------------------------------------

    def follow_calendar(self, at: datetime) -> CalendarFollowed:
        """Record what the calendar now changes in the days off, if anything: the
        change whose recount is due (this one, or one an earlier pass did not
        finish), whether it is new, and whether this started the record (cases
        filed before it was kept were counted by an unknown calendar)."""
        for _ in range(CONFLICT_RETRIES):
            record = self._calendar_record()
            started = record is None
            if record is None:
                record = CalendarRecord.start(self.calendar, self.calendar_source, at)
                change = None
            else:
                change = record.follow(self.calendar, self.calendar_source, at)
            try:
                self.save(record)
            except IntegrityError:
                continue  # another process recorded it first: look again
            if change is not None:
                return CalendarFollowed(change, new=True, started=False)
            pending = record.latest_change if record.needs_recount else None
            return CalendarFollowed(pending, new=False, started=started)
        raise IntegrityError("the calendar record kept changing")

    def calendar_recounted(self, number: int, at: datetime) -> None:
        """Every open case was recounted after change `number`."""
        self._retrying(
            lambda: self.repository.get(CalendarRecord.create_id()),
            lambda record: record.mark_recounted(number, at),
            "the calendar record",
        )

    def calendar_change(self, number: int) -> CalendarChange | None:
        """Change `number` of the calendar record, as recorded."""
        record = self._calendar_record()
        if record is None:
            return None
        return next((change for change in record.changes if change.number == number), None)

    def _calendar_record(self) -> CalendarRecord | None:
        try:
            record: CalendarRecord = self.repository.get(CalendarRecord.create_id())
        except AggregateNotFoundError:
            return None
        return record

    def recount_moves(self, case: Complaint) -> list[tuple[Commitment, datetime, datetime]]:
        """Each open commitment whose due the calendar now puts elsewhere: (commitment,
        new due, new warning). A period is counted again from its start; a date set
        by an interim reply stays unless it is no longer the end of a working
        period, then it moves to the next one. A due never moves earlier unless the
        policy says so (`recount_earlier`): a resident told a date keeps it."""
        calendar = self.calendar
        moves = []
        for commitment in case.open_commitments():
            if commitment.days is None or commitment.rule not in COUNTING_RULES:
                continue  # a promised callback: the time promised is the time
            method = calendar.counting_method(commitment.days, commitment.rule)
            if commitment.extensions == 0:
                due = calendar.due(commitment.started_at, commitment.days, commitment.rule).due
            elif calendar.is_period_end(commitment.due, method):
                continue
            else:
                due = calendar.period_ends_around(commitment.due, method)[1]
            if due == commitment.due or (due < commitment.due and not self.policy.recount_earlier):
                continue
            warn_at = self.warning_before(commitment, due)
            if warn_at is None:
                warn_at = due - (commitment.due - commitment.warn_at)
            moves.append((commitment, due, warn_at))
        return moves

    def recount(
        self,
        case: Complaint,
        *,
        added: dict[str, str],
        removed: dict[str, str],
        at: datetime,
        command_id: str,
    ) -> None:
        """Move each open commitment the calendar now puts elsewhere (`recount_moves`),
        naming the changed days off (`added`, `removed`) that fall in its period."""
        for commitment, due, warn_at in self.recount_moves(case):
            first = commitment.started_at.date().isoformat()
            last = max(commitment.due, due).date().isoformat()
            case.reschedule(
                kind=commitment.kind,
                new_due=due,
                warn_at=warn_at,
                added={d: r for d, r in added.items() if first <= d <= last},
                removed={d: r for d, r in removed.items() if first <= d <= last},
                at=at,
                command_id=f"{command_id}:{commitment.kind}",
            )

    def escalation_target(self, case: Complaint, at: datetime) -> EscalationTarget:
        """The next role up the policy's chain, its holder on the day, the chain's
        length, and by when that level must act before the next one takes over."""
        chain = self.policy.escalation.chain
        level = chain[min(len(case.escalations), len(chain) - 1)]
        act_by = None
        if level.act_within_hours is not None:
            act_by = self.calendar.hours_after(at, level.act_within_hours, level.act_counting)
        return EscalationTarget(
            role=level.role,
            holder=self.roster.holder(level.role, at),
            levels=len(chain),
            act_by=act_by,
            act_counting=level.act_counting if act_by is not None else None,
        )

    # -- personal data ------------------------------------------------------------

    def erase_person(
        self, person_id: str, *, reason: str, by: str, at: datetime
    ) -> list[uuid.UUID]:
        """Destroy a person's personal data: every case records the erasure, then the
        key goes. Cases still replay and verify; their personal fields read `[erased]`.
        Running it again finishes an erasure that was interrupted."""
        cases = self.keys.cases_of(person_id)
        for case_id in cases:
            self.execute(
                case_id,
                lambda case: case.record_erasure(
                    reason=reason, by=by, at=at, command_id=f"erase:{person_id}"
                ),
            )
        self.keys.erase(person_id, reason)
        return cases

    def expired_persons(self, now: datetime) -> list[str]:
        """Persons all of whose cases ended longer ago than the policy keeps personal data."""
        years = self.policy.retention.personal_data_years_after_close
        expired = []
        for person in self.keys.persons():
            ends = [self.get_case(case_id).closed_at for case_id in self.keys.cases_of(person)]
            if ends and all(end is not None and _years_after(end, years) <= now for end in ends):
                expired.append(person)
        return expired

    def person_of_case(self, case_id: uuid.UUID) -> str:
        person = self.keys.person_of(case_id)
        if person is None:
            raise CaseNotFoundError(f"no person is recorded for case {case_id}")
        return person

    # -- the access log -------------------------------------------------------------

    def log_access(
        self, *, actor: str, at: datetime, origin: str, case: Complaint, action: str
    ) -> None:
        """One entry per read of a person's data: who, when, from where, whose, what."""
        reads = [(case.person_id or f"case-{case.id}", str(case.id))]
        self._log_reads(actor=actor, at=at, origin=origin, reads=reads, action=action)

    def log_appointment_access(
        self,
        *,
        actor: str,
        at: datetime,
        origin: str,
        appointments: Sequence[Appointment],
        action: str,
    ) -> None:
        """One entry per appointment whose sealed details (purpose, contact, address)
        were shown, all of one showing (a list) written together; the entry names the
        appointment where a case read names the case."""
        reads = [(a.person_id, f"appointment-{a.id}") for a in appointments]
        self._log_reads(actor=actor, at=at, origin=origin, reads=reads, action=action)

    def _log_reads(
        self,
        *,
        actor: str,
        at: datetime,
        origin: str,
        reads: Sequence[tuple[str, str]],
        action: str,
    ) -> None:
        """The entries of one showing, (person, record) each, in one save of the day's log."""
        if not reads:
            return
        day = to_seoul(at).date()

        def load() -> AccessLog:
            try:
                log: AccessLog = self.repository.get(AccessLog.create_id(day.isoformat()))
            except AggregateNotFoundError:
                return AccessLog.open_day(day)
            return log

        def record(log: AccessLog) -> None:
            for person_id, record_id in reads:
                log.record(
                    actor=actor,
                    at=at,
                    origin=origin,
                    person_id=person_id,
                    case_id=record_id,
                    action=action,
                )

        self._retrying(load, record, f"access log of {day}")

    def open_access_log_day(self, at: datetime, back: int = 31) -> None:
        """Open the day's access log if no read opened it, and those of the days before
        it back to the last one opened (at most `back`): every day has its log, so a
        day missing from the store is one taken out of it, not a day without reads."""
        day = to_seoul(at).date()
        missing = []
        for _ in range(back):
            try:
                self.repository.get(AccessLog.create_id(day.isoformat()))
                break
            except AggregateNotFoundError:
                missing.append(day)
                day -= timedelta(days=1)
        for day in reversed(missing):
            with contextlib.suppress(IntegrityError):  # opened by a read meanwhile
                self.save(AccessLog.open_day(day))

    def access_entries(
        self, *, since: date, until: date, person: str | None = None, actor: str | None = None
    ) -> list[dict[str, str]]:
        entries = []
        day = since
        while day <= until:
            try:
                log: AccessLog = self.repository.get(AccessLog.create_id(day.isoformat()))
            except AggregateNotFoundError:
                pass
            else:
                entries += [
                    e
                    for e in log.entries
                    if (person is None or e["person_id"] == person)
                    and (actor is None or e["actor"] == actor)
                ]
            day += timedelta(days=1)
        return entries

    def verify_access_log(self, day: date) -> BrokenLink | None:
        return verify_chain(self._decoded(AccessLog.create_id(day.isoformat())))

    # -- reading ----------------------------------------------------------------------

    def _get_or_none(self, case_id: uuid.UUID) -> Complaint | None:
        try:
            with self.keys.one_reading():
                case: Complaint = self.repository.get(case_id)
        except AggregateNotFoundError:
            return None
        return case

    def get_case(self, case_id: uuid.UUID, version: int | None = None) -> Complaint:
        load = _Load()
        try:
            with self.keys.one_reading():
                case: Complaint = self.repository.get(case_id, version=version, projector_func=load)
        except AggregateNotFoundError:
            raise CaseNotFoundError(f"no case {case_id}") from None
        if version is None and load.applied > SNAPSHOT_INTERVAL:
            # Read from far behind its latest snapshot (a case recorded before there
            # were snapshots, or whose snapshot was passed over): the next process
            # to load it starts from here.
            self._snapshot(case)
        return case

    def case_id_for_receipt(self, code: str) -> uuid.UUID:
        code = normalise_receipt_code(code)
        try:
            index: ReceiptIndex = self.repository.get(ReceiptIndex.create_id(code))
        except AggregateNotFoundError:
            raise CaseNotFoundError(f"no case with receipt code {code}") from None
        return index.case_id

    def find_by_receipt(self, code: str) -> Complaint:
        return self.get_case(self.case_id_for_receipt(code))

    def notifications(
        self, after: int = 0, topics: Sequence[str] = (), page: int = 500
    ) -> Iterator[Any]:
        """Every stored record after notification `after` (of `topics`, if given), in
        notification order, read a page at a time."""
        start = after + 1
        while True:
            found = self.recorder.select_notifications(start, page, topics=topics)
            yield from found
            if len(found) < page:
                return
            start = found[-1].id + 1

    def open_cases(self, page: int = 500) -> Iterator[Complaint]:
        """Every case with a clock running, in the order they were received: neither
        closed nor withdrawn, or closed with its announcement's clock running."""
        for notification in self.notifications(topics=[RECEIVED_TOPIC], page=page):
            case = self.get_case(uuid.UUID(str(notification.originator_id)))
            if case.has_running_clock:
                yield case

    def history(self, case_id: uuid.UUID) -> list[Any]:
        with self.keys.one_reading():
            return list(self.events.get(case_id))

    def waiting_notices(self, case: Complaint) -> list[Complaint.NoticeQueued]:
        """The notices the case's clock queued that the outbox has neither delivered nor
        given up yet (their `NoticeSent` or `NoticeFailed` carries the notice's id as
        its command id), in the order they were queued."""
        return [
            event
            for event in self.history(case.id)
            if isinstance(event, Complaint.NoticeQueued) and event.notice_id not in case.command_ids
        ]

    def as_of(self, case_id: uuid.UUID, moment: datetime) -> Complaint:
        """The case as it stood at `moment` (business time, any offset)."""
        moment = to_seoul(moment)
        version = 0
        for domain_event in self.history(case_id):
            if event_moment(domain_event) > moment:
                break
            version = domain_event.originator_version
        if version == 0:
            raise CaseNotFoundError(f"case {case_id} did not exist at {moment.isoformat()}")
        return self.get_case(case_id, version=version)

    def verify(self, case_id: uuid.UUID) -> BrokenLink | None:
        """Recompute the case's hash chain from the stored records."""
        # An empty chain checks out trivially; a wiped case must not read as intact.
        if not self.recorder.select_events(case_id, limit=1):
            raise CaseNotFoundError(f"no case {case_id}")
        with self.keys.one_reading():
            return verify_chain(self.chain_links(case_id))

    def chain_links(self, case_id: uuid.UUID) -> Iterator[object]:
        """Each stored record's link in the case's chain, read without building events."""
        assert isinstance(self.mapper, PersonalDataMapper)
        to_link = self.mapper.to_chain_link
        for record in self.recorder.select_events(case_id):
            try:
                yield to_link(record)
            except Exception as error:  # a tampered record may fail in any way
                yield _Undecodable(record.originator_version, f"{type(error).__name__}: {error}")

    def _decoded(self, case_id: uuid.UUID) -> Iterator[object]:
        for record in self.recorder.select_events(case_id):
            try:
                yield self.mapper.to_domain_event(record)
            except Exception as error:  # a tampered record may fail in any way
                yield _Undecodable(record.originator_version, f"{type(error).__name__}: {error}")


def store_settings(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The store's settings as eventsourcing reads them for `Complaints`: the class's
    defaults, then the process environment, then `env` (the library's own merge)."""
    unbuilt = object.__new__(Complaints)
    return dict(unbuilt.construct_env(Complaints.name, dict(env) if env is not None else None))


def make_default_folder(env: Mapping[str, str] | None = None) -> None:
    """The embedded default keeps its SQLite file under var/, created on first use."""
    if store_settings(env).get("SQLITE_DBNAME") == str(DEFAULT_SQLITE_PATH):
        DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)


def _not_snapshotted(case_id: uuid.UUID, version: int | None, error: Exception) -> None:
    if isinstance(error, SnapshotNotTakenError):
        return  # an erased person's case: replayed from its events from now on
    if isinstance(error, IntegrityError):
        return  # another process stored the same snapshot first
    log.warning("snapshot of case %s at version %s not taken: %s", case_id, version,
                type(error).__name__)  # fmt: skip


@dataclass(frozen=True)
class _Undecodable:
    """A stored record that no longer decodes: it breaks the chain where it stands."""

    originator_version: int
    error: str

    @property
    def prev_digest(self) -> str:
        return f"<undecodable: {self.error}>"
