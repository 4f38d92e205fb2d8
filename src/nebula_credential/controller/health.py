"""``/healthz``, ``/readyz`` and ``/metrics`` on one address, in a thread of its own.

``/healthz`` answers 200 while the process serves; ``/readyz`` 200 when every watch is
live (leader or standby alike: a standby with live watches can take over at once), 503
otherwise; ``/metrics`` the controller's series in the Prometheus text format.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

_TEXT: Final = "text/plain; charset=utf-8"


class HealthServer:
    """A running health and metrics endpoint; ``close()`` stops it."""

    def __init__(
        self, host: str, port: int, ready: Callable[[], bool], registry: CollectorRegistry
    ) -> None:
        handler = _handler(ready, registry)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
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
