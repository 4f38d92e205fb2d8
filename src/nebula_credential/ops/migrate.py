"""Migrate credentials from any provider to any provider."""

from __future__ import annotations

import asyncio
import contextlib

from ..domain import CorruptData, Credential
from ..providers import CredentialProvider, ListFilter
from .engine import CopyOptions, copy_all, destination_snapshot
from .results import CopySummary, ItemResult, Outcome, ProgressCallback


async def read_source(
    source: CredentialProvider, selection: ListFilter | None
) -> tuple[list[Credential], list[ItemResult]]:
    """The selected credentials, and a failure for each stored item that does not decode."""
    unreadable: list[ItemResult] = []

    def skip(error: CorruptData) -> None:
        cid = str(error.credential_id or "<unknown id>")
        unreadable.append(ItemResult(cid, Outcome.FAILED, f"source unreadable: {error.message}"))

    base = selection or ListFilter()
    chosen = ListFilter(base.scope, base.descendants, base.kind, base.tags, on_skip=skip)
    credentials = [c async for c in source.iter_credentials(chosen)]
    return credentials, unreadable


async def migrate(
    source: CredentialProvider,
    destination: CredentialProvider,
    *,
    selection: ListFilter | None = None,
    dry_run: bool = False,
    concurrency: int = 16,
    overwrite: bool = False,
    on_progress: ProgressCallback | None = None,
    target: str = "destination",
) -> CopySummary:
    """Copy the credentials ``selection`` picks from ``source`` into ``destination``.

    Identical copies are left alone, absent ones created, differing ones skipped unless
    ``overwrite`` (then replaced with CAS on the version read). A copy carries the
    previous version the source keeps, its timestamps and its version number. Every
    write is read back and compared by digest. Nothing is written with ``dry_run``.
    Errors of single credentials end up in the summary (contention fails only that
    credential; an unreachable destination stops the run, see :mod:`.engine`); errors
    listing the source are raised.
    """
    options = CopyOptions(dry_run=dry_run, concurrency=concurrency, overwrite=overwrite)
    # The destination is listed while the source is read: two listings, one wait.
    snapshot = asyncio.ensure_future(destination_snapshot(destination, options.timeout))
    try:
        credentials, unreadable = await read_source(source, selection)
    except BaseException:
        snapshot.cancel()
        with contextlib.suppress(BaseException):
            await snapshot
        raise
    summary = await copy_all(
        credentials,
        destination,
        target=target,
        options=options,
        on_progress=on_progress,
        snapshot=snapshot,
        source=source,
    )
    summary.results.extend(unreadable)
    return summary
