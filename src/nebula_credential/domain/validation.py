"""Validation of a credential's parts: kind, timestamps, fields, tags and owner text.

Messages name the field, never its value: values may be secrets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

from .errors import InvalidCredential
from .kinds import CredentialKind, field_spec, fields_of
from .secret import SecretValue

FieldValue: TypeAlias = SecretValue | str | int
# The rules of a Secret data key, so a field stored locally can also live in Kubernetes:
# 1-253 of [-._a-zA-Z0-9], not "." or "..", not starting with "..".
FIELD_NAME: Final = re.compile(r"(?!\.\.)(?!\.\Z)[A-Za-z0-9._-]{1,253}")
# Data keys of the Secret mapping: the credential itself and its kept previous version.
RESERVED_FIELD_NAMES: Final = frozenset({"credential.json", "nebula-credential.previous"})
TAG_KEY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,62}")
MAX_TAG_VALUE: Final = 256
# Tags of ours: earlier versions kept the rotation lease in the credential's tags.
RESERVED_TAG_KEYS: Final = frozenset({"nebula-credential/rotating"})
MAX_OWNER: Final = 253
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. ``2026-11-30T04:47:34.123456Z``; the year
    has four digits (``strftime("%Y")`` gives three for 999, which no reader accepts)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # %-formatting: half the time of isoformat(timespec=...), which every write pays twice.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


def parse_timestamp(text: object, what: str, credential_id: str | None = None) -> datetime:
    if isinstance(text, datetime):
        moment = text
    elif isinstance(text, str):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidCredential(
                f"{what} {text[:40]!r} is not an RFC 3339 timestamp", credential_id=credential_id
            ) from None
    else:
        raise InvalidCredential(
            f"{what} must be a timestamp string, not {type(text).__name__}",
            credential_id=credential_id,
        )
    if moment.tzinfo is None:
        raise InvalidCredential(
            f"{what} has no time zone; add 'Z' for UTC", credential_id=credential_id
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        pass
    raise InvalidCredential(
        f"{what} is out of range: it must fall between years 1 and 9999 in UTC",
        credential_id=credential_id,
    )


def parse_kind(
    kind: object, *, where: str = "", credential_id: str | None = None
) -> CredentialKind:
    """A kind from its wire name; InvalidCredential naming the known kinds otherwise.

    ``where`` prefixes the message (e.g. ``"Secret ns/x, label credential-type: "``).
    """
    if isinstance(kind, CredentialKind):
        return kind
    if not isinstance(kind, str):
        raise InvalidCredential(
            f"{where}kind must be a string, not {type_name(kind)}", credential_id=credential_id
        )
    try:
        return CredentialKind(kind)
    except ValueError:
        names = ", ".join(k.value for k in CredentialKind)
        raise InvalidCredential(
            f"{where}unknown kind {kind[:40]!r}; use one of: {names}",
            credential_id=credential_id,
        ) from None


def type_name(value: object) -> str:
    return {
        str: "string",
        int: "integer",
        bool: "boolean",
        float: "number",
        list: "array",
        dict: "object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def check_text(value: str, what: str, credential_id: str | None) -> None:
    # Only lone surrogates keep a str from encoding as UTF-8. Searching for them, rather
    # than catching UnicodeEncodeError, keeps the value out of the error's __context__.
    if not value.isascii() and _SURROGATE.search(value) is not None:
        raise InvalidCredential(f"{what} is not valid UTF-8", credential_id=credential_id)


def normalise_fields(
    kind: CredentialKind, raw: Mapping[str, Any], credential_id: str
) -> dict[str, FieldValue]:
    if not isinstance(raw, Mapping):
        raise InvalidCredential(
            f"fields must be an object, not {type_name(raw)}", credential_id=credential_id
        )
    out: dict[str, FieldValue] = {}
    for position, (name, value) in enumerate(raw.items(), start=1):
        if not isinstance(name, str) or FIELD_NAME.fullmatch(name) is None:
            # The name is not quoted: a misplaced separator can make a value look like one.
            raise InvalidCredential(
                f"field name #{position} is not valid: use 1-253 of letters, digits, "
                "'.', '_', '-', not '.' or '..' and not starting with '..'",
                credential_id=credential_id,
            )
        if name in RESERVED_FIELD_NAMES:
            raise InvalidCredential(f"field name {name!r} is reserved", credential_id=credential_id)
        spec = field_spec(kind, name)
        if spec is None:
            known = ", ".join(s.name for s in fields_of(kind))
            raise InvalidCredential(
                f"{kind.value} credentials have no field {name!r}; known fields: {known}",
                credential_id=credential_id,
            )
        if value is None:
            continue
        if spec.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidCredential(
                    f"field {name!r} must be an integer, not {type_name(value)}",
                    credential_id=credential_id,
                )
            out[name] = value
            continue
        plain = value.reveal() if isinstance(value, SecretValue) else value
        if not isinstance(plain, str):
            raise InvalidCredential(
                f"field {name!r} must be a string, not {type_name(plain)}",
                credential_id=credential_id,
            )
        check_text(plain, f"field {name!r}", credential_id)
        out[name] = SecretValue(plain) if spec.secret else plain
    for spec in fields_of(kind):
        if spec.required and not out.get(spec.name):
            what = "secret field" if spec.secret else "field"
            raise InvalidCredential(
                f"{kind.value} credential {credential_id!r} is missing required {what} "
                f"{spec.name!r}",
                credential_id=credential_id,
            )
    if kind is CredentialKind.GENERIC and not out:
        raise InvalidCredential(
            f"generic credential {credential_id!r} needs at least one field",
            credential_id=credential_id,
        )
    return out


def normalise_tags(raw: Mapping[str, Any], credential_id: str | None = None) -> dict[str, str]:
    """Validated tags (keys like label keys, printable values); raises InvalidCredential."""
    if not isinstance(raw, Mapping):
        raise InvalidCredential(
            f"tags must be an object, not {type_name(raw)}", credential_id=credential_id
        )
    tags: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or TAG_KEY.fullmatch(key) is None:
            raise InvalidCredential(
                f"tag key {str(key)[:70]!r} must be 1-63 of letters, digits, '.', '_', '/', '-' "
                "starting with a letter or digit",
                credential_id=credential_id,
            )
        if not isinstance(value, str):
            raise InvalidCredential(
                f"tag {key!r} must have a string value, not {type_name(value)}",
                credential_id=credential_id,
            )
        if len(value) > MAX_TAG_VALUE or not value.isprintable():
            raise InvalidCredential(
                f"tag {key!r} value must be at most {MAX_TAG_VALUE} printable characters",
                credential_id=credential_id,
            )
        check_text(value, f"tag {key!r}", credential_id)
        tags[key] = value
    return tags


def check_user_tags(tags: Mapping[str, str], credential_id: str | None = None) -> None:
    """Refuse tags that only nebula-credential itself may write (InvalidCredential)."""
    for key in tags:
        if key in RESERVED_TAG_KEYS:
            raise InvalidCredential(
                f"tag {key!r} is reserved: it marked a rotation in progress in earlier "
                "versions, and rotation leases are not set or removed by storing; drop it",
                credential_id=credential_id,
            )


def check_owner(owner: object, credential_id: str) -> None:
    """None, or 1-253 printable characters of valid UTF-8."""
    if owner is None:
        return
    if not isinstance(owner, str):
        raise InvalidCredential(
            f"owner must be a string, not {type_name(owner)}", credential_id=credential_id
        )
    if not owner or len(owner) > MAX_OWNER or not owner.isprintable():
        raise InvalidCredential(
            f"owner must be 1-{MAX_OWNER} printable characters", credential_id=credential_id
        )
    check_text(owner, "owner", credential_id)
