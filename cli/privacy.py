"""`minwon privacy erase`: destroy a complainant's personal data (crypto-shredding).

A call to the API as the logged-in person (the director or the designated
officer); the erasure is recorded on each of the person's cases under their name.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli import remote


def register(subparsers: Any) -> None:
    privacy = subparsers.add_parser("privacy", help="personal data: erasure")
    actions = privacy.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    erase = actions.add_parser(
        "erase",
        help="destroy a person's key: their cases keep their history, personal fields "
        "read [erased]",
    )
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("person", nargs="?", help="person id (p-…)")
    who.add_argument("--contact", help="the contact the person gave (phone or e-mail)")
    who.add_argument("--case", metavar="CODE", help="the person who filed this case")
    erase.add_argument("--reason", required=True, help="why (request, retention, …)")
    erase.set_defaults(handler=run_erase)


def run_erase(args: argparse.Namespace) -> int:
    done = remote.post(
        "/api/privacy/erasures",
        {"person": args.person, "contact": args.contact, "case": args.case, "reason": args.reason},
    )
    print(
        f"{done['person']}: personal data erased in {done['cases']} case(s); the key is destroyed"
    )
    return 0
