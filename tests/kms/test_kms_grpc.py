"""The plugin's gRPC surface, as a client generated from the upstream protos sees it:
KMS v2 conformance across a KEK rotation, the health service, shutdown, and bad input
answered with typed gRPC errors that carry no key material."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kms_support import EXE, cli, new_file_kek, plugin
from prometheus_client import CollectorRegistry

from nebula_credential.kms import FileKek, KekConfigError, Keyring, KmsServer, start
from nebula_credential.kms._proto.v1beta1 import api_pb2 as v1
from nebula_credential.kms._proto.v1beta1 import api_pb2_grpc as v1_grpc
from nebula_credential.kms._proto.v2 import api_pb2 as v2
from nebula_credential.kms._proto.v2 import api_pb2_grpc as v2_grpc
from nebula_credential.testing.envtest.kms import KmsPlugin

DEK = os.urandom(32)


def v2_client(endpoint: str) -> tuple[grpc.Channel, v2_grpc.KeyManagementServiceStub]:
    channel = grpc.insecure_channel(endpoint)
    return channel, v2_grpc.KeyManagementServiceStub(channel)


def test_kms_v2_conformance_across_a_kek_rotation(tmp_path: Path) -> None:
    k1 = f"file:{tmp_path / 'k1'}"
    k2 = f"file:{tmp_path / 'k2'}"
    id1, id2 = new_file_kek(tmp_path / "k1"), new_file_kek(tmp_path / "k2")
    with plugin(tmp_path / "one", k1) as kms:
        channel, client = v2_client(kms.endpoint)
        with channel:
            status = client.Status(v2.StatusRequest(), timeout=5)
            assert (status.version, status.healthz, status.key_id) == ("v2", "ok", id1)
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", "v2.KeyManagementService", "v1beta1.KeyManagementService"):
                answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
            sealed = client.Encrypt(v2.EncryptRequest(plaintext=DEK, uid="uid-1"), timeout=5)
            again = client.Encrypt(v2.EncryptRequest(plaintext=DEK, uid="uid-2"), timeout=5)
            assert sealed.key_id == id1
            assert sealed.ciphertext != again.ciphertext  # a fresh nonce each time
            assert DEK not in sealed.ciphertext
            annotations = dict(sealed.annotations)
            assert annotations
            assert all("." in key for key in annotations)  # fully qualified names
            assert sum(len(k) + len(v) for k, v in annotations.items()) < 32 * 1024
            opened = client.Decrypt(
                v2.DecryptRequest(
                    ciphertext=sealed.ciphertext,
                    uid="uid-3",
                    key_id=sealed.key_id,
                    annotations=annotations,
                ),
                timeout=5,
            )
            assert opened.plaintext == DEK
    # Stopped gracefully: the socket is gone.
    assert not (tmp_path / "one" / "kms.sock").exists()

    # Rotation: k2 becomes primary, k1 still opens what it sealed.
    with plugin(tmp_path / "two", k2, k1) as kms:
        channel, client = v2_client(kms.endpoint)
        with channel:
            assert client.Status(v2.StatusRequest(), timeout=5).key_id == id2
            old = v2.DecryptRequest(
                ciphertext=sealed.ciphertext, key_id=id1, annotations=sealed.annotations
            )
            assert client.Decrypt(old, timeout=5).plaintext == DEK
            fresh = client.Encrypt(v2.EncryptRequest(plaintext=DEK), timeout=5)
            assert fresh.key_id == id2
            # Annotations are bound to the blob: another KEK named there is refused.
            moved = dict(fresh.annotations)
            moved[next(iter(moved))] = id1.encode()
            with pytest.raises(grpc.RpcError) as refused:
                client.Decrypt(
                    v2.DecryptRequest(ciphertext=fresh.ciphertext, annotations=moved), timeout=5
                )
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # k1 retired: what it sealed is NOT_FOUND, naming the KEK id.
    with plugin(tmp_path / "three", k2) as kms:
        channel, client = v2_client(kms.endpoint)
        with channel:
            with pytest.raises(grpc.RpcError) as gone:
                client.Decrypt(v2.DecryptRequest(ciphertext=sealed.ciphertext), timeout=5)
            assert gone.value.code() == grpc.StatusCode.NOT_FOUND
            assert id1 in (gone.value.details() or "")
            assert (
                client.Decrypt(v2.DecryptRequest(ciphertext=fresh.ciphertext), timeout=5).plaintext
                == DEK
            )


# ------------------------------------------------------------------------ bad input

KEY = os.urandom(32)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[KmsServer, CollectorRegistry]]:
    registry = CollectorRegistry()
    server = start(Keyring([FileKek(KEY)]), f"unix://{tmp_path}/kms.sock", registry=registry)
    try:
        yield server, registry
    finally:
        server.stop(grace=1)


def raw_call(channel: grpc.Channel, method: str, payload: bytes) -> grpc.RpcError:
    """``payload`` as the request bytes of ``method``; the error it is answered with."""
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as failed:
        call(payload, timeout=5)
    return failed.value


def key_material() -> list[str]:
    return [KEY.hex(), base64.b64encode(KEY).decode(), KEY.decode("latin-1"), DEK.hex()]


def test_bad_input_gets_typed_errors_without_key_material(
    served: tuple[KmsServer, CollectorRegistry], caplog: pytest.LogCaptureFixture
) -> None:
    server, registry = served
    caplog.set_level(logging.DEBUG, logger="nebula_credential")
    with grpc.insecure_channel(server.endpoint) as channel:
        v2c = v2_grpc.KeyManagementServiceStub(channel)
        v1c = v1_grpc.KeyManagementServiceStub(channel)
        blob = v2c.Encrypt(v2.EncryptRequest(plaintext=DEK), timeout=5).ciphertext
        foreign = Keyring([FileKek(os.urandom(32))]).seal(DEK)
        flipped = blob[:-1] + bytes([blob[-1] ^ 1])
        seen: list[tuple[str, grpc.StatusCode, str]] = []

        def expect(what: str, error: grpc.RpcError, code: grpc.StatusCode) -> None:
            assert error.code() == code, (what, error.code(), error.details())
            seen.append((what, code, error.details() or ""))

        def v2_decrypt(ciphertext: bytes, **fields: object) -> grpc.RpcError:
            request = v2.DecryptRequest(ciphertext=ciphertext, **fields)  # type: ignore[arg-type]
            return raw_call(
                channel, "/v2.KeyManagementService/Decrypt", request.SerializeToString()
            )

        invalid, too_big = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED
        for method in (
            "/v2.KeyManagementService/Encrypt",
            "/v2.KeyManagementService/Decrypt",
            "/v2.KeyManagementService/Status",
            "/v1beta1.KeyManagementService/Encrypt",
            "/v1beta1.KeyManagementService/Decrypt",
            "/v1beta1.KeyManagementService/Version",
        ):
            expect(
                f"malformed {method}", raw_call(channel, method, b"\xff\xff\xff\xff\xff"), invalid
            )
        whole = v2.EncryptRequest(plaintext=DEK, uid="u").SerializeToString()
        expect(
            "truncated request",
            raw_call(channel, "/v2.KeyManagementService/Encrypt", whole[:-7]),
            invalid,
        )
        oversized = v2.EncryptRequest(plaintext=os.urandom(512 * 1024)).SerializeToString()
        expect(
            "oversized request",
            raw_call(channel, "/v2.KeyManagementService/Encrypt", oversized),
            too_big,
        )
        large = v2.EncryptRequest(plaintext=os.urandom(70 * 1024)).SerializeToString()
        expect(
            "plaintext over the bound",
            raw_call(channel, "/v2.KeyManagementService/Encrypt", large),
            invalid,
        )
        empty = v2.EncryptRequest(plaintext=b"").SerializeToString()
        expect(
            "empty plaintext", raw_call(channel, "/v2.KeyManagementService/Encrypt", empty), invalid
        )
        expect("truncated blob", v2_decrypt(blob[:20]), invalid)
        expect("not our blob", v2_decrypt(b"k8s:enc:aescbc:v1:key1:" + DEK), invalid)
        expect("unknown KEK id", v2_decrypt(foreign), grpc.StatusCode.NOT_FOUND)
        expect("tampered blob", v2_decrypt(flipped), grpc.StatusCode.DATA_LOSS)
        expect("key_id of another KEK", v2_decrypt(blob, key_id="file-0000000000000000"), invalid)
        wrong_version = v1.EncryptRequest(version="v9", plain=DEK).SerializeToString()
        expect(
            "v1 version",
            raw_call(channel, "/v1beta1.KeyManagementService/Encrypt", wrong_version),
            invalid,
        )
        v1_tampered = v1.DecryptRequest(version="v1beta1", cipher=flipped).SerializeToString()
        expect(
            "v1 tampered",
            raw_call(channel, "/v1beta1.KeyManagementService/Decrypt", v1_tampered),
            grpc.StatusCode.DATA_LOSS,
        )

        # Still serving, and the good path still works.
        assert v2c.Status(v2.StatusRequest(), timeout=5).healthz == "ok"
        assert (
            v1c.Decrypt(v1.DecryptRequest(version="v1beta1", cipher=blob), timeout=5).plain == DEK
        )

    text = caplog.text + "".join(detail for _, _, detail in seen)
    for secret in key_material():
        assert secret not in text
    errors = registry.get_sample_value(
        "nebula_kms_errors_total", {"api": "v2", "operation": "decrypt", "code": "DATA_LOSS"}
    )
    assert errors == 1
    calls = registry.get_sample_value(
        "nebula_kms_calls_total", {"api": "v2", "operation": "encrypt", "code": "OK"}
    )
    assert calls == 1
    assert (
        registry.get_sample_value(
            "nebula_kms_call_duration_seconds_count", {"api": "v1beta1", "operation": "decrypt"}
        )
        == 3
    )


def test_unsafe_or_malformed_kek_sources_are_usage_errors(tmp_path: Path) -> None:
    key = tmp_path / "kek"
    key.write_bytes(KEY)
    key.chmod(0o644)
    socket = f"unix://{tmp_path}/kms.sock"
    cases = {
        f"file:{key}": "has mode 0644: make it 0600",
        f"file:{tmp_path / 'missing'}": "cannot open the KEK file",
        f"file:{tmp_path}": "is not a regular file",  # a directory: it said "Is a directory (3)"
        "vault:transit/kek": "a KEK source is file:PATH or pkcs11:",
        "pkcs11:object=kek1": "names token=...;object=... and module-path",
        "pkcs11:token=t;object=k?module-path=/x.so&pin-value=1234": "not the URI",
    }
    for source, message in cases.items():
        done = cli("kms", "serve", "--socket", socket, "--kek", source)
        assert done.returncode == 2, (source, done.stderr)
        assert message in done.stderr, (source, done.stderr)
        assert "Traceback" not in done.stderr
        assert KEY.hex() not in done.stderr
    short = tmp_path / "short"
    short.write_bytes(KEY[:16])
    short.chmod(0o600)
    done = cli("kms", "serve", "--socket", socket, "--kek", f"file:{short}")
    assert (done.returncode, "exactly 32 bytes" in done.stderr) == (2, True)
    key.chmod(0o600)
    for bad in ("relative.sock", f"unix://{tmp_path}/\x1b[31m.sock", f"unix://{tmp_path}/"):
        done = cli("kms", "serve", "--socket", bad, "--kek", f"file:{key}")
        assert done.returncode == 2, (bad, done.stderr)
        assert "is not unix:///PATH" in done.stderr
        assert "\x1b" not in done.stderr + done.stdout  # never printed raw to a terminal
    assert not Path("relative.sock").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".sock")] == []


def test_a_live_socket_is_not_taken_over_but_a_stale_one_is(tmp_path: Path) -> None:
    import socket as sockets

    path = tmp_path / "kms.sock"
    first = start(Keyring([FileKek(KEY)]), f"unix://{path}", registry=CollectorRegistry())
    try:
        with pytest.raises(KekConfigError, match="another process is serving"):
            start(
                Keyring([FileKek(os.urandom(32))]), f"unix://{path}", registry=CollectorRegistry()
            )
        with grpc.insecure_channel(first.endpoint) as channel:
            status = v2_grpc.KeyManagementServiceStub(channel).Status(v2.StatusRequest(), timeout=5)
            assert status.key_id == FileKek(KEY).kek_id  # still the first plugin answering
    finally:
        first.stop(grace=1)
    # A socket file left by a killed plugin (nobody listening) is replaced.
    stale = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    second = start(Keyring([FileKek(KEY)]), f"unix://{path}", registry=CollectorRegistry())
    second.stop(grace=1)
    (tmp_path / "plain").write_text("not a socket")
    with pytest.raises(KekConfigError, match="is not a socket"):
        start(Keyring([FileKek(KEY)]), f"unix://{tmp_path / 'plain'}")


def free_port() -> int:
    import socket as sockets

    with sockets.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_status_and_metrics_of_a_running_plugin(tmp_path: Path) -> None:
    import urllib.request
    from importlib.metadata import version

    port = free_port()
    kek_id = new_file_kek(tmp_path / "k")
    argv = [EXE, "kms", "serve", "--kek", f"file:{tmp_path / 'k'}", "--metrics-port", str(port)]
    with KmsPlugin(argv, tmp_path / "kms") as kms:
        done = cli("kms", "status", "--socket", kms.endpoint)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [
            "health: SERVING",
            f"v1: v1beta1 (nebula-credential {version('nebula-credential')})",
            "v2: v2 healthz=ok",
            f"key_id: {kek_id}",
        ]
        with grpc.insecure_channel(kms.endpoint) as channel:
            client = v2_grpc.KeyManagementServiceStub(channel)
            client.Encrypt(v2.EncryptRequest(plaintext=DEK), timeout=5)
            with pytest.raises(grpc.RpcError):
                client.Decrypt(v2.DecryptRequest(ciphertext=b"junk"), timeout=5)
        url = f"http://127.0.0.1:{port}/metrics"
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        assert 'nebula_kms_calls_total{api="v2",code="OK",operation="encrypt"} 1.0' in text
        assert (
            'nebula_kms_errors_total{api="v2",code="INVALID_ARGUMENT",operation="decrypt"} 1.0'
            in text
        )
        assert 'nebula_kms_call_duration_seconds_count{api="v2",operation="status"} 1.0' in text
    gone = cli("kms", "status", "--socket", kms.endpoint)
    assert gone.returncode == 6
    assert "did not answer" in gone.stderr
