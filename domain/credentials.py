"""Credentials kept as digests only: staff tokens and sessions, residents' lookup secrets.

Each is a small aggregate in the complaints' event store, next to the cases. The
token, session or secret itself is shown once, to the one who receives it, and never
stored, logged, or sent to Temporal: a workflow and its search attributes never
see any of them.

- `AccessToken` — `mwt_<id>_<secret>`; the id names the aggregate (so a token is
  found without a scan, and revoked by its id), the SHA-256 of the whole token is
  kept. A token has 256 random bits, so a fast digest is enough.
- `ResidentSecret` — the second secret a resident gets with the receipt code, keyed
  by the case id. It is short enough to copy by hand (50 bits), so it is kept as a
  salted scrypt digest: a stolen store does not give the secrets back cheaply.
- `StaffSession` — `mws_<id>_<secret>`, what the staff desk's cookie carries once a
  token has signed someone in: eight hours, ended by signing out, dead with its
  token. A copied cookie is worth a working day at most, never the token's 90 days.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
import uuid
from datetime import datetime, timedelta

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic

from domain.calendar import to_seoul
from domain.receipt import ALPHABET

TOKEN_NAMESPACE = uuid.UUID("9a5e1c07-3f2b-4d8e-a6c1-2b7d0f4e8c93")
SECRET_NAMESPACE = uuid.UUID("c31f6b2a-8e04-4a9d-b5f7-6d2e9a0c1b48")
SESSION_NAMESPACE = uuid.UUID("5d0b7e3a-91c4-4f26-8a3e-e47c2b19d605")
TOKEN_PREFIX = "mwt"
SESSION_PREFIX = "mws"
SESSION_HOURS = 8
SECRET_LENGTH = 10
# scrypt at 16 MiB: about 50 ms a check on this kind of machine.
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SCRYPT_SCHEME = "scrypt:n=16384,r=8,p=1"


class CredentialError(ValueError):
    pass


# -- staff tokens ------------------------------------------------------------------------


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id_of(token: str) -> str | None:
    """The id part of `mwt_<id>_<secret>`, or None for anything else."""
    return _id_of(token, TOKEN_PREFIX)


def _id_of(text: str, kind: str) -> str | None:
    # The prefix keeps the two apart: a session is no bearer token, a token no cookie.
    prefix, _, rest = text.partition("_")
    credential_id, _, secret = rest.partition("_")
    valid = (
        prefix == kind
        and len(credential_id) == 12
        and all(ch in "0123456789abcdef" for ch in credential_id)
        and len(secret) >= 32
    )
    return credential_id if valid else None


class AccessToken(Aggregate):
    """A staff member's bearer token for the API and the staff desk."""

    @staticmethod
    def create_id(token_id: str) -> uuid.UUID:
        return uuid.uuid5(TOKEN_NAMESPACE, token_id)

    @classmethod
    def issue(
        cls, *, staff: str, issued_by: str, at: datetime, days: int
    ) -> tuple[AccessToken, str]:
        """A new token for `staff`, valid `days` days; returns it with its text (shown once)."""
        if not 1 <= days <= 3660:
            raise CredentialError("a token is valid from 1 to 3660 days")
        token_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        at = to_seoul(at)
        issued = cls(
            token_id=token_id,
            staff=staff,
            digest=token_digest(token),
            issued_by=issued_by,
            issued_at=at,
            expires_at=at + timedelta(days=days),
        )
        return issued, token

    @event("Issued")
    def __init__(
        self,
        token_id: str,
        staff: str,
        digest: str,
        issued_by: str,
        issued_at: datetime,
        expires_at: datetime,
    ) -> None:
        self.token_id = token_id
        self.staff = staff
        self.digest = digest
        self.issued_by = issued_by
        self.issued_at = issued_at
        self.expires_at = expires_at
        self.revoked_at: datetime | None = None

    def revoke(self, *, by: str, at: datetime) -> None:
        if self.revoked_at is not None:
            return
        self._revoked(by=by, at=to_seoul(at))

    @event("Revoked")
    def _revoked(self, by: str, at: datetime) -> None:
        self.revoked_at = at

    def admits(self, token: str, now: datetime) -> bool:
        """True if `token` is this one, not revoked and not expired."""
        matches = hmac.compare_digest(self.digest, token_digest(token))
        return matches and self.revoked_at is None and now < self.expires_at


