"""Turning command-line input into credential fields without leaking secrets."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from ..domain import (
    Credential,
    CredentialKind,
    InvalidCredential,
    ValidationError,
    field_spec,
    fields_of,
    parse_kind,
    value_from_text,
)
from ..domain.wire import decode_json

MAX_INPUT_BYTES = 1024 * 1024
_SEPARATOR_TYPOS = frozenset(":;,~ +")


class UsageError(ValidationError):
    """A command line that cannot be acted on (exit code 2)."""


def parse_pairs(items: list[str], what: str) -> dict[str, str]:
    """``K=V`` items into a dict; ``what`` names the option in errors.

    A malformed item is not quoted: a value typed without its key may be a secret.
    """
    pairs: dict[str, str] = {}
    for position, item in enumerate(items, start=1):
        key, sep, value = item.partition("=")
        if not sep or not key:
            problem = "has no '='" if not sep else "has nothing before '='"
            raise UsageError(
                f"{what} #{position} {problem}: it must look like KEY=VALUE (not shown here, "
                "in case it holds a secret)"
            )
        pairs[key] = value
    return pairs


def parse_version(text: str | None) -> int | None:
    """``--expected-version N``; the text is not quoted in errors (it may be misplaced input)."""
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise UsageError(
            "--expected-version must be a whole number of at most 18 digits (0: the "
            "credential must not exist yet); what was given is not shown, in case it is a secret"
        )
    return int(text)


def _misplaced_separator(kind: CredentialKind, spec: str) -> str:
    """``" (after 'api_key' comes ':', not '=')"`` when a known name starts ``spec``."""
    for declared in sorted(fields_of(kind), key=lambda s: -len(s.name)):
        after = spec[len(declared.name) : len(declared.name) + 1]
        if spec.startswith(declared.name) and after and after in _SEPARATOR_TYPOS:
            return f" (after {declared.name!r} comes {after!r} where '=' belongs)"
    return ""


def _did_you_mean(kind: CredentialKind, name: str) -> str:
    import difflib

    known = [s.name for s in fields_of(kind)]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def read_limited(handle: TextIO | Any, source: str) -> str:
    data = handle.read(MAX_INPUT_BYTES + 1)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:  # holds the input: raised below, outside this handler
            data = None
        if data is None:
            raise UsageError(f"{source} is not valid UTF-8 text")
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(f"{source} is larger than {MAX_INPUT_BYTES} bytes")
    return str(data)


def read_file(path: str, source: str) -> str:
    try:
        with open(Path(path).expanduser(), "rb") as handle:
            return read_limited(handle, source)
    except OSError as exc:
        raise UsageError(f"cannot read {source} from {path}: {exc.strerror}") from None


def read_file_bytes(path: str | Path, source: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """At most ``limit`` bytes of a file a user named (PEM or DER); a larger file, or a
    device that never ends, is a usage error, read no further than ``limit + 1``."""
    try:
        with open(Path(path).expanduser(), "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {source} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise UsageError(f"{source} {path} is larger than {limit} bytes")
    return data


def read_stdin_value(stdin: TextIO) -> str:
    raw = read_limited(stdin.buffer if hasattr(stdin, "buffer") else stdin, "standard input")
    if raw.endswith("\r\n"):
        return raw[:-2]
    return raw[:-1] if raw.endswith("\n") else raw


def load_json_source(source: str, stdin: TextIO) -> dict[str, Any]:
    """The object in ``--from-json FILE|-``."""
    text = (
        read_limited(stdin.buffer if hasattr(stdin, "buffer") else stdin, "--from-json input")
        if source == "-"
        else read_file(source, "--from-json")
    )
    data = decode_json(text, "--from-json")
    if not isinstance(data, dict):
        raise InvalidCredential("--from-json must hold a JSON object")
    return data


def collect_fields(
    kind: CredentialKind,
    specs: list[str],
    *,
    stdin: TextIO,
    warn: Callable[[str], None],
) -> dict[str, Any]:
    """Field values from ``--field`` options: ``NAME=@FILE``, ``NAME=-`` or ``NAME=VALUE``."""
    fields: dict[str, Any] = {}
    used_stdin = False
    for position, spec in enumerate(specs, start=1):
        name, sep, value = spec.partition("=")
        if not sep or not name:
            raise UsageError(
                f"--field #{position} must look like NAME=VALUE, NAME=- or NAME=@FILE"
                f"{_misplaced_separator(kind, spec)}; it is not shown here, in case it holds "
                "a secret"
            )
        declared = field_spec(kind, name)
        if declared is None:
            # Not quoted: with a misplaced '=' (base64 values end in one) the "name" is a value.
            known = ", ".join(s.name for s in fields_of(kind))
            raise InvalidCredential(
                f"{kind.value} credentials have no field named as in --field #{position} (not "
                f"shown, in case it is a value); known: {known}"
                f"{_misplaced_separator(kind, name) or _did_you_mean(kind, name)}"
            )
        if value == "-":
            if used_stdin:
                raise UsageError("only one --field can read from standard input ('-')")
            used_stdin = True
            value = read_stdin_value(stdin)
        elif value.startswith("@"):
            value = read_file(value[1:], f"field {name!r}")
        elif declared.secret:
            warn(
                f"warning: secret field {name!r} was given on the command line, where shell "
                f"history and process lists can see it; prefer {name}=- or {name}=@FILE"
            )
        fields[name] = value_from_text(declared, value)
    return fields


def prompt_missing(
    kind: CredentialKind,
    fields: dict[str, Any],
    *,
    interactive: bool,
    ask: Callable[[str], str],
) -> None:
    """Ask (without echo) for required secret fields that no option supplied."""
    for spec in fields_of(kind):
        if spec.required and spec.secret and not fields.get(spec.name):
            if not interactive:
                raise InvalidCredential(
                    f"required secret field {spec.name!r} is missing; pass "
                    f"--field {spec.name}=- (stdin) or --field {spec.name}=@FILE"
                )
            fields[spec.name] = ask(f"{spec.name}: ")


def merge_json(
    data: Mapping[str, Any], credential_id: str, kind: str | None
) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """Split ``--from-json`` input into (kind, fields, metadata).

    Accepts a credential as printed by ``get --output json --reveal`` (it has a
    ``fields`` object; validated as a whole; the ID argument replaces its id) or a flat
    object of field values.
    """
    if "fields" not in data and "schema_version" not in data:
        if "kind" in data and (kind is None or field_spec(parse_kind(kind), "kind") is None):
            raise UsageError(
                "--from-json holds a flat object with a 'kind' key, but a flat object holds "
                "field values only; pass --kind KIND, or put the values under 'fields' "
                'beside the kind: {"kind": ..., "fields": {...}}'
            )
        return kind, dict(data), {}
    json_kind = data.get("kind")
    if kind and isinstance(json_kind, str) and kind != json_kind:
        raise UsageError(f"--kind {kind} contradicts kind {json_kind!r} in --from-json")
    effective_kind = json_kind if "kind" in data else kind
    parsed = Credential.from_dict({**data, "id": credential_id, "kind": effective_kind})
    meta: dict[str, Any] = {"scope": parsed.scope, "owner": parsed.owner, "tags": dict(parsed.tags)}
    if parsed.expires_at is not None:
        meta["expires_at"] = parsed.expires_at
    return parsed.kind.value, parsed.revealed_fields(), meta


def stdin_is_interactive(stdin: TextIO) -> bool:
    try:
        return stdin.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = [
    "UsageError",
    "collect_fields",
    "load_json_source",
    "merge_json",
    "parse_pairs",
    "parse_version",
    "prompt_missing",
    "stdin_is_interactive",
]


_DURATION = re.compile(r"(\d{1,9})([smhd]?)")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = timedelta(days=36500)  # a century: longer spans overflow date arithmetic


def parse_duration(text: str, option: str, *, bare_seconds: bool = True) -> timedelta:
    """``90s``, ``10m``, ``2h``, ``7d`` (or plain seconds when ``bare_seconds``), at most a
    century; anything else is a UsageError naming ``option``."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or (not bare_seconds and not match.group(2)):
        example = "90s, 10m, 2h or 1d"
        raise UsageError(f"{option} {text[:30]!r} is not a duration like {example}")
    seconds = int(match.group(1)) * _SECONDS[match.group(2)]
    if seconds > MAX_DURATION.total_seconds():
        raise UsageError(f"{option} {text[:30]!r} is longer than a century; give a shorter span")
    return timedelta(seconds=seconds)
