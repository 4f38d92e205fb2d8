"""The blocking transport on the real API server: the sync facade without an event loop.

The contract and connection-form suites run on it too (``TRANSPORTS``); these tests
cover what is its own: no loop, no thread and no asyncio; throttling and an outage
handled by its retries while callers block; a watch refused by name.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from k8s_support import CANARY, new_namespace, provider_for
from test_k8s_resilience import THROTTLED_ARGS

from nebula_credential import (
    ConfigurationError,
    Credential,
    ProviderUnavailable,
    SyncKubernetesSecretsProvider,
)
from nebula_credential.kubernetes import RetryPolicy
from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.plugin import PlaneFactory

pytestmark = pytest.mark.kubernetes

_SCRIPT = """
import json, sys, threading
from nebula_credential import Credential, SyncKubernetesSecretsProvider
kubeconfig, namespace, canary = sys.argv[1:]
with SyncKubernetesSecretsProvider(
    namespace=namespace, kubeconfig=kubeconfig, transport="blocking"
) as store:
    store.store(Credential("svc", "api_key", {"api_key": canary}))
    stored = store.store(store.get("svc").evolve(fields={"api_key": canary + "-2"}))
    seen = {
        "version": stored.version,
        "value": store.get("svc").reveal("api_key"),
        "by_name": store.read_secret(store.secret_name("svc")).reveal("api_key"),
        "listed": [c.id for c in store.list()],
        "exists": store.exists("svc"),
        "deleted": store.delete("svc"),
        "absent": store.retrieve("svc") is None,
        "threads": threading.active_count(),
        "modules": sorted(
            m for m in ("asyncio", "aiohttp", "nebula_credential.http.aio") if m in sys.modules
        ),
    }
print(json.dumps(seen))
"""


def test_sync_facade_runs_every_call_on_the_callers_thread(control_plane: ControlPlane) -> None:
    namespace = new_namespace(control_plane, "blocking")
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(control_plane.admin_kubeconfig), namespace, CANARY],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "version": 2,
        "value": f"{CANARY}-2",
        "by_name": f"{CANARY}-2",
        "listed": ["svc"],
        "exists": True,
        "deleted": True,
        "absent": True,
        "threads": 1,
        "modules": [],
    }


def test_a_watch_is_refused_by_name_and_caches_get_no_feed(control_plane: ControlPlane) -> None:
    namespace = new_namespace(control_plane, "blocking")
    provider = provider_for(control_plane, namespace, transport="blocking")
    assert provider.changes() is None  # a cache over it relies on its TTL
    refused = pytest.raises(ConfigurationError, match="blocking Kubernetes transport cannot watch")
    with SyncKubernetesSecretsProvider(provider) as store, refused:
        next(iter(store.watch()))


def test_real_429s_are_retried_while_threads_share_one_store(
    control_plane_factory: PlaneFactory,
) -> None:
    with control_plane_factory("throttled-blocking", extra_apiserver_args=THROTTLED_ARGS) as plane:
        namespace = new_namespace(plane, "throttled")
        ident = plane.identity(namespace)  # system:masters would be exempt from the limit
        policy = RetryPolicy(attempts=40, base_delay=0.05, max_delay=1.0, deadline=120.0)
        store = SyncKubernetesSecretsProvider(
            kubeconfig=ident.kubeconfig, retry=policy, transport="blocking"
        )

        def write(n: int) -> list[int]:
            return [
                store.store(Credential(f"burst-{n}-{i}", "api_key", {"api_key": "k"})).version
                for i in range(25)
            ]

        with store:
            with ThreadPoolExecutor(8) as pool:
                versions = [v for batch in pool.map(write, range(8)) for v in batch]
            listed = {c.id for c in store.list()}
            stats = store.stats.snapshot()
    assert versions == [1] * 200
    assert listed == {f"burst-{n}-{i}" for n in range(8) for i in range(25)}
    assert stats["throttled"] > 0, stats
    assert stats["gave_up"] == 0


def test_stopped_api_server_gives_provider_unavailable_then_the_same_store_recovers(
    control_plane_factory: PlaneFactory,
) -> None:
    with control_plane_factory("outage-blocking") as plane:
        namespace = new_namespace(plane, "outage")
        policy = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2, deadline=3.0)
        store = SyncKubernetesSecretsProvider(
            provider_for(plane, namespace, retry=policy, transport="blocking")
        )
        written: list[str] = []
        failure: list[BaseException] = []
        underway = threading.Event()

        def migrate() -> None:
            try:
                for i in range(100_000):
                    store.store(Credential(f"moved-{i}", "api_key", {"api_key": CANARY}))
                    written.append(f"moved-{i}")
                    if len(written) == 20:
                        underway.set()
            except BaseException as exc:  # handed to the test thread
                failure.append(exc)

        with store:
            worker = threading.Thread(target=migrate, daemon=True)
            worker.start()
            assert underway.wait(30)
            try:
                plane.stop_apiserver()
                started = time.monotonic()
                worker.join(30)
                assert not worker.is_alive()
                assert time.monotonic() - started < 10
                assert len(failure) == 1
                assert isinstance(failure[0], ProviderUnavailable)
                assert plane.server in str(failure[0])
                assert CANARY not in str(failure[0])
                assert store.stats.connection_errors > 0
            finally:
                plane.start_apiserver()
            # The same store opens a new connection: every write before the outage is there.
            assert all(store.exists(cid) for cid in written)
            again = store.store(Credential("after-restart", "api_key", {"api_key": "k"}))
            assert again.version == 1
