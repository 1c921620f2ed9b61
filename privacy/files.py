"""Files only the server's own user can read.

Everything the project writes holds personal data or a key: the SQLite store
(events, person keys) and its -wal and -shm files, the payload and actor keys,
the mail and SMS outboxes, the staff notice queue. Each is created with mode
0600 from its first byte (`os.open` with the mode, never a chmod afterwards, so
no other user can open it in between), in folders created 0700; the entry
points also set the umask to 077 (`private_umask`) for what other code and the
Temporal dev server (a child process) create.

A file an older version created with a looser mode is tightened when it is next
opened for writing (on the descriptor, so on the file that was opened), and so
is the checkout's `var/`, which git creates 0755.

The SQLite store is made 0600 before SQLite opens it by `privacy.sqlite`. This
module imports nothing beyond the standard library: the `minwon` client sets its
umask with it too.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from runtime.paths import VAR

FILE_MODE = 0o600
FOLDER_MODE = 0o700
UMASK = 0o077
_LOOSE = stat.S_IRWXG | stat.S_IRWXO


def private_umask() -> None:
    """For the whole process and its children: new files 0600, new folders 0700."""
    os.umask(UMASK)


def private_folder(folder: Path) -> Path:
    """`folder` and any missing parent, created 0700; the checkout's var/ tightened.

    An existing folder elsewhere is left as it is: it may be /tmp or a shared
    parent the operator chose (a systemd StateDirectory has its own mode).
    """
    missing = []
    path = folder
    while not path.exists():
        missing.append(path)
        path = path.parent
    for path in reversed(missing):
        # The umask can only take bits away from 0700.
        with contextlib.suppress(FileExistsError):  # made by another process meanwhile
            os.mkdir(path, FOLDER_MODE)
    if folder.resolve() == VAR.resolve():
        _tighten(os.stat(folder), lambda mode: os.chmod(folder, mode))
    return folder


def _tighten(status: os.stat_result, chmod: Callable[[int], None]) -> None:
    """Take group and other bits off a file or folder of ours that has them."""
    if status.st_mode & _LOOSE and status.st_uid == os.geteuid():
        chmod(stat.S_IMODE(status.st_mode) & ~_LOOSE)


def open_private(path: Path, flags: int) -> int:
    """`os.open` of a file that is created 0600 and, if it was looser, made so."""
    private_folder(path.parent)
    descriptor = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        tighten_open(descriptor)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def tighten_path(path: Path) -> None:
    """The file at `path`, tightened by its name, never opened: closing a descriptor of
    a SQLite database drops every lock this process's connections hold on it (POSIX
    record locks belong to the process), which corrupts their view of the WAL."""
    _tighten(os.stat(path), lambda mode: os.chmod(path, mode))


def tighten_open(descriptor: int) -> None:
    """The open file, tightened if an older version left it readable by others."""
    _tighten(os.fstat(descriptor), lambda mode: os.fchmod(descriptor, mode))


@contextmanager
def appending(path: Path) -> Iterator[IO[str]]:
    """A text file opened to append lines (an outbox), 0600."""
    descriptor = open_private(path, os.O_WRONLY | os.O_APPEND)
    with os.fdopen(descriptor, "a", encoding="utf-8") as out:
        yield out


def write_private(path: Path, data: bytes) -> None:
    """A whole file (an e-mail, a key), 0600, replacing what was there."""
    descriptor = open_private(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
