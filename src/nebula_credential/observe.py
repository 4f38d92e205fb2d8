"""What the library reports to observers: API calls, cache events, reader reloads.

One observer boundary for counters and metrics. Observers receive operation names,
status words, durations and namespaces only: never a credential id, a Secret name or a
value.
:mod:`nebula_credential.metrics` subscribes a Prometheus observer here; anyone can add
their own with :func:`add_observer`.
"""

from __future__ import annotations

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


_observers: list[Observer] = []
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
