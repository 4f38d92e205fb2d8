"""Real HTTP/1.1 servers on 127.0.0.1 for tests of our HTTP clients (token endpoints,
certificate URLs, drivers): each answers GET and POST with a function of the test's."""

from __future__ import annotations

import http.server
import threading
from collections import Counter
from collections.abc import Callable

Answer = Callable[[http.server.BaseHTTPRequestHandler], None]
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY")


class Site:
    """A server whose ``answer`` writes each reply; requests are counted by their target
    (an absolute URL when it is asked as a proxy)."""

    def __init__(self, answer: Answer) -> None:
        site = self
        self.hits: Counter[str] = Counter()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                site.hits[self.path] += 1
                answer(self)

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
