"""``nebula-credential rotate`` in real processes against a real authorization server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from oauth_server import AuthServer
from rotate_support import ACCESS, oauth2

from nebula_credential import Credential, LocalStorageProvider, SyncCredentialProvider

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def home_store(tmp_path: Path) -> Iterator[SyncCredentialProvider]:
    """The store the ``cli`` fixture's processes use."""
    with SyncCredentialProvider(LocalStorageProvider(tmp_path / "home")) as store:
        yield store


def _tokens(auth: AuthServer) -> list[str]:
    """Every token and client secret that exists in this test, to look for in output."""
    values = [ACCESS, *auth.tokens, *(c.client_secret for c in auth.clients.values())]
    values += [t["access_token"] for t in auth.issued]
    return values


def test_rotate_one_then_roll_back_twice(
    cli: RunCli, auth: AuthServer, home_store: SyncCredentialProvider
) -> None:
    home_store.store(oauth2("svc", auth, auth.grant("app")))
    done = cli("rotate", "svc")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rotated svc (version 1 -> 2, expires 20")
    assert done.stdout.rstrip().endswith(", new refresh token)")
    back = cli("-o", "json", "rotate", "svc", "--rollback")
    assert back.returncode == 0, back.stderr
    record = json.loads(back.stdout)
    assert (record["outcome"], record["version_before"], record["version_after"]) == (
        "rolled_back",
        2,
        3,
    )
    assert home_store.get("svc").reveal("access_token") == ACCESS
    again = cli("rotate", "svc", "--rollback")
    assert again.returncode == 0
    assert home_store.get("svc").reveal("access_token") == auth.issued[-1]["access_token"]
    outputs = done.stdout + done.stderr + back.stdout + back.stderr + again.stdout
    assert not [t for t in _tokens(auth) if t in outputs]


def test_revoked_refresh_token_exit_code_and_one_line(
    cli: RunCli,
    auth: AuthServer,
    home_store: SyncCredentialProvider,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refresh_token = auth.grant("app")
    auth.revoke(refresh_token)
    before = home_store.store(oauth2("svc", auth, refresh_token))
    done = cli("rotate", "svc")
    after = home_store.get("svc")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: credential 'svc': the token endpoint 127.0.0.1:")
    assert "refused the refresh: invalid_grant (HTTP 400)" in lines[0]
    assert after.revealed_fields() == before.revealed_fields()
    assert refresh_token not in done.stderr
    with capsys.disabled():
        print(
            f"\n[revoked-token CLI figures] exit={done.returncode} line={lines[0]!r} "
            f"version before={before.version} after={after.version} "
            f"endpoint calls={auth.hits['/token']}"
        )


@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("unreachable", 6, "failed with HTTP 503"),
        ("missing", 3, "not found"),
        ("api_key", 2, "only oauth2 credentials rotate"),
        ("no_refresh", 2, "has no refresh_token"),
        ("nothing_to_roll_back", 3, "no previous version"),
    ],
)
def test_errors_map_to_exit_codes(
    cli: RunCli,
    auth: AuthServer,
    home_store: SyncCredentialProvider,
    case: str,
    code: int,
    words: str,
) -> None:
    args = ["rotate", case]
    if case == "unreachable":
        home_store.store(oauth2(case, auth, "rt-1", path="/fail/503"))
    elif case == "api_key":
        home_store.store(Credential(case, "api_key", {"api_key": "k"}))
    elif case == "no_refresh":
        home_store.store(oauth2(case, auth, None))
    elif case == "nothing_to_roll_back":
        home_store.store(oauth2(case, auth, "rt-1"))
        args.append("--rollback")
    done = cli(*args)
    assert done.returncode == code, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert words in done.stderr


def test_usage_errors(cli: RunCli) -> None:
    for args in (
        ["rotate"],
        ["rotate", "a", "--due"],
        ["rotate", "--due", "--rollback"],
        ["rotate", "--due", "--within", "soon"],
        ["rotate", "--due", "--within", "9999999d"],  # past what dates hold: not an OverflowError
        ["rotate", "a", "--write-deadline", "999999999d"],
        ["rotate", "a", "--scope", "org:x"],
    ):
        done = cli(*args)
        assert done.returncode == 2, args
        assert len(done.stderr.splitlines()) == 1


def test_due_lines_summary_and_exit_code(
    cli: RunCli, auth: AuthServer, home_store: SyncCredentialProvider
) -> None:
    home_store.store(oauth2("soon", auth, auth.grant("app")))
    home_store.store(oauth2("later", auth, auth.grant("app"), expires_in=timedelta(hours=3)))
    done = cli("rotate", "--due", "--within", "15m")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("rotated soon (version 1 -> 2")
    assert lines[-1] == "rotate --due: 1 rotated, 0 failed, 0 skipped, 1 not due"
    revoked = auth.grant("app")
    auth.revoke(revoked)
    home_store.store(oauth2("dead", auth, revoked))
    failed = cli("-o", "json", "rotate", "--due", "--within", "4h")
    assert failed.returncode == 1
    summary = json.loads(failed.stdout)
    assert (summary["rotated"], summary["failed"], summary["not_due"]) == (2, 1, 0)
    dead = next(r for r in summary["results"] if r["id"] == "dead")
    assert (dead["outcome"], dead["error_code"]) == ("failed", "invalid_grant")
    assert not [t for t in _tokens(auth) if t in done.stdout + failed.stdout + failed.stderr]


def test_two_processes_rotating_at_once(
    tmp_path: Path, auth: AuthServer, home_store: SyncCredentialProvider
) -> None:
    home_store.store(oauth2("svc", auth, auth.grant("app"), path="/token-slow"))
    exe = str(Path(sys.executable).with_name("nebula-credential"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_CREDENTIAL_")}
    env["NEBULA_CREDENTIAL_HOME"] = str(tmp_path / "home")
    runs = [
        subprocess.Popen(
            [exe, "rotate", "svc"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=60), p.stdout, p.stderr) for p in runs]
    codes = sorted(code for code, _, _ in results)
    errors = b"".join(err.read() for _, _, err in results if err is not None).decode()
    for _, out, err in results:
        for stream in (out, err):
            if stream is not None:
                stream.close()
    assert codes == [0, 4], errors
    assert "being rotated by another process" in errors
    assert auth.hits["/token-slow"] == 1
    assert home_store.get("svc").reveal("access_token") == auth.issued[-1]["access_token"]


def test_debug_logging_shows_no_token(
    cli: RunCli, auth: AuthServer, home_store: SyncCredentialProvider
) -> None:
    home_store.store(oauth2("svc", auth, auth.grant("app")))
    revoked = auth.grant("app")
    auth.revoke(revoked)
    home_store.store(oauth2("dead", auth, revoked))
    ok = cli("--debug", "rotate", "svc")
    assert ok.returncode == 0, ok.stderr
    bad = cli("--debug", "rotate", "--due")
    assert bad.returncode == 1
    assert "DEBUG" in ok.stderr  # logging was on
    everything = ok.stdout + ok.stderr + bad.stdout + bad.stderr
    assert not [t for t in _tokens(auth) if t in everything]
