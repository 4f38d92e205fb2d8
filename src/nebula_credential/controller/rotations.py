"""Rotation when due: one timer per oauth2 credential, armed from the Secret watch.

A credential is due ``within`` before its access token expires (its
``access_token_expires_at``, else ``expires_at``: :func:`..ops.rotate_due.expiry_of`).
Its timer sleeps until then (no schedule, no polling of the API) and, on the leader
only, runs the same :func:`..ops.rotate` as ``rotate --due``: the same rotation Lease
per credential and the same re-check under it, so a rotation another replica or a
CronJob made meanwhile is ``skipped``, never repeated. The new expiry arrives through
the watch and re-arms the timer. A failed rotation is tried again after 5, 10, 20 ...
seconds (at most 5 minutes) while the credential stays due.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Final

from ..domain import Credential, utcnow
from ..kubernetes.api.exchange import ApiClient
from ..kubernetes.model.mapping import ANN_ID
from ..kubernetes.model.naming import KIND_LABEL, PREFIX_LABEL
from ..kubernetes.model.objects import SecretObject
from ..kubernetes.store.provider import DEFAULT_PREFIX, KubernetesSecretsProvider
from ..ops import RotateOptions, rotate_one
from ..ops.rotate_due import expiry_of
from .actions import ControllerMetrics, act
from .leader import Leader

_SETTLE: Final = 10.0  # seconds to wait for the watch to bring a rotation's new expiry
_MAX_BACKOFF: Final = 300.0


class Rotations:
    """The rotation timers of one namespace."""

    def __init__(
        self,
        client: ApiClient,
        namespace: str,
        leader: Leader,
        metrics: ControllerMetrics,
        within: timedelta,
        options: RotateOptions | None = None,
    ) -> None:
        self.namespace = namespace
        self.leader = leader
        self.metrics = metrics
        self.within = within
        self.options = options or RotateOptions()
        self._client = client
        self._expiry: dict[str, tuple[datetime, str]] = {}  # id -> (expiry, prefix)
        self._wake: dict[str, asyncio.Event] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._providers: dict[str, KubernetesSecretsProvider] = {}

    def seen(self, kind: str, secret: SecretObject, credential: Credential | None) -> None:
        """A Secret event: arm, move or drop the timer of its credential. ``credential``
        is the one the Secret holds, None when it was deleted or does not decode (the
        provider's reads report that)."""
        cid = secret.annotations.get(ANN_ID)
        if cid is None or secret.labels.get(KIND_LABEL) != "oauth2":
            return
        expiry = None if credential is None or kind == "DELETED" else expiry_of(credential)
        if expiry is None:
            self._expiry.pop(cid, None)
        else:
            self._expiry[cid] = (expiry, secret.labels.get(PREFIX_LABEL, DEFAULT_PREFIX))
        self._wake.setdefault(cid, asyncio.Event()).set()
        if expiry is not None and cid not in self._timers:
            self._timers[cid] = asyncio.ensure_future(self._timer(cid))

    async def _timer(self, cid: str) -> None:
        failures = 0
        try:
            while cid in self._expiry:
                expiry, prefix = self._expiry[cid]
                delay = (expiry - self.within - utcnow()).total_seconds()
                if delay > 0:
                    await self._sleep(cid, delay)
                    continue
                if not self.leader.acting():
                    await self._sleep(cid, self.leader.retry)
                    continue
                outcome = await self._rotate(cid, prefix)
                if outcome == "failed":
                    failures += 1
                    await self._sleep(cid, min(_MAX_BACKOFF, 5.0 * 2 ** (failures - 1)))
                else:
                    failures = 0
                    if self._expiry.get(cid, (None, ""))[0] == expiry:
                        await self._sleep(cid, _SETTLE)
        finally:
            self._timers.pop(cid, None)

    async def _sleep(self, cid: str, seconds: float) -> None:
        """Sleep, or less when a Secret event for ``cid`` arrives."""
        wake = self._wake.setdefault(cid, asyncio.Event())
        wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)

    async def _rotate(self, cid: str, prefix: str) -> str:
        provider = self._providers.get(prefix)
        if provider is None:
            provider = KubernetesSecretsProvider.with_client(
                self._client, self.namespace, prefix=prefix
            )
            self._providers[prefix] = provider
        result = await rotate_one(provider, cid, self.within, self.options)
        outcome = result.outcome
        self.metrics.rotations.labels(outcome).inc()
        action = "rotate-failed" if outcome == "failed" else "rotate"
        act(
            action,
            namespace=self.namespace,
            credential=cid,
            outcome=outcome,
            error=result.error_code,
            reason=result.reason,
            resumed=result.resumed or None,
        )
        return outcome

    def cancel(self) -> None:
        for task in list(self._timers.values()):
            task.cancel()
