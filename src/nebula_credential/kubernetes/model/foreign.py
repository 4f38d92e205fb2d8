"""Read Secrets nebula-credential did not write (no I/O).

``kubectl create secret generic ... --from-literal=access_token=...`` (the seed's Step
1.3), External Secrets Operator and Sealed Secrets produce flat keys. They map onto a
typed credential when the kind is known: given by the caller, or labelled
``nebula-credential/kind`` / ``credential-type``, or held in a ``credential_type`` key,
or implied by a built-in Secret type (``kubernetes.io/basic-auth``, ``kubernetes.io/tls``,
... see ``foreign_kinds``), in that order. A Secret holding a ``credential.json`` is read
from that instead.

Pod readers call the same mapping for a mounted Secret volume: its files become a
``SecretObject`` and ``place`` names the directory in messages instead of the Secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ...domain import (
    CorruptData,
    Credential,
    CredentialId,
    CredentialKind,
    InvalidCredential,
    ValidationError,
    field_spec,
    parse_kind,
    value_from_text,
)
from ...domain.wire import decode_json
from .foreign_kinds import fitting_kind, type_kind, type_renames, wording
from .mapping import (
    ANN_ID,
    ANN_OWNER,
    ANN_SCOPE,
    ANN_TAGS,
    CREDENTIAL_KEY,
    decode_payload,
    from_b64,
    where,
)
from .naming import KIND_LABEL
from .objects import SecretObject

KIND_KEY: Final = "credential_type"
ID_KEY: Final = "credential_id"
KIND_LABELS: Final = (KIND_LABEL, "credential-type")


def _text(secret: SecretObject, key: str, place: str) -> str:
    try:
        return from_b64(secret.data[key]).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError: both hold the value
        pass
    raise InvalidCredential(
        f"{place}: key {key!r} is not UTF-8 text, so it cannot be a credential field"
    )


def resolve_kind(
    secret: SecretObject,
    namespace: str,
    kind: CredentialKind | str | None,
    *,
    place: str | None = None,
) -> CredentialKind:
    """The caller's kind, else a kind label, else the ``credential_type`` key, else the
    kind the Secret's type implies."""
    place = place or where(secret, namespace)
    source = "the caller"
    if kind is None:
        for label in KIND_LABELS:
            if label in secret.labels:
                kind, source = secret.labels[label], f"label {label}"
                break
    if kind is None and KIND_KEY in secret.data:
        kind, source = _text(secret, KIND_KEY, place).strip(), f"key {KIND_KEY}"
    if kind is None:
        kind = type_kind(secret.type)
    # Without a kind from the caller, what is wrong is the stored Secret, not the input.
    if kind is None:
        raise CorruptData(_no_kind(secret, namespace, place))
    if source == "the caller":
        return parse_kind(kind, where=f"{place}, {source}: ")
    try:
        return parse_kind(kind, where=f"{place}, {source}: ")
    except InvalidCredential as exc:
        detail = exc.message
    raise CorruptData(detail)


def _keys(secret: SecretObject) -> list[str]:
    return [key for key in secret.data if key not in (KIND_KEY, ID_KEY)]


def _no_kind(secret: SecretObject, namespace: str, place: str) -> str:
    fits = fitting_kind(_keys(secret), secret.type)
    return (
        f"{place} was not written by nebula-credential and does not say which kind of "
        f"credential it holds (no {CREDENTIAL_KEY}, no {KIND_LABEL} label, no {KIND_KEY} "
        f"key, type {secret.type}); its keys fit {fits.value}: pass {wording().pass_kind(fits)}"
        f" or label it: kubectl label secret {secret.name} -n {namespace} {KIND_LABEL}={fits}"
    )


def _identity(secret: SecretObject, place: str, prefix: str | None) -> CredentialId:
    if ANN_ID in secret.annotations:
        return CredentialId(secret.annotations[ANN_ID])
    if ID_KEY in secret.data:
        return CredentialId(_text(secret, ID_KEY, place).strip())
    name = secret.name
    if prefix is None:
        return CredentialId(name)
    head = f"{prefix}-"
    return CredentialId(name[len(head) :] if name.startswith(head) and name != head else name)


def _fields(
    secret: SecretObject,
    place: str,
    kind: CredentialKind,
    rename: Mapping[str, str],
    ignore_unknown: bool,
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    unknown: list[str] = []
    for key in _keys(secret):
        name = rename.get(key, key)
        spec = field_spec(kind, name)
        if spec is None:
            unknown.append(key)
            continue
        context = f"{place}, key {key!r}: "
        fields[name] = value_from_text(spec, _text(secret, key, place), where=context)
    if unknown and not ignore_unknown:
        words = wording()
        fits = fitting_kind(_keys(secret), secret.type)
        other = "" if fits in (kind, CredentialKind.GENERIC) else f"{fits.value} (its keys fit), "
        raise InvalidCredential(
            f"{place} has keys that are not {kind.value} fields: "
            f"{', '.join(sorted(unknown))}; map them with {words.rename}, read it as "
            f"{other}{words.pass_kind(CredentialKind.GENERIC)}, or pass {words.ignore}"
        )
    return fields


def foreign_credential(
    secret: SecretObject,
    namespace: str,
    *,
    prefix: str | None,
    kind: CredentialKind | str | None = None,
    credential_id: str | None = None,
    field_names: Mapping[str, str] | None = None,
    ignore_unknown: bool = False,
    place: str | None = None,
    fix: str | None = None,
) -> Credential:
    """A typed credential read from any Secret; InvalidCredential when it does not fit.

    ``prefix`` is stripped from the Secret's name to make the id (None: the name as is);
    ``place`` and ``fix`` replace "Secret ns/name" and the kubectl hint in messages.
    """
    place = place or where(secret, namespace)
    if CREDENTIAL_KEY in secret.data:
        credential = decode_payload(secret, namespace, place=place, fix=fix)
        if kind is not None and credential.kind is not resolve_kind(
            secret, namespace, kind, place=place
        ):
            raise InvalidCredential(
                f"{place} holds a {credential.kind.value} credential, not {kind}"
            )
        if credential_id is not None and credential.id != credential_id:
            # Never relabelled: whoever wrote it there could then pose as any credential.
            raise CorruptData(
                f"{where(secret, namespace)} holds credential {credential.id!r} in "
                f"{CREDENTIAL_KEY}, not {credential_id!r}; it was not written for this id: "
                f"inspect it with: kubectl get secret {secret.name} -n {namespace} -o yaml",
                credential_id=credential_id,
            )
        return credential
    parsed = resolve_kind(secret, namespace, kind, place=place)
    cid = CredentialId(credential_id) if credential_id else _identity(secret, place, prefix)
    renames = {**type_renames(secret.type, parsed), **(field_names or {})}
    fields = _fields(secret, place, parsed, renames, ignore_unknown)
    try:
        return Credential(
            cid,
            parsed,
            fields,
            scope=secret.annotations.get(ANN_SCOPE, "global"),
            owner=secret.annotations.get(ANN_OWNER),
            tags=decode_json(secret.annotations.get(ANN_TAGS, "{}"), f"annotation {ANN_TAGS}"),
            created_at=secret.created_at,
        )
    except ValidationError as exc:
        detail = exc.message
    raise InvalidCredential(
        f"{place} does not map onto a {parsed.value} credential: {detail}",
        credential_id=cid,
    )
