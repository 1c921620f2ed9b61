"""Credentials kept as digests only: staff API tokens and residents' lookup secrets.

Both are small aggregates in the complaints' event store, next to the cases. The
token or secret itself is shown once, to the one who receives it, and never
stored, logged, or sent to Temporal: a workflow and its search attributes never
see either.

- `AccessToken` — `mwt_<id>_<secret>`; the id names the aggregate (so a token is
  found without a scan, and revoked by its id), the SHA-256 of the whole token is
  kept. A token has 256 random bits, so a fast digest is enough.
- `ResidentSecret` — the second secret a resident gets with the receipt code, keyed
  by the case id. It is short enough to copy by hand (50 bits), so it is kept as a
  salted scrypt digest: a stolen store does not give the secrets back cheaply.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

from eventsourcing.domain import Aggregate, event

from domain.calendar import to_seoul
from domain.receipt import ALPHABET

TOKEN_NAMESPACE = uuid.UUID("9a5e1c07-3f2b-4d8e-a6c1-2b7d0f4e8c93")
SECRET_NAMESPACE = uuid.UUID("c31f6b2a-8e04-4a9d-b5f7-6d2e9a0c1b48")
TOKEN_PREFIX = "mwt"
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
    prefix, _, rest = token.partition("_")
    token_id, _, secret = rest.partition("_")
    valid = (
        prefix == TOKEN_PREFIX
        and len(token_id) == 12
        and all(ch in "0123456789abcdef" for ch in token_id)
        and len(secret) >= 32
    )
    return token_id if valid else None


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
