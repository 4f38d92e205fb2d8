"""Filtering audit events and summing them up: counts by user and verb, principals
outside an allow-list, malformed lines. One pass, memory bounded by the number of
distinct users (not by the size of the log)."""

from __future__ import annotations

import fnmatch
import gzip
import io
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Final, cast

from ._events import READ_VERBS, AuditEvent, Deduplicator, Malformed, parse_line

KEPT_LINE_NUMBERS: Final = 20
KEPT_NAMES: Final = 50
GZIP_MAGIC: Final = b"\x1f\x8b"
TRUNCATED: Final = b"\x00 truncated or corrupt gzip stream"
# An event with a Secret in its request and response objects is a few MiB at most; a
# longer line is skipped as malformed, never held whole (a 150 MB line took 315 MB).
MAX_LINE_BYTES: Final = 16 * 1024 * 1024
OVERSIZED: Final = b"\x00 a line longer than the bound"
_SKIP_CHUNK: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events count. Empty collections mean "any"."""

    resource: str = "secrets"
    namespaces: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    verbs: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, event: AuditEvent) -> bool:
        if event.resource != self.resource:
            return False
        if self.namespaces and event.namespace not in self.namespaces:
            return False
        if self.names or self.prefixes:
            # A list or watch without a name reads every name, the wanted ones included.
            named = event.name in self.names or event.name.startswith(self.prefixes or ("\0",))
            if event.name and not named:
                return False
        if self.verbs and event.verb not in self.verbs:
            return False
        if self.users and event.user not in self.users:
            return False
        if self.since is not None and event.time < self.since:
            return False
        return self.until is None or event.time <= self.until


def allowed(user: str, patterns: Sequence[str]) -> bool:
    """``user`` matches one of ``patterns`` (exact names or shell patterns, e.g.
    ``system:serviceaccount:prod:*``)."""
    return any(fnmatch.fnmatchcase(user, p) for p in patterns)


@dataclass(slots=True)
class Principal:
    """What one user did to the selected Secrets."""

    user: str
    verbs: Counter[str] = field(default_factory=Counter)
    reads: int = 0
    denied_reads: int = 0
    names: set[str] = field(default_factory=set)
    namespaces: set[str] = field(default_factory=set)
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    def add(self, event: AuditEvent) -> None:
        self.verbs[event.verb] += 1
        if event.is_read:
            if event.denied:
                self.denied_reads += 1
            elif event.succeeded:
                self.reads += 1
        if event.name and len(self.names) < KEPT_NAMES:
            self.names.add(event.name)
        if event.namespace:
            self.namespaces.add(event.namespace)
        if self.first_seen is None or event.time < self.first_seen:
            self.first_seen = event.time
        if self.last_seen is None or event.time > self.last_seen:
            self.last_seen = event.time

    def to_dict(self) -> dict[str, Any]:
        def stamp(moment: datetime | None) -> str | None:
            return moment.isoformat().replace("+00:00", "Z") if moment else None

        return {
            "user": self.user,
            "verbs": dict(sorted(self.verbs.items())),
            "reads": self.reads,
            "denied_reads": self.denied_reads,
            "namespaces": sorted(self.namespaces),
            "names": sorted(self.names),
            "first_seen": stamp(self.first_seen),
            "last_seen": stamp(self.last_seen),
        }


@dataclass(slots=True)
class AuditReport:
    lines: int = 0
    events: int = 0
    matched: int = 0
    malformed: int = 0
    malformed_lines: list[int] = field(default_factory=list)
    by_verb: Counter[str] = field(default_factory=Counter)
    principals: dict[str, Principal] = field(default_factory=dict)
    allow: tuple[str, ...] = ()

    @property
    def flagged(self) -> list[Principal]:
        """Users outside the allow-list who read (or tried to read) a selected Secret."""
        if not self.allow:
            return []
        return [
            p
            for user, p in sorted(self.principals.items())
            if any(p.verbs[v] for v in READ_VERBS) and not allowed(user, self.allow)
        ]

    def to_dict(self) -> dict[str, Any]:
        users = sorted(self.principals.values(), key=lambda p: (-sum(p.verbs.values()), p.user))
        return {
            "lines": self.lines,
            "events": self.events,
            "matched": self.matched,
            "malformed": {"count": self.malformed, "lines": list(self.malformed_lines)},
            "by_verb": dict(sorted(self.by_verb.items())),
            "by_user": [p.to_dict() for p in users],
            "allow": list(self.allow),
            "flagged": [p.to_dict() for p in self.flagged],
        }


def open_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of a plain or gzip-compressed binary stream, read lazily.

    A gzip stream cut short (a log copied while being rotated) ends with one line that
    :func:`analyse` counts as malformed, instead of an error that loses the report. So
    does each line longer than :data:`MAX_LINE_BYTES`, read past without being kept.
    """
    buffered: Any = stream if hasattr(stream, "peek") else io.BufferedReader(cast(Any, stream))
    if buffered.peek(2)[:2] != GZIP_MAGIC:
        yield from _bounded(buffered)
        return
    try:
        yield from _bounded(gzip.GzipFile(fileobj=buffered))
    except (EOFError, OSError, zlib.error):  # gzip.BadGzipFile is an OSError
        yield TRUNCATED


def _bounded(stream: Any) -> Iterator[bytes]:
    """Each line of ``stream``, or OVERSIZED in place of one over the bound (read in
    chunks and dropped as soon as it is known to be too long)."""
    while chunk := stream.readline(_SKIP_CHUNK):
        if chunk.endswith(b"\n"):
            yield chunk  # nearly every line: one read, no copy
            continue
        parts, size, ended = [chunk], len(chunk), False
        while size <= MAX_LINE_BYTES and (chunk := stream.readline(_SKIP_CHUNK)):
            parts.append(chunk)
            size += len(chunk)
            if ended := chunk.endswith(b"\n"):
                break
        if size <= MAX_LINE_BYTES:
            yield b"".join(parts)
            continue
        parts.clear()
        while not ended and (chunk := stream.readline(_SKIP_CHUNK)):
            ended = chunk.endswith(b"\n")
        yield OVERSIZED


def analyse(
    lines: Iterable[bytes | str],
    selection: AuditFilter,
    *,
    allow: Sequence[str] = (),
    on_event: Callable[[AuditEvent], None] | None = None,
) -> AuditReport:
    """One pass over audit log lines; ``on_event`` sees every matching event in order."""
    report = AuditReport(allow=tuple(allow))
    dedupe = Deduplicator()
    for number, line in enumerate(lines, start=1):
        report.lines = number
        if not line.strip():
            continue
        try:
            event = parse_line(line)
        except Malformed:
            report.malformed += 1
            if len(report.malformed_lines) < KEPT_LINE_NUMBERS:
                report.malformed_lines.append(number)
            continue
        if not dedupe.first_sighting(event):
            continue
        report.events += 1
        if not selection.matches(event):
            continue
        report.matched += 1
        report.by_verb[event.verb] += 1
        principal = report.principals.get(event.user)
        if principal is None:
            principal = report.principals[event.user] = Principal(event.user)
        principal.add(event)
        if on_event is not None:
            on_event(event)
    return report
