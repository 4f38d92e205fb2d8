"""etcd and kube-apiserver are found where controller-runtime's envtest would look first."""

from __future__ import annotations

from pathlib import Path

import pytest

from nebula_credential.testing.envtest import (
    MissingBinaryError,
    cache_dir,
    find_binaries,
    missing_binaries_message,
)
from nebula_credential.testing.envtest._binaries import find_program

PROGRAMS = ("kube-apiserver", "etcd", "etcdctl")


def install(directory: Path, *programs: str, executable: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for program in programs:
        path = directory / program
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755 if executable else 0o644)
    return directory


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    return {
        "assets": tmp_path / "kubebuilder" / "bin",
        "cache": tmp_path / "cache",
        "path": tmp_path / "usr-bin",
        "empty": install(tmp_path / "empty"),
    }


def env_for(places: dict[str, Path], *, assets: bool = True) -> dict[str, str]:
    env = {"NEBULA_CACHE_DIR": str(places["cache"]), "PATH": str(places["path"])}
    if assets:
        env["KUBEBUILDER_ASSETS"] = str(places["assets"])
    return env


def test_kubebuilder_assets_come_before_the_cache_and_path(places: dict[str, Path]) -> None:
    for where in ("assets", "path"):
        install(places[where], *PROGRAMS)
    install(places["cache"] / "bin", *PROGRAMS)
    binaries = find_binaries(env_for(places))
    assert binaries.kube_apiserver == places["assets"] / "kube-apiserver"
    assert binaries.etcd == places["assets"] / "etcd"
    assert binaries.etcdctl == places["assets"] / "etcdctl"


def test_the_install_script_cache_comes_before_path(places: dict[str, Path]) -> None:
    install(places["path"], *PROGRAMS)
    install(places["cache"] / "bin", "kube-apiserver")
    env = env_for(places)  # KUBEBUILDER_ASSETS set, but the directory does not exist
    binaries = find_binaries(env)
    assert binaries.kube_apiserver == places["cache"] / "bin" / "kube-apiserver"
    # Each program is looked up on its own: etcd is only on PATH.
    assert binaries.etcd == places["path"] / "etcd"
    assert binaries.etcdctl == places["path"] / "etcdctl"


def test_path_is_the_last_resort(places: dict[str, Path]) -> None:
    install(places["path"], "kube-apiserver", "etcd")
    binaries = find_binaries(env_for(places, assets=False))
    assert binaries.kube_apiserver == places["path"] / "kube-apiserver"
    assert binaries.etcd == places["path"] / "etcd"
    assert binaries.etcdctl is None


def test_a_file_that_is_not_executable_is_passed_over(places: dict[str, Path]) -> None:
    install(places["assets"], "kube-apiserver", "etcd", executable=False)
    install(places["cache"] / "bin", "kube-apiserver", "etcd")
    binaries = find_binaries(env_for(places))
    assert binaries.kube_apiserver == places["cache"] / "bin" / "kube-apiserver"


def test_an_explicit_binary_wins_and_a_broken_one_is_missing(places: dict[str, Path]) -> None:
    install(places["assets"], *PROGRAMS)
    mine = install(places["empty"].parent / "mine", "my-apiserver") / "my-apiserver"
    env = env_for(places) | {"NEBULA_KUBE_APISERVER": str(mine)}
    assert find_program("kube-apiserver", env) == mine
    env["NEBULA_KUBE_APISERVER"] = str(places["empty"] / "nothing-here")
    assert find_program("kube-apiserver", env) is None
    message = missing_binaries_message(env)
    assert message is not None
    assert "NEBULA_KUBE_APISERVER=" in message


def test_the_default_cache_is_under_home(
    monkeypatch: pytest.MonkeyPatch, places: dict[str, Path]
) -> None:
    monkeypatch.setenv("HOME", str(places["empty"]))
    assert cache_dir({}) == places["empty"] / ".cache" / "nebula-credential"
    install(places["empty"] / ".cache" / "nebula-credential" / "bin", "kube-apiserver", "etcd")
    assert find_binaries({"PATH": ""}).etcd == (
        places["empty"] / ".cache" / "nebula-credential" / "bin" / "etcd"
    )


def test_missing_binaries_name_every_place_searched_and_the_install_script(
    places: dict[str, Path],
) -> None:
    install(places["path"], "etcd")
    env = env_for(places)
    message = missing_binaries_message(env)
    assert message is not None
    assert message.startswith("missing kube-apiserver (looked in ")
    assert "etcd (" not in message  # etcd was found on PATH
    for place in (places["assets"], places["cache"] / "bin"):
        assert str(place) in message
    assert "scripts/install-control-plane.sh" in message
    assert "KUBEBUILDER_ASSETS" in message
    with pytest.raises(MissingBinaryError, match="missing kube-apiserver"):
        find_binaries(env)
