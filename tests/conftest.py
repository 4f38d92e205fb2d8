"""Fixtures shared by the test suite (the control-plane fixtures come from the
``nebula_credential.testing.envtest`` pytest plugin)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The Kubernetes test helpers (k8s_support) live beside the provider's tests; tests of
# the CLI, operations, sealing and manifests use them too.
_K8S_TESTS = str(Path(__file__).resolve().parent / "kubernetes")
if _K8S_TESTS not in sys.path:
    sys.path.insert(0, _K8S_TESTS)

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


@pytest.fixture
def serve() -> Iterator[Callable[..., object]]:
    """``serve(answer)`` starts a ``loopback_sites.Site``; all are stopped after the test."""
    from loopback_sites import Site

    started: list[Site] = []

    def start(answer: Callable[..., None]) -> Site:
        started.append(Site(answer))
        return started[-1]

    yield start
    for site in started:
        site.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: bound, noted, closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment without any proxy setting, for the test to set its own."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
