"""What a Secret other tools wrote says about its kind, and how hints are worded (no I/O).

Kubernetes' built-in Secret types name their keys: a ``kubernetes.io/basic-auth`` Secret
holds ``username`` and ``password``, a ``kubernetes.io/tls`` one ``tls.crt`` and
``tls.key``. Without a kind from the caller, a label or a ``credential_type`` key, the
type gives the kind, and its keys map onto that kind's fields.

Hints name the kind that fits the keys present, in the caller's words: keyword
arguments for the library, options for the command line (``nebula_credential._wording``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Final

from ..._wording import CLI, LIBRARY, Wording, speaking_cli, wording
from ...domain import CredentialKind, fields_of

__all__ = [
    "CLI",
    "LIBRARY",
    "TYPE_KEYS",
    "TYPE_KINDS",
    "Wording",
    "fitting_kind",
    "speaking_cli",
    "type_kind",
    "type_renames",
    "wording",
]

# The kind each built-in Secret type holds, and the keys it names for that kind's fields.
TYPE_KINDS: Final = MappingProxyType(
    {
        "kubernetes.io/basic-auth": CredentialKind.BASIC_AUTH,
        "kubernetes.io/tls": CredentialKind.CERTIFICATE,
        "kubernetes.io/dockerconfigjson": CredentialKind.GENERIC,
        "kubernetes.io/dockercfg": CredentialKind.GENERIC,
        "kubernetes.io/ssh-auth": CredentialKind.GENERIC,
        "kubernetes.io/service-account-token": CredentialKind.GENERIC,
    }
)
TYPE_KEYS: Final = MappingProxyType(
    {
        # ca.crt is what cert-manager writes beside the pair.
        "kubernetes.io/tls": MappingProxyType(
            {"tls.crt": "certificate", "tls.key": "private_key", "ca.crt": "ca_chain"}
        ),
    }
)


def type_kind(secret_type: str) -> CredentialKind | None:
    """The kind a built-in Secret type holds; None for Opaque and unknown types."""
    return TYPE_KINDS.get(secret_type)


def type_renames(secret_type: str, kind: CredentialKind) -> Mapping[str, str]:
    """Key -> field renames the type implies, when read as the kind the type holds."""
    if TYPE_KINDS.get(secret_type) is not kind:
        return {}
    return TYPE_KEYS.get(secret_type, {})


def fitting_kind(keys: Collection[str], secret_type: str) -> CredentialKind:
    """The kind whose fields the keys fill best: every key a field and every required
    field present; among those, the one that leaves the fewest fields unused.
    ``generic`` when no kind fits (it takes any keys)."""
    best: tuple[int, CredentialKind] | None = None
    for kind in CredentialKind:
        if kind is CredentialKind.GENERIC:
            continue
        renames = type_renames(secret_type, kind)
        names = {renames.get(key, key) for key in keys}
        specs = fields_of(kind)
        declared = {spec.name for spec in specs}
        required = {spec.name for spec in specs if spec.required}
        if names <= declared and required <= names:
            unused = len(declared - names)
            if best is None or unused < best[0]:
                best = (unused, kind)
    return CredentialKind.GENERIC if best is None else best[1]
