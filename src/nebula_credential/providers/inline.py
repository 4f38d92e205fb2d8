"""Blocking access to a provider whose coroutines never suspend.

A provider on blocking I/O (the Kubernetes provider on its ``blocking`` transport) does
all its work inside the first step of each coroutine. Such a coroutine is driven to its
end with one ``send(None)``, on the caller's thread: no event loop, no thread hop and
no import of asyncio. A coroutine that does suspend is a bug of the provider; it is
closed and reported rather than left half done.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

from ..domain import Credential
from .base import CredentialProvider, ListFilter

T = TypeVar("T")


def run_inline(coro: Coroutine[Any, Any, T]) -> T:
    """The result of ``coro``, run to its end on this thread; it must never suspend."""
    try:
        awaited = coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise RuntimeError(
        f"{getattr(coro, '__qualname__', 'a coroutine')} waited for {type(awaited).__name__}: "
        "it needs an event loop and cannot run inline"
    )


class InlineAccess:
    """:class:`~.base.BlockingAccess` by driving ``provider``'s coroutines inline."""

    def __init__(self, provider: CredentialProvider) -> None:
        self._provider = provider

    def store(
        self,
        credential: Credential,
        expected_version: int | None,
        previous: Credential | None = None,
    ) -> Credential:
        return run_inline(
            self._provider.store(credential, expected_version=expected_version, previous=previous)
        )

    def retrieve(self, credential_id: str) -> Credential | None:
        return run_inline(self._provider.retrieve(credential_id))

    def retrieve_previous(self, credential_id: str) -> Credential | None:
        return run_inline(self._provider.retrieve_previous(credential_id))

    def delete(self, credential_id: str) -> bool:
        return run_inline(self._provider.delete(credential_id))

    def exists(self, credential_id: str) -> bool:
        return run_inline(self._provider.exists(credential_id))

    def iter_credentials(self, selection: ListFilter) -> Iterator[Credential]:
        return iterate_inline(self._provider.iter_credentials(selection))

    def close(self) -> None:
        run_inline(self._provider.close())


def iterate_inline(source: AsyncIterator[T]) -> Iterator[T]:
    """The items of ``source`` (an async iterator that never suspends), one by one."""
    try:
        while True:
            try:
                item = run_inline(_next(source))
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            run_inline(aclose())


async def _next(source: AsyncIterator[T]) -> T:
    return await anext(source)
