"""The one way a workflow here waits: until a moment, or until something happens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from temporalio import workflow


async def until(moment: datetime | None, happened: Callable[[], bool]) -> bool:
    """True when `moment` comes (at once if it has passed); False when `happened()`
    holds first. With no moment, wait for `happened()` alone."""
    if moment is None:
        await workflow.wait_condition(happened)
        return False
    delay = (moment - workflow.now()).total_seconds()
    if delay <= 0:
        return True
    try:
        await workflow.wait_condition(happened, timeout=delay)
    except TimeoutError:
        return True
    return False
