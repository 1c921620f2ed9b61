"""Entry point of the `minwon` command.

Each subcommand module exposes `register(subparsers)`; a handler returns the
process exit code and raises `CliError` for a failure the user can fix.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import audit, cases, deadline, policy, privacy, projections, reports, roster, tokens
from cli.actor import add_top_level_option
from cli.errors import CliError
from workflows.client import exit_without_finalizing

SUBCOMMAND_MODULES = (cases, deadline, policy, audit, roster, tokens, privacy, projections, reports)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minwon",
        description=(
            "Complaint (민원) workflow engine for the service charter. Every command runs "
            "as someone on the roster: --actor STAFF_ID (before or after the subcommand) "
            "or MINWON_ACTOR."
        ),
    )
    add_top_level_option(parser)
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
    """The console script: a process that may have used the Temporal SDK."""
    exit_without_finalizing(main())


if __name__ == "__main__":
    entry()
