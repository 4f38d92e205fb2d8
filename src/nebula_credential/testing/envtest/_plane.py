"""One etcd + kube-apiserver pair on loopback: its processes, files and life cycle."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from . import _flags
from ._binaries import Binaries, etcdctl_missing_message, find_binaries
from ._configs import write_private
from ._control import ApiserverControl
from ._errors import ControlPlaneError, MissingBinaryError
from ._group import register_live, unregister_live
from ._identities import PoolUser
from ._material import (
    Material,
    load_state,
    save_state,
    write_material,
)
from ._process import WATCHDOG, Process


class ControlPlane(ApiserverControl):
    """One etcd + kube-apiserver pair listening on 127.0.0.1.

    ``directory`` holds certificates, kubeconfigs and logs; when omitted a temporary
    directory is used and removed by :meth:`close`. etcd data lives in a temporary
    directory (on ``/dev/shm`` when available) that :meth:`close` always removes.
    ``supervise=False`` leaves the processes running after this Python process exits
    (used by the ``up`` command). ``encryption_config`` replaces the default
    EncryptionConfiguration (aescbc, one random key) with the given YAML;
    :meth:`set_encryption_config` changes it later and restarts the API server.
    :meth:`restart_apiserver` (or :meth:`restart_apiserver_later`, in the background)
    takes the API server down for a while and back on the same URL, for fault tests.
    """

    def __init__(
        self,
        name: str = "nebula",
        directory: Path | str | None = None,
        *,
        extra_apiserver_args: Sequence[str] = (),
        identity_pool: int = 64,
        startup_timeout: float = 60.0,
        supervise: bool = True,
        encryption_config: str | None = None,
    ) -> None:
        if not name or not all(c.isalnum() or c in "-." for c in name):
            raise ControlPlaneError(f"plane name must be alphanumeric with '-' or '.': {name!r}")
        self.name = name
        self.extra_apiserver_args = tuple(extra_apiserver_args)
        self.identity_pool_size = identity_pool
        self.startup_timeout = startup_timeout
        self.supervise = supervise
        self._encryption_config = encryption_config
        self._owns_directory = directory is None
        self._directory: Path | None = Path(directory).resolve() if directory else None
        self._etcd_data: Path | None = None
        self._binaries: Binaries | None = None
        self._material: Material | None = None
        self._port: int | None = None
        self._etcd_port: int | None = None
        self._etcd_peer_port: int | None = None
        self._etcd: Process | None = None
        self._apiserver: Process | None = None
        self._lock = threading.RLock()
        self._allocated: list[str] = []
        self._attached_state: dict[str, Any] | None = None
        self._closed = False
        self.startup_seconds: float | None = None
        self.apiserver_startup_seconds: float | None = None

    # ------------------------------------------------------------------- lifecycle

    def __enter__(self) -> ControlPlane:
        """``with ControlPlane(...) as plane:`` starts the plane (if it is not running
        yet) and closes it on the way out."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.apiserver_running else "stopped"
        where = self.server if self._port else "unstarted"
        return f"<ControlPlane {self.name} {where} {state}>"

    def start(self) -> ControlPlane:
        """Start etcd and the API server and wait until ``/readyz`` answers 200."""
        with self._lock:
            if self._closed:
                raise ControlPlaneError(f"control plane {self.name} is closed")
            if self.apiserver_running:
                return self
            began = time.monotonic()
            binaries = self._binaries = find_binaries()
            self._prepare_directories()
            if self.supervise:
                register_live(self)
            try:
                if self._material is None:
                    for log in (self.etcd_log_path, self.apiserver_log_path, self.audit_log_path):
                        log.unlink(missing_ok=True)  # stale logs of an earlier plane
                self._start_etcd(binaries)
                if self._material is None:
                    self._material = write_material(
                        self.directory,
                        self.name,
                        self.server,
                        self.identity_pool_size,
                        self._encryption_config,
                    )
                assert self._etcd is not None
                assert self._etcd_port is not None
                _flags.wait_etcd_healthy(
                    self.name,
                    self._etcd_port,
                    self._etcd.running,
                    self.etcd_log_path,
                    min(self.startup_timeout, 30.0),
                )
                argv = [str(binaries.kube_apiserver), *self.apiserver_args()]
                self._apiserver = Process(
                    "kube-apiserver", argv, self.apiserver_log_path, supervise=self.supervise
                )
                self._launch_apiserver()
                self._write_state()
            except BaseException:
                self.stop()
                raise
            self.startup_seconds = time.monotonic() - began
            return self

    def stop(self) -> None:
        """Stop the API server and etcd; files and etcd data stay for a later start()."""
        with self._lock:
            if self._apiserver is not None:
                self._apiserver.stop(timeout=10)
            if self._etcd is not None:
                self._etcd.stop(timeout=10)

    def close(self) -> None:
        """Stop everything and remove temporary directories. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self.stop()
            finally:
                for path, owned in (
                    (self._etcd_data, True),
                    (self._directory, self._owns_directory),
                ):
                    if path is not None and owned:
                        shutil.rmtree(path, ignore_errors=True)
                        if self.supervise:
                            WATCHDOG.forget_path(path)
                unregister_live(self)

    def set_encryption_config(self, text: str, *, restart: bool = True) -> None:
        """Replace the EncryptionConfiguration (e.g. to rotate keys); the API server reads
        it only at start-up, so it is restarted unless ``restart=False``."""
        with self._lock:
            write_private(self.encryption_config_path, text.encode())
            self._encryption_config = text
            if restart:
                self.restart_apiserver()

    def apiserver_args(self) -> list[str]:
        """The kube-apiserver flags, ``extra_apiserver_args`` replacing defaults."""
        return _flags.apiserver_flags(
            self.directory, self.port, self.etcd_endpoint, self.extra_apiserver_args
        )

    # -------------------------------------------------------------------- internals

    def _prepare_directories(self) -> None:
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix=f"nebula-cp-{self.name}-"))
            if self.supervise:
                WATCHDOG.watch_path(self._directory)
        self._directory.mkdir(parents=True, exist_ok=True)
        if self._etcd_data is None:
            # mkdtemp makes a private (0700) directory, so a shared parent is safe.
            shm = Path("/dev/shm")  # noqa: S108
            base = shm if shm.is_dir() and os.access(shm, os.W_OK) else self._directory
            self._etcd_data = Path(tempfile.mkdtemp(prefix=f"nebula-etcd-{self.name}-", dir=base))
            if self.supervise:
                WATCHDOG.watch_path(self._etcd_data)
        if self._port is None:
            self._port = _flags.free_port()
            self._etcd_port = _flags.free_port()
            self._etcd_peer_port = _flags.free_port()

    def _start_etcd(self, binaries: Binaries) -> None:
        assert self._etcd_data is not None
        assert self._etcd_port is not None
        assert self._etcd_peer_port is not None
        data = self._etcd_data / "data"
        argv = _flags.etcd_argv(
            binaries.etcd, self.name, data, self._etcd_port, self._etcd_peer_port
        )
        self._etcd = Process("etcd", argv, self.etcd_log_path, supervise=self.supervise)
        self._etcd.start()

    def _etcdctl(self) -> Path:
        binaries = self._binaries or find_binaries()
        if binaries.etcdctl is None:
            raise MissingBinaryError(etcdctl_missing_message())
        return binaries.etcdctl

    def _allocate_user(self) -> PoolUser:
        material = self._require_material()
        with self._lock:
            free = [u for u in material.pool if u.name not in self._allocated]
            if not free:
                raise ControlPlaneError(
                    f"identity pool of control plane {self.name} exhausted "
                    f"({len(material.pool)} users); pass a larger identity_pool"
                )
            self._allocated.append(free[0].name)
            if self._attached_state is not None:
                self._attached_state["allocated"] = list(self._allocated)
                save_state(self.directory, self._attached_state)
            return free[0]

    def _write_state(self) -> None:
        material = self._require_material()
        save_state(
            self.directory,
            {
                "name": self.name,
                "directory": str(self.directory),
                "server": self.server,
                "port": self.port,
                "ca_file": str(self.ca_file),
                "admin_kubeconfig": str(self.admin_kubeconfig),
                "admin_token": material.admin_token,
                "etcd_endpoint": self.etcd_endpoint,
                "etcd_prefix": self.etcd_prefix,
                "etcd_data": str(self._etcd_data),
                "audit_log": str(self.audit_log_path),
                "apiserver_log": str(self.apiserver_log_path),
                "etcd_log": str(self.etcd_log_path),
                "pids": {"etcd": self.etcd_pid, "kube-apiserver": self.apiserver_pid},
                # The ``restart`` command starts a detached API server again from this.
                "apiserver_argv": self._apiserver.argv if self._apiserver else None,
                "pool": [{"name": u.name, "token": u.token} for u in material.pool],
                "allocated": list(self._allocated),
            },
        )

    @classmethod
    def attach(cls, directory: Path | str) -> ControlPlane:
        """An object for a plane started elsewhere (``up``); HTTP and identity() work.

        Process control (start/stop) is not available on an attached plane.
        """
        directory = Path(directory).resolve()
        state, material = load_state(directory)
        plane = cls(state["name"], directory, supervise=False)
        plane._closed = True  # never start or stop processes from here
        plane._port = int(state["port"])
        plane._etcd_port = int(state["etcd_endpoint"].rsplit(":", 1)[1])
        plane._material = material
        plane._allocated = list(state.get("allocated", []))
        plane._attached_state = state
        return plane
