"""The gRPC services the API server calls: KMS v1 (``v1beta1``) and KMS v2 (``v2``).

The handlers take the request's raw bytes and parse them themselves: gRPC's own
deserialiser turns a malformed message into INTERNAL, where the caller sent something
wrong (INVALID_ARGUMENT). Every failure answers with the code of its
:class:`~nebula_credential.kms._errors.KmsError` and a message that names the problem,
never key material; an unexpected exception answers INTERNAL and is logged by type
only. Each call is counted in the plugin's metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from .._log import get_logger
from ._errors import BadRequest, KmsError
from ._metrics import KmsMetrics
from ._proto.v1beta1 import api_pb2 as v1
from ._proto.v2 import api_pb2 as v2
from .envelope import Keyring

V1_API: Final = "v1beta1"
V2_API: Final = "v2"
RUNTIME_NAME: Final = "nebula-credential"
#: The v2 annotation naming the KEK a blob was sealed with (stored in plain by the API
#: server beside the object and sent back on Decrypt; a KEK id is not secret).
KEK_ANNOTATION: Final = "kek.kms.nebula-credential.io"
V1_SERVICE: Final = "v1beta1.KeyManagementService"
V2_SERVICE: Final = "v2.KeyManagementService"

M = TypeVar("M", bound=Message)
_log = get_logger(__name__)


def parse(kind: type[M], raw: bytes) -> M:
    """``raw`` as a ``kind`` message; :class:`BadRequest` when it is not one."""
    message = kind()
    try:
        message.ParseFromString(raw)
    except DecodeError:
        raise BadRequest(f"the request is not a valid {kind.DESCRIPTOR.full_name}") from None
    return message


def _runtime_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nebula-credential")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0.0.0"


class _Calls:
    """Wraps an operation into a raw-bytes gRPC handler with errors and metrics."""

    def __init__(self, api: str, metrics: KmsMetrics) -> None:
        self.api = api
        self.metrics = metrics

    def handler(
        self, operation: str, run: Callable[[bytes], Message]
    ) -> grpc.RpcMethodHandler[bytes, bytes]:
        def call(raw: bytes, context: grpc.ServicerContext) -> bytes:
            started = time.perf_counter()
            code = "OK"
            try:
                return run(raw).SerializeToString()
            except KmsError as exc:
                code = exc.code.name
                _log.warning("kms %s %s: %s (%s)", self.api, operation, exc, code)
                failure: tuple[grpc.StatusCode, str] = (exc.code, str(exc))
            except Exception as exc:
                code = grpc.StatusCode.INTERNAL.name
                _log.error("kms %s %s failed: %s", self.api, operation, type(exc).__name__)
                failure = (grpc.StatusCode.INTERNAL, "internal error in the KMS plugin")
            finally:
                self.metrics.observe(self.api, operation, code, time.perf_counter() - started)
            context.abort(*failure)

        return grpc.unary_unary_rpc_method_handler(call)


class V1Service:
    """``v1beta1.KeyManagementService``: Version must answer ``v1beta1``, or the API
    server refuses the provider and fails every request on the resource."""

    def __init__(self, keyring: Keyring, metrics: KmsMetrics) -> None:
        self.keyring = keyring
        self._calls = _Calls(V1_API, metrics)

    def version(self, raw: bytes) -> v1.VersionResponse:
        parse(v1.VersionRequest, raw)
        return v1.VersionResponse(
            version=V1_API, runtime_name=RUNTIME_NAME, runtime_version=_runtime_version()
        )

    def encrypt(self, raw: bytes) -> v1.EncryptResponse:
        request = parse(v1.EncryptRequest, raw)
        _check_version(request.version)
        return v1.EncryptResponse(cipher=self.keyring.seal(request.plain))

    def decrypt(self, raw: bytes) -> v1.DecryptResponse:
        request = parse(v1.DecryptRequest, raw)
        _check_version(request.version)
        plain, _ = self.keyring.open(request.cipher)
        return v1.DecryptResponse(plain=plain)

    def generic_handler(self) -> grpc.GenericRpcHandler:
        """The service's methods for :meth:`grpc.Server.add_generic_rpc_handlers`."""
        return grpc.method_handlers_generic_handler(
            V1_SERVICE,
            {
                "Version": self._calls.handler("version", self.version),
                "Encrypt": self._calls.handler("encrypt", self.encrypt),
                "Decrypt": self._calls.handler("decrypt", self.decrypt),
            },
        )


def _check_version(version: str) -> None:
    if version and version != V1_API:
        raise BadRequest(f"this plugin speaks KMS API {V1_API}, not the version requested")


class V2Service:
    """``v2.KeyManagementService``: Status reports the primary KEK as ``key_id`` (its
    change tells the API server to re-wrap), Encrypt returns it with an annotation, and
    Decrypt checks that ``key_id`` and the annotation agree with the blob."""

    def __init__(self, keyring: Keyring, metrics: KmsMetrics) -> None:
        self.keyring = keyring
        self._calls = _Calls(V2_API, metrics)

    def status(self, raw: bytes) -> v2.StatusResponse:
        parse(v2.StatusRequest, raw)
        healthz = "ok"
        try:  # a round trip through the primary KEK: a token that stopped answering shows
            self.keyring.open(self.keyring.seal(b"\0" * 32))
        except KmsError as exc:
            healthz = f"the primary KEK fails: {exc}"
        return v2.StatusResponse(version=V2_API, healthz=healthz, key_id=self.keyring.primary_id)

    def encrypt(self, raw: bytes) -> v2.EncryptResponse:
        request = parse(v2.EncryptRequest, raw)
        blob = self.keyring.seal(request.plaintext)
        primary = self.keyring.primary_id
        return v2.EncryptResponse(
            ciphertext=blob, key_id=primary, annotations={KEK_ANNOTATION: primary.encode()}
        )

    def decrypt(self, raw: bytes) -> v2.DecryptResponse:
        request = parse(v2.DecryptRequest, raw)
        plain, kek_id = self.keyring.open(request.ciphertext)
        if request.key_id and request.key_id != kek_id:
            raise BadRequest("the key_id does not match the KEK the ciphertext names")
        named: Any = request.annotations.get(KEK_ANNOTATION)
        if named is not None and named != kek_id.encode():
            raise BadRequest(f"the {KEK_ANNOTATION} annotation does not match the ciphertext")
        return v2.DecryptResponse(plaintext=plain)

    def generic_handler(self) -> grpc.GenericRpcHandler:
        """The service's methods for :meth:`grpc.Server.add_generic_rpc_handlers`."""
        return grpc.method_handlers_generic_handler(
            V2_SERVICE,
            {
                "Status": self._calls.handler("status", self.status),
                "Encrypt": self._calls.handler("encrypt", self.encrypt),
                "Decrypt": self._calls.handler("decrypt", self.decrypt),
            },
        )
