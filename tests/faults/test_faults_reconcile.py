"""Lost, terminated or failed case workflows come back from the event store.

The worker is `python worker.py` in its own process on the dev server (also a
process of its own, with its data file). The deadlines are promised callbacks a
few seconds ahead (see test_faults_deadlines.py): they fall due while everything
is down, and Temporal's data file is deleted meanwhile, so the new server knows
no case at all. The worker's reconciler (at its start, and on the schedule
`minwon-reconcile`) must start every open case's workflow again from the store.

Pass: every open case runs again within 60 s; each overdue one records exactly
one breach and one escalation, and each case one receipt notice and one
`WorkflowRestored`; `minwon audit verify --all` is clean. A workflow terminated
from outside, and one that failed, are restored by the schedule within its
interval; one terminated again and again is held after the limit and reported.

The other way round: a case the store has closed or withdrawn while its workflow
still sees it open (as a Temporal restored from an older backup would leave it).
`minwon admin reconcile --dry-run` lists it, `minwon admin reconcile` terminates
that run and starts one that reads the case from the store: the withdrawn case's
run ends at once, the closed case's runs on with the case closed (as its own run
does after closing). Nothing is recorded on the cases, no notice is sent again, and a
case closed through its own workflow is left alone.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.reconcile import Reconciler
from application.service import Complaints
from cli.main import main
from tests.support.api import api_server
from tests.support.faults import (
    DevServer,
    act_until_answered,
    event_counts,
    file_until_registered,
    new_intake,
    repeated_commands,
    sqlite_store,
    sqlite_worker,
    stored_events,
    worker_env,
)
from tests.support.processes import WorkerProcess, wait_until
from web.audit import NO_WORKFLOW
from workflows.client import workflow_id
from workflows.complaint import ComplaintWorkflow
from workflows.models import Answer, CaseView, Close, TakeMessage, Withdraw
from workflows.search import STATUS

pytestmark = [pytest.mark.faults, pytest.mark.temporal]

PLAIN_CASES = 40
OVERDUE_CASES = 10
RESTORED_SECONDS = 60.0


async def file_cases(
    client: Client, task_queue: str, due: datetime
) -> tuple[dict[str, str], dict[str, datetime]]:
    """PLAIN_CASES inquiries, and OVERDUE_CASES callbacks promised by `due`."""
    gate = asyncio.Semaphore(10)

    async def one(overdue: bool) -> tuple[str, str, datetime | None]:
        async with gate:
            intake = new_intake("lost", category="callback" if overdue else "inquiry")
            handle, view = await file_until_registered(client, intake, task_queue)
            if overdue:
                await act_until_answered(
                    handle,
                    TakeMessage(for_staff="lee.service", taken_by="kim.casemgr", callback_by=due),
                    f"message-{intake.intake_ref}",
                )
            return view.case_id, workflow_id(intake.intake_ref), due if overdue else None

    filed = await asyncio.gather(
        *(one(False) for _ in range(PLAIN_CASES)), *(one(True) for _ in range(OVERDUE_CASES))
    )
    workflows = {case_id: wid for case_id, wid, _ in filed}
    dues = {case_id: promised for case_id, _, promised in filed if promised is not None}
    return workflows, dues


async def file_inquiries(
    client: Client, task_queue: str, prefix: str, count: int
) -> list[tuple[WorkflowHandle[Any, Any], CaseView]]:
    return [
        await file_until_registered(client, new_intake(prefix), task_queue) for _ in range(count)
    ]


async def running(client: Client, workflow_ids: list[str]) -> set[str]:
    found = set()
    for wid in workflow_ids:
        try:
            described = await client.get_workflow_handle(wid).describe()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            continue  # not restored yet
        if described.status == WorkflowExecutionStatus.RUNNING:
            found.add(wid)
    return found


def verify_all(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    client: Client,
    task_queue: str,
) -> tuple[int, str]:
    """`minwon audit verify --all` as the auditor: its exit code and its last line."""
    with api_server(client=client, task_queue=task_queue) as api:
        api.login(monkeypatch, "yoon.audit")
        capsys.readouterr()
        code = main(["audit", "verify", "--all"])
        return code, capsys.readouterr().out.strip().splitlines()[-1]


async def test_a_lost_temporal_database_heals_and_every_missed_deadline_fires_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = DevServer(tmp_path)
    client = await server.start()
    store, task_queue, worker = sqlite_worker(server, tmp_path, "lost")
    try:
        await worker.start()
        due = datetime.now(UTC) + timedelta(seconds=12)
        workflows, dues = await file_cases(client, task_queue, due)
        # Everything down, and Temporal's data gone, while the callbacks fall due.
        worker.kill()
        server.kill()
        assert server.db_file is not None
        server.db_file.unlink()
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 2)
        client = await server.start()
        # Before any worker is back, the auditor's verify names every open case as a
        # finding: its deadlines run on no clock.
        monkeypatch.setenv("MINWON_PAYLOAD_KEY", worker.env["MINWON_PAYLOAD_KEY"])
        for name, value in store.items():
            monkeypatch.setenv(name, value)
        assert verify_all(monkeypatch, capsys, client, task_queue) == (
            1,
            f"{len(workflows)} cases ({len(workflows)} open without a workflow) verified, "
            f"chains intact; tail not checked ({NO_WORKFLOW})",
        )
        # And `minwon show` says so plainly.
        first = Complaints(env=store)
        try:
            code = first.get_case(uuid.UUID(next(iter(workflows)))).receipt_code
        finally:
            first.close()
        with api_server(client=client, task_queue=task_queue) as api:
            api.login(monkeypatch, "park.officer")
            capsys.readouterr()
            assert main(["show", code]) == 0
            assert "NO RUNNING WORKFLOW (missing)" in capsys.readouterr().out
        restart = time.monotonic()
        await worker.start()

        async def all_running() -> bool:
            return len(await running(client, list(workflows.values()))) == len(workflows)

        await wait_until(all_running, "every open case's workflow", RESTORED_SECONDS)
        healed = time.monotonic() - restart

        complaints = Complaints(env=store)
        try:

            async def all_escalated() -> bool:
                return all(
                    event_counts(stored_events(complaints, case_id))["Escalated"] == 1
                    for case_id in dues
                )

            await wait_until(all_escalated, "the missed deadlines' escalations", RESTORED_SECONDS)
            await asyncio.sleep(3)  # a duplicate would come now, if at all
            for case_id in workflows:
                events = stored_events(complaints, case_id)
                counts = event_counts(events)
                notices = Counter(
                    (e.kind, e.recipient) for e in events if type(e).__name__ == "NoticeSent"
                )
                assert counts["WorkflowRestored"] == 1, (case_id, counts)
                assert notices[("receipt", "resident")] == 1, (case_id, notices)
                assert all(n == 1 for n in notices.values()), (case_id, notices)
                [restored] = [e for e in events if type(e).__name__ == "WorkflowRestored"]
                assert restored.found == "missing"
                if case_id in dues:
                    assert counts["CommitmentBreached"] == 1, (case_id, counts)
                    assert counts["Escalated"] == 1, (case_id, counts)
                else:
                    assert counts["CommitmentBreached"] == 0, (case_id, counts)
        finally:
            complaints.close()

        # The auditor's verify, through the API, against the restored workflows.
        monkeypatch.setenv("MINWON_PAYLOAD_KEY", worker.env["MINWON_PAYLOAD_KEY"])
        for name, value in store.items():
            monkeypatch.setenv(name, value)
        with api_server(client=client, task_queue=task_queue) as api:
            api.login(monkeypatch, "yoon.audit")
            capsys.readouterr()
            assert main(["audit", "verify", "--all"]) == 0
            verdict = capsys.readouterr().out.strip()
        cases = len(workflows)
        head, _, tails = verdict.partition("; tails: ")
        assert head == f"{cases} cases verified, chains intact", verdict
        # The overdue cases end with the notice outbox's delivery records, which the
        # workflow never sees (docs/decisions/0014-notice-outbox.md); the rest with the
        # receipt's, which it does.
        counted = dict(reversed(part.split(" ", 1)) for part in tails.split(", "))
        assert counted == {
            "match the workflow": str(cases - len(dues)),
            "match the workflow up to later notice records (not anchored)": str(len(dues)),
        }, verdict
        await worker.stop()
    finally:
        worker.kill()
        server.stop()
    print(
        f"\n{len(workflows)} open cases, {len(dues)} of them due while Temporal was down and "
        f"its data file deleted: all running again {healed:.1f} s after the worker's restart; "
        "each missed deadline breached and escalated once; no notice sent twice"
    )


async def test_the_schedule_restores_a_terminated_and_a_failed_workflow_and_holds_a_looping_one(
    tmp_path: Path,
) -> None:
    server = DevServer(tmp_path)
    client = await server.start()
    store = sqlite_store(tmp_path)
    task_queue = f"faults-heal-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        server.address,
        task_queue,
        tmp_path,
        store,
        MINWON_RECONCILE_MINUTES="0.05",  # every 3 s
        MINWON_RESTORE_LIMIT="2",
    )
    worker = WorkerProcess(env, tmp_path / "worker.log")
    complaints = Complaints(env=store)
    try:
        await worker.start()
        (looping, looping_view), (failing, failing_view) = await file_inquiries(
            client, task_queue, "heal", 2
        )

        def restorations(case_id: str) -> list[str]:
            return [
                e.found
                for e in stored_events(complaints, case_id)
                if type(e).__name__ == "WorkflowRestored"
            ]

        async def restored(case_id: str, times: int, wid: str) -> bool:
            ran = await running(client, [wid])
            return len(restorations(case_id)) == times and bool(ran)

        # Terminated from outside (the Temporal UI or CLI): back within an interval or two.
        await looping.terminate(reason="by hand")
        await wait_until(
            lambda: restored(looping_view.case_id, 1, looping.id), "the terminated case", 30
        )
        # Failed: a run that cannot even read its input, in place of the case's own.
        await client.start_workflow(
            "ComplaintWorkflow",
            {"not": "an intake"},
            id=failing.id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
        )
        await wait_until(
            lambda: restored(failing_view.case_id, 1, failing.id), "the failed case", 30
        )
        assert restorations(failing_view.case_id) == ["failed"]

        # Terminated again and again: the second restoration reaches the limit of 2 a
        # day, and after the third termination the case is held, not restarted.
        await client.get_workflow_handle(looping.id).terminate(reason="again")
        await wait_until(
            lambda: restored(looping_view.case_id, 2, looping.id), "the second restoration", 30
        )
        await client.get_workflow_handle(looping.id).terminate(reason="and again")
        await asyncio.sleep(8)  # two or three turns of the schedule
        assert restorations(looping_view.case_id) == ["terminated", "terminated"]
        assert not await running(client, [looping.id])
        assert "case_workflow_restore_held" in worker.log()
        report = await Reconciler(complaints, client, task_queue, limit=2).reconcile()
        [held] = report.divergences
        assert (held.workflow_id, held.found, held.action) == (looping.id, "terminated", "held")
        await worker.stop()
    finally:
        complaints.close()
        worker.kill()
        server.stop()


async def reconcile_by_hand(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    *options: str,
) -> str:
    """`minwon admin reconcile OPTIONS` on the server host, with the worker's settings."""
    for name in ("TEMPORAL_ADDRESS", "MINWON_TASK_QUEUE", "MINWON_PAYLOAD_KEY"):
        monkeypatch.setenv(name, env[name])
    for name in ("PERSISTENCE_MODULE", "SQLITE_DBNAME"):
        monkeypatch.setenv(name, env[name])
    capsys.readouterr()
    # Its own event loop, as on the command line.
    assert await asyncio.to_thread(main, ["admin", "reconcile", *options]) == 0
    return capsys.readouterr().out


