"""What kube-apiserver 1.20 does while our KMS plugin is down, and that nothing is lost:
new writes fail after the configured timeout, reads of Secrets whose DEK it has cached
still work, healthz, readyz and livez report the KMS provider failing; after the plugin is back,
writes work again and every Secret reads back, also after an API server restart."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from kms_support import new_file_kek, plugin, put_secret, read_secret, stored

from nebula_credential.testing.envtest import ControlPlaneError
from nebula_credential.testing.envtest.plugin import PlaneFactory

CANARY = "kms-down-canary-31f0"


def kms_check(plane: object, path: str) -> tuple[int, str]:
    answer = plane.request("GET", f"{path}?verbose")  # type: ignore[attr-defined]
    return answer.status, answer.body.decode("utf-8", "replace")


def test_plugin_stopped_then_restarted(control_plane_factory: PlaneFactory, tmp_path: Path) -> None:
    new_file_kek(tmp_path / "kek")
    kms = plugin(tmp_path / "kms", f"file:{tmp_path / 'kek'}").start()
    config = kms.encryption_config("down", timeout="1s")
    try:
        with control_plane_factory("kms-down", encryption_config=config, identity_pool=1) as plane:
            namespace = f"kms-{secrets.token_hex(3)}"
            plane.ensure_namespace(namespace)
            before = [f"before-{i}" for i in range(4)]
            for name in before:
                put_secret(plane, namespace, name, f"{CANARY}-{name}")
                assert read_secret(plane, namespace, name) == f"{CANARY}-{name}"
            assert kms_check(plane, "/healthz")[0] == 200

            kms.stop()
            began = time.monotonic()
            failed = None
            try:
                put_secret(plane, namespace, "during", f"{CANARY}-during")
            except ControlPlaneError as exc:
                failed = str(exc)
            write_seconds = time.monotonic() - began
            assert failed is not None, "a write succeeded with the KMS plugin down"
            assert "HTTP 500" in failed
            assert write_seconds < 30
            # DEKs the API server has already unwrapped are cached: reads go on.
            for name in before:
                assert read_secret(plane, namespace, name) == f"{CANARY}-{name}"
            health: tuple[int, str] = (0, "")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the health check probes the plugin
                health = kms_check(plane, "/healthz")
                if health[0] != 200:
                    break
                time.sleep(0.5)
            assert health[0] == 500, health
            assert "[-]kms-provider-0 failed" in health[1]
            # 1.20 puts the KMS check in readyz and livez too: a liveness probe on /livez
            # restarts an API server whose plugin is down (the README says so).
            for path in ("/readyz", "/livez"):
                status, body = kms_check(plane, path)
                assert (status, "[-]kms-provider-0 failed" in body) == (500, True), path
            print(f"\nplugin down: a write refused after {write_seconds:.2f}s (timeout 1s)")

            kms.start()
            deadline = time.monotonic() + 60
            while True:  # the API server's gRPC connection reconnects with backoff
                try:
                    put_secret(plane, namespace, "after", f"{CANARY}-after")
                    break
                except ControlPlaneError:
                    assert time.monotonic() < deadline, "writes did not resume"
                    time.sleep(0.5)
            names = [*before, "after"]
            assert sorted(stored(plane, namespace)) == sorted(
                names
            )  # the refused write left nothing
            plane.restart_apiserver()  # no cached DEK left: every Secret is unwrapped again
            for name in names:
                assert read_secret(plane, namespace, name) == f"{CANARY}-{name}"
            assert kms_check(plane, "/healthz")[0] == 200
    finally:
        kms.stop()
