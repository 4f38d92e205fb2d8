"""The doctor's narrow seam to the cluster: a handful of JSON GETs and POSTs.

It reuses the provider's kubeconfig loading and API client (same auth, TLS, proxy and
User-Agent, one new authentication after a 401) but none of the Secret transport: doctor
asks the API server about itself and about the caller, never reads a Secret. Answers are
read whatever their status, each at most 1 MiB.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ..domain import ConfigurationError
from ..http.message import NoReply
from ..kubernetes.api.clients import client_on
from ..kubernetes.api.errors import Operation
from ..kubernetes.api.requests import ApiRequest
from ..kubernetes.api.retry import RetryPolicy
from ..kubernetes.config.cluster import ClusterConfig, shown_server

MAX_ANSWER: Final = 1024 * 1024


class Unreachable(Exception):
    """The API server did not answer (connection refused, TLS failure, timeout);
    ``proxy`` is the proxy, as shown, when it was the proxy that failed."""

    def __init__(self, message: str, *, proxy: str | None = None) -> None:
        super().__init__(message)
        self.proxy = proxy


class ClusterProbe:
    """``get``/``post`` of JSON paths on one cluster; answers are ``(status, body)``."""

    def __init__(self, target: ClusterConfig, *, timeout: float = 5.0) -> None:
        self.target = target
        self._client = client_on("aiohttp", target, policy=RetryPolicy(attempts=1), timeout=timeout)

    @property
    def server(self) -> str:
        return shown_server(self.target.cluster.server or "")

    async def get(self, path: str) -> tuple[int, Any]:
        return await self._send("GET", path, None)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return await self._send("POST", path, json.dumps(body).encode())

    async def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, Any]:
        op = Operation(method.lower(), self.target.namespace, path, "paths")
        request = ApiRequest(op, method, self._client.base + path, body=body, max_body=MAX_ANSWER)
        try:
            answer = await self._client.fetch(request)
        except ConfigurationError:
            raise Unreachable("the kubeconfig's user credentials could not be obtained") from None
        except NoReply as exc:
            if exc.kind == "untrusted":
                raise Unreachable("its TLS certificate is not trusted") from None
            proxy = self._client.site.proxy
            if exc.kind == "proxy" and proxy is not None:
                detail = exc.detail.split(":")[0]
                raise Unreachable(f"the proxy {proxy} failed ({detail})", proxy=proxy) from None
            raise Unreachable(f"no answer ({exc.detail.split(':')[0]})") from None
        try:
            payload = json.loads(answer.body)
        except ValueError:
            payload = None
        return answer.status, payload

    async def close(self) -> None:
        await self._client.close()
