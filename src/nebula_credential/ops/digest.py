"""A digest of what a credential says, not of when or how often it was stored."""

from __future__ import annotations

import hashlib
from typing import Any

from ..domain import Credential
from ..domain.wire import encode_json

# Store-assigned bookkeeping: two copies of one credential differ here and are still equal.
_IGNORED = ("version", "created_at", "updated_at", "schema_version")


def content_digest(credential: Credential) -> str:
    """SHA-256 over id, kind, scope, owner, tags, fields and expiry (hex).

    Kept in memory for comparison only: a digest of a short secret could be guessed
    back, so it is never printed or logged.
    """
    data = credential.to_dict(reveal=True)
    for key in _IGNORED:
        data.pop(key, None)
    return hashlib.sha256(encode_json(_sorted(data))).hexdigest()


def _sorted(value: Any) -> Any:
    """Keys in order at every level: two providers' field order does not matter."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    return value
