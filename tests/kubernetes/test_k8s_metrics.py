"""Prometheus metrics from real API calls, scraped over HTTP and checked by promtool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import aclosing
from typing import Any

import pytest
from k8s_support import CANARY, ControlPlane, new_namespace, provider_for
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from nebula_credential import CachingProvider, Credential, PermissionDenied, metrics

pytestmark = pytest.mark.kubernetes


@pytest.fixture
def served() -> Iterator[metrics.MetricsServer]:
    registry = CollectorRegistry()
    server = metrics.serve(0, registry=registry)
    try:
        yield server
    finally:
        server.close()
        metrics.disable(registry)


def scrape(server: metrics.MetricsServer) -> str:
    with urllib.request.urlopen(server.url, timeout=10) as reply:  # noqa: S310 - loopback
        body: bytes = reply.read()
    return body.decode()


def promtool_check(text: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool comes with Debian's prometheus package"
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_api_calls_and_cache_events_are_counted_without_ids_or_values(
    control_plane: ControlPlane, served: metrics.MetricsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="nebula_credential")
    namespace = new_namespace(control_plane, "metrics")
    secret_id = "metrics-secret-id-7c1"
    async with CachingProvider(provider_for(control_plane, namespace)) as cache:
        stored = await cache.store(Credential(secret_id, "api_key", {"api_key": CANARY}))
        # The change feed may drop the entry once (the create's own event, if its watch
        # began before the create): read until a hit, at most 50 times.
        for _ in range(50):
            await cache.get(secret_id)
            if cache.stats.hits:
                break
            await asyncio.sleep(0.02)
        await cache.store(stored.evolve(fields={"api_key": CANARY + "2"}))
        assert await cache.retrieve("absent-one") is None
        assert [c.id async for c in cache.list_all()] == [secret_id]
        assert await cache.delete(secret_id)
    outsider = control_plane.identity(new_namespace(control_plane, "other"))
    async with provider_for(control_plane, namespace, kubeconfig=outsider.kubeconfig) as denied:
        with pytest.raises(PermissionDenied):
            await denied.retrieve(secret_id)
    text = scrape(served)
    found = samples(text)
    ops = "nebula_k8s_secret_operations_total"
    assert found[(ops, (("operation", "create"), ("status", "success")))] >= 1
    assert found[(ops, (("operation", "replace"), ("status", "success")))] >= 1
    assert found[(ops, (("operation", "get"), ("status", "success")))] >= 2
    assert found[(ops, (("operation", "get"), ("status", "not_found")))] >= 1
    assert found[(ops, (("operation", "get"), ("status", "permission_denied")))] == 1
    assert found[(ops, (("operation", "list"), ("status", "success")))] >= 1
    assert found[(ops, (("operation", "delete"), ("status", "success")))] == 1
    duration = "nebula_k8s_secret_duration_seconds_count"
    assert found[(duration, (("operation", "get"),))] >= 4
    assert found[("nebula_cache_hits_total", ())] >= 1
    assert found[("nebula_cache_misses_total", ())] >= 2
    assert found[("nebula_cache_invalidations_total", ())] >= 1
    for forbidden in (CANARY, secret_id, namespace, "nebula-credentials-"):
        assert forbidden not in text
    promtool_check(text)
    # Debug records carry the seed's tracing fields, and never a value.
    traced = [r for r in caplog.records if getattr(r, "operation", None) == "create"]
    assert traced
    assert traced[0].namespace == namespace  # type: ignore[attr-defined]
    assert traced[0].secret_name.startswith("nebula-credentials-")  # type: ignore[attr-defined]
    for record in caplog.records:
        assert CANARY not in record.getMessage()
        assert CANARY not in repr(record.__dict__)


async def test_metrics_enabled_again_after_disable_report_again(
    control_plane: ControlPlane,
) -> None:
    """disable() then enable() on one registry: reporting resumes into the same series."""
    registry = CollectorRegistry()
    ns = new_namespace(control_plane, "remetrics")

    def gets() -> float:
        value = registry.get_sample_value(
            "nebula_k8s_secret_operations_total", {"operation": "get", "status": "success"}
        )
        return value or 0.0

    first = metrics.enable(registry)
    async with provider_for(control_plane, ns) as provider:
        await provider.store(Credential("m", "api_key", {"api_key": "k"}))
        await provider.retrieve("m")
        assert gets() == 1
        metrics.disable(registry)
        await provider.retrieve("m")
        assert gets() == 1  # not reporting while disabled
        assert metrics.enable(registry) is first
        await provider.retrieve("m")
        assert gets() == 2
    metrics.disable(registry)


@pytest.fixture(scope="module")
def short_watch_plane(control_plane_factory: Callable[..., ControlPlane]) -> ControlPlane:
    """A plane of its own whose API server ends every watch stream after 5-10 s (as a real
    one does after 30-60 min), and whose API server the feed test restarts."""
    return control_plane_factory("watch-metrics", extra_apiserver_args=["--min-request-timeout=5"])


class WatchSeries:
    """The watch series of one registry, read straight from it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def open(self) -> float:
        return self.value("nebula_k8s_watches_open")

    def events(self, kind: str) -> float:
        return self.value("nebula_k8s_watch_events_total", type=kind)

    def restarts(self, reason: str) -> float:
        return self.value("nebula_k8s_watch_restarts_total", reason=reason)

    def streams(self, status: str) -> float:
        return self.value("nebula_k8s_secret_operations_total", operation="watch", status=status)

    async def until(self, check: Callable[[], bool], seconds: float = 30.0) -> None:
        """Wait (polling, bounded) until ``check()`` holds; fail with what was seen."""
        deadline = time.monotonic() + seconds
        while not check():
            if time.monotonic() > deadline:
                seen = {(s.name, tuple(s.labels.items())): s.value for s in self.samples()}
                raise AssertionError(f"not reached in {seconds}s; watch series: {seen}")
            await asyncio.sleep(0.05)

    def samples(self) -> list[Any]:
        return [
            s
            for family in self.registry.collect()
            for s in family.samples
            if "watch" in s.name or s.labels.get("operation") == "watch"
        ]


