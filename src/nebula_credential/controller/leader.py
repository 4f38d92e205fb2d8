"""Leader election on a ``coordination.k8s.io/v1`` Lease: only one replica acts.

Every replica reads the Lease each ``retry`` seconds. The holder renews it (a replace
naming the resourceVersion it read, so two writers cannot both win); a standby takes it
over only after it has seen the same resourceVersion unchanged for the lease's whole
duration on its own clock. A leader counts its term from the moment it *sent* its last
successful renewal and stops acting two thirds of a duration later unless it renewed
again: its term always ends before any standby can take over, so two leaders never act
at once, even when the leader hangs or its renewals fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Final, Literal, NamedTuple

from ..domain import CredentialError, format_timestamp, utcnow
from ..kubernetes.api.errors import AlreadyExists, StaleWrite
from ..kubernetes.api.object_calls import ObjectCalls
from ..kubernetes.model.naming import LEASE_API_VERSION
from .actions import act

LEASE_NAME: Final = "nebula-credential-controller"  # unless --lease-name says otherwise
_RESIGN_SECONDS: Final = 5.0
_LONGEST: Final = 3600.0  # the longest --lease-seconds the command line accepts


class _Sighting(NamedTuple):
    """What this replica last saw of the Lease, and since when (``time.monotonic()``):
    one ``version`` of it, its absence, or nothing yet while another replica created it."""

    seen: Literal["version", "absent", "unread"]
    since: float
    version: str = ""


class Leader:
    """This replica's view of the election; :meth:`acting` says whether to act now."""

    def __init__(
        self, calls: ObjectCalls, identity: str, duration: float, name: str = LEASE_NAME
    ) -> None:
        self.calls = calls
        self.name = name
        self.identity = identity
        self.duration = duration
        self.retry = max(duration / 5, 0.2)
        self.changed = asyncio.Event()  # set whenever leadership is won or lost
        self._term_end = 0.0  # monotonic: act only before this
        self._leading = False
        self._seen: _Sighting | None = None  # None: never looked at
        self._transitions = 0

    def acting(self) -> bool:
        """True while this replica leads and its last renewal is recent enough."""
        return self._leading and time.monotonic() < self._term_end

    async def run(self) -> None:
        """Campaign and renew until cancelled (then :meth:`resign` hands the Lease back)."""
        while True:
            await self.attempt()
            await asyncio.sleep(self.retry if not self._leading else self.duration / 3)

    async def resign(self) -> None:
        """Hand the Lease back at once on a clean stop, so a standby need not wait out
        the term; called after every task that acts has stopped, while the client is
        still open. Bounded: a stop never hangs on the API server."""
        if self._leading:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_RESIGN_SECONDS):
                    await self._release()

    async def attempt(self) -> None:
        started = time.monotonic()
        try:
            won = await self._try(started)
        except (CredentialError, StaleWrite, AlreadyExists) as exc:
            won = False
            if self._seen is None:
                self._seen = _Sighting("unread", started)  # another replica may lead
            if self._leading:
                act("leader-lost", identity=self.identity, reason=type(exc).__name__)
        self._set(won, started)

    async def _try(self, started: float) -> bool:
        lease = await self.calls.lease_get(self.name)
        if lease is None:
            # Deleted under a live leader, it may still act for the rest of its term: a
            # standby that once saw the Lease waits out a whole duration of its absence.
            if not self._leading and self._seen is not None and not self._gone_for(started):
                return False
            await self.calls.lease_create(self.name, self._body(None, 0))
            return True
        meta = lease.get("metadata") or {}
        spec = lease.get("spec") or {}
        version = str(meta.get("resourceVersion") or "")
        seen = self._seen
        if seen is None or seen.seen != "version" or seen.version != version:
            seen = self._seen = _Sighting("version", started, version)
        holder = spec.get("holderIdentity")
        expired = started - seen.since >= self._term_of(spec)
        if holder and holder != self.identity and not expired:
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder != self.identity:
            transitions += 1
        await self.calls.lease_replace(self.name, self._body(version, transitions, spec))
        return True

    def _gone_for(self, started: float) -> bool:
        """Whether the Lease has been absent for a whole duration."""
        seen = self._seen
        if seen is None or seen.seen != "absent":
            seen = self._seen = _Sighting("absent", started)
        return started - seen.since >= self.duration

    def _term_of(self, spec: dict[str, Any]) -> float:
        """How long the holder may act: its ``leaseDurationSeconds``, but never shorter
        than this replica's own duration (a hand edit to 1 s would let a standby take
        over while the leader still acts) nor longer than the longest the command line
        accepts (a hand edit to 10^9 would keep every replica standing by for ever)."""
        try:
            seconds = float(spec.get("leaseDurationSeconds") or 0)
        except (TypeError, ValueError):
            seconds = 0.0
        return min(max(seconds, self.duration), max(_LONGEST, self.duration))

    def _set(self, won: bool, started: float) -> None:
        lapsed = self._leading and time.monotonic() >= self._term_end
        if won:
            self._term_end = started + self.duration * 2 / 3
        if won != self._leading:
            self._leading = won
            if not won:
                self._term_end = 0.0
            act("leader" if won else "standby", identity=self.identity)
            self.changed.set()
        elif won and lapsed:  # acting again after a late renewal: what it passed over
            self.changed.set()

    def _body(
        self, version: str | None, transitions: int, spec: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        now = format_timestamp(utcnow())
        held = spec or {}
        acquired = held.get("acquireTime") if held.get("holderIdentity") == self.identity else None
        meta: dict[str, Any] = {"name": self.name, "namespace": self.calls.namespace}
        if version is not None:
            meta["resourceVersion"] = version
        return {
            "apiVersion": LEASE_API_VERSION,
            "kind": "Lease",
            "metadata": meta,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.duration)),
                "acquireTime": acquired or now,
                "renewTime": now,
                "leaseTransitions": transitions,
            },
        }

    async def _release(self) -> None:
        self._leading = False
        self._term_end = 0.0
        try:
            lease = await self.calls.lease_get(self.name)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            body = self._body(str((lease.get("metadata") or {}).get("resourceVersion")), 0)
            body["spec"] = {"leaseDurationSeconds": body["spec"]["leaseDurationSeconds"]}
            await self.calls.lease_replace(self.name, body)
        except (CredentialError, StaleWrite, AlreadyExists):
            return
