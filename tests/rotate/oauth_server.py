"""A real OAuth2 authorization server on loopback: Authlib's Flask integration, served
by werkzeug in a thread. Only the token endpoint with the refresh-token grant is needed.

- ``/token``: the grant, with ``client_secret_basic`` and ``client_secret_post`` allowed
  at the endpoint and each client limited to its own method (a client registered for
  ``client_secret_post`` gets ``invalid_client`` 401 for basic, as Authlib answers).
  Refresh tokens are issued (the generator is on), rotated when ``rotate_refresh`` is set
  (the old one is revoked by ``revoke_old_credential``), rejected when revoked or expired
  (Authlib leaves both to ``authenticate_refresh_token``).
- ``/token-late``: the real grant, answered only when the test says so (see
  ``granted`` and ``answer_late``).
- ``/fail/<status>``, ``/slow``, ``/html``, ``/no-access-token``, ``/huge``,
  ``/gzip``, ``/weird-error``: endpoints that misbehave in one way each.
- ``/error/<code>/<status>``: that error code (and a canary ``error_description``).
- ``/echo-error``: the refresh token it was sent as the error code; ``/echo-error/<field>``
  the ``refresh_token``, ``client_secret`` or ``client_id`` it was sent, after ``?prefix=``
  and clipped to ``?cut=`` characters.
- ``/unauthorized``: 401 with a plain-text body, no error code.
- ``/expires/<kind>``: a token whose ``expires_in`` is odd in one way (see ``EXPIRES_IN``).
- ``/drop``: reads the request and hangs up without an answer.

Every request is counted per path in ``hits``.
"""

from __future__ import annotations

import gzip
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from flask import Flask, Response, request
from werkzeug.serving import make_server

# ``/expires/<kind>``: the JSON text of each ``expires_in`` (NaN and Infinity as Python reads).
EXPIRES_IN: dict[str, str | None] = {
    "int": "3600",
    "float": "3599.6",
    "zero": "0",
    "negative": "-30",
    "negative-float": "-0.4",
    "string": '"3600"',
    "max": "1000000000",
    "abc": '"abc"',
    "signed-string": '"-5"',
    "arabic-digits": '"\u0663\u0666\u0660\u0660"',
    "long-string": '"' + "9" * 5000 + '"',
    "true": "true",
    "float-huge": "1e12",
    "int-huge": "1000000000001",
    "nan": "NaN",
    "infinity": "Infinity",
    "list": "[3600]",
    "null": "null",
    "absent": None,
}


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    method: str = "client_secret_basic"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return "https://client.invalid/cb"

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.method

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "refresh_token"


@dataclass
class Token(TokenMixin):  # type: ignore[misc]
    client_id: str
    refresh_token: str
    scope: str = "read"
    revoked: bool = False
    refresh_expires_at: float = field(default_factory=lambda: time.time() + 3600)

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return 3600

    def is_revoked(self) -> bool:
        return self.revoked

    def is_expired(self) -> bool:
        return time.time() >= self.refresh_expires_at


