"""Plain HTTPS calls to a plane's API server and raw reads of its etcd."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ._errors import ControlPlaneError
from ._process import child_env


@dataclass(frozen=True)
class ApiResponse:
    """A raw HTTP answer from the API server."""

    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def raise_for_status(self, what: str) -> ApiResponse:
        if self.status >= 400:
            text = self.body.decode("utf-8", "replace")[:500]
            raise ControlPlaneError(f"{what}: HTTP {self.status}: {text}")
        return self


class Requester(Protocol):
    """Something that sends one request as the admin, like ``ControlPlane.request``."""

    def __call__(self, method: str, path: str, body: Any = None) -> ApiResponse: ...


def https_request(
    port: int,
    context: ssl.SSLContext,
    method: str,
    path: str,
    body: Any = None,
    *,
    bearer: str = "",
    content_type: str = "application/json",
    timeout: float = 30.0,
) -> ApiResponse:
    """One HTTPS request to 127.0.0.1:``port``; ``body`` is bytes or JSON-encoded."""
    headers = {"Accept": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    payload: bytes | None = None
    if body is not None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=timeout)
    try:
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return ApiResponse(resp.status, data, {k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()


def ensure_namespace(send: Requester, namespace: str) -> None:
    """Create ``namespace`` unless it exists."""
    resp = send(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
    )
    if resp.status != 409:
        resp.raise_for_status(f"create namespace {namespace}")


def apply(send: Requester, collection: str, obj: dict[str, Any]) -> None:
    """Create ``obj`` in ``collection``, or replace it when it already exists."""
    name = obj["metadata"]["name"]
    resp = send("POST", collection, obj)
    if resp.status == 409:
        resp = send("PUT", f"{collection}/{name}", obj)
    resp.raise_for_status(f"apply {collection}/{name}")


def etcd_get(etcdctl: Path, endpoint: str, key: str) -> bytes | None:
    """The raw value stored under ``key`` in the etcd at ``endpoint``."""
    found = _etcdctl_get(etcdctl, endpoint, key)
    return found.get(key)


def etcd_get_prefix(etcdctl: Path, endpoint: str, prefix: str) -> dict[str, bytes]:
    """Every raw value whose key starts with ``prefix``, by key."""
    return _etcdctl_get(etcdctl, endpoint, prefix, "--prefix")


def _etcdctl_get(etcdctl: Path, endpoint: str, key: str, *flags: str) -> dict[str, bytes]:
    env = child_env()
    env["ETCDCTL_API"] = "3"
    out = subprocess.run(
        [str(etcdctl), f"--endpoints={endpoint}", "get", key, *flags, "-w", "json"],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    kvs = json.loads(out).get("kvs") or []
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]) for kv in kvs}
