"""What readers tell observers (metrics, tests) about reloads: never a value.

An observer is any callable taking a :class:`ReloadEvent`. Reloads and reload errors
also go to :mod:`nebula_credential.observe`, where the metrics module counts them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import observe
from .._log import get_logger

logger = get_logger("nebula_credential.readers")

ReloadObserver = Callable[["ReloadEvent"], None]

_observers: list[ReloadObserver] = []


@dataclass(frozen=True, slots=True)
class ReloadEvent:
    """One (re)load attempt of a reader.

    ``reader`` is ``"mounted"``; ``path`` the directory read; ``ok`` whether the new
    content became the value in force; ``error`` the error's class name when not;
    ``initial`` is true for the first load; ``seconds`` the time spent reading and
    decoding.
    """

    reader: str
    path: str
    ok: bool
    initial: bool
    seconds: float
    error: str | None = None


def add_reload_observer(observer: ReloadObserver) -> Callable[[], None]:
    """Call ``observer`` after every load attempt of every reader; returns its remover."""
    _observers.append(observer)

    def remove() -> None:
        if observer in _observers:
            _observers.remove(observer)

    return remove


def notify(event: ReloadEvent) -> None:
    if not event.ok:
        observe.reader_event("reload_error")
    elif not event.initial:
        observe.reader_event("reload")
    for observer in tuple(_observers):
        try:
            observer(event)
        except Exception as exc:  # an observer must not break reloading
            # The type only: an observer's message is not ours to vouch for.
            logger.warning("reload observer %r raised %s", observer, type(exc).__name__)
