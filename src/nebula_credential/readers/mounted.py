"""A credential read from a mounted Secret volume, reloaded when the kubelet swaps it.

>>> with MountedCredential(kind="oauth2") as mounted:  # doctest: +SKIP
...     token = mounted.credential.reveal("access_token")

The directory is ``CREDENTIALS_PATH`` (default ``/etc/nebula/credentials``). It holds
``credential.json`` (a Secret written by nebula-credential) or one file per key, mapped
onto a typed kind exactly as a foreign Secret is (``kubernetes.foreign``).

Reloads keep the last good value when new content is invalid and report the error: in
the change stream, to ``on_error``, in a warning log record and to reload observers.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Self

from ..domain import Credential, CredentialError, CredentialKind
from ._decode import decode, default_path
from ._events import ReloadEvent, logger, notify
from ._follow import Follower
from ._layout import Snapshot, Token, probe, snapshot

DEFAULT_INTERVAL: Final = 0.2


@dataclass(frozen=True, slots=True)
class MountedChange:
    """A new value in force, or (``error`` set) new content refused.

    ``credential`` is always the value in force: after an error, the last good one.
    """

    credential: Credential
    data_dir: str | None
    error: CredentialError | None = None


def read_mounted(
    path: str | os.PathLike[str] | None = None,
    *,
    kind: CredentialKind | str | None = None,
    credential_id: str | None = None,
    field_names: Mapping[str, str] | None = None,
    ignore_unknown: bool = False,
) -> Credential:
    """The credential in a Secret volume now (one consistent read, no following)."""
    where = os.fspath(path) if path is not None else default_path()
    return decode(
        snapshot(where),
        where,
        kind=kind,
        credential_id=credential_id,
        field_names=field_names,
        ignore_unknown=ignore_unknown,
    )


class MountedCredential:
    """The credential of a Secret volume, kept current.

    ``credential`` returns the value in force, checking the directory first when the
    last check is older than ``interval`` (one ``readlink`` for a kubelet volume).
    ``changes()`` is an async iterator of :class:`MountedChange`; ``on_change`` and
    ``on_error`` are called from whichever thread noticed the change; ``start()`` (or
    ``with``) runs a background thread that checks every ``interval`` seconds.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        kind: CredentialKind | str | None = None,
        credential_id: str | None = None,
        field_names: Mapping[str, str] | None = None,
        ignore_unknown: bool = False,
        interval: float = DEFAULT_INTERVAL,
        on_change: Callable[[Credential], None] | None = None,
        on_error: Callable[[CredentialError], None] | None = None,
    ) -> None:
        if not 0 < interval <= 60:
            raise ValueError("interval must be between 0 and 60 seconds")
        self.path = os.fspath(path) if path is not None else default_path()
        self.interval = interval
        self._decode = functools.partial(
            decode,
            kind=kind,
            credential_id=credential_id,
            field_names=field_names,
            ignore_unknown=ignore_unknown,
        )
        self._on_change = on_change
        self._on_error = on_error
        self._lock = threading.Lock()
        self._credential: Credential | None = None
        self._token: Token | None = None
        self._refused: Token | None = None  # content already reported as invalid
        self._latest: MountedChange | None = None
        self._sequence = 0  # one per MountedChange, for iterators that skip ahead
        self._checked = 0.0
        self._follower = Follower(self.refresh, interval)

    def __repr__(self) -> str:
        return f"MountedCredential(path={self.path!r}, data_dir={self.data_dir!r})"

    @property
    def data_dir(self) -> str | None:
        """The ``..data`` target the value in force was read from (None: plain dir)."""
        return self._latest.data_dir if self._latest is not None else None

    @property
    def credential(self) -> Credential:
        """The value in force; loads it first, and checks for a newer one when due."""
        if self._credential is None:
            return self.load()
        if time.monotonic() - self._checked >= self.interval and self._lock.acquire(
            blocking=False
        ):  # another thread checking right now serves the value it had
            try:
                change = self._refresh_locked()
            finally:
                self._lock.release()
            self._dispatch(change)
        return self._credential

    def load(self) -> Credential:
        """Read the directory now; raises when it holds no valid credential and none
        was loaded before (NotFound, InvalidCredential, ...)."""
        with self._lock:
            if self._credential is None:
                change = self._reload(initial=True)
            else:
                change = self._refresh_locked()
        self._dispatch(change)
        assert self._credential is not None
        return self._credential

    def refresh(self) -> MountedChange | None:
        """Check once; the change it found, if any (errors are returned, not raised,
        once a value is in force)."""
        if self._credential is None:
            self.load()
            return self._latest
        with self._lock:
            change = self._refresh_locked()
        self._dispatch(change)
        return change

    def _refresh_locked(self) -> MountedChange | None:
        self._checked = time.monotonic()
        try:
            token = probe(self.path)
        except CredentialError as exc:
            return self._refuse(exc, ("error", type(exc).__name__), 0.0)
        if token == self._token:
            self._refused = None  # back to the content in force: report the next error
            return None
        if token == self._refused:
            return None
        return self._reload(initial=False)

    def _reload(self, *, initial: bool) -> MountedChange | None:
        started = time.perf_counter()
        found: Snapshot | None = None
        try:
            found = snapshot(self.path)
            credential = self._decode(found, self.path)
        except CredentialError as exc:
            if initial:
                self._report(initial, started, exc)
                raise
            token = found.token if found is not None else ("error", type(exc).__name__)
            return self._refuse(exc, token, time.perf_counter() - started)
        self._report(initial, started, None)
        same = credential == self._credential  # rewritten or touched, not changed
        self._credential, self._token, self._refused = credential, found.token, None
        if same:
            self._latest = MountedChange(credential, found.data_dir)
            return None
        change = self._publish(MountedChange(credential, found.data_dir))
        logger.debug(
            "loaded mounted credential %s (%s) from %s, data dir %s, keys %s",
            credential.id,
            credential.kind.value,
            self.path,
            found.data_dir,
            sorted(found.files),
            extra={"operation": "reload", "path": self.path},
        )
        return change

    def _refuse(self, exc: CredentialError, token: Token, seconds: float) -> MountedChange | None:
        if token == self._refused:
            return None
        self._refused = token
        assert self._credential is not None
        logger.warning(
            "%s; keeping the credential loaded from %s",
            exc,
            self.data_dir or self.path,
            extra={"operation": "reload", "path": self.path},
        )
        notify(ReloadEvent("mounted", self.path, False, False, seconds, type(exc).__name__))
        return self._publish(MountedChange(self._credential, self.data_dir, exc))

    def _report(self, initial: bool, started: float, exc: CredentialError | None) -> None:
        seconds = time.perf_counter() - started
        error = None if exc is None else type(exc).__name__
        notify(ReloadEvent("mounted", self.path, exc is None, initial, seconds, error))

    def _publish(self, change: MountedChange) -> MountedChange:
        self._latest = change
        self._sequence += 1
        return change

    def _dispatch(self, change: MountedChange | None) -> None:
        if change is None:
            return
        try:
            if change.error is None:
                if self._on_change is not None:
                    self._on_change(change.credential)
            elif self._on_error is not None:
                self._on_error(change.error)
        except Exception as exc:  # a listener must not stop the reloads
            logger.warning("a reload callback raised %s", type(exc).__name__)

    async def changes(self) -> AsyncIterator[MountedChange]:
        """The value in force now, then every later change, until ``close()``.

        Changes that happen between two checks are coalesced into the latest one.
        """
        self.load()
        seen = -1
        while not self._follower.closed:
            if seen != self._sequence:
                seen = self._sequence
                assert self._latest is not None
                yield self._latest
            await asyncio.sleep(self.interval)
            if self._follower.closed:
                return
            self.refresh()

    def start(self) -> Self:
        """Load, then check every ``interval`` seconds in a daemon thread."""
        self.load()
        self._follower.start()
        return self

    def close(self) -> None:
        """Stop following (the thread and every ``changes()`` iterator)."""
        self._follower.close()

    async def aclose(self) -> None:
        self._follower.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        self.load()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
