"""``with ControlPlane(...) as plane:`` gives a running plane and stops it afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes


def test_the_context_manager_starts_and_stops_the_plane(tmp_path: Path) -> None:
    with ControlPlane("ctx", tmp_path / "plane") as plane:
        assert plane.apiserver_running
        ready = plane.request("GET", "/readyz")
        assert ready.status == 200
        assert plane.start() is plane  # already running: nothing more to do
    assert not plane.apiserver_running
