"""The list+watch loops that feed a :class:`.engine.Namespace`: no polling.

One list of our Secrets (by the managed-by label) then one watch from its
resourceVersion, shared by every workload of the namespace; one list+watch per workload
kind. A watch lost (the API server restarted, the connection broke) is resumed from the
last resourceVersion seen, so nothing in between is missed; one too old to resume
(410 Gone) starts over from a fresh list. A refusal that asking again cannot cure (a
Role without ``watch``) is logged once and tried again after a long pause.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Final

from ..domain import AuthenticationError, CredentialError, PermissionDenied
from ..kubernetes.api.errors import Gone
from ..kubernetes.api.transport import SecretTransport
from ..kubernetes.model.naming import MANAGED_BY, MANAGER
from ..kubernetes.model.objects import SecretObject
from .actions import act
from .engine import Namespace

_LABELS: Final = {MANAGED_BY: MANAGER}
_PAGE: Final = 250
_MAX_DELAY: Final = 30.0
_REFUSED: Final = 9  # failures: 0.1 s * 2**9 is past _MAX_DELAY
_REMIND: Final = 20  # a refusal still in place is said again every 20 tries (~6 min)


class Liveness:
    """Which watches are live now: the controller is ready when all of them are."""

    def __init__(self) -> None:
        self._live: dict[str, bool] = {}

    def set(self, name: str, live: bool) -> None:
        self._live[name] = live

    def ready(self) -> bool:
        return bool(self._live) and all(self._live.values())


def _delay(failures: int) -> float:
    return random.uniform(0.5, 1.0) * min(_MAX_DELAY, 0.1 * 2.0**failures)  # noqa: S311


async def watch_secrets(space: Namespace, transport: SecretTransport, live: Liveness) -> None:
    async def events(version: str) -> AsyncGenerator[str | None, None]:
        stream = transport.watch(_LABELS, version, restart_on_gone=False)
        async with aclosing(stream):
            async for kind, secret in stream:
                space.secret_seen(kind, secret)
                yield secret.resource_version

    async def relist() -> str:
        return await _list_secrets(space, transport)

    await _follow(space, "secrets", "secrets", live, relist, events)


async def _list_secrets(space: Namespace, transport: SecretTransport) -> str:
    version = await transport.resource_version(_LABELS)
    seen: set[str] = set()
    async with aclosing(transport.list_pages(_LABELS, _PAGE)) as pages:
        async for page in pages:
            for secret in page:
                seen.add(secret.name)
                space.secret_seen("ADDED", secret)
    for gone in [name for name in space.secrets if name not in seen]:
        space.secret_seen("DELETED", SecretObject(name=gone))
    space.listed()
    return version


async def watch_workloads(space: Namespace, kind: str, live: Liveness) -> None:
    async def relist() -> str:
        version, items = await space.calls.list(kind)
        listed = {str((item.get("metadata") or {}).get("name")) for item in items}
        for workload_id in [w for w in space.workloads if w[0] == kind]:
            if workload_id[1] not in listed:
                space.workload_seen(kind, "DELETED", {"metadata": {"name": workload_id[1]}})
        for item in items:
            space.workload_seen(kind, "ADDED", item)
        return version

    async def events(version: str) -> AsyncGenerator[str | None, None]:
        stream = space.calls.watch(kind, version)
        async with aclosing(stream):
            async for event, workload in stream:
                space.workload_seen(kind, event, workload)
                latest = (workload.get("metadata") or {}).get("resourceVersion")
                yield str(latest) if latest else None

    await _follow(space, f"{kind.lower()}s", kind.lower(), live, relist, events)


async def _follow(
    space: Namespace,
    resource: str,
    label: str,
    live: Liveness,
    relist: Callable[[], Awaitable[str]],
    events: Callable[[str], AsyncGenerator[str | None, None]],
) -> None:
    """List (``relist``: the version it saw), then watch from there (``events``: the
    version after each event it handled), forever: a lost watch resumes from the last
    version, one too old (410 Gone) lists again, a failure waits longer each time.
    ``resource`` names the watch (``secrets``, ``deployments``); ``label`` is its
    ``watch_restarts`` metric label."""
    name = f"{resource}/{space.name}"
    live.set(name, False)  # not ready before the first list is in
    failures = 0
    version: str | None = None
    while True:
        try:
            if version is None:
                version = await relist()
            live.set(name, True)
            async with aclosing(events(version)) as handled:
                async for latest in handled:
                    version = latest or version
                    failures = 0
        except Gone:
            version = None
        except CredentialError as exc:
            failures = _lost(space, name, exc, failures + 1)
        live.set(name, False)
        space.metrics.watch_restarts.labels(label).inc()
        await asyncio.sleep(_delay(failures))


def _lost(space: Namespace, watch: str, exc: CredentialError, failures: int) -> int:
    """Log the first failure (then every ``_REMIND``-th); the failure count to go on
    with: a refusal jumps to the longest pause, since asking again soon cannot cure it."""
    if failures == 1 or failures % _REMIND == 0:
        act("watch-lost", namespace=space.name, watch=watch, reason=str(exc)[:300])
    if isinstance(exc, PermissionDenied | AuthenticationError):
        return max(failures, _REFUSED)
    return failures
