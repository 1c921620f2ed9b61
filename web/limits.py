"""Limits on what anyone may do without an account: file complaints, guess secrets.

- **Intake** (`POST /api/complaints` and the form) is counted per client address
  (`MINWON_INTAKE_LIMIT_ADDRESS`, 10 an hour) and per contact
  (`MINWON_INTAKE_LIMIT_CONTACT`, 5 a day): every intake mails a receipt to the
  contact given, so without them the center's mail would relay anyone's text to
  any address. A contact is counted by a keyed hash (`PersonKeys.contact_digest`),
  never in clear and never by its pseudonym, so the counts name nobody.
- **Status lookups** count wrong secrets per (client address, receipt code)
  (`MINWON_LOOKUP_LIMIT`, 10 in 15 minutes), then lock that pair out for 15
  minutes, twice as long at each repeat, a day at the most. Receipt codes are
  public on the notices page: counted by code alone, anyone could lock the
  resident out of their own case; counted with the address, a guesser locks out
  only themselves.

The counts live in one table in the event store's database
(`minwon_rate_limits`, `store.tables`): every web server of an installation
counts together, and a restart forgets nothing. Not as events: a count changes
at every attempt and means nothing a day later, and as events an attacker's
attempts would grow the store for ever. A key is one row, read and written
under its row lock in one transaction, so an attempt costs the same however many
keys there are; rows past their time are deleted by an indexed DELETE at most
once a minute per process (`PURGE_EVERY`), never scanned on a request.

An IPv6 client is counted by its /64: one host usually holds the whole network.
"""

from __future__ import annotations

import ipaddress
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from application.service import Complaints
from store.tables import StoreTables, row_values

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
UNITS = {"s": 1.0, "m": MINUTE, "h": HOUR, "d": DAY}
# The longest lock-out of one (address, receipt code), however often it repeats.
LONGEST_LOCKOUT = DAY
# How long a lock-out is remembered after it ends, so that the next one is longer.
STRIKE_MEMORY = DAY
PURGE_EVERY = MINUTE
CONTACT_PURPOSE = "intake-limit"


class LimitSettingError(ValueError):
    """A limit setting that does not read as COUNT/PERIOD."""


class LimitReachedError(Exception):
    """Refused: `what` ("address", "contact", "lookup") is over its limit."""

    def __init__(self, what: str, retry_after: float) -> None:
        super().__init__(what)
        self.what = what
        # Whole seconds, at least one: what Retry-After says.
        self.retry_after = max(1, math.ceil(retry_after))


@dataclass(frozen=True)
class Rate:
    """At most `count` in `seconds`."""

    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str, name: str = "limit") -> Rate:
        """`10/1h`, `5/1d`, `10/15m`, `3/30s` (the number before the unit may be left out)."""
        found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*", text)
        if found is None or int(found[1]) < 1 or found[2] == "0":
            raise LimitSettingError(
                f"{name}={text!r}: write a count and a period, like 10/1h, 5/1d or 10/15m"
            )
        return cls(int(found[1]), int(found[2] or 1) * UNITS[found[3]])


@dataclass(frozen=True)
class LimitSettings:
    intake_per_address: Rate = Rate(10, HOUR)
    intake_per_contact: Rate = Rate(5, DAY)
    lookup_failures: Rate = Rate(10, 15 * MINUTE)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LimitSettings:
        defaults = cls()
        names = {
            "intake_per_address": "MINWON_INTAKE_LIMIT_ADDRESS",
            "intake_per_contact": "MINWON_INTAKE_LIMIT_CONTACT",
            "lookup_failures": "MINWON_LOOKUP_LIMIT",
        }
        return cls(
            **{
                field: Rate.parse(env[name], name) if env.get(name) else getattr(defaults, field)
                for field, name in names.items()
            }
        )


@dataclass(frozen=True)
class Count:
    """One key's row: attempts in the window that began at the first of them, and
    for lookups the lock-out and how many came before it."""

    hits: int = 0
    window_start: float = 0.0
    blocked_until: float = 0.0
    strikes: int = 0
    expires_at: float = 0.0

    def hit(self, now: float, rate: Rate) -> Count:
        """One more attempt; the first after the window ended starts a new one."""
        if self.expires_at <= now:
            return Count(hits=1, window_start=now, expires_at=now + rate.seconds)
        if self.window_start + rate.seconds <= now:
            # A lookup's row outlives its window while it remembers a lock-out.
            expires_at = max(self.expires_at, now + rate.seconds)
            return replace(self, hits=1, window_start=now, expires_at=expires_at)
        return replace(self, hits=self.hits + 1)

    def failed(self, now: float, rate: Rate) -> Count:
        """One more wrong secret; the last one the rate allows starts a lock-out."""
        counted = self.hit(now, rate)
        if counted.hits < rate.count:
            return counted
        lockout = min(rate.seconds * 2**counted.strikes, LONGEST_LOCKOUT)
        return Count(
            hits=0,
            window_start=now,
            blocked_until=now + lockout,
            strikes=counted.strikes + 1,
            expires_at=now + lockout + STRIKE_MEMORY,
        )


