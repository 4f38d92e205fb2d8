"""Secret names, label keys and label values that Kubernetes accepts (no I/O).

Names are ``<prefix>-<slug>`` when the id renders losslessly as a DNS-1123 name, and
``<prefix>-<slug>.<hash>`` otherwise. A lossless slug never contains ``.`` (ids with dots
are lossy), so a hashed name can never equal a plain one, and two lossy ids differ in
their 128-bit hash (finding a collision is infeasible). The id itself lives in an
annotation and is never parsed back.

Names written before the hash grew to 128 bits (:func:`legacy_secret_name`, 64 bits)
are still read, updated in place and deleted. Two prefixes can spell one name (``nebula``
+ ``credentials-x`` and ``nebula-credentials`` + ``x``): the prefix label and the id
annotation, checked on every read, list, write and delete, tell them apart.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from ...domain import ConfigurationError, CredentialScope

MAX_NAME: Final = 253
MAX_LABEL_VALUE: Final = 63
MAX_PREFIX: Final = 63
NAME_HASH_CHARS: Final = 32  # 128 bits
LEGACY_NAME_HASH_CHARS: Final = 16  # 64 bits: collisions were found in minutes
LABEL_HASH_CHARS: Final = 40

MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGER: Final = "nebula-credential"
KIND_LABEL: Final = "nebula-credential/kind"
# Rotation leases: a coordination.k8s.io Lease per credential, named like its Secret.
LEASE_API_VERSION: Final = "coordination.k8s.io/v1"
LEASE_RESOURCE: Final = "leases.coordination.k8s.io"
PREFIX_LABEL: Final = "nebula-credential/prefix"
SCOPE_HASH_LABEL: Final = "nebula-credential/scope-hash"
SCOPE_LEVEL_LABEL: Final = "nebula-credential/scope-level-{depth}"
TAG_LABEL: Final = "tag.nebula-credential/{name}"

_LOSSLESS = re.compile(r"[a-z0-9-]*[a-z0-9]")
_UNSAFE = re.compile(r"[^a-z0-9-]")
_PREFIX = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?")
_NAMESPACE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def digest(text: str, chars: int) -> str:
    """A lower-case hex digest of ``text`` (sha256, truncated)."""
    import hashlib  # a few milliseconds of start-up that a get of a plain id never needs

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:chars]


def check_prefix(prefix: str) -> str:
    """Validate a Secret name prefix (a DNS-1123 label of at most 63 characters)."""
    if not isinstance(prefix, str) or len(prefix) > MAX_PREFIX or not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            f"Secret name prefix {str(prefix)[:80]!r} must be 1-{MAX_PREFIX} lower-case letters, "
            "digits or '-', starting and ending with a letter or digit"
        )
    return prefix


def check_namespace(namespace: str, source: str) -> str:
    """Validate a namespace name (a DNS-1123 label)."""
    if len(namespace) > MAX_LABEL_VALUE or not _NAMESPACE.fullmatch(namespace):
        raise ConfigurationError(
            f"namespace {namespace[:80]!r} (from {source}) is not a valid namespace name: use "
            "1-63 lower-case letters, digits or '-', starting and ending with a letter or digit"
        )
    return namespace


def secret_name(prefix: str, credential_id: str) -> str:
    """The Secret name for ``credential_id``: readable, collision-free, at most 253 chars."""
    return _name(prefix, credential_id, NAME_HASH_CHARS)


def legacy_secret_name(prefix: str, credential_id: str) -> str:
    """The name earlier releases gave ``credential_id`` (a 64-bit hash when lossy)."""
    return _name(prefix, credential_id, LEGACY_NAME_HASH_CHARS)


@functools.lru_cache(maxsize=256)  # asked twice per read or write: a few recent ids suffice
def candidate_names(prefix: str, credential_id: str) -> tuple[str, ...]:
    """Where ``credential_id`` may live: its name, then its legacy name when different."""
    name = secret_name(prefix, credential_id)
    if "." not in name:  # a lossless name: no hash, so the legacy name is the same
        return (name,)
    return (name, legacy_secret_name(prefix, credential_id))


def _name(prefix: str, credential_id: str, hash_chars: int) -> str:
    head = f"{prefix}-"
    if len(head) + len(credential_id) <= MAX_NAME and _LOSSLESS.fullmatch(credential_id):
        return head + credential_id
    room = MAX_NAME - len(head) - 1 - hash_chars
    slug = _UNSAFE.sub("-", credential_id.lower())[:room].rstrip("-") or "x"
    return f"{head}{slug}.{digest(credential_id, hash_chars)}"


def label_value(text: str) -> str:
    """``text`` when it is a valid label value, otherwise its 40-hex-digit hash."""
    if len(text) <= MAX_LABEL_VALUE and _LABEL_VALUE.fullmatch(text):
        return text
    return digest(text, LABEL_HASH_CHARS)


def scope_hash(scope: str) -> str:
    return digest(scope, LABEL_HASH_CHARS)


def scope_labels(scope: CredentialScope) -> dict[str, str]:
    """The exact-scope hash plus one label per ancestor (``org:acme`` for ``org:acme/...``).

    A prefix query for a scope at depth N is then the single selector
    ``scope-level-N=<hash>``; an exact query is ``scope-hash=<hash>``.
    """
    return dict(_scope_labels(scope))


@functools.lru_cache(maxsize=4096)
def _scope_labels(scope: CredentialScope) -> tuple[tuple[str, str], ...]:
    # Scopes repeat across many credentials; hashing them once keeps writes cheap.
    labels = [(SCOPE_HASH_LABEL, scope_hash(scope))]
    for depth, ancestor in enumerate(scope.ancestors(), start=1):
        labels.append((SCOPE_LEVEL_LABEL.format(depth=depth), scope_hash(ancestor)))
    return tuple(labels)


def scope_selector(scope: CredentialScope, *, descendants: bool) -> tuple[str, str] | None:
    """The one label (key, value) that selects ``scope``; None selects every scope."""
    if not descendants:
        return SCOPE_HASH_LABEL, scope_hash(scope)
    if scope.is_global:
        return None
    depth = len(scope.segments)
    return SCOPE_LEVEL_LABEL.format(depth=depth), scope_hash(scope)


@functools.lru_cache(maxsize=4096)
def tag_label(key: str, value: str) -> tuple[str, str]:
    """The label standing for one tag; keys that are not valid label names are hashed."""
    name = key if len(key) <= MAX_LABEL_VALUE and _LABEL_VALUE.fullmatch(key) else None
    return TAG_LABEL.format(name=name or f"h-{digest(key, 24)}"), label_value(value)
