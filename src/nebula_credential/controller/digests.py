"""Digests of what pods see of a credential's Secret, and of a workload's credentials.

No I/O. A pod sees Secret keys: the per-field keys and ``credential.json``. A change to
tags, the version counter or timestamps rewrites ``credential.json`` but says nothing a
pod acts on, and the kept previous version (``nebula-credential.previous``) is for
rollback only: both are left out (like :func:`..ops.digest.content_digest` leaves out
bookkeeping), so such a change restarts nothing.

The workload digest lands in a pod-template annotation anyone who can read the workload
sees. A plain hash of a short secret could be guessed back, so it is stretched with
PBKDF2 and salted with the workload's identity: guessing costs far more per try.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from ..kubernetes.model.mapping import CREDENTIAL_KEY, PREVIOUS_KEY
from .references import ALL_KEYS

# Bookkeeping and labels: a change here is no change for a pod.
_NOT_SEEN: Final = ("tags", "version", "created_at", "updated_at", "schema_version")
_ROUNDS: Final = 20_000
_SHOWN: Final = 32  # hex characters in the annotation


def key_digests(data: Mapping[str, str]) -> dict[str, str]:
    """key -> SHA-256 (hex) of what a pod reads under it, for each key but the previous."""
    found: dict[str, str] = {}
    for key, value in data.items():
        if key == PREVIOUS_KEY:
            continue
        raw = _decoded(value)
        if key == CREDENTIAL_KEY:
            raw = _without_bookkeeping(raw)
        found[key] = hashlib.sha256(raw).hexdigest()
    return found


def workload_digest(
    identity: str, parts: Iterable[tuple[str, Mapping[str, str] | None, set[str]]]
) -> str:
    """The annotation value for a workload (``identity``: kind/namespace/name) using, per
    credential id, the keys in the set (ALL_KEYS for every one) of its key digests
    (None when the credential is missing)."""
    lines: list[str] = []
    for credential_id, digests, keys in sorted(parts, key=lambda part: part[0]):
        if digests is None:
            lines.append(f"{credential_id}\0missing")
            continue
        chosen = sorted(digests) if ALL_KEYS in keys else sorted(keys)
        for key in chosen:
            lines.append(f"{credential_id}\0{key}\0{digests.get(key, 'absent')}")
    inner = hashlib.sha256("\n".join(lines).encode()).digest()
    stretched = hashlib.pbkdf2_hmac("sha256", inner, identity.encode(), _ROUNDS)
    return stretched.hex()[:_SHOWN]


def _decoded(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode()


def _without_bookkeeping(raw: bytes) -> bytes:
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw
    if not isinstance(data, dict):
        return raw
    for key in _NOT_SEEN:
        data.pop(key, None)
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
