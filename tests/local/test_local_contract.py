"""The provider contract, run against the local encrypted store on a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nebula_credential import LocalStorageProvider
from nebula_credential.testing import ProviderContract


class TestLocalProviderContract(ProviderContract):
    @pytest.fixture
    async def provider(self, tmp_path: Path) -> AsyncIterator[LocalStorageProvider]:
        async with LocalStorageProvider(tmp_path / "store") as provider:
            yield provider
