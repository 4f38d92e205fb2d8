"""The behaviour every CredentialProvider must show, as a reusable pytest class.

Subclass :class:`ProviderContract` in a test module and give it an async ``provider``
fixture that yields a ready provider. Each test works in a scope of its own, so the
provider may be shared with other tests (a Kubernetes namespace, a local file).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from ..domain import (
    Conflict,
    CorruptData,
    Credential,
    CredentialId,
    InvalidCredentialId,
    NotFound,
    SecretValue,
    ValidationError,
)
from ..providers import CredentialProvider
from .history_contract import HistoryContract

Corrupter = Callable[[CredentialProvider, str], Awaitable[None]]


async def _collect(items: AsyncIterator[Credential]) -> list[Credential]:
    return [item async for item in items]


class ProviderContract(HistoryContract):
    """Subclass me and define an async ``provider`` fixture."""

    @pytest.fixture
    def root(self) -> str:
        """A scope that no other test uses."""
        return f"test:{secrets.token_hex(6)}"

    @staticmethod
    def api_key(cid: str, scope: str, token: str = "k-1", **tags: str) -> Credential:  # noqa: S107
        return Credential(cid, "api_key", {"api_key": token}, scope=scope, tags=tags)

    async def test_store_then_retrieve_round_trips(
        self, provider: CredentialProvider, root: str
    ) -> None:
        cid = CredentialId.new()
        original = Credential(
            cid,
            "database",
            {"host": "db.internal", "port": 5432, "username": "svc", "password": "pw-ü-1"},
            scope=root,
            owner="alice@example.com",
            tags={"env": "prod", "team": "core"},
            expires_at="2030-01-01T00:00:00Z",
        )
        stored = await provider.store(original)
        assert stored.version == 1
        assert stored.created_at is not None
        assert stored.updated_at == stored.created_at
        found = await provider.retrieve(cid)
        assert found == stored
        assert found is not None
        assert found.reveal("password") == "pw-ü-1"
        assert isinstance(found.fields["password"], SecretValue)
        assert found.fields["port"] == 5432

    async def test_retrieve_missing_is_none(self, provider: CredentialProvider) -> None:
        assert await provider.retrieve(CredentialId.new()) is None
        assert await provider.exists(CredentialId.new()) is False

    async def test_get_missing_raises_not_found(self, provider: CredentialProvider) -> None:
        cid = CredentialId.new()
        with pytest.raises(NotFound) as caught:
            await provider.get(cid)
        assert caught.value.credential_id == cid

    async def test_invalid_id_is_rejected(self, provider: CredentialProvider) -> None:
        for bad in ("", "../etc", "a/b", "x" * 256):
            with pytest.raises(InvalidCredentialId):
                await provider.retrieve(bad)

    async def test_update_bumps_version_and_keeps_created_at(
        self, provider: CredentialProvider, root: str
    ) -> None:
        cid = CredentialId.new()
        first = await provider.store(self.api_key(cid, root, "k-1"))
        second = await provider.store(first.evolve(fields={"api_key": "k-2"}))
        assert second.version == 2
        assert second.created_at == first.created_at
        assert second.updated_at is not None
        assert first.updated_at is not None
        assert second.updated_at >= first.updated_at
        found = await provider.get(cid)
        assert found.reveal("api_key") == "k-2"
        assert found.version == 2

    async def test_delete_is_idempotent(self, provider: CredentialProvider, root: str) -> None:
        cid = CredentialId.new()
        await provider.store(self.api_key(cid, root))
        assert await provider.delete(cid) is True
        assert await provider.retrieve(cid) is None
        assert await provider.delete(cid) is False

    async def test_stale_expected_version_conflicts(
        self, provider: CredentialProvider, root: str
    ) -> None:
        cid = CredentialId.new()
        v1 = await provider.store(self.api_key(cid, root, "k-1"), expected_version=0)
        v2 = await provider.store(v1.evolve(fields={"api_key": "k-2"}), expected_version=1)
        assert v2.version == 2
        with pytest.raises(Conflict) as caught:
            await provider.store(v1.evolve(fields={"api_key": "k-3"}), expected_version=1)
        assert caught.value.actual_version == 2
        assert "k-3" not in str(caught.value)
        assert (await provider.get(cid)).reveal("api_key") == "k-2"

    async def test_expected_version_zero_means_create_only(
        self, provider: CredentialProvider, root: str
    ) -> None:
        cid = CredentialId.new()
        await provider.store(self.api_key(cid, root, "k-1"), expected_version=0)
        with pytest.raises(Conflict):
            await provider.store(self.api_key(cid, root, "k-2"), expected_version=0)
        assert (await provider.get(cid)).reveal("api_key") == "k-1"

    async def test_expected_version_on_missing_conflicts(
        self, provider: CredentialProvider, root: str
    ) -> None:
        cid = CredentialId.new()
        with pytest.raises(Conflict):
            await provider.store(self.api_key(cid, root), expected_version=3)
        assert await provider.retrieve(cid) is None

    async def test_list_by_exact_scope_and_prefix(
        self, provider: CredentialProvider, root: str
    ) -> None:
        team = f"{root}/team:core"
        deep = f"{team}/user:alice"
        sibling = f"{root}x/team:core"  # shares the text prefix, not the hierarchy
        placed = {
            "at-root": root,
            "at-team": team,
            "at-deep": deep,
            "at-sibling": sibling,
        }
        ids = {name: CredentialId.new(name) for name in placed}
        for name, scope in placed.items():
            await provider.store(self.api_key(ids[name], scope))

        async def ids_of(scope: str, descendants: bool) -> set[str]:
            found = await _collect(provider.list(scope=scope, descendants=descendants))
            return {c.id for c in found}

        assert await ids_of(team, False) == {ids["at-team"]}
        assert await ids_of(team, True) == {ids["at-team"], ids["at-deep"]}
        assert await ids_of(root, True) == {ids["at-root"], ids["at-team"], ids["at-deep"]}
        assert await ids_of(root, False) == {ids["at-root"]}
        everything = {c.id for c in await _collect(provider.list_all())}
        assert set(ids.values()) <= everything

    async def test_list_by_kind_and_tags(self, provider: CredentialProvider, root: str) -> None:
        key_prod = CredentialId.new()
        key_dev = CredentialId.new()
        basic = CredentialId.new()
        await provider.store(self.api_key(key_prod, root, env="prod", team="core"))
        await provider.store(self.api_key(key_dev, root, env="dev", team="core"))
        await provider.store(
            Credential(
                basic,
                "basic_auth",
                {"username": "u", "password": "p"},
                scope=root,
                tags={"env": "prod"},
            )
        )
        by_kind = await _collect(provider.list(scope=root, kind="api_key"))
        assert {c.id for c in by_kind} == {key_prod, key_dev}
        by_tag = await _collect(provider.list(scope=root, tags={"env": "prod"}))
        assert {c.id for c in by_tag} == {key_prod, basic}
        both = await _collect(provider.list(scope=root, kind="api_key", tags={"env": "prod"}))
        assert [c.id for c in both] == [key_prod]
        assert await _collect(provider.list(scope=root, tags={"env": "qa"})) == []

    async def test_tag_filters_match_literally(
        self, provider: CredentialProvider, root: str
    ) -> None:
        tricky = ['a"b', "it's", "$.x", "[0]", "back\\slash", "caf\u00e9 \u2603", "*", "%_"]
        ids = {value: CredentialId.new() for value in tricky}
        for value, cid in ids.items():
            await provider.store(self.api_key(cid, root, **{"team.core/x-y": value}))
        for value, cid in ids.items():
            found = await _collect(provider.list(scope=root, tags={"team.core/x-y": value}))
            assert [c.id for c in found] == [cid], value
        assert await _collect(provider.list(scope=root, tags={"team": "a"})) == []
        with pytest.raises(ValidationError):
            await _collect(provider.list(scope=root, tags={'a"b': "1"}))

    async def test_concurrent_writers_lose_no_update(
        self, provider: CredentialProvider, root: str
    ) -> None:
        cid = CredentialId.new()
        await provider.store(self.api_key(cid, root, "0"))
        writers, rounds = 8, 5

        async def writer() -> None:
            for _ in range(rounds):
                for _attempt in range(200):
                    current = await provider.get(cid)
                    bumped = str(int(current.reveal("api_key")) + 1)
                    try:
                        await provider.store(
                            current.evolve(fields={"api_key": bumped}),
                            expected_version=current.version,
                        )
                        break
                    except Conflict:
                        await asyncio.sleep(0)
                else:
                    raise AssertionError("writer never won a round")

        await asyncio.gather(*(writer() for _ in range(writers)))
        final = await provider.get(cid)
        assert final.reveal("api_key") == str(writers * rounds)
        assert final.version == 1 + writers * rounds

    @pytest.fixture
    def corrupt(self) -> Corrupter | None:
        """Override with an async ``(provider, credential_id)`` that damages it in place."""
        return None

    async def test_one_undecodable_item_does_not_take_list_down(
        self, provider: CredentialProvider, root: str, corrupt: Corrupter | None
    ) -> None:
        if corrupt is None:
            pytest.skip("this provider's contract test cannot damage stored data")
        tag = secrets.token_hex(4)
        ids = [f"skip-{tag}-{n}" for n in ("a", "b", "c")]
        for cid in ids:
            await provider.store(self.api_key(cid, root))
        await corrupt(provider, ids[1])
        with pytest.raises(CorruptData):
            await _collect(provider.list(scope=root))
        skipped: list[CorruptData] = []
        found = await _collect(provider.list(scope=root, on_skip=skipped.append))
        assert sorted(c.id for c in found) == [ids[0], ids[2]]
        assert [error.credential_id for error in skipped] == [ids[1]]
        with pytest.raises(CorruptData):
            await provider.get(ids[1])
