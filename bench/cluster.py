"""The cluster a benchmark runs against: ``--kubeconfig``'s, or a throw-away control
plane on loopback (envtest) that is stopped when the benchmark ends."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Target:
    kubeconfig: Path
    create_namespace: Callable[[str], object]
    clear_namespace: Callable[[str], object]  # delete every Secret in it


def _kubectl(kubeconfig: str, *args: str) -> None:
    subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args], check=True, capture_output=True
    )


@contextlib.contextmanager
def cluster_target(kubeconfig: str | None) -> Iterator[Target]:
    """``kubeconfig``'s cluster, or a control plane started for the benchmark."""
    if kubeconfig:
        yield Target(
            Path(kubeconfig),
            lambda ns: _kubectl(kubeconfig, "create", "namespace", ns),
            lambda ns: _kubectl(kubeconfig, "delete", "secrets", "--all", "-n", ns),
        )
        return
    from nebula_credential.testing.envtest import ControlPlane

    with tempfile.TemporaryDirectory(prefix="nebula-bench-") as tmp:
        plane = ControlPlane("bench", Path(tmp))
        try:
            plane.start()
            yield Target(
                plane.admin_kubeconfig,
                plane.ensure_namespace,
                lambda ns: plane.request("DELETE", f"/api/v1/namespaces/{ns}/secrets"),
            )
        finally:
            plane.close()
