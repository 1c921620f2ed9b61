"""`minwon login | whoami | logout`: which token the command acts with.

`login` reads a token (from the terminal without echo, from `--token-file`, or
from standard input when it is not a terminal), asks the server who it belongs
to, and keeps it in the user's config directory with mode 0600. `MINWON_TOKEN`
overrides the kept one. `logout` forgets it; `--revoke` also revokes it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from cli import remote
from cli.errors import CliError


def register(subparsers: Any) -> None:
    login = subparsers.add_parser(
        "login",
        help="keep a token for the next commands (asked for without echo)",
        description=(
            "Check a token with the server and keep it in "
            "$XDG_CONFIG_HOME/minwon/token (mode 0600). Tokens come from ops or the "
            "director (`minwon token issue`), or, for the first one, from "
            "`minwon admin bootstrap` on the server host."
        ),
    )
    login.add_argument("--token-file", type=Path, help="read the token from this file")
    login.set_defaults(handler=run_login)

    whoami = subparsers.add_parser("whoami", help="who the current token acts as, and their roles")
    whoami.add_argument("--json", action="store_true", help="print JSON")
    whoami.set_defaults(handler=run_whoami)

    logout = subparsers.add_parser("logout", help="forget the kept token")
    logout.add_argument(
        "--revoke", action="store_true", help="also revoke it at the server, for every device"
    )
    logout.set_defaults(handler=run_logout)


def _read_token(args: argparse.Namespace) -> str:
    if args.token_file:
        try:
            text = args.token_file.read_text(encoding="utf-8")
        except OSError as error:
            raise CliError(f"{args.token_file}: {error.strerror}") from None
    elif sys.stdin.isatty():
        text = getpass.getpass("token (mwt_…): ")
    else:
        text = sys.stdin.readline()
    token = str(text).strip()
    if not token:
        raise CliError("no token given")
    return token


def _describe(me: Any) -> str:
    name = f" ({me['name']}, {me['title']})" if me.get("name") else ""
    roles = ", ".join(me.get("roles") or []) or "no role today"
    return f"{me['staff']}{name}: {roles}"


def run_login(args: argparse.Namespace) -> int:
    token = _read_token(args)
    me = remote.request("GET", "/api/staff/me", token=token).json()
    path = remote.keep_token(token)
    print(f"logged in as {_describe(me)} at {remote.server_url()}; token kept in {path}")
    return 0


def run_whoami(args: argparse.Namespace) -> int:
    response = remote.request("GET", "/api/staff/me")
    if args.json:
        print(response.text)
    else:
        print(f"{_describe(response.json())} at {remote.server_url()}")
    return 0


def run_logout(args: argparse.Namespace) -> int:
    if args.revoke:
        remote.request("POST", "/api/staff/me/revoke", json={})
        print("token revoked at the server")
    print("logged out" if remote.forget_token() else "no token was kept")
    return 0
