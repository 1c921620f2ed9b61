"""Entry point of the `minwon` command.

Each subcommand module exposes `register(subparsers)`; a handler returns the
process exit code and raises `CliError` for a failure the user can fix. Every
command that reads or changes a case, a person, the roster, tokens or reports
is a call to the HTTP API, made with the token of `minwon login` (cli.remote).
`minwon admin …` runs on the server host with the server's own configuration.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import (
    admin,
    audit,
    cases,
    deadline,
    policy,
    privacy,
    reports,
    roster,
    session,
    tokens,
)
from cli.errors import CliError

SUBCOMMAND_MODULES = (
    session,
    cases,
    reports,
    audit,
    roster,
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
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except CliError as error:
        print(f"minwon: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
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
