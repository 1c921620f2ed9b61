"""Residents' limits: the intake relays nothing, and the lookup locks nobody out.

Against the running stack (Temporal dev server, real worker, uvicorn) on SQLite
and on PostgreSQL, with the default limits: 10 complaints an hour per address, 5
a day per contact, 10 wrong secrets in 15 minutes per (address, receipt code).
Requests come through 127.0.0.1, named as the trusted proxy, and say which client
they are for in X-Forwarded-For, so each test speaks as addresses of its own.
Every refusal is checked to have recorded nothing: no event, no case, no
secret, no mail. More app instances on the same store (each with its own
connections, as separate web servers) show that the counts are the store's,
not a process's.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eventsourcing.utils import get_topic

from application.service import Complaints
from application.store import open_complaints as open_store
from domain.complaint import Complaint
from domain.credentials import ResidentSecret
from store.tables import row_values
from tests.support.processes import free_port
from tests.support.samples import sample_intake
from tests.support.stores import POSTGRES_ENV, fresh_postgres_schema
from tests.support.web import WebStack, web_stack
from web import serve
from web.app import create_app
from web.limits import (
    DAY,
    LONGEST_LOCKOUT,
    MINUTE,
    Count,
    LimitReachedError,
    LimitSettingError,
    LimitSettings,
    LimitTable,
    PublicLimits,
    Rate,
)

PROBLEM = "application/problem+json"
PROXY = ["127.0.0.1"]
RECEIVED = get_topic(Complaint.Received)
SECRET_ISSUED = f"{ResidentSecret.__module__}:{ResidentSecret.__qualname__}.Issued"


@dataclass
class Limited:
    web: WebStack
    env: dict[str, str]
    folder: Path

    def as_client(self, address: str, url: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=url or self.web.url, headers={"X-Forwarded-For": address}, timeout=60.0
        )

    @contextmanager
    def another_server(self, proxies: list[str] = PROXY) -> Iterator[str]:
        """Another web server on the same store: its own app, connections and memory."""
        complaints = open_store(self.env)
        app = create_app(
            complaints=complaints,
            client=self.web.client,
            task_queue=self.web.task_queue,
            limits=LimitSettings(),
            proxies=proxies,
        )
        port = free_port()
        server, task = self.web.run(serve.start(app, "127.0.0.1", port))
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            self.web.run(serve.stop(server, task))
            complaints.close()

    def what_is_recorded(self) -> dict[str, int]:
        """Events, cases and secrets in the store, and mail handed out."""
        complaints = self.web.complaints
        sms = self.folder / "sms.jsonl"

        def count(topic: str) -> int:
            return len(
                complaints.recorder.select_notifications(start=1, limit=100_000, topics=[topic])
            )

        return {
            "events": complaints.recorder.max_notification_id() or 0,
            "cases": count(RECEIVED),
            "secrets": count(SECRET_ISSUED),
            "mail": len(list((self.folder / "mail").glob("*.eml"))),
            "sms": len(sms.read_text().splitlines()) if sms.exists() else 0,
        }

    def settle(self, codes: list[str]) -> None:
        """Wait until each case's receipt is sent, after which the store stays still."""
        complaints = self.web.complaints

        def sent(code: str) -> bool:
            history = complaints.history(complaints.case_id_for_receipt(code))
            return any(type(e).__name__ == "NoticeSent" for e in history)

        deadline = time.monotonic() + 60
        while not all(sent(code) for code in codes):
            assert time.monotonic() < deadline, "receipts were not sent in time"
            time.sleep(0.2)

    def resident_case(self) -> tuple[str, str]:
        """A case with its secret, as an intake leaves it (no workflow needed to look it up)."""
        complaints = self.web.complaints
        case = complaints.file(sample_intake(f"limits-{uuid.uuid4().hex[:8]}"))
        record, secret = ResidentSecret.issue(case.id)
        complaints.save(record)
        return case.receipt_code, secret


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ],
)
def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Limited]:
    folder = tmp_path_factory.mktemp(f"web-limits-{request.param}")
    with (
        store_for(request.param, folder) as env,
        web_stack(folder, env=env, limits=LimitSettings(), proxies=PROXY) as web,
    ):
        yield Limited(web, env, folder)


