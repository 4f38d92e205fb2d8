"""Replicate credentials to several destinations (clusters, contexts) at once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from ..domain import Credential, CredentialId
from ..providers import CredentialProvider, ListFilter
from .engine import CopyOptions, copy_all
from .migrate import read_source
from .results import CopySummary, ItemResult, Outcome, ProgressCallback


async def replicate(
    source: CredentialProvider,
    targets: Mapping[str, CredentialProvider],
    *,
    ids: Sequence[str] = (),
    selection: ListFilter | None = None,
    dry_run: bool = False,
    concurrency: int = 16,
    overwrite: bool = False,
    on_progress: ProgressCallback | None = None,
) -> dict[str, CopySummary]:
    """Copy the named ``ids`` (or what ``selection`` picks) to every target concurrently.

    The source is read once; copies carry the previous version it keeps, their
    timestamps and version numbers. Each target gets its own summary; a target that is
    unreachable or refuses access fails on its own and never stops the others.
    """
    credentials: list[Credential] = []
    problems: list[ItemResult] = []
    if ids:
        for raw in dict.fromkeys(ids):
            cid = CredentialId(raw)
            found = await source.retrieve(cid)
            if found is None:
                problems.append(ItemResult(cid, Outcome.FAILED, "not found in the source"))
            else:
                credentials.append(found)
    if selection is not None or not ids:
        listed, unreadable = await read_source(source, selection)
        seen = {c.id for c in credentials}
        credentials.extend(c for c in listed if c.id not in seen)
        problems.extend(unreadable)
    options = CopyOptions(dry_run=dry_run, concurrency=concurrency, overwrite=overwrite)

    async def one(name: str, provider: CredentialProvider) -> CopySummary:
        summary = await copy_all(
            credentials,
            provider,
            target=name,
            options=options,
            on_progress=on_progress,
            source=source,
        )
        summary.results.extend(
            ItemResult(p.credential_id, p.outcome, p.reason, name) for p in problems
        )
        return summary

    names = list(targets)
    done = await asyncio.gather(*(one(n, targets[n]) for n in names))
    return dict(zip(names, done, strict=True))
