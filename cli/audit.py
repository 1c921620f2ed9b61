"""Auditor subcommands: `minwon audit replay | verify | export | access`.

A client of the audit API (web.audit): the server reads the event store, asks
Temporal for each case workflow's last view of its case (the anchor `verify`
holds each chain's tail against), checks that the token's holder may audit and
may see what they ask for, and renders the answer this prints. `verify` exits 1
when something is broken, as the server's answer says. Only the file that
`export --output` writes is made here.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cli import remote
from cli.args import moment
from cli.errors import CliError

PERSONAL_HELP = (
    "reveal the complainant's contact and words (masked by default): for the case's "
    "assignee, the designated officer and auditors; each reveal is written to the access log"
)
# What an export is of, for the line that says where it was written.
RECEIPT_HEADER = "Minwon-Receipt-Code"
EVENTS_HEADER = "Minwon-Events"


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "audit",
        help="auditors: replay a case, verify hash chains, export a history",
        description="Read a case's history as it was recorded, and check nothing was altered.",
    )
    actions = group.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    replay = actions.add_parser(
        "replay",
        help="a case's whole history, in order, with its clocks after each event",
        description=(
            "Every event of the case in order: business moment (KST), actor, event, "
            "details and the commitment clocks as they stood after it, then the case's "
            "state at the end (or at --as-of / --version)."
        ),
    )
    _history_arguments(replay)
    replay.add_argument("--json", action="store_true", help="one JSON document for machines")
    replay.set_defaults(handler=run_replay)

    verify = actions.add_parser(
        "verify",
        help="recompute hash chains and check each tail against its workflow",
        description=(
            "Recompute the hash chain of one case or of every case in the store, and "
            "compare each case's last event with the version and digest its Temporal "
            "workflow last saw (the chain alone cannot see the last events change or "
            "disappear). Exits 1 if anything is broken."
        ),
    )
    verify.add_argument("code", nargs="?", help="receipt code (or case id)")
    verify.add_argument("--all", action="store_true", help="every case in the event store")
    verify.add_argument(
        "--bundle",
        metavar="FILE",
        help="offline: a bundle from `minwon admin export-bundle`, checked here with "
        "--public-key alone (no server, no login)",
    )
    verify.add_argument(
        "--public-key",
        metavar="KEY",
        help="with --bundle: the published checkpoint key (its text, or a file holding it)",
    )
    verify.add_argument(
        "--no-tail", action="store_true", help="do not ask Temporal: check the chains only"
    )
    verify.add_argument("--json", action="store_true", help="one JSON document for machines")
    verify.set_defaults(handler=run_verify)

    access = actions.add_parser(
        "access",
        help="the access log: who read whose personal data, when, from where",
        description=(
            "Entries of the hash-chained access log, one per read of personal data. "
            "--actor chooses whose reads to list; who is asking is whoever is logged in. "
            "Exits 1 if a day's log is broken."
        ),
    )
    access.add_argument("--person", help="a person's pseudonym (p-…)")
    access.add_argument("--case", metavar="CODE", help="the person who filed this case")
    access.add_argument(
        "--actor",
        dest="reader",
        metavar="READER",
        help="only reads by this reader: a staff id, or resident:RECEIPT-CODE",
    )
    access.add_argument("--since", type=date.fromisoformat, help="first day (default: 30 days ago)")
    access.add_argument("--until", type=date.fromisoformat, help="last day (default: today)")
    access.add_argument("--json", action="store_true", help="one JSON document for machines")
    access.set_defaults(handler=run_access)

    export = actions.add_parser(
        "export",
        help="a case's history as a JSON or CSV file",
        description=(
            "The rows of `minwon audit replay`, with each event's chain digest. CSV "
            "written to a file starts with a UTF-8 byte-order mark so Excel reads 한글."
        ),
    )
    _history_arguments(export)
    export.add_argument("--format", choices=("json", "csv"), required=True)
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=run_export)


def _history_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("code", help="receipt code (or case id)")
    point = parser.add_mutually_exclusive_group()
    point.add_argument(
        "--as-of",
        type=moment,
        metavar="MOMENT",
        help="only what had happened by this moment, e.g. 2026-10-01T12:00+09:00",
    )
    point.add_argument("--version", type=int, metavar="N", help="only the first N events")
    parser.add_argument("--show-personal", action="store_true", help=PERSONAL_HELP)


def _case_path(code: str, what: str) -> str:
    # A code may be typed with spaces or as a case id; the server reads either.
    return f"/api/audit/cases/{quote(code, safe='')}/{what}"


def _history_params(args: argparse.Namespace) -> dict[str, Any]:
    if args.version is not None and args.version < 1:
        raise CliError("--version counts from 1")
    return {"as_of": args.as_of, "version": args.version, "show_personal": args.show_personal}


def run_replay(args: argparse.Namespace) -> int:
    params = {**_history_params(args), "format": "json" if args.json else "text"}
    return remote.printed(remote.request("GET", _case_path(args.code, "replay"), params=params))


def run_export(args: argparse.Namespace) -> int:
    params = {**_history_params(args), "format": args.format}
    response = remote.request("GET", _case_path(args.code, "export"), params=params)
    if args.output is None:
        return remote.printed(response)
    encoding = "utf-8-sig" if args.format == "csv" else "utf-8"
    try:
        args.output.write_text(response.text, encoding=encoding, newline="")
    except OSError as error:
        raise CliError(f"cannot write {args.output}: {error}") from None
    rows = response.headers.get(EVENTS_HEADER, "?")
    code = response.headers.get(RECEIPT_HEADER, args.code)
    masked = "shown" if args.show_personal else "masked"
    print(f"wrote {rows} events of {code} to {args.output} "
          f"({args.format}, personal data {masked})")  # fmt: skip
    return 0


def run_verify(args: argparse.Namespace) -> int:
    if args.bundle:
        return verify_bundle_offline(args)
    if bool(args.code) == bool(args.all):
        raise CliError("give a receipt code or --all")
    params = {
        "code": args.code,
        "all": args.all,
        "no_tail": args.no_tail,
        "format": "json" if args.json else "text",
    }
    return remote.printed(remote.request("GET", "/api/audit/verify", params=params))


def run_access(args: argparse.Namespace) -> int:
    params = {
        "person": args.person,
        "case": args.case,
        "reader": args.reader,
        "since": args.since,
        "until": args.until,
        "format": "json" if args.json else "text",
    }
    return remote.printed(remote.request("GET", "/api/audit/access", params=params))


def verify_bundle_offline(args: argparse.Namespace) -> int:
    """Trust nothing but the public key: every check runs here, on the file."""
    from pathlib import Path

    from domain.bundle import verify_bundle
    from privacy.signing import SigningKeyError, Verifier

    if not args.public_key:
        raise CliError("--bundle needs --public-key (the text, or a file holding it)")
    key_text = args.public_key
    if Path(key_text).is_file():
        key_text = Path(key_text).read_text(encoding="utf-8").strip()
    try:
        verifier = Verifier(key_text)
    except SigningKeyError as error:
        raise CliError(f"--public-key: {error}") from None
    bundle = Path(args.bundle)
    if not bundle.is_file():
        raise CliError(f"--bundle {bundle}: no such file")
    report = verify_bundle(bundle, verifier)
    if args.json:
        document = {
            "records": report.records,
            "checkpoints": report.checkpoints,
            "chained": report.chained,
            "problems": report.problems,
            "intact": report.clean,
        }
        print(json.dumps(document, ensure_ascii=False))
    else:
        for problem in report.problems:
            print(f"BROKEN {problem}")
        print(report.summary())
    return 0 if report.clean else 1
