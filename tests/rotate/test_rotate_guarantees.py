"""What ``rotate`` promises a user, through the CLI in real processes, on both providers.

A failed rotation changes nothing a user can see (``get -o json`` byte for byte); a plain
``store`` during a rotation cannot make a refresh token be sent twice; rollback undoes
only the last rotation; overlapping ``--due`` runs do not fail; the lease tag cannot be
forged; options that do not apply are refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from oauth_server import AuthServer
from rotate_support import oauth2

from nebula_credential import LocalStorageProvider, SyncCredentialProvider
from nebula_credential.domain import parse_timestamp, utcnow
from nebula_credential.providers import CredentialProvider, Lease


class Target:
    """One provider as the CLI (``run``/``spawn``) and the library (``store``,
    ``provider()``) see it."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        store: SyncCredentialProvider,
        provider: Callable[[], CredentialProvider],
    ) -> None:
        self.argv = argv
        self.env = env
        self.store = store
        self.provider = provider

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.argv, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.argv, *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def hold_lease(self, cid: str) -> Lease:
        """Take ``cid``'s rotation lease as another process would (a rotation under way)."""

        async def take() -> Lease:
            async with self.provider() as provider:
                return await provider.acquire_lease(cid, seconds=120)

        return asyncio.run(take())

    def release(self, lease: Lease) -> None:
        async def give_up() -> None:
            async with self.provider() as provider:
                await provider.release_lease(lease)

        asyncio.run(give_up())


