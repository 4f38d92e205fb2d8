"""The store fails in the window after the token endpoint issued new tokens.

The authorization server's ``/token-late`` issues the tokens (the old refresh token is
revoked at that moment) and holds its answer back until the test has broken the store:
the local store locked by another process for longer than its lock timeout, or the
kube-apiserver killed and started again 15 s later. Each rotation runs as a real CLI
process. Within the write deadline it must finish with exit 0, one token request and the
version moved by one; past it, exit 8, the grant kept, and ``--resume`` (or the next
``rotate``) lands it without a second token request.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from oauth_server import AuthServer
from rotate_support import ACCESS, oauth2

from nebula_credential import Credential, LocalStorageProvider, SyncCredentialProvider
from nebula_credential.testing.envtest import ControlPlane

EXE = str(Path(sys.executable).with_name("nebula-credential"))
# Another program in the middle of a long write (a backup, a migration): it holds the
# store's write lock; readers go on (WAL), writers wait for their lock timeout and fail.
LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    env["NEBULA_CREDENTIAL_HOME"] = str(home)
    env["HOME"] = str(home.parent)
    env.update(extra)
    return env


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [EXE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def _wait_granted(auth: AuthServer, rotation: subprocess.Popen[str]) -> None:
    for _ in range(300):
        if auth.granted.wait(0.1):
            return
        if rotation.poll() is not None:
            break
    rotation.kill()
    _, err = rotation.communicate(timeout=10)
    raise AssertionError(f"the token endpoint was never called: {err}")


class Locker:
    """Another process holding the local store's database under an exclusive lock."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Path, SyncCredentialProvider]]:
    directory = tmp_path / "home"
    with SyncCredentialProvider(LocalStorageProvider(directory)) as store:
        yield directory, store


def _landed_once(auth: AuthServer, before: Credential, after: Credential) -> None:
    """One token request, the issued tokens stored, the version moved by exactly one."""
    assert auth.hits["/token-late"] == 1
    assert after.reveal("access_token") == auth.issued[-1]["access_token"]
    assert after.version == before.version + 1


def _figures(label: str, **values: object) -> None:
    shown = " ".join(f"{k}={v}" for k, v in values.items())
    sys.__stdout__.write(f"\n[{label}] {shown}\n")


def test_local_store_locked_after_the_grant_the_rotation_still_lands(
    auth: AuthServer, home: tuple[Path, SyncCredentialProvider]
) -> None:
    directory, store = home
    before = store.store(oauth2("svc", auth, auth.grant("app"), path="/token-late"))
    started = time.monotonic()
    rotation = _spawn(["rotate", "svc"], _env(directory, NEBULA_CREDENTIAL_LOCK_TIMEOUT="1"))
    _wait_granted(auth, rotation)
    locker = Locker(store_path(directory))
    auth.answer_late.set()  # the answer arrives while the store is locked
    time.sleep(4)  # four times the lock timeout
    locker.release()
    code, out, err = _finish(rotation)
    after = store.get("svc")
    assert code == 0, err
    _landed_once(auth, before, after)
    assert after.reveal("refresh_token") == auth.issued[-1]["refresh_token"]
    assert out.startswith(f"rotated svc (version {before.version} -> {before.version + 1}")
    assert not list((directory / "pending").glob("*.grant"))  # the journal is empty again
    _figures(
        "locked-store fault",
        exit=code,
        token_requests=auth.hits["/token-late"],
        version=f"{before.version}->{after.version}",
        seconds=f"{time.monotonic() - started:.1f}",
        stdout=out.strip(),
    )


def store_path(directory: Path) -> Path:
    return directory / "credentials.db"


@pytest.mark.parametrize("finish", ["--resume", "plain rotate"])
def test_local_store_locked_past_the_deadline_keeps_the_grant_for_resume(
    auth: AuthServer, home: tuple[Path, SyncCredentialProvider], finish: str
) -> None:
    directory, store = home
    before = store.store(oauth2("svc", auth, auth.grant("app"), path="/token-late"))
    env = _env(directory, NEBULA_CREDENTIAL_LOCK_TIMEOUT="1")
    rotation = _spawn(["rotate", "svc", "--write-deadline", "2"], env)
    _wait_granted(auth, rotation)
    locker = Locker(store_path(directory))
    auth.answer_late.set()
    code, out, err = _finish(rotation)
    locker.release()
    issued = auth.issued[-1]
    assert code == 8, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1
    assert "refresh token that was sent is now spent" in lines[0]
    assert "nebula-credential rotate svc --resume" in lines[0]
    assert str(directory / "pending") in lines[0]
    assert issued["access_token"] not in err
    assert issued["refresh_token"] not in err
    kept = list((directory / "pending").glob("*.grant"))
    assert len(kept) == 1
    blob = kept[0].read_bytes()
    assert issued["access_token"].encode() not in blob  # sealed, not plain
    assert oct(kept[0].stat().st_mode & 0o777) == "0o600"
    assert store.get("svc") == before  # nothing was written

    args = ["rotate", "svc", "--resume"] if finish == "--resume" else ["rotate", "svc"]
    done = subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=60)
    after = store.get("svc")
    assert done.returncode == 0, done.stderr
    assert "from the tokens a failed rotation kept" in done.stdout
    _landed_once(auth, before, after)  # never a second token request
    assert not list((directory / "pending").glob("*.grant"))
    _figures(
        f"locked-store past deadline, then {finish}",
        first_exit=code,
        line=lines[0],
        then_exit=done.returncode,
        then=done.stdout.strip(),
        token_requests=auth.hits["/token-late"],
        version=f"{before.version}->{after.version}",
    )


