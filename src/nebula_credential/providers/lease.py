"""Rotation leases: who may spend a credential's refresh token right now.

A lease is held *outside* the credential (a table of the local store, a
``coordination.k8s.io/v1`` Lease on Kubernetes), so taking, losing or releasing one
never changes the credential's content or version, and no ``store`` of the credential
can remove or forge it.

Rules every provider keeps:

- ``acquire_lease`` succeeds when nobody holds a live lease on the id; a lease is live
  from its ``acquired_at`` for ``seconds``, measured on the store's clock (the API
  server's on Kubernetes). A lease that claims to start in the future (beyond a small
  skew), or whose term is longer than :data:`MAX_LEASE_SECONDS`, is stale too: a
  hand-edited or corrupt lease never blocks rotation for good. Otherwise
  :class:`LeaseHeld`. ``holder=`` re-takes a lease that the same holder still has.
- ``store_fenced`` writes the credential only while the lease is still this holder's
  (compared by holder, not by time or version), and releases it in the same step;
  otherwise :class:`LeaseLost` and nothing is written.
- ``release_lease`` removes the lease if it is still this holder's; never raises for
  one that is gone.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Final, NamedTuple

from ..domain import ConfigurationError, CredentialId, LeaseHeld, format_timestamp

MAX_LEASE_SECONDS: Final = 24 * 3600
CLOCK_SKEW: Final = timedelta(seconds=5)


def new_holder() -> str:
    """A holder identity: host and process for people, random so it is never reused."""
    import secrets  # with hashlib and hmac: loaded by a rotation only, not by every get
    import socket

    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())[:40]
    return f"{host or 'host'}/{os.getpid()}/{secrets.token_hex(6)}"


class Lease(NamedTuple):  # a dataclass takes a millisecond to define at start-up
    """A rotation lease as taken: ``handle`` is the provider's own (a resourceVersion)."""

    credential_id: CredentialId
    holder: str
    acquired_at: datetime
    seconds: float
    handle: object = None

    def __repr__(self) -> str:
        return (
            f"Lease(credential_id={self.credential_id!r}, holder={self.holder!r}, "
            f"acquired_at={self.acquired_at!r}, seconds={self.seconds!r})"
        )

    @property
    def expires_at(self) -> datetime:
        return self.acquired_at + timedelta(seconds=self.seconds)

    def describe(self) -> str:
        """Who holds it and until when; a holder someone else wrote is cut short."""
        holder = self.holder if len(self.holder) <= 80 else self.holder[:77] + "..."
        return (
            f"held by {holder} since {format_timestamp(self.acquired_at)} "
            f"until {format_timestamp(self.expires_at)}"
        )


def held_elsewhere(held: Lease) -> LeaseHeld:
    """The error for a rotation that finds ``held``, another holder's live lease."""
    return LeaseHeld(
        f"credential {held.credential_id!r} is being rotated by another process "
        f"({held.describe()}); retry after that time",
        credential_id=held.credential_id,
    )


def is_live(acquired_at: datetime, seconds: float, now: datetime) -> bool:
    """Whether a lease taken at ``acquired_at`` for ``seconds`` still holds at ``now``."""
    if not 0 < seconds <= MAX_LEASE_SECONDS:
        return False
    if acquired_at > now + CLOCK_SKEW:  # from the future: a clock jump or a hand edit
        return False
    return now < acquired_at + timedelta(seconds=seconds)


def check_lease_seconds(seconds: float) -> float:
    if not 0 < seconds <= MAX_LEASE_SECONDS:
        raise ConfigurationError(
            f"a rotation lease lasts more than 0 and at most {MAX_LEASE_SECONDS} seconds, "
            f"not {seconds:g}"
        )
    return float(seconds)
