"""`minwon admin checkpoint | public-key`: the store's signed checkpoints, on the host.

- `checkpoint [--force]` signs a checkpoint of the whole store now if one is due
  (`--force`: even if not), as every reconcile pass does, keeps it in the store and
  appends it to the checkpoint file.
- `public-key` prints the public key auditors verify checkpoints with (also served
  at `/.well-known/minwon-checkpoint-key`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.errors import CliError, server_settings


def register(actions: Any, admin_note: str) -> None:
    checkpoint = actions.add_parser(
        "checkpoint",
        help="sign a checkpoint of the whole store now (server host)",
        description=(
            "Sign a checkpoint over every record of the store if one is due (1,000 "
            "records or an hour since the last), keep it in the store and append it to "
            "the checkpoint file. " + admin_note
        ),
    )
    checkpoint.add_argument("--force", action="store_true", help="sign even if none is due")
    checkpoint.set_defaults(handler=run_checkpoint)
    public = actions.add_parser(
        "public-key",
        help="print the public key that checks the store's checkpoints",
        description="Print the Ed25519 public key checkpoints are verified with. " + admin_note,
    )
    public.add_argument("--json", action="store_true", help="print one JSON object")
    public.set_defaults(handler=run_public_key)


def run_checkpoint(args: argparse.Namespace) -> int:
    from activities.checkpoint import Checkpoints
    from application.store import open_complaints
    from privacy.signing import DEV_KEY_FILE, SigningKeyError, signing_key

    process = server_settings()
    try:
        key = signing_key(process.env, dev=DEV_KEY_FILE.exists())
    except SigningKeyError as error:
        raise CliError(str(error)) from None
    complaints = open_complaints(process.env)
    try:
        number = Checkpoints(complaints, key, settings=process).sign(force=args.force)
        latest = None
        if number is not None:
            from domain.checkpoint import checkpoint_log

            log = checkpoint_log(complaints)
            latest = log.latest if log else None
    finally:
        complaints.close()
    if latest is None:
        print("no checkpoint due (nothing added since the last one within the hour)")
        return 0
    print(
        f"checkpoint #{latest['number']}: {latest['records']} record(s) up to notification "
        f"{latest['position']}, root {latest['root']}; appended to {process.checkpoint_file}"
    )
    return 0


def run_public_key(args: argparse.Namespace) -> int:
    from privacy.signing import DEV_KEY_FILE, SigningKeyError, key_id, public_key

    try:
        # On the embedded stack's host its key file, read, never made.
        text = public_key(server_settings().env, dev=DEV_KEY_FILE.exists())
    except SigningKeyError as error:
        raise CliError(str(error)) from None
    if args.json:
        print(json.dumps({"algorithm": "Ed25519", "public_key": text, "key_id": key_id(text)}))
    else:
        print(text)
    return 0


def register_export(actions: Any, admin_note: str) -> None:
    export = actions.add_parser(
        "export-bundle",
        help="write the whole store and its checkpoints to one file for offline audit",
        description=(
            "Write every record of the store as stored, and every signed checkpoint, to "
            "FILE (JSON lines, mode 0600): what `minwon audit verify --bundle FILE "
            "--public-key KEY` checks with the public key alone. " + admin_note
        ),
    )
    export.add_argument("file", help="where to write the bundle")
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from application.store import open_complaints
    from domain.bundle import export_lines
    from domain.checkpoint import checkpoint_log
    from privacy.files import write_private

    complaints = open_complaints(server_settings().env)
    try:
        log = checkpoint_log(complaints)
        lines = export_lines(complaints.notifications(), log.checkpoints if log else [])
        text = "".join(line + "\n" for line in lines)
    finally:
        complaints.close()
    write_private(Path(args.file), text.encode("utf-8"))
    print(f"bundle written to {args.file} ({text.count(chr(10)) - 1} line(s))")
    return 0
