"""Credential kinds and the fields each one carries."""

from __future__ import annotations

import enum
from typing import Final, NamedTuple

from .errors import InvalidCredential


class CredentialKind(enum.StrEnum):
    """What a credential is. The value is the wire name."""

    OAUTH2 = "oauth2"
    API_KEY = "api_key"
    BASIC_AUTH = "basic_auth"
    DATABASE = "database"
    CERTIFICATE = "certificate"
    AWS = "aws"
    GENERIC = "generic"


class FieldSpec(NamedTuple):  # a dataclass takes a millisecond to define at start-up
    """One field of a kind: whether it is secret, required, and its JSON type."""

    name: str
    secret: bool
    required: bool = False
    type: type = str
    description: str = ""


def _f(name: str, *, secret: bool = False, required: bool = False, type_: type = str) -> FieldSpec:
    return FieldSpec(name=name, secret=secret, required=required, type=type_)


KIND_FIELDS: Final[dict[CredentialKind, tuple[FieldSpec, ...]]] = {
    CredentialKind.OAUTH2: (
        _f("access_token", secret=True, required=True),
        _f("refresh_token", secret=True),
        _f("client_secret", secret=True),
        _f("client_id"),
        _f("token_type"),
        _f("token_url"),
        _f("scopes"),
        _f("access_token_expires_at"),
    ),
    CredentialKind.API_KEY: (
        _f("api_key", secret=True, required=True),
        _f("header_name"),
        _f("base_url"),
    ),
    CredentialKind.BASIC_AUTH: (
        _f("username", required=True),
        _f("password", secret=True, required=True),
    ),
    CredentialKind.DATABASE: (
        _f("host", required=True),
        _f("port", type_=int),
        _f("database"),
        _f("username", required=True),
        _f("password", secret=True, required=True),
        _f("engine"),
        _f("sslmode"),
    ),
    CredentialKind.CERTIFICATE: (
        _f("certificate", required=True),
        _f("private_key", secret=True, required=True),
        _f("ca_chain"),
        _f("private_key_password", secret=True),
    ),
    CredentialKind.AWS: (
        _f("access_key_id", required=True),
        _f("secret_access_key", secret=True, required=True),
        _f("session_token", secret=True),
        _f("region"),
    ),
    # Generic credentials take any field names; every value is treated as secret.
    CredentialKind.GENERIC: (),
}

_BY_NAME: Final = {kind: {spec.name: spec for spec in specs} for kind, specs in KIND_FIELDS.items()}


def field_spec(kind: CredentialKind, name: str) -> FieldSpec | None:
    """The spec of ``name`` for ``kind``; generic kinds accept any name as a secret field."""
    if kind is CredentialKind.GENERIC:
        return FieldSpec(name=name, secret=True)
    return _BY_NAME[kind].get(name)


def value_from_text(spec: FieldSpec, text: str, *, where: str = "") -> str | int:
    """A field value from text (a command line, a Secret key): integers are parsed.

    ``where`` prefixes the error message, e.g. ``"Secret ns/x, key 'port': "``.
    """
    if spec.type is not int:
        return text
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        raise InvalidCredential(f"{where}field {spec.name!r} must hold an integer")
    return int(digits)


def fields_of(kind: CredentialKind) -> tuple[FieldSpec, ...]:
    """The declared fields of a kind (empty for ``generic``)."""
    return KIND_FIELDS[kind]
