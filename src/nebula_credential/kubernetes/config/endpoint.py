"""Where the API server is and how to prove who we are: one object per resolved target.

:func:`endpoint_for` turns a :class:`~..config.ClusterConfig` into an :class:`Endpoint`
without touching the network or starting a process; files named by the kubeconfig (CA,
client certificate and key) are read there, so a bad one fails at construction and
names the setting. Per request a transport asks for :meth:`Endpoint.headers` first and
then :meth:`Endpoint.ssl_context` (an exec plugin may hand out a new client certificate),
and after a 401 calls :meth:`Endpoint.unauthorized` to learn whether one retry may help.

Which credential is sent follows client-go: a token file, else a token, else a user name
and password, else an exec plugin; a client certificate from the kubeconfig is presented
besides a token, and an exec plugin is not run when the kubeconfig already has a token,
a password or a client certificate.
"""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from ...domain import ConfigurationError
from ...http.proxy import choose_proxy
from ...http.urls import shown_url as shown_server
from .cluster import ClusterConfig
from .kubeconfig import KubeUser
from .tls import decode_data, load_client_cert, read_file, server_context

if TYPE_CHECKING:
    from .exec_plugin import ExecPlugin
    from .tokens import TokenFile

_SCHEMES: Final = ("http", "https")
EXEC_TIMEOUT: Final = 60.0  # seconds an exec credential plugin may run


class Endpoint:
    """The API server's base URL, TLS settings, proxy and credentials (never shown)."""

    def __init__(
        self,
        *,
        server: str,
        proxy: str | None,
        server_hostname: str | None,
        ca: bytes | None,
        insecure: bool,
        client_cert: tuple[bytes, bytes] | None,
        headers: Mapping[str, str],
        token_file: TokenFile | None,
        plugin: ExecPlugin | None,
        where: str,
    ) -> None:
        self.server = server
        self.shown = shown_server(server)
        self.proxy = proxy
        self.server_hostname = server_hostname
        self._tls = server.startswith("https:")
        self._ca = ca
        self._insecure = insecure
        self._where = where
        self._static = dict(headers)
        self._token_file = token_file
        self._plugin = plugin
        self._plugin_cert: tuple[bytes, bytes] | None = None
        self._has_cert = client_cert is not None
        self._ssl: ssl.SSLContext | bool = self._context(client_cert)

    def __repr__(self) -> str:
        if self._token_file is not None:
            auth = f"token file {self._token_file.path}"
        elif self._plugin is not None:
            auth = f"exec plugin {self._plugin.name}"
        else:
            scheme = self._static.get("Authorization", "").split(" ", 1)[0].lower()
            auth = {"bearer": "token", "basic": "password"}.get(scheme, "none")
        if auth == "none" and self._has_cert:
            auth = "client certificate"
        proxy = None if self.proxy is None else shown_server(self.proxy)
        return f"Endpoint(server={self.shown!r}, proxy={proxy!r}, auth={auth!r})"

    @property
    def runs_plugin(self) -> bool:
        """True when credentials come from an exec plugin (run as an asyncio subprocess)."""
        return self._plugin is not None

    def ssl_context(self) -> ssl.SSLContext | bool:
        """The context to connect with: the same object until the credentials change
        (a new client certificate from an exec plugin); ``False`` for ``http://``."""
        return self._ssl

    async def headers(self) -> Mapping[str, str]:
        """The ``Authorization`` header (if any) for the next request."""
        if self._token_file is not None:
            return {"Authorization": f"Bearer {self._token_file.token()}"}
        if self._plugin is not None:
            issued = await self._plugin.credential()
            if issued.cert is not None and issued.cert != self._plugin_cert:
                source = f"the exec credential plugin {self._plugin.name!r}"
                self._ssl = self._context(issued.cert, source=source)
                self._plugin_cert = issued.cert
            if issued.token is not None:
                return {"Authorization": f"Bearer {issued.token}"}
            return {}
        return self._static  # the same object each time: callers do not change it

    async def unauthorized(self) -> bool:
        """After a 401: forget cached credentials; True when one retry may succeed."""
        if self._token_file is not None:
            try:
                before = self._token_file.token()
                self._token_file.forget()
                return self._token_file.token() != before
            except ConfigurationError:
                return True  # the retry raises the error that names the file
        if self._plugin is not None:
            self._plugin.forget()
            return True
        return False

    async def aclose(self) -> None:
        """Forget an exec plugin's credential; nothing else is held open between requests."""
        if self._plugin is not None:
            self._plugin.forget()

    def _context(
        self, cert: tuple[bytes, bytes] | None, source: str | None = None
    ) -> ssl.SSLContext | bool:
        if not self._tls:
            return False
        ctx = server_context(self._ca, insecure=self._insecure, where=self._where)
        if cert is not None:
            load_client_cert(ctx, *cert, source or self._where)
        return ctx


