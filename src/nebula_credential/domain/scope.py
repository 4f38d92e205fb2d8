"""Hierarchical credential scopes such as ``global``, ``org:acme/workspace:eng``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from .errors import InvalidScope

GLOBAL: Final = "global"
MAX_SCOPE_LENGTH: Final = 1024
MAX_DEPTH: Final = 16
_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_NAME = re.compile(r"[A-Za-z0-9._@+=-]{1,253}")
_SEGMENT = r"[a-z][a-z0-9_-]{0,31}:[A-Za-z0-9._@+=-]{1,253}"
# One pass for the common, valid case; the slow path below explains a failure.
_VALID = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT}){{0,{MAX_DEPTH - 1}}}")


def _check_segment(segment: str, position: int, text: str) -> None:
    kind, sep, name = segment.partition(":")
    where = f"scope {text!r}, segment {position} ({segment!r})"
    if not sep:
        raise InvalidScope(f"{where} is missing ':'; write TYPE:NAME, for example org:acme")
    if _TYPE.fullmatch(kind) is None:
        raise InvalidScope(
            f"{where}: type {kind!r} must be 1-32 lower-case letters, digits, '-' or '_', "
            "starting with a letter"
        )
    if _NAME.fullmatch(name) is None:
        raise InvalidScope(
            f"{where}: name {name!r} must be 1-253 of letters, digits and . _ @ + = -"
        )


class CredentialScope(str):
    """Where a credential belongs: ``global`` or ``TYPE:NAME`` segments joined by ``/``.

    ``org:acme/workspace:eng`` is a descendant of ``org:acme``; everything is a
    descendant of ``global``. Construct with ``CredentialScope("user:alice")`` or
    ``CredentialScope.parse(...)``.
    """

    __slots__ = ()

    def __new__(cls, value: object = GLOBAL) -> CredentialScope:
        if isinstance(value, CredentialScope):
            return value
        if not isinstance(value, str):
            raise InvalidScope(f"scope must be a string, not {type(value).__name__}")
        if not value:
            raise InvalidScope("scope is empty; use 'global' for the top level")
        if len(value) > MAX_SCOPE_LENGTH:
            raise InvalidScope(
                f"scope is {len(value)} characters long; the limit is {MAX_SCOPE_LENGTH}"
            )
        if value != GLOBAL and _VALID.fullmatch(value) is None:
            if not value.isprintable() or any(c.isspace() for c in value):
                raise InvalidScope(
                    "scope contains whitespace or a control character; "
                    "write TYPE:NAME segments joined by '/'"
                )
            segments = value.split("/")
            if len(segments) > MAX_DEPTH:
                raise InvalidScope(f"scope has {len(segments)} segments; the limit is {MAX_DEPTH}")
            for position, segment in enumerate(segments, start=1):
                if not segment:
                    raise InvalidScope(
                        f"scope {value!r} has an empty segment at position {position}; "
                        "check for a leading, trailing or doubled '/'"
                    )
                _check_segment(segment, position, value)
        return super().__new__(cls, value)

    @classmethod
    def parse(cls, value: str) -> CredentialScope:
        """Parse and validate a scope string."""
        return cls(value)

    @classmethod
    def of(cls, kind: str, name: str) -> CredentialScope:
        """A one-segment scope: ``CredentialScope.of("user", "alice")`` is ``user:alice``."""
        return cls(f"{kind}:{name}")

    @property
    def is_global(self) -> bool:
        return str(self) == GLOBAL

    @property
    def segments(self) -> tuple[tuple[str, str], ...]:
        """``(type, name)`` pairs from the root down; empty for ``global``."""
        if self.is_global:
            return ()
        return tuple((kind, name) for kind, _, name in (s.partition(":") for s in self.split("/")))

    @property
    def parent(self) -> CredentialScope | None:
        """The enclosing scope; ``global`` for a top-level scope, None for ``global``."""
        if self.is_global:
            return None
        head, sep, _ = self.rpartition("/")
        return CredentialScope(head if sep else GLOBAL)

    def child(self, kind: str, name: str) -> CredentialScope:
        """The scope one level below this one."""
        segment = f"{kind}:{name}"
        return CredentialScope(segment if self.is_global else f"{self}/{segment}")

    def ancestors(self) -> Iterator[CredentialScope]:
        """This scope's ancestors below ``global`` and itself, from the root down."""
        if self.is_global:
            return
        parts = self.split("/")
        for depth in range(1, len(parts) + 1):
            yield CredentialScope("/".join(parts[:depth]))

    def contains(self, other: str) -> bool:
        """True when ``other`` is this scope or one of its descendants."""
        if self.is_global:
            return True
        return other == self or other.startswith(f"{self}/")

    def matches(self, other: str, *, descendants: bool = False) -> bool:
        """Exact match, or prefix match with ``descendants=True``."""
        return self.contains(other) if descendants else other == self
