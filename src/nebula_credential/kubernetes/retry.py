"""Retries for API calls: exponential backoff with full jitter, honouring Retry-After.

429, 5xx and connection errors are retried within a bounded number of attempts and a
bounded total time; then the call fails with ProviderUnavailable. Anything else is
mapped to our error hierarchy at once (see ``errors.error_for``). Transports report a
call's failure as ``ErrorReply``, ``ConnectionFailed`` or ``AuthFailed``, each raised
outside their HTTP stack's handlers, so both transports are retried and mapped alike.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import msgspec

from .. import observe
from .._log import DEBUG, enabled, get_logger
from ..domain import ConfigurationError
from .errors import (
    RETRY_STATUSES,
    AuthFailed,
    ConnectionFailed,
    ErrorReply,
    Operation,
    ServerReply,
    error_for,
    too_large,
    unavailable,
)

T = TypeVar("T")
_LOGGER: Final = "nebula_credential.kubernetes"  # loaded when there is something to log


# msgspec structs: a dataclass costs about a millisecond to define at start-up.
class RetryPolicy(msgspec.Struct, frozen=True):
    """How hard to try: ``attempts`` per call, within ``deadline`` seconds in total."""

    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 5.0
    deadline: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or min(self.base_delay, self.max_delay, self.deadline) < 0:
            raise ConfigurationError(
                "retry policy needs attempts >= 1 and non-negative delays and deadline"
            )

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Sleep before attempt ``attempt + 1``; never shorter than the server asked."""
        backoff = random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))  # noqa: S311
        if retry_after is None:
            return backoff
        # A little jitter on top keeps throttled clients from retrying in lock-step.
        return retry_after + random.uniform(0, self.base_delay)  # noqa: S311


class TransportStats(msgspec.Struct):
    """Counters of what the transport saw; no names, ids or values."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    gave_up: int = 0

    def snapshot(self) -> dict[str, int]:
        return msgspec.structs.asdict(self)


class Retrier:
    """Runs one API call with the policy, counting into ``stats``."""

    def __init__(
        self,
        policy: RetryPolicy,
        stats: TransportStats,
        *,
        server: str,
        context: str | None,
        pause: Callable[[float], Awaitable[None]],
    ) -> None:
        self.policy = policy
        self.stats = stats
        self.server = server
        self.context = context
        self._pause = pause  # the transport's own wait: blocking transports block

    async def run(self, op: Operation, call: Callable[[], Awaitable[T]]) -> T:
        policy, stats = self.policy, self.stats
        started = time.monotonic()
        attempt = 0
        last = "no attempt"
        while attempt < policy.attempts:
            attempt += 1
            stats.requests += 1
            retry_after: float | None = None
            reply: ServerReply | None = None
            sent = time.monotonic()
            auth_failure: str | None = None
            try:
                result = await call()
            except ErrorReply as exc:
                reply = exc.reply
            except ConnectionFailed as exc:
                if exc.untrusted:
                    observe.api_call(op.verb, "untrusted_certificate", time.monotonic() - sent)
                    raise ConfigurationError(
                        f"the TLS certificate of {self.server} is not trusted, so could not "
                        f"{op.describe()}; check certificate-authority in the kubeconfig"
                    ) from None
                stats.connection_errors += 1
                observe.api_call(op.verb, "connection_error", time.monotonic() - sent)
                last = exc.detail
            except AuthFailed as exc:
                # Raised at request time by exec plugins and rotated token files; the
                # transport already reduced the message to what is safe to show.
                auth_failure = exc.detail
            else:
                seconds = time.monotonic() - sent
                observe.api_call(op.verb, "success", seconds)
                if enabled(_LOGGER, DEBUG):
                    get_logger(_LOGGER).debug(
                        "%s: done in %.1f ms", op.describe(), seconds * 1000, extra=op.fields()
                    )
                return result
            if auth_failure is not None:
                observe.api_call(op.verb, "configuration_error", time.monotonic() - sent)
                raise ConfigurationError(
                    f"could not authenticate to {self.server} to {op.describe()}: {auth_failure}"
                )
            if reply is not None:
                # Classified after the handler: the HTTP error holds the request, body included.
                retry_after, last = self._status(reply, op, time.monotonic() - sent)
            pause = policy.delay(attempt, retry_after)
            elapsed = time.monotonic() - started
            if attempt >= policy.attempts or elapsed + pause > policy.deadline:
                break
            stats.retries += 1
            get_logger(_LOGGER).info(
                "retrying %s in %.2fs after %s (attempt %d of %d)",
                op.describe(),
                pause,
                last,
                attempt,
                policy.attempts,
                extra=op.fields(),
            )
            await self._pause(pause)
        stats.gave_up += 1
        elapsed = time.monotonic() - started
        get_logger(_LOGGER).warning(
            "giving up: %s after %d attempt(s): %s",
            op.describe(),
            attempt,
            last,
            extra=op.fields(),
        )
        raise unavailable(op, server=self.server, attempts=attempt, elapsed=elapsed, last=last)

    def _status(
        self, reply: ServerReply, op: Operation, seconds: float
    ) -> tuple[float | None, str]:
        """(Retry-After, description) for a retryable reply; raises for the others."""
        if reply.status not in RETRY_STATUSES or too_large(reply):
            error = error_for(reply, op, server=self.server, context=self.context)
            observe.api_call(op.verb, observe.status_of(error), seconds)
            raise error
        if reply.status == 429:
            self.stats.throttled += 1
            observe.api_call(op.verb, "throttled", seconds)
        else:
            self.stats.server_errors += 1
            observe.api_call(op.verb, "server_error", seconds)
        return reply.retry_after, f"HTTP {reply.status} {reply.message}".strip()
