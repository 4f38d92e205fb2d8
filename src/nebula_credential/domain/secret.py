"""A string that does not show itself."""

from __future__ import annotations

from typing import Final, NoReturn

REDACTED: Final = "**********"


class SecretValue:
    """Holds a secret string; ``repr``, ``str`` and formatting show ``**********``.

    Call :meth:`reveal` to get the value. Equality is constant-time.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, SecretValue):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("SecretValue holds a str")
        self._value = value

    def reveal(self) -> str:
        """The secret itself. Every call site is a place where the secret leaves."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"SecretValue('{REDACTED}')"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return format(REDACTED, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        import hmac  # here: only comparing secrets needs it

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((SecretValue, self._value))

    def __copy__(self) -> SecretValue:
        return self

    def __deepcopy__(self, memo: object) -> SecretValue:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretValue cannot be pickled; reveal() it explicitly")
