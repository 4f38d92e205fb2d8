"""CachingProvider over the real API server: changes by anyone drop entries within a second."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from pathlib import Path

import pytest
from k8s_support import (
    ControlPlane,
    kubectl,
    new_namespace,
    on_every_transport,
    provider_for,
)

from nebula_credential import (
    CachingProvider,
    Change,
    Credential,
    SyncCredentialProvider,
    WrongEventLoop,
)
from nebula_credential.kubernetes import KubernetesSecretsProvider
from nebula_credential.providers import NotCached
from nebula_credential.testing import ProviderContract
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
    """What `kubectl patch secret` by an operator does: a new api_key, in the key pods
    read and in credential.json alike."""
    inner = cache.inner
    assert isinstance(inner, KubernetesSecretsProvider)
    name = inner.secret_name(stored.id)
    args = ("patch", "secret", name, "-n", namespace, "--type=merge", "-p", new_data(stored, value))
    await asyncio.to_thread(kubectl, plane.admin_kubeconfig, *args)


def new_data(stored: Credential, value: str) -> str:
    """A merge patch giving ``stored`` the api_key ``value``."""
    raw = stored.evolve(fields={"api_key": value}).to_json(reveal=True).encode()
    data = {"credential.json": raw, "api_key": value.encode()}
    return json.dumps({"data": {k: base64.b64encode(v).decode() for k, v in data.items()}})


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


class FeedBreaksOnce(KubernetesSecretsProvider):
    """The real provider whose first change feed dies of an error it does not expect
    (what a bug or a library's exception does) once it is live."""

    feeds = 0

    def changes(self) -> AsyncIterator[Change] | None:
        real = super().changes()
        assert real is not None
        self.feeds += 1
        return real if self.feeds > 1 else self._dies_after_going_live(real)

    @staticmethod
    async def _dies_after_going_live(real: AsyncIterator[Change]) -> AsyncIterator[Change]:
        async with aclosing(real):  # type: ignore[type-var]
            async for change in real:
                yield change
                if change.kind == "resync":
                    raise RuntimeError("the feed broke")


async def test_a_feed_that_dies_is_started_again_and_sees_later_changes(
    control_plane: ControlPlane,
) -> None:
    namespace = new_namespace(control_plane, "cache")
    inner = FeedBreaksOnce(namespace, kubeconfig=control_plane.admin_kubeconfig)
    async with asyncio.timeout(60), CachingProvider(inner) as cache:
        stored = await cache.store(Credential("svc", "api_key", {"api_key": "before"}))
        await cache.get("svc")
        await until(lambda: cache.stats.watch_lost == 1, 10, "the feed died")
        await until(lambda: cache.stats.watching, 10, "a new feed went live")
        await cache.get("svc")
        assert not isinstance(cache.peek("svc"), NotCached)
        await edit_by_hand(control_plane, namespace, cache, stored, "after")
        await seen_within_a_second(cache, "svc", "after")
        assert (cache.stats.feed, cache.stats.feed_restarts, cache.stats.watch_lost) == (
            "running",
            1,
            1,
        )
    assert cache.stats.feed == "stopped"  # closed with the cache
    assert not cache.stats.watching


# A module-level cache used by two asyncio.run() calls in a row, as a script does: the
# first loop ends, and the feed with it; the second loop must get a feed of its own.
_TWO_LOOPS = """
import asyncio, subprocess, sys, time
from nebula_credential import CachingProvider, Credential, KubernetesSecretsProvider

namespace, kubeconfig, name, patch = sys.argv[1:5]
cache = CachingProvider(KubernetesSecretsProvider(namespace, kubeconfig=kubeconfig))

async def first():
    await cache.store(Credential("svc", "api_key", {"api_key": "before"}))
    await cache.get("svc")

async def second():
    await cache.get("svc")
    started = time.monotonic()
    while not cache.stats.watching and time.monotonic() - started < 20:
        await asyncio.sleep(0.02)
    subprocess.run(["/usr/bin/kubectl", "--kubeconfig", kubeconfig, "patch", "secret",
                    "-n", namespace, name, "--type=merge", "-p", patch],
                   check=True, capture_output=True)
    started = time.monotonic()
    while time.monotonic() - started < 5:
        if (await cache.get("svc")).reveal("api_key") == "after":
            print(f"seen in {time.monotonic() - started:.2f} s")
            break
        await asyncio.sleep(0.02)
    print(cache.stats.watch_lost, getattr(cache.stats, "feed", None))
    await cache.close()

asyncio.run(first())
asyncio.run(second())
"""


def test_a_cache_used_again_on_a_new_event_loop_follows_changes(
    control_plane: ControlPlane,
) -> None:
    namespace = new_namespace(control_plane, "cache")
    name = provider_for(control_plane, namespace).secret_name("svc")
    patch = new_data(Credential("svc", "api_key", {"api_key": "after"}), "after")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _TWO_LOOPS,
            namespace,
            str(control_plane.admin_kubeconfig),
            name,
            patch,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("seen in "), done.stdout + done.stderr
    assert float(lines[0].split()[2]) < 1.0
    assert lines[1] == "1 running"  # the loop's end was counted as one loss


async def test_a_provider_used_from_another_event_loop_says_what_to_do(
    control_plane: ControlPlane,
) -> None:
    namespace = new_namespace(control_plane, "cache")
    inner = provider_for(control_plane, namespace)
    async with asyncio.timeout(60), CachingProvider(inner) as cache:
        await cache.store(Credential("svc", "api_key", {"api_key": "k"}))

        async def elsewhere() -> None:
            cache.invalidate()
            await cache.retrieve("svc")

        async def provider_elsewhere() -> None:
            await inner.retrieve("svc")

        for attempt in (elsewhere, provider_elsewhere):
            with ThreadPoolExecutor(1) as pool:
                refused = pool.submit(asyncio.run, attempt())
                with pytest.raises(WrongEventLoop, match="make one per event loop"):
                    refused.result(timeout=30)
        assert (await cache.get("svc")).reveal("api_key") == "k"  # still fine at home


class TestCachedKubernetesContract(ProviderContract):
    @pytest.fixture
    async def provider(self, control_plane: ControlPlane) -> AsyncIterator[CachingProvider]:
        namespace = new_namespace(control_plane, "cached-contract")
        async with CachingProvider(provider_for(control_plane, namespace)) as provider:
            yield provider


README = Path(__file__).resolve().parents[2] / "README.md"
# Runs a README snippet (top-level await allowed) on one event loop, as a notebook or
# an async service would; any warning is an error.
_RUN_SNIPPET = """
import ast, asyncio, sys
code = compile(sys.stdin.read(), "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
async def main():
    await eval(code, {})
    await asyncio.sleep(0.5)  # the rest of the program goes on
asyncio.run(main())
print("done")
"""


def readme_snippet(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    (snippet,) = [block for block in blocks if containing in block]
    return snippet


def test_the_readme_cache_example_runs_as_written(control_plane: ControlPlane) -> None:
    """A cache over Kubernetes on the default transport, used by async code and through
    SyncCredentialProvider on the same thread, as the README shows it."""
    snippet = readme_snippet("SyncCredentialProvider(cache)")
    namespace = "nebula-prod"  # the README's
    control_plane.ensure_namespace(namespace)
    with SyncCredentialProvider(provider_for(control_plane, namespace)) as seed:
        seed.store(Credential("github", "oauth2", {"access_token": "gho-example"}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    env["KUBECONFIG"] = str(control_plane.admin_kubeconfig)
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", _RUN_SNIPPET],
        input=snippet,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "done\n", "")


async def test_what_the_first_read_caches_survives_its_feed_going_live(
    control_plane: ControlPlane,
) -> None:
    """The first miss starts the watch; what it read must still be a hit once the watch
    is live (its first resync forgot whatever was read before it began, so a blocking
    hit right after an async read missed, at random)."""
    namespace = new_namespace(control_plane, "cache-first")
    async with asyncio.timeout(60), provider_for(control_plane, namespace) as seed:
        for i in range(5):
            await seed.store(Credential(f"svc{i}", "api_key", {"api_key": "k"}))
    for i in range(5):  # a fresh cache each time: each first read races its feed's start
        async with (
            asyncio.timeout(60),
            CachingProvider(provider_for(control_plane, namespace)) as cache,
        ):
            assert (await cache.get(f"svc{i}")).reveal("api_key") == "k"
            assert cache.stats.resyncs == 1  # the watch was live before the read
            await asyncio.sleep(0.2)  # whatever the feed says next
            assert not isinstance(cache.peek(f"svc{i}"), NotCached), f"round {i}: dropped"
