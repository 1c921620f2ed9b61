"""The checkpoint activity: sign the store when a checkpoint is due.

Run on every reconcile pass (`workflows.reconcile`, every 10 minutes) and by
`minwon admin checkpoint`. A checkpoint is signed when 1,000 records were added
since the last one (`MINWON_CHECKPOINT_EVENTS`) or an hour has passed
(`MINWON_CHECKPOINT_MINUTES`) with any record added; each is kept in the store
and appended to the checkpoint file (`MINWON_CHECKPOINT_FILE`, default
`var/checkpoints.jsonl`), which an operator ships to write-once storage. Today's
access log is opened first, so its days are contiguous and each lies inside a
checkpoint.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import IntegrityError
from temporalio import activity

from application.service import Complaints
from domain.calendar import SEOUL
from domain.checkpoint import (
    Signer,
    sign_checkpoint,
)
from privacy.files import appending, private_folder
from privacy.signing import key_id, public_key_text, sign
from runtime.settings import Settings

log = structlog.get_logger()


def signer_of(key: Ed25519PrivateKey) -> Signer:
    return Signer(key_id(public_key_text(key)), lambda data: sign(key, data))


def _now() -> datetime:
    return datetime.now(SEOUL)


class Checkpoints:
    def __init__(
        self,
        complaints: Complaints,
        key: Ed25519PrivateKey | None,
        *,
        settings: Settings | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        """`settings` give the file kept outside the store and how often to sign."""
        settings = settings or Settings()
        self.complaints = complaints
        self.signer = None if key is None else signer_of(key)
        self.file = settings.checkpoint_file
        self.every_events = settings.checkpoint_events
        self.every = timedelta(minutes=settings.checkpoint_minutes)
        self.clock = clock

    @activity.defn(name="sign_checkpoint")
    async def run(self, force: bool = False) -> int | None:
        """The number of the checkpoint signed, or None when none was due."""
        return await asyncio.to_thread(self.sign, force)

    def sign(self, force: bool = False) -> int | None:
        if self.signer is None:
            log.error("checkpoint_not_signed", reason="no signing key (MINWON_SIGNING_KEY)")
            return None
        now = self.clock()
        try:
            signed = sign_checkpoint(
                self.complaints,
                self.signer,
                now,
                force=force,
                every_events=self.every_events,
                every=self.every,
            )
        except IntegrityError:
            log.info("checkpoint_signed_elsewhere")  # another worker's pass won
            return None
        if signed is None:
            return None
        self._append(signed)
        statement = signed["statement"]
        log.info(
            "checkpoint_signed",
            number=statement["number"],
            position=statement["position"],
            records=statement["records"],
        )
        return int(statement["number"])

    def _append(self, signed: dict[str, Any]) -> None:
        private_folder(self.file.parent)
        with appending(self.file) as out:
            out.write(json.dumps(signed, ensure_ascii=False, sort_keys=True) + "\n")
