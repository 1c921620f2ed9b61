"""The public notices residents read (헌장 5), from the `public_notices` read model.

The read model (`projections.public_notices`) holds only what may be published:
never a private case, never a name, contact, complaint text or answer. The
pages read it after catching it up with the event store, at most once every
`interval` seconds, so a result announced a moment ago shows on the next visit
without a projection process having to run beside the web server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from projections import ReadModels
from projections.public_notices import Notice, PublicNoticesView

NAME = "public_notices"


class PublicNotices:
    def __init__(self, env: Mapping[str, str], interval: float = 1.0) -> None:
        self._env = dict(env)
        self._interval = interval
        self._models: ReadModels | None = None
        self._caught_up_at = float("-inf")
        # Catching up writes the view: one thread at a time in this process.
        self._lock = threading.Lock()

    def list(self) -> list[Notice]:
        with self._lock:
            if self._models is None:
                self._models = ReadModels(self._env, names=(NAME,))
            if time.monotonic() - self._caught_up_at >= self._interval:
                self._models.catch_up()
                self._caught_up_at = time.monotonic()
            view = self._models.views[NAME]
            assert isinstance(view, PublicNoticesView), "the public_notices read model"
            return view.notices()

    def close(self) -> None:
        with self._lock:
            if self._models is not None:
                self._models.close()
                self._models = None
