"""The doctor's narrow seam to the cluster: a handful of JSON GETs and POSTs.

It reuses the provider's kubeconfig loading and client set-up (same auth, TLS and
User-Agent) but none of the Secret transport: doctor asks the API server about itself
and about the caller, never reads a Secret.
"""

from __future__ import annotations

from typing import Any

import httpx2
from lightkube import ConfigError

from ..kubernetes._lightkube_compat import http_client
from ..kubernetes.client import make_client
from ..kubernetes.config import ClusterConfig, shown_server


class Unreachable(Exception):
    """The API server did not answer (connection refused, TLS failure, timeout)."""


class ClusterProbe:
    """``get``/``post`` of JSON paths on one cluster; answers are ``(status, body)``."""

    def __init__(self, target: ClusterConfig, *, timeout: float = 5.0) -> None:
        self.target = target
        self._lightkube = make_client(target, timeout)
        self._http = http_client(self._lightkube)

    @property
    def server(self) -> str:
        return shown_server(self.target.cluster.server or "")

    async def get(self, path: str) -> tuple[int, Any]:
        return await self._send("GET", path, None)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return await self._send("POST", path, body)

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx2.HTTPError as exc:  # only the type: messages are not ours to vet
            raise Unreachable(f"no answer ({type(exc).__name__})") from None
        except ConfigError:
            raise Unreachable("the kubeconfig's user credentials could not be obtained") from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return response.status_code, payload

    async def close(self) -> None:
        await self._lightkube.close()
