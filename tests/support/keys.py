"""The keys of the test process, light to import (conftest.py reads this one first)."""

from __future__ import annotations

import base64

# The actor key (workflows.actor_proof) of the test process and of every worker and API
# process it starts (conftest.py puts it in MINWON_ACTOR_KEY), so that what the API signs
# here a worker there accepts; no test writes the embedded stack's key file under var/.
TEST_ACTOR_KEY_TEXT = base64.urlsafe_b64encode(bytes(range(32, 64))).decode().rstrip("=")

# The key-encryption key (privacy.kek) of the test process and of every process it starts
# (conftest.py puts it in MINWON_KEK): no store a test opens wraps its keys under the
# embedded stack's own var/kek.key, which a person running the stack may move or replace.
TEST_KEK_TEXT = base64.urlsafe_b64encode(bytes(range(64, 96))).decode().rstrip("=")
