"""Where a plane's parts are: ports, files, keys and processes, read from its state."""

from __future__ import annotations

import base64
from pathlib import Path

from . import _flags
from ._client import PlaneClient
from ._errors import ControlPlaneError
from ._material import ADMIN_USER, ENCRYPTION_FILE, SNI_NAME, Material
from ._pki import issue_client_cert
from ._process import Process


class PlaneLayout(PlaneClient):
    """The read-only accessors of :class:`ControlPlane`; it sets these attributes."""

    _directory: Path | None
    _etcd_data: Path | None
    _material: Material | None
    _port: int | None
    _etcd_port: int | None
    _etcd: Process | None
    _apiserver: Process | None

    def _never_started(self) -> ControlPlaneError:
        return ControlPlaneError(f"control plane {self.name} was never started")

    @property
    def directory(self) -> Path:
        if self._directory is None:
            raise self._never_started()
        return self._directory

    @property
    def port(self) -> int:
        if self._port is None:
            raise self._never_started()
        return self._port

    @property
    def etcd_endpoint(self) -> str:
        if self._etcd_port is None:
            raise self._never_started()
        return f"http://127.0.0.1:{self._etcd_port}"

    @property
    def etcd_prefix(self) -> str:
        return _flags.ETCD_PREFIX

    @property
    def etcd_data(self) -> Path | None:
        """The temporary etcd data directory (removed by :meth:`close`)."""
        return self._etcd_data

    @property
    def ca_pem(self) -> bytes:
        return self._require_material().ca_pem

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_data(self) -> str:
        """Base64 of the CA PEM, as in a kubeconfig's certificate-authority-data."""
        return base64.b64encode(self.ca_pem).decode()

    @property
    def sni_name(self) -> str:
        """A DNS name the API server has a separate certificate for (SNI)."""
        return SNI_NAME

    @property
    def sni_ca_pem(self) -> bytes:
        """The CA of the :attr:`sni_name` certificate, and of no other."""
        return (self.directory / "sni-ca.crt").read_bytes()

    @property
    def admin_token(self) -> str:
        return self._require_material().admin_token

    @property
    def admin_username(self) -> str:
        return ADMIN_USER

    @property
    def admin_kubeconfig(self) -> Path:
        return self.directory / "admin.yaml"

    @property
    def audit_log_path(self) -> Path:
        return self.directory / "audit.log"

    @property
    def encryption_config_path(self) -> Path:
        """The EncryptionConfiguration the API server reads at start-up."""
        return self.directory / ENCRYPTION_FILE

    @property
    def etcd_log_path(self) -> Path:
        return self.directory / "etcd.log"

    @property
    def apiserver_pid(self) -> int | None:
        return self._apiserver.pid if self._apiserver and self._apiserver.running() else None

    @property
    def etcd_pid(self) -> int | None:
        return self._etcd.pid if self._etcd and self._etcd.running() else None

    @property
    def apiserver_running(self) -> bool:
        return self._apiserver is not None and self._apiserver.running()

    def client_certificate(self, user: str, groups: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
        """A new client certificate and key (PEM) that authenticate as ``user`` in ``groups``.

        Grant it rights with RBAC (a ``User`` subject named ``user``) as for anyone else.
        """
        key = (self.directory / "ca.key").read_bytes()
        return issue_client_cert(self.ca_pem, key, user, groups)

    def secret_etcd_key(self, namespace: str, name: str) -> str:
        return f"{_flags.ETCD_PREFIX}/secrets/{namespace}/{name}"

    def _require_material(self) -> Material:
        if self._material is None:
            raise self._never_started()
        return self._material
