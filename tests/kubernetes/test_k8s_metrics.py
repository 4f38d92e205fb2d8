"""Prometheus metrics from real API calls, scraped over HTTP and checked by promtool."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest
from k8s_support import CANARY, ControlPlane, new_namespace, provider_for
from prometheus_client import CollectorRegistry
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
