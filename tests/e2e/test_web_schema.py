"""Schemathesis against the API's own OpenAPI schema: no input makes the server fail.

Every operation of `/openapi.json` is called with generated requests (valid and
not), as a staff member with every role (the designated officer's token also
passes ops checks), against the running stack: real worker, real Temporal. The
run is bounded and derandomized, so CI sees the same requests every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.web import WebStack, web_stack
from web.app import create_app

pytestmark = pytest.mark.temporal

schema = schemathesis.openapi.from_dict(create_app().openapi())
EXAMPLES = 6
# No server error, and every answer as documented: status, media type, body, headers.
# (Whether schema-valid input is accepted is not checked: business rules refuse some,
# e.g. an unknown category or an action the case does not allow.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    with web_stack(tmp_path_factory.mktemp("web-schema")) as stack:
        yield stack


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_makes_the_api_fail(case: Any, web: WebStack) -> None:
    headers = {"Authorization": f"Bearer {web.token('park.officer')}"}
    case.call_and_validate(base_url=web.url, headers=headers, checks=CHECKS)
