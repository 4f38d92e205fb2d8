"""``/healthz``, ``/readyz`` and ``/metrics`` on one address, in a thread of its own.

``/healthz`` answers 200 while the process serves; ``/readyz`` 200 when every watch is
live (leader or standby alike: a standby with live watches can take over at once), 503
otherwise; ``/metrics`` the controller's series in the Prometheus text format.

Any client can reach the probe port: a connection that sends nothing for
``_IDLE_SECONDS`` is closed, and past ``_MAX_CONNECTIONS`` open ones the oldest is
closed to make room, so idle or slow clients neither pile up threads nor keep a probe
from being answered.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

_TEXT: Final = "text/plain; charset=utf-8"
_IDLE_SECONDS: Final = 5.0
_MAX_CONNECTIONS: Final = 32


class _BoundedServer(ThreadingHTTPServer):
    """At most ``_MAX_CONNECTIONS`` connections (threads) at once: a new one closes the
    oldest, which is the likeliest to be idle or slow."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        self._open: OrderedDict[int, socket.socket] = OrderedDict()
        self._lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            while len(self._open) >= _MAX_CONNECTIONS:
                _, oldest = self._open.popitem(last=False)
                with contextlib.suppress(OSError):
                    oldest.shutdown(socket.SHUT_RDWR)  # its thread sees the end and exits
            self._open[id(request)] = request
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client gone mid-request: no traceback among the action lines on stderr

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.pop(id(request), None)
        super().shutdown_request(request)


class HealthServer:
    """A running health and metrics endpoint; ``close()`` stops it."""

    def __init__(
        self, host: str, port: int, ready: Callable[[], bool], registry: CollectorRegistry
    ) -> None:
        handler = _handler(ready, registry)
        self._server = _BoundedServer((host, port), handler)
        self.port: int = self._server.server_address[1]
        self.host = host
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="controller-health", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(
    ready: Callable[[], bool], registry: CollectorRegistry
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = _IDLE_SECONDS

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._answer(200, _TEXT, b"ok\n")
            elif path == "/readyz":
                live = ready()
                self._answer(200 if live else 503, _TEXT, b"ok\n" if live else b"not ready\n")
            elif path == "/metrics":
                self._answer(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            else:
                self._answer(404, _TEXT, b"not found\n")

        def _answer(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # probes every few seconds: no line each

    return Handler
