"""The plugin's gRPC server on a unix socket: both KMS APIs, a health check, shutdown.

The socket is made readable and writable by its owner only (the API server runs as the
same user, or root). A stale socket file left by a killed plugin is replaced; any other
file at the path is refused. Requests are bounded by gRPC itself
(``MAX_REQUEST_BYTES``: a larger message is RESOURCE_EXHAUSTED before any handler runs)
and by the envelope's plaintext limit. :meth:`KmsServer.stop` first reports NOT_SERVING
on the health service, then lets calls in flight finish within a grace period, then
removes the socket.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from .._log import get_logger
from ..domain import ValidationError
from ..kubernetes.model.api_names import unix_socket
from ._errors import KekConfigError
from ._metrics import metrics_for
from .envelope import MAX_PLAINTEXT, Keyring
from .services import V1_SERVICE, V2_SERVICE, V1Service, V2Service

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

#: A request is a plaintext or a blob plus a few fields; this leaves room for the
#: envelope's header and v2's annotations, and refuses anything far larger unread.
MAX_REQUEST_BYTES: Final = MAX_PLAINTEXT + 16 * 1024
WORKERS: Final = 8
_log = get_logger(__name__)


def socket_path(endpoint: str) -> Path:
    """The path of ``unix:///PATH`` (or a bare absolute path); :class:`KekConfigError`
    for anything else (the API server reaches KMS plugins on unix sockets only)."""
    try:
        return Path(unix_socket(endpoint, "the socket", bare=True))
    except ValidationError as exc:
        raise KekConfigError(str(exc)) from None


def _clear_stale_socket(path: Path) -> None:
    """Remove a socket nobody listens on any more; refuse a live one (another plugin
    would silently lose its socket) and anything that is not a socket."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise KekConfigError(f"{path} exists and is not a socket; not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)
        return
    except OSError:
        pass  # not answering in time: treat as live rather than take it over
    finally:
        probe.close()
    raise KekConfigError(f"another process is serving on {path}; stop it first")


@dataclass
class KmsServer:
    """A running plugin; :meth:`stop` shuts it down gracefully."""

    server: grpc.Server
    path: Path
    health: health.HealthServicer
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def endpoint(self) -> str:
        """``unix:///PATH``, as an EncryptionConfiguration names the plugin."""
        return f"unix://{self.path}"

    def stop(self, grace: float = 5.0) -> None:
        """NOT_SERVING, then finish calls in flight for up to ``grace`` seconds."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait(grace + 1)
        self.path.unlink(missing_ok=True)
        _log.info("kms plugin stopped on %s", self.path)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` was called (True) or ``timeout`` passed (False)."""
        return self._stopped.wait(timeout)


def start(
    keyring: Keyring, endpoint: str, *, registry: CollectorRegistry | None = None
) -> KmsServer:
    """Serve KMS v1 and v2 and the gRPC health service for ``keyring`` on ``endpoint``."""
    path = socket_path(endpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale_socket(path)
    metrics = metrics_for(registry)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="kms"),
        options=[
            ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
            ("grpc.max_send_message_length", MAX_REQUEST_BYTES),
        ],
    )
    server.add_generic_rpc_handlers(
        (
            V1Service(keyring, metrics).generic_handler(),
            V2Service(keyring, metrics).generic_handler(),
        )
    )
    checker = health.HealthServicer()
    for service in ("", V1_SERVICE, V2_SERVICE):
        checker.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    old_umask = os.umask(0o177)  # the socket file is created 0600
    try:
        if server.add_insecure_port(f"unix://{path}") == 0:
            raise KekConfigError(f"cannot listen on {path}")
    finally:
        os.umask(old_umask)
    server.start()
    _log.info("kms plugin serving on %s with KEKs %s", path, ", ".join(keyring.ids()))
    return KmsServer(server, path, checker)
