"""The script contract of the CLI, through the installed console script in real processes."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest
import yaml

CANARY = "canary-cli-9d2c71"
REQUIRED_KEYS = {
    "id",
    "kind",
    "scope",
    "version",
    "owner",
    "tags",
    "created_at",
    "updated_at",
    "fields",
}


def test_store_get_list_delete_round_trip(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token_file = tmp_path / "refresh.txt"
    token_file.write_text(f"{CANARY}-refresh")
    stored = cli(
        "store",
        "github",
        "--kind",
        "oauth2",
        "--scope",
        "user:alice",
        "--owner",
        "alice",
        "--tag",
        "env=prod",
        "--tag",
        "team=core",
        "--field",
        "access_token=-",
        "--field",
        f"refresh_token=@{token_file}",
        "--field",
        "client_id=my-client",
        stdin=f"{CANARY}-access\n",
    )
    assert stored.returncode == 0, stored.stderr
    assert "stored github" in stored.stdout
    assert stored.stderr == ""  # no warning: no secret was on the command line

    raw = cli("get", "github", "--field", "access_token", "--reveal")
    assert raw.returncode == 0
    assert raw.stdout == f"{CANARY}-access\n"
    assert cli("get", "github", "--field", "refresh_token", "--reveal").stdout == (
        f"{CANARY}-refresh\n"
    )
    assert cli("get", "github", "--field", "access_token").stdout == "**********\n"
    assert cli("get", "github", "--field", "client_id").stdout == "my-client\n"

    shown = cli("--output", "json", "get", "github")
    record = json.loads(shown.stdout)
    assert set(record) >= REQUIRED_KEYS
    assert record["fields"] == {
        "access_token": "**********",
        "refresh_token": "**********",
        "client_id": "my-client",
    }
    assert record["version"] == 1
    assert record["tags"] == {"env": "prod", "team": "core"}
    revealed = json.loads(cli("get", "github", "--reveal", "--output", "json").stdout)
    assert revealed["fields"]["access_token"] == f"{CANARY}-access"

    listed = json.loads(cli("--output", "json", "list", "--scope", "user:alice").stdout)
    assert [r["id"] for r in listed] == ["github"]
    assert set(listed[0]) >= REQUIRED_KEYS
    as_yaml = yaml.safe_load(cli("--output", "yaml", "list").stdout)
    assert as_yaml[0]["id"] == "github"
    assert json.loads(cli("-o", "json", "list", "--scope", "user:bob").stdout) == []
    prefix = json.loads(cli("-o", "json", "list", "--scope", "user:alice", "--descendants").stdout)
    assert len(prefix) == 1

    for args in (
        ("get", "github"),
        ("list",),
        ("-o", "json", "list"),
        ("-o", "yaml", "get", "github"),
    ):
        result = cli(*args)
        assert CANARY not in result.stdout + result.stderr, args

    gone = cli("delete", "github")
    assert gone.returncode == 0
    assert "deleted github" in gone.stdout
    again = cli("delete", "github")
    assert again.returncode == 0
    assert "absent" in again.stdout
    missing = cli("get", "github")
    assert missing.returncode == 3
    assert missing.stderr.count("\n") == 1
    assert "github" in missing.stderr


def test_stale_expected_version_exits_4_and_keeps_the_value(cli) -> None:  # type: ignore[no-untyped-def]
    def store_key(value: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return cli("store", "k", "--kind", "api_key", "--field", "api_key=-", *extra, stdin=value)

    assert store_key("one").returncode == 0
    assert store_key("two", "--expected-version", "1").returncode == 0
    stale = store_key("three", "--expected-version", "1")
    assert stale.returncode == 4
    assert "version 2" in stale.stderr
    assert cli("get", "k", "--field", "api_key", "--reveal").stdout == "two\n"


def test_secret_on_the_command_line_warns_but_works(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "store",
        "db",
        "--kind",
        "basic_auth",
        "--field",
        "username=svc",
        "--field",
        f"password={CANARY}",
    )
    assert result.returncode == 0
    assert "warning" in result.stderr
    assert "password" in result.stderr
    assert CANARY not in result.stderr + result.stdout


def test_from_json_accepts_what_get_prints(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli(
        "store",
        "src",
        "--kind",
        "database",
        "--field",
        "host=db",
        "--field",
        "port=5432",
        "--field",
        "username=u",
        "--field",
        "password=-",
        "--scope",
        "org:acme",
        stdin=CANARY,
    )
    exported = cli("get", "src", "--reveal", "-o", "json").stdout
    (tmp_path / "src.json").write_text(exported)
    copied = cli("store", "copy", "--from-json", str(tmp_path / "src.json"))
    assert copied.returncode == 0, copied.stderr
    record = json.loads(cli("get", "copy", "--reveal", "-o", "json").stdout)
    assert record["fields"]["port"] == 5432
    assert record["fields"]["password"] == CANARY
    assert record["scope"] == "org:acme"


def test_no_traceback_without_debug(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("get", "a/b")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    debug = cli("--debug", "get", "a/b")
    assert "Traceback" in debug.stderr


# The script contract of PRODUCT.md: every command and option a script may rely on.
CONTRACT_OPTIONS = {
    "": {
        "--provider",
        "--data-dir",
        "--namespace",
        "--context",
        "--kubeconfig",
        "--prefix",
        "--output",
        "--debug",
    },
    "store": {
        "--kind",
        "--scope",
        "--owner",
        "--tag",
        "--field",
        "--from-json",
        "--expected-version",
    },
    "get": {"--field", "--reveal"},
    "list": {"--scope", "--descendants", "--kind", "--tag"},
    "delete": set(),
}


def help_panel(text: str, title: str) -> list[str]:
    """The rows of one section (Options:, Commands:, Arguments:) of the help output."""
    rows: list[str] = []
    inside = False
    for line in text.splitlines():
        if line and not line[0].isspace():
            inside = line == f"{title}:"
        elif inside and line.strip():
            rows.append(line.strip())
    return rows


def test_help_lists_every_contract_command_and_option(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--help")
    assert result.returncode == 0, result.stderr
    commands = {row.split()[0] for row in help_panel(result.stdout, "Commands") if row}
    assert commands >= {"store", "get", "list", "delete"}, result.stdout
    for command, expected in CONTRACT_OPTIONS.items():
        shown = cli(*([command] if command else []), "--help")
        assert shown.returncode == 0, shown.stderr
        options = {
            word.rstrip(",")
            for row in help_panel(shown.stdout, "Options")
            for word in row.split("  ")[0].split()
            if word.startswith("--")
        }
        assert options >= expected | {"--help"}, (command, sorted(expected - options))
        if command in ("store", "get", "delete"):
            assert "ID" in shown.stdout.split("Usage:")[1].splitlines()[0], shown.stdout


def test_library_logs_never_carry_secret_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from nebula_credential import (
        Conflict,
        Credential,
        LocalStorageProvider,
        SyncCredentialProvider,
    )

    caplog.set_level(logging.DEBUG)
    with SyncCredentialProvider(LocalStorageProvider(tmp_path)) as store:
        first = store.store(
            Credential("x", "aws", {"access_key_id": "AKIA", "secret_access_key": CANARY})
        )
        with pytest.raises(Conflict) as caught:
            store.store(first, expected_version=7)
        list(store.list_all())
    assert CANARY not in caplog.text
    assert CANARY not in str(caught.value)
    assert CANARY not in repr(caught.value)