class LimitTable(StoreTables):
    """`minwon_rate_limits`: one row per key, beside the events."""

    def __init__(self, complaints: Complaints) -> None:
        super().__init__(complaints.recorder)
        self._execute_all(
            [
                "CREATE TABLE IF NOT EXISTS {p}minwon_rate_limits (key {text} PRIMARY KEY, "
                "hits INTEGER NOT NULL, window_start {real} NOT NULL, "
                "blocked_until {real} NOT NULL, strikes INTEGER NOT NULL, "
                "expires_at {real} NOT NULL)",
                "CREATE INDEX IF NOT EXISTS minwon_rate_limits_expiry "
                "ON {p}minwon_rate_limits (expires_at)",
            ]
        )

    def change(self, key: str, change: Callable[[Count], Count]) -> Count:
        """The key's count changed by `change`, with its row locked meanwhile."""
        with self._cursor() as cursor:
            # A write first, so the row (PostgreSQL) or the database (SQLite) is
            # locked from the start: two servers counting the same key take turns.
            cursor.execute(
                self._sql(
                    "INSERT INTO {p}minwon_rate_limits AS r (key, hits, window_start, "
                    "blocked_until, strikes, expires_at) VALUES (?, 0, 0, 0, 0, 0) "
                    "ON CONFLICT (key) DO UPDATE SET hits = r.hits "
                    "RETURNING hits, window_start, blocked_until, strikes, expires_at"
                ),
                (key,),
            )
            changed = change(Count(*row_values(cursor.fetchone())))
            cursor.execute(
                self._sql(
                    "UPDATE {p}minwon_rate_limits SET hits = ?, window_start = ?, "
                    "blocked_until = ?, strikes = ?, expires_at = ? WHERE key = ?"
                ),
                (
                    changed.hits,
                    changed.window_start,
                    changed.blocked_until,
                    changed.strikes,
                    changed.expires_at,
                    key,
                ),
            )
        return changed

    def blocked_until(self, key: str) -> float:
        found = self._one("SELECT blocked_until FROM {p}minwon_rate_limits WHERE key = ?", (key,))
        return 0.0 if found is None else float(found)

    def forget(self, key: str) -> None:
        with self._cursor() as cursor:
            cursor.execute(self._sql("DELETE FROM {p}minwon_rate_limits WHERE key = ?"), (key,))

    def purge(self, now: float) -> None:
        with self._cursor() as cursor:
            cursor.execute(
                self._sql("DELETE FROM {p}minwon_rate_limits WHERE expires_at <= ?"), (now,)
            )


def address_key(host: str) -> str:
    """What a client is counted by: its IPv4 address, or its IPv6 /64."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # not an address (a test client, a Unix socket): as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class PublicLimits:
    """The intake and lookup limits of `LimitSettings`, counted in `LimitTable`."""

    def __init__(
        self,
        complaints: Complaints,
        settings: LimitSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or LimitSettings()
        self.table = LimitTable(complaints)
        self._keys = complaints.keys
        self._clock = clock
        self._purged_at = float("-inf")
        self._purge_lock = threading.Lock()

    def admit_intake(self, address: str, contact: str) -> None:
        """Count one intake, or refuse it: the address is counted first, so a refused
        address does not use up the contact's allowance."""
        now = self._clock()
        self._purge(now)
        by_address = f"intake:address:{address_key(address)}"
        self._count(by_address, self.settings.intake_per_address, "address", now)
        by_contact = f"intake:contact:{self._keys.contact_digest(contact, CONTACT_PURPOSE)}"
        self._count(by_contact, self.settings.intake_per_contact, "contact", now)

    def _count(self, key: str, rate: Rate, what: str, now: float) -> None:
        count = self.table.change(key, lambda current: current.hit(now, rate))
        if count.hits > rate.count:
            raise LimitReachedError(what, count.window_start + rate.seconds - now)

    def check_lookup(self, address: str, receipt_code: str) -> None:
        """Refuse a lookup while this address is locked out of this receipt code."""
        now = self._clock()
        self._purge(now)
        until = self.table.blocked_until(_lookup_key(address, receipt_code))
        if until > now:
            raise LimitReachedError("lookup", until - now)

    def lookup_failed(self, address: str, receipt_code: str) -> None:
        now = self._clock()
        rate = self.settings.lookup_failures
        self.table.change(
            _lookup_key(address, receipt_code), lambda current: current.failed(now, rate)
        )

    def lookup_admitted(self, address: str, receipt_code: str) -> None:
        """The right secret: this address's wrong ones for the code are forgotten."""
        self.table.forget(_lookup_key(address, receipt_code))

    def _purge(self, now: float) -> None:
        with self._purge_lock:
            due = now - self._purged_at >= PURGE_EVERY
            if due:
                self._purged_at = now
        if due:
            self.table.purge(now)


def _lookup_key(address: str, receipt_code: str) -> str:
    return f"lookup:{address_key(address)}:{receipt_code}"
