"""HTTP status -> nebula-credential error, for calls on Secrets (no I/O).

404 and 409 are not errors of the API here: the transport turns them into results
(None, False) or into the internal signals below, which the provider handles.
"""

from __future__ import annotations

from typing import Final

import msgspec

from ...domain import (
    AuthenticationError,
    ConfigurationError,
    CredentialError,
    InvalidCredential,
    PayloadTooLarge,
    PermissionDenied,
    ProviderUnavailable,
)
from ..model.wire_secret import Status

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


class PatchRefused(TransportSignal):
    """patch: a ``test`` operation of a JSON Patch did not hold; nothing was changed."""

    status_word = "conflict"


class Gone(TransportSignal):
    """watch: the resourceVersion to resume from is no longer available (HTTP 410)."""

    status_word = "gone"


class Operation(msgspec.Struct, frozen=True):
    """What a request does, for messages: ``get secrets "x" in namespace "ns"``."""

    verb: str
    namespace: str
    name: str | None = None
    resource: str = "secrets"  # or "leases.coordination.k8s.io"

    def describe(self) -> str:
        target = f'{self.resource} "{self.name}"' if self.name else self.resource
        return f"{self.verb} {target} in namespace {self.namespace!r}"

    def fields(self) -> dict[str, str]:
        """The seed's tracing fields, as ``extra`` for log records."""
        return {"operation": self.verb, "namespace": self.namespace, "secret_name": self.name or ""}


class ServerReply(msgspec.Struct, frozen=True):
    """The parts of an error response we look at."""

    status: int
    reason: str
    message: str
    retry_after: float | None
    kind: str | None = None  # Status.details.kind: the resource the reply is about


def server_reply(
    status: int,
    phrase: str,
    retry_after: str | None,
    doc: Status | None,
) -> ServerReply:
    """One reply as both transports see it: the HTTP status, its reason phrase, the
    Retry-After header and the Status document of the body (None when not one)."""
    reason, message, kind = "", "", None
    if doc is not None:
        status = doc.code or status
        reason = doc.reason or ""
        message = doc.message or ""
        kind = doc.details.kind if doc.details is not None else None
    return ServerReply(
        status=status,
        reason=reason,
        message=(message or phrase)[:_MAX_SERVER_MESSAGE],
        retry_after=_retry_after(retry_after),
        kind=kind,
    )


class AuthFailed(Exception):
    """Credentials could not be obtained at request time; ``detail`` is safe to show."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


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
    check = f"kubectl auth can-i {op.verb} {op.resource} -n {op.namespace}"
    if context:
        check += f" --context {context}"
    return PermissionDenied(
        f"permission denied: cannot {op.describe()} ({reply.message}); ask for a Role that "
        f"grants '{op.verb}' on {op.resource} in {op.namespace!r}, and check with: {check}",
        verb=op.verb,
        resource=op.resource,
        namespace=op.namespace,
    )
