"""The test control plane is a real, correctly configured kube-apiserver.

These checks guard the fixtures every Kubernetes test relies on: JSON bodies with maps
are decoded (the reflect2 fix), RBAC confines limited identities to their namespace,
Secrets are encrypted in etcd and the audit log never records Secret values.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import threading
import time
from typing import Any

import aiohttp
import pytest

from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.plugin import PlaneFactory

pytestmark = pytest.mark.kubernetes


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _decoded(data: dict[str, str]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def _namespace(plane: ControlPlane, prefix: str) -> str:
    name = f"{prefix}-{secrets.token_hex(4)}"
    plane.ensure_namespace(name)
    return name


def _secret(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "smoke"}},
        "type": "Opaque",
        "data": {key: _b64(value) for key, value in data.items()},
    }


def _create_secret(plane: ControlPlane, namespace: str, name: str, data: dict[str, str]) -> None:
    resp = plane.request(
        "POST", f"/api/v1/namespaces/{namespace}/secrets", _secret(namespace, name, data)
    )
    assert resp.status == 201, resp.body


async def test_json_body_with_data_map_survives_create_replace_get(
    control_plane: ControlPlane,
) -> None:
    namespace = _namespace(control_plane, "smoke-json")
    base = f"{control_plane.server}/api/v1/namespaces/{namespace}/secrets"
    headers = {"Authorization": f"Bearer {control_plane.admin_token}"}
    first = {"username": "alice", "password": "first-password"}
    second = {"username": "alice", "password": "second-password", "note": "replaced"}

    connector = aiohttp.TCPConnector(ssl=control_plane.ssl_context())
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        async with http.post(base, json=_secret(namespace, "db", first)) as resp:
            assert resp.status == 201, await resp.text()
            created = await resp.json()
        assert _decoded(created["data"]) == first
        assert created["metadata"]["labels"] == {"app": "smoke"}

        replacement = _secret(namespace, "db", second)
        replacement["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
        async with http.put(f"{base}/db", json=replacement) as resp:
            assert resp.status == 200, await resp.text()
            replaced = await resp.json()
        assert replaced["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]

        # A stale resourceVersion is a conflict: the server really compares it.
        async with http.put(f"{base}/db", json=replacement) as resp:
            assert resp.status == 409, await resp.text()

        async with http.get(f"{base}/db") as resp:
            assert resp.status == 200, await resp.text()
            fetched = await resp.json()
    assert _decoded(fetched["data"]) == second
    assert fetched["metadata"]["resourceVersion"] == replaced["metadata"]["resourceVersion"]


def test_limited_identity_is_confined_to_its_namespace(control_plane: ControlPlane) -> None:
    home = _namespace(control_plane, "smoke-home")
    other = _namespace(control_plane, "smoke-other")
    _create_secret(control_plane, other, "theirs", {"token": "not-yours"})
    ident = control_plane.identity(home)
    assert ident.namespace == home
    assert ident.username.startswith("system:serviceaccount:")

    def call(method: str, namespace: str, suffix: str = "", body: Any = None) -> int:
        path = f"/api/v1/namespaces/{namespace}/secrets{suffix}"
        return int(control_plane.request(method, path, body, token=ident.token).status)

    assert call("GET", other, "/theirs") == 403
    assert call("GET", other) == 403
    assert call("POST", other, body=_secret(other, "mine", {"k": "v"})) == 403
    assert call("POST", home, body=_secret(home, "mine", {"k": "v"})) == 201
    assert call("GET", home, "/mine") == 200
    # Not even the admin's namespaces or cluster-scoped objects are readable.
    assert int(control_plane.request("GET", "/api/v1/namespaces", token=ident.token).status) == 403

    # The identity's kubeconfig verifies TLS against the plane's CA and defaults to `home`.
    kubectl = ["kubectl", f"--kubeconfig={ident.kubeconfig}", "--request-timeout=20s"]
    own = subprocess.run(
        [*kubectl, "get", "secret", "mine", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert own.returncode == 0, own.stderr
    assert _decoded(json.loads(own.stdout)["data"]) == {"k": "v"}
    foreign = subprocess.run(
        [*kubectl, "-n", other, "get", "secret", "theirs"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert foreign.returncode != 0
    assert "forbidden" in foreign.stderr.lower()


def test_identity_verbs_are_enforced(control_plane: ControlPlane) -> None:
    namespace = _namespace(control_plane, "smoke-ro")
    _create_secret(control_plane, namespace, "existing", {"k": "v"})
    reader = control_plane.identity(namespace, verbs=["get"])
    path = f"/api/v1/namespaces/{namespace}/secrets"
    assert control_plane.request("GET", f"{path}/existing", token=reader.token).status == 200
    assert control_plane.request("GET", path, token=reader.token).status == 403
    created = control_plane.request(
        "POST", path, _secret(namespace, "new", {"k": "v"}), token=reader.token
    )
    assert created.status == 403


def _etcdctl_get(plane: ControlPlane, key: str) -> bytes:
    out = subprocess.run(
        ["etcdctl", f"--endpoints={plane.etcd_endpoint}", "get", key, "-w", "json"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")},
            "ETCDCTL_API": "3",
        },
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    kvs = json.loads(out).get("kvs") or []
    assert len(kvs) == 1, f"{key} not found in etcd"
    return base64.b64decode(kvs[0]["value"])


def test_secrets_are_encrypted_at_rest(control_plane: ControlPlane) -> None:
    namespace = _namespace(control_plane, "smoke-etcd")
    canary = f"canary-{secrets.token_hex(16)}"
    _create_secret(control_plane, namespace, "enc", {"value": canary})
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "plain", "namespace": namespace},
        "data": {"value": canary},
    }
    resp = control_plane.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap)
    assert resp.status == 201, resp.body

    prefix = control_plane.etcd_prefix
    secret_raw = _etcdctl_get(control_plane, f"{prefix}/secrets/{namespace}/enc")
    plain_raw = _etcdctl_get(control_plane, f"{prefix}/configmaps/{namespace}/plain")

    assert secret_raw.startswith(b"k8s:enc:aescbc:v1:key1:")
    assert canary.encode() not in secret_raw
    assert _b64(canary).encode() not in secret_raw
    # Control: ConfigMaps are not encrypted, so the same read does see the value.
    assert plain_raw.startswith(b"k8s\x00")
    assert canary.encode() in plain_raw
    assert control_plane.secret_etcd_key(namespace, "enc") == f"{prefix}/secrets/{namespace}/enc"


def _audit_events(plane: ControlPlane) -> list[dict[str, Any]]:
    text = plane.audit_log_path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_audit_log_records_secret_metadata_only(control_plane: ControlPlane) -> None:
    namespace = _namespace(control_plane, "smoke-audit")
    canary = f"canary-{secrets.token_hex(16)}"
    _create_secret(control_plane, namespace, "audited", {"value": canary})
    resp = control_plane.request("GET", f"/api/v1/namespaces/{namespace}/secrets/audited")
    assert resp.status == 200
    assert canary in _decoded(resp.json()["data"]).values()

    def matching(verb: str) -> list[dict[str, Any]]:
        return [
            event
            for event in _audit_events(control_plane)
            if event.get("verb") == verb
            and event.get("stage") == "ResponseComplete"
            and event.get("objectRef", {}).get("resource") == "secrets"
            and event.get("objectRef", {}).get("namespace") == namespace
            and event.get("objectRef", {}).get("name") == "audited"
        ]

    deadline = time.monotonic() + 10
    created: list[dict[str, Any]] = []
    read: list[dict[str, Any]] = []
    for _ in range(200):
        created, read = matching("create"), matching("get")
        if (created and read) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(created) == 1, "no audit event for the Secret create"
    assert len(read) == 1, "no audit event for the Secret get"
    for event in (*created, *read):
        assert event["level"] == "Metadata"
        assert "requestObject" not in event
        assert "responseObject" not in event
        assert event["user"]["username"] == control_plane.admin_username
    assert created[0]["responseStatus"]["code"] == 201

    log = control_plane.audit_log_path.read_text(encoding="utf-8")
    assert canary not in log
    assert _b64(canary) not in log


def test_apiserver_restarts_on_the_same_port_keeping_data(
    control_plane_factory: PlaneFactory,
) -> None:
    # Its own plane: if the restart failed, the shared plane would fail every later test.
    with control_plane_factory("restart") as plane:
        namespace = _namespace(plane, "smoke-restart")
        _create_secret(plane, namespace, "kept", {"k": "before restart"})
        server = plane.server

        plane.stop_apiserver(kill=True)
        assert not plane.apiserver_running
        with pytest.raises(ConnectionRefusedError):
            plane.request("GET", "/readyz", timeout=5)

        plane.start_apiserver()
        assert plane.server == server
        resp = plane.request("GET", f"/api/v1/namespaces/{namespace}/secrets/kept")
    assert resp.status == 200, resp.body
    assert _decoded(resp.json()["data"]) == {"k": "before restart"}


@pytest.mark.slow
def test_factory_plane_with_tiny_inflight_limit_answers_429(
    control_plane_factory: PlaneFactory,
) -> None:
    plane = control_plane_factory(
        extra_apiserver_args=[
            "--max-requests-inflight=1",
            "--max-mutating-requests-inflight=1",
            "--enable-priority-and-fairness=false",
        ]
    )
    ident = plane.identity("busy")  # system:masters is exempt from the limit
    path = "/api/v1/namespaces/busy/secrets"
    statuses: list[int] = []
    retry_after: set[str | None] = set()

    def hammer() -> None:
        for _ in range(5):
            resp = plane.request("GET", path, token=ident.token)
            statuses.append(resp.status)
            if resp.status == 429:
                retry_after.add(resp.headers.get("retry-after"))

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    plane.close()  # done with it: no need to keep a throttled server until the session ends
    assert len(statuses) == 80
    assert set(statuses) == {200, 429}
    assert retry_after == {"1"}
