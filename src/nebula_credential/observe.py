"""What the library reports to observers: API calls, cache events, reader reloads.

One observer boundary for counters and metrics. Observers receive operation names,
status words, durations and namespaces only: never a credential id, a Secret name or a
value.
:mod:`nebula_credential.metrics` subscribes a Prometheus observer here; anyone can add
their own with :func:`add_observer`.
"""

from __future__ import annotations

import _thread  # a lock without the threading module: the CLI never starts a thread
import re
from typing import Final, Protocol


class Observer(Protocol):
    """Receives events; each method must be cheap and must not raise."""

    def api_call(self, operation: str, status: str, seconds: float) -> None:
        """One Kubernetes API request (each retry is one more) and how it ended."""

    def cache_event(self, event: str) -> None:
        """``hit``, ``miss``, ``eviction``, ``invalidation`` or ``watch_lost``."""

    def reader_event(self, event: str) -> None:
        """``reload`` or ``reload_error`` of a pod-side reader."""

    def hand_edit(self, source: str, namespace: str) -> None:
        """A read found per-field keys that disagree with ``credential.json`` and returned
        the keys' values; ``source`` is ``secret`` (the API; ``namespace`` set) or
        ``volume`` (a mounted Secret; ``namespace`` empty). Optional for observers."""

    def watch_event(self, event: str, detail: str) -> None:
        """A Kubernetes watch: ``open`` and ``close`` (the watch, ``detail`` its ending
        status word), ``stream`` (one streamed request ended; ``detail`` its status word),
        ``received`` (``detail`` the event type, lower case) or ``restart`` (a stream
        reopened; ``detail`` why). Optional for observers."""


_observers: list[Observer] = []
# Watches running now, counted here rather than by an observer, so that one subscribed
# while watches run reports them too (a watch may close on another loop's thread).
_open_watches = 0
_watch_lock = _thread.allocate_lock()
_CAMEL: Final = re.compile(r"(?<!^)(?=[A-Z])")


def add_observer(observer: Observer) -> None:
    if observer not in _observers:
        _observers.append(observer)


def remove_observer(observer: Observer) -> None:
    if observer in _observers:
        _observers.remove(observer)


def status_of(error: BaseException | None) -> str:
    """``success``, the error's ``status_word``, or its class in snake case
    (``permission_denied``)."""
    if error is None:
        return "success"
    word = getattr(error, "status_word", None)
    if isinstance(word, str):
        return word
    return _CAMEL.sub("_", type(error).__name__).lower()


def api_call(operation: str, status: str, seconds: float) -> None:
    for observer in _observers:
        observer.api_call(operation, status, seconds)


def cache_event(event: str) -> None:
    for observer in _observers:
        observer.cache_event(event)


def reader_event(event: str) -> None:
    for observer in _observers:
        observer.reader_event(event)


def hand_edit(source: str, namespace: str) -> None:
    for observer in _observers:
        # Added after the others: an observer written before it may not have it.
        method = getattr(observer, "hand_edit", None)
        if method is not None:
            method(source, namespace)


def watch_event(event: str, detail: str) -> None:
    global _open_watches
    if event in ("open", "close"):
        with _watch_lock:
            _open_watches += 1 if event == "open" else -1
    for observer in _observers:
        # Added after the others: an observer written before it may not have it.
        method = getattr(observer, "watch_event", None)
        if method is not None:
            method(event, detail)


def open_watches() -> int:
    """How many Kubernetes watches are running now, in this process."""
    return _open_watches
