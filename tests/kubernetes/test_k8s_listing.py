"""Listing is server-side filtered, paginated and streaming; watch reports changes."""

from __future__ import annotations

import asyncio
import math
import tracemalloc
from typing import Any

import aiohttp
import pytest
from k8s_support import ControlPlane, delete_all_secrets, new_namespace, provider_for

from nebula_credential import Credential
from nebula_credential.kubernetes import SecretEvent
from nebula_credential.kubernetes.model.mapping import encode
from nebula_credential.kubernetes.model.naming import secret_name
from nebula_credential.providers import next_revision

pytestmark = pytest.mark.kubernetes


async def test_list_fetches_only_matching_secrets_page_by_page(
    control_plane: ControlPlane,
) -> None:
    namespace = new_namespace(control_plane, "pages")
    async with provider_for(control_plane, namespace, page_size=4) as provider:
        for i in range(25):
            await provider.store(
                Credential(f"in-{i}", "api_key", {"api_key": "k"}, scope=f"org:acme/team:{i % 3}")
            )
        for i in range(30):
            await provider.store(Credential(f"out-{i}", "api_key", {"api_key": "k"}, scope="org:x"))
        before = provider.stats.requests
        found = [c.id async for c in provider.list(scope="org:acme", descendants=True)]
        requests = provider.stats.requests - before
    assert sorted(found) == sorted(f"in-{i}" for i in range(25))
    # One selector on the server: only the 25 matches travel, four per page.
    assert requests == math.ceil(25 / 4)


async def test_watch_reports_changes_by_id_without_values(control_plane: ControlPlane) -> None:
    namespace = new_namespace(control_plane, "watch")
    # Watch from the point a list saw: every later change is delivered, however late the
    # watch connects, so no sleep is needed to let it connect first.
    listed = control_plane.request("GET", f"/api/v1/namespaces/{namespace}/secrets")
    start = listed.raise_for_status("list secrets").json()["metadata"]["resourceVersion"]
    events: list[SecretEvent] = []
    async with provider_for(control_plane, namespace) as provider:
        stored = await asyncio.wait_for(
            provider.store(Credential("watched", "api_key", {"api_key": "k1"})), timeout=30
        )
        await asyncio.wait_for(provider.store(stored.evolve(fields={"api_key": "k2"})), timeout=30)
        await asyncio.wait_for(provider.delete("watched"), timeout=30)

        async def follow() -> None:
            async for event in provider.watch(resource_version=start):
                events.append(event)
                if event.type == "DELETED":
                    return

        await asyncio.wait_for(follow(), timeout=15)
    assert [(e.type, e.credential_id) for e in events] == [
        ("ADDED", "watched"),
        ("MODIFIED", "watched"),
        ("DELETED", "watched"),
    ]
    assert "k1" not in repr(events)


async def _create_raw(plane: ControlPlane, namespace: str, count: int) -> None:
    """Create ``count`` provider-shaped Secrets fast, straight over HTTP."""
    url = f"{plane.server}/api/v1/namespaces/{namespace}/secrets"
    headers = {"Authorization": f"Bearer {plane.admin_token}"}
    connector = aiohttp.TCPConnector(ssl=plane.ssl_context(), limit=48)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    def body(i: int) -> dict[str, Any]:
        credential = next_revision(
            Credential(f"bulk-{i:05d}", "api_key", {"api_key": f"key-{i:05d}" * 40}), None
        )
        secret = encode(credential, secret_name("nebula-credentials", credential.id))
        meta = {"name": secret.name, "labels": secret.labels, "annotations": secret.annotations}
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": secret.data}

    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                reply = ""
                for _ in range(20):
                    async with http.post(url, json=body(i)) as resp:
                        if resp.status in (201, 409):
                            break
                        reply = f"HTTP {resp.status}: {(await resp.text())[:200]}"
                    await asyncio.sleep(0.2)
                else:
                    raise AssertionError(f"could not create bulk-{i}: {reply}")

        await asyncio.gather(*(worker() for _ in range(48)))


@pytest.mark.slow
async def test_listing_ten_thousand_secrets_keeps_memory_flat(
    control_plane: ControlPlane,
) -> None:
    namespace = new_namespace(control_plane, "bulk")
    total, page = 10_000, 100
    await _create_raw(control_plane, namespace, total)
    try:
        async with provider_for(control_plane, namespace, page_size=page) as provider:
            seen = 0
            tracemalloc.start()
            try:
                async for credential in provider.list_all():
                    assert credential.reveal("api_key").startswith("key-")
                    seen += 1
                    if seen == 1_000:
                        _, peak_first_thousand = tracemalloc.get_traced_memory()
                        tracemalloc.reset_peak()
                _, peak_rest = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    finally:
        delete_all_secrets(control_plane, namespace)
    assert seen == total
    # Streaming holds one page: the last 9,000 need no more than the first 1,000 did.
    assert peak_rest < 1.5 * peak_first_thousand, (peak_first_thousand, peak_rest)
    # Everything at once would be tens of megabytes (each credential is ~1.3 KB of JSON).
    assert peak_rest < 8 * 1024 * 1024, peak_rest


async def test_breaking_out_of_a_list_early_stops_reading(control_plane: ControlPlane) -> None:
    namespace = new_namespace(control_plane, "early")
    async with provider_for(control_plane, namespace, page_size=2) as provider:
        for i in range(10):
            await provider.store(Credential(f"e-{i}", "api_key", {"api_key": "k"}))
        before = provider.stats.requests
        stream = provider.list_all()
        first = await anext(stream)
        await stream.aclose()  # the page read ahead is cancelled, not left running
        await asyncio.sleep(0.2)
        assert first.id.startswith("e-")
        assert provider.stats.requests - before <= 2
        assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
