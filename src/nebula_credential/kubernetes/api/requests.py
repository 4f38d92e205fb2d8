"""Requests for the calls the store makes, each saying how it may be repeated.

Reads are idempotent. Every write carries a precondition, so a repeat after a lost reply
cannot apply twice: a create is refused once the name exists, a replace or rewrite names
the resourceVersion it read, a delete its uid and resourceVersion, a JSON Patch tests the
Secret's identity and version first. What such a repeat finds is then read as the
outcome of the first attempt (see :func:`.interpret.interpret`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import quote, urlencode

from ...http.message import GUARDED, IDEMPOTENT, Request, Resend
from ..model.naming import MANAGER
from .errors import Operation

WRITE: Final = f"?fieldManager={MANAGER}"  # a name of [a-z-]: no quoting needed
MERGE_PATCH: Final = "application/merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"
# A Secret is at most 1 MiB of data, about 1.4 MiB as JSON; a list page of 250 of them
# is bounded by what the server sends: the cap is for what is not an API server.
MAX_OBJECT: Final = 4 * 1024 * 1024
MAX_LIST: Final = 512 * 1024 * 1024
MAX_ERROR: Final = 64 * 1024


class ApiRequest(Request):
    """A request with the :class:`Operation` it performs (for messages and metrics)."""

    __slots__ = ("op",)

    def __init__(
        self,
        op: Operation,
        method: str,
        target: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        resend: Resend = IDEMPOTENT,
        max_body: int = MAX_OBJECT,
    ) -> None:
        super().__init__(
            method,
            target,
            body=body,
            content_type=content_type,
            resend=resend,
            max_body=max_body,
        )
        self.op = op


def selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in labels.items())


class Collection:
    """The requests on one resource collection in one namespace (``secrets``, ``leases``)."""

    def __init__(self, prefix: str, namespace: str, resource: str, shown: str) -> None:
        # prefix: the path up to the namespace, e.g. "/api/v1" or a server's base path.
        self.namespace = namespace
        self.path = f"{prefix}/namespaces/{quote(namespace, safe='')}/{resource}"
        self._shown = shown  # "secrets" or "leases.coordination.k8s.io"

    def op(self, verb: str, name: str | None = None) -> Operation:
        return Operation(verb, self.namespace, name, self._shown)

    def get(self, name: str) -> ApiRequest:
        return ApiRequest(self.op("get", name), "GET", f"{self.path}/{name}")

    def create(self, name: str, body: bytes) -> ApiRequest:
        op = self.op("create", name)
        return ApiRequest(op, "POST", self.path + WRITE, body=body, resend=GUARDED)

    def replace(self, name: str, body: bytes) -> ApiRequest:
        op = self.op("update", name)
        return ApiRequest(op, "PUT", f"{self.path}/{name}{WRITE}", body=body, resend=GUARDED)

    def patch(self, name: str, body: bytes, content_type: str) -> ApiRequest:
        """A merge patch naming the resourceVersion, or a JSON Patch with ``test`` ops.
        Its verb is ``patch``: a refusal names the verb the Role must grant."""
        op = self.op("patch", name)
        return ApiRequest(
            op,
            "PATCH",
            f"{self.path}/{name}{WRITE}",
            body=body,
            content_type=content_type,
            resend=GUARDED,
        )

    def delete(self, name: str, body: bytes) -> ApiRequest:
        """A delete with uid and resourceVersion preconditions in ``body``."""
        op = self.op("delete", name)
        return ApiRequest(op, "DELETE", f"{self.path}/{name}", body=body, resend=GUARDED)

    def list(self, labels: Mapping[str, str], limit: int, token: str | None = None) -> ApiRequest:
        params: dict[str, str | int] = {"limit": limit}
        chosen = selector(labels)
        if chosen:
            params["labelSelector"] = chosen
        if token is not None:
            params["continue"] = token
        return ApiRequest(
            self.op("list"), "GET", f"{self.path}?{urlencode(params)}", max_body=MAX_LIST
        )

    def watch(self, labels: Mapping[str, str], resource_version: str | None) -> ApiRequest:
        params: dict[str, str] = {"watch": "true"}
        chosen = selector(labels)
        if chosen:
            params["labelSelector"] = chosen
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        return ApiRequest(
            self.op("watch"), "GET", f"{self.path}?{urlencode(params)}", max_body=MAX_ERROR
        )
