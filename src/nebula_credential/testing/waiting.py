"""Waiting, bounded, for something a test or benchmark expects to happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(check: Callable[[], T], seconds: float, what: str, *, every: float = 0.1) -> T:
    """``check()``'s first truthy value within ``seconds`` (asked every ``every``
    seconds); AssertionError naming ``what`` when none came."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(every)
