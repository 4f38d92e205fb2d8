"""A daemon thread that calls a check function every few tenths of a second."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ._events import logger


class Follower:
    """Runs ``check`` every ``interval`` seconds in one daemon thread until closed."""

    def __init__(self, check: Callable[[], Any], interval: float) -> None:
        self._check = check
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        if self._thread is not None or self.closed:
            return
        self._thread = threading.Thread(
            target=self._run, name="nebula-credential-reader", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._check()
            except Exception as exc:  # keep following; the check reports its own errors
                logger.warning("checking for a new credential failed: %s", type(exc).__name__)

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
