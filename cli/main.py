"""Entry point of the `minwon` command.

Each subcommand module exposes `register(subparsers)`; a handler returns the
process exit code and raises `CliError` for a failure the user can fix. Only the
module of the command being run is imported (SUBCOMMAND_MODULES), so a command
starts without loading what others need (the domain's models, the store,
Temporal). Every command that reads or changes a case, a person, the roster,
tokens or reports is a call to the HTTP API, made with the token of `minwon
login` (cli.remote). `minwon admin …` runs on the server host with the server's
own configuration.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from cli.errors import CliError
from privacy.files import private_umask

# Real output of a session against `make run` (see docs/cli.md).
EXAMPLES = """\
examples (real output, long lines folded):
  $ minwon login --token-file han.token
  logged in as han.ops (한운영, 운영지원): ops, staff at http://127.0.0.1:8000;
    token kept in ~/.config/minwon/token
  $ minwon whoami
  han.ops (한운영, 운영지원): ops, staff at http://127.0.0.1:8000
  $ MINWON_TOKEN=$(cat choi.token) minwon note MW-AG9KA-J9E1N --text "남의 사건 메모"
  minwon: refused: choi.tour may not add note: case MW-AG9KA-J9E1N is not theirs;
    it is handled by its assignee, whoever it was escalated to, the designated officer
    or the director (ops can reassign it)
  $ temporal workflow update execute --workflow-id complaint-desk-94ac… --name act \\
        --input '{"type":"answer","text":"forged","by":"lee.service"}'
  Error: unable to update workflow: refused: the payload is not sealed with the
    installation's payload key (type: UnsealedPayload, retryable: false)
"""

# The subcommand modules of cli/, in the order `minwon --help` lists their commands,
# each with the commands its `register` adds. Only the module of the command given is
# imported and registered; `minwon --help`, a mistyped command and a case action (cases
# adds one per staff action of the command registry, domain.commands, besides the
# commands named here) register them all.
SUBCOMMAND_MODULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("session", ("login", "whoami", "logout")),
    ("cases", ("file", "show", "notices", "escalate")),
    ("reports", ("cases", "report")),
    ("audit", ("audit",)),
    ("roster", ("roster",)),
    ("conduct", ("monitoring", "award")),
    ("appointments", ("appointment",)),
    ("surveys", ("survey",)),
    ("tokens", ("token",)),
    ("privacy", ("privacy",)),
    ("deadline", ("deadline",)),
    ("policy", ("policy",)),
    ("admin", ("admin",)),
)


class _Subcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The subparsers action, told the one command being run when only its module is
    registered (`only`; None: all of them), so a module may leave out the parsers of
    its other commands when building them needs heavy imports (cli.cases)."""

    only: str | None = None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command or, given a command that SUBCOMMAND_MODULES names,
    of that command's module alone."""
    parser = argparse.ArgumentParser(
        prog="minwon",
        description=(
            "Complaint (민원) workflow engine for the service charter. Commands act as "
            "the holder of the token given to `minwon login` (or MINWON_TOKEN), at the "
            "server MINWON_URL (default http://127.0.0.1:8000); the server decides what "
            "that person may do. `deadline` and `policy check` need no login; "
            "`admin` runs on the server host."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers: Any = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", action=_Subcommands
    )
    owner = [name for name, commands in SUBCOMMAND_MODULES if command in commands]
    subparsers.only = command if owner else None
    for name in owner or [name for name, _ in SUBCOMMAND_MODULES]:
        importlib.import_module(f"cli.{name}").register(subparsers)
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    """The command being run: the first argument, unless it is an option (`--help`)."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def main(argv: Sequence[str] | None = None) -> int:
    # `minwon admin` opens the store and may create it, and the dev keys; an export
    # written with --output holds personal data: all of it this user's alone.
    private_umask()
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_word(words))
    args = parser.parse_args(words)
    try:
        code: int = args.handler(args)
    except CliError as error:
        print(f"minwon: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Piped into `head` and the reader left: not an error of ours. Python would
        # report the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


# Optional imports of httpx and httpcore that this process never uses: httpx's own
# command line (click, rich, pygments) and trio (for async clients under trio; the
# command's client is synchronous). Each is tried in a `try: … except ImportError` and
# done without when missing; where the dev extras installed them, they were about half
# of the start-up of `minwon show`. Only the console script leaves them out: a process
# that imports cli.main (tests, the web app) is not changed.
UNUSED_OPTIONAL_IMPORTS = ("httpx._main", "trio")


def entry() -> None:
    """The console script. `admin` commands may have used the Temporal SDK, whose
    threads can abort a finalizing interpreter: those end without finalizing."""
    for name in UNUSED_OPTIONAL_IMPORTS:
        # None in sys.modules: `import name` raises ModuleNotFoundError at once.
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    code = main()
    if "temporalio" in sys.modules:
        from workflows.client import exit_without_finalizing

        exit_without_finalizing(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
