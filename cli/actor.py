"""Who runs a command: the actor every `minwon` subcommand is checked against.

The actor is `--actor STAFF_ID` after the subcommand, else `--actor` before it
(`minwon --actor X …`), else MINWON_ACTOR. Where a subcommand's own `--actor`
means something else (`audit access --actor Y` lists Y's reads), the actor comes
from the other two. Whoever it is must be on the roster on the day, with a role
the action allows (domain.access); the engine's own actors cannot be borrowed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
from datetime import datetime

from eventsourcing.persistence import PersistenceError

from cli.errors import CliError
from domain.access import SYSTEM_ACTORS, AccessDeniedError, require
from domain.policy import PolicyError
from domain.service import Complaints

ACTOR_ENV = "MINWON_ACTOR"
# The option before the subcommand has its own `dest`, so it never collides with
# a subcommand's `--actor`, whatever that one means.
TOP_LEVEL_DEST = "top_level_actor"


def add_top_level_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--actor",
        dest=TOP_LEVEL_DEST,
        metavar="STAFF_ID",
        help=f"who runs the command (default: ${ACTOR_ENV}); may also follow the subcommand",
    )


def add_actor_option(parser: argparse.ArgumentParser, help: str = "your staff id") -> None:
    parser.add_argument("--actor", metavar="STAFF_ID", help=f"{help} (default: ${ACTOR_ENV})")


def acting_actor(args: argparse.Namespace) -> str:
    """The actor named for this run, or a CliError saying how to name one."""
    actor = (
        getattr(args, "actor", None)
        or getattr(args, TOP_LEVEL_DEST, None)
        or os.environ.get(ACTOR_ENV)
    )
    if actor:
        return str(actor)
    if hasattr(args, "actor"):
        raise CliError(f"who is acting? pass --actor STAFF_ID or set {ACTOR_ENV}")
    raise CliError(
        f"who is asking? pass it before the subcommand (minwon --actor STAFF_ID …) or set "
        f"{ACTOR_ENV}; after the subcommand --actor means something else (see --help)"
    )


def authorise(args: argparse.Namespace, action: str) -> tuple[str, frozenset[str]]:
    """The acting staff member and their roles, if the roster lets them do `action`."""
    actor = acting_actor(args)
    if actor in SYSTEM_ACTORS:
        raise CliError(f"refused: {actor!r} is the engine's own actor, not a person's")
    try:
        complaints = Complaints()
    except PolicyError as error:
        raise CliError(f"cannot look {actor} up on the roster: invalid policy {error}") from None
    except (PersistenceError, OSError) as error:
        raise CliError(f"cannot look {actor} up on the roster: {error}") from None
    try:
        roles = require(complaints.roster, actor, action, datetime.now().astimezone())
    except AccessDeniedError as error:
        raise CliError(f"refused: {error}") from None
    finally:
        complaints.close()
    return actor, roles


def origin() -> str:
    """Where a read came from, for the access log."""
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"
