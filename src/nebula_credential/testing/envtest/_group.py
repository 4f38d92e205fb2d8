"""Several planes at once, and closing every live plane when the interpreter exits."""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from ._errors import ControlPlaneError
from ._process import WATCHDOG

if TYPE_CHECKING:
    from ._plane import ControlPlane

_LIVE_PLANES: set[ControlPlane] = set()
_LIVE_LOCK: Final = threading.Lock()
_ATEXIT_REGISTERED = False


def _close_everything() -> None:
    with _LIVE_LOCK:
        planes = list(_LIVE_PLANES)
    with contextlib.suppress(Exception):
        close_all(planes)
    WATCHDOG.close()


def register_live(plane: ControlPlane) -> None:
    global _ATEXIT_REGISTERED
    with _LIVE_LOCK:
        _LIVE_PLANES.add(plane)
        if not _ATEXIT_REGISTERED:
            atexit.register(_close_everything)
            _ATEXIT_REGISTERED = True


def unregister_live(plane: ControlPlane) -> None:
    with _LIVE_LOCK:
        _LIVE_PLANES.discard(plane)


def _in_parallel(
    planes: Sequence[ControlPlane], action: str, timeout: Callable[[ControlPlane], float]
) -> list[BaseException]:
    """Call ``plane.<action>()`` on every plane in its own thread; return what they raised."""
    errors: list[BaseException] = []

    def run(plane: ControlPlane) -> None:
        try:
            getattr(plane, action)()
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(p,), name=f"{action}-{p.name}", daemon=True)
        for p in planes
    ]
    for thread in threads:
        thread.start()
    for thread, plane in zip(threads, planes, strict=True):
        thread.join(timeout(plane))
        if thread.is_alive():
            errors.append(ControlPlaneError(f"{action} of {plane.name} did not finish"))
    return errors


def start_all(planes: Sequence[ControlPlane]) -> None:
    """Start several planes concurrently; if any fails, close them all and re-raise."""
    errors = _in_parallel(planes, "start", lambda plane: plane.startup_timeout + 60)
    if errors:
        for plane in planes:
            plane.close()
        raise errors[0]


def close_all(planes: Sequence[ControlPlane]) -> None:
    """Close several planes concurrently (each API server drains for about a second)."""
    errors = _in_parallel(planes, "close", lambda plane: 60.0)
    if errors:
        raise errors[0]
