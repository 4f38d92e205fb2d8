"""Which event loop an object's loop-bound state belongs to.

Tasks, futures and aiohttp sessions belong to the event loop they were made on; used
from another loop they fail deep inside asyncio ("attached to a different loop"), often
after a request was half sent. An object holding such state binds to the first loop
that uses it and refuses any other loop up front with :class:`WrongEventLoop`, which
says what to do. A loop that has been closed no longer holds anything: the next loop
takes over (two ``asyncio.run`` calls in a row with one module-level provider), and the
owner is told so it can drop what belonged to the old one.
"""

from __future__ import annotations

import asyncio

from .domain import WrongEventLoop


class LoopBinding:
    """The loop ``what`` (a provider's name, for the error) is bound to, if any."""

    __slots__ = ("_loop", "_what")

    def __init__(self, what: str) -> None:
        self._what = what
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop bound to, while it is open; else None."""
        loop = self._loop
        return None if loop is None or loop.is_closed() else loop

    def enter(self) -> bool:
        """Check the running loop against the bound one, binding on first use.

        True when the running loop just took over from a closed one (the caller drops
        the state of the old loop); WrongEventLoop while the bound loop is still open.
        """
        running = asyncio.get_running_loop()
        bound = self._loop
        if bound is running:
            return False
        if bound is not None and not bound.is_closed():
            raise WrongEventLoop(
                f"this {self._what} runs on the event loop it was first used on, which is "
                "still open, and was now used from another one; use it from its own loop "
                "(asyncio.run_coroutine_threadsafe from other threads), or make one per "
                "event loop (SyncCredentialProvider gives blocking code its own)"
            )
        self._loop = running
        return bound is not None

    def is_foreign(self) -> bool:
        """True when called outside the bound loop while that loop is still open."""
        bound = self.loop
        if bound is None:
            return False
        try:
            return asyncio.get_running_loop() is not bound
        except RuntimeError:
            return True
