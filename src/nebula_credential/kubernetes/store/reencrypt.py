"""Write Secrets back unchanged, so the API server stores them again under its current
primary encryption key (the last step of a key rotation, before the old key is removed).

The API server re-encrypts an object only when it is written. An empty merge patch
carrying the read ``resourceVersion`` is such a write that changes nothing and keeps
every field (owner references included), and it is a compare-and-swap: a Secret changed
meanwhile answers 409, and is read again and retried a bounded number of times; one
deleted meanwhile is counted and skipped. The API server skips the etcd write when the
stored copy is already under its primary key: the resourceVersion then stays, and the
Secret is counted as ``current`` (a rerun after an interruption costs requests, never
writes).

The Kubernetes documentation asks for every Secret of the cluster to be rewritten
before a key is removed. Without ``all_secrets`` only our own Secrets are rewritten and
the others are counted as ``untouched``: the old key must then stay configured.

Pages come in key order (``namespace/name``); after each finished page the summary's
``position`` is a point to resume from (``Resume``), with the failed Secrets to retry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from ...domain import (
    AuthenticationError,
    CredentialError,
    NotFound,
    PermissionDenied,
    ProviderUnavailable,
)
from ..api.errors import Missing, StaleWrite
from ..api.secret_sweep import SweptSecret
from ..api.transport import SecretTransport
from ..model.naming import MANAGED_BY, MANAGER

DEFAULT_CONCURRENCY: Final = 8
# Errors that every other Secret would meet as well: the run stops at once with them.
_FATAL: Final = (PermissionDenied, AuthenticationError, ProviderUnavailable)


class SweepSource(Protocol):
    """What a re-encryption needs of the cluster (``api.secret_sweep.SecretSweep``)."""

    async def namespace_exists(self, namespace: str) -> bool | None: ...

    def pages(
        self, namespace: str | None, page_size: int
    ) -> AsyncGenerator[list[SweptSecret], None]: ...

    async def version(self, namespace: str, name: str) -> str | None: ...

    async def rewrite(self, namespace: str, name: str, resource_version: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Resume:
    """Where an interrupted run stopped: every Secret at or before ``after`` (a
    ``namespace/name`` key) was done, except ``retry``."""

    after: str | None = None
    retry: Sequence[str] = ()


@dataclass(slots=True)
class ReencryptSummary:
    """What a re-encryption did, in counts; failures by ``namespace/name``."""

    namespace: str | None  # None: every namespace
    all_secrets: bool = False
    rewritten: int = 0  # written again, under the current key now
    current: int = 0  # already under the current key: the server wrote nothing
    untouched: int = 0  # not ours and not asked for (all_secrets=False)
    vanished: int = 0  # deleted meanwhile
    skipped: int = 0  # done by the run this one resumes
    conflicts_retried: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    position: str | None = None  # the last key of the last finished page
    ordered: bool = True  # pages came in key order: ``position`` is a resume point

    @property
    def total(self) -> int:
        """Secrets seen so far (what progress counts)."""
        return (
            self.rewritten
            + self.current
            + self.untouched
            + self.vanished
            + self.skipped
            + len(self.failed)
        )


async def _rewrite_one(
    source: SweepSource, secret: SweptSecret, summary: ReencryptSummary, retries: int
) -> None:
    version: str | None = secret.resource_version
    for _ in range(retries + 1):
        if version is None:
            summary.vanished += 1
            return
        try:
            written = await source.rewrite(secret.namespace, secret.name, version)
        except StaleWrite:
            summary.conflicts_retried += 1
            version = await source.version(secret.namespace, secret.name)
            continue
        except Missing:
            summary.vanished += 1
            return
        if written == version:
            summary.current += 1
        else:
            summary.rewritten += 1
        return
    summary.failed[secret.key] = f"still changing after {retries} retries; run it again"


async def reencrypt_secrets(
    source: SweepSource,
    namespace: str | None,
    *,
    all_secrets: bool = False,
    page_size: int = 250,
    concurrency: int = DEFAULT_CONCURRENCY,
    conflict_retries: int = 5,
    resume: Resume | None = None,
    progress: Callable[[ReencryptSummary], None] | None = None,
    checkpoint: Callable[[ReencryptSummary], None] | None = None,
) -> ReencryptSummary:
    """Rewrite the Secrets of ``namespace`` (None: of every namespace): all of them with
    ``all_secrets``, else ours only. Per-Secret failures are collected in the summary;
    a missing namespace is :class:`NotFound`; a refusal, failed authentication or an
    unavailable server stops the run and is raised.

    ``progress`` is called after each Secret, ``checkpoint`` after each finished page,
    both with the running summary.
    """
    summary = ReencryptSummary(namespace, all_secrets)
    if namespace is not None and await source.namespace_exists(namespace) is False:
        raise NotFound(
            f"namespace {namespace!r} does not exist: there is no Secret to re-encrypt in "
            "it; name an existing namespace, or re-encrypt every namespace"
        )
    began = time.monotonic()
    gate = asyncio.Semaphore(max(1, concurrency))
    stop: list[CredentialError] = []

    async def one(secret: SweptSecret) -> None:
        async with gate:
            try:
                if not stop:
                    await _rewrite_one(source, secret, summary, conflict_retries)
            except _FATAL as exc:
                stop.append(exc)
            except CredentialError as exc:
                summary.failed[secret.key] = exc.message
        if progress is not None and not stop:
            progress(summary)

    try:
        if resume is not None and resume.retry:
            await _retry(source, resume.retry, one)
        async for page in source.pages(namespace, page_size):
            chosen = _chosen(page, summary, resume)
            await asyncio.gather(*(one(s) for s in chosen))
            if stop:
                raise stop[0]
            if page and summary.ordered:
                summary.position = page[-1].key
            if checkpoint is not None:
                checkpoint(summary)
        if stop:
            raise stop[0]
    finally:
        summary.seconds = time.monotonic() - began
    return summary


async def _retry(
    source: SweepSource,
    keys: Sequence[str],
    one: Callable[[SweptSecret], Awaitable[None]],
) -> None:
    """Secrets that failed in the run being resumed, read again and rewritten."""
    wanted: list[SweptSecret] = []
    for key in keys:
        namespace, _, name = key.partition("/")
        version = await source.version(namespace, name)
        if version is not None:
            wanted.append(SweptSecret(namespace, name, {}, version))
    await asyncio.gather(*(one(s) for s in wanted))


def _chosen(
    page: list[SweptSecret], summary: ReencryptSummary, resume: Resume | None
) -> list[SweptSecret]:
    """The Secrets of ``page`` to rewrite; counts the others (and checks the order)."""
    chosen: list[SweptSecret] = []
    after = None if resume is None else resume.after
    last = summary.position
    for secret in page:
        key = secret.key
        if last is not None and key <= last:
            summary.ordered = False
        last = key
        if after is not None and key <= after:
            summary.skipped += 1
        elif summary.all_secrets or secret.labels.get(MANAGED_BY) == MANAGER:
            chosen.append(secret)
        else:
            summary.untouched += 1
    return chosen


class _OneNamespace:
    """A :class:`SweepSource` on one namespace's :class:`SecretTransport`: the Secrets
    matching ``labels`` (the provider's own way of listing)."""

    def __init__(self, transport: SecretTransport, labels: Mapping[str, str]) -> None:
        self._transport = transport
        self._labels = labels

    async def namespace_exists(self, namespace: str) -> bool | None:
        return None  # a namespaced transport cannot tell; its list is simply empty

    async def pages(
        self, namespace: str | None, page_size: int
    ) -> AsyncGenerator[list[SweptSecret], None]:
        ns = self._transport.namespace
        async for page in self._transport.list_pages(self._labels, page_size):
            yield [SweptSecret(ns, s.name, dict(s.labels), s.resource_version or "") for s in page]

    async def version(self, namespace: str, name: str) -> str | None:
        found = await self._transport.get(name)
        return None if found is None else found.resource_version

    async def rewrite(self, namespace: str, name: str, resource_version: str) -> str:
        return await self._transport.rewrite(name, resource_version)


async def reencrypt(
    transport: SecretTransport,
    labels: Mapping[str, str],
    *,
    page_size: int = 250,
    concurrency: int = DEFAULT_CONCURRENCY,
    conflict_retries: int = 5,
    progress: Callable[[ReencryptSummary], None] | None = None,
) -> ReencryptSummary:
    """Rewrite every Secret of ``transport``'s namespace matching ``labels`` (the
    provider's :meth:`reencrypt`); see :func:`reencrypt_secrets`."""
    return await reencrypt_secrets(
        _OneNamespace(transport, labels),
        transport.namespace,
        all_secrets=True,
        page_size=page_size,
        concurrency=concurrency,
        conflict_retries=conflict_retries,
        progress=progress,
    )
