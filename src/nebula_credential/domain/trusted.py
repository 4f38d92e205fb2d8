"""Decoding a credential read back from a store, by the same rules in less time.

The local store reads a credential by its (validated) id and opens its AES-GCM seal
before decoding. :func:`from_sealed_json` then decodes into a typed struct, so the
shape, the types, time-zoned timestamps and a non-negative version are checked by
msgspec as it parses, in C. It applies every other rule of ``Credential(...)`` — the
kind and its fields, field names, tag keys and values, the owner, the scope, text that
is valid UTF-8 — and skips only what is already known: the id (it must equal the id
the row was looked up by) and a scope seen before. Anything it does not expect goes to
:meth:`Credential.from_dict`, which says what is wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Annotated, Any, Final

import msgspec

from .credential import SCHEMA_VERSION, Credential
from .errors import CredentialError
from .ids import CredentialId
from .kinds import KIND_FIELDS, CredentialKind, FieldSpec
from .scope import CredentialScope
from .secret import SecretValue
from .validation import FIELD_NAME, RESERVED_FIELD_NAMES, check_owner, check_text, normalise_tags
from .wire import decode_json

Moment = Annotated[datetime, msgspec.Meta(tz=True)]


class _Stored(msgspec.Struct, forbid_unknown_fields=True):
    """The wire form of :meth:`Credential.to_dict`, as :meth:`Credential.to_json` writes it."""

    id: str
    kind: str
    fields: dict[str, str | int]
    schema_version: int = SCHEMA_VERSION
    scope: str = "global"
    owner: str | None = None
    tags: dict[str, str] = {}
    created_at: Moment | None = None
    updated_at: Moment | None = None
    expires_at: Moment | None = None
    version: Annotated[int, msgspec.Meta(ge=0)] = 0


_decode: Final = msgspec.json.Decoder(_Stored).decode
_KINDS: Final = {kind.value: kind for kind in CredentialKind}
_SPECS: Final = {kind: {spec.name: spec for spec in specs} for kind, specs in KIND_FIELDS.items()}
_REQUIRED: Final = {
    kind: tuple(spec.name for spec in specs if spec.required) for kind, specs in KIND_FIELDS.items()
}
_GENERIC: Final = FieldSpec(name="*", secret=True)
assert all(
    FIELD_NAME.fullmatch(name) and name not in RESERVED_FIELD_NAMES
    for specs in _SPECS.values()
    for name in specs
), "a kind's field name would not pass the field-name rules"
_SCOPES: dict[str, CredentialScope] = {}


def from_sealed_json(plain: bytes, credential_id: CredentialId) -> Credential:
    """The credential in ``plain``, stored under ``credential_id`` (already validated).

    Raises InvalidCredential (as :meth:`Credential.from_json` does) when ``plain`` is not
    a valid credential; a credential with another id is returned for the caller to refuse.
    """
    try:
        values = _values(_decode(plain), credential_id)
    except (msgspec.ValidationError, msgspec.DecodeError, CredentialError, ArithmeticError):
        values = None  # the full validation below names the problem
    if values is None:
        return Credential.from_dict(decode_json(plain, "credential"))
    return Credential._assemble(values)


def _values(stored: _Stored, cid: CredentialId) -> tuple[Any, ...] | None:
    """The attribute values, in the order of ``Credential.__slots__``."""
    kind = _KINDS.get(stored.kind)
    if stored.id != cid or stored.schema_version != SCHEMA_VERSION or kind is None:
        return None
    fields = _fields(kind, stored.fields, cid)
    if fields is None:
        return None
    check_owner(stored.owner, cid)
    return (
        cid,
        kind,
        MappingProxyType(fields),
        _scope(stored.scope),
        stored.owner,
        MappingProxyType(normalise_tags(stored.tags, cid)),
        _utc(stored.created_at),
        _utc(stored.updated_at),
        _utc(stored.expires_at),
        stored.version,
    )


def _scope(text: str) -> CredentialScope:
    """The validated scope; a store holds few distinct scopes, each checked once."""
    scope = _SCOPES.get(text)
    if scope is None:
        if len(_SCOPES) >= 1024:
            _SCOPES.clear()
        scope = _SCOPES[text] = CredentialScope(text)
    return scope


def _fields(
    kind: CredentialKind, raw: dict[str, str | int], cid: CredentialId
) -> dict[str, Any] | None:
    specs = _SPECS[kind]
    generic = kind is CredentialKind.GENERIC
    out: dict[str, Any] = {}
    for name, value in raw.items():
        spec = _GENERIC if generic else specs.get(name)
        if spec is None or type(value) is not spec.type:
            return None
        # A kind's own field names are valid and unreserved (checked at import, below).
        if generic and (FIELD_NAME.fullmatch(name) is None or name in RESERVED_FIELD_NAMES):
            return None
        if type(value) is str and not value.isascii():
            check_text(value, f"field {name!r}", cid)
        out[name] = SecretValue(value) if spec.secret else value  # type: ignore[arg-type]
    if not all(out.get(name) for name in _REQUIRED[kind]) or (generic and not out):
        return None
    return out


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is UTC:
        return moment
    return moment.astimezone(UTC)  # may raise OverflowError near year 1: from_dict says so