def test_resume_without_a_pending_grant_is_not_found(
    auth: AuthServer, home: tuple[Path, SyncCredentialProvider]
) -> None:
    directory, store = home
    store.store(oauth2("svc", auth, auth.grant("app")))
    done = subprocess.run(
        [EXE, "rotate", "svc", "--resume"],
        env=_env(directory),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "no pending grant" in done.stderr
    assert sum(auth.hits.values()) == 0


# -- Kubernetes: the API server killed in the window ----------------------------------------


@pytest.fixture(scope="module")
def fault_plane(control_plane_factory: Callable[..., ControlPlane]) -> ControlPlane:
    """A plane of its own: these tests kill its API server."""
    return control_plane_factory("rotate-faults")


async def _k8s_credential(
    plane: ControlPlane, auth: AuthServer, prefix: str, home: Path
) -> tuple[str, Credential, Callable[..., subprocess.Popen[str]]]:
    """A namespace holding credential ``svc`` (on ``/token-late``), the credential, and a
    way to run the CLI against it."""
    from k8s_support import new_namespace, provider_for

    namespace = new_namespace(plane, prefix)
    async with provider_for(plane, namespace) as provider:
        before = await provider.store(oauth2("svc", auth, auth.grant("app"), path="/token-late"))
    argv = ["--provider", "kubernetes", "--kubeconfig", str(plane.admin_kubeconfig)]
    argv += ["--namespace", namespace]

    def spawn(*args: str) -> subprocess.Popen[str]:
        return _spawn([*argv, *args], _env(home))

    return namespace, before, spawn


async def _stored(plane: ControlPlane, namespace: str) -> Credential:
    from k8s_support import provider_for

    async with provider_for(plane, namespace) as provider:
        return await provider.get("svc")


@pytest.mark.kubernetes
async def test_api_server_killed_after_the_grant_the_rotation_still_lands(
    fault_plane: ControlPlane, auth: AuthServer, tmp_path: Path
) -> None:
    namespace, before, spawn = await _k8s_credential(
        fault_plane, auth, "rotate-fault", tmp_path / "home"
    )
    started = time.monotonic()
    rotation = spawn("rotate", "svc")
    _wait_granted(auth, rotation)
    restart = fault_plane.restart_apiserver_later(kill=True, down_for=15)
    await asyncio.sleep(1)  # the API server is down now
    auth.answer_late.set()
    restart.result(timeout=120)
    code, out, err = _finish(rotation, timeout=400)
    after = await _stored(fault_plane, namespace)
    assert code == 0, err
    _landed_once(auth, before, after)
    assert ACCESS not in out + err
    _figures(
        "api-server restart fault",
        exit=code,
        token_requests=auth.hits["/token-late"],
        version=f"{before.version}->{after.version}",
        seconds=f"{time.monotonic() - started:.1f}",
        stdout=out.strip(),
    )


@pytest.mark.kubernetes
async def test_api_server_down_past_the_deadline_then_resume(
    fault_plane: ControlPlane, auth: AuthServer, tmp_path: Path
) -> None:
    namespace, before, spawn = await _k8s_credential(
        fault_plane, auth, "rotate-resume", tmp_path / "home"
    )
    rotation = spawn("rotate", "svc", "--write-deadline", "3")
    _wait_granted(auth, rotation)
    fault_plane.stop_apiserver(kill=True)
    try:
        auth.answer_late.set()
        code, _, err = _finish(rotation, timeout=120)
    finally:
        fault_plane.start_apiserver()
    assert code == 8, err
    assert "--resume" in err
    assert len(err.splitlines()) == 1
    assert await _stored(fault_plane, namespace) == before
    code2, out2, err2 = _finish(spawn("-o", "json", "rotate", "svc", "--resume"))
    assert code2 == 0, err2
    record = json.loads(out2)
    assert (record["outcome"], record["resumed"]) == ("rotated", True)
    after = await _stored(fault_plane, namespace)
    _landed_once(auth, before, after)
    _figures(
        "api-server down past deadline, then --resume",
        first_exit=code,
        line=err.strip(),
        then_exit=code2,
        token_requests=auth.hits["/token-late"],
        version=f"{before.version}->{after.version}",
    )
