"""One JSON Patch (RFC 6902) that updates a credential's Secret in one request (no I/O).

An update whose version is known needs no read first: the patch's ``test`` operations
check, on the server and in the same write, everything the read-then-replace path
checks on the Secret it read -- its type, the managed-by label, the prefix label, the
id, version and created-at annotations and the kind label -- and the API server applies the rest
only when every test holds (on failure it answers 422 and nothing changes). Then the
labels and annotations are set whole, each data key of the new credential is set, and
each secret field of the kind the credential no longer has is removed (``add`` then
``remove``, since ``remove`` of a missing key would fail the patch). A kept previous
version (:data:`~.mapping.PREVIOUS_KEY`) is carried over untouched unless a new one is
given. No test looks at data: a per-field key edited by hand (``model.hand_edits``) does
not make the Secret unwritable, and after the patch every key agrees with
``credential.json`` again.

A generic credential's fields are not known in advance, so a field it dropped could not
be removed: :func:`update_patch` returns None for it, and for a credential without a
creation time; the caller reads and replaces instead.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ...domain import Credential, CredentialKind
from ...domain.kinds import KIND_FIELDS
from .mapping import ANN_CREATED, ANN_ID, ANN_VERSION
from .naming import KIND_LABEL, MANAGED_BY, MANAGER, PREFIX_LABEL
from .objects import SecretObject

_ENCODER: Final = msgspec.json.Encoder()


def pointer(*parts: str) -> str:
    """A JSON Pointer (RFC 6901) to ``parts``: ``~`` and ``/`` escaped."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def patchable(credential: Credential) -> bool:
    """Whether one patch can update ``credential``'s Secret (see the module docstring)."""
    return credential.kind is not CredentialKind.GENERIC and credential.created_at is not None


def update_patch(stored: Credential, secret: SecretObject, *, over_version: int) -> bytes | None:
    """The patch that writes ``secret`` (``stored`` encoded) over version ``over_version``
    of the same credential, or None when one patch cannot do it safely."""
    if not patchable(stored):
        return None
    created = secret.annotations.get(ANN_CREATED)
    prefix = secret.labels.get(PREFIX_LABEL)
    if created is None or prefix is None:
        return None
    tests = (
        # A Secret of another type (tls, basic-auth) is refused by the replace that
        # would follow a read: its type cannot change. Not written into here either.
        ("/type", secret.type),
        (pointer("metadata", "labels", MANAGED_BY), MANAGER),
        (pointer("metadata", "labels", PREFIX_LABEL), prefix),
        (pointer("metadata", "labels", KIND_LABEL), stored.kind.value),
        (pointer("metadata", "annotations", ANN_ID), str(stored.id)),
        (pointer("metadata", "annotations", ANN_VERSION), str(over_version)),
        (pointer("metadata", "annotations", ANN_CREATED), created),
    )
    ops: list[dict[str, Any]] = [{"op": "test", "path": p, "value": v} for p, v in tests]
    ops.append({"op": "add", "path": "/metadata/labels", "value": secret.labels})
    ops.append({"op": "add", "path": "/metadata/annotations", "value": secret.annotations})
    for key, value in secret.data.items():
        ops.append({"op": "add", "path": pointer("data", key), "value": value})
    for spec in KIND_FIELDS[stored.kind]:
        if spec.secret and spec.name not in secret.data:
            path = pointer("data", spec.name)
            ops.append({"op": "add", "path": path, "value": ""})
            ops.append({"op": "remove", "path": path})
    return _ENCODER.encode(ops)
