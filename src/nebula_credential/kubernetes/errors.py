"""HTTP status -> nebula-credential error, for calls on Secrets (no I/O).

404 and 409 are not errors of the API here: the transport turns them into results
(None, False) or into the internal signals below, which the provider handles.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Final

import httpx2

from ..domain import (
    AuthenticationError,
    ConfigurationError,
    CredentialError,
    InvalidCredential,
    PayloadTooLarge,
    PermissionDenied,
    ProviderUnavailable,
)

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
_MAX_SERVER_MESSAGE: Final = 300


class TransportSignal(Exception):
    """Internal control flow between transport and provider; never reaches callers."""


class AlreadyExists(TransportSignal):
    """create: a Secret with that name exists."""

    status_word = "already_exists"


class StaleWrite(TransportSignal):
    """replace: the resourceVersion we sent is no longer current."""

    status_word = "conflict"


class Missing(TransportSignal):
    """get, replace or delete: there is no such Secret."""

    status_word = "not_found"


class Gone(TransportSignal):
    """watch: the resourceVersion to resume from is no longer available (HTTP 410)."""

    status_word = "gone"


@dataclass(frozen=True, slots=True)
class Operation:
    """What a request does, for messages: ``get secrets "x" in namespace "ns"``."""

    verb: str
    namespace: str
    name: str | None = None

    def describe(self) -> str:
        target = f'secrets "{self.name}"' if self.name else "secrets"
        return f"{self.verb} {target} in namespace {self.namespace!r}"

    def fields(self) -> dict[str, str]:
        """The seed's tracing fields, as ``extra`` for log records."""
        return {"operation": self.verb, "namespace": self.namespace, "secret_name": self.name or ""}


@dataclass(frozen=True, slots=True)
class ServerReply:
    """The parts of an error response we look at."""

    status: int
    reason: str
    message: str
    retry_after: float | None
    kind: str | None = None  # Status.details.kind: the resource the reply is about


def read_reply(exc: httpx2.HTTPStatusError) -> ServerReply:
    """Status, reason, message and Retry-After of an error reply, JSON or not."""
    response: httpx2.Response | None = exc.response
    code, reason, message, kind = 0, "", "", None
    status_obj = getattr(exc, "status", None)  # lightkube's ApiError carries a decoded Status
    if status_obj is not None:
        code = status_obj.code or 0
        reason = status_obj.reason or ""
        message = status_obj.message or ""
        kind = status_obj.details.kind if status_obj.details is not None else None
    if response is not None:
        code = response.status_code
        message = message or response.reason_phrase
    retry_after = None if response is None else response.headers.get("Retry-After")
    return ServerReply(
        status=code,
        reason=reason,
        message=message[:_MAX_SERVER_MESSAGE],
        retry_after=_retry_after(retry_after),
        kind=kind,
    )


def untrusted_certificate(exc: BaseException) -> bool:
    """True when a connection failed because the server's certificate is not trusted."""
    seen: BaseException | None = exc
    for _ in range(10):  # httpx2 and httpcore2 each wrap the ssl error once
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: rare from kube-apiserver; fall back to our backoff
    return seconds if seconds >= 0 else None


def too_large(reply: ServerReply) -> bool:
    """etcd's "request is too large" comes back as a 500: final, not an outage."""
    return "request is too large" in reply.message


def error_for(reply: ServerReply, op: Operation, *, server: str, context: str | None) -> Exception:
    """The error a non-retryable reply stands for (a signal for 404/409)."""
    status = reply.status
    # A create in a missing namespace is refused with a 404 about the namespace.
    if status == 404 and op.verb != "create" and reply.kind != "namespaces":
        return Missing(op.describe())
    if status == 404:
        return ConfigurationError(
            f"namespace {op.namespace!r} does not exist on {server} ({reply.message}); "
            f"create it with: kubectl create namespace {op.namespace}"
        )
    if status == 409:
        return AlreadyExists(op.describe()) if reply.reason == "AlreadyExists" else StaleWrite()
    if status == 403:
        return permission_denied(reply, op, context=context)
    if status == 401:
        return AuthenticationError(
            f"the API server at {server} rejected our credentials (HTTP 401) when trying to "
            f"{op.describe()}; refresh the token or client certificate of the kubeconfig user"
            + (f" of context {context!r}" if context else "")
        )
    if status == 413 or too_large(reply):
        return PayloadTooLarge(
            f"the cluster refused to {op.describe()}: the request is too large for it "
            f"({reply.message}); use fewer or shorter tags, or make the fields smaller"
        )
    if status == 422:
        return InvalidCredential(f"the API server refused to {op.describe()}: {reply.message}")
    if status == 410:
        return ProviderUnavailable(
            f"could not {op.describe()}: the list took longer than the API server keeps its "
            "continue token; run it again"
        )
    return CredentialError(f"could not {op.describe()}: HTTP {status} {reply.message}")


def permission_denied(
    reply: ServerReply, op: Operation, *, context: str | None
) -> PermissionDenied:
    check = f"kubectl auth can-i {op.verb} secrets -n {op.namespace}"
    if context:
        check += f" --context {context}"
    return PermissionDenied(
        f"permission denied: cannot {op.describe()} ({reply.message}); ask for a Role that "
        f"grants '{op.verb}' on secrets in {op.namespace!r}, and check with: {check}",
        verb=op.verb,
        resource="secrets",
        namespace=op.namespace,
    )


def unavailable(
    op: Operation, *, server: str, attempts: int, elapsed: float, last: str
) -> ProviderUnavailable:
    return ProviderUnavailable(
        f"the Kubernetes API server at {server} did not {op.describe()} after {attempts} "
        f"attempt(s) over {elapsed:.1f}s (last: {last}); check that the cluster is up with: "
        "kubectl get --raw /readyz"
    )