@pytest.fixture
def watch_series() -> Iterator[WatchSeries]:
    registry = CollectorRegistry()
    metrics.enable(registry)
    try:
        yield WatchSeries(registry)
    finally:
        metrics.disable(registry)


async def test_a_watch_has_its_own_series_not_one_duration_sample(
    short_watch_plane: ControlPlane, watch_series: WatchSeries
) -> None:
    namespace = new_namespace(short_watch_plane, "watch-metrics")
    secret_id = "watched-id-5d2"
    seen: list[str] = []
    async with provider_for(short_watch_plane, namespace) as provider:

        async def follow() -> None:
            async with aclosing(provider.watch()) as events:
                async for event in events:
                    seen.append(event.type)

        reader = asyncio.create_task(follow())
        try:
            await watch_series.until(lambda: watch_series.open() == 1)
            stored = await provider.store(Credential(secret_id, "api_key", {"api_key": CANARY}))
            await provider.store(stored.evolve(fields={"api_key": CANARY + "2"}))
            await provider.delete(secret_id)
            await watch_series.until(lambda: "DELETED" in seen)
            # The server ends each stream after 5-10 s; the watch reopens it at once.
            await watch_series.until(lambda: watch_series.restarts("ended") >= 1, 60)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    assert seen[:3] == ["ADDED", "MODIFIED", "DELETED"]
    assert watch_series.events("added") >= 1
    assert watch_series.events("modified") >= 1
    assert watch_series.events("deleted") == 1
    assert watch_series.streams("success") >= 1
    assert watch_series.restarts("retry") == 0
    assert watch_series.open() == 0
    # Streams of seconds (or, in production, an hour) are not request durations.
    duration = watch_series.value("nebula_k8s_secret_duration_seconds_count", operation="watch")
    assert duration == 0
    assert watch_series.value("nebula_k8s_secret_duration_seconds_count", operation="create") == 1
    text = generate_latest(watch_series.registry).decode()
    for forbidden in (CANARY, secret_id, namespace, "nebula-credentials-"):
        assert forbidden not in text
    promtool_check(text)


async def test_a_change_feed_counts_its_restart_after_the_api_server_comes_back(
    short_watch_plane: ControlPlane, watch_series: WatchSeries
) -> None:
    namespace = new_namespace(short_watch_plane, "feed-metrics")
    changed: list[str] = []
    async with provider_for(short_watch_plane, namespace) as provider:
        feed = provider.changes()
        assert feed is not None

        async def follow() -> None:
            async with aclosing(feed) as changes:
                async for change in changes:
                    changed.append(change.kind)

        reader = asyncio.create_task(follow())
        try:
            await watch_series.until(lambda: watch_series.open() == 1)
            await asyncio.to_thread(short_watch_plane.restart_apiserver, down_for=1)
            await watch_series.until(lambda: watch_series.restarts("lost") >= 1, 60)
            await watch_series.until(lambda: watch_series.open() == 1)
            await provider.store(Credential("after-restart", "api_key", {"api_key": CANARY}))
            await watch_series.until(lambda: "changed" in changed)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    assert "lost" in changed
    assert watch_series.streams("connection_error") >= 1
    assert watch_series.open() == 0
