"""Rewrite every managed Secret unchanged, so the API server stores it again under the
current primary encryption key (the last step of a key rotation).

The API server re-encrypts an object only when it is written. An empty merge patch
carrying the read ``resourceVersion`` is such a write that changes nothing and keeps
every field (owner references included), and it is a compare-and-swap: a Secret changed
meanwhile answers 409, and is read again and retried a bounded number of times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from ...domain import CredentialError
from ..api.errors import Missing, StaleWrite
from ..api.transport import SecretTransport

DEFAULT_CONCURRENCY: Final = 8


@dataclass(slots=True)
class ReencryptSummary:
    """What :func:`reencrypt` did, by Secret name."""

    namespace: str
    rewritten: int = 0
    vanished: int = 0
    conflicts_retried: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.rewritten + self.vanished + len(self.failed)


async def _rewrite_one(
    transport: SecretTransport,
    name: str,
    resource_version: str,
    summary: ReencryptSummary,
    conflict_retries: int,
) -> None:
    version: str | None = resource_version
    for _ in range(conflict_retries + 1):
        try:
            await transport.rewrite(name, version or "")
        except StaleWrite:
            summary.conflicts_retried += 1
            fresh = await transport.get(name)
            version = None if fresh is None else fresh.resource_version
            if version is None:
                summary.vanished += 1
                return
            continue
        except Missing:
            summary.vanished += 1
            return
        summary.rewritten += 1
        return
    summary.failed[name] = f"still changing after {conflict_retries} retries; run it again"


async def reencrypt(
    transport: SecretTransport,
    labels: Mapping[str, str],
    *,
    page_size: int = 250,
    concurrency: int = DEFAULT_CONCURRENCY,
    conflict_retries: int = 5,
    progress: Callable[[ReencryptSummary], None] | None = None,
) -> ReencryptSummary:
    """Rewrite every Secret matching ``labels``; failures are collected, not raised.

    ``progress`` is called after each Secret with the running summary.
    """
    summary = ReencryptSummary(transport.namespace)
    began = time.monotonic()
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(name: str, version: str) -> None:
        async with gate:
            try:
                await _rewrite_one(transport, name, version, summary, conflict_retries)
            except CredentialError as exc:
                summary.failed[name] = exc.message
        if progress is not None:
            progress(summary)

    async for page in transport.list_pages(labels, page_size):
        await asyncio.gather(*(one(s.name, s.resource_version or "") for s in page))
    summary.seconds = time.monotonic() - began
    return summary
