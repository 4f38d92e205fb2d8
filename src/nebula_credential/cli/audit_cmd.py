"""``audit``: who read which Secret, from a kube-apiserver audit log.

Exit code 1 when ``--allow`` is given and anyone else read (or tried to read) a selected
Secret; 2 for bad input. Malformed lines are counted and reported, never fatal.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from .inputs import UsageError, parse_duration
from .output import OutputFormat, _dump_yaml
from .safe_text import cell, json_text, one_line

if TYPE_CHECKING:
    from ..audit import AuditEvent, AuditReport

_RELATIVE = re.compile(r"\d{1,9}[smhd]")
_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")

Many = Annotated[list[str] | None, typer.Option()]


def _moment(text: str | None, option: str, now: datetime) -> datetime | None:
    """RFC 3339, or a duration back from now: 90s, 30m, 2h, 7d."""
    if text is None:
        return None
    if _RELATIVE.fullmatch(text):
        return now - parse_duration(text, option, bare_seconds=False)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} {text[:40]!r} must be RFC 3339 (2024-05-01T12:00:00Z) or a duration "
            "back from now (90s, 30m, 2h, 7d)"
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _open(log: str) -> BinaryIO:
    if log == "-":
        if sys.stdin.isatty():
            raise UsageError("give an audit log file, or pipe one into: audit -")
        return sys.stdin.buffer
    try:
        return open(log, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read audit log {log}: {exc.strerror}") from None


def _print_event(fmt: OutputFormat) -> Any:
    def show(event: AuditEvent) -> None:
        record = event.to_dict()
        if fmt is OutputFormat.JSON:
            import json

            sys.stdout.write(json_text(json.dumps(record)) + "\n")
        elif fmt is OutputFormat.YAML:  # a stream of documents, one per event
            sys.stdout.write("---\n")
            _dump_yaml(record, sys.stdout)
        else:
            where = f"{record['namespace']}/{record['name'] or '*'}"
            code = record["code"] if record["code"] is not None else "-"
            line = f"{record['time']}  {event.user}  {event.verb}  {where}  {code}"
            sys.stdout.write(one_line(line) + "\n")

    return show


def _table(report: AuditReport) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped output keeps user names whole instead of folding them at 80 columns.
    width = None if sys.stdout.isatty() else 240
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True, width=width)
    console.print(
        f"{report.lines} lines, {report.events} audit events, {report.matched} matching "
        f"Secret events, {report.malformed} malformed lines"
    )
    users = Table(title="Secret access by user")
    for column in ("USER", *(v.upper() for v in _VERBS), "OTHER", "TOTAL"):
        users.add_column(column, overflow="fold")
    for entry in report.to_dict()["by_user"]:
        verbs = entry["verbs"]
        other = sum(n for v, n in verbs.items() if v not in _VERBS)
        counts = [str(verbs.get(v, "")) for v in _VERBS]
        totals = (str(other or ""), str(sum(verbs.values())))
        users.add_row(cell(entry["user"]), *map(cell, (*counts, *totals)))
    console.print(users)
    if report.allow:
        flagged = Table(title="Read by principals outside --allow")
        for column in ("USER", "READS", "DENIED", "NAMESPACES", "NAMES", "LAST SEEN"):
            flagged.add_column(column, overflow="fold")
        for principal in report.flagged:
            entry = principal.to_dict()
            row = (
                entry["user"],
                str(entry["reads"]),
                str(entry["denied_reads"]),
                ", ".join(entry["namespaces"]),
                ", ".join(entry["names"]) or "(list/watch)",
                entry["last_seen"] or "",
            )
            flagged.add_row(*map(cell, row))
        console.print(flagged if report.flagged else "No principal outside --allow read a Secret.")


def audit(
    ctx: typer.Context,
    log: Annotated[str, typer.Argument(metavar="[LOG|-]", help="JSON lines, plain or gzip")] = "-",
    namespace: Many = None,
    name: Many = None,
    prefix: Annotated[list[str] | None, typer.Option(help="Secret name prefix")] = None,
    verb: Many = None,
    user: Many = None,
    since: Annotated[str | None, typer.Option(help="RFC 3339 or 30m, 2h, 7d ago")] = None,
    until: Annotated[str | None, typer.Option(help="RFC 3339 or 30m, 2h, 7d ago")] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option(help="Allowed reader (user name or pattern like system:serviceaccount:ns:*)"),
    ] = None,
    events: Annotated[bool, typer.Option(help="Print each matching event instead")] = False,
    output: Annotated[
        OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")
    ] = None,
) -> None:
    """Secret events of a kube-apiserver audit log: counts by user and verb, flags."""
    from ..audit import AuditFilter, analyse, open_lines

    state = ctx.find_root().obj
    fmt: OutputFormat = output or getattr(state, "output", None) or OutputFormat.TABLE
    global_ns = getattr(getattr(state, "options", None), "namespace", None)
    now = datetime.now(UTC)
    selection = AuditFilter(
        namespaces=frozenset(namespace or ([global_ns] if global_ns else [])),
        names=frozenset(name or ()),
        prefixes=tuple(prefix or ()),
        verbs=frozenset(v.lower() for v in verb or ()),
        users=frozenset(user or ()),
        since=_moment(since, "--since", now),
        until=_moment(until, "--until", now),
    )
    stream = _open(log)
    try:
        report = analyse(
            open_lines(stream),
            selection,
            allow=allow or (),
            on_event=_print_event(fmt) if events else None,
        )
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if not events:
        _print_report(report, fmt)
    if report.malformed:
        shown = ", ".join(map(str, report.malformed_lines))
        more = "" if report.malformed <= len(report.malformed_lines) else ", ..."
        sys.stderr.write(
            f"warning: {report.malformed} malformed line(s) skipped (line {shown}{more})\n"
        )
    if report.flagged:
        users = ", ".join(p.user for p in report.flagged)
        sys.stderr.write(
            one_line(
                f"flagged: {len(report.flagged)} principal(s) outside --allow read Secrets: {users}"
            )
            + "\n"
        )
        raise typer.Exit(1)


def _print_report(report: AuditReport, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.JSON:
        import json

        sys.stdout.write(json_text(json.dumps(report.to_dict(), indent=2)) + "\n")
    elif fmt is OutputFormat.YAML:
        _dump_yaml(report.to_dict(), sys.stdout)
    else:
        _table(report)


def register(app: typer.Typer) -> None:
    app.command()(audit)
