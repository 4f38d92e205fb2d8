"""What a copy reads from its destination: the listing it plans from, and the read-back
that verifies what it wrote. No writes here."""

from __future__ import annotations

import asyncio
from typing import Final

from ..domain import (
    AuthenticationError,
    CorruptData,
    Credential,
    CredentialError,
    PermissionDenied,
    ProviderUnavailable,
)
from ..providers import CredentialProvider
from .digest import content_digest

# Read back one by one below this many writes; a listing is cheaper above it.
LIST_READ_BACK: Final = 32
# Errors that say the destination is out of reach, not that one credential is unreadable.
OUT_OF_REACH: Final = (ProviderUnavailable, PermissionDenied, AuthenticationError, TimeoutError)

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


class ReadBack:
    """What each written credential reads back as: its digest, or why there is none."""

    def __init__(self) -> None:
        self.digests: dict[str, str] = {}
        self.problems: dict[str, str] = {}

    def matches(self, source: Credential) -> bool:
        return self.digests.get(str(source.id)) == content_digest(source)

    def problem(self, source: Credential) -> str:
        """Why ``source``'s copy does not match (call when :meth:`matches` is False)."""
        cid = str(source.id)
        if cid in self.problems:
            return self.problems[cid]
        if cid in self.digests:
            return "read back differs from the source; rerun with --overwrite to repair"
        return "absent when read back after the write; rerun"


async def read_back(
    destination: CredentialProvider, written: list[Credential], limit: float
) -> ReadBack:
    """Read the ``written`` credentials back (one listing when there are many).

    A copy that does not decode (another writer's, meanwhile) is that credential's
    problem; only an unreachable destination fails them all (it raises).
    """
    result = ReadBack()
    if len(written) >= LIST_READ_BACK:
        found, unreadable = await destination_snapshot(destination, limit)
        for source in written:
            cid = str(source.id)
            if (copy := found.get(cid)) is not None:
                result.digests[cid] = content_digest(copy)
            elif cid in unreadable:
                result.problems[cid] = f"unreadable when read back: {unreadable[cid]}; rerun"
        return result
    for cid in sorted({str(c.id) for c in written}):
        try:
            async with asyncio.timeout(limit):
                back = await destination.retrieve(cid)
        except OUT_OF_REACH:
            raise
        except CredentialError as exc:
            result.problems[cid] = f"unreadable when read back: {exc}; rerun"
            continue
        if back is not None:
            result.digests[cid] = content_digest(back)
    return result
