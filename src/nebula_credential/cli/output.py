"""Printing credentials as tables for people and as JSON or YAML for scripts."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, TextIO

from ..domain import REDACTED, Credential
from ..domain.wire import format_json


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

    yaml.safe_dump(data, out, sort_keys=False, allow_unicode=True, default_flow_style=False)


def print_one(credential: Credential, fmt: OutputFormat, out: TextIO, *, reveal: bool) -> None:
    record = as_record(credential, reveal=reveal)
    if fmt is OutputFormat.JSON:
        out.write(format_json(record, indent=2) + "\n")
    elif fmt is OutputFormat.YAML:
        _dump_yaml(record, out)
    else:
        _print_detail(record, credential, out)


def _print_detail(record: dict[str, Any], credential: Credential, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in ("id", "kind", "scope", "owner", "version", "created_at", "updated_at"):
        table.add_row(key, "" if record[key] is None else str(record[key]))
    if credential.expires_at is not None:
        table.add_row("expires_at", record["expires_at"])
    table.add_row("tags", ", ".join(f"{k}={v}" for k, v in credential.tags.items()))
    for name, value in record["fields"].items():
        marker = " (secret)" if name in credential.secret_field_names else ""
        table.add_row(f"fields.{name}{marker}", str(value))
    Console(file=out, highlight=False, soft_wrap=True).print(table)


def print_many(
    credentials: Iterable[Credential], fmt: OutputFormat, out: TextIO, *, reveal: bool
) -> int:
    """Print a list; returns how many were printed. JSON is streamed item by item."""
    count = 0
    if fmt is OutputFormat.JSON:
        out.write("[")
        for credential in credentials:
            out.write(",\n  " if count else "\n  ")
            out.write(format_json(as_record(credential, reveal=reveal), indent=0))
            count += 1
        out.write("\n]\n" if count else "]\n")
        return count
    if fmt is OutputFormat.YAML:
        records = [as_record(c, reveal=reveal) for c in credentials]
        _dump_yaml(records, out)
        return len(records)
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("ID", "KIND", "SCOPE", "VERSION", "UPDATED", "TAGS"):
        table.add_column(column, overflow="fold")
    for credential in credentials:
        updated = credential.updated_at.strftime("%Y-%m-%d %H:%M") if credential.updated_at else ""
        tags = ",".join(f"{k}={v}" for k, v in credential.tags.items())
        table.add_row(
            credential.id,
            credential.kind.value,
            credential.scope,
            str(credential.version),
            updated,
            tags,
        )
        count += 1
    Console(file=out, highlight=False, soft_wrap=True).print(table)
    return count


def field_text(credential: Credential, name: str, *, reveal: bool) -> str:
    if name in credential.secret_field_names and not reveal:
        return REDACTED
    return str(credential.reveal(name))
