"""The typed credential and its versioned JSON wire format."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from .errors import InvalidCredential
from .ids import CredentialId
from .kinds import CredentialKind
from .scope import CredentialScope
from .secret import REDACTED, SecretValue
from .validation import (
    FieldValue,
    check_owner,
    format_timestamp,
    normalise_fields,
    normalise_tags,
    parse_kind,
    parse_timestamp,
    type_name,
    utcnow,
)
from .wire import decode_json, encode_json

SCHEMA_VERSION: Final = 1
_WIRE_KEYS: Final = frozenset(
    {
        "schema_version",
        "id",
        "kind",
        "scope",
        "owner",
        "tags",
        "fields",
        "created_at",
        "updated_at",
        "expires_at",
        "version",
    }
)


_ATTRS: Final = (
    "id",
    "kind",
    "fields",
    "scope",
    "owner",
    "tags",
    "created_at",
    "updated_at",
    "expires_at",
    "version",
)


class Credential:
    """A typed credential with its metadata; immutable and validated on construction.

    Secret fields are held as :class:`SecretValue`; ``repr``, ``str`` and ``to_dict()``
    show them as ``**********``. ``version`` is 0 until a provider stores it.
    """

    __slots__ = _ATTRS

    id: CredentialId
    kind: CredentialKind
    fields: Mapping[str, FieldValue]
    scope: CredentialScope
    owner: str | None
    tags: Mapping[str, str]
    created_at: datetime | None
    updated_at: datetime | None
    expires_at: datetime | None
    version: int

    def __init__(
        self,
        id: str,
        kind: CredentialKind | str,
        fields: Mapping[str, FieldValue | None],
        *,
        scope: str = "global",
        owner: str | None = None,
        tags: Mapping[str, str] | None = None,
        created_at: datetime | str | None = None,
        updated_at: datetime | str | None = None,
        expires_at: datetime | str | None = None,
        version: int = 0,
    ) -> None:
        set_ = object.__setattr__
        cid = CredentialId(id)
        set_(self, "id", cid)
        set_(self, "kind", parse_kind(kind, credential_id=cid))
        set_(self, "scope", CredentialScope(scope))
        check_owner(owner, cid)
        set_(self, "owner", owner)
        set_(self, "fields", MappingProxyType(normalise_fields(self.kind, fields, cid)))
        set_(self, "tags", MappingProxyType(normalise_tags({} if tags is None else tags, cid)))
        for name, value in (
            ("created_at", created_at),
            ("updated_at", updated_at),
            ("expires_at", expires_at),
        ):
            set_(self, name, None if value is None else parse_timestamp(value, name, cid))
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise InvalidCredential("version must be a non-negative integer", credential_id=cid)
        set_(self, "version", version)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Credential is immutable; use evolve()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Credential is immutable; use evolve()")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credential):
            return NotImplemented
        return all(getattr(self, a) == getattr(other, a) for a in _ATTRS)

    def __hash__(self) -> int:
        return hash((self.id, self.version))

    def revised(self, version: int, created_at: datetime, updated_at: datetime) -> Credential:
        """A copy with a new version and timestamps; the rest is already validated."""
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise InvalidCredential("version must be a non-negative integer", credential_id=self.id)
        copy = object.__new__(Credential)
        set_ = object.__setattr__
        for name in _ATTRS:
            set_(copy, name, getattr(self, name))
        set_(copy, "version", version)
        set_(copy, "created_at", parse_timestamp(created_at, "created_at", self.id))
        set_(copy, "updated_at", parse_timestamp(updated_at, "updated_at", self.id))
        return copy

    @classmethod
    def _assemble(cls, values: tuple[Any, ...]) -> Credential:
        """A credential from attribute values (in ``__slots__`` order) that are already
        valid and normalised; see ``trusted``."""
        credential = object.__new__(cls)
        for slot, value in zip(_SLOTS, values, strict=True):
            slot.__set__(credential, value)
        return credential

    def __copy__(self) -> Credential:
        return self

    def __deepcopy__(self, memo: object) -> Credential:
        return self  # immutable

    # -- access ---------------------------------------------------------------------

    def reveal(self, name: str) -> str | int:
        """The plain value of one field; raises KeyError when the field is absent."""
        value = self.fields[name]
        return value.reveal() if isinstance(value, SecretValue) else value

    def revealed_fields(self) -> dict[str, str | int]:
        """Every field with secret values revealed."""
        return {name: self.reveal(name) for name in self.fields}

    @property
    def secret_field_names(self) -> tuple[str, ...]:
        return tuple(n for n, v in self.fields.items() if isinstance(v, SecretValue))

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    def evolve(self, **changes: Any) -> Credential:
        """A copy with some attributes replaced (validated again).

        ``fields`` are merged into the current ones; a field set to None is removed.
        """
        values = {a: getattr(self, a) for a in _ATTRS}
        if "fields" in changes:
            merged: dict[str, Any] = dict(self.fields)
            merged.update(changes.pop("fields"))
            values["fields"] = {k: v for k, v in merged.items() if v is not None}
        unknown = set(changes) - set(_ATTRS)
        if unknown:
            raise TypeError(f"Credential has no attribute {', '.join(sorted(unknown))}")
        values.update(changes)
        return Credential(values.pop("id"), values.pop("kind"), values.pop("fields"), **values)

    # -- wire format ------------------------------------------------------------------

    def to_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        """The wire form; secret values are ``**********`` unless ``reveal=True``."""
        fields: dict[str, str | int] = {}
        for name, value in self.fields.items():
            if isinstance(value, SecretValue):
                fields[name] = value.reveal() if reveal else REDACTED
            else:
                fields[name] = value
        return {
            "schema_version": SCHEMA_VERSION,
            "id": str(self.id),
            "kind": self.kind.value,
            "scope": str(self.scope),
            "owner": self.owner,
            "tags": dict(self.tags),
            "fields": fields,
            "created_at": _ts(self.created_at),
            "updated_at": _ts(self.updated_at),
            "expires_at": _ts(self.expires_at),
            "version": self.version,
        }

    def to_json(self, *, reveal: bool = False) -> str:
        """Compact JSON of :meth:`to_dict` (UTF-8, no whitespace)."""
        return encode_json(self.to_dict(reveal=reveal)).decode("utf-8")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Credential:
        """Build a credential from the wire form; raises InvalidCredential when malformed."""
        if not isinstance(data, Mapping):
            raise InvalidCredential(f"credential must be a JSON object, not {type_name(data)}")
        raw_id = data.get("id")
        cid = CredentialId(raw_id)
        schema = data.get("schema_version", SCHEMA_VERSION)
        if isinstance(schema, bool) or not isinstance(schema, int):
            raise InvalidCredential("schema_version must be an integer", credential_id=cid)
        if schema > SCHEMA_VERSION:
            raise InvalidCredential(
                f"credential {cid!r} uses schema {schema}; this nebula-credential reads up to "
                f"{SCHEMA_VERSION}: upgrade it",
                credential_id=cid,
            )
        unknown = set(data) - _WIRE_KEYS
        if unknown:
            raise InvalidCredential(
                f"credential {cid!r} has unknown keys: {', '.join(sorted(map(str, unknown)))}",
                credential_id=cid,
            )
        if "kind" not in data:
            raise InvalidCredential(f"credential {cid!r} has no kind", credential_id=cid)
        if not isinstance(data.get("fields"), Mapping):
            raise InvalidCredential(
                f"credential {cid!r}: fields must be an object, not "
                f"{type_name(data.get('fields'))}",
                credential_id=cid,
            )
        version = data.get("version", 0)
        return cls(
            id=cid,
            kind=data["kind"],
            fields=data["fields"],
            scope=data.get("scope", "global"),
            owner=data.get("owner"),
            tags=data.get("tags", {}),
            created_at=data.get("created_at"),
            updated_at=data.get("updated_at"),
            expires_at=data.get("expires_at"),
            version=version,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Credential:
        """Decode :meth:`to_json` output; the error never holds the input (see ``wire``)."""
        return cls.from_dict(decode_json(text, "credential"))

    def __repr__(self) -> str:
        shown = {n: (REDACTED if isinstance(v, SecretValue) else v) for n, v in self.fields.items()}
        return (
            f"Credential(id={str(self.id)!r}, kind={self.kind.value!r}, "
            f"scope={str(self.scope)!r}, version={self.version}, fields={shown!r})"
        )

    __str__ = __repr__


_SLOTS: Final = tuple(getattr(Credential, name) for name in _ATTRS)


def _ts(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)
