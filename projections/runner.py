"""Keeping the read models up to date, and rebuilding them.

The views live where the events live unless told otherwise: each view reads the
application's settings (`PERSISTENCE_MODULE`, `SQLITE_DBNAME`, `POSTGRES_*`), and
eventsourcing's name prefix can move one elsewhere (`CASE_BOARD_POSTGRES_SCHEMA`).

- **Catching up** (`run --once`, and before `minwon cases` or a report reads a
  view): a pull loop over the application's notification log — a page of
  notifications after the lowest tracked position, decoded once, then each view
  processes the events it has not seen in one transaction per page.
- **Keeping up** (`run`): the backlog is caught up as above, then on SQLite,
  which cannot be subscribed to, the same pull loop runs every `interval`
  seconds; on PostgreSQL one eventsourcing `ProjectionRunner` per view is
  subscribed to the application (LISTEN/NOTIFY) and writes each new event in a
  transaction of its own as soon as it is recorded.
- **Rebuilding**: the view's rows and tracking record are deleted and every event
  from position 0 is processed again, all in one transaction, so readers see the
  old view until the new one is complete.

Every view sees every notification (no topic filter); an event a view does not
show only advances its tracking record. So a view is caught up exactly when its
position is the log's last notification id.

Events are read as stored, through `EventLog`: personal fields stay sealed.

Two projectors on one view (a `minwon projections run` and a `minwon cases`
catching up) do not count an event twice: the second one to reach a position
finds it taken (`AlreadyTracked`), reads the positions again and goes on.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast

from eventsourcing.application import Application
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    InternalError,
    Tracking,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteFactory
from eventsourcing.utils import Environment

from application.service import Complaints, make_default_folder
from application.store import creating_tables, store_env
from domain.calendar import BusinessCalendar
from domain.policy import (
    OVERRIDES_ENV,
    POLICY_ENV,
    Policy,
    load_policy,
    overrides_path,
    policy_path,
)
from privacy.sqlite import private_factory
from projections.appointments import (
    AppointmentBookProjection,
    AppointmentBookView,
    PostgresAppointmentBook,
    SQLiteAppointmentBook,
)
from projections.base import AlreadyTracked, View
from projections.case_board import (
    CaseBoardProjection,
    CaseBoardView,
    PostgresCaseBoard,
    SQLiteCaseBoard,
)
from projections.compliance import (
    ComplianceProjection,
    ComplianceView,
    PostgresCompliance,
    SQLiteCompliance,
)
from projections.conduct import (
    ConductProjection,
    ConductView,
    PostgresConduct,
    SQLiteConduct,
)
from projections.public_notices import (
    PostgresPublicNotices,
    PublicNoticesProjection,
    PublicNoticesView,
    SQLitePublicNotices,
)
from projections.sla_report import (
    PostgresSlaReport,
    SlaReportProjection,
    SlaReportView,
    SQLiteSlaReport,
)
from projections.staff_record import (
    PostgresStaffRecord,
    SQLiteStaffRecord,
    StaffRecordProjection,
    StaffRecordView,
)
from projections.survey_results import (
    PostgresSurveyResults,
    SQLiteSurveyResults,
    SurveyResultsProjection,
    SurveyResultsView,
)

DEFAULT_BATCH = 500
# A view is written and read by one thread at a time: it keeps one connection open,
# whatever POSTGRES_POOL_SIZE gives the event log (`{VIEW}_POSTGRES_POOL_SIZE` still can).
_VIEW_POOL = {"POSTGRES_POOL_SIZE": "1"}
_CREATE_ATTEMPTS = 5


@dataclass(frozen=True)
class ReadModel:
    projection: type[Projection[Any]]
    sqlite_view: type[View]
    postgres_view: type[View]

    @property
    def name(self) -> str:
        return self.projection.name


READ_MODELS: dict[str, ReadModel] = {
    model.name: model
    for model in (
        ReadModel(CaseBoardProjection, SQLiteCaseBoard, PostgresCaseBoard),
        ReadModel(SlaReportProjection, SQLiteSlaReport, PostgresSlaReport),
        ReadModel(PublicNoticesProjection, SQLitePublicNotices, PostgresPublicNotices),
        ReadModel(StaffRecordProjection, SQLiteStaffRecord, PostgresStaffRecord),
        ReadModel(ComplianceProjection, SQLiteCompliance, PostgresCompliance),
        ReadModel(ConductProjection, SQLiteConduct, PostgresConduct),
        ReadModel(AppointmentBookProjection, SQLiteAppointmentBook, PostgresAppointmentBook),
        ReadModel(SurveyResultsProjection, SQLiteSurveyResults, PostgresSurveyResults),
    )
}
NAMES = tuple(READ_MODELS)


class EventLog(Application[uuid.UUID]):
    """The complaints application's events, read as they are stored.

    Same name and settings as `Complaints`, so the same tables and defaults. Its
    plain mapper leaves personal fields sealed: a read model never needs them,
    so projecting never opens a person's key.
    """

    name = Complaints.name
    env: ClassVar[dict[str, str]] = Complaints.env

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        make_default_folder(env)  # the same file as `Complaints`
        super().__init__(dict(env) if env is not None else None)

    def construct_factory(self, env: Environment) -> InfrastructureFactory[Any]:
        # The same file as `Complaints`: 0600, and what is deleted is overwritten.
        return private_factory(super().construct_factory(env))


def load_charter(settings: Mapping[str, str]) -> tuple[Policy, BusinessCalendar]:
    """The policy and calendar `Complaints` would use with these settings."""
    chosen = {name: settings.get(name) or "" for name in (POLICY_ENV, OVERRIDES_ENV)}
    source = policy_path(chosen)
    policy = load_policy(source)
    return policy, BusinessCalendar.from_override_file(overrides_path(policy, source, chosen))


T = TypeVar("T")


def _created(open_store: Callable[[], T]) -> T:
    """Open something that creates its tables, again if another process was creating them.

    PostgreSQL refuses concurrent DDL on the same objects ("tuple concurrently
    updated", a duplicate type name) although each statement says IF NOT EXISTS or
    OR REPLACE; the second attempt finds them made.
    """
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            return open_store()
        except (InternalError, IntegrityError):
            if attempt == _CREATE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


class UnsupportedStoreError(Exception):
    """Read models are SQL tables: the event store must be SQLite or PostgreSQL."""


@dataclass(frozen=True)
class Progress:
    """Where a view's position in the notification log was before, and is after."""

    name: str
    start: int
    end: int


class ReadModels:
    """The read models of one event store, opened together; close when done."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        names: Sequence[str] = NAMES,
        models: Mapping[str, ReadModel] = READ_MODELS,
    ) -> None:
        """`models`, the views to choose `names` from: the read models, or another
        tracked view of the same log (the notice outbox's)."""
        self._models = models
        unknown = [name for name in names if name not in models]
        if unknown:
            raise KeyError(f"no read model named {unknown[0]!r}; known: {', '.join(models)}")
        self.names = tuple(names)
        self._factories: list[InfrastructureFactory[Any]] = []
        self.views: dict[str, View] = {}
        settings = store_env(env)
        # Created under the schema's lock, as the worker and the web server create theirs.
        with creating_tables(settings):
            self.app = _created(lambda: EventLog(settings))
            try:
                self.policy, self.calendar = load_charter(self.app.env)
                if isinstance(self.app.recorder, SQLiteApplicationRecorder):
                    self.backend = "sqlite"
                elif isinstance(self.app.recorder, PostgresApplicationRecorder):
                    self.backend = "postgres"
                else:
                    raise UnsupportedStoreError(
                        "read models need a SQLite or PostgreSQL event store, not "
                        f"{type(self.app.recorder).__name__}"
                    )
                self.settings = {**self.app.env, **_VIEW_POOL}
                for name in self.names:
                    model = models[name]
                    self.views[name] = _created(functools.partial(self._open_view, model))
                self._projections = {
                    name: self._projection_class(name)(view=self.views[name]) for name in self.names
                }
            except BaseException:
                self.close()
                raise

    def __enter__(self) -> ReadModels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for factory in self._factories:
            factory.close()
        self._factories.clear()
        self.app.close()

    def _open_view(self, model: ReadModel) -> View:
        factory: Any = private_factory(
            InfrastructureFactory.construct(Environment(model.name, self.settings))
        )
        try:
            if isinstance(factory, SQLiteFactory):
                view_class = model.sqlite_view
            elif isinstance(factory, PostgresFactory):
                view_class = model.postgres_view
            else:
                raise UnsupportedStoreError(f"read model {model.name} needs SQLite or PostgreSQL")
            view: View = factory.tracking_recorder(view_class)
        except BaseException:
            factory.close()
            raise
        self._factories.append(factory)
        return view

    def _projection_class(self, name: str) -> type[Projection[Any]]:
        projection = self._models[name].projection
        if issubclass(projection, SlaReportProjection):
            return projection.counting_with(self.calendar)
        return projection

    def projection(self, name: str) -> Projection[Any]:
        """The projection that writes the named view, as the pull loop and rebuild use it."""
        return self._projections[name]

    # -- the views, typed ---------------------------------------------------------------

    # Each name is opened with its own view class (READ_MODELS), hence the casts.
    @property
    def case_board(self) -> CaseBoardView:
        return cast(CaseBoardView, self.views["case_board"])

    @property
    def sla_report(self) -> SlaReportView:
        return cast(SlaReportView, self.views["sla_report"])

    @property
    def public_notices(self) -> PublicNoticesView:
        return cast(PublicNoticesView, self.views["public_notices"])

    @property
    def staff_record(self) -> StaffRecordView:
        return cast(StaffRecordView, self.views["staff_record"])

    @property
    def compliance(self) -> ComplianceView:
        return cast(ComplianceView, self.views["compliance"])

    @property
    def conduct(self) -> ConductView:
        return cast(ConductView, self.views["conduct"])

    @property
    def appointment_book(self) -> AppointmentBookView:
        return cast(AppointmentBookView, self.views["appointment_book"])

    @property
    def survey_results(self) -> SurveyResultsView:
        return cast(SurveyResultsView, self.views["survey_results"])

    # -- positions -----------------------------------------------------------------------

    def position(self, name: str) -> int:
        return self.views[name].max_tracking_id(self.app.name) or 0

    def last_notification(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    # -- catching up ----------------------------------------------------------------------

    def catch_up(
        self, *, batch: int = DEFAULT_BATCH, stop: threading.Event | None = None
    ) -> list[Progress]:
        """Process everything recorded until now; returns where each view started and ended.

        On both backends the backlog is pulled in batches: a subscription is for
        waiting on new events, which catching up once does not do.
        """
        before = {name: self.position(name) for name in self.names}
        self._pull(batch, stop or threading.Event())
        return [Progress(name, before[name], self.position(name)) for name in self.names]

    def run(
        self,
        stop: threading.Event,
        *,
        interval: float = 1.0,
        batch: int = DEFAULT_BATCH,
        on_progress: Callable[[list[Progress]], None] = lambda _: None,
        backlog_first: bool = True,
    ) -> None:
        """Keep every view up to date until `stop` is set.

        The backlog is pulled first, in batches (unless `backlog_first` is false);
        then SQLite is polled every `interval` seconds, while on PostgreSQL one
        `ProjectionRunner` per view is subscribed to the store.
        """
        before = {name: self.position(name) for name in self.names}

        def report() -> None:
            nonlocal before
            now = {name: self.position(name) for name in self.names}
            moved = [Progress(n, before[n], now[n]) for n in self.names if now[n] != before[n]]
            if moved:
                on_progress(moved)
            before = now

        if backlog_first or self.backend == "sqlite":
            self._pull(batch, stop)
            report()
        runners = _Runners(self) if self.backend == "postgres" and not stop.is_set() else None
        try:
            while not stop.wait(interval):
                if runners is None:
                    self._pull(batch, stop)
                else:
                    runners.check()
                report()
        finally:
            if runners is not None:
                runners.close()

    def _pull(self, batch: int, stop: threading.Event) -> None:
        while not stop.is_set():
            positions = {name: self.position(name) for name in self.names}
            page = self.app.recorder.select_notifications(
                start=min(positions.values()), limit=batch, inclusive_of_start=False
            )
            if not page:
                return
            events = [
                (self.app.mapper.to_domain_event(n), Tracking(self.app.name, n.id)) for n in page
            ]
            for name in self.names:
                todo = [pair for pair in events if pair[1].notification_id > positions[name]]
                if not todo:
                    continue
                try:
                    with self.views[name].batch():
                        for domain_event, tracking in todo:
                            self._projections[name].process_event(domain_event, tracking)
                except AlreadyTracked:
                    # Another projector committed these positions first: the next
                    # round reads the positions again and goes on from there.
                    continue

    # -- rebuilding -------------------------------------------------------------------------

    def rebuild(self, name: str, *, batch: int = DEFAULT_BATCH) -> Progress:
        """Empty the view and process every event again, in one transaction."""
        before = self.position(name)
        view, projection = self.views[name], self._projections[name]
        last = 0
        with view.batch(reset=True):
            while page := self.app.recorder.select_notifications(
                start=last, limit=batch, inclusive_of_start=False
            ):
                for notification in page:
                    projection.process_event(
                        self.app.mapper.to_domain_event(notification),
                        Tracking(self.app.name, notification.id),
                    )
                last = page[-1].id
        return Progress(name, before, self.position(name))


class _Runners:
    """One `ProjectionRunner` per view, subscribed to the application on PostgreSQL."""

    def __init__(self, models: ReadModels) -> None:
        self._models = models
        self._runners: dict[str, ProjectionRunner[Any, Any]] = {}
        try:
            for name in models.names:
                self._runners[name] = self._start(name)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> _Runners:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, name: str) -> ProjectionRunner[Any, Any]:
        runner: ProjectionRunner[Any, Any] = ProjectionRunner(
            application_class=EventLog,
            projection_class=self._models._projection_class(name),
            view_class=type(self._models.views[name]),
            # The tables were created when the read models were opened.
            env={**self._models.settings, "CREATE_TABLE": "no"},
        )
        runner.__enter__()
        return runner

    def check(self) -> None:
        """Raise the error a runner stopped on; restart one that lost a race for a position."""
        for name, runner in list(self._runners.items()):
            if not runner.is_interrupted.is_set():
                continue
            try:
                runner.run_forever(timeout=0)
            except AlreadyTracked:
                # Its subscription is ahead of what was committed by another
                # projector: start again from the tracked position.
                self._stop(runner)
                self._runners[name] = self._start(name)
                continue
            raise RuntimeError(f"the projection runner of {name} stopped")

    def close(self) -> None:
        """Stop every runner, then raise the first error one of them had stopped on."""
        runners, self._runners = list(self._runners.values()), {}
        errors: list[BaseException] = []
        for runner in runners:
            try:
                self._stop(runner)
            except AlreadyTracked:
                pass  # another projector processed that position: nothing was lost
            except BaseException as error:  # the others must still be stopped
                errors.append(error)
        if errors:
            raise errors[0]

    @staticmethod
    def _stop(runner: ProjectionRunner[Any, Any]) -> None:
        try:
            runner.__exit__(None, None, None)
        finally:
            # The runner closes its application, not the view it built.
            runner.view.datastore.close()