# -- staff desk sessions -----------------------------------------------------------------


def session_id_of(text: str) -> str | None:
    """The id part of `mws_<id>_<secret>`, or None for anything else (a token, too)."""
    return _id_of(text, SESSION_PREFIX)


class StaffSession(Aggregate):
    """A staff member signed in to the desk with a token, for a few hours."""

    @staticmethod
    def create_id(session_id: str) -> uuid.UUID:
        return uuid.uuid5(SESSION_NAMESPACE, session_id)

    @classmethod
    def start(
        cls, *, staff: str, token_id: str, at: datetime, hours: int = SESSION_HOURS
    ) -> tuple[StaffSession, str]:
        """A new session for `staff`, from their token; returns it with its cookie's text."""
        session_id = secrets.token_hex(6)
        text = f"{SESSION_PREFIX}_{session_id}_{secrets.token_urlsafe(32)}"
        at = to_seoul(at)
        started = cls(
            session_id=session_id,
            staff=staff,
            token_id=token_id,
            digest=token_digest(text),
            created_at=at,
            expires_at=at + timedelta(hours=hours),
        )
        return started, text

    @event("Started")
    def __init__(
        self,
        session_id: str,
        staff: str,
        token_id: str,
        digest: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        self.session_id = session_id
        self.staff = staff
        self.token_id = token_id
        self.digest = digest
        self.created_at = created_at
        self.expires_at = expires_at
        self.ended_at: datetime | None = None

    def end(self, *, at: datetime) -> None:
        """Signed out: the cookie's text no longer admits anyone, wherever it was copied."""
        if self.ended_at is not None:
            return
        self._ended(at=to_seoul(at))

    @event("Ended")
    def _ended(self, at: datetime) -> None:
        self.ended_at = at

    def matches(self, text: str) -> bool:
        return hmac.compare_digest(self.digest, token_digest(text))

    def admits(self, text: str, now: datetime) -> bool:
        """True if `text` is this session's, not ended and not expired.

        Whether its token still admits is the caller's to check: the token is
        another aggregate, and a revoked token ends every session it started."""
        return self.matches(text) and self.ended_at is None and now < self.expires_at


# -- residents' secrets ------------------------------------------------------------------------


def new_secret() -> str:
    """Ten characters of Crockford's base32, shown as `XXXXX-XXXXX`."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalise_secret(text: str) -> str:
    """What a resident types: any case, spaces or hyphens, O for 0, I or L for 1."""
    cleaned = text.strip().upper().replace(" ", "").replace("-", "")
    return cleaned.translate(str.maketrans("OIL", "011"))


def _scrypt(secret: str, salt: bytes) -> str:
    return hashlib.scrypt(
        normalise_secret(secret).encode(), salt=salt, maxmem=64 * 2**20, **SCRYPT
    ).hex()


class ResidentSecret(Aggregate):
    """The digest of the secret a resident got with their receipt code."""

    @staticmethod
    def create_id(case_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(SECRET_NAMESPACE, str(case_id))

    @classmethod
    def issue(cls, case_id: uuid.UUID) -> tuple[ResidentSecret, str]:
        """A new secret for the case; returns it with its text (shown to the resident once)."""
        secret = new_secret()
        salt = secrets.token_bytes(16)
        return cls(
            case_id=case_id, salt=salt.hex(), digest=_scrypt(secret, salt), scheme=SCRYPT_SCHEME
        ), secret

    @event("Issued")
    def __init__(self, case_id: uuid.UUID, salt: str, digest: str, scheme: str) -> None:
        self.case_id = case_id
        self.salt = salt
        self.digest = digest
        self.scheme = scheme

    def admits(self, secret: str) -> bool:
        if len(normalise_secret(secret)) != SECRET_LENGTH:
            return False
        return hmac.compare_digest(self.digest, _scrypt(secret, bytes.fromhex(self.salt)))


# These aggregates lived in web/credentials.py until the domain took them: records
# stored before name them by that module, and still resolve (their chains and
# digests do not depend on the module's name).
register_topic("web.credentials", sys.modules[__name__])
