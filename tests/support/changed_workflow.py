"""A deliberately incompatible edit of ComplaintWorkflow, to prove the replay guard.

It no longer sends the receipt notice: an activity the recorded histories
scheduled is gone, which is exactly the kind of change that must go behind
`workflow.patched` — and replaying without the patch must fail.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.complaint import ComplaintWorkflow
    from workflows.models import CaseView, FileComplaintInput, NoticeKind


@workflow.defn(name="ComplaintWorkflow")
class ChangedComplaintWorkflow(ComplaintWorkflow):
    @workflow.run
    async def run(self, intake: FileComplaintInput) -> CaseView:
        return await super().run(intake)

    async def _notify(
        self, view: CaseView, kind: NoticeKind, recipient: str, detail: str = ""
    ) -> None:
        if kind != "receipt":
            await super()._notify(view, kind, recipient, detail)


@workflow.defn(name="ComplaintWorkflow")
class PatchedComplaintWorkflow(ComplaintWorkflow):
    """The same edit done right: behind `workflow.patched`, old histories still replay."""

    @workflow.run
    async def run(self, intake: FileComplaintInput) -> CaseView:
        return await super().run(intake)

    async def _notify(
        self, view: CaseView, kind: NoticeKind, recipient: str, detail: str = ""
    ) -> None:
        if kind == "receipt" and workflow.patched("no-receipt-notice"):
            return
        await super()._notify(view, kind, recipient, detail)
