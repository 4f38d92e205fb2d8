"""What a running plane offers its tests: HTTPS calls, namespaces, etcd reads, identities."""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import _api
from ._configs import write_kubeconfig
from ._errors import ControlPlaneError
from ._flags import POLL_INTERVAL
from ._identities import DEFAULT_VERBS, Identity, PoolUser, grant
from ._process import tail


class PlaneClient:
    """The client half of :class:`ControlPlane`; subclasses say where the plane is."""

    name: str
    _ssl: ssl.SSLContext | None = None

    @property
    def port(self) -> int:
        raise NotImplementedError

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def directory(self) -> Path:
        raise NotImplementedError

    @property
    def ca_pem(self) -> bytes:
        raise NotImplementedError

    @property
    def admin_token(self) -> str:
        raise NotImplementedError

    @property
    def etcd_endpoint(self) -> str:
        raise NotImplementedError

    @property
    def apiserver_running(self) -> bool:
        raise NotImplementedError

    @property
    def apiserver_log_path(self) -> Path:
        return self.directory / "apiserver.log"

    def _etcdctl(self) -> Path:
        raise NotImplementedError

    def _allocate_user(self) -> PoolUser:
        raise NotImplementedError

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only this plane's CA (hostname checked)."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cadata=self.ca_pem.decode())
        return self._ssl

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> _api.ApiResponse:
        """One HTTPS request to the API server.

        ``token=None`` authenticates as the admin; ``token=""`` sends no credentials.
        """
        return _api.https_request(
            self.port,
            self.ssl_context(),
            method,
            path,
            body,
            bearer=self.admin_token if token is None else token,
            content_type=content_type,
            timeout=timeout,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll ``/readyz`` with the admin token until it answers 200."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        for _ in range(int(timeout / POLL_INTERVAL) + 1):
            if not self.apiserver_running:
                raise ControlPlaneError(
                    f"kube-apiserver of control plane {self.name} exited; last lines of "
                    f"{self.apiserver_log_path}:\n{tail(self.apiserver_log_path)}"
                )
            try:
                resp = self.request("GET", "/readyz?verbose", timeout=5)
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}: {resp.body.decode('utf-8', 'replace')[-1500:]}"
            except (OSError, http.client.HTTPException) as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                break
            time.sleep(POLL_INTERVAL)
        raise ControlPlaneError(
            f"kube-apiserver of control plane {self.name} not ready at {self.server} after "
            f"{timeout:.0f}s ({last}); last lines of {self.apiserver_log_path}:\n"
            f"{tail(self.apiserver_log_path)}"
        )

    def ensure_namespace(self, namespace: str) -> None:
        """Create ``namespace`` unless it exists."""
        _api.ensure_namespace(self.request, namespace)

    def etcd_get(self, key: str) -> bytes | None:
        """The raw value stored under ``key`` in this plane's etcd (via etcdctl)."""
        return _api.etcd_get(self._etcdctl(), self.etcd_endpoint, key)

    def etcd_get_prefix(self, prefix: str) -> dict[str, bytes]:
        """Every raw value under ``prefix`` in this plane's etcd, by key (via etcdctl)."""
        return _api.etcd_get_prefix(self._etcdctl(), self.etcd_endpoint, prefix)

    def identity(
        self,
        namespace: str,
        verbs: Sequence[str] | None = None,
        *,
        resources: Sequence[str] = ("secrets",),
        api_group: str = "",
        wait: float = 15.0,
    ) -> Identity:
        """Allocate a pooled user, allowed only ``verbs`` on ``resources`` in ``namespace``.

        Creates the namespace if needed, a Role and a RoleBinding, waits until the
        authorizer honours the binding, and writes a kubeconfig whose context namespace
        is ``namespace``. ``verbs=[]`` gives a user with no permissions at all.
        """
        verbs = tuple(DEFAULT_VERBS if verbs is None else verbs)
        user = self._allocate_user()
        self.ensure_namespace(namespace)
        role: str | None = None
        if verbs:
            role = grant(
                self.request,
                user,
                namespace,
                verbs,
                resources=resources,
                api_group=api_group,
                wait=wait,
            )
        kubeconfig = write_kubeconfig(
            self.directory / "identities" / f"{user.name}.yaml",
            cluster=self.name,
            server=self.server,
            ca_pem=self.ca_pem,
            user=f"{self.name}-{user.name}",
            token=user.token,
            namespace=namespace,
            context=f"{self.name}-{user.name}",
        )
        return Identity(
            namespace=namespace,
            username=user.username,
            token=user.token,
            groups=user.groups,
            verbs=verbs,
            kubeconfig=kubeconfig,
            name=user.name,
            role=role,
        )
