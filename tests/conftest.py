# ============================================================================
# Real Kubernetes control planes (etcd + kube-apiserver v1.20.2 on loopback)
#
#   control_plane          session; started on first use
#   second_control_plane   session; a separate plane, started only if requested
#   control_plane_factory  session; factory(name=None, extra_apiserver_args=(),
#                          identity_pool=64) -> started plane, closed at session end
#
# A plane (scripts/controlplane.py: ControlPlane) exposes server, port,
# admin_kubeconfig, admin_token, ca_file, ca_pem, ca_data, ssl_context(),
# etcd_endpoint, etcd_prefix, secret_etcd_key(ns, name), etcd_get(key),
# audit_log_path, apiserver_log_path, request(method, path, body=None, token=None),
# ensure_namespace(ns), identity(namespace, verbs=None) -> Identity
# (.kubeconfig, .token, .username, .namespace, .groups, .verbs),
# stop_apiserver(kill=False), start_apiserver(), restart_apiserver(kill=False).
#
# Tests marked `kubernetes` (and tests using these fixtures, which get the
# marker automatically) fail when the binaries are missing, naming
# scripts/install-control-plane.sh; NEBULA_SKIP_KUBERNETES=1 skips them instead.
# If another collection/setup hook is needed, extend the two hooks below:
# a second function with the same name would replace them.
# ============================================================================
from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

_CONTROLPLANE_PATH = Path(__file__).resolve().parent.parent / "scripts" / "controlplane.py"
_KUBERNETES_FIXTURES = frozenset({"control_plane", "second_control_plane", "control_plane_factory"})

ControlPlane = Any  # scripts/controlplane.py: ControlPlane, loaded at runtime


@functools.cache
def load_controlplane() -> ModuleType:
    """scripts/controlplane.py as a module, loaded on first use (it imports cryptography)."""
    loaded = sys.modules.get("controlplane")
    if loaded is not None and Path(getattr(loaded, "__file__", "")) == _CONTROLPLANE_PATH:
        return loaded
    spec = importlib.util.spec_from_file_location("controlplane", _CONTROLPLANE_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["controlplane"] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def _skip_kubernetes() -> bool:
    return os.environ.get("NEBULA_SKIP_KUBERNETES") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _KUBERNETES_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kubernetes)
        if _skip_kubernetes() and item.get_closest_marker("kubernetes") is not None:
            item.add_marker(pytest.mark.skip(reason="NEBULA_SKIP_KUBERNETES=1"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("kubernetes") is None or _skip_kubernetes():
        return
    missing = load_controlplane().missing_binaries_message()
    if missing is not None:
        pytest.fail(missing, pytrace=False)


@pytest.fixture(scope="session")
def control_plane_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., ControlPlane]]:
    controlplane = load_controlplane()
    planes: list[ControlPlane] = []

    def start(
        name: str | None = None,
        extra_apiserver_args: Sequence[str] = (),
        identity_pool: int = 64,
    ) -> ControlPlane:
        missing = controlplane.missing_binaries_message()
        if missing is not None:
            pytest.fail(missing, pytrace=False)
        name = name or f"plane-{len(planes)}"
        plane = controlplane.ControlPlane(
            name,
            tmp_path_factory.mktemp(name),
            extra_apiserver_args=extra_apiserver_args,
            identity_pool=identity_pool,
        )
        planes.append(plane)
        try:
            plane.start()
        except controlplane.ControlPlaneError as exc:
            pytest.fail(str(exc), pytrace=False)
        return plane

    yield start
    controlplane.close_all(planes)


@pytest.fixture(scope="session")
def control_plane(control_plane_factory: Callable[..., ControlPlane]) -> ControlPlane:
    return control_plane_factory("primary", identity_pool=256)


@pytest.fixture(scope="session")
def second_control_plane(control_plane_factory: Callable[..., ControlPlane]) -> ControlPlane:
    return control_plane_factory("secondary")


# ============================================================================
# End of the control plane block.
# ============================================================================


# The installed console script, run in a real process against a throw-away store.
RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path) -> RunCli:
    """``cli(*args, stdin="", env={})`` runs ``nebula-credential`` with its own home."""
    beside = Path(sys.executable).with_name("nebula-credential")
    exe = str(beside) if beside.exists() else shutil.which("nebula-credential")
    assert exe is not None, "install the package: pip install -e ."
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_CREDENTIAL_")}
    base["NEBULA_CREDENTIAL_HOME"] = str(tmp_path / "home")

    def run(
        *args: str, stdin: str = "", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**base, **(env or {})},
            timeout=60,
            check=False,
        )

    return run
