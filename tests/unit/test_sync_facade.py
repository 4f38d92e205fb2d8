"""The sync facade: closing is final, and local work runs on the caller's thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from nebula_credential import (
    Credential,
    LocalStorageProvider,
    NotFound,
    ProviderUnavailable,
    SyncCredentialProvider,
)
from nebula_credential.providers import BlockingAccess


class LoopOnlyLocal(LocalStorageProvider):
    """The local store seen only through its async methods, like a network provider."""

    def blocking(self) -> BlockingAccess | None:
        return None


def threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def fill(store: SyncCredentialProvider, count: int) -> None:
    for n in range(count):
        store.store(Credential(f"c-{n:04d}", "api_key", {"api_key": f"v{n}"}))


@pytest.mark.parametrize("provider_class", [LocalStorageProvider, LoopOnlyLocal])
def test_closing_is_final_even_for_a_list_still_being_read(
    tmp_path: Path, provider_class: type[LocalStorageProvider]
) -> None:
    store = SyncCredentialProvider(provider_class(tmp_path))
    fill(store, 300)  # more than one page and one batch
    listing = store.list_all()
    assert next(listing).id == "c-0000"
    store.close()
    with pytest.raises(ProviderUnavailable, match="closed"):
        list(listing)
    listing.close()
    for call in (
        lambda: store.retrieve("c-0001"),
        lambda: store.store(Credential("x", "api_key", {"api_key": "v"})),
        lambda: list(store.list_all()),
        lambda: store.exists("c-0001"),
    ):
        with pytest.raises(ProviderUnavailable, match="closed"):
            call()
    store.close()  # a second close is harmless
    assert "nebula-credential-sync" not in threads()


def test_a_half_read_list_finalised_after_close_does_not_restart_the_loop(
    tmp_path: Path,
) -> None:
    store = SyncCredentialProvider(LoopOnlyLocal(tmp_path))
    fill(store, 300)
    listing = store.list_all()
    next(listing)
    assert "nebula-credential-sync" in threads()
    store.close()
    del listing  # the generator's cleanup runs now, after close()
    assert "nebula-credential-sync" not in threads()


def test_local_work_runs_on_the_callers_thread(tmp_path: Path) -> None:
    before = threads()
    with SyncCredentialProvider(LocalStorageProvider(tmp_path)) as store:
        fill(store, 3)
        assert store.get("c-0002").reveal("api_key") == "v2"
        assert [c.id for c in store.list(kind="api_key")] == ["c-0000", "c-0001", "c-0002"]
        assert store.delete("c-0000") is True
        with pytest.raises(NotFound, match="c-0000"):
            store.get("c-0000")
        assert threads() == before  # no event loop thread, no worker thread