async def run_id(client: Client, workflow: str) -> str:
    """The run now running under the workflow id."""
    described = await client.get_workflow_handle(workflow).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING, described.status
    return described.run_id


async def termination_reason(client: Client, workflow: str, run: str) -> str | None:
    async for event in client.get_workflow_handle(workflow, run_id=run).fetch_history_events():
        if event.HasField("workflow_execution_terminated_event_attributes"):
            return str(event.workflow_execution_terminated_event_attributes.reason)
    return None


async def test_a_run_that_missed_its_case_being_closed_or_withdrawn_is_replaced_by_one_that_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = DevServer(tmp_path, persistent=False)
    client = await server.start()
    store = sqlite_store(tmp_path)
    task_queue = f"faults-ended-{uuid.uuid4().hex[:8]}"
    # No schedule: the reconciler runs when told, so its dry run comes first.
    env = worker_env(server.address, task_queue, tmp_path, store, MINWON_RETENTION_SCHEDULE="off")
    worker = WorkerProcess(env, tmp_path / "worker.log")
    complaints = Complaints(env=store)
    try:
        await worker.start()
        filed = await file_inquiries(client, task_queue, "ended", 3)
        (closed, closed_view), (withdrawn, withdrawn_view), (kept, kept_view) = filed
        for handle in (closed, kept):
            await act_until_answered(
                handle, Answer(text="안내드립니다", by="lee.service"), f"answer-{handle.id}"
            )
        await act_until_answered(kept, Close(by="lee.service"), f"close-{kept.id}")
        expected = {
            closed_view.case_id: {"receipt", "answer"},
            withdrawn_view.case_id: {"receipt"},
            kept_view.case_id: {"receipt", "answer"},
        }

        async def notices_recorded() -> bool:
            return all(
                {e.kind for e in stored_events(complaints, c) if type(e).__name__ == "NoticeSent"}
                == kinds
                for c, kinds in expected.items()
            )

        await wait_until(notices_recorded, "the notices sent in the background")
        # Behind the workflows' backs: the store ends two cases they still see open.
        now = datetime.now(UTC)
        complaints.perform(
            uuid.UUID(closed_view.case_id), Close(by="lee.service"), at=now, command_id="behind-1"
        )
        complaints.perform(
            uuid.UUID(withdrawn_view.case_id),
            Withdraw(reason="민원인 요청", by="lee.service"),
            at=now,
            command_id="behind-2",
        )
        before = {case_id: stored_events(complaints, case_id) for case_id in expected}
        runs = {h.id: await run_id(client, h.id) for h in (closed, withdrawn, kept)}

        listed = json.loads(
            await reconcile_by_hand(monkeypatch, capsys, env, "--dry-run", "--json")
        )
        assert {
            (d["workflow_id"], d["receipt_code"], d["found"], d["action"])
            for d in listed["divergences"]
        } == {
            (closed.id, closed_view.receipt_code, "case_closed", "would replace"),
            (withdrawn.id, withdrawn_view.receipt_code, "case_withdrawn", "would replace"),
        }
        assert {h.id: await run_id(client, h.id) for h in (closed, withdrawn, kept)} == runs

        with capture_logs() as logged:
            printed = await reconcile_by_hand(monkeypatch, capsys, env)
        assert [line.split()[-2:] for line in printed.splitlines()[:-1]] == [
            [found, "replaced"]
            for _, found in sorted([(closed.id, "case_closed"), (withdrawn.id, "case_withdrawn")])
        ]
        assert sorted(
            (e["workflow_id"], e["found"]) for e in logged if e["event"] == "case_workflow_replaced"
        ) == sorted([(closed.id, "case_closed"), (withdrawn.id, "case_withdrawn")])

        # The withdrawn case's new run read the case and ended; the closed case's runs
        # with the case closed, and the staff queues (visibility) say so.
        async def withdrawn_ended() -> bool:
            described = await client.get_workflow_handle(withdrawn.id).describe()
            return described.status == WorkflowExecutionStatus.COMPLETED

        await wait_until(withdrawn_ended, "the withdrawn case's new run to end")
        result: CaseView = await client.get_workflow_handle(
            withdrawn.id, result_type=CaseView
        ).result()
        assert result.status == "withdrawn"

        async def shown_closed() -> bool:
            listing = client.list_workflows(
                f"WorkflowId = '{closed.id}' AND ExecutionStatus = 'Running'"
            )
            return [e.typed_search_attributes.get(STATUS) async for e in listing] == ["closed"]

        await wait_until(shown_closed, "the closed case's new run in visibility")
        now_running = client.get_workflow_handle(closed.id)
        assert (await now_running.query(ComplaintWorkflow.status)).status == "closed"
        assert await run_id(client, closed.id) != runs[closed.id]
        for handle, status in ((closed, "closed"), (withdrawn, "withdrawn")):
            reason = await termination_reason(client, handle.id, runs[handle.id])
            assert reason == f"case ended in the store ({status})"
        # The case closed through its own workflow keeps its run.
        assert await run_id(client, kept.id) == runs[kept.id]

        await asyncio.sleep(2)  # a second receipt or record would come now, if at all
        for case_id, events in before.items():
            after = stored_events(complaints, case_id)
            assert [type(e).__name__ for e in after] == [type(e).__name__ for e in events]
            assert repeated_commands(after) == [], case_id
        again = json.loads(await reconcile_by_hand(monkeypatch, capsys, env, "--dry-run", "--json"))
        assert again["divergences"] == []
        await worker.stop()
    finally:
        complaints.close()
        worker.kill()
        server.stop()
