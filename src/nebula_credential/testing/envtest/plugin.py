"""pytest plugin: real Kubernetes API servers as fixtures (entry point ``pytest11``).

Fixtures, all session-scoped and started on first use:

``control_plane``
    one plane shared by the session (a pool of 256 limited identities);
``second_control_plane``
    a separate plane, for tests that need two "clusters";
``control_plane_factory``
    ``factory(name=None, extra_apiserver_args=(), identity_pool=64,
    encryption_config=None)`` returns a started
    :class:`~nebula_credential.testing.envtest.ControlPlane`, closed at the end of the
    session or earlier by the test (``with factory(...) as plane:``);
    ``encryption_config`` is EncryptionConfiguration YAML replacing the default.

A plane offers ``server``, ``admin_kubeconfig``, ``admin_token``, ``ca_file``,
``request(method, path, body=None, token=None)``, ``ensure_namespace(ns)``,
``identity(namespace, verbs=None)`` and process control (``stop_apiserver``,
``start_apiserver``, ``restart_apiserver``).

Tests using these fixtures are marked ``kubernetes``. When etcd or kube-apiserver cannot
be found they fail, saying where they were looked for; with ``NEBULA_SKIP_KUBERNETES=1``
tests marked ``kubernetes`` are skipped instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import pytest

if TYPE_CHECKING:
    from ._plane import ControlPlane

# Nothing of the kit is imported here: pytest loads this module in every session of
# every project that has nebula-credential installed.
_FIXTURES = frozenset({"control_plane", "second_control_plane", "control_plane_factory"})


class PlaneFactory(Protocol):
    """The type of the ``control_plane_factory`` fixture."""

    def __call__(
        self,
        name: str | None = None,
        extra_apiserver_args: Sequence[str] = (),
        identity_pool: int = 64,
        encryption_config: str | None = None,
    ) -> ControlPlane: ...


def _skip_kubernetes() -> bool:
    return os.environ.get("NEBULA_SKIP_KUBERNETES") == "1"


def _fail_if_binaries_missing() -> None:
    from ._binaries import missing_binaries_message

    missing = missing_binaries_message()
    if missing is not None:
        pytest.fail(missing, pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kubernetes: needs a real kube-apiserver control plane")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = _skip_kubernetes()
    for item in items:
        if _FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kubernetes)
        if skip and item.get_closest_marker("kubernetes") is not None:
            item.add_marker(pytest.mark.skip(reason="NEBULA_SKIP_KUBERNETES=1"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Fail before any other fixture runs, with one line that says what to install.
    if _FIXTURES.intersection(getattr(item, "fixturenames", ())) and not _skip_kubernetes():
        _fail_if_binaries_missing()


@pytest.fixture(scope="session")
def control_plane_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlaneFactory]:
    """Start planes on demand; every plane is closed at the end of the session."""
    from ._errors import ControlPlaneError
    from ._group import close_all
    from ._plane import ControlPlane

    planes: list[ControlPlane] = []

    def start(
        name: str | None = None,
        extra_apiserver_args: Sequence[str] = (),
        identity_pool: int = 64,
        encryption_config: str | None = None,
    ) -> ControlPlane:
        _fail_if_binaries_missing()
        name = name or f"plane-{len(planes)}"
        plane = ControlPlane(
            name,
            tmp_path_factory.mktemp(name),
            extra_apiserver_args=extra_apiserver_args,
            identity_pool=identity_pool,
            encryption_config=encryption_config,
        )
        planes.append(plane)
        try:
            plane.start()
        except ControlPlaneError as exc:
            pytest.fail(str(exc), pytrace=False)
        return plane

    yield start
    close_all(planes)


@pytest.fixture(scope="session")
def control_plane(control_plane_factory: PlaneFactory) -> ControlPlane:
    """The session's shared plane."""
    return control_plane_factory("primary", identity_pool=256)


@pytest.fixture(scope="session")
def second_control_plane(control_plane_factory: PlaneFactory) -> ControlPlane:
    """A second, independent plane (another "cluster")."""
    return control_plane_factory("secondary")
