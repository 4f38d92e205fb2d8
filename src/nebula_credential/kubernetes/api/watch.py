"""The state of one watch across its streams: where to resume and how long to wait.

A watch is a series of streamed GETs; the server ends each after its timeout and the
next resumes from the last resourceVersion seen. :class:`WatchState` decides, without
I/O, what comes next:

- a stream that ended with events, or after a healthy while, is reopened at once;
- a stream that ended empty and quickly (a proxy that closes it at once) is reopened
  after a growing pause, and after the policy's attempts the watch stops with
  :class:`ProviderUnavailable`;
- 429 waits for ``Retry-After`` (or the backoff); 5xx and undecodable events back off;
  the same bound of consecutive failures applies;
- 410 Gone starts over from the current state (``resource_version`` None), or stops with
  :class:`~..errors.Gone` when the caller resyncs itself;
- 401 asks for one new authentication; 403, 404, a second 401 and other statuses stop
  the watch with their typed error at once: repeating them cannot help.

It also reports the watch to observers (:func:`..observe.watch_event`): ``open`` when
its first stream is requested and ``close`` from :meth:`WatchState.finish`, each
stream's end as a ``stream`` with its status word (one Kubernetes request, counted but
not timed: a stream lasts as long as the server keeps it), each event as ``received``
with its type, and each stream reopened as a ``restart`` with why (``ended``, ``gone``,
``retry``, ``reauth``). A watch thus never lands in the request-duration histogram.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Final

from ... import observe
from ...domain import ProviderUnavailable
from ...http.message import Headers, NoReply
from ..model.wire_secret import read_status
from .errors import RETRY_STATUSES, Gone, ServerReply, error_for, server_reply
from .interpret import Site
from .requests import ApiRequest, Collection
from .retry import RetryPolicy

HEALTHY: Final = 5.0  # seconds: a stream open this long was not closed "at once"
MAX_LINE: Final = 8 * 1024 * 1024  # a watch event: a Secret of at most 1 MiB, base64

# Event types as metric label values; anything else a server sends counts as "other".
_EVENT_TYPES: Final = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK"})

WAIT: Final = "wait"
REAUTH: Final = "reauth"
STOP: Final = "stop"


class Step:
    """WAIT ``seconds`` then open the next stream, REAUTH then open it, or STOP with ``error``."""

    __slots__ = ("error", "kind", "seconds")

    def __init__(self, kind: str, seconds: float = 0.0, error: Exception | None = None) -> None:
        self.kind = kind
        self.seconds = seconds
        self.error = error

    def __repr__(self) -> str:
        return f"Step({self.kind}, {self.seconds:.3f})"


class WatchState:
    """One watch of ``labels`` in ``collection``, from ``resource_version`` (None: now)."""

    def __init__(
        self,
        collection: Collection,
        labels: Mapping[str, str],
        resource_version: str | None,
        *,
        restart_on_gone: bool,
        policy: RetryPolicy,
        site: Site,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.collection = collection
        self.labels = labels
        self.version = resource_version
        self.restart_on_gone = restart_on_gone
        self.policy = policy
        self.site = site
        self.failures = 0  # consecutive streams that failed or ended empty at once
        self.reauthed = False
        self._clock = clock
        self._opened = 0.0
        self._events = 0
        self._streams = 0
        self._streaming = False  # a stream was requested and has not ended yet
        self._reopen = "ended"  # why the next stream is opened: the restart's reason

    def request(self) -> ApiRequest:
        """The next stream's request; marks it opened now."""
        if self._streams == 0:
            observe.watch_event("open", "")
        else:
            observe.watch_event("restart", self._reopen)
        self._streams += 1
        self._streaming = True
        self._opened = self._clock()
        self._events = 0
        return self.collection.watch(self.labels, self.version)

    def finish(self, failure: BaseException | None) -> None:
        """The watch is over (closed by its reader, or stopped with ``failure``)."""
        if self._streaming:
            self._stream_ended(observe.status_of(failure))
        if self._streams:
            observe.watch_event("close", observe.status_of(failure))

    def _stream_ended(self, status: str, reopen: str = "ended") -> None:
        self._reopen = reopen
        if self._streaming:  # a refusal after a failed re-authentication ends none
            self._streaming = False
            observe.watch_event("stream", status)

    def event(self, kind: str, version: str | None) -> None:
        """An event of ``kind`` (ADDED, MODIFIED, ...) arrived, with the object's
        resourceVersion."""
        observe.watch_event("received", kind.lower() if kind in _EVENT_TYPES else "other")
        if self._events == 0:
            self.failures = 0
            self.reauthed = False
        self._events += 1
        if version:
            self.version = version

    def ended(self) -> Step:
        """The server ended the stream normally."""
        self._stream_ended("success")
        if self._events or self._clock() - self._opened >= HEALTHY:
            self.failures = 0
            return Step(WAIT, 0.0)
        return self._again(None, "the watch stream ended at once, again and again")

    def answered(self, status: int, headers: Headers, body: bytes) -> Step:
        """The stream was refused with ``status`` (or an ERROR event carried it)."""
        reply = server_reply(status, "", headers.get("Retry-After"), read_status(body))
        return self.refused(reply)

    def refused(self, reply: ServerReply) -> Step:
        op = self.collection.op("watch")
        if reply.status == 401 and not self.reauthed:
            self.reauthed = True
            self._stream_ended("unauthorized", "reauth")
            return Step(REAUTH)
        if reply.status == 410:
            self._stream_ended("gone", "gone")
            if not self.restart_on_gone:
                return Step(STOP, error=Gone(op.describe()))
            self.version = None  # start over from the current state
            return self._again(None, "HTTP 410")
        if reply.status in RETRY_STATUSES:
            self._stream_ended("throttled" if reply.status == 429 else "server_error", "retry")
            return self._again(reply.retry_after, f"HTTP {reply.status} {reply.message}".strip())
        error = error_for(reply, op, server=self.site.server, context=self.site.context)
        self._stream_ended(observe.status_of(error))
        return Step(STOP, error=error)

    def undecodable(self) -> Step:
        self._stream_ended("invalid_response", "retry")
        return self._again(None, "a watch event that does not decode")

    def lost(self, failure: NoReply) -> Step:
        """The stream broke or could not be opened: the caller resumes from ``version``."""
        self._stream_ended("connection_error")
        namespace = self.collection.namespace
        return Step(
            STOP,
            error=ProviderUnavailable(
                f"lost the watch on secrets in namespace {namespace!r} at {self.site.server} "
                f"({failure.detail.split(':')[0]}); start it again from the last resource "
                "version"
            ),
        )

    def _again(self, retry_after: float | None, why: str) -> Step:
        if self._reopen == "ended":
            self._reopen = "retry"  # a stream that ended empty at once, reopened
        self.failures += 1
        policy = self.policy
        if self.failures > policy.attempts:
            op = self.collection.op("watch")
            return Step(
                STOP,
                error=ProviderUnavailable(
                    f"could not {op.describe()} at {self.site.server}: {why} "
                    f"({self.failures} times in a row); check the API server and any "
                    "proxy in between, then start the watch again"
                ),
            )
        return Step(WAIT, pause(policy, self.failures, retry_after))


def pause(policy: RetryPolicy, failures: int, retry_after: float | None) -> float:
    """Half the backoff fixed, half jittered: a stream that keeps failing at once is
    reopened ever more slowly, never in a tight loop; never before ``retry_after``."""
    if retry_after is not None:
        return policy.delay(failures, retry_after)
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** (failures - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311
