"""How large a Secret may grow, counted before anything is sent (no I/O).

Three limits apply, and the data limit alone is not enough:

- the API server refuses Secret data over 1 MiB (decoded bytes of every key);
- etcd refuses a request over its ``--max-request-bytes``, 1.5 MiB by default, and the
  object it stores carries labels, annotations and managed fields (one entry per label,
  annotation and data key) besides the data;
- the API server reads request bodies up to 3 MiB, where data is base64 text.

The estimate of the stored object counts every key and value once more for managed
fields, plus a fixed allowance for metadata, and stays under etcd's default with some
headroom. A cluster configured tighter still answers "request is too large", which the
error mapping also turns into :class:`PayloadTooLarge`.
"""

from __future__ import annotations

from typing import Final

from ...domain import PayloadTooLarge
from .objects import SecretObject

MAX_DATA_BYTES: Final = 1024 * 1024  # the API server's limit on a Secret's data
ETCD_REQUEST_BYTES: Final = 1536 * 1024  # etcd's default --max-request-bytes
MAX_STORED_BYTES: Final = ETCD_REQUEST_BYTES - 32 * 1024  # headroom for encryption, keys
MAX_BODY_BYTES: Final = 3 * 1024 * 1024  # the API server's limit on a request body
METADATA_ALLOWANCE: Final = 2048  # name, namespace, uid, timestamps, type, field manager
MANAGED_FIELD_BYTES: Final = 8  # per key in managedFields: "f:" + quotes, ":{}", ","


def decoded_length(text: str) -> int:
    """Bytes a base64 value decodes to."""
    return len(text) * 3 // 4 - text[-2:].count("=")


def stored_bytes(secret: SecretObject) -> int:
    """An upper estimate of the object etcd stores for ``secret``."""
    meta = [*secret.labels.items(), *secret.annotations.items()]
    total = METADATA_ALLOWANCE + len(secret.name) * 2
    total += sum(len(k) + len(v.encode()) for k, v in meta)
    total += sum(len(k) + decoded_length(v) for k, v in secret.data.items())
    total += sum(len(k) + MANAGED_FIELD_BYTES for k in (*secret.labels, *secret.annotations))
    return total + sum(len(k) + MANAGED_FIELD_BYTES for k in secret.data)


def body_bytes(secret: SecretObject) -> int:
    """A lower estimate of the JSON request body (data as base64 text)."""
    pairs = [*secret.labels.items(), *secret.annotations.items(), *secret.data.items()]
    return sum(len(k) + len(v.encode()) + 6 for k, v in pairs) + len(secret.name)


def _characters(secret: SecretObject) -> int:
    total = len(secret.name)
    for pairs in (secret.labels, secret.annotations, secret.data):
        total += len("".join(pairs)) + len("".join(pairs.values()))  # faster than summing
    return total


def check_object_size(secret: SecretObject, credential_id: str) -> None:
    """PayloadTooLarge when the Secret would exceed what the cluster stores."""
    # At most 4 bytes per character, each key once more in managedFields: a Secret far
    # below the limits (nearly all of them) needs no closer count.
    keys = len(secret.labels) + len(secret.annotations) + len(secret.data)
    rough = METADATA_ALLOWANCE + 6 * _characters(secret) + (MANAGED_FIELD_BYTES + 6) * keys
    if rough <= min(MAX_STORED_BYTES, MAX_BODY_BYTES):
        return
    stored, body = stored_bytes(secret), body_bytes(secret)
    if stored <= MAX_STORED_BYTES and body <= MAX_BODY_BYTES:
        return
    raise PayloadTooLarge(
        f"credential {credential_id!r} would be a Secret of about {max(stored, body)} bytes "
        f"with its {len(secret.labels)} labels, {len(secret.annotations)} annotations and "
        f"{len(secret.data)} data keys; the cluster stores at most about {MAX_STORED_BYTES} "
        "(etcd's request limit): use fewer or shorter tags, or make its fields smaller",
        credential_id=credential_id,
    )
