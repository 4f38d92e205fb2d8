"""A blocking facade over any async provider.

The async provider is the only implementation; this class runs its coroutines on a
private event loop in a daemon thread, so it works from plain scripts, from threads and
even from code that already runs an event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from ..domain import Credential
from .base import CredentialProvider, ListFilter

T = TypeVar("T")
_LIST_BATCH = 256


class SyncCredentialProvider:
    """Blocking twin of a :class:`CredentialProvider`; same methods, same semantics."""

    def __init__(self, provider: CredentialProvider) -> None:
        self.provider = provider
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="nebula-credential-sync", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop()).result()

    def store(self, credential: Credential, *, expected_version: int | None = None) -> Credential:
        return self._run(self.provider.store(credential, expected_version=expected_version))

    def retrieve(self, credential_id: str) -> Credential | None:
        return self._run(self.provider.retrieve(credential_id))

    def get(self, credential_id: str) -> Credential:
        return self._run(self.provider.get(credential_id))

    def delete(self, credential_id: str) -> bool:
        return self._run(self.provider.delete(credential_id))

    def exists(self, credential_id: str) -> bool:
        return self._run(self.provider.exists(credential_id))

    def list(
        self,
        *,
        scope: str | None = None,
        descendants: bool = False,
        kind: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Iterator[Credential]:
        selection = ListFilter.build(scope=scope, descendants=descendants, kind=kind, tags=tags)
        return self._iterate(selection)

    def list_all(self) -> Iterator[Credential]:
        return self._iterate(ListFilter())

    def _iterate(self, selection: ListFilter) -> Iterator[Credential]:
        source = self.provider.iter_credentials(selection)

        async def next_batch() -> list[Credential]:
            batch: list[Credential] = []
            async for item in source:
                batch.append(item)
                if len(batch) >= _LIST_BATCH:
                    break
            return batch

        try:
            while True:
                batch = self._run(next_batch())
                yield from batch
                if len(batch) < _LIST_BATCH:
                    return
        finally:
            self._run(_aclose(source))

    def close(self) -> None:
        """Close the provider and stop the private loop."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.provider.close(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def _aclose(source: object) -> None:
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()
