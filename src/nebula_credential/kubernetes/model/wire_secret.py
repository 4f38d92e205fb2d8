"""Secrets, Secret lists, watch events and Status replies as typed msgspec structs.

The aiohttp transport encodes request bodies from these and decodes replies straight
into them, with decoders built once: no intermediate dicts, no model classes. Fields the
provider does not read are skipped by the decoder. No I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

from .objects import SecretObject


class Meta(msgspec.Struct, omit_defaults=True):
    name: str = ""
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    resourceVersion: str | None = None
    uid: str | None = None
    creationTimestamp: datetime | None = None


class Secret(msgspec.Struct):
    """A Secret as read (a list's items carry no ``kind`` or ``apiVersion``)."""

    metadata: Meta = msgspec.field(default_factory=Meta)
    data: dict[str, str] | None = None
    type: str | None = None


class SecretBody(msgspec.Struct, omit_defaults=True):
    """A Secret as written: ``apiVersion`` and ``kind`` always present."""

    apiVersion: str
    kind: str
    metadata: Meta
    data: dict[str, str]
    type: str


class ListMeta(msgspec.Struct):
    resourceVersion: str | None = None
    continue_: str | None = msgspec.field(default=None, name="continue")


class SecretList(msgspec.Struct):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[Secret] | None = None


class StatusDetails(msgspec.Struct):
    kind: str | None = None


class Status(msgspec.Struct):
    """An error reply of the API server (or an ERROR event of a watch)."""

    code: int | None = None
    reason: str | None = None
    message: str | None = None
    details: StatusDetails | None = None


class WatchEvent(msgspec.Struct):
    type: str
    object: msgspec.Raw


class Preconditions(msgspec.Struct, omit_defaults=True):
    uid: str | None = None
    resourceVersion: str | None = None


class DeleteOptions(msgspec.Struct):
    apiVersion: str
    kind: str
    preconditions: Preconditions


class RewritePatch(msgspec.Struct):
    """A merge patch with only ``metadata.resourceVersion``: a compare-and-swap no-op."""

    metadata: Preconditions


ENCODER: Final = msgspec.json.Encoder()
SECRET: Final = msgspec.json.Decoder(Secret)
SECRET_LIST: Final = msgspec.json.Decoder(SecretList)
STATUS: Final = msgspec.json.Decoder(Status)
WATCH_EVENT: Final = msgspec.json.Decoder(WatchEvent)


def secret_body(secret: SecretObject, namespace: str) -> bytes:
    """The JSON body that creates or replaces ``secret`` in ``namespace``."""
    meta = Meta(
        name=secret.name,
        namespace=namespace,
        labels=secret.labels,
        annotations=secret.annotations,
        resourceVersion=secret.resource_version,
    )
    return ENCODER.encode(SecretBody("v1", "Secret", meta, secret.data, secret.type))


def delete_body(uid: str | None, resource_version: str | None) -> bytes:
    return ENCODER.encode(
        DeleteOptions("v1", "DeleteOptions", Preconditions(uid, resource_version))
    )


def rewrite_body(resource_version: str) -> bytes:
    return ENCODER.encode(RewritePatch(Preconditions(resourceVersion=resource_version)))


def to_object(secret: Secret | Any) -> SecretObject:
    """The provider's view of a Secret decoded into our structs (or any object with the
    same attribute names)."""
    meta = secret.metadata
    return SecretObject(
        name=meta.name,
        labels=meta.labels or {},
        annotations=meta.annotations or {},
        data=secret.data or {},
        type=secret.type or "Opaque",
        resource_version=meta.resourceVersion,
        uid=meta.uid,
        created_at=meta.creationTimestamp,
    )


def read_status(body: bytes) -> Status | None:
    """The Status in an error reply's body; None when it is not one (a proxy's HTML)."""
    try:
        return STATUS.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
