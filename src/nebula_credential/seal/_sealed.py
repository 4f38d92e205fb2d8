"""Secret manifest <-> SealedSecret (``bitnami.com/v1alpha1``), as kubeseal and the
controller build and open them (no I/O).

Sealing copies the Secret's metadata into ``spec.template`` (minus the last-applied
annotations, which would hold the values in clear, and owner references), seals every
``data`` and ``stringData`` value on its own, and marks the scope with the controller's
annotations. Unsealing takes the label from the SealedSecret's own name, namespace and
scope annotations, exactly as the controller does, so a SealedSecret renamed or moved
outside its scope does not open.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import rsa

from ..domain import DecryptionFailed, ValidationError
from ..kubernetes.model.api_names import data_key, dns_label, dns_subdomain
from ._crypto import (
    Scope,
    hybrid_decrypt,
    hybrid_encrypt,
    scope_annotations,
    scope_label,
    scope_of,
)

API_VERSION: Final = "bitnami.com/v1alpha1"
KIND: Final = "SealedSecret"
_LAST_APPLIED: Final = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
)


def _metadata(doc: Mapping[str, Any], what: str) -> dict[str, Any]:
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        raise ValidationError(f"{what} has no metadata")
    return meta


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError(f"{what} must map strings to strings")
    return dict(value)


def secret_values(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """The plain bytes of a Secret manifest's ``data`` (base64) and ``stringData``."""
    name = _metadata(secret, "the Secret").get("name", "?")
    values: dict[str, bytes] = {}
    bad: str | None = None
    for key, text in _strings(secret.get("data"), f"Secret {name}: data").items():
        try:
            values[key] = base64.b64decode(text, validate=True)
        except binascii.Error:  # raised below: the message could hold part of the value
            bad = key
            break
    if bad is not None:
        raise ValidationError(f"Secret {name}: data key {bad!r} is not valid base64")
    for key, text in _strings(secret.get("stringData"), f"Secret {name}: stringData").items():
        values[key] = text.encode("utf-8")
    for key in values:
        data_key(key, f"Secret {name}: data key")
    return values


def seal_secret(
    secret: Mapping[str, Any],
    public_key: rsa.RSAPublicKey,
    *,
    scope: Scope | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    """A SealedSecret for a plain Secret manifest.

    ``scope`` defaults to what the Secret's own annotations say (strict when none);
    ``namespace`` fills in a Secret that has none.
    """
    if secret.get("kind", "Secret") != "Secret" or secret.get("apiVersion", "v1") != "v1":
        raise ValidationError(
            f"expected a v1 Secret, got {secret.get('apiVersion')!s:.40} {secret.get('kind')!s:.40}"
        )
    meta = _metadata(secret, "the Secret")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise ValidationError("the Secret has no metadata.name; a SealedSecret needs one")
    # The API server refuses these when the controller writes the Secret: say it now.
    dns_subdomain(name, "the Secret's name")
    annotations = _strings(meta.get("annotations"), f"Secret {name}: annotations")
    labels = _strings(meta.get("labels"), f"Secret {name}: labels")
    chosen = scope or scope_of(annotations)
    ns = meta.get("namespace") or namespace
    if ns:
        dns_label(ns, f"Secret {name}: namespace")
    if not ns and chosen is not Scope.CLUSTER_WIDE:
        raise ValidationError(
            f"Secret {name} has no namespace; give one with --namespace "
            "(a strict or namespace-wide seal is bound to it)"
        )
    values = secret_values(secret)
    label = scope_label(chosen, ns or "", name)
    for note in _LAST_APPLIED:
        annotations.pop(note, None)
    for note in scope_annotations(Scope.NAMESPACE_WIDE) | scope_annotations(Scope.CLUSTER_WIDE):
        annotations.pop(note, None)
    annotations.update(scope_annotations(chosen))
    template_meta: dict[str, Any] = {"name": name}
    outer: dict[str, Any] = {"name": name}
    if ns:
        template_meta["namespace"] = outer["namespace"] = ns
    if labels:
        template_meta["labels"] = labels
    if annotations:
        template_meta["annotations"] = annotations
    if scope_annotations(chosen):
        outer["annotations"] = scope_annotations(chosen)
    template: dict[str, Any] = {"metadata": template_meta, "type": secret.get("type") or "Opaque"}
    if secret.get("immutable") is not None:
        template["immutable"] = bool(secret["immutable"])
    encrypted = {
        key: base64.b64encode(hybrid_encrypt(public_key, values[key], label)).decode("ascii")
        for key in sorted(values)
    }
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": outer,
        "spec": {"encryptedData": encrypted, "template": template},
    }


def where(sealed: Mapping[str, Any]) -> str:
    meta = sealed.get("metadata") or {}
    return f"SealedSecret {meta.get('namespace') or ''}/{meta.get('name') or '?'}"


def unseal(sealed: Mapping[str, Any], private_keys: Sequence[rsa.RSAPrivateKey]) -> dict[str, Any]:
    """The Secret the controller would create from ``sealed``.

    DecryptionFailed when no key opens a value with the label the SealedSecret's own name,
    namespace and scope give: a SealedSecret moved or renamed outside its scope.
    """
    if sealed.get("apiVersion") != API_VERSION or sealed.get("kind") != KIND:
        raise ValidationError(f"expected a {API_VERSION} {KIND}")
    meta = _metadata(sealed, KIND)
    name, ns = meta.get("name") or "", meta.get("namespace") or ""
    spec = sealed.get("spec")
    if not isinstance(spec, dict) or "encryptedData" not in spec:
        raise ValidationError(
            f"{where(sealed)} has no spec.encryptedData (the old spec.data form is not supported)"
        )
    template = spec.get("template") or {}
    if template.get("data"):
        raise ValidationError(
            f"{where(sealed)} uses spec.template.data (controller-side Go templates), which "
            "offline unsealing does not evaluate"
        )
    scope = scope_of(_strings(meta.get("annotations"), f"{where(sealed)}: annotations"))
    label = scope_label(scope, ns, name)
    data: dict[str, str] = {}
    for key, text in _strings(spec["encryptedData"], f"{where(sealed)}: encryptedData").items():
        try:
            raw = base64.b64decode(text, validate=True)
        except binascii.Error:
            raise ValidationError(f"{where(sealed)}: value {key!r} is not base64") from None
        try:
            data[key] = base64.b64encode(hybrid_decrypt(private_keys, raw, label)).decode()
        except DecryptionFailed as exc:
            raise DecryptionFailed(
                f"cannot unseal {key!r} of {where(sealed)} ({scope} scope, label "
                f"{label.decode()!r}): {exc.message}; it was sealed for another "
                "name, namespace or scope, or with another controller key"
            ) from None
    secret_meta = dict(template.get("metadata") or {})
    secret_meta["name"] = name
    if ns:
        secret_meta["namespace"] = ns
    else:
        secret_meta.pop("namespace", None)
    secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": secret_meta}
    secret["type"] = template.get("type") or "Opaque"
    if template.get("immutable") is not None:
        secret["immutable"] = template["immutable"]
    secret["data"] = dict(sorted(data.items()))
    return secret
