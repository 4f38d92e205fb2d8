"""A private event loop in a daemon thread, where blocking code runs coroutines.

:class:`~.sync.SyncCredentialProvider` starts one on the first call that needs it (a
provider without blocking access); closing runs the last coroutines on it, finalises
async generators libraries left open and stops it. asyncio and threading are imported
only then: the local store and the CLI never pay for them.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio
    import threading
    from concurrent.futures import Future

    from .base import CredentialProvider

T = TypeVar("T")


class LoopThread:
    """One event loop running in a daemon thread, started on first use."""

    __slots__ = ("_loop", "_thread")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._loop is not None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop, started now if it is not running yet (the caller serialises)."""
        if self._loop is None:
            import asyncio
            import threading

            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="nebula-credential-sync", daemon=True
            )
            thread.start()
            self._loop, self._thread = loop, thread
        return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """``coro``'s result, run on the loop; this thread waits for it."""
        return submit(coro, self.loop()).result()

    def stop(self, *last: Coroutine[Any, Any, Any]) -> None:
        """Run ``last`` in order, finalise open async generators and stop the loop."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            for coro in last:
                coro.close()
            return
        try:
            for coro in last:
                submit(coro, loop).result()
            # Async generators that libraries left unclosed (an HTTP body stream under a
            # watch, say) are finalised while the loop still runs, not at GC time.
            submit(loop.shutdown_asyncgens(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()


_CLOSING: set[asyncio.Task[None]] = set()  # closes handed to a loop, until done


def close_elsewhere(provider: CredentialProvider) -> None:
    """Close a provider no call of which ran on a :class:`LoopThread`.

    Called from async code (a with-block inside a coroutine), the provider most likely
    runs on that loop, which cannot be waited for from here: the close is handed to it
    and runs at its next step. Otherwise it runs to its end on a loop of its own.
    """
    import asyncio
    import threading

    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        closer = threading.Thread(target=asyncio.run, args=(provider.close(),))
        closer.start()
        closer.join()
        return
    task = running.create_task(provider.close())
    _CLOSING.add(task)
    task.add_done_callback(_CLOSING.discard)


def submit(coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop) -> Future[T]:
    import asyncio  # loaded already: the loop exists

    return asyncio.run_coroutine_threadsafe(coro, loop)


async def aclose(source: object) -> None:
    """Close an async iterator that has ``aclose``; anything else is left alone."""
    close = getattr(source, "aclose", None)
    if close is not None:
        await close()
