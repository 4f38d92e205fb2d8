"""Credential identifiers."""

from __future__ import annotations

import re
import time
from typing import Final

from .errors import InvalidCredentialId

MAX_ID_LENGTH: Final = 255
_ID_CHARS = re.compile(r"[A-Za-z0-9._-]+")


def _describe(char: str) -> str:
    if char in "/\\":
        return f"path separator {char!r}"
    if not char.isprintable():
        return f"control character U+{ord(char):04X}"
    if char.isspace():
        return "whitespace"
    return f"character {char!r}"


class CredentialId(str):
    """A validated credential id: 1-255 of ``A-Z a-z 0-9 . _ -``, not starting with ``.``.

    It is a ``str`` so it can be used wherever a string is expected; construct it with
    ``CredentialId("github-token")`` to validate, or ``CredentialId.new()`` for a fresh one.
    """

    __slots__ = ()

    def __new__(cls, value: object) -> CredentialId:
        if isinstance(value, CredentialId):
            return value
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidCredentialId("credential id is not valid UTF-8") from None
        if not isinstance(value, str):
            raise InvalidCredentialId(f"credential id must be a string, not {type(value).__name__}")
        if not value:
            raise InvalidCredentialId("credential id is empty")
        if len(value) > MAX_ID_LENGTH:
            raise InvalidCredentialId(
                f"credential id is {len(value)} characters long; the limit is {MAX_ID_LENGTH}"
            )
        if _ID_CHARS.fullmatch(value) is None:
            bad = next(c for c in value if _ID_CHARS.fullmatch(c) is None)
            raise InvalidCredentialId(
                f"credential id contains {_describe(bad)}; "
                "use only letters, digits, '-', '_' and '.'"
            )
        if value.startswith("."):
            raise InvalidCredentialId("credential id must not start with '.'")
        return super().__new__(cls, value)

    @classmethod
    def new(cls, prefix: str = "cred") -> CredentialId:
        """A fresh, time-ordered, random id such as ``cred_0193a1b2c3d4e5f60718293a4b5c6d7e``."""
        millis = time.time_ns() // 1_000_000
        import secrets  # here: reading ids need not load it (and hmac, hashlib)

        return cls(f"{prefix}_{millis:012x}{secrets.token_hex(10)}")