@pytest.fixture(params=["local", pytest.param("kubernetes", marks=pytest.mark.kubernetes)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    exe = str(Path(sys.executable).with_name("nebula-credential"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    env["NEBULA_CREDENTIAL_HOME"] = str(tmp_path / "home")
    env["HOME"] = str(tmp_path)
    if request.param == "local":

        def local() -> CredentialProvider:
            return LocalStorageProvider(tmp_path / "home")

        with SyncCredentialProvider(local()) as store:
            yield Target([exe], env, store, local)
        return
    from k8s_support import new_namespace, provider_for

    plane = request.getfixturevalue("control_plane")
    namespace = new_namespace(plane, "rotate-promise")
    argv = [exe, "--provider", "kubernetes", "--kubeconfig", str(plane.admin_kubeconfig)]
    argv += ["--namespace", namespace]

    def kubernetes() -> CredentialProvider:
        return provider_for(plane, namespace)  # type: ignore[no-any-return]

    with SyncCredentialProvider(kubernetes()) as store:
        yield Target(argv, env, store, kubernetes)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(300):
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("failure", ["revoked", "endpoint down", "leased elsewhere"])
def test_a_failed_rotation_leaves_get_json_byte_identical(
    target: Target, auth: AuthServer, failure: str
) -> None:
    refresh_token = auth.grant("app")
    extra: dict[str, Any] = {}
    if failure == "revoked":
        auth.revoke(refresh_token)
    elif failure == "endpoint down":
        extra["token_url"] = f"http://127.0.0.1:{_closed_port()}/token"
    target.store.store(oauth2("svc", auth, refresh_token, **extra))
    lease = target.hold_lease("svc") if failure == "leased elsewhere" else None
    shown = target.run("-o", "json", "get", "svc")
    assert shown.returncode == 0, shown.stderr

    done = target.run("rotate", "svc")

    again = target.run("-o", "json", "get", "svc")
    expected = {"revoked": 1, "endpoint down": 6, "leased elsewhere": 4}[failure]
    assert done.returncode == expected, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert again.stdout == shown.stdout  # content, timestamps and version
    assert json.loads(again.stdout)["version"] == 1
    if failure == "endpoint down":
        assert "the request was not sent" in done.stderr
        assert "safe to retry" in done.stderr
    if failure == "leased elsewhere":
        assert "being rotated by another process" in done.stderr
        assert sum(auth.hits.values()) == 0
        assert lease is not None
        target.release(lease)
        assert target.run("rotate", "svc").returncode == 0  # released: rotates again


def test_a_plain_store_during_a_rotation_never_sends_a_refresh_token_twice(
    target: Target, auth: AuthServer
) -> None:
    refresh_token = auth.grant("app")
    target.store.store(oauth2("svc", auth, refresh_token, path="/token-slow"))
    first = target.spawn("rotate", "svc")
    _wait_for(lambda: auth.hits["/token-slow"] >= 1, "the first rotation's token request")
    # A person stores the credential again (same refresh token, a new tag) meanwhile...
    record = json.loads(target.run("-o", "json", "get", "svc", "--reveal").stdout)
    record["tags"]["edited"] = "by-hand"
    stored = target.run("store", "svc", "--from-json", "-", stdin=json.dumps(record))
    assert stored.returncode == 0, stored.stderr
    # ... and starts a second rotation before the first has its answer.
    second = target.run("rotate", "svc")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 4, second.stderr
    assert "being rotated by another process" in second.stderr
    assert auth.hits["/token-slow"] == 1  # the refresh token reached the endpoint once
    now = target.store.get("svc")
    assert now.tags["edited"] == "by-hand"  # the store was kept: tokens merged onto it
    assert now.reveal("access_token") == auth.issued[-1]["access_token"]
    assert now.version == 3  # 1 stored, 2 the hand edit, 3 the rotation
    assert out.startswith("rotated svc (version 2 -> 3")


def test_rollback_undoes_only_the_last_rotation(target: Target, auth: AuthServer) -> None:
    target.store.store(oauth2("svc", auth, auth.grant("app")))
    assert target.run("rotate", "svc").returncode == 0
    rotated = target.store.get("svc")
    target.store.store(rotated.evolve(owner="changed-later"))  # a store after the rotation
    shown = target.run("-o", "json", "get", "svc")

    refused = target.run("rotate", "svc", "--rollback")

    assert refused.returncode == 4, refused.stderr
    assert "stored again after its last rotation" in refused.stderr
    assert "--force" in refused.stderr
    assert target.run("-o", "json", "get", "svc").stdout == shown.stdout
    forced = target.run("rotate", "svc", "--rollback", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "has revoked it already" in forced.stderr  # the spent refresh token is back
    assert forced.stderr.startswith("warning: svc: ")
    assert target.store.get("svc").owner == "platform"


def test_rollback_right_after_a_rotation_needs_no_force(target: Target, auth: AuthServer) -> None:
    original = target.store.store(oauth2("svc", auth, auth.grant("app")))
    assert target.run("rotate", "svc").returncode == 0
    back = target.run("-o", "json", "rotate", "svc", "--rollback")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["version_after"] == 3
    assert target.store.get("svc").revealed_fields() == original.revealed_fields()


def test_overlapping_due_runs_both_succeed_and_each_token_is_sent_once(
    target: Target, auth: AuthServer
) -> None:
    for cid in ("a", "b", "c"):
        target.store.store(oauth2(cid, auth, auth.grant("app"), path="/token-slow"))
    runs = [target.spawn("rotate", "--due", "--concurrency", "1") for _ in range(2)]
    results = [run.communicate(timeout=120) for run in runs]
    for run, (out, err) in zip(runs, results, strict=True):
        assert run.returncode == 0, out + err
    lines = "".join(out for out, _ in results)
    assert auth.hits["/token-slow"] == 3, lines
    assert sum(line.startswith("rotated ") for line in lines.splitlines()) == 3, lines
    elsewhere = lines.count("rotated elsewhere") + lines.count("[leased]")
    assert elsewhere == 3  # the other run's view of each: skipped, not failed
    for cid in ("a", "b", "c"):
        assert target.store.get(cid).version == 2


def test_an_odd_expires_in_keeps_the_old_expiry_and_says_so(
    tmp_path: Path, auth: AuthServer
) -> None:
    home = tmp_path / "home"
    with SyncCredentialProvider(LocalStorageProvider(home)) as store:
        before = store.store(
            oauth2("odd", auth, auth.grant("app"), path="/expires/abc", expires_in=timedelta(0))
        )
        store.store(oauth2("gone", auth, auth.grant("app"), path="/expires/negative"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_")}
        env["NEBULA_CREDENTIAL_HOME"] = str(home)
        exe = str(Path(sys.executable).with_name("nebula-credential"))
        odd = subprocess.run([exe, "rotate", "odd"], env=env, capture_output=True, text=True)
        gone = subprocess.run([exe, "rotate", "gone"], env=env, capture_output=True, text=True)
        assert odd.returncode == 0, odd.stderr
        assert "an unusable expires_in" in odd.stderr
        after = store.get("odd")
        kept = after.fields["access_token_expires_at"]
        assert kept == before.fields["access_token_expires_at"]  # never cleared
        assert gone.returncode == 0, gone.stderr
        expired = parse_timestamp(store.get("gone").fields["access_token_expires_at"], "x")
        assert expired <= utcnow()  # zero or negative: expired already, so due again


def test_the_lease_tag_cannot_be_forged_from_user_input(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_")}
    env["NEBULA_CREDENTIAL_HOME"] = str(tmp_path / "home")
    exe = str(Path(sys.executable).with_name("nebula-credential"))
    record = {
        "kind": "oauth2",
        "fields": {"access_token": "at", "refresh_token": "rt"},
        "tags": {"nebula-credential/rotating": "2026-01-01T00:00:00Z x"},
    }
    for args, stdin in (
        (
            [
                "store",
                "x",
                "--kind",
                "api_key",
                "--field",
                "api_key=-",
                "--tag",
                "nebula-credential/rotating=now",
            ],
            "k\n",
        ),
        (["store", "x", "--from-json", "-"], json.dumps(record)),
    ):
        done = subprocess.run([exe, *args], input=stdin, env=env, capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert "is reserved" in done.stderr
        assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "home" / "credentials.db").exists()  # nothing was written


@pytest.mark.parametrize(
    "args",
    [
        ["rotate", "a", "--within", "5m"],
        ["rotate", "a", "--concurrency", "2"],
        ["rotate", "a", "--rollback", "--timeout", "5"],
        ["rotate", "a", "--rollback", "--write-deadline", "5m"],
        ["rotate", "a", "--rollback", "--allow-http"],
        ["rotate", "a", "--resume", "--timeout", "5"],
        ["rotate", "a", "--resume", "--rollback"],
        ["rotate", "a", "--force"],
        ["rotate", "a", "--discard"],
        ["rotate", "--due", "--force"],
        ["rotate", "--due", "--write-deadline", "soon"],
        ["rotate", "a", "--write-deadline", "99999999d"],
        ["rotate", "a", "--write-deadline", "9999999d"],
    ],
)
def test_options_that_do_not_apply_are_refused(tmp_path: Path, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_")}
    env["NEBULA_CREDENTIAL_HOME"] = str(tmp_path / "home")
    exe = str(Path(sys.executable).with_name("nebula-credential"))
    done = subprocess.run([exe, *args], env=env, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr
