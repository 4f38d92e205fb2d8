"""Credential <-> Secret for the Secrets nebula-credential writes (no I/O).

A Secret holds ``credential.json`` (the full typed credential, the source of truth) and
one data key per top-level secret field, so a pod can use ``secretKeyRef`` on
``access_token``. Labels make every list filter one label selector; annotations keep
the id, scope, owner, tags, timestamps and version readable with ``kubectl``.

The previous version a rotation keeps lives in the same Secret under
``nebula-credential.previous`` (the full credential JSON, like ``credential.json``), so
the write that replaces a version and keeps it is one compare-and-swap. The key is no
field of any credential (the domain reserves it) and, with its dot and dash, not a
portable environment variable name: ``envFrom`` skips it on clusters that validate env
names strictly. Pods should mount the keys they need (``items``) or use ``secretKeyRef``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final

from ...domain import (
    CorruptData,
    Credential,
    CredentialId,
    PayloadTooLarge,
    ValidationError,
)
from ...domain.trusted import from_sealed_json
from ...domain.wire import encode_json
from ...providers import ListFilter
from .limits import MAX_DATA_BYTES, MAX_STORED_BYTES, check_object_size, decoded_length
from .naming import (
    KIND_LABEL,
    MANAGED_BY,
    MANAGER,
    PREFIX_LABEL,
    scope_labels,
    scope_selector,
    tag_label,
)
from .objects import SecretObject

CREDENTIAL_KEY: Final = "credential.json"
PREVIOUS_KEY: Final = "nebula-credential.previous"
MAX_ANNOTATION_BYTES: Final = 256 * 1024
ANN_ID: Final = "nebula-credential/id"
ANN_SCOPE: Final = "nebula-credential/scope"
ANN_OWNER: Final = "nebula-credential/owner"
ANN_TAGS: Final = "nebula-credential/tags"
ANN_CREATED: Final = "nebula-credential/created-at"
ANN_UPDATED: Final = "nebula-credential/updated-at"
ANN_EXPIRES: Final = "nebula-credential/expires-at"
ANN_VERSION: Final = "nebula-credential/version"


def _annotation_bytes(notes: Mapping[str, str]) -> int:
    """Bytes of the annotations; counted exactly only when they could be near the limit."""
    chars = sum(map(len, notes)) + sum(map(len, notes.values()))
    if 4 * chars <= MAX_ANNOTATION_BYTES:  # UTF-8 takes at most 4 bytes per character
        return chars
    return sum(len(k.encode()) + len(v.encode()) for k, v in notes.items())


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def from_b64(text: str) -> bytes:
    """A Secret value's bytes: standard base64 and nothing else, as
    ``base64.b64decode(text, validate=True)`` reads it, without its regular expression.
    Raises ValueError (``binascii.Error``, or non-ASCII text)."""
    return binascii.a2b_base64(text, strict_mode=True)


def labels_for(credential: Credential, prefix: str | None = None) -> dict[str, str]:
    labels = {MANAGED_BY: MANAGER, KIND_LABEL: credential.kind.value}
    if prefix is not None:
        labels[PREFIX_LABEL] = prefix  # a valid label value: check_prefix allows no more
    labels.update(scope_labels(credential.scope))
    for key, value in credential.tags.items():
        name, label = tag_label(key, value)
        labels[name] = label
    return labels


def annotations_for(wire: Mapping[str, Any]) -> dict[str, str]:
    """Annotations from the wire form (its timestamps are already formatted)."""
    notes = {
        ANN_ID: wire["id"],
        ANN_SCOPE: wire["scope"],
        ANN_VERSION: str(wire["version"]),
    }
    if wire["owner"] is not None:
        notes[ANN_OWNER] = wire["owner"]
    if wire["tags"]:
        notes[ANN_TAGS] = encode_json(dict(sorted(wire["tags"].items()))).decode()
    for key, field in (
        (ANN_CREATED, "created_at"),
        (ANN_UPDATED, "updated_at"),
        (ANN_EXPIRES, "expires_at"),
    ):
        if wire[field] is not None:
            notes[key] = wire[field]
    return notes


def _payload(wire: Mapping[str, Any]) -> bytes:
    # Credential.to_json's bytes, from the dict the annotations are also built from.
    return encode_json(wire)


def _secret_values(credential: Credential, wire: Mapping[str, Any]) -> dict[str, bytes]:
    """The secret fields' plain bytes, taken from the already revealed wire form."""
    fields = wire["fields"]
    return {name: str(fields[name]).encode("utf-8") for name in credential.secret_field_names}


def data_size(credential: Credential) -> int:
    """Bytes of Secret data ``credential`` needs (before base64)."""
    wire = credential.to_dict(reveal=True)
    return len(_payload(wire)) + sum(map(len, _secret_values(credential, wire).values()))


def check_size(credential: Credential, size: int) -> None:
    if size > MAX_DATA_BYTES:
        raise PayloadTooLarge(
            f"credential {credential.id!r} needs {size} bytes of Secret data (credential.json, "
            "one key per secret field and any kept previous version); Kubernetes allows "
            f"{MAX_DATA_BYTES}: make its fields smaller or split it",
            credential_id=credential.id,
        )


def encode(
    credential: Credential,
    name: str,
    *,
    prefix: str | None = None,
    resource_version: str | None = None,
    previous: str | None = None,
) -> SecretObject:
    """The Secret for a credential as stored (version and timestamps already set).

    ``previous`` is the base64 text kept under :data:`PREVIOUS_KEY` (see
    :func:`encode_previous`); it counts towards the size limits like any key.
    """
    wire = credential.to_dict(reveal=True)
    payload = _payload(wire)
    values = _secret_values(credential, wire)
    kept = 0 if previous is None else decoded_length(previous)
    check_size(credential, len(payload) + sum(map(len, values.values())) + kept)
    data = {CREDENTIAL_KEY: _b64(payload)}
    for field, value in values.items():
        data[field] = _b64(value)
    if previous is not None:
        data[PREVIOUS_KEY] = previous
    annotations = annotations_for(wire)
    if _annotation_bytes(annotations) > MAX_ANNOTATION_BYTES:
        raise PayloadTooLarge(
            f"credential {credential.id!r} has more tags, owner and scope text than fit in "
            f"Kubernetes annotations ({MAX_ANNOTATION_BYTES} bytes); use fewer or shorter tags",
            credential_id=credential.id,
        )
    secret = SecretObject(
        name=name,
        labels=labels_for(credential, prefix),
        annotations=annotations,
        data=data,
        resource_version=resource_version,
    )
    check_object_size(secret, credential.id)
    return secret


# JSON text of one character: at most 12 bytes (an escaped surrogate pair for 2 chars).
_JSON_BYTES_PER_CHAR: Final = 12
_WIRE_OVERHEAD: Final = 2048  # keys, version, timestamps, expiry of the JSON payload


def surely_fits(credential: Credential, previous: str | None) -> bool:
    """True when :func:`encode` certainly passes every size check: a cheap upper bound
    (no encoding) that lets a write skip checking early what it checks again later."""
    fields = credential.fields
    chars = len(credential.id) + len(credential.scope) + len(credential.owner or "")
    chars += sum(len(k) + len(v) for k, v in credential.tags.items())
    chars += sum(len(name) + len(str(credential.reveal(name))) for name in fields)
    text = _JSON_BYTES_PER_CHAR * chars + _WIRE_OVERHEAD
    data = 2 * text + (0 if previous is None else decoded_length(previous))  # JSON + keys
    # stored_bytes counts data once, keys twice, plus metadata; the body is base64.
    return 3 * data < MAX_STORED_BYTES and text < MAX_ANNOTATION_BYTES


def encode_previous(previous: Credential) -> str:
    """The base64 text :func:`encode` keeps under :data:`PREVIOUS_KEY`."""
    return _b64(_payload(previous.to_dict(reveal=True)))


