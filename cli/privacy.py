"""`minwon privacy erase`: destroy a complainant's personal data (crypto-shredding)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from cli.actor import add_actor_option, authorise
from cli.errors import CliError
from domain.complaint import ComplaintError
from domain.receipt import ReceiptCodeError
from domain.service import Complaints


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
    add_actor_option(erase)
    erase.set_defaults(handler=run_erase)


def run_erase(args: argparse.Namespace) -> int:
    actor, _ = authorise(args, "erase_person")
    complaints = Complaints()
    try:
        if args.contact:
            person = complaints.keys.person_id_for(args.contact)
        elif args.case:
            person = complaints.person_of_case(complaints.case_id_for_receipt(args.case))
        else:
            person = args.person
        cases = complaints.erase_person(
            person, reason=args.reason, by=actor, at=datetime.now().astimezone()
        )
    except (ComplaintError, ReceiptCodeError) as error:
        raise CliError(str(error)) from None
    finally:
        complaints.close()
    print(f"{person}: personal data erased in {len(cases)} case(s); the key is destroyed")
    return 0
