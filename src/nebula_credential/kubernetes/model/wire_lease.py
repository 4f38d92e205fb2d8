"""``coordination.k8s.io/v1`` Leases as typed msgspec structs, for rotation leases.

A rotation lease is a Lease named like the credential's Secret. Its start is the
Lease's ``metadata.creationTimestamp``: the API server sets it and no client can, so
the lease's age is always measured on the server's clock (against the ``Date`` header
of a reply), never on a client's. ``spec.acquireTime`` is informative only. No I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

import msgspec

from ...domain import format_timestamp
from .naming import LEASE_API_VERSION
from .wire_secret import ENCODER, Meta


class LeaseSpec(msgspec.Struct, omit_defaults=True):
    holderIdentity: str | None = None
    leaseDurationSeconds: int | None = None
    acquireTime: str | None = None


class LeaseWire(msgspec.Struct, omit_defaults=True):
    metadata: Meta = msgspec.field(default_factory=Meta)
    spec: LeaseSpec = msgspec.field(default_factory=LeaseSpec)
    apiVersion: str | None = None
    kind: str | None = None


LEASE: Final = msgspec.json.Decoder(LeaseWire)


class LeaseObject(msgspec.Struct):
    """A Lease as the provider sees it; ``server_now`` is the reply's ``Date``."""

    name: str
    holder: str | None = None
    seconds: int | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    created_at: datetime | None = None
    uid: str | None = None
    resource_version: str | None = None
    server_now: datetime | None = None


def lease_body(lease: LeaseObject, namespace: str) -> bytes:
    """The JSON body that creates ``lease`` in ``namespace``."""
    meta = Meta(
        name=lease.name, namespace=namespace, labels=lease.labels, annotations=lease.annotations
    )
    acquired = None
    if lease.server_now is not None:
        acquired = format_timestamp(lease.server_now)
    spec = LeaseSpec(lease.holder, lease.seconds, acquired)
    return ENCODER.encode(LeaseWire(meta, spec, LEASE_API_VERSION, "Lease"))


def server_time(date: str | None) -> datetime | None:
    """The API server's clock from an HTTP ``Date`` header; None when absent or bad."""
    if not date:
        return None
    try:
        moment = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def lease_object(body: bytes, date: str | None) -> LeaseObject | None:
    """The Lease in a reply's body, or None when it does not decode as one."""
    try:
        wire = LEASE.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    meta, spec = wire.metadata, wire.spec
    if not meta.name:
        return None
    created = meta.creationTimestamp
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return LeaseObject(
        name=meta.name,
        holder=spec.holderIdentity,
        seconds=spec.leaseDurationSeconds,
        labels=meta.labels or {},
        annotations=meta.annotations or {},
        created_at=created,
        uid=meta.uid,
        resource_version=meta.resourceVersion,
        server_now=server_time(date),
    )
