"""The controller process: leader election, the watches of each namespace, health.

Standbys keep their watches live (so they are ready and take over with a warm view);
only the leader patches. Winning leadership looks at every opted-in workload again.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from ..kubernetes.api.exchange import ApiClient
from ..kubernetes.api.object_calls import WORKLOAD_RESOURCES, ObjectCalls
from ..kubernetes.api.secret_calls import HttpTransport
from ..ops import GrantJournal, RotateOptions
from .actions import ControllerMetrics, act
from .engine import MAX_WAIT, QUIET, Namespace
from .health import HealthServer
from .leader import LEASE_NAME, Leader
from .rotations import Rotations
from .watches import Liveness, watch_secrets, watch_workloads


@dataclass(frozen=True, slots=True)
class Settings:
    namespaces: tuple[str, ...]
    lease_seconds: float = 15.0
    lease_name: str = LEASE_NAME
    health_host: str = "127.0.0.1"
    health_port: int | None = None  # None: no endpoint
    identity: str = ""
    quiet: float = QUIET
    max_wait: float = MAX_WAIT
    rotate_within: timedelta | None = timedelta(minutes=5)  # None: no rotation
    journal: GrantJournal | None = None  # where issued tokens wait when they cannot be stored


def identity() -> str:
    """This replica's name in the Lease: the pod's hostname plus the process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


async def run(client: ApiClient, settings: Settings) -> None:
    """Run until cancelled; the Lease lives in the first namespace."""
    metrics = ControllerMetrics()
    live = Liveness()
    leader = Leader(
        ObjectCalls(client, settings.namespaces[0]),
        settings.identity or identity(),
        settings.lease_seconds,
        settings.lease_name,
    )
    spaces = [
        Namespace(
            ObjectCalls(client, ns),
            leader,
            metrics,
            quiet=settings.quiet,
            max_wait=settings.max_wait,
        )
        for ns in settings.namespaces
    ]
    for space in spaces:
        if settings.rotate_within is not None:
            space.rotations = Rotations(
                client,
                space.name,
                leader,
                metrics,
                settings.rotate_within,
                RotateOptions(journal=settings.journal),
            )
    server = None
    if settings.health_port is not None:
        server = HealthServer(
            settings.health_host, settings.health_port, live.ready, metrics.registry
        )
        act("serving", address=f"{server.host}:{server.port}")
    tasks = [
        asyncio.ensure_future(leader.run()),
        asyncio.ensure_future(_follow(leader, spaces, metrics)),
    ]
    for space in spaces:
        transport = HttpTransport(client, space.name, owns=False)
        tasks.append(asyncio.ensure_future(watch_secrets(space, transport, live)))
        tasks.extend(
            asyncio.ensure_future(watch_workloads(space, kind, live)) for kind in WORKLOAD_RESOURCES
        )
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await leader.resign()
        for space in spaces:
            space.debounce.cancel()
            if space.rotations is not None:
                space.rotations.cancel()
        if server is not None:
            server.close()


async def _follow(leader: Leader, spaces: Sequence[Namespace], metrics: ControllerMetrics) -> None:
    """On each change of leadership: the gauge, and a fresh look when leading."""
    while True:
        await leader.changed.wait()
        leader.changed.clear()
        leading = leader.acting()
        metrics.leader.set(1 if leading else 0)
        if leading:
            for space in spaces:
                space.mark_all()
