"""How hard to try an API call, and what the tries were: policy and counters.

429, 5xx and connection errors are retried within a bounded number of attempts and a
bounded total time, with exponential backoff and full jitter, never sooner than the
server's Retry-After; then the call fails with ProviderUnavailable. The loop that does
so is ``api.exchange``; what is retried is decided by ``api.interpret``.
"""

from __future__ import annotations

from typing import Final

import msgspec

from ...domain import ConfigurationError

# How long a write keeps retrying conflicts with other writers of one credential (s).
CONFLICT_DEADLINE: Final = 60.0


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
        import random  # only a retry needs it: not every one-shot command

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
    reauthentications: int = 0
    gave_up: int = 0

    def snapshot(self) -> dict[str, int]:
        return msgspec.structs.asdict(self)
