"""reencrypt's compare-and-swap loop, on an in-memory SecretTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from nebula_credential.domain import PermissionDenied
from nebula_credential.kubernetes.api.errors import Missing, StaleWrite
from nebula_credential.kubernetes.api.retry import TransportStats
from nebula_credential.kubernetes.api.transport import SecretTransport
from nebula_credential.kubernetes.model.objects import SecretObject
from nebula_credential.kubernetes.store.reencrypt import reencrypt


class MemoryTransport(SecretTransport):
    """Secrets by name; ``rewrite`` bumps the version, or fails as scripted."""

    def __init__(self, names: list[str]) -> None:
        self.namespace = "ns"
        self.server = "memory"
        self.stats = TransportStats()
        self.versions = dict.fromkeys(names, 1)
        self.touched_by_others: set[str] = set()
        self.gone: set[str] = set()
        self.forbidden: set[str] = set()
        self.always_stale: set[str] = set()

    async def get(self, name: str) -> SecretObject | None:
        if name in self.gone:
            return None
        return SecretObject(name=name, resource_version=str(self.versions[name]))

    async def rewrite(self, name: str, resource_version: str) -> str:
        if name in self.forbidden:
            raise PermissionDenied(f"cannot update {name}")
        if name in self.gone:
            raise Missing(name)
        if name in self.touched_by_others:  # someone wrote it after our list
            self.touched_by_others.discard(name)
            self.versions[name] += 1
        if name in self.always_stale:
            self.versions[name] += 1
        if resource_version != str(self.versions[name]):
            raise StaleWrite()
        self.versions[name] += 1
        return str(self.versions[name])

    async def list_pages(
        self, labels: Mapping[str, str], page_size: int
    ) -> AsyncIterator[list[SecretObject]]:
        names = sorted(self.versions)
        for start in range(0, len(names), page_size):
            yield [
                SecretObject(name=n, resource_version=str(self.versions[n]))
                for n in names[start : start + page_size]
            ]

    async def create(self, secret: SecretObject) -> str:
        raise NotImplementedError

    async def replace(self, secret: SecretObject) -> str:
        raise NotImplementedError

    async def delete(self, name: str) -> bool:
        raise NotImplementedError

    async def resource_version(self, labels: Mapping[str, str]) -> str:
        raise NotImplementedError

    def watch(self, labels, resource_version=None, *, restart_on_gone=True):  # type: ignore[no-untyped-def]
        raise NotImplementedError


async def test_conflicts_are_retried_failures_collected() -> None:
    transport = MemoryTransport([f"s{i}" for i in range(10)])
    transport.touched_by_others = {"s1", "s2"}
    transport.gone = {"s3"}
    transport.forbidden = {"s4"}
    transport.always_stale = {"s5"}
    seen: list[int] = []
    summary = await reencrypt(
        transport, {}, page_size=3, conflict_retries=2, progress=lambda s: seen.append(s.total)
    )
    assert summary.rewritten == 7
    assert summary.vanished == 1
    assert sorted(summary.failed) == ["s4", "s5"]
    assert "cannot update s4" in summary.failed["s4"]
    assert "retries" in summary.failed["s5"]
    assert summary.conflicts_retried == 2 + 3
    assert sorted(seen) == list(range(1, 11))


def test_reencrypt_needs_the_kubernetes_provider(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = cli("reencrypt")
    assert done.returncode == 2
    assert "--provider kubernetes" in done.stderr
    assert not (tmp_path / "home").exists()  # no local store created on the way
