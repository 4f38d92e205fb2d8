"""Backoff and error classification of the Kubernetes transport (no I/O)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lightkube import ApiError
from nebula_credential.kubernetes.lightkube_transport import translated

from nebula_credential import ConfigurationError, PermissionDenied
from nebula_credential.kubernetes import RetryPolicy, TransportStats
from nebula_credential.kubernetes.api.errors import (
    AlreadyExists,
    Missing,
    Operation,
    StaleWrite,
    error_for,
    read_reply,
    untrusted_certificate,
)
from nebula_credential.kubernetes.api.retry import Retrier
from nebula_credential.kubernetes.store.writes import CONFLICT_BACKOFF


def test_lost_races_back_off_with_the_retry_policy() -> None:
    assert isinstance(CONFLICT_BACKOFF, RetryPolicy)
    for attempt in range(1, 12):
        ceiling = min(1.0, 0.01 * 2 ** (attempt - 1))
        pauses = [CONFLICT_BACKOFF.delay(attempt, None) for _ in range(50)]
        assert all(0 <= pause <= ceiling for pause in pauses)
    assert len({CONFLICT_BACKOFF.delay(3, None) for _ in range(50)}) > 1  # jittered


def status_error(code: int, *, kind: str | None, message: str, reason: str = "") -> ApiError:
    request = httpx2.Request("POST", "https://127.0.0.1:1/api/v1/namespaces/x/secrets")
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
    response = httpx2.Response(code, json=status, request=request)
    return ApiError(request=request, response=response)


def classify(exc: httpx2.HTTPStatusError, verb: str) -> Exception:
    return error_for(read_reply(exc), Operation(verb, "x", "s"), server="s", context=None)


def test_a_missing_namespace_is_told_by_status_details_not_message_text() -> None:
    # The message is reworded on purpose: only details.kind may decide.
    gone_namespace = status_error(404, kind="namespaces", message="no such place")
    assert isinstance(classify(gone_namespace, "create"), ConfigurationError)
    assert isinstance(classify(gone_namespace, "get"), ConfigurationError)
    gone_secret = status_error(404, kind="secrets", message="namespaces lookalike")
    assert isinstance(classify(gone_secret, "get"), Missing)
    assert isinstance(classify(gone_secret, "update"), Missing)


def test_conflicts_are_told_apart_by_status_reason() -> None:
    exists = status_error(409, kind="secrets", message="x", reason="AlreadyExists")
    stale = status_error(409, kind="secrets", message="x", reason="Conflict")
    assert isinstance(classify(exists, "create"), AlreadyExists)
    assert isinstance(classify(stale, "update"), StaleWrite)


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


def test_an_untrusted_certificate_is_told_by_the_ssl_error_type(tmp_path: Path) -> None:
    key, cert = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def handshake() -> None:
            conn, _ = server.accept()
            with conn, contextlib.suppress(OSError):
                context.wrap_socket(conn, server_side=True)

        thread = threading.Thread(target=handshake)
        thread.start()
        with pytest.raises(httpx2.ConnectError) as caught:
            httpx2.get(f"https://127.0.0.1:{port}/", timeout=10)
        thread.join(timeout=10)
    assert untrusted_certificate(caught.value)
    with pytest.raises(httpx2.ConnectError) as refused:
        httpx2.get(f"https://127.0.0.1:{port}/", timeout=10)
    assert not untrusted_certificate(refused.value)


async def test_a_refused_write_keeps_no_request_body_in_its_chain() -> None:
    canary = "canary-retry-81c3"
    body = json.dumps({"data": {"api_key": canary}}).encode()
    request = httpx2.Request("POST", "https://127.0.0.1:1/api/v1/x", content=body)
    status = {"kind": "Status", "code": 403, "reason": "Forbidden", "message": "no"}
    response = httpx2.Response(403, json=status, request=request)

    async def refused() -> None:
        raise ApiError(request=request, response=response)

    retrier = Retrier(
        RetryPolicy(), TransportStats(), server="s", context=None, pause=asyncio.sleep
    )
    with pytest.raises(PermissionDenied) as caught:
        await retrier.run(Operation("create", "x", "s"), lambda: translated(refused))
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None
    assert canary not in "".join(traceback.format_exception(caught.value))