@contextmanager
def store_for(backend: str, folder: Path) -> Iterator[dict[str, str]]:
    if backend == "sqlite":
        yield {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(folder / "events.db"),
        }
        return
    with fresh_postgres_schema() as schema:
        yield {**POSTGRES_ENV, "POSTGRES_SCHEMA": schema}


def complaint(contact: str) -> dict[str, Any]:
    return {
        "category": "inquiry",
        "topic": "program",
        "contact": contact,
        "text": "프로그램 신청 방법을 알려주세요",
    }


def unique_contact() -> str:
    return f"resident-{uuid.uuid4().hex[:10]}@example.kr"


def filed(client: httpx.Client, contact: str | None = None) -> str:
    response = client.post("/api/complaints", json=complaint(contact or unique_contact()))
    assert response.status_code == 201, response.text
    code: str = response.json()["receipt_code"]
    return code


def refused(response: httpx.Response, within: float) -> dict[str, Any]:
    """A 429 problem document whose Retry-After is no later than `within` seconds."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert 0 < int(response.headers["retry-after"]) <= within
    document: dict[str, Any] = response.json()
    assert document["status"] == 429
    return document


def form(client: httpx.Client, url: str, contact: str) -> httpx.Response:
    fields = {**complaint(contact), "consent": "yes"}
    return client.post("/complaints/new", data=fields, headers={"origin": url})


def lookup(client: httpx.Client, code: str, secret: str) -> httpx.Response:
    return client.post("/api/complaints/status", json={"receipt_code": code, "secret": secret})


# -- intake -------------------------------------------------------------------------------------


@pytest.mark.temporal
def test_the_eleventh_complaint_from_one_address_within_the_hour_is_refused_and_records_nothing(
    limited: Limited,
) -> None:
    with limited.as_client("198.51.100.11") as address:
        codes = [filed(address) for _ in range(10)]
        limited.settle(codes)
        before = limited.what_is_recorded()

        api = address.post("/api/complaints", json=complaint(unique_contact()))
        page = form(address, limited.web.url, unique_contact())
        time.sleep(1.0)  # anything started in the background would have written by now
        after = limited.what_is_recorded()

    assert refused(api, within=3600)["type"].endswith("too-many-submissions")
    assert "address" in api.json()["detail"] and "nothing was recorded" in api.json()["detail"]
    assert page.status_code == 429 and int(page.headers["retry-after"]) <= 3600
    assert "접수하지 않았습니다" in page.text
    assert after == before
    # The limit is the address's, not everyone's.
    with limited.as_client("198.51.100.12") as another:
        limited.settle([filed(another)])


@pytest.mark.temporal
def test_the_sixth_complaint_for_one_contact_within_a_day_is_refused_however_it_is_written(
    limited: Limited,
) -> None:
    spellings = ["010-2345-6789", "01023456789", "+82 10 2345 6789", "010 2345 6789"]
    codes = []
    for number, contact in enumerate([*spellings, "+82-10-2345-6789"]):
        with limited.as_client(f"198.51.100.{20 + number}") as address:
            codes.append(filed(address, contact))
    limited.settle(codes)
    before = limited.what_is_recorded()

    with limited.as_client("198.51.100.30") as fresh_address:
        sixth = fresh_address.post("/api/complaints", json=complaint("010 23456789"))
        other_contact = filed(fresh_address)

    assert refused(sixth, within=DAY)["type"].endswith("too-many-submissions")
    assert "contact" in sixth.json()["detail"]
    limited.settle([other_contact])
    after = limited.what_is_recorded()
    assert after["cases"] == before["cases"] + 1 and after["secrets"] == before["secrets"] + 1
    # The count names no one: neither the number nor its pseudonym is a key.
    keys = limit_keys(limited.web.complaints)
    pseudonym = limited.web.complaints.keys.person_id_for("010-2345-6789")
    assert any(key.startswith("intake:contact:") for key in keys)
    # The key's digest is hex, so a bare "2345" can turn up in it by chance: look for
    # the number's eight subscriber digits and each way it was written instead.
    written = [*spellings, "+82-10-2345-6789", "010 23456789", "23456789"]
    assert not [
        key
        for key in keys
        if any(form in key for form in written) or pseudonym.removeprefix("p-") in key
    ]


def limit_keys(complaints: Complaints) -> list[str]:
    table = LimitTable(complaints)
    with table._cursor(commit=False) as cursor:
        cursor.execute(table._sql("SELECT key FROM {p}minwon_rate_limits"))
        return [str(row_values(row)[0]) for row in cursor.fetchall()]


@pytest.mark.temporal
def test_two_servers_on_one_store_share_the_intake_count_and_a_restarted_one_still_refuses(
    limited: Limited,
) -> None:
    first = limited.web.url
    with limited.another_server() as second:
        with limited.as_client("198.51.100.40", first) as on_first:
            codes = [filed(on_first) for _ in range(5)]
        with limited.as_client("198.51.100.40", second) as on_second:
            codes += [filed(on_second) for _ in range(5)]
            limited.settle(codes)
            before = limited.what_is_recorded()
            refused(on_second.post("/api/complaints", json=complaint(unique_contact())), 3600)
        with limited.as_client("198.51.100.40", first) as on_first:
            refused(on_first.post("/api/complaints", json=complaint(unique_contact())), 3600)

    # The second server is gone; a new one, with nothing in memory, reads the count.
    with limited.another_server() as restarted, limited.as_client("198.51.100.40", restarted) as c:
        refused(c.post("/api/complaints", json=complaint(unique_contact())), 3600)
    assert limited.what_is_recorded() == before


# -- status lookups ---------------------------------------------------------------------------


@pytest.mark.temporal
def test_a_lockout_of_one_address_does_not_lock_another_out_of_the_same_receipt_code(
    limited: Limited,
) -> None:
    code, secret = limited.resident_case()
    with limited.as_client("203.0.113.50") as guesser:
        for _ in range(10):
            assert lookup(guesser, code, "AAAAA-AAAAA").status_code == 404
        # Locked out: even the right secret is not tried from here for now.
        locked = lookup(guesser, code, secret)
        page = guesser.post(
            "/status",
            data={"receipt_code": code, "secret": secret},
            headers={"origin": limited.web.url},
        )
    with limited.as_client("203.0.113.51") as resident:
        found = lookup(resident, code, secret)
        mistyped = lookup(resident, code, "BBBBB-BBBBB")

    assert refused(locked, within=15 * MINUTE)["title"] == "Too many attempts"
    assert page.status_code == 429 and "retry-after" in page.headers
    assert found.status_code == 200 and found.json()["receipt_code"] == code
    assert mistyped.status_code == 404


@pytest.mark.temporal
def test_a_lookup_lockout_holds_on_every_server_of_the_store_and_after_a_restart(
    limited: Limited,
) -> None:
    code, secret = limited.resident_case()
    with (
        limited.another_server() as second,
        limited.as_client("203.0.113.60", second) as guesser,
    ):
        for _ in range(10):
            assert lookup(guesser, code, "AAAAA-AAAAA").status_code == 404
    with limited.as_client("203.0.113.60") as same_address_elsewhere:
        refused(lookup(same_address_elsewhere, code, secret), within=15 * MINUTE)
    with (
        limited.another_server() as restarted,
        limited.as_client("203.0.113.60", restarted) as after_restart,
    ):
        refused(lookup(after_restart, code, secret), within=15 * MINUTE)


@pytest.mark.temporal
def test_a_forwarded_address_is_believed_only_from_a_proxy_named_in_the_settings(
    limited: Limited,
) -> None:
    code, secret = limited.resident_case()
    with limited.another_server(proxies=[]) as unproxied:
        # Both claim another address; the server counts them as the peer they are.
        with limited.as_client("203.0.113.70", unproxied) as first:
            for _ in range(10):
                assert lookup(first, code, "AAAAA-AAAAA").status_code == 404
        with limited.as_client("203.0.113.71", unproxied) as second:
            refused(lookup(second, code, secret), within=15 * MINUTE)
    with limited.as_client("203.0.113.71") as through_the_proxy:
        assert lookup(through_the_proxy, code, secret).status_code == 200


# -- the counts themselves --------------------------------------------------------------------


def test_a_limit_setting_reads_as_a_count_per_period_and_nothing_else() -> None:
    assert Rate.parse("10/1h") == Rate(10, 3600)
    assert Rate.parse("5/d") == Rate(5, DAY)
    assert Rate.parse(" 10 / 15m ") == Rate(10, 900)
    for wrong in ("10", "10/1w", "0/1h", "ten/1h", "10/0m", "-1/1h"):
        with pytest.raises(LimitSettingError):
            Rate.parse(wrong)
    settings = LimitSettings.from_env({"MINWON_INTAKE_LIMIT_CONTACT": "3/12h"})
    assert settings == LimitSettings(intake_per_contact=Rate(3, 43200))


def test_each_repeated_lookup_lockout_lasts_twice_as_long_up_to_a_day() -> None:
    rate, now, count = Rate(10, 15 * MINUTE), 1_000_000.0, Count()
    lockouts = []
    for _ in range(9):
        for _ in range(10):
            count = count.failed(now, rate)
        lockouts.append(count.blocked_until - now)
        now = count.blocked_until
    assert lockouts[:4] == [900, 1800, 3600, 7200]
    assert max(lockouts) == LONGEST_LOCKOUT == lockouts[-1]
    # Forgotten a day after the last lock-out ended: the next one is short again.
    later = count.expires_at + 1
    for _ in range(10):
        count = count.failed(later, rate)
    assert count.blocked_until - later == 900


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_expired_counts_are_purged_and_an_attempt_reads_and_writes_only_its_own_row(
    complaints: Complaints,
) -> None:
    clock = FakeClock()
    limits = PublicLimits(complaints, LimitSettings(), clock=clock)
    for number in range(300):
        limits.lookup_failed(f"192.0.2.{number // 10}", f"MW-0000{number % 10}-00000")
    assert len(limit_keys(complaints)) == 300

    clock.now += 15 * MINUTE + 1
    limits.check_lookup("192.0.2.1", "MW-00001-00000")

    assert limit_keys(complaints) == []
    if limits.table._sqlite is not None:
        # The statements an attempt runs find their row by key; the purge by expiry.
        plans = {
            statement: query_plan(limits.table, statement)
            for statement in (
                "UPDATE minwon_rate_limits SET hits = 1 WHERE key = 'x'",
                "DELETE FROM minwon_rate_limits WHERE expires_at <= 1",
            )
        }
        assert all("USING INDEX" in plan and "SCAN" not in plan for plan in plans.values()), plans


def query_plan(table: LimitTable, statement: str) -> str:
    with table._cursor(commit=False) as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {statement}")
        return " ".join(str(row_values(row)[-1]) for row in cursor.fetchall())


def test_two_stores_counting_one_key_at_once_admit_exactly_the_limit(
    open_complaints: Callable[[], Complaints],
) -> None:
    # Two applications on one store, as two web servers, twenty threads each.
    servers = [PublicLimits(open_complaints(), LimitSettings()) for _ in range(2)]
    admitted: list[bool] = []
    lock = threading.Lock()

    def attempt(limits: PublicLimits) -> None:
        try:
            limits.admit_intake("198.51.100.99", unique_contact())
            outcome = True
        except LimitReachedError:
            outcome = False
        with lock:
            admitted.append(outcome)

    threads = [threading.Thread(target=attempt, args=(servers[n % 2],)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert admitted.count(True) == 10 and len(admitted) == 40
