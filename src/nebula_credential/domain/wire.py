"""The one JSON codec for credentials: Credential.to_json/from_json, ``credential.json``
in Secrets, the tags annotation and the CLI's JSON input and output all use it.

msgspec writes exactly the bytes of ``json.dumps(obj, separators=(",", ":"),
ensure_ascii=False)`` (the tests compare every code point), several times faster, so
credentials stored before this codec existed decode unchanged.

A decode error never carries the input, which may hold secrets: not in its message,
and not in ``__cause__`` or ``__context__`` either, because it is raised after the
handler of the decoder's own exception has finished.
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidCredential


class _Codec:
    """msgspec, imported on first use: ``--help`` and plain imports skip its ~10 ms."""

    def __init__(self) -> None:
        import msgspec

        self.encode = msgspec.json.Encoder().encode
        self.decode = msgspec.json.Decoder().decode
        self.format = msgspec.json.format
        self.errors: tuple[type[BaseException], ...] = (
            msgspec.DecodeError,
            UnicodeError,
            RecursionError,
        )


_codec: _Codec | None = None


def _get() -> _Codec:
    global _codec
    if _codec is None:
        _codec = _Codec()
    return _codec


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, keys in insertion order."""
    return (_codec or _get()).encode(value)


def format_json(value: Any, *, indent: int) -> str:
    """JSON for people: ``indent=2`` is ``json.dumps(indent=2)``, ``indent=0`` one line."""
    codec = _codec or _get()
    return codec.format(codec.encode(value), indent=indent).decode("utf-8")


def decode_json(data: str | bytes, what: str = "credential") -> Any:
    """The value in ``data``; InvalidCredential naming ``what`` when it is not JSON."""
    codec = _codec or _get()
    try:
        return codec.decode(data)
    except codec.errors as exc:
        detail = _describe(exc, data)
    raise InvalidCredential(f"{what} is not valid {detail}")


def _describe(exc: BaseException, data: str | bytes) -> str:
    if isinstance(exc, RecursionError):
        return "JSON: nested too deeply"
    if isinstance(exc, UnicodeError) or not _is_utf8(data):
        return "UTF-8"
    # msgspec names the problem and a byte offset, never the text around it.
    return f"JSON: {str(exc).removeprefix('JSON is malformed: ')}"


def _is_utf8(data: str | bytes) -> bool:
    if isinstance(data, str):
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
