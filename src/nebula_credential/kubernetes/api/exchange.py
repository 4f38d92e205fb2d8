"""The one loop that runs an API call: send, interpret, and retry or re-authenticate.

An :class:`ApiClient` pairs a driver of :mod:`nebula_credential.http` (asyncio or blocking)
with the :class:`~..connect.Endpoint` that gives its credentials. :meth:`ApiClient.call` sends a
request, hands the answer to :func:`.interpret.interpret` (or the failure to
:func:`.interpret.no_reply`) and does what the verdict says, within the policy's
attempts and deadline: every attempt is counted in :class:`~..retry.TransportStats` and
as an ``api_call`` metric, re-sends at once included.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping
from typing import Final, Protocol

from ... import observe
from ..._log import DEBUG, enabled, get_logger
from ...domain import ConfigurationError
from ...http.message import NoReply, Request, Response
from ...http.urls import origin_and_path, shown_url
from ..config.endpoint import Endpoint
from .errors import AuthFailed
from .interpret import DONE, FAIL, REAUTH, Site, Verdict, gave_up, interpret, no_reply
from .requests import ApiRequest
from .retry import RetryPolicy, TransportStats

_LOGGER: Final = "nebula_credential.kubernetes"  # loaded when there is something to log
_STATUS: Final = {
    "throttled": "throttled",
    "server_error": "server_error",
    "connection_error": "connection_error",
    "proxy_error": "connection_error",
}


class Driver(Protocol):
    """What the loop needs of a driver (``http.aio``'s or ``http.blocking``'s)."""

    origin: str
    blocking: bool  # True when no call suspends (the I/O blocks instead)

    async def send(self, request: Request, auth: Mapping[str, str]) -> Response: ...

    def lines(
        self, request: Request, auth: Mapping[str, str], max_line: int
    ) -> AsyncGenerator[bytes, None]: ...

    async def sleep(self, seconds: float) -> None: ...

    async def close(self) -> None: ...


class ApiClient:
    """Calls to one API server through ``driver`` with ``endpoint``'s credentials.

    One client serves any number of providers (one per namespace); ``namespace`` is the
    one its configuration names. Close it when done: that closes its connections.
    """

    def __init__(
        self,
        driver: Driver,
        endpoint: Endpoint,
        *,
        policy: RetryPolicy,
        stats: TransportStats | None = None,
        context: str | None = None,
        namespace: str = "default",
    ) -> None:
        self.driver = driver
        self.blocking: bool = driver.blocking
        self.namespace = namespace
        self.endpoint = endpoint
        self.policy = policy
        self.stats = TransportStats() if stats is None else stats
        _, path = origin_and_path(endpoint.server)
        self.base = path.rstrip("/")  # a server URL's own path: every request starts with it
        proxy = None if endpoint.proxy is None else shown_url(endpoint.proxy)
        self.site = Site(endpoint.shown, proxy=proxy, context=context)

    def __repr__(self) -> str:
        kind = "blocking" if self.blocking else "aiohttp"
        return f"ApiClient(server={self.site.server!r}, namespace={self.namespace!r}, {kind})"

    async def auth(self, request: ApiRequest) -> Mapping[str, str]:
        """The credentials to send now; ConfigurationError when they cannot be had."""
        try:
            return await self.endpoint.headers()
        except AuthFailed as exc:
            # Raised at request time by exec plugins; the message is already safe.
            observe.api_call(request.op.verb, "configuration_error", 0.0)
            raise ConfigurationError(
                f"could not authenticate to {self.site.server} to {request.op.describe()}: "
                f"{exc.detail}"
            ) from None

    async def call(self, request: ApiRequest) -> Response:
        """The 2xx answer to ``request`` (or a DELETE's 404 that our lost attempt caused);
        raises the error or transport signal the final answer stands for."""
        policy, stats, site, op = self.policy, self.stats, self.site, request.op
        started = time.monotonic()
        attempt = 0
        reauthed = maybe_applied = False
        while True:
            attempt += 1
            stats.requests += 1
            auth = await self.auth(request)
            sent = time.monotonic()
            answer: Response | None = None
            try:
                answer = await self.driver.send(request, auth)
            except NoReply as failure:
                verdict = no_reply(request, failure, site=site)
            else:
                verdict = interpret(
                    request,
                    answer.status,
                    answer.headers,
                    answer.body,
                    reason=answer.reason,
                    reauthed=reauthed,
                    maybe_applied=maybe_applied,
                    site=site,
                )
            seconds = time.monotonic() - sent
            kind = verdict.kind
            if kind is DONE:
                assert answer is not None
                observe.api_call(op.verb, "success", seconds)
                if enabled(_LOGGER, DEBUG):
                    get_logger(_LOGGER).debug(
                        "%s: done in %.1f ms", op.describe(), seconds * 1000, extra=op.fields()
                    )
                return answer
            if kind is FAIL:
                assert verdict.error is not None
                observe.api_call(
                    op.verb, verdict.counter or observe.status_of(verdict.error), seconds
                )
                raise verdict.error
            if kind is REAUTH:
                reauthed = True
                if await self.endpoint.unauthorized():
                    stats.retries += 1
                    stats.reauthentications += 1
                    continue
                assert answer is not None  # the same 401, now final
                verdict = interpret(
                    request, 401, answer.headers, answer.body, reauthed=True, site=site
                )
                assert verdict.error is not None
                raise verdict.error
            maybe_applied = maybe_applied or verdict.maybe_applied
            self._count(verdict, op.verb, seconds)
            pause = 0.0 if verdict.at_once else policy.delay(attempt, verdict.after)
            elapsed = time.monotonic() - started
            if attempt >= policy.attempts or elapsed + pause > policy.deadline:
                stats.gave_up += 1
                get_logger(_LOGGER).warning(
                    "giving up: %s after %d attempt(s): %s",
                    op.describe(),
                    attempt,
                    verdict.why,
                    extra=op.fields(),
                )
                raise gave_up(request, verdict, site=site, attempts=attempt, elapsed=elapsed)
            stats.retries += 1
            get_logger(_LOGGER).info(
                "retrying %s in %.2fs after %s (attempt %d of %d)",
                op.describe(),
                pause,
                verdict.why,
                attempt,
                policy.attempts,
                extra=op.fields(),
            )
            if pause > 0:
                await self.driver.sleep(pause)

    async def fetch(self, request: ApiRequest) -> Response:
        """The answer to one ``request`` whatever its status, after at most one new
        authentication (a 401 that a fresh token may cure); NoReply when there is none.
        For callers that read the status themselves (``doctor``, the service proxy)."""
        for again in (False, True):
            auth = await self.auth(request)
            self.stats.requests += 1
            answer = await self.driver.send(request, auth)
            if answer.status == 401 and not again and await self.endpoint.unauthorized():
                self.stats.reauthentications += 1
                continue
            return answer
        raise AssertionError("unreachable")

    def _count(self, verdict: Verdict, verb: str, seconds: float) -> None:
        counter = verdict.counter
        stats = self.stats
        if counter == "throttled":
            stats.throttled += 1
        elif counter == "server_error":
            stats.server_errors += 1
        else:
            stats.connection_errors += 1
        observe.api_call(verb, _STATUS.get(counter, counter), seconds)

    async def close(self) -> None:
        await self.driver.close()
        await self.endpoint.aclose()
