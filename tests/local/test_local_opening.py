"""Opening a local store: at the same moment from several processes, locked, or misplaced."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nebula_credential import (
    ConfigurationError,
    Credential,
    LocalStorageProvider,
    ProviderUnavailable,
    SyncCredentialProvider,
)

HERE = Path(__file__).parent
OPENER = HERE / "opener_process.py"
LOCKER = HERE / "locker_process.py"


def start_openers(data_dir: Path, count: int) -> list[subprocess.Popen[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(OPENER), str(data_dir), f"opener-{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(count)
    ]
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "ready\n", f"opener did not start: {line!r} {proc.stderr}"
    return procs


@pytest.mark.slow
def test_processes_opening_a_brand_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    for trial in range(8):
        data_dir = tmp_path / f"trial-{trial}"
        procs = start_openers(data_dir, 4)
        for proc in procs:  # the barrier: every process is imported and waiting
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [proc.communicate(timeout=60) for proc in procs]
        failures = [
            f"exit {proc.returncode}: {out.strip()} {err.strip()[-500:]}"
            for proc, (out, err) in zip(procs, results, strict=True)
            if proc.returncode != 0
        ]
        assert not failures, f"trial {trial}: {failures}"
        with SyncCredentialProvider(LocalStorageProvider(data_dir)) as store:
            found = {c.id: c.reveal("api_key") for c in store.list_all()}
        assert found == {f"opener-{n}": f"value-of-opener-{n}" for n in range(4)}
        assert sorted(os.listdir(data_dir)) in (
            ["credentials.db", "credentials.db-shm", "credentials.db-wal", "key"],
            ["credentials.db", "key"],
        ), "a temporary file was left behind"


@contextmanager
def locked(db_file: Path) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, str(LOCKER), str(db_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        yield
    finally:
        holder.communicate(input="", timeout=30)


def test_a_store_locked_by_another_process_is_unavailable_not_corrupt(tmp_path: Path) -> None:
    with SyncCredentialProvider(LocalStorageProvider(tmp_path)) as store:
        store.store(Credential("svc", "api_key", {"api_key": "kept"}))
    with locked(tmp_path / "credentials.db"):
        for operation in (
            lambda store: store.retrieve("svc"),
            lambda store: store.store(Credential("svc", "api_key", {"api_key": "new"})),
        ):
            with (
                SyncCredentialProvider(LocalStorageProvider(tmp_path, lock_timeout=0.3)) as store,
                pytest.raises(ProviderUnavailable, match="locked by another process") as caught,
            ):
                operation(store)
            assert "restore" not in str(caught.value)
            assert caught.value.__context__ is None
    with SyncCredentialProvider(LocalStorageProvider(tmp_path)) as store:
        assert store.get("svc").reveal("api_key") == "kept"


def test_cli_on_a_locked_store_says_locked_and_exits_6(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stored = cli("store", "svc", "--kind", "api_key", "--field", "api_key=-", stdin="v\n")
    assert stored.returncode == 0, stored.stderr
    with locked(tmp_path / "home" / "credentials.db"):
        result = cli("get", "svc", env={"NEBULA_CREDENTIAL_LOCK_TIMEOUT": "0.5"})
    assert result.returncode == 6, result.stderr
    assert "locked by another process" in result.stderr
    assert "restore" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("mode", [0o1777, 0o755, 0o770])
def test_a_directory_open_to_others_is_refused_and_left_alone(
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    mode: int,
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    for args in (["get", "svc"], ["list"], ["delete", "svc"]):
        result = cli("--data-dir", str(shared), *args)
        assert result.returncode == 1, (args, result.stderr)
        assert f"chmod 700 {shared}" in result.stderr
    stored = cli(
        "--data-dir", str(shared), "store", "svc", "--kind", "api_key", "--field", "api_key=-",
        stdin="v\n",
    )  # fmt: skip
    assert stored.returncode == 1
    assert (shared.stat().st_mode & 0o7777) == mode
    assert os.listdir(shared) == []


def test_reading_commands_never_create_a_store(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    assert cli("get", "svc").returncode == 3
    assert cli("list").returncode == 0
    assert cli("delete", "svc").returncode == 0
    assert cli("--output", "json", "list").stdout.strip() == "[]"
    assert not home.exists()
    stored = cli("store", "svc", "--kind", "api_key", "--field", "api_key=-", stdin="v\n")
    assert stored.returncode == 0, stored.stderr
    assert {"credentials.db", "key"} <= {p.name for p in home.iterdir()}


def test_a_malformed_key_setting_is_reported_even_without_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEBULA_CREDENTIAL_LOCK_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="NEBULA_CREDENTIAL_LOCK_TIMEOUT"):
        LocalStorageProvider(tmp_path)
    monkeypatch.delenv("NEBULA_CREDENTIAL_LOCK_TIMEOUT")
    with (
        SyncCredentialProvider(LocalStorageProvider(tmp_path / "none", key=b"short")) as store,
        pytest.raises(ConfigurationError, match="32 bytes"),
    ):
        store.retrieve("svc")
    assert not (tmp_path / "none").exists()
