"""Parts of bench/controller.py: the controller process, the bench's own watches on the
API server, and the count of the controller's requests in the plane's audit log."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from nebula_credential.testing.cli_process import CliProcess
from nebula_credential.testing.envtest import ControlPlane

CONTROLLER_USER = "nebula-bench-controller"  # the user name the audit log tells apart
DIGEST = "nebula-credential.io/credentials-digest"


def deployment(secret: str, credential_id: str) -> dict[str, Any]:
    """A Deployment named app, opted in to ``credential_id``, whose container reads key
    api_key of Secret ``secret`` into an environment variable."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "annotations": {"nebula-credential.io/reload": credential_id}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "app"}},
            "template": {
                "metadata": {"labels": {"app": "app"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "busybox",
                            "env": [
                                {
                                    "name": "DB_PASSWORD",
                                    "valueFrom": {
                                        "secretKeyRef": {"name": secret, "key": "api_key"}
                                    },
                                }
                            ],
                        }
                    ]
                },
            },
        },
    }


def digest_of(workload: dict[str, Any]) -> str | None:
    notes = workload["spec"]["template"]["metadata"].get("annotations") or {}
    value = notes.get(DIGEST)
    return None if value is None else str(value)


async def wait_digest(plane: ControlPlane, namespace: str, seconds: float) -> dict[str, Any]:
    """Deployment app once it carries a digest (polled every 0.05 s)."""
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/app"
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.05) + 1):
        found: dict[str, Any] = plane.request("GET", path).raise_for_status("get app").json()
        if digest_of(found) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    if not digest_of(found):
        raise SystemExit(f"Deployment app in {namespace} got no digest within {seconds:.0f} s")
    return found


async def list_bytes(plane: ControlPlane, namespace: str) -> int:
    """The size of the managed Secrets' list as the API server sends it (one page)."""
    url = f"{plane.server}/api/v1/namespaces/{namespace}/secrets"
    params = {"labelSelector": "app.kubernetes.io/managed-by=nebula-credential"}
    headers = {"Authorization": f"Bearer {plane.admin_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.get(url, params=params, ssl=plane.ssl_context()) as reply,
    ):
        return len(await reply.read())


def controller_kubeconfig(plane: ControlPlane, path: Path) -> Path:
    """A kubeconfig with a client certificate of its own (``system:masters``), so the
    audit log names the controller's requests apart from the bench's (admin token)."""
    cert, key = plane.client_certificate(CONTROLLER_USER, ("system:masters",))
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "bench",
                "cluster": {"server": plane.server, "certificate-authority-data": plane.ca_data},
            }
        ],
        "users": [
            {
                "name": CONTROLLER_USER,
                "user": {
                    "client-certificate-data": base64.b64encode(cert).decode(),
                    "client-key-data": base64.b64encode(key).decode(),
                },
            }
        ],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": CONTROLLER_USER}}],
        "current-context": "bench",
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle)  # JSON is YAML
    return path


class Controller(CliProcess):
    """``nebula-credential controller`` in a process of its own, as an operator runs it."""

    def __init__(self, kubeconfig: Path, namespace: str, home: Path, *, rotation: bool) -> None:
        args = [
            "--kubeconfig",
            str(kubeconfig),
            "controller",
            "--namespace",
            namespace,
            "--health-addr",
            "127.0.0.1:0",
            *([] if rotation else ["--no-rotation"]),
        ]
        super().__init__(args, home=home)

    async def wait_ready(self, seconds: float) -> float:
        """Seconds from the start until ``/readyz`` answered 200."""
        deadline = time.monotonic() + seconds
        address = ""
        async with aiohttp.ClientSession() as http:
            for _ in range(int(seconds / 0.05) + 1):
                if self.process.poll() is not None:
                    tail = "\n".join(self.lines[-20:])
                    raise SystemExit(f"the controller exited ({self.process.returncode}):\n{tail}")
                serving = self.actions("serving")
                if serving and not address:
                    address = str(serving[0]["address"])
                if address:
                    try:
                        async with http.get(f"http://{address}/readyz") as reply:
                            if reply.status == 200:
                                return time.monotonic() - self.started
                    except aiohttp.ClientError:
                        pass
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
        raise SystemExit(f"the controller was not ready within {seconds:.0f} s")

    def memory(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the controller process, in bytes."""
        fields: dict[str, int] = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
        return fields["VmRSS"], fields["VmHWM"]


class Watch:
    """A plain aiohttp watch on one named object: (arrival, type, object) per event."""

    def __init__(self, plane: ControlPlane, collection: str, name: str, version: str) -> None:
        self._url = f"{plane.server}{collection}"
        self._params = {
            "watch": "1",
            "fieldSelector": f"metadata.name={name}",
            "resourceVersion": version,
            "timeoutSeconds": "3600",
        }
        self._headers = {"Authorization": f"Bearer {plane.admin_token}"}
        self._ssl = plane.ssl_context()
        self._events: asyncio.Queue[tuple[float, str, dict[str, Any]]] = asyncio.Queue()
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Returns once the API server has answered: the watch is registered."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        self._http = aiohttp.ClientSession(headers=self._headers, timeout=timeout)
        reply = await self._http.get(self._url, params=self._params, ssl=self._ssl)
        if reply.status != 200:
            raise SystemExit(f"watch {self._url}: HTTP {reply.status}")
        self._task = asyncio.ensure_future(self._read(reply))

    async def _read(self, reply: aiohttp.ClientResponse) -> None:
        async with reply:
            async for line in reply.content:
                arrived = time.monotonic()
                event = json.loads(line)
                await self._events.put((arrived, str(event["type"]), event["object"]))

    def drain(self) -> None:
        while not self._events.empty():
            self._events.get_nowait()

    async def next(self, seconds: float) -> tuple[float, str, dict[str, Any]]:
        try:
            return await asyncio.wait_for(self._events.get(), seconds)
        except TimeoutError:
            raise SystemExit(f"no event on {self._url} within {seconds:.0f} s") from None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._http is not None:
            await self._http.close()


def audit_offset(plane: ControlPlane) -> int:
    path = plane.audit_log_path
    return path.stat().st_size if path.exists() else 0


def audit_requests(
    plane: ControlPlane, offset: int, end: int, since: datetime
) -> Counter[tuple[str, str]]:
    """The controller's requests received from ``since`` on, between the two offsets of
    the audit log, by (verb, resource): one per request (a watch logs two stages)."""
    requests: dict[str, tuple[str, str]] = {}
    with plane.audit_log_path.open("rb") as log:
        log.seek(offset)
        data = log.read(end - offset)
    data = data[: data.rfind(b"\n") + 1]  # a line still being written waits for next time
    for line in data.splitlines():
        event = json.loads(line)
        if (event.get("user") or {}).get("username") != CONTROLLER_USER:
            continue
        if datetime.fromisoformat(event["requestReceivedTimestamp"]) < since:
            continue  # a watch opened before: its last stage only logs now
        ref = event.get("objectRef") or {}
        resource = ref.get("resource") or event.get("requestURI", "?")
        if ref.get("subresource"):
            resource = f"{resource}/{ref['subresource']}"
        requests[event["auditID"]] = (str(event["verb"]), str(resource))
    return Counter(requests.values())
