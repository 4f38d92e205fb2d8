"""The cache's change feed, kept alive: a feed that dies is started again, with backoff.

A provider's change feed (Kubernetes: a watch) resumes from dropped connections and
restarted API servers on its own. What it cannot survive is an error it does not expect
(a bug, a library's exception) or the end of the event loop it ran on; without a
supervisor the cache would then live on its TTL alone for the rest of the process.
The supervisor starts a new feed after such a death, waiting a bounded, jittered,
exponentially growing delay, and counts each loss. A credential error (a Role without
``watch``, refused credentials) ends the feed for good: asking again cannot cure it, and
a LIST every few seconds forever would only load the API server.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Final, Protocol

from .._log import get_logger
from ..domain import ConfigurationError, CredentialError
from .base import Change, CredentialProvider

logger = get_logger("nebula_credential.cache")

FIRST_DELAY: Final = 0.25  # seconds before the first restart
MAX_DELAY: Final = 30.0  # the delay doubles per death in a row, up to this

# What stats.feed says.
OFF: Final = "off"  # no feed: watch=False, or the provider has none
IDLE: Final = "idle"  # not started yet: it starts with the first read that misses
RUNNING: Final = "running"
RESTARTING: Final = "restarting"  # died; a new one starts after the backoff
STOPPED: Final = "stopped"  # ended for good (a credential error) or closed


class FeedState(Protocol):
    """The part of the cache's stats the supervisor keeps up to date."""

    feed: str
    feed_restarts: int


class FeedSupervisor:
    """Runs ``inner.changes()`` into ``apply`` on one event loop, restarting it when it
    dies; ``required`` makes a provider without a feed a ConfigurationError."""

    def __init__(
        self,
        inner: CredentialProvider,
        apply: Callable[[Change], None],
        state: FeedState,
        *,
        required: bool,
        on_dead: Callable[[], None],
    ) -> None:
        self._inner = inner
        self._apply = apply
        self._state = state
        self._required = required
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._deaths = 0  # in a row: reset when a feed goes live
        self._reported_lost = False  # the feed said "lost" itself and has not resumed
        self._on_dead = on_dead  # told when it ended without being stopped
        self._live: asyncio.Event | None = None  # set once the feed first says it is live
        state.feed = IDLE

    def ensure_running(self) -> None:
        """Start the feed on the running loop unless it runs, ended for good or is off."""
        if self._task is not None or self._closed or self._state.feed in (OFF, STOPPED):
            return
        changes = self._inner.changes()
        if changes is None:
            if self._required:
                raise ConfigurationError(
                    f"the {self._inner.name} provider has no change feed to watch; "
                    "use watch=False or None"
                )
            self._state.feed = OFF
            return
        self._live = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(changes))
        self._task.add_done_callback(self._ended)

    async def until_live(self, seconds: float) -> None:
        """Wait (at most ``seconds``) until a feed just started is live.

        What is read before the feed's first list may change unseen before its watch
        begins, so the feed's first ``resync`` forgets it: a value read first and cached
        would be dropped at once (a blocking hit right after an async read would miss).
        Read after the feed is live instead; a feed that cannot get there in time is left
        to catch up, and the TTL bounds what it might miss.
        """
        live = self._live
        if live is None or live.is_set() or self._task is None:
            return
        try:
            await asyncio.wait_for(live.wait(), seconds)
        except TimeoutError:
            return

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The feed's task is done: unless stopped, its loop is ending (asyncio.run
        cancels what is left) or it failed outside a feed; the next use starts it."""
        if task is self._task:
            self.loop_ended()

    def loop_ended(self) -> None:
        """The feed died with its loop (or its task): count it, start it when next used."""
        if self._task is None:
            return
        self._task = None
        if self._closed or self._state.feed == STOPPED:
            return
        self._died("its event loop ended")
        self._state.feed = IDLE
        self._on_dead()

    def stop(self) -> asyncio.Task[None] | None:
        """Stop the feed for good. Returns its task, cancelled, when it runs on this
        thread's loop (to await); from elsewhere its own loop is asked to cancel it."""
        self._closed = True
        self._state.feed = STOPPED
        task, self._task = self._task, None
        if task is None or task.done():
            return None
        home = task.get_loop()
        if home.is_closed():
            return None
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not home:
            home.call_soon_threadsafe(task.cancel)
            return None
        task.cancel()
        return task

    async def close(self) -> None:
        """Stop the feed for good and, on its own loop, wait until it has let go."""
        task = self.stop()
        if task is not None:
            await asyncio.wait({task})

    async def _run(self, changes: AsyncIterator[Change]) -> None:
        while True:
            self._state.feed = RUNNING
            why = await self._follow(changes)
            if why is None:
                return
            self._deaths += 1
            delay = _delay(self._deaths)
            self._died(f"{why}; starting it again in {delay:.1f} s")
            self._state.feed = RESTARTING
            await asyncio.sleep(delay)
            fresh = self._inner.changes()
            if fresh is None:  # the provider no longer offers one
                self._state.feed = STOPPED
                return
            changes = fresh
            self._state.feed_restarts += 1

    async def _follow(self, changes: AsyncIterator[Change]) -> str | None:
        """Apply the feed's changes until it ends: why it ended, or None for good."""
        try:
            async for change in changes:
                if change.kind == "lost":
                    self._reported_lost = True
                elif change.kind in ("resync", "resumed"):
                    self._reported_lost = False
                    self._deaths = 0
                self._apply(change)
                if change.kind in ("resync", "resumed") and self._live is not None:
                    self._live.set()
            return "it ended"
        except CredentialError as exc:
            self._died(f"{type(exc).__name__}, which asking again cannot cure")
            self._state.feed = STOPPED
            return None
        except Exception as exc:  # whatever killed it, the cache needs a feed
            return f"{type(exc).__name__} stopped it"
        finally:
            aclose = getattr(changes, "aclose", None)
            if aclose is not None:
                await aclose()

    def _died(self, why: str) -> None:
        logger.warning("cache change feed over the %s provider lost: %s", self._inner.name, why)
        if not self._reported_lost:
            self._apply(Change("lost"))
        self._reported_lost = False


def _delay(deaths: int) -> float:
    """Exponential in the deaths in a row, capped, jittered so processes spread out."""
    return random.uniform(0.5, 1.0) * min(MAX_DELAY, FIRST_DELAY * 2.0 ** (deaths - 1))  # noqa: S311
