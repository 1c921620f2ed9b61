"""Files: what the project writes is its own user's alone, and an erasure leaves no key behind.

The stores, keys, outboxes and mail files are created 0600 in folders created
0700, by their own `os.open` modes: the tests run under umask 000, where a file
made by a plain `open()` would be 0666, so the entry points' umask is not what
passes them. Another OS user is refused the store; after an erasure the
destroyed key's bytes are found in neither the SQLite file nor its WAL.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.channels import Channels, Message
from activities.complaints import ComplaintActivities
from application.service import Complaints
from application.store import open_complaints
from domain.calendar import SEOUL
from privacy import files
from privacy.files import appending, private_folder
from projections import ReadModels
from tests.support.samples import sample_intake
from workflows import actor_proof
from workflows.codec import codec_from_env
from workflows.models import Notice

ROOT = Path(__file__).resolve().parents[2]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def umask_000() -> Iterator[None]:
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


@pytest.fixture
def deletes_kept_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """New SQLite connections start with secure_delete off, as in SQLite's own default
    build (Debian's turns it on at compile time, which would hide its absence here)."""
    connect = sqlite3.connect

    def connect_keeping_deleted_bytes(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        connection.execute("PRAGMA secure_delete = OFF")
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect_keeping_deleted_bytes)


def sqlite_env(path: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def everything_under(folder: Path) -> dict[str, int]:
    return {str(path.relative_to(folder)): mode(path) for path in folder.rglob("*")}


def test_every_file_the_server_writes_is_0600_in_folders_0700_even_under_umask_000(
    tmp_path: Path, umask_000: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = tmp_path / "var"
    # The embedded stack's own key files, here rather than in the checkout's var/.
    monkeypatch.setattr(actor_proof, "DEV_ACTOR_KEY_FILE", var / "actor.key")
    env = sqlite_env(var / "minwon-events.db")
    complaints = open_complaints(env)
    try:
        case = complaints.file(sample_intake())
        codec_from_env({}, dev_key_file=var / "payload.key")
        actor_proof.seal_from_env({})
        channels = Channels.from_env({}, var=var)
        message = Message(subject="접수", body="본문", message_id="notice-1")
        channels.email.send("resident@example.kr", message)
        channels.sms.send("01012345678", message)
        notice = Notice(
            case_id=str(case.id),
            receipt_code=case.receipt_code,
            kind="reminder",
            recipient="lee.service",
            command_id="notice-2",
        )
        activities = ComplaintActivities(complaints, outbox=var / "outbox.jsonl")
        ActivityEnvironment().run(activities.queue_notice, notice)
        # The read models keep their tables (and connections) in the same file.
        with ReadModels(env) as models:
            models.catch_up()
        # While the store is open, so that its -wal and -shm are there to be seen.
        modes = everything_under(var)
    finally:
        complaints.close()

    assert mode(var) == 0o700
    assert {
        "minwon-events.db",
        "minwon-events.db-wal",
        "minwon-events.db-shm",
        "payload.key",
        "actor.key",
        "outbox.jsonl",
        "sms-outbox.jsonl",
        "mail-outbox",
        "mail-outbox/notice-1.eml",
    } <= set(modes)
    assert {name: oct(m) for name, m in modes.items() if (var / name).is_dir()} == {
        "mail-outbox": "0o700"
    }
    assert {name: oct(m) for name, m in modes.items() if not (var / name).is_dir()} == {
        name: "0o600" for name in modes if not (var / name).is_dir()
    }


def test_a_file_or_var_folder_left_readable_by_others_is_tightened_when_next_opened(
    tmp_path: Path, umask_000: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git checks var/ out 0755; an older version made its files 0644.
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    monkeypatch.setattr(files, "VAR", var)
    store, outbox = var / "minwon-events.db", var / "sms-outbox.jsonl"
    for path in (store, outbox):
        path.touch(mode=0o644)

    private_folder(var)
    Complaints(env=sqlite_env(store)).close()
    with appending(outbox) as out:
        out.write("{}\n")

    assert (mode(var), mode(store), mode(outbox)) == (0o700, 0o600, 0o600)
    # A folder that is not the checkout's var/ is the operator's: left as it is.
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    with appending(shared / "sms.jsonl") as out:
        out.write("{}\n")
    assert (mode(shared), mode(shared / "sms.jsonl")) == (0o755, 0o600)


def test_every_connection_to_the_sqlite_store_overwrites_what_it_deletes(
    tmp_path: Path, deletes_kept_by_default: None
) -> None:
    env = sqlite_env(tmp_path / "events.db")
    complaints = Complaints(env=env)
    try:
        with complaints.factory.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("PRAGMA secure_delete")
            assert cursor.fetchone()[0] == 1
        with ReadModels(env) as models:
            view = models.views["case_board"]
            with view.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
                cursor.execute("PRAGMA secure_delete")
                assert cursor.fetchone()[0] == 1
    finally:
        complaints.close()


def stored_key(store: Path, person_id: str) -> bytes:
    """The key as its table holds it, read past the application."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as reader:
        (key,) = reader.execute(
            "SELECT key FROM minwon_person_keys WHERE person_id = ?", (person_id,)
        ).fetchone()
    reader.close()
    return bytes(key)


def raw_bytes(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def test_after_an_erasure_the_destroyed_keys_bytes_are_in_neither_the_sqlite_file_nor_its_wal(
    tmp_path: Path, deletes_kept_by_default: None
) -> None:
    store = tmp_path / "events.db"
    wal = Path(f"{store}-wal")
    complaints = Complaints(env=sqlite_env(store))
    try:
        # Keys on either side: a deleted row between others is left as free space in
        # its page, bytes and all, unless secure_delete overwrites it.
        before = [complaints.file(sample_intake(contact=f"before-{n}@example.kr")) for n in (1, 2)]
        erased = complaints.file(sample_intake(contact="erase-me@example.kr"))
        kept = complaints.file(sample_intake(contact="keep-me@example.kr"))
        assert len({case.person_id for case in [*before, erased, kept]}) == 4  # type: ignore[attr-defined]
        erased_key = stored_key(store, erased.person_id)  # type: ignore[attr-defined]
        kept_key = stored_key(store, kept.person_id)  # type: ignore[attr-defined]
        # The search finds a key where it is: both are on disk before the erasure.
        assert erased_key in raw_bytes(store) + raw_bytes(wal)

        complaints.erase_person(
            erased.person_id,  # type: ignore[attr-defined]
            reason="본인 요청",
            by="park.officer",
            at=datetime.now(SEOUL),
        )

        assert erased_key not in raw_bytes(store)
        assert erased_key not in raw_bytes(wal)
        # Still the same files, with the other person's key in them.
        assert kept_key in raw_bytes(store) + raw_bytes(wal)
        assert complaints.get_case(erased.id).contact == "[erased]"
    finally:
        complaints.close()


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="acting as another OS user needs root and setpriv (util-linux)",
)
def test_another_os_user_cannot_read_the_store_or_its_wal(umask_000: None) -> None:
    # Under a folder any user may pass through, as a checkout in /opt is.
    root = Path(tempfile.mkdtemp(prefix="minwon-files-"))
    os.chmod(root, 0o755)
    try:
        var = root / "var"
        store = var / "minwon-events.db"
        complaints = open_complaints(sqlite_env(store))
        try:
            complaints.file(sample_intake(contact=f"{uuid.uuid4().hex}@example.kr"))
            through_folder = as_nobody("cat", str(store))
            # Were the folder opened up, the files refuse by their own mode; a file
            # that allows others is read, so the refusals are the modes'.
            os.chmod(var, 0o755)
            control = var / "control.txt"
            control.write_text("readable\n")
            control.chmod(0o644)
            refusals = [as_nobody("cat", str(path)) for path in (store, Path(f"{store}-wal"))]
            read = as_nobody("cat", str(control))
        finally:
            complaints.close()
    finally:
        shutil.rmtree(root)

    for refused in [through_folder, *refusals]:
        assert refused.returncode != 0
        assert "Permission denied" in refused.stderr
    assert read.returncode == 0 and read.stdout == "readable\n"


def as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NOBODY, *command], capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    "entry",
    [
        "from worker import main",
        "from web.__main__ import main",
        "from cli.main import main",
    ],
)
def test_each_entry_point_sets_a_umask_of_077_before_it_writes_anything(entry: str) -> None:
    script = (
        "import os, sys\n"
        "os.umask(0o022)\n"
        "sys.argv = ['entry', '--help']\n"
        f"{entry}\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('umask', oct(os.umask(0)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "umask 0o77"


CHECKPOINT = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], timeout=0)
print(connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
"""


def test_opening_another_view_of_a_store_in_use_leaves_its_readers_locks_held(
    tmp_path: Path,
) -> None:
    """A worker opens the notice outbox's view beside its live store, a web server a
    report's read models: each new factory makes sure the files are 0600. Done by
    opening and closing them, that dropped the locks this process's SQLite
    connections held (POSIX record locks belong to the process), and another process
    could then truncate the WAL under a reader's feet. Here a reader holds a snapshot
    while the views are opened; another process's TRUNCATE checkpoint must still find
    it busy."""
    store = tmp_path / "events.db"
    env = sqlite_env(store)
    complaints = Complaints(env=env)
    reader = sqlite3.connect(store, isolation_level=None)
    try:
        complaints.file(sample_intake())
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM stored_events").fetchone()

        def checkpoint_busy() -> int:
            done = subprocess.run(
                [sys.executable, "-c", CHECKPOINT, str(store)],
                capture_output=True, text=True, check=True, timeout=60,
            )  # fmt: skip
            return int(done.stdout)

        assert checkpoint_busy() == 1  # the reader's snapshot holds the WAL
        with ReadModels(env):
            assert checkpoint_busy() == 1  # and still does
        reader.execute("SELECT count(*) FROM stored_events").fetchone()
    finally:
        reader.close()
        complaints.close()
