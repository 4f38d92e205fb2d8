"""Backoff and error classification of the Kubernetes API core: the retry policy, the
status -> error mapping (no I/O), and how the drivers tell an untrusted certificate from
a refused connection (a real TLS server on loopback)."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import traceback
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nebula_credential import (
    AuthenticationError,
    ConfigurationError,
    CredentialError,
    InvalidCredential,
    PayloadTooLarge,
    PermissionDenied,
    ProviderUnavailable,
)
from nebula_credential.http import message
from nebula_credential.http.aio import AioDriver
from nebula_credential.http.blocking import BlockingDriver
from nebula_credential.http.message import NoReply, Request, Response
from nebula_credential.kubernetes import RetryPolicy
from nebula_credential.kubernetes.api.errors import (
    AlreadyExists,
    Missing,
    Operation,
    StaleWrite,
    error_for,
    server_reply,
)
from nebula_credential.kubernetes.api.exchange import ApiClient
from nebula_credential.kubernetes.api.requests import Collection
from nebula_credential.kubernetes.config.endpoint import Endpoint
from nebula_credential.kubernetes.model.wire_secret import read_status
from nebula_credential.kubernetes.store.writes import CONFLICT_BACKOFF
from nebula_credential.providers.inline import run_inline


def test_lost_races_back_off_with_the_retry_policy() -> None:
    assert isinstance(CONFLICT_BACKOFF, RetryPolicy)
    for attempt in range(1, 12):
        ceiling = min(1.0, 0.01 * 2 ** (attempt - 1))
        pauses = [CONFLICT_BACKOFF.delay(attempt, None) for _ in range(50)]
        assert all(0 <= pause <= ceiling for pause in pauses)
    assert len({CONFLICT_BACKOFF.delay(3, None) for _ in range(50)}) > 1  # jittered


def test_the_servers_retry_after_is_a_minimum_with_a_little_jitter() -> None:
    policy = RetryPolicy(base_delay=0.2, max_delay=5.0)
    pauses = [policy.delay(1, 3.0) for _ in range(50)]
    assert all(3.0 <= pause <= 3.2 for pause in pauses)
    assert len(set(pauses)) > 1


def test_a_policy_that_cannot_try_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="attempts >= 1"):
        RetryPolicy(attempts=0)


def classify(
    code: int, verb: str, *, kind: str | None = None, message: str = "m", reason: str = ""
) -> Exception:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if kind is not None:
        status["details"] = {"name": "x", "kind": kind}
    reply = server_reply(code, "", None, read_status(json.dumps(status).encode()))
    return error_for(reply, Operation(verb, "x", "s"), server="s", context=None)


def test_a_missing_namespace_is_told_by_status_details_not_message_text() -> None:
    # The message is reworded on purpose: only details.kind may decide.
    assert isinstance(classify(404, "create", kind="namespaces"), ConfigurationError)
    assert isinstance(classify(404, "get", kind="namespaces"), ConfigurationError)
    assert isinstance(classify(404, "get", kind="secrets", message="namespaces"), Missing)
    assert isinstance(classify(404, "update", kind="secrets"), Missing)


def test_conflicts_are_told_apart_by_status_reason() -> None:
    assert isinstance(classify(409, "create", reason="AlreadyExists"), AlreadyExists)
    assert isinstance(classify(409, "update", reason="Conflict"), StaleWrite)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (403, "secrets is forbidden", PermissionDenied),
        (401, "Unauthorized", AuthenticationError),
        (413, "too large", PayloadTooLarge),
        (422, "bad label", InvalidCredential),
        (500, "etcdserver: request is too large", PayloadTooLarge),
        (410, "expired", ProviderUnavailable),
        (418, "teapot", CredentialError),
    ],
)
def test_each_final_status_has_its_typed_error(
    code: int, message: str, expected: type[Exception]
) -> None:
    error = classify(code, "create", message=message)
    assert type(error) is expected
    assert 'create secrets "s"' in str(error)


def test_a_reply_that_is_not_a_status_keeps_its_http_reason() -> None:
    reply = server_reply(502, "Bad Gateway", None, read_status(b"<html>bad gateway</html>"))
    assert (reply.status, reply.message) == (502, "Bad Gateway")
    error = error_for(reply, Operation("get", "x", "s"), server="s", context=None)
    assert "HTTP 502 Bad Gateway" in str(error)


# -- an untrusted certificate ------------------------------------------------------------


def self_signed(directory: Path) -> tuple[Path, Path]:
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .sign(private, hashes.SHA256())
    )
    key, cert = directory / "key.pem", directory / "cert.pem"
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key, cert


@pytest.mark.parametrize("driver", ["blocking", "aiohttp"])
async def test_an_untrusted_certificate_is_told_from_a_refused_connection(
    tmp_path: Path, driver: str
) -> None:
    key, cert = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    trusting_nothing_of_it = ssl.create_default_context()

    async def send(port: int) -> None:
        origin = f"https://127.0.0.1:{port}"
        settings: dict[str, Any] = {
            "context": lambda: trusting_nothing_of_it,
            "user_agent": "t",
            "timeout": 5,
        }
        if driver == "blocking":
            run_inline(BlockingDriver(origin, **settings).send(Request("GET", "/"), {}))
            return
        aio = AioDriver(origin, **settings)
        try:
            await aio.send(Request("GET", "/"), {})
        finally:
            await aio.close()

    async def attempt(port: int) -> NoReply:
        with pytest.raises(NoReply) as caught:
            await send(port)
        return caught.value

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def handshake() -> None:
            conn, _ = server.accept()
            with conn, contextlib.suppress(OSError):
                context.wrap_socket(conn, server_side=True)

        thread = threading.Thread(target=handshake)
        thread.start()
        untrusted = await attempt(port)
        thread.join(timeout=10)
    refused = await attempt(port)  # the port is closed now
    assert (untrusted.kind, untrusted.sent) == (message.UNTRUSTED, False)
    assert (refused.kind, refused.sent) == (message.CONNECT, False)


# -- no request body in a refused call's chain -------------------------------------------


class Refusing:
    """Stands in for the network with one 403 to any request: what matters is the
    error's chain, which no socket can show better."""

    origin = "http://api.test:8080"
    blocking = True

    async def send(self, request: Request, auth: Mapping[str, str]) -> Response:
        status = {"kind": "Status", "code": 403, "reason": "Forbidden", "message": "no"}
        return Response(403, "Forbidden", {}, json.dumps(status).encode())

    def lines(
        self, request: Request, auth: Mapping[str, str], max_line: int
    ) -> AsyncGenerator[bytes, None]:
        raise AssertionError("no watch here")

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("a 403 is final: no pause")

    async def close(self) -> None:
        pass


def test_a_refused_write_keeps_no_request_body_in_its_chain() -> None:
    canary = "canary-retry-81c3"
    endpoint = Endpoint(
        server="http://api.test:8080",
        proxy=None,
        server_hostname=None,
        ca=None,
        insecure=False,
        client_cert=None,
        headers={"Authorization": f"Bearer token-{canary}"},
        token_file=None,
        plugin=None,
        where="the test's kubeconfig",
    )
    api = ApiClient(Refusing(), endpoint, policy=RetryPolicy())
    body = json.dumps({"data": {"api_key": canary}}).encode()
    request = Collection("/api/v1", "x", "secrets", "secrets").create("s", body)
    with pytest.raises(PermissionDenied) as caught:
        run_inline(api.call(request))
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None
    assert canary not in "".join(traceback.format_exception(caught.value))
