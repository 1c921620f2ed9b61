"""Search attributes: how the Temporal CLI and Web UI find and filter cases.

None of them carries personal data: a status, a category, a staff id, a time,
a flag and the receipt code the resident was given. A server that does not know
an attribute makes the workflow task retry forever, so every one is registered
before any case starts: the dev server takes them as flags, a cluster through
the operator service (`register_search_attributes`).
"""

from __future__ import annotations

from typing import Any

from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate
from temporalio.service import RPCError, RPCStatusCode

from workflows.models import CaseView

STATUS = SearchAttributeKey.for_keyword("MinwonStatus")
CATEGORY = SearchAttributeKey.for_keyword("MinwonCategory")
ASSIGNEE = SearchAttributeKey.for_keyword("MinwonAssignee")
RECEIPT = SearchAttributeKey.for_keyword("MinwonReceipt")
NEXT_DUE = SearchAttributeKey.for_datetime("MinwonNextDue")
ESCALATED = SearchAttributeKey.for_bool("MinwonEscalated")

ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = (
    STATUS,
    CATEGORY,
    ASSIGNEE,
    RECEIPT,
    NEXT_DUE,
    ESCALATED,
)


def search_attribute_updates(view: CaseView) -> list[SearchAttributeUpdate[Any]]:
    # A breached promise stays due until it is kept, so `MinwonNextDue < now` finds it.
    next_due = view.earliest_unkept_due()
    return [
        STATUS.value_set(view.status),
        CATEGORY.value_set(view.category),
        RECEIPT.value_set(view.receipt_code),
        ESCALATED.value_set(bool(view.escalations)),
        ASSIGNEE.value_set(view.assignee) if view.assignee else ASSIGNEE.value_unset(),
        NEXT_DUE.value_set(next_due) if next_due else NEXT_DUE.value_unset(),
    ]


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add the attributes the server does not know yet; returns the names added."""
    try:
        known = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(known.custom_attributes) | set(known.system_attributes)
    except RPCError as error:
        # The time-skipping test server can add attributes but not list them.
        if error.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {
        key.name: int(key.indexed_value_type) for key in ALL_KEYS if key.name not in existing
    }
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)  # type: ignore[arg-type]
            )
        except RPCError as error:
            if error.status != RPCStatusCode.ALREADY_EXISTS:
                raise
            return []
    return sorted(missing)
