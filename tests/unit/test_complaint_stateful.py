"""Random command sequences on one case: the aggregate's invariants always hold.

Hypothesis drives a case through commands with valid-ish inputs on a clock that
only moves forward. Each command either records its events or raises a
`ComplaintError` and records nothing; anything else is a bug. After every step
the history must form an intact hash chain and, read back from an event store,
rebuild a case equal to the live one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.application import Application
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain.calendar import BusinessCalendar
from domain.chain import verify_chain
from domain.complaint import APOLOGY_MODES, CORRECTIVE_KINDS, Complaint, ComplaintError
from domain.policy import load_policy

SEOUL = ZoneInfo("Asia/Seoul")
T0 = datetime(2026, 9, 21, 10, 0, tzinfo=SEOUL)
POLICY = load_policy()
CALENDAR = BusinessCalendar()

KINDS = ("reply", "result", "investigation", "callback", "expedited")
STAFF = ("kim", "lee", "park")

# Every status change a single command may make.
ALLOWED_TRANSITIONS = frozenset(
    {
        ("received", "assigned"),  # assign
        ("received", "answered"),  # answer without an assignee (e.g. at the desk)
        ("assigned", "answered"),  # answer
        ("answered", "closed"),  # close
        ("answered", "assigned"),  # reopen, back to the assignee
        ("answered", "received"),  # reopen, nobody assigned
        ("closed", "assigned"),  # reopen
        ("closed", "received"),  # reopen
        ("received", "withdrawn"),
        ("assigned", "withdrawn"),
        ("answered", "withdrawn"),
    }
)
# What a closed case still records.
EVENTS_AFTER_CLOSING = frozenset(
    {"Complaint.ResultAnnounced", "Complaint.SatisfactionRated", "Complaint.Reopened"}
)
# How a commitment's status may change without being started again.
COMMITMENT_TRANSITIONS = frozenset({("open", "met"), ("open", "breached"), ("open", "cancelled")})

hours = st.integers(min_value=0, max_value=24 * 6)
kinds = st.sampled_from(KINDS)


class ComplaintLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app: Application[Any] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.now = T0
        self.case: Complaint
        self.history: list[Any] = []
        self.done: list[Callable[[], None]] = []
        self.serial = 0

    # -- plumbing -------------------------------------------------------------------

    def command_id(self) -> str:
        self.serial += 1
        return f"cmd-{self.serial}"

    def record(self) -> list[Any]:
        events = self.case.collect_events()
        self.history += events
        self.app.save(*events)
        return events

    def run(self, command: Callable[[], None]) -> None:
        """Run one command and check what it did to the case."""
        status = self.case.status
        version = self.case.version
        commitments = dict(self.case.commitments)
        try:
            command()
        except ComplaintError:
            assert self.case.collect_events() == [], "a refused command recorded events"
            assert self.case.version == version
            assert self.case.status == status
            return
        new = self.record()
        if new:
            # Only a recorded command id makes a retry silent.
            self.done.append(command)
        names = {type(e).__qualname__ for e in new}

        if status == "withdrawn":
            assert not new, f"a withdrawn case recorded {names}"
        if status == "closed":
            assert names <= EVENTS_AFTER_CLOSING, f"a closed case recorded {names}"
        if self.case.status != status:
            assert (status, self.case.status) in ALLOWED_TRANSITIONS

        restarted = {e.kind for e in new if type(e).__qualname__ == "Complaint.CommitmentStarted"}
        for kind, before in commitments.items():
            after = self.case.commitments[kind]
            if kind in restarted:
                continue
            assert after.due >= before.due, f"the '{kind}' deadline moved earlier"
            assert after.original_due == before.original_due
            if after.status != before.status:
                assert (before.status, after.status) in COMMITMENT_TRANSITIONS

    # -- intake -----------------------------------------------------------------------

    @initialize(
        category=st.sampled_from(sorted(POLICY.categories)),
        private=st.booleans(),
        channel=st.sampled_from(("visit", "phone", "mail", "email", "homepage")),
    )
    def receive(self, category: str, private: bool, channel: str) -> None:
        rules = POLICY.category(category)
        self.case = Complaint.receive(
            intake_ref=f"{channel}:stateful",
            receipt_code="MW-7K3QX-9PD2M",
            channel=channel,
            category=category,
            topic="program",
            private=private,
            contact="010-1234-5678",
            text="민원 내용",
            received_at=self.now,
            apology_on_fault=rules.apology_on_fault,
            apology_always=rules.apology_always,
            corrective_action=rules.corrective_action,
            investigated=rules.investigated,
        )
        # Start the charter's clocks as intake does, so later rules have targets.
        for commitment in rules.commitments:
            if commitment.days is None:
                continue
            deadline = CALENDAR.due(self.now, commitment.days, commitment.counting)
            self.case.start_commitment(
                kind=commitment.kind,
                due=deadline.due,
                rule=commitment.counting,
                days=commitment.days,
                warn_at=deadline.due - timedelta(hours=commitment.warn_before_hours),
                max_extensions=commitment.max_extensions,
                at=self.now,
                command_id=self.command_id(),
            )
        if rules.investigated:
            self.case.open_investigation(by="system", at=self.now, command_id=self.command_id())
        self.record()

    def pick_kind(self, data: st.DataObject) -> str:
        """Mostly a commitment the case has, sometimes any kind at all."""
        present = sorted(self.case.commitments)
        return data.draw(st.sampled_from(present + present + list(KINDS)), label="kind")

    # -- the clock -------------------------------------------------------------------

    @rule(by=hours, minutes=st.integers(0, 59))
    def time_passes(self, by: int, minutes: int) -> None:
        self.now += timedelta(hours=by, minutes=minutes)

    # What a workflow timer does: wake at the next deadline (or a little after it,
    # a worker being slow) and record the breach.
    @rule(late=st.sampled_from((timedelta(0), timedelta(minutes=1), timedelta(hours=5))))
    def the_next_deadline_passes(self, late: timedelta) -> None:
        due = self.case.next_due()
        if due is None:
            return
        self.now = max(self.now, due + late)
        for commitment in self.case.open_commitments():
            if commitment.due <= self.now:
                self.record_breach(commitment.kind)

    # -- commands ---------------------------------------------------------------------

    @rule(staff=st.sampled_from(STAFF))
    def assign(self, staff: str) -> None:
        at, cid = self.now, self.command_id()
        self.run(
            lambda: self.case.assign(
                staff=staff, role="case_manager", by="ops", at=at, command_id=cid
            )
        )

    @rule(in_hours=st.integers(-2, 48))
    def take_message(self, in_hours: int) -> None:
        at, cid = self.now, self.command_id()
        self.run(
            lambda: self.case.take_message(
                for_staff="kim",
                taken_by="park",
                callback_by=at + timedelta(hours=in_hours),
                note="",
                at=at,
                command_id=cid,
            )
        )

    @rule(
        kind=kinds,
        days=st.integers(0, 15),
        warn_hours=st.integers(0, 72),
        max_extensions=st.integers(0, 2),
    )
    def start_commitment(self, kind: str, days: int, warn_hours: int, max_extensions: int) -> None:
        at, cid = self.now, self.command_id()
        due = at + timedelta(days=days)
        self.run(
            lambda: self.case.start_commitment(
                kind=kind,
                due=due,
                rule="business",
                days=days,
                warn_at=due - timedelta(hours=warn_hours),
                max_extensions=max_extensions,
                at=at,
                command_id=cid,
            )
        )

    @rule(data=st.data())
    def warn(self, data: st.DataObject) -> None:
        kind = self.pick_kind(data)
        at, cid = self.now, self.command_id()
        self.run(lambda: self.case.warn(kind=kind, at=at, command_id=cid))

    @rule(data=st.data())
    def breach(self, data: st.DataObject) -> None:
        self.record_breach(self.pick_kind(data))

    def record_breach(self, kind: str) -> None:
        at, cid = self.now, self.command_id()
        self.run(lambda: self.case.breach(kind=kind, at=at, command_id=cid))

    @rule(
        data=st.data(),
        # The extension as a share of the original period: the limits are at 0 and 1.
        share=st.sampled_from((-0.1, 0.0, 0.3, 0.5, 1.0, 1.1)),
        reason=st.sampled_from(("", "검토 중", "검토 중", "검토 중")),
    )
    def send_interim_reply(self, data: st.DataObject, share: float, reason: str) -> None:
        kind = self.pick_kind(data)
        at, cid = self.now, self.command_id()
        current = self.case.commitments.get(kind)
        due, period = (current.due, current.original_period) if current else (at, timedelta(days=7))
        self.run(
            lambda: self.case.send_interim_reply(
                kind=kind,
                reason=reason,
                new_due=due + period * share,
                by="kim",
                at=at,
                command_id=cid,
            )
        )

    @rule(trigger=st.sampled_from(("deadline", "manual")))
    def escalate(self, trigger: Any) -> None:
        at, cid = self.now, self.command_id()
        self.run(
            lambda: self.case.escalate(
                to_role="designated_officer",
                to_staff=None,
                reason="기한 초과",
                by="ops",
                trigger=trigger,
                at=at,
                command_id=cid,
            )
        )

    @rule()
    def open_investigation(self) -> None:
        at, cid = self.now, self.command_id()
        self.run(lambda: self.case.open_investigation(by="officer", at=at, command_id=cid))

    @rule(fault=st.booleans())
    def conclude_investigation(self, fault: bool) -> None:
        at, cid = self.now, self.command_id()
        self.run(
            lambda: self.case.conclude_investigation(
                fault_confirmed=fault, finding="조사 결과", by="officer", at=at, command_id=cid
            )
        )

    @rule(mode=st.sampled_from((*APOLOGY_MODES, "letter")))
    def make_apology(self, mode: Any) -> None:
        at, cid = self.now, self.command_id()
        self.run(
            lambda: self.case.make_apology(mode=mode, by="officer", note="", at=at, command_id=cid)
        )

    @rule(action=st.sampled_from((*CORRECTIVE_KINDS, "dismissal")))
    def record_corrective_action(self, action: Any) -> None:
        at, cid = self.now, self.command_id()
        self.run(
            lambda: self.case.record_corrective_action(
                staff="lee", action=action, by="officer", note="", at=at, command_id=cid
            )
        )

    @rule()
    def answer(self) -> None:
        at, cid = self.now, self.command_id()
        self.run(lambda: self.case.answer_case(text="답변", by="kim", at=at, command_id=cid))

    @rule()
    def announce(self) -> None:
        at, cid = self.now, self.command_id()
        self.run(
            lambda: self.case.announce_result(summary="처리 결과", by="kim", at=at, command_id=cid)
        )

    @rule()
    def close(self) -> None:
        at, cid = self.now, self.command_id()
        self.run(lambda: self.case.close(by="kim", at=at, command_id=cid))

    # The usual way a case ends, as one step: random single steps seldom line it up.
    @rule(fault=st.booleans())
    def finish_the_case(self, fault: bool) -> None:
        if self.case.investigation == "open":
            self.conclude_investigation(fault)
        if self.case.apology_required and not self.case.apologies:
            self.make_apology("phone")
        self.answer()
        self.close()

    @rule()
    def reopen(self) -> None:
        at, cid = self.now, self.command_id()
        self.run(lambda: self.case.reopen(reason="재검토", by="kim", at=at, command_id=cid))

    # Withdrawal ends everything; drawn rarely so that most runs reach the later rules.
    @rule(really=st.sampled_from((True, False, False, False)))
    def withdraw(self, really: bool) -> None:
        if not really:
            return
        at, cid = self.now, self.command_id()
        self.run(lambda: self.case.withdraw(reason="취하", by="kim", at=at, command_id=cid))

    @rule(score=st.integers(-1, 7))
    def rate_satisfaction(self, score: int) -> None:
        at, cid = self.now, self.command_id()
        self.run(
            lambda: self.case.rate_satisfaction(score=score, comment="", at=at, command_id=cid)
        )

    # A Temporal retry runs a command again with its command id: nothing new is recorded.
    @precondition(lambda self: bool(self.done))
    @rule(data=st.data())
    def retry_a_command_already_done(self, data: st.DataObject) -> None:
        command = data.draw(st.sampled_from(self.done))
        version = self.case.version
        state = copy.deepcopy(vars(self.case))

        command()

        assert self.case.collect_events() == []
        assert self.case.version == version
        assert vars(self.case) == state

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def history_is_an_intact_hash_chain(self) -> None:
        assert verify_chain(self.history) is None
        assert self.case.version == len(self.history)

    @invariant()
    def replaying_the_stored_history_rebuilds_the_live_case(self) -> None:
        replayed = self.app.repository.get(self.case.id)
        assert replayed == self.case

    @invariant()
    def terminal_cases_have_no_running_clock(self) -> None:
        if self.case.is_terminal:
            assert self.case.open_commitments() == []


ComplaintLifecycle.TestCase.settings = settings(
    max_examples=50, stateful_step_count=30, deadline=None
)
TestComplaintLifecycle = ComplaintLifecycle.TestCase
