"""Helpers for the kubeconfig-form tests: kubeconfigs, an RBAC grant to a named user, a
request through an Endpoint, a counting CONNECT proxy and ExecCredential plugin scripts."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from nebula_credential.kubernetes.config.cluster import load_cluster_config
from nebula_credential.kubernetes.config.endpoint import Endpoint, endpoint_for
from nebula_credential.testing.envtest import ControlPlane

_RBAC = "/apis/rbac.authorization.k8s.io/v1/namespaces"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_kubeconfig(
    path: Path, cluster: dict[str, Any], user: dict[str, Any], namespace: str
) -> Path:
    """A one-context kubeconfig with these cluster and user entries."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [
            {"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": namespace}}
        ],
        "current-context": "ctx",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def endpoint_from(path: Path, **kwargs: Any) -> Endpoint:
    return endpoint_for(load_cluster_config(kubeconfig=path, environ={}), environ={}, **kwargs)


def grant_user(plane: ControlPlane, namespace: str, user: str, verbs: list[str]) -> None:
    """Let ``user`` (a client certificate's CN, say) ``verbs`` Secrets in ``namespace``."""
    plane.ensure_namespace(namespace)
    role = f"user-{secrets.token_hex(3)}"
    rule = {"apiGroups": [""], "resources": ["secrets"], "verbs": verbs}
    plane.request(
        "POST",
        f"{_RBAC}/{namespace}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": role},
            "rules": [rule],
        },
    ).raise_for_status("create role")
    plane.request(
        "POST",
        f"{_RBAC}/{namespace}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": role},
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        },
    ).raise_for_status("create rolebinding")
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "resourceAttributes": {"namespace": namespace, "verb": verbs[0], "resource": "secrets"},
        },
    }
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        reply = plane.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        if reply.json()["status"].get("allowed"):
            return
        time.sleep(0.05)
    raise AssertionError(f"RBAC grant for {user} not effective")


async def list_secrets(endpoint: Endpoint, namespace: str) -> tuple[int, str]:
    """(HTTP status, the server's message) of listing Secrets through ``endpoint``, with
    the one retry after a 401 that the Endpoint allows."""
    url = f"{endpoint.server}/api/v1/namespaces/{namespace}/secrets"
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt in range(2):
            headers = await endpoint.headers()
            async with session.get(
                url,
                headers=headers,
                ssl=endpoint.ssl_context(),
                proxy=endpoint.proxy,
                server_hostname=endpoint.server_hostname,
            ) as reply:
                body = await reply.read()
                status = reply.status
            if status == 401 and attempt == 0 and await endpoint.unauthorized():
                continue
            break
    message = json.loads(body).get("message", "") if status != 200 else ""
    return status, message


class ConnectProxy:
    """A small HTTP CONNECT proxy on 127.0.0.1 that counts the tunnels it opened.

    A real proxy, not a fake: bytes flow through it to the API server and back.
    """

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host not in ("127.0.0.1", "localhost"):
                writer.write(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                return
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            self.tunnels.append(target)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            pass
        finally:
            writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ConnectProxy]:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        try:
            yield self
        finally:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await asyncio.wait_for(reader.read(65536), 30):
            writer.write(data)
            await writer.drain()
    except (OSError, TimeoutError):
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


def exec_plugin(directory: Path, name: str, body: str) -> Path:
    """An executable Python script ``name`` in ``directory`` running ``body``.

    ``body`` sees ``json``, ``os``, ``sys``, ``time`` and ``here`` (the directory).
    """
    script = directory / name
    script.write_text(
        f"#!{sys.executable}\nimport json, os, sys, time\nhere = {str(directory)!r}\n{body}\n"
    )
    script.chmod(0o755)
    return script


def credential_body(version: str, status: str) -> str:
    """Plugin code printing an ExecCredential of ``version`` with ``status`` (Python expr)."""
    return (
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/"
        f"{version}', 'kind': 'ExecCredential', 'status': {status}}}))"
    )
