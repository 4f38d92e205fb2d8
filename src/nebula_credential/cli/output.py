"""Printing credentials as tables for people and as JSON or YAML for scripts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, TextIO

from ..domain import REDACTED, Credential
from ..domain.wire import format_json
from .safe_text import cell, is_terminal_safe, json_text, visible, yaml_is_safe


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def as_record(credential: Credential, *, reveal: bool) -> dict[str, Any]:
    """The script-facing object; secret values redacted unless ``reveal``."""
    record = credential.to_dict(reveal=reveal)
    record.pop("schema_version", None)
    return record


def _dump_yaml(data: object, out: TextIO) -> None:
    import yaml

    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    if not yaml_is_safe(text):  # bidirectional overrides: write all non-ASCII escaped
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=False, default_flow_style=False)
    out.write(text)


def _json(record: dict[str, Any], indent: int) -> str:
    return json_text(format_json(record, indent=indent))


def print_one(credential: Credential, fmt: OutputFormat, out: TextIO, *, reveal: bool) -> None:
    record = as_record(credential, reveal=reveal)
    if fmt is OutputFormat.JSON:
        out.write(_json(record, 2) + "\n")
    elif fmt is OutputFormat.YAML:
        _dump_yaml(record, out)
    else:
        _print_detail(record, credential, out)


def _print_detail(record: dict[str, Any], credential: Credential, out: TextIO) -> None:
    from .detail import print_rows

    rows: list[tuple[str, object]] = [
        (key, record[key])
        for key in ("id", "kind", "scope", "owner", "version", "created_at", "updated_at")
    ]
    if credential.expires_at is not None:
        rows.append(("expires_at", record["expires_at"]))
    rows.append(("tags", _tag_lines(credential)))
    for name, value in record["fields"].items():
        marker = " (secret)" if name in credential.secret_field_names else ""
        rows.append((visible(f"fields.{name}{marker}"), value))
    print_rows(rows, out)


def _tag_lines(credential: Credential) -> str:
    """One ``key=value`` per line: a value may hold ``,`` or ``=`` but never a newline
    (tags are printable), so what is shown reads back as the tags it shows."""
    return "\n".join(f"{k}={v}" for k, v in credential.tags.items())


def print_many(
    credentials: Iterable[Credential], fmt: OutputFormat, out: TextIO, *, reveal: bool
) -> int:
    """Print a list; returns how many were printed. JSON is streamed item by item."""
    count = 0
    if fmt is OutputFormat.JSON:
        out.write("[")
        for credential in credentials:
            out.write(",\n  " if count else "\n  ")
            out.write(_json(as_record(credential, reveal=reveal), 0))
            count += 1
        out.write("\n]\n" if count else "]\n")
        return count
    if fmt is OutputFormat.YAML:
        records = [as_record(c, reveal=reveal) for c in credentials]
        _dump_yaml(records, out)
        return len(records)
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for column in ("ID", "KIND", "SCOPE", "VERSION", "UPDATED", "TAGS"):
        table.add_column(column, overflow="fold")
    for credential in credentials:
        updated = credential.updated_at.strftime("%Y-%m-%d %H:%M") if credential.updated_at else ""
        tags = [cell(line) for line in _tag_lines(credential).split("\n")]
        table.add_row(
            *map(cell, (credential.id, credential.kind, credential.scope, credential.version)),
            cell(updated),
            Text("\n").join(tags),
        )
        count += 1
    Console(file=out, highlight=False, soft_wrap=True).print(table)
    return count


def print_field(
    credential: Credential, name: str, out: TextIO, *, reveal: bool, note: Callable[[str], None]
) -> None:
    """One field's value and a newline, exactly as stored (that is what ``$(...)`` gets).

    A secret without ``reveal`` prints as the mask, and ``note`` says so: a script
    capturing it would otherwise carry on with ``**********``. Only when ``out`` is a
    terminal are control characters shown escaped, so a stored value cannot steer it.
    """
    if name in credential.secret_field_names and not reveal:
        out.write(REDACTED + "\n")
        note(f"note: secret field {name!r} was printed as {REDACTED}; add --reveal for its value")
        return
    text = str(credential.reveal(name))
    if not is_terminal_safe(text) and _is_terminal(out):
        out.write(visible(text) + "\n")
        note(
            f"note: field {name!r} holds control characters, shown escaped on this terminal; "
            "redirect or capture the output for the exact value"
        )
        return
    out.write(text + "\n")


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
