"""The domain: ids, scopes, credential kinds and the typed credential. Imports nothing of ours."""

from .credential import Credential
from .errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    CorruptData,
    CredentialError,
    DecryptionFailed,
    InvalidCredential,
    InvalidCredentialId,
    InvalidScope,
    NotFound,
    NotOwned,
    NotRotatable,
    PayloadTooLarge,
    PermissionDenied,
    ProviderUnavailable,
    RotationFailed,
    TokenEndpointUnreachable,
    ValidationError,
)
from .ids import CredentialId
from .kinds import CredentialKind, FieldSpec, field_spec, fields_of, value_from_text
from .scope import CredentialScope
from .secret import REDACTED, SecretValue
from .validation import (
    FieldValue,
    format_timestamp,
    normalise_tags,
    parse_kind,
    parse_timestamp,
    utcnow,
)

__all__ = [
    "REDACTED",
    "AuthenticationError",
    "ConfigurationError",
    "Conflict",
    "CorruptData",
    "Credential",
    "CredentialError",
    "CredentialId",
    "CredentialKind",
    "CredentialScope",
    "DecryptionFailed",
    "FieldSpec",
    "FieldValue",
    "InvalidCredential",
    "InvalidCredentialId",
    "InvalidScope",
    "NotFound",
    "NotOwned",
    "NotRotatable",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProviderUnavailable",
    "RotationFailed",
    "SecretValue",
    "TokenEndpointUnreachable",
    "ValidationError",
    "field_spec",
    "fields_of",
    "format_timestamp",
    "normalise_tags",
    "parse_kind",
    "parse_timestamp",
    "utcnow",
    "value_from_text",
]
