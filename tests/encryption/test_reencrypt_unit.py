"""reencrypt's loop (compare-and-swap, counts, stops, resume) on an in-memory cluster."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping

import pytest

from nebula_credential.domain import NotFound, PermissionDenied
from nebula_credential.kubernetes.api.errors import Missing, StaleWrite
from nebula_credential.kubernetes.api.retry import TransportStats
from nebula_credential.kubernetes.api.secret_sweep import SweptSecret
from nebula_credential.kubernetes.api.transport import SecretTransport
from nebula_credential.kubernetes.model.naming import MANAGED_BY, MANAGER
from nebula_credential.kubernetes.model.objects import SecretObject
from nebula_credential.kubernetes.store.reencrypt import (
    ReencryptSummary,
    Resume,
    reencrypt,
    reencrypt_secrets,
)

OURS = {MANAGED_BY: MANAGER}


class MemoryCluster:
    """Secrets by ``namespace/name``; ``rewrite`` bumps the version, or fails as scripted.

    ``stale`` Secrets are stored under an old key: a rewrite writes them (new version);
    the others are current and the server writes nothing (same version), as the API
    server does.
    """

    def __init__(self, keys: list[str], *, ours: set[str] | None = None) -> None:
        self.versions = dict.fromkeys(keys, 1)
        self.ours = set(keys) if ours is None else ours
        self.stale = set(keys)
        self.namespaces = {k.partition("/")[0] for k in keys}
        self.touched_by_others: set[str] = set()
        self.gone: set[str] = set()
        self.forbidden: set[str] = set()
        self.always_stale: set[str] = set()
        self.rewrites: list[str] = []

    async def namespace_exists(self, namespace: str) -> bool | None:
        return namespace in self.namespaces

    async def pages(
        self, namespace: str | None, page_size: int
    ) -> AsyncGenerator[list[SweptSecret], None]:
        keys = sorted(
            k for k in self.versions if namespace is None or k.startswith(namespace + "/")
        )
        for start in range(0, len(keys), page_size):
            yield [self._swept(k) for k in keys[start : start + page_size]]

    def _swept(self, key: str) -> SweptSecret:
        ns, _, name = key.partition("/")
        return SweptSecret(
            ns, name, dict(OURS) if key in self.ours else {}, str(self.versions[key])
        )

    async def version(self, namespace: str, name: str) -> str | None:
        key = f"{namespace}/{name}"
        return None if key in self.gone else str(self.versions[key])

    async def rewrite(self, namespace: str, name: str, resource_version: str) -> str:
        key = f"{namespace}/{name}"
        self.rewrites.append(key)
        if key in self.forbidden:
            raise PermissionDenied(f"cannot patch {name}")
        if key in self.gone:
            raise Missing(name)
        if key in self.touched_by_others:  # someone wrote it after our list
            self.touched_by_others.discard(key)
            self.versions[key] += 1
        if key in self.always_stale:
            self.versions[key] += 1
        if resource_version != str(self.versions[key]):
            raise StaleWrite()
        if key in self.stale:
            self.stale.discard(key)
            self.versions[key] += 1
        return str(self.versions[key])


async def test_conflicts_are_retried_vanished_skipped_failures_collected() -> None:
    cluster = MemoryCluster([f"ns/s{i}" for i in range(10)])
    cluster.touched_by_others = {"ns/s1", "ns/s2"}
    cluster.gone = {"ns/s3"}
    cluster.always_stale = {"ns/s5"}
    seen: list[int] = []
    summary = await reencrypt_secrets(
        cluster, "ns", page_size=3, conflict_retries=2, progress=lambda s: seen.append(s.total)
    )
    assert (summary.rewritten, summary.current, summary.vanished) == (8, 0, 1)
    assert sorted(summary.failed) == ["ns/s5"]
    assert "retries" in summary.failed["ns/s5"]
    assert summary.conflicts_retried == 2 + 3
    assert sorted(seen) == list(range(1, 11))
    # A second run writes only what failed: the others are current now.
    cluster.always_stale = set()
    again = await reencrypt_secrets(cluster, "ns", page_size=3)
    assert (again.rewritten, again.current, again.vanished, again.failed) == (1, 8, 1, {})


async def test_a_missing_namespace_is_not_found() -> None:
    cluster = MemoryCluster(["ns/a"])
    with pytest.raises(NotFound, match="'elsewhere' does not exist"):
        await reencrypt_secrets(cluster, "elsewhere")
    assert cluster.rewrites == []


async def test_without_all_secrets_others_are_counted_untouched() -> None:
    keys = ["a/ours1", "a/theirs1", "a/theirs2", "b/ours2", "b/theirs3"]
    cluster = MemoryCluster(keys, ours={"a/ours1", "b/ours2"})
    mine = await reencrypt_secrets(cluster, None)
    assert (mine.rewritten, mine.untouched) == (2, 3)
    assert sorted(cluster.rewrites) == ["a/ours1", "b/ours2"]
    everything = await reencrypt_secrets(cluster, None, all_secrets=True)
    assert (everything.rewritten, everything.current, everything.untouched) == (3, 2, 0)


async def test_a_refusal_stops_the_run_instead_of_failing_every_secret() -> None:
    cluster = MemoryCluster([f"ns/s{i:02d}" for i in range(40)])
    cluster.forbidden = set(cluster.versions)
    with pytest.raises(PermissionDenied):
        await reencrypt_secrets(cluster, "ns", page_size=10, concurrency=4)
    assert len(cluster.rewrites) <= 10  # the first page at most, not all 40


async def test_resume_skips_what_was_done_and_retries_what_failed() -> None:
    cluster = MemoryCluster([f"ns/s{i:02d}" for i in range(30)])
    saved: list[tuple[str | None, list[str]]] = []

    def interrupt(summary: ReencryptSummary) -> None:
        saved.append((summary.position, sorted(summary.failed)))
        if len(saved) == 2:
            raise KeyboardInterrupt  # Ctrl-C after the second page

    cluster.always_stale = {"ns/s04"}
    with pytest.raises(KeyboardInterrupt):
        await reencrypt_secrets(
            cluster, "ns", page_size=10, conflict_retries=1, checkpoint=interrupt
        )
    after, failed = saved[-1]
    assert (after, failed) == ("ns/s19", ["ns/s04"])
    cluster.always_stale = set()
    cluster.rewrites.clear()
    summary = await reencrypt_secrets(cluster, "ns", page_size=10, resume=Resume(after, failed))
    assert sorted(cluster.rewrites) == ["ns/s04", *(f"ns/s{i}" for i in range(20, 30))]
    assert (summary.rewritten, summary.skipped, summary.failed) == (11, 20, {})


class MemoryTransport(SecretTransport):
    """One namespace's Secrets for the provider's own path (``reencrypt``)."""

    def __init__(self, names: list[str]) -> None:
        self.namespace = "ns"
        self.server = "memory"
        self.stats = TransportStats()
        self.versions = dict.fromkeys(names, 1)

    async def get(self, name: str) -> SecretObject | None:
        return SecretObject(name=name, resource_version=str(self.versions[name]))

    async def rewrite(self, name: str, resource_version: str) -> str:
        if resource_version != str(self.versions[name]):
            raise StaleWrite()
        self.versions[name] += 1
        return str(self.versions[name])

    async def list_pages(
        self, labels: Mapping[str, str], page_size: int
    ) -> AsyncIterator[list[SecretObject]]:
        assert labels == OURS
        yield [SecretObject(name=n, resource_version="1", labels=OURS) for n in self.versions]

    async def create(self, secret: SecretObject) -> str:
        raise NotImplementedError

    async def replace(self, secret: SecretObject) -> str:
        raise NotImplementedError

    async def delete(self, name: str) -> bool:  # type: ignore[override]
        raise NotImplementedError

    async def resource_version(self, labels: Mapping[str, str]) -> str:
        raise NotImplementedError

    def watch(self, labels, resource_version=None, *, restart_on_gone=True):  # type: ignore[no-untyped-def]
        raise NotImplementedError


async def test_the_providers_reencrypt_rewrites_its_own_secrets() -> None:
    transport = MemoryTransport(["a", "b", "c"])
    summary = await reencrypt(transport, OURS)
    assert (summary.namespace, summary.rewritten, summary.failed) == ("ns", 3, {})
    assert transport.versions == {"a": 2, "b": 2, "c": 2}


def test_reencrypt_needs_the_kubernetes_provider(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = cli("reencrypt")
    assert done.returncode == 2
    assert "--provider kubernetes" in done.stderr
    assert not (tmp_path / "home").exists()  # no local store created on the way
