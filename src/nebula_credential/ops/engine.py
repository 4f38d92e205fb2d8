"""Copy credentials into one destination: plan, write with CAS, read back, compare.

The plan comes from one listing of the destination, not a read per credential: each
source credential is absent there (create), identical by :func:`content_digest`
(unchanged), or different (skipped, or updated with ``overwrite``). Creates are sent
as a version-0 copy with ``expected_version=0``, so the provider creates straight away
and a concurrent creator is a Conflict rather than an overwrite; updates carry the
version that was read. Written credentials are read back (again one listing when there
are many) and compared by digest. A rerun after any failure plans again from what is
there, so a run is idempotent and resumable by construction.

Once the destination is unreachable or refuses access, the remaining credentials are
not attempted: each is reported failed with that reason instead of waiting out retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Final

from ..domain import (
    RESERVED_TAG_KEYS,
    AuthenticationError,
    Conflict,
    CorruptData,
    Credential,
    CredentialError,
    PermissionDenied,
    ProviderUnavailable,
)
from ..providers import CredentialProvider
from .digest import content_digest
from .results import CopySummary, ItemResult, Outcome, Progress, ProgressCallback

# Errors that say the whole destination is out of reach, not this one credential.
_FATAL: Final = (ProviderUnavailable, PermissionDenied, AuthenticationError)
# Read back one by one below this many writes; a listing is cheaper above it.
_LIST_READ_BACK: Final = 32


@dataclass(frozen=True, slots=True)
class CopyOptions:
    dry_run: bool = False
    concurrency: int = 16
    overwrite: bool = False
    timeout: float = 120.0  # per request to the destination, beyond its own retries


@dataclass(slots=True)
class _Run:
    destination: CredentialProvider
    target: str
    options: CopyOptions
    on_progress: ProgressCallback | None
    total: int
    done: int = 0
    halted: str | None = None

    def report(self, result: ItemResult, phase: str = "copy") -> ItemResult:
        if phase == "copy":
            self.done += 1
        if self.on_progress is not None:
            self.on_progress(Progress(result, self.done, self.total, phase))
        return result

    def item(self, cid: str, outcome: Outcome, reason: str | None = None) -> ItemResult:
        return ItemResult(cid, outcome, reason, self.target)


def without_reserved_tags(credential: Credential) -> Credential:
    """``credential`` as it is copied: a reserved tag (where an earlier version kept a
    rotation's lease) stays behind, so a copy never claims a rotation that is not
    running where it lands. Planning, writing and the read-back all see this form."""
    if not RESERVED_TAG_KEYS & credential.tags.keys():
        return credential
    tags = {k: v for k, v in credential.tags.items() if k not in RESERVED_TAG_KEYS}
    return credential.evolve(tags=tags)


def fresh_copy(credential: Credential) -> Credential:
    """``credential`` as never stored: version 0, so the destination creates it directly."""
    if credential.version == 0:
        return credential
    if credential.created_at is not None and credential.updated_at is not None:
        return credential.revised(0, credential.created_at, credential.updated_at)
    return credential.evolve(version=0)


#: The destination's credentials by id, and the ids of those that do not decode.
Snapshot = tuple[dict[str, Credential], dict[str, str]]


async def destination_snapshot(destination: CredentialProvider, limit: float) -> Snapshot:
    """Every credential of ``destination`` by id, and the ids whose copy is unreadable;
    ``limit`` is the per-request timeout (the whole listing gets five times that)."""
    found: dict[str, Credential] = {}
    unreadable: dict[str, str] = {}

    def skip(error: CorruptData) -> None:
        if error.credential_id is not None:
            unreadable[str(error.credential_id)] = error.message

    async def collect() -> None:
        async for credential in destination.list_all(on_skip=skip):
            found[credential.id] = credential

    async with asyncio.timeout(limit * 5):
        await collect()
    return found, unreadable


async def _write(run: _Run, source: Credential, current: Credential | None) -> ItemResult:
    cid = str(source.id)
    if run.halted is not None:
        return run.item(cid, Outcome.FAILED, f"not attempted: {run.halted}")
    outcome = Outcome.CREATED if current is None else Outcome.UPDATED
    expected = 0 if current is None else current.version
    try:
        async with asyncio.timeout(run.options.timeout):
            await run.destination.store(fresh_copy(source), expected_version=expected)
    except Conflict as exc:
        return run.item(cid, Outcome.FAILED, f"changed by another writer meanwhile: {exc}; rerun")
    except _FATAL as exc:
        run.halted = run.halted or f"{run.target} is unavailable: {exc}"
        return run.item(cid, Outcome.FAILED, str(exc))
    except CredentialError as exc:
        return run.item(cid, Outcome.FAILED, str(exc))
    except TimeoutError:
        run.halted = run.halted or f"{run.target} did not answer in {run.options.timeout:.0f}s"
        return run.item(cid, Outcome.FAILED, run.halted)
    return run.item(cid, outcome)


def _plan(
    run: _Run, source: Credential, current: Credential | None, unreadable: dict[str, str]
) -> ItemResult | None:
    """The outcome decided without writing, or None when a write is due."""
    cid = str(source.id)
    if cid in unreadable:
        return run.item(cid, Outcome.SKIPPED, f"destination copy unreadable: {unreadable[cid]}")
    if current is not None and content_digest(current) == content_digest(source):
        return run.item(cid, Outcome.UNCHANGED)
    if current is not None and not run.options.overwrite:
        return run.item(cid, Outcome.SKIPPED, "destination copy differs; use --overwrite")
    if run.options.dry_run:
        return run.item(cid, Outcome.CREATED if current is None else Outcome.UPDATED)
    return None


async def _read_back(run: _Run, written: list[Credential]) -> dict[str, str | None]:
    """The digest each written credential reads back with (None: absent or unreadable)."""
    ids = {str(c.id) for c in written}
    if len(written) >= _LIST_READ_BACK:
        found, _ = await destination_snapshot(run.destination, run.options.timeout)
        return {cid: content_digest(c) if (c := found.get(cid)) else None for cid in ids}
    digests: dict[str, str | None] = {}
    for cid in sorted(ids):
        async with asyncio.timeout(run.options.timeout):
            back = await run.destination.retrieve(cid)
        digests[cid] = None if back is None else content_digest(back)
    return digests


async def copy_all(
    credentials: Sequence[Credential],
    destination: CredentialProvider,
    *,
    target: str = "destination",
    options: CopyOptions | None = None,
    on_progress: ProgressCallback | None = None,
    snapshot: Awaitable[Snapshot] | None = None,
) -> CopySummary:
    """Copy ``credentials`` into ``destination``; never raises for a credential's error.

    ``snapshot`` is the destination's :func:`destination_snapshot` when the caller has
    already started it (while it read the source); otherwise it is taken here.
    """
    options = options or CopyOptions()
    credentials = [without_reserved_tags(c) for c in credentials]
    run = _Run(destination, target, options, on_progress, len(credentials))
    summary = CopySummary(target, options.dry_run)
    if snapshot is None:
        snapshot = destination_snapshot(destination, options.timeout)
    try:
        found, unreadable = await snapshot
    except (CredentialError, TimeoutError) as exc:
        reason = f"cannot list {target}: {exc or 'timed out'}"
        summary.results = [run.report(run.item(c.id, Outcome.FAILED, reason)) for c in credentials]
        return summary

    pending = iter(credentials)
    by_id: dict[str, ItemResult] = {}

    async def worker() -> None:
        for source in pending:  # shared iterator: each credential goes to one worker
            current = found.get(source.id)
            result = _plan(run, source, current, unreadable)
            if result is None:
                result = await _write(run, source, current)
            by_id[source.id] = run.report(result)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(options.concurrency, len(credentials)))):
            group.create_task(worker())

    written = [c for c in credentials if by_id[c.id].outcome in (Outcome.CREATED, Outcome.UPDATED)]
    if written and not options.dry_run:
        await _verify(run, written, by_id)
    summary.results = [by_id[c.id] for c in credentials]
    return summary


async def _verify(run: _Run, written: list[Credential], by_id: dict[str, ItemResult]) -> None:
    try:
        digests = await _read_back(run, written)
    except (CredentialError, TimeoutError) as exc:
        reason = f"written, but the read-back failed: {exc or 'timed out'}; rerun to verify"
        digests = {}
    else:
        reason = "read back differs from the source; rerun with --overwrite to repair"
    for source in written:
        cid = str(source.id)
        if cid in digests and digests[cid] == content_digest(source):
            continue
        why = reason
        if cid in digests and digests[cid] is None:
            why = "absent when read back after the write; rerun"
        by_id[cid] = run.report(run.item(cid, Outcome.FAILED, why), phase="verify")
