"""Entry point of the `minwon` command.

Each subcommand module exposes `register(subparsers)`; a handler returns the
process exit code and raises `CliError` for a failure the user can fix. Every
command that reads or changes a case, a person, the roster, tokens or reports
is a call to the HTTP API, made with the token of `minwon login` (cli.remote).
`minwon admin …` runs on the server host with the server's own configuration.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cli import (
    admin,
    audit,
    cases,
    conduct,
    deadline,
    policy,
    privacy,
    reports,
    roster,
    session,
    tokens,
)
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

SUBCOMMAND_MODULES = (
    session,
    cases,
    reports,
    audit,
    roster,
    conduct,
    tokens,
    privacy,
    deadline,
    policy,
    admin,
)


def build_parser() -> argparse.ArgumentParser:
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
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # `minwon admin` opens the store and may create it, and the dev keys; an export
    # written with --output holds personal data: all of it this user's alone.
    private_umask()
    parser = build_parser()
    args = parser.parse_args(argv)
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


def entry() -> None:
    """The console script. `admin` commands may have used the Temporal SDK, whose
    threads can abort a finalizing interpreter: those end without finalizing."""
    code = main()
    if "temporalio" in sys.modules:
        from workflows.client import exit_without_finalizing

        exit_without_finalizing(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
