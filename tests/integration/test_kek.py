"""Keys apart from the data: a copy of the database alone opens no personal field
(SQLite files and PostgreSQL, the key-encryption key held outside the store)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from application.service import Complaints
from privacy.kek import KekError, new_kek_text
from tests.support.samples import sample_intake

CANARY = "카나리아-7Q2W"
MINWON = Path(sys.executable).parent / "minwon"


def sqlite_env(path: Path, kek: str, old: str = "") -> dict[str, str]:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    env["MINWON_KEK"] = kek
    if old:
        env["MINWON_KEK_OLD"] = old
    return env


def key_rows(path: Path) -> list[bytes]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT key FROM minwon_person_keys").fetchall()
        rows += conn.execute("SELECT value FROM minwon_secrets").fetchall()
    return [bytes(row[0]) for row in rows]


def test_a_copy_of_the_database_without_the_kek_opens_no_personal_field(tmp_path: Path) -> None:
    kek = new_kek_text()
    app = Complaints(env=sqlite_env(tmp_path / "events.db", kek))
    case = app.file(sample_intake(contact=f"{CANARY} 010-1234-5678", text=f"{CANARY} 민원"))
    person_key = app.keys.key(str(case.person_id))
    assert person_key is not None
    app.close()
    shutil.copy(tmp_path / "events.db", tmp_path / "stolen.db")

    stolen = (tmp_path / "stolen.db").read_bytes()
    assert person_key not in stolen  # the key is stored wrapped only
    assert CANARY.encode() not in stolen
    thief = Complaints(env=sqlite_env(tmp_path / "stolen.db", new_kek_text()))
    try:
        with pytest.raises(KekError, match="does not have"):
            thief.get_case(case.id)
    finally:
        thief.close()
    owner = Complaints(env=sqlite_env(tmp_path / "stolen.db", kek))
    try:
        assert CANARY in owner.get_case(case.id).text
    finally:
        owner.close()


def test_rotate_kek_rewraps_every_key_and_the_old_kek_no_longer_opens_them(
    tmp_path: Path,
) -> None:
    old, new = new_kek_text(), new_kek_text()
    path = tmp_path / "events.db"
    app = Complaints(env=sqlite_env(path, old))
    case = app.file(sample_intake(text=f"{CANARY} 민원"))
    app.close()
    before = key_rows(path)

    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        **sqlite_env(path, new, old=old),
    }
    rotated = subprocess.run(
        [str(MINWON), "admin", "rotate-kek"], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip

    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.startswith("2 key(s) wrapped")  # the person's and the secret
    assert set(key_rows(path)).isdisjoint(before)
    for kek, opens in ((new, True), (old, False)):
        app = Complaints(env=sqlite_env(path, kek))
        try:
            if opens:
                assert CANARY in app.get_case(case.id).text
            else:
                with pytest.raises(KekError):
                    app.get_case(case.id)
        finally:
            app.close()


def test_a_store_from_before_wrapping_loads_and_rotation_wraps_its_keys(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "store-a0ee20c.db"
    path = tmp_path / "old.db"
    shutil.copy(fixture, path)
    raw = key_rows(path)
    assert all(len(value) == 32 for value in raw)  # unwrapped, as that commit stored them

    app = Complaints(env=sqlite_env(path, new_kek_text()))
    try:
        assert app.keys.rotate() == len(raw)
        assert app.keys.rotate() == 0
    finally:
        app.close()

    assert all(value not in path.read_bytes() for value in raw)
