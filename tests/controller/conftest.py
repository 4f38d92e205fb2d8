"""The rotation tests' Authlib server (tests/rotate/oauth_server.py) for the controller."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_ROTATE_TESTS = str(Path(__file__).resolve().parent.parent / "rotate")
if _ROTATE_TESTS not in sys.path:
    sys.path.insert(0, _ROTATE_TESTS)

from oauth_server import AuthServer  # noqa: E402 - found through the path just added


@pytest.fixture
def auth() -> Iterator[AuthServer]:
    server = AuthServer()
    server.add_client("app", "client-secret-canary-5c1e")
    yield from server.running()
