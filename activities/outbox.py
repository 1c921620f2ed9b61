"""The notice outbox: the cases' clocks' notices, delivered from the store.

When a case's clock rings (a reminder, a breach, an escalation), the step that
records it queues who hears of it in the same save (`Complaint.NoticeQueued`, one
per notice; runs since the workflow patch `alarm-notices-outbox`). At a deadline
peak thousands of cases ring in the same second: their notices used to be one
activity per case through the Temporal server, about a third of its work there.
`NoticeOutbox` delivers them from the store instead, in a thread of each process
that runs activities, by the notice activities' own code (`send_once`: the case's
record of the notice looked up first, written right after the send).

- **Where it reads.** The `notice_outbox` view (projections.notice_outbox) follows
  the store's log with its own tracking record and holds the notices queued and not
  yet done; each round catches it up, then claims what is due.
- **Once.** A notice is done when the case records its id: `NoticeSent`, or
  `NoticeFailed` once it is given up. A deliverer claims a batch of notices for
  `CLAIM` before sending: another worker's outbox skips them, and takes them over
  once the claim runs out (their deliverer stopped). A send whose record was lost
  (a crash between the two) is sent again; the Message-ID, the notice's id, lets
  the receiving side drop it, as with the activities.
- **Retries.** A channel that may work later (`TemporaryDeliveryError`, or any
  unexpected error) is tried again after 10 s, doubling up to 5 minutes, until
  `GIVE_UP_AFTER` has passed since its first try (in this process: a restart gives it
  that long again); then the notice is recorded as failed
  for ops to see, as the activities' retries did. One that can never be delivered
  (no usable contact, no directory entry) is recorded as failed at once.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import structlog
from eventsourcing.persistence import Tracking
from temporalio.exceptions import ApplicationError

from activities.notices import NoticeActivities
from application.service import Complaints
from domain.calendar import SEOUL
from domain.complaint import Complaint
from domain.roster import RosterReader
from projections.notice_outbox import (
    NoticeOutboxProjection,
    NoticeOutboxView,
    PostgresNoticeOutbox,
    QueuedNotice,
    SQLiteNoticeOutbox,
)
from projections.runner import ReadModel, ReadModels
from workflows.models import Notice

log = structlog.get_logger()

OUTBOX = {
    "notice_outbox": ReadModel(NoticeOutboxProjection, SQLiteNoticeOutbox, PostgresNoticeOutbox)
}
# As the notice activity's retries: a mail server down gets about ten minutes.
GIVE_UP_AFTER = timedelta(minutes=10)
FIRST_RETRY = timedelta(seconds=10)
LAST_RETRY = timedelta(minutes=5)
# A batch is claimed for this long, and sends nothing after half of it has passed
# (the rest is let go, for the next claim): a claim still being worked on never runs
# out, whatever a mail server's answers take (20 s at most each, `SmtpSettings`).
CLAIM = timedelta(seconds=60)
BATCH = 50
INTERVAL = 1.0
OUTBOX_POOL = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}


@dataclass
class Round:
    """What one round of the outbox did."""

    sent: int = 0
    failed: int = 0
    deferred: int = 0

    def add(self, other: Round) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.deferred += other.deferred


def retry_after(tries: int) -> timedelta:
    """The wait before the next try after `tries` failed ones: 10 s, doubling, at most 5 min."""
    return min(FIRST_RETRY * (1 << min(tries - 1, 10)), LAST_RETRY)


class NoticeOutbox:
    """Delivers the queued notices of one store; `run` in a thread, or `deliver` once."""

    def __init__(
        self,
        complaints: Complaints,
        notices: NoticeActivities,
        models: ReadModels,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(SEOUL),
        name: str | None = None,
    ) -> None:
        self.complaints = complaints
        self.notices = notices
        self.models = models
        self.view = cast(NoticeOutboxView, models.views["notice_outbox"])
        self.clock = clock
        self.name = name or f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self._claims = itertools.count(1)
        # The notices still waiting after a failed try: how many tries, since when.
        self._tries: dict[str, tuple[int, datetime]] = {}
        self._started = False

    def _start_at_end(self) -> None:
        """A new outbox on a store where no notice was ever queued (one written before
        the outbox) starts at the log's end: the first round after an upgrade does
        not read the whole history to find nothing."""
        if self.models.position("notice_outbox"):
            return
        # The end first: a notice queued after this read is after it too.
        last = self.models.last_notification()
        topic = [Complaint.NoticeQueued.TOPIC]
        if last and not self.models.app.recorder.select_notifications(1, 1, topics=topic):
            self.view.insert_tracking(Tracking(self.models.app.name, last))

    def deliver(self) -> Round:
        """Catch the outbox up with the store, then deliver every notice due, a batch at
        a time, until none is left."""
        if not self._started:
            self._start_at_end()
            self._started = True
        self.models.catch_up()
        done = Round()
        while True:
            now = self.clock()
            if not self.view.due(now):
                return done
            batch = self.view.claim(f"{self.name}/{next(self._claims)}", now, now + CLAIM, BATCH)
            if not batch:
                return done
            done.add(self._deliver_batch(batch, now))

    def _deliver_batch(self, batch: list[QueuedNotice], now: datetime) -> Round:
        done = Round()
        later: dict[datetime, list[str]] = {}
        # The directory read once for the batch, as the notice activity reads it.
        roster = self.complaints.roster.current()
        cases: dict[str, Complaint] = {}
        started = time.monotonic()
        for index, queued in enumerate(batch):
            if time.monotonic() - started > CLAIM.total_seconds() / 2:
                self.view.release([left.notice_id for left in batch[index:]], now)
                break
            case = cases.get(queued.case_id)
            if case is None:
                case = self.complaints.get_case(uuid.UUID(queued.case_id))
            tries, first = self._tries.get(queued.notice_id, (0, now))
            tries += 1
            try:
                cases[queued.case_id] = self._send(case, queued, roster, tries)
            except ApplicationError as error:
                if error.non_retryable or now >= first + GIVE_UP_AFTER:
                    self._give_up(queued, error.message, now)
                    cases.pop(queued.case_id, None)  # recorded on: loaded again
                    done.failed += 1
                else:
                    self._tries[queued.notice_id] = (tries, first)
                    later.setdefault(now + retry_after(tries), []).append(queued.notice_id)
                    done.deferred += 1
            else:
                self._tries.pop(queued.notice_id, None)
                done.sent += 1
        for until, notice_ids in later.items():
            self.view.release(notice_ids, until)
        return done

    def _send(
        self, case: Complaint, queued: QueuedNotice, roster: RosterReader, tries: int
    ) -> Complaint:
        notice = Notice(
            case_id=queued.case_id,
            receipt_code=case.receipt_code,
            kind=queued.kind,  # type: ignore[arg-type]
            recipient=queued.recipient,
            command_id=queued.notice_id,
            detail=queued.detail,
            at=queued.at,
        )
        try:
            _, recorded = self.notices.send_once(case, notice, roster, attempt=tries)
        except ApplicationError:
            raise
        except Exception as error:
            # Unexpected (a template, the store): tried again, as an activity would be.
            log.exception("notice_outbox_error", case_id=queued.case_id, kind=queued.kind)
            raise ApplicationError(f"{type(error).__name__}: {error}") from None
        return recorded

    def _give_up(self, queued: QueuedNotice, reason: str, now: datetime) -> None:
        self._tries.pop(queued.notice_id, None)
        self.complaints.execute(
            uuid.UUID(queued.case_id),
            lambda case: case.record_notice_failed(
                kind=queued.kind,
                recipient=queued.recipient,
                reason=reason,
                at=now,
                command_id=queued.notice_id,
            ),
        )
        log.warning("notice_failed", case_id=queued.case_id, kind=queued.kind, reason=reason[:200])

    def run(self, stop: threading.Event, interval: float = INTERVAL) -> None:
        """Deliver every `interval` seconds until `stop` is set; a round that fails is
        logged and the next one tries again."""
        while not stop.is_set():
            try:
                done = self.deliver()
            except Exception:
                log.exception("notice_outbox_round_failed")
            else:
                if done.sent or done.failed or done.deferred:
                    log.info("notice_outbox_round", **done.__dict__)
            stop.wait(interval)


@contextmanager
def running_outbox(
    complaints: Complaints,
    notices: NoticeActivities,
    env: Mapping[str, str],
    *,
    interval: float = INTERVAL,
) -> Iterator[NoticeOutbox]:
    """The outbox of the store `env` names (that of `complaints`) delivering in a
    thread while the block runs."""
    # One thread reads the log and writes the view: one connection for each (PostgreSQL).
    own = {**env, **OUTBOX_POOL}
    with ReadModels(own, names=tuple(OUTBOX), models=OUTBOX) as models:
        outbox = NoticeOutbox(complaints, notices, models)
        stop = threading.Event()
        thread = threading.Thread(
            target=outbox.run, args=(stop, interval), name="notice-outbox", daemon=True
        )
        thread.start()
        try:
            yield outbox
        finally:
            stop.set()
            thread.join()
