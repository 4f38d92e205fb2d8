"""kube-controller-manager beside a test plane, so that workloads roll out.

A plane of etcd and kube-apiserver stores a Deployment but nothing acts on it: no
ReplicaSet appears when its pod template changes. With the workload controllers of
kube-controller-manager running against the plane, a patched template rolls out as on
a real cluster (new ReplicaSets; the Pods stay Pending, as there is no scheduler or
kubelet). ``scripts/install-control-plane.sh`` builds the binary from the same Debian
source as kube-apiserver and caches it beside it::

    with ControlPlane() as plane, ControllerManager(plane):
        ...  # kubectl apply a Deployment, patch its template, see a second ReplicaSet

It runs without leader election and without a serving port, as the plane's admin.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol

from ._binaries import INSTALL_HINT, find_program
from ._errors import MissingBinaryError
from ._process import Process

PROGRAM: Final = "kube-controller-manager"
OVERRIDE: Final = "NEBULA_KUBE_CONTROLLER_MANAGER"
# The controllers that make workloads roll out; the rest of the default set (nodes,
# service accounts, garbage collection...) needs parts a test plane does not have.
CONTROLLERS: Final = ("deployment", "replicaset", "statefulset", "daemonset")


class _Plane(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def directory(self) -> Path: ...

    @property
    def admin_kubeconfig(self) -> Path: ...


def find_controller_manager() -> Path:
    """The kube-controller-manager binary (``$NEBULA_KUBE_CONTROLLER_MANAGER``, then the
    places etcd and kube-apiserver are looked up), or MissingBinaryError."""
    override = os.environ.get(OVERRIDE)
    if override:
        if os.access(override, os.X_OK) and Path(override).is_file():
            return Path(override)
        raise MissingBinaryError(f"{OVERRIDE}={override} is not an executable file")
    found = find_program(PROGRAM)
    if found is None:
        raise MissingBinaryError(f"missing {PROGRAM}: {INSTALL_HINT}")
    return found


class ControllerManager:
    """kube-controller-manager running the workload controllers against ``plane``."""

    def __init__(
        self,
        plane: _Plane,
        *,
        controllers: tuple[str, ...] = CONTROLLERS,
        supervise: bool = True,
        startup_timeout: float = 30.0,
    ) -> None:
        self.plane = plane
        self.controllers = controllers
        self.log_path = plane.directory / f"{PROGRAM}.log"
        self.startup_timeout = startup_timeout
        self._process = Process(PROGRAM, self.argv(), self.log_path, supervise=supervise)

    def argv(self) -> list[str]:
        return [
            str(find_controller_manager()),
            f"--kubeconfig={self.plane.admin_kubeconfig}",
            f"--controllers={','.join(self.controllers)}",
            "--leader-elect=false",
            "--port=0",  # no insecure serving
            "--secure-port=0",  # and no secure serving: nothing here scrapes it
            "--concurrent-deployment-syncs=2",
            "--v=1",
        ]

    @property
    def running(self) -> bool:
        return self._process.running()

    def start(self) -> ControllerManager:
        """Start it and wait until it has begun syncing (its log says so)."""
        if self.running:
            return self
        self.log_path.unlink(missing_ok=True)
        self._process.start_and_wait(
            lambda: _started(self.log_path), self.startup_timeout, "start its controllers"
        )
        return self

    def stop(self) -> None:
        self._process.stop(timeout=10)

    def __enter__(self) -> ControllerManager:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _started(log_path: Path) -> bool:
    try:
        text = log_path.read_text(errors="replace")
    except FileNotFoundError:
        return False
    return "Started controller" in text or "Starting deployment controller" in text