def decode_previous(secret: SecretObject, namespace: str, cid: str) -> Credential | None:
    """The previous version kept in ``secret`` for ``cid``, None when none is kept."""
    if PREVIOUS_KEY not in secret.data:
        return None
    place = f"{where(secret, namespace)}, key {PREVIOUS_KEY}"
    fix = f"remove the key: kubectl edit secret {secret.name} -n {namespace}"
    probe = SecretObject(name=secret.name, data={CREDENTIAL_KEY: secret.data[PREVIOUS_KEY]})
    previous = decode_payload(probe, namespace, place=place, fix=fix)
    if previous.id != cid:
        raise CorruptData(f"{place} holds credential {previous.id!r}, not {cid!r}; {fix}")
    return previous


def is_managed(secret: SecretObject) -> bool:
    return secret.labels.get(MANAGED_BY) == MANAGER


def where(secret: SecretObject, namespace: str) -> str:
    return f"Secret {namespace}/{secret.name}"


def decode_payload(
    secret: SecretObject,
    namespace: str,
    *,
    place: str | None = None,
    fix: str | None = None,
    expected: CredentialId | None = None,
) -> Credential:
    """The credential in ``credential.json``; CorruptData when it does not decode.

    ``place`` and ``fix`` replace "Secret ns/name" and the kubectl hint in the message;
    ``expected`` is the id the Secret is labelled with, when known (a faster decode).
    """
    raw = secret.data.get(CREDENTIAL_KEY)
    detail: str | None = None
    if raw is not None:
        # The error is raised after the handlers: their exceptions can hold the payload.
        try:
            plain = from_b64(raw)
            if expected is not None:
                # Every rule of Credential.from_json, checked while msgspec parses; a payload
                # with another id or anything unexpected takes the full path below it.
                return from_sealed_json(plain, expected)
            return Credential.from_json(plain)
        except ValueError:  # binascii.Error, or non-ASCII text
            detail = "not base64"
        except ValidationError as exc:
            detail = exc.message
    place = place or where(secret, namespace)
    fix = fix or f"restore it or delete it with: kubectl delete secret {secret.name} -n {namespace}"
    if detail is None:
        raise CorruptData(f"{place} has no {CREDENTIAL_KEY} key; {fix}")
    raise CorruptData(f"{place}: {CREDENTIAL_KEY} is not a valid credential ({detail}); {fix}")


def decode(secret: SecretObject, namespace: str, known: CredentialId | None = None) -> Credential:
    """The credential of a Secret we wrote; CorruptData when it does not decode.

    ``known`` is the id the caller looked the Secret up by (already valid)."""
    noted = secret.annotations.get(ANN_ID)
    expected = known if known is not None and noted == known else _valid_id(noted)
    credential = decode_payload(secret, namespace, expected=expected)
    if noted is not None and noted != credential.id:
        raise CorruptData(
            f"{where(secret, namespace)}: annotation {ANN_ID} says {noted[:255]!r} but "
            f"{CREDENTIAL_KEY} holds {credential.id!r}; one of them was edited by hand",
            credential_id=credential.id,
        )
    return credential


def _valid_id(text: str | None) -> CredentialId | None:
    if text is None:
        return None
    try:
        return CredentialId(text)
    except ValidationError:
        return None


def noted_version(secret: SecretObject) -> int:
    """The version annotation, 0 when absent or unreadable (used to overwrite bad data)."""
    text = secret.annotations.get(ANN_VERSION, "")
    return int(text) if text.isdigit() and len(text) < 19 else 0


def list_labels(selection: ListFilter) -> dict[str, str]:
    """The label selector for a filter: one label each for scope, kind and every tag."""
    labels = {MANAGED_BY: MANAGER}
    if selection.scope is not None:
        scoped = scope_selector(selection.scope, descendants=selection.descendants)
        if scoped is not None:
            labels[scoped[0]] = scoped[1]
    if selection.kind is not None:
        labels[KIND_LABEL] = selection.kind.value
    for key, value in selection.tags.items():
        name, label = tag_label(key, value)
        labels[name] = label
    return labels
