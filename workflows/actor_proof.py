"""The API's word for who acts: an HMAC over the action, checked by the command activity.

The payload key lets a process talk to the case workflows; it does not let it
say who acts. Every action a person sends carries `proof`: an HMAC-SHA256, under
the actor key, of the case's workflow id, the update's id and the action itself
(its actor included). The API makes it once it has authenticated the person
(`workflows.client.act` signs); the command activity checks it before it records
anything. A Temporal client that holds the payload key but not the actor key can
neither name another actor nor move a signed action to another case; a captured
action sent again has to keep its update id, and Temporal answers a repeated
update id with the first outcome instead of running it twice. (No clock is in the
proof: the workflow's clock is not the API's, e.g. on the time-skipping server.)

The key is `MINWON_ACTOR_KEY` (32 bytes, url-safe base64), on the API hosts and the
workers only. The embedded stack (no MINWON_PAYLOAD_KEY either) keeps one in
`var/actor.key`, mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from functools import cache
from typing import TypeVar

from domain.commands import Action
from privacy.files import private_folder
from runtime.paths import VAR
from runtime.settings import Settings
from workflows.codec import decode_key, new_key

ACTOR_KEY_ENV = "MINWON_ACTOR_KEY"
DEV_ACTOR_KEY_FILE = VAR / "actor.key"
VERSION = "v1"
A = TypeVar("A", bound=Action)


class ActorProofError(ValueError):
    pass


class ActorSeal:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _digest(self, workflow_id: str, update_id: str, action: Action) -> str:
        body = action.model_dump_json(exclude={"proof"})
        message = f"{VERSION}\n{workflow_id}\n{update_id}\n{body}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, workflow_id: str, update_id: str, action: A) -> A:
        """The action with its proof, for this case and this update only."""
        proof = f"{VERSION}.{self._digest(workflow_id, update_id, action)}"
        return action.model_copy(update={"proof": proof})

    def check(self, workflow_id: str, update_id: str | None, action: Action) -> None:
        """ActorProofError unless the action's proof is ours, for this case and update."""
        if not action.proof:
            raise ActorProofError(
                "refused: the action carries no proof of who acts (send it through the API)"
            )
        version, _, digest = action.proof.partition(".")
        if version != VERSION or not update_id:
            raise ActorProofError("refused: the action's proof of who acts is malformed")
        if not hmac.compare_digest(self._digest(workflow_id, update_id, action), digest):
            raise ActorProofError(
                "refused: the action's proof of who acts does not verify (another actor, "
                "another case, or not made by the API)"
            )


def seal_from_env(env: Mapping[str, str]) -> ActorSeal:
    """The seal of these settings: MINWON_ACTOR_KEY, or the embedded stack's key file."""
    text = env.get(ACTOR_KEY_ENV, "")
    if not text:
        if env.get("MINWON_PAYLOAD_KEY"):
            raise ActorProofError(
                f"{ACTOR_KEY_ENV} is not set (it is needed wherever MINWON_PAYLOAD_KEY is): "
                "generate one with `python -c 'from workflows.codec import new_key; "
                "print(new_key())'`"
            )
        text = _dev_key()
    return ActorSeal(decode_key(text))


def _dev_key() -> str:
    path = DEV_ACTOR_KEY_FILE
    if not path.exists():
        private_folder(path.parent)
        # Written whole under another name, then linked in: a process of the embedded
        # stack starting at the same moment reads either no file or the whole key.
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(new_key() + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # the other process linked its key first: both use that one
        finally:
            draft.unlink()
    return path.read_text(encoding="utf-8").strip()


@cache
def default_seal() -> ActorSeal:
    """The seal of this process's settings, read once."""
    return seal_from_env(Settings.load().env)