class AuthServer:
    """The server state; start with :meth:`running`."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.tokens: dict[str, Token] = {}
        self.hits: Counter[str] = Counter()
        self.rotate_refresh = True
        self.slow_seconds = 30.0
        # /token-late: the grant is issued (the old refresh token revoked), ``granted`` is
        # set, and the answer leaves only when ``answer_late`` is set (or after 60 s).
        self.granted = threading.Event()
        self.answer_late = threading.Event()
        self.issued: list[dict[str, Any]] = []  # every token response, to check the store
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.url = ""
        self.app = self._build()

    # -- state ---------------------------------------------------------------------------

    def add_client(self, client_id: str, secret: str, method: str = "client_secret_basic") -> None:
        self.clients[client_id] = Client(client_id, secret, method)

    def grant(self, client_id: str, *, expired: bool = False) -> str:
        """A refresh token issued to ``client_id`` (already expired with ``expired``)."""
        token = f"rt-{secrets.token_urlsafe(12)}"
        expires = time.time() - 1 if expired else time.time() + 3600
        self.tokens[token] = Token(client_id, token, refresh_expires_at=expires)
        return token

    def revoke(self, refresh_token: str) -> None:
        self.tokens[refresh_token].revoked = True

    def token_url(self, path: str = "/token") -> str:
        return f"{self.url}{path}"

    # -- the Flask app -------------------------------------------------------------------

    def _build(self) -> Flask:
        app = Flask("nebula-test-authorization-server")
        app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
        server = AuthorizationServer(app, self.clients.get, self._save_token)
        state = self

        class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

            @property
            def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:  # Authlib reads it per grant
                return state.rotate_refresh

            def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
                # Authlib checks neither revocation nor expiry itself: the store must.
                with state._lock:
                    token = state.tokens.get(refresh_token)
                    if token is None or token.revoked or token.is_expired():
                        return None
                    return token

            def authenticate_user(self, refresh_token: Token) -> dict[str, str]:
                return {"id": "user-1"}

            def revoke_old_credential(self, refresh_token: Token) -> None:
                if state.rotate_refresh:
                    with state._lock:
                        refresh_token.revoked = True

        server.register_grant(RefreshGrant)

        @app.before_request
        def count() -> None:
            with self._lock:
                self.hits[request.path] += 1

        @app.post("/token")
        def token() -> Response:
            answer: Response = server.create_token_response()
            return answer

        @app.post("/token-slow")
        def token_slow() -> Response:
            # The real grant after a pause: two rotations started together overlap here.
            self._stop.wait(1.5)
            answer: Response = server.create_token_response()
            return answer

        @app.post("/token-late")
        def token_late() -> Response:
            # Tokens issued, answer held back: the window in which a store can fail.
            answer: Response = server.create_token_response()
            self.granted.set()
            self.answer_late.wait(60)
            return answer

        @app.post("/fail/<int:status>")
        def fail(status: int) -> tuple[dict[str, str], int]:
            return {"error": "temporarily_unavailable"}, status

        @app.post("/slow")
        def slow() -> dict[str, str]:
            self._stop.wait(self.slow_seconds)
            return {"access_token": "too-late", "token_type": "Bearer"}

        @app.post("/html")
        def html() -> Response:
            return Response("<html><body>Login</body></html>", 200, mimetype="text/html")

        @app.post("/no-access-token")
        def no_access() -> dict[str, Any]:
            return {"token_type": "Bearer", "expires_in": 3600}

        @app.post("/huge")
        def huge() -> Response:
            chunk = b"x" * (1024 * 1024)

            def body() -> Iterator[bytes]:
                for _ in range(50):  # 50 MiB unless the client hangs up first
                    yield chunk

            return Response(body(), 200, mimetype="application/json")

        @app.post("/gzip")
        def gzipped() -> Response:
            # Compressed although the client asked for identity: 16 KiB -> 16 MiB of JSON.
            bomb = gzip.compress(b'{"access_token": "' + b"a" * (16 * 1024 * 1024) + b'"}')
            return Response(bomb, 200, {"Content-Encoding": "gzip"}, mimetype="application/json")

        @app.post("/weird-error")
        def weird() -> tuple[dict[str, str], int]:
            return {"error": "bad\x1b[31mcode\r\n", "error_description": "x"}, 400

        @app.post("/error/<code>/<int:status>")
        def error(code: str, status: int) -> tuple[dict[str, str], int]:
            return {"error": code, "error_description": "description-canary-e1"}, status

        @app.post("/echo-error")
        def echo_error() -> tuple[dict[str, str], int]:
            return {"error": request.form.get("refresh_token", "")}, 400

        @app.post("/echo-error/<field>")
        def echo_field(field: str) -> tuple[dict[str, str], int]:
            basic = request.authorization
            sent = {
                "refresh_token": request.form.get("refresh_token", ""),
                "client_id": basic.username if basic else request.form.get("client_id", ""),
                "client_secret": basic.password if basic else request.form.get("client_secret"),
            }[field]
            cut = int(request.args.get("cut", "1000"))
            return {"error": request.args.get("prefix", "") + (sent or "")[:cut]}, 400

        @app.post("/unauthorized")
        def unauthorized() -> Response:
            return Response(
                "Unauthorized", 401, {"WWW-Authenticate": "Basic"}, mimetype="text/plain"
            )

        @app.post("/expires/<kind>")
        def expires(kind: str) -> Response:
            value = EXPIRES_IN[kind]
            tail = "" if value is None else f', "expires_in": {value}'
            body = (
                '{"access_token": "at-canary-expires", "token_type": "Bearer", '
                f'"refresh_token": "rt-canary-new"{tail}}}'
            )
            return Response(body, 200, mimetype="application/json")

        @app.post("/drop")
        def drop() -> Response:
            # Hang up after the request arrived: werkzeug's write then fails, which it
            # treats as a dropped connection.
            request.get_data()
            request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            return Response("{}", 200, mimetype="application/json")

        return app

    def _save_token(self, token: dict[str, Any], req: Any) -> None:
        with self._lock:
            self.issued.append(dict(token))
            new = token.get("refresh_token")
            if new:
                self.tokens[new] = Token(req.client.client_id, new)

    # -- serving -------------------------------------------------------------------------

    def running(self) -> Iterator[AuthServer]:
        httpd = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{httpd.server_port}"
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self.answer_late.set()
            httpd.shutdown()
            thread.join(timeout=10)
            httpd.server_close()
