"""Copy credentials into one destination: plan, write with CAS, read back, compare.

The plan comes from one listing of the destination, not a read per credential: each
source credential is absent there (create), identical by :func:`content_digest`
(unchanged), or different (skipped, or updated with ``overwrite``). Creates are sent
as a version-0 copy with ``expected_version=0``, so the provider creates straight away
and a concurrent creator is a Conflict rather than an overwrite; updates carry the
version that was read. A copy is the same credential with its history: the previous
version the source keeps (a rotation's, for rollback) is written with it in the same
write, and it keeps its timestamps and version number (:func:`fresh_copy`). Written
credentials are read back (again one listing when there are many) and compared by
digest. A rerun after any failure plans again from what is there, so a run is
idempotent and resumable by construction.

Failures are per credential. A credential under contention — changed by another
writer meanwhile (Conflict), its rotation lease held, a store lock held past the
timeout, a lost reply — fails alone and the others are still attempted. The run stops
(the rest reported "not attempted" instead of each waiting out retries) only when the
destination itself is out of reach: at once when it refuses access (PermissionDenied,
AuthenticationError), and when as many writes in a row as run at once (at least two)
found it unavailable (ProviderUnavailable, or no answer within the timeout) with no
answer of any kind in between. Reads of the source's previous versions that find the
source unavailable count in that streak too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Final

from ..domain import (
    RESERVED_TAG_KEYS,
    AuthenticationError,
    ConfigurationError,
    Conflict,
    CorruptData,
    Credential,
    CredentialError,
    PermissionDenied,
    ProviderUnavailable,
)
from ..providers import CredentialProvider
from ..providers.versioning import copied
from .destination import Snapshot, destination_snapshot, read_back
from .digest import content_digest
from .results import CopySummary, ItemResult, Outcome, Progress, ProgressCallback

__all__ = ["CopyOptions", "Snapshot", "copy_all", "destination_snapshot", "fresh_copy"]

# The destination refuses us, whichever the credential: nothing else can succeed.
_REFUSED: Final = (PermissionDenied, AuthenticationError)
# This credential's contention or the destination being down: a streak tells them apart.
_UNAVAILABLE: Final = (ProviderUnavailable, TimeoutError)


@dataclass(frozen=True, slots=True)
class CopyOptions:
    dry_run: bool = False
    concurrency: int = 16
    overwrite: bool = False
    timeout: float = 120.0  # per request to the destination, beyond its own retries


@dataclass(slots=True)
class _Run:
    destination: CredentialProvider
    source: CredentialProvider | None
    target: str
    options: CopyOptions
    on_progress: ProgressCallback | None
    total: int
    streak_limit: int = 2  # unavailable writes in a row that stop the run
    done: int = 0
    streak: int = 0  # writes in a row that found the destination unavailable
    halted: str | None = None

    def report(self, result: ItemResult, phase: str = "copy") -> ItemResult:
        if phase == "copy":
            self.done += 1
        if self.on_progress is not None:
            self.on_progress(Progress(result, self.done, self.total, phase))
        return result

    def item(self, cid: str, outcome: Outcome, reason: str | None = None) -> ItemResult:
        # A plain str: a CredentialId (a str subclass) would not encode in JSON output.
        return ItemResult(str(cid), outcome, reason, self.target)

    def answered(self) -> None:
        """The destination answered (a write, or a refusal of this one credential)."""
        self.streak = 0

    def unavailable(self, why: str) -> None:
        """One more write found the destination unavailable; a long enough streak of
        them, with no answer in between, means it is down: stop."""
        self.streak += 1
        if self.streak >= self.streak_limit:
            self.halted = self.halted or why


def without_reserved_tags(credential: Credential) -> Credential:
    """``credential`` as it is copied: a reserved tag (where an earlier version kept a
    rotation's lease) stays behind, so a copy never claims a rotation that is not
    running where it lands. Planning, writing and the read-back all see this form."""
    if not RESERVED_TAG_KEYS & credential.tags.keys():
        return credential
    tags = {k: v for k, v in credential.tags.items() if k not in RESERVED_TAG_KEYS}
    return credential.evolve(tags=tags)


def fresh_copy(credential: Credential) -> Credential:
    """``credential`` as never stored at the destination: version 0, so the destination
    creates it directly; stored, it keeps its timestamps and version number."""
    return copied(credential)


async def _kept_previous(run: _Run, source: Credential) -> Credential | None:
    """The previous version the source keeps for ``source`` (None: none, or a source
    that keeps none); raises the source's error when it cannot be read."""
    if run.source is None:
        return None
    try:
        async with asyncio.timeout(run.options.timeout):
            kept = await run.source.retrieve_previous(source.id)
    except ConfigurationError:
        return None  # a provider that keeps no previous versions
    return None if kept is None else without_reserved_tags(kept)


async def _write(run: _Run, source: Credential, current: Credential | None) -> ItemResult:
    cid = str(source.id)
    if run.halted is not None:
        return run.item(cid, Outcome.FAILED, f"not attempted: {run.halted}")
    try:
        previous = await _kept_previous(run, source)
    except (CredentialError, TimeoutError) as exc:
        why = f"the source's previous version could not be read: {exc or 'timed out'}; rerun"
        if isinstance(exc, _UNAVAILABLE):  # a source gone down stops the run as well
            run.unavailable(f"the source is unavailable: {exc or 'timed out'}")
        return run.item(cid, Outcome.FAILED, why)
    outcome = Outcome.CREATED if current is None else Outcome.UPDATED
    expected = 0 if current is None else current.version
    try:
        async with asyncio.timeout(run.options.timeout):
            await run.destination.store(
                fresh_copy(source), expected_version=expected, previous=previous
            )
    except Conflict as exc:
        run.answered()
        if expected == 0 and not await _holds_a_credential(run, cid):
            return await _adopt(run, source, previous)
        return run.item(cid, Outcome.FAILED, f"changed by another writer meanwhile: {exc}; rerun")
    except _REFUSED as exc:
        run.halted = run.halted or f"{run.target} refused access: {exc}"
        return run.item(cid, Outcome.FAILED, str(exc))
    except _UNAVAILABLE as exc:
        why = str(exc) or f"{run.target} did not answer in {run.options.timeout:.0f}s"
        run.unavailable(f"{run.target} is unavailable: {why}")
        return run.item(cid, Outcome.FAILED, why)
    except CredentialError as exc:
        run.answered()
        return run.item(cid, Outcome.FAILED, str(exc))
    run.answered()
    return run.item(cid, outcome)


async def _holds_a_credential(run: _Run, cid: str) -> bool:
    """Whether the destination now holds a credential at ``cid`` (a writer raced us)
    rather than something that is no credential (a Secret labelled to be adopted)."""
    try:
        async with asyncio.timeout(run.options.timeout):
            return await run.destination.retrieve(cid) is not None
    except CorruptData:
        return False
    except (CredentialError, TimeoutError):
        return True  # unknown: reported as the conflict it was


async def _adopt(run: _Run, source: Credential, previous: Credential | None) -> ItemResult:
    """Write over what is at the name only with ``--overwrite``, and say so."""
    cid = str(source.id)
    if not run.options.overwrite:
        return run.item(
            cid,
            Outcome.SKIPPED,
            "something that is not a credential is at its name; use --overwrite to write over it",
        )
    try:
        async with asyncio.timeout(run.options.timeout):
            await run.destination.store(fresh_copy(source), previous=previous)
    except (CredentialError, TimeoutError) as exc:
        return run.item(cid, Outcome.FAILED, str(exc) or "timed out")
    return run.item(cid, Outcome.UPDATED, "written over what was at its name (--overwrite)")


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


async def copy_all(
    credentials: Sequence[Credential],
    destination: CredentialProvider,
    *,
    target: str = "destination",
    options: CopyOptions | None = None,
    on_progress: ProgressCallback | None = None,
    snapshot: Awaitable[Snapshot] | None = None,
    source: CredentialProvider | None = None,
) -> CopySummary:
    """Copy ``credentials`` into ``destination``; never raises for a credential's error.

    ``snapshot`` is the destination's :func:`destination_snapshot` when the caller has
    already started it (while it read the source); otherwise it is taken here.
    ``source``, where the credentials were read, gives the previous version each one
    keeps; it is copied along (without ``source``, none is).
    """
    options = options or CopyOptions()
    credentials = [without_reserved_tags(c) for c in credentials]
    workers = max(1, min(options.concurrency, len(credentials)))
    run = _Run(destination, source, target, options, on_progress, len(credentials))
    run.streak_limit = max(2, workers)
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
        for _ in range(workers):
            group.create_task(worker())

    written = [c for c in credentials if by_id[c.id].outcome in (Outcome.CREATED, Outcome.UPDATED)]
    if written and not options.dry_run:
        await _verify(run, written, by_id)
    summary.results = [by_id[c.id] for c in credentials]
    return summary


async def _verify(run: _Run, written: list[Credential], by_id: dict[str, ItemResult]) -> None:
    try:
        back = await read_back(run.destination, written, run.options.timeout)
    except (CredentialError, TimeoutError) as exc:
        reason = f"written, but the read-back failed: {exc or 'timed out'}; rerun to verify"
        for source in written:
            by_id[source.id] = run.report(run.item(source.id, Outcome.FAILED, reason), "verify")
        return
    for source in written:
        if not back.matches(source):
            failed = run.item(source.id, Outcome.FAILED, back.problem(source))
            by_id[source.id] = run.report(failed, phase="verify")