def endpoint_for(
    target: ClusterConfig,
    *,
    environ: Mapping[str, str] | None = None,
    exec_timeout: float = EXEC_TIMEOUT,
) -> Endpoint:
    """The :class:`Endpoint` for ``target``: reads the files it names, nothing else."""
    env = os.environ if environ is None else environ
    where = f"{target.source} (context {target.context!r})"
    cluster, user = target.cluster, target.user
    server = _server(cluster.server or "", where)
    ca: bytes | None = None
    if cluster.certificate_authority_data:
        ca = decode_data(cluster.certificate_authority_data, "certificate-authority-data", where)
    elif cluster.certificate_authority:
        ca = read_file(cluster.certificate_authority, "certificate-authority", where)

    cert = _client_cert(user, where)
    headers: dict[str, str] = {}
    token_file: TokenFile | None = None
    plugin: ExecPlugin | None = None
    if user.auth_provider:
        name = str(user.auth_provider.get("name", "unnamed"))[:40]
        raise ConfigurationError(
            f"{where} uses the auth-provider {name!r}, which kubectl no longer supports "
            "either; use its exec credential plugin instead (kubelogin, "
            "gke-gcloud-auth-plugin, aws eks get-token)"
        )
    if user.token_file:
        from .tokens import TokenFile  # only where a token file is used

        token_file = TokenFile(user.token_file, f"tokenFile of {where}")
    elif user.token:
        token = user.token.strip()
        if not (token.isascii() and token.isprintable()):
            raise ConfigurationError(
                f"the token in {where} is not one line of printable ASCII; check it"
            )
        headers["Authorization"] = f"Bearer {token}"
    elif user.username and user.password:
        pair = f"{user.username}:{user.password}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
    elif user.exec is not None and cert is None:
        from .exec_plugin import ExecPlugin, cluster_info  # only where a plugin is used

        info = cluster_info(server, cluster, ca)
        plugin = ExecPlugin(user.exec, info, where, exec_timeout)
    return Endpoint(
        server=server,
        proxy=choose_proxy(server, cluster.proxy_url, env, where),
        server_hostname=cluster.tls_server_name or None,
        ca=ca,
        insecure=cluster.insecure_skip_tls_verify,
        client_cert=cert,
        headers=headers,
        token_file=token_file,
        plugin=plugin,
        where=where,
    )


def _server(server: str, where: str) -> str:
    server = server.strip().rstrip("/")
    if not server:
        raise ConfigurationError(f"the cluster in {where} has no server URL")
    if "://" not in server:
        server = f"https://{server}"  # as kubectl reads a bare host:port
    scheme = server.split("://", 1)[0].lower()
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"the server URL {shown_server(server)!r} in {where} must start with https:// "
            "or http://"
        )
    return server


def _client_cert(user: KubeUser, where: str) -> tuple[bytes, bytes] | None:
    if user.client_certificate_data:
        cert = decode_data(user.client_certificate_data, "client-certificate-data", where)
    elif user.client_certificate:
        cert = read_file(user.client_certificate, "client-certificate", where)
    else:
        if user.client_key or user.client_key_data:
            raise ConfigurationError(f"{where} has a client key but no client certificate")
        return None
    if user.client_key_data:
        key = decode_data(user.client_key_data, "client-key-data", where)
    elif user.client_key:
        key = read_file(user.client_key, "client-key", where)
    else:
        raise ConfigurationError(f"{where} has a client certificate but no client key")
    return cert, key
