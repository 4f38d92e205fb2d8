"""CachingProvider over the real API server: changes by anyone drop entries within a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from k8s_support import (
    ControlPlane,
    new_namespace,
    on_every_transport,
    patch_credential_json,
    provider_for,
)

from nebula_credential import CachingProvider, Credential
from nebula_credential.kubernetes import KubernetesSecretsProvider
from nebula_credential.providers import NotCached
from nebula_credential.testing.envtest.plugin import PlaneFactory

pytestmark = pytest.mark.kubernetes


async def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition()`` until it holds, for at most ``seconds``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"{what}: not within {seconds} s")
        await asyncio.sleep(0.02)


async def edit_by_hand(
    plane: ControlPlane, namespace: str, cache: CachingProvider, stored: Credential, value: str
) -> None:
    """What `kubectl patch secret` by an operator does: a new credential.json."""
    inner = cache.inner
    assert isinstance(inner, KubernetesSecretsProvider)
    raw = stored.evolve(fields={"api_key": value}).to_json(reveal=True).encode()
    name = inner.secret_name(stored.id)
    await asyncio.to_thread(patch_credential_json, plane, namespace, name, raw)


async def seen_within_a_second(cache: CachingProvider, cid: str, value: str) -> None:
    started = time.monotonic()
    while True:
        found = await cache.retrieve(cid)
        if found is not None and found.reveal("api_key") == value:
            return
        assert time.monotonic() - started < 1.0, "the edit was not seen within 1 s"
        await asyncio.sleep(0.02)


@on_every_transport
async def test_a_kubectl_patch_reaches_the_cache_within_a_second(
    transport: str,
    control_plane: ControlPlane,
) -> None:
    namespace = new_namespace(control_plane, "cache")
    inner = provider_for(control_plane, namespace, transport=transport)
    async with asyncio.timeout(60), CachingProvider(inner) as cache:
        stored = await cache.store(Credential("svc", "api_key", {"api_key": "before"}))
        await cache.get("svc")
        await until(lambda: cache.stats.watching, 10, "the watch started")
        assert (await cache.get("svc")).reveal("api_key") == "before"
        for round_ in range(3):
            assert not isinstance(cache.peek("svc"), NotCached)  # cached before the edit
            value = f"patched-{round_}"
            await edit_by_hand(control_plane, namespace, cache, stored, value)
            await seen_within_a_second(cache, "svc", value)
        assert cache.stats.invalidations >= 3


@on_every_transport
async def test_the_cache_follows_changes_across_an_api_server_restart(
    transport: str,
    control_plane_factory: PlaneFactory,
) -> None:
    with control_plane_factory("cache-restart") as plane:
        namespace = new_namespace(plane, "cache")
        async with (
            asyncio.timeout(180),
            CachingProvider(provider_for(plane, namespace, transport=transport)) as cache,
        ):
            stored = await cache.store(Credential("svc", "api_key", {"api_key": "before"}))
            await cache.get("svc")
            await until(lambda: cache.stats.watching, 10, "the watch started")
            await cache.get("svc")
            await asyncio.wait_for(asyncio.to_thread(plane.stop_apiserver), timeout=30)
            await until(lambda: cache.stats.watch_lost == 1, 30, "the watch noticed")
            assert not cache.stats.watching
            # While the feed is down the entry still answers, until its TTL.
            assert (await cache.get("svc")).reveal("api_key") == "before"
            await asyncio.wait_for(asyncio.to_thread(plane.start_apiserver), timeout=90)
            await until(lambda: cache.stats.watching, 30, "the watch resumed")
            await edit_by_hand(plane, namespace, cache, stored, "after")
            await seen_within_a_second(cache, "svc", "after")
            # It resumed from its version, or (when the restarted server's watch cache no
            # longer reaches back that far) started over once after 410 Gone.
            assert cache.stats.resyncs in (1, 2)
            assert cache.stats.watch_lost == 1


async def test_a_role_without_watch_ends_the_feed_instead_of_listing_forever(
    control_plane: ControlPlane,
) -> None:
    """A Role granting get and list but not watch: the feed stops at the first 403 and the
    cache says so once; it does not LIST again every few seconds."""
    namespace = new_namespace(control_plane, "nowatch")
    reader = control_plane.identity(namespace, ["get", "list", "create"])
    inner = provider_for(control_plane, namespace, kubeconfig=reader.kubeconfig)
    async with asyncio.timeout(60), CachingProvider(inner) as cache:
        await cache.store(Credential("svc", "api_key", {"api_key": "k"}))
        await cache.get("svc")
        await until(lambda: cache.stats.watch_lost == 1, 10, "the feed gave up")
        requests = inner.stats.requests
        await asyncio.sleep(3)  # the feed's own backoff tops out at 2 s
        assert inner.stats.requests == requests
        assert not cache.stats.watching
        assert (await cache.get("svc")).reveal("api_key") == "k"  # the TTL still serves
