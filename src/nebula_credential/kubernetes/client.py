"""Build the one lightkube AsyncClient a provider uses (no network).

lightkube's own kubeconfig handling drops ``proxy-url`` and ``tls-server-name``, runs
exec plugins of ``v1beta1`` for tokens only and re-reads token files only after a 401.
So its httpx client gets everything from the same :class:`~.connect.Endpoint` the
default transport uses: a transport with the endpoint's TLS context, proxy and SNI name,
and an auth flow asking the endpoint for headers (and, after a 401, whether to retry).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx2
from lightkube import AsyncClient, ConfigError, KubeConfig
from lightkube.config.models import Cluster, User

from ..domain import ConfigurationError
from ._lightkube_compat import set_auth, set_user_agent
from .config import ClusterConfig
from .connect import Endpoint, endpoint_for
from .naming import MANAGER

# managedFields name us through field_manager; the User-Agent names us in audit logs.
USER_AGENT = f"{MANAGER}/0.1 (lightkube)"


class EndpointTransport(httpx2.AsyncBaseTransport):
    """Sends with the endpoint's current TLS context (a new pool when it changes, as
    after an exec plugin's new client certificate), its proxy and its SNI name."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._context: object = None
        self._pool: httpx2.AsyncHTTPTransport | None = None
        self._retired: list[httpx2.AsyncHTTPTransport] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        context = self._endpoint.ssl_context()
        if self._pool is None or context is not self._context:
            if self._pool is not None:
                self._retired.append(self._pool)  # calls in flight finish on it
            self._pool = httpx2.AsyncHTTPTransport(
                verify=context, proxy=self._endpoint.proxy, trust_env=False
            )
            self._context = context
        if self._endpoint.server_hostname:
            request.extensions = {
                **request.extensions,
                "sni_hostname": self._endpoint.server_hostname,
            }
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        pools = [*self._retired, *([self._pool] if self._pool else [])]
        self._pool, self._retired = None, []
        for pool in pools:
            await pool.aclose()
        await self._endpoint.aclose()


class EndpointAuth(httpx2.Auth):
    """The endpoint's headers on every request; one retry after a 401 when it may help."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint

    def sync_auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("the Kubernetes client is asynchronous only")

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        request.headers.update(await self._endpoint.headers())
        response = yield request
        if response.status_code == 401 and await self._endpoint.unauthorized():
            request.headers.pop("Authorization", None)
            request.headers.update(await self._endpoint.headers())
            yield request


def make_client(target: ClusterConfig, timeout: float) -> AsyncClient:
    """An AsyncClient for ``target``; bad CA files or auth settings fail here, not later."""
    endpoint = endpoint_for(target)
    # TLS, proxy and auth come from the endpoint through the transport and auth flow;
    # lightkube sees the bare server only (its unused TLS context then costs nothing).
    bare = KubeConfig.from_one(
        cluster=Cluster(server=endpoint.server, insecure=True),
        user=User(),  # lightkube insists on one
        context_name=target.context or "default",
        namespace=target.namespace,
    )
    try:
        client = AsyncClient(
            bare,
            namespace=target.namespace,
            timeout=httpx2.Timeout(timeout),
            field_manager=MANAGER,
            trust_env=False,  # the endpoint chose the proxy, environment included
            transport=EndpointTransport(endpoint),
        )
    except (ConfigError, OSError, AssertionError) as exc:
        detail = str(exc)[:200] if isinstance(exc, ConfigError) else type(exc).__name__
        raise ConfigurationError(
            f"cannot set up a Kubernetes client from {target.source} (context "
            f"{target.context!r}): {detail}"
        ) from None
    set_auth(client, EndpointAuth(endpoint))
    set_user_agent(client, USER_AGENT)
    return client
