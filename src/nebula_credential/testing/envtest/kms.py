"""A KMS plugin process beside a plane, and the EncryptionConfiguration that uses it.

Any plugin that takes its socket as ``--socket unix:///PATH`` fits (ours is
``nebula-credential kms serve``)::

    from nebula_credential.testing.envtest import ControlPlane
    from nebula_credential.testing.envtest.kms import KmsPlugin

    with KmsPlugin(["nebula-credential", "kms", "serve", "--kek", "file:/k"], tmp) as kms:
        with ControlPlane("kms", encryption_config=kms.encryption_config("ours")) as plane:
            ...

The plugin runs in its own process group under the kit's watchdog, like etcd and the API
server, so it never outlives the test run. :meth:`KmsPlugin.stop` and
:meth:`KmsPlugin.start` take it down and back on the same socket, for tests of what the
API server does meanwhile.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from ._process import Process

SOCKET_NAME = "kms.sock"


def kms_encryption_config(
    name: str, endpoint: str, *, cachesize: int = 1000, timeout: str = "3s", fallback: bool = True
) -> str:
    """Secrets encrypted at rest by the KMS v1 plugin at ``endpoint`` (``unix:///PATH``),
    its prefix ``k8s:enc:kms:v1:NAME:``; with ``fallback``, plain Secrets stay readable."""
    lines = [
        "apiVersion: apiserver.config.k8s.io/v1",
        "kind: EncryptionConfiguration",
        "resources:",
        "  - resources: [secrets]",
        "    providers:",
        "      - kms:",
        f"          name: {name}",
        f"          endpoint: {endpoint}",
        f"          cachesize: {cachesize}",
        f"          timeout: {timeout}",
    ]
    if fallback:
        lines.append("      - identity: {}")
    return "\n".join(lines) + "\n"


class KmsPlugin:
    """A KMS plugin command run with ``--socket unix://DIRECTORY/kms.sock``."""

    def __init__(
        self,
        argv: Sequence[str],
        directory: Path | str,
        *,
        startup_timeout: float = 20.0,
        supervise: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.socket = self.directory / SOCKET_NAME
        self.log_path = self.directory / "kms-plugin.log"
        self.startup_timeout = startup_timeout
        argv = [*argv, "--socket", self.endpoint]
        self._process = Process("kms-plugin", argv, self.log_path, supervise=supervise)

    @property
    def endpoint(self) -> str:
        """``unix:///PATH`` of the plugin's socket."""
        return f"unix://{self.socket}"

    def encryption_config(
        self, name: str, *, cachesize: int = 1000, timeout: str = "3s", fallback: bool = True
    ) -> str:
        """:func:`kms_encryption_config` for this plugin."""
        return kms_encryption_config(
            name, self.endpoint, cachesize=cachesize, timeout=timeout, fallback=fallback
        )

    def running(self) -> bool:
        """Whether the plugin process is alive."""
        return self._process.running()

    def start(self) -> KmsPlugin:
        """Start the plugin and wait until its socket exists."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self._process.running():  # a socket left by a killed plugin is not it serving
            self.socket.unlink(missing_ok=True)
        self._process.start_and_wait(
            lambda: _is_socket(self.socket),
            self.startup_timeout,
            f"serve {self.socket}",
            poll=0.05,
        )
        return self

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (or SIGKILL) the plugin and wait for it."""
        self._process.stop(kill=kill, timeout=10)

    def __enter__(self) -> KmsPlugin:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except FileNotFoundError:
        return False


__all__ = ["SOCKET_NAME", "KmsPlugin", "kms_encryption_config"]
