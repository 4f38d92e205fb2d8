"""A corpus of malformed input: each is a typed error, one line, exit 2, nothing written."""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from nebula_credential import (
    Credential,
    InvalidCredential,
    LocalStorageProvider,
    SyncCredentialProvider,
    ValidationError,
)
from nebula_credential.cli import main

CANARY = "canary-bad-input-4411"
OK_JSON = {"fields": {"api_key": CANARY}}


def js(extra: dict[str, object]) -> bytes:
    return json.dumps({**OK_JSON, **extra}).encode()


# (argv after the global options, stdin bytes)
CORPUS: list[tuple[list[str], bytes]] = [
    # ids
    *[
        (["store", bad, "--kind", "api_key", "--field", "api_key=-"], CANARY.encode())
        for bad in [
            "",
            "x" * 256,
            "a/b",
            "../etc/passwd",
            "..",
            ".",
            ".hidden",
            "a\\b",
            "tab\tid",
            "new\nline",
            "sp ace",
            "émoji-☃",
            "colon:id",
            "bad\udcffbytes",  # how Python hands over non-UTF-8 argv bytes
        ]
    ],
    (["get", "../x"], b""),
    (["list", "--tag", 'a"b=1'], b""),
    (["list", "--tag", "env=new\nline"], b""),
    (["get", "x" * 300], b""),
    (["delete", "a/b"], b""),
    (["delete", ""], b""),
    # scopes
    *[
        (["store", "good", "--kind", "api_key", "--scope", bad, "--field", "api_key=-"], b"v")
        for bad in [
            "",
            "user",
            "user:",
            ":alice",
            "User:alice",
            "org:acme/",
            "org:acme//team:x",
            "org:ac me",
            "org:a\x01b",
            "org:" + "a" * 1100,
            "org:acme/../etc",
        ]
    ],
    (["list", "--scope", "nocolon"], b""),
    (["list", "--scope", "org:x/"], b""),
    (["list", "--descendants"], b""),
    # kinds
    (["store", "good", "--kind", "nope", "--field", "api_key=-"], b"v"),
    (["store", "good", "--kind", "OAUTH2", "--field", "access_token=-"], b"v"),
    (["store", "good", "--field", "api_key=-"], b"v"),
    (["list", "--kind", "nope"], b""),
    # fields on the command line
    (["store", "good", "--kind", "api_key", "--field", "noequals"], b""),
    (["store", "good", "--kind", "api_key", "--field", "=value"], b""),
    (["store", "good", "--kind", "api_key", "--field", "api_key=@/nonexistent/file"], b""),
    (["store", "good", "--kind", "api_key", "--field", "unknown=-"], b"v"),
    (["store", "good", "--kind", "api_key"], b""),  # required secret, stdin not a terminal
    (["store", "good", "--kind", "api_key", "--field", "api_key=-"], b"\xff\xfe\xfd"),
    (
        ["store", "good", "--kind", "api_key", "--field", "api_key=-", "--field", "header_name=-"],
        b"v",
    ),
    (["store", "good", "--kind", "basic_auth", "--field", "username=u"], b""),
    (
        [
            "store",
            "good",
            "--kind",
            "database",
            "--field",
            "host=h",
            "--field",
            "username=u",
            "--field",
            "password=-",
            "--field",
            "port=abc",
        ],
        b"pw",
    ),
    (["store", "good", "--kind", "api_key", "--field", "api_key=-", "--tag", "noequals"], b"v"),
    (["store", "good", "--kind", "api_key", "--field", "api_key=-", "--tag", "bad key=v"], b"v"),
    (["store", "good", "--kind", "api_key", "--field", "api_key=-", "--tag", "k=\x01"], b"v"),
    (["store", "good", "--kind", "api_key", "--field", "api_key=-", "--owner", ""], b"v"),
    (["store", "good", "--kind", "api_key", "--field", "api_key=-", "--expires-at", "soon"], b"v"),
    (
        ["store", "good", "--kind", "api_key", "--field", "api_key=-", "--expected-version", "-1"],
        b"v",
    ),
    (
        ["store", "good", "--kind", "api_key", "--field", "api_key=-", "--expected-version", "x"],
        b"v",
    ),
    # payloads through --from-json
    *[
        (["store", "good", "--kind", "api_key", "--from-json", "-"], payload)
        for payload in [
            b"",
            b"{",
            b"[]",
            b"null",
            b'"text"',
            b"\xff\xfe{}",
            b"[" * 100_000,
            b'{"fields": []}',
            b'{"fields": {"api_key": 5}}',
            b'{"fields": {"api_key": null}}',
            b'{"fields": {"api_key": ["a"]}}',
            b'{"fields": {"api_key": {"nested": 1}}}',
            b'{"fields": {"api_key": true}}',
            b'{"fields": {"wrong_field": "x"}}',
            b'{"fields": {"api_key": "\\ud800"}}',
            js({"kind": 5}),
            js({"kind": "oauth2"}),
            js({"tags": {"a": 1}}),
            js({"tags": []}),
            js({"owner": 7}),
            js({"scope": "bad scope"}),
            js({"scope": None}),
            js({"expires_at": "tomorrow"}),
            js({"expires_at": "2026-01-01T00:00:00"}),
            js({"schema_version": "1"}),
            js({"fields": {"api_key": CANARY, "x" * 300: "v"}}),
        ]
    ],
    (
        ["store", "good", "--kind", "database", "--from-json", "-"],
        b'{"host": "h", "username": "u", "password": "p", "port": "5432"}',
    ),
    (["store", "good", "--kind", "api_key", "--from-json", "-", "--field", "api_key=-"], b"{}"),
    (["store", "good", "--kind", "api_key", "--from-json", "/nonexistent.json"], b""),
    # timestamps that do not exist in UTC
    *[
        (["store", "good", "--kind", "api_key", "--field", "api_key=-", "--expires-at", t], b"v")
        for t in ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
    ],
    (
        ["store", "good", "--kind", "api_key", "--from-json", "-"],
        js({"expires_at": "0001-01-01T00:00:00+01:00"}),
    ),
    # Kubernetes names as typed (checked before any configuration is read)
    *[
        (["--provider", "kubernetes", *option, "list"], b"")
        for option in [
            ["--namespace", "BAD NS"],
            ["--namespace", ""],
            ["--namespace", "x" * 64],
            ["--namespace", "ns\udcff"],
            ["--namespace", "ns\x00"],
            ["--prefix", "Team_B"],
            ["--prefix", ""],
            ["--prefix", "-x"],
        ]
    ],
    # too large for the store: bad input too
    (["store", "good", "--kind", "api_key", "--field", "api_key=-"], b"k" * (1024 * 1024)),
    (["store", "good", "--kind", "generic", "--field", "blob=-"], b"k" * (1024 * 1024)),
    # a flat --from-json object with a kind
    (
        ["store", "good", "--from-json", "-"],
        json.dumps({"kind": "api_key", "api_key": CANARY}).encode(),
    ),
    (
        ["store", "good", "--kind", "api_key", "--from-json", "-"],
        json.dumps({"kind": "api_key", "api_key": CANARY}).encode(),
    ),
    # field names Kubernetes refuses
    *[
        (["store", "good", "--kind", "generic", "--field", f"{name}=-"], CANARY.encode())
        for name in [".", "..", "..x"]
    ],
    # a secret where a name or number belongs is not echoed
    *[
        (["store", "good", "--kind", "api_key", *extra], b"v")
        for extra in [
            ["--field", f"api_key:{CANARY}"],
            ["--field", f"api_key:{CANARY}="],
            ["--field", f"{CANARY}="],
            ["--field", CANARY],
            ["--field", "api_key=-", "--tag", CANARY],
            ["--field", "api_key=-", "--tag", f"={CANARY}"],
            ["--field", "api_key=-", "--expected-version", CANARY],
            ["--field", "api_key=-", "--expected-version", "9" * 5000],
            ["--field", "api_key=", CANARY],
            ["--field", "api_key=", f"-{CANARY}"],
            ["--field", "api_key=", "-x" + CANARY],
        ]
    ],
    (["list", "--tag", CANARY], b""),
    (["list", "--tag", f"={CANARY}"], b""),
    (["get", "good", CANARY], b""),
    # usage
    (["frobnicate"], b""),
    (["store"], b""),
    (["get"], b""),
    (["--output", "xml", "list"], b""),
    (["--provider", "nowhere", "list"], b""),
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEBULA_CREDENTIAL_HOME", str(tmp_path))
    monkeypatch.delenv("NEBULA_CREDENTIAL_PROVIDER", raising=False)
    with SyncCredentialProvider(LocalStorageProvider(tmp_path)) as store:
        store.store(Credential("good", "api_key", {"api_key": "original"}))
    return tmp_path


def run_cli(
    argv: list[str],
    stdin: bytes,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_flat_kind_in_from_json_is_named_as_the_problem(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    flat = json.dumps({"kind": "api_key", "api_key": CANARY}).encode()
    for argv in (
        ["store", "good", "--from-json", "-"],
        ["store", "good", "--kind", "api_key", "--from-json", "-"],
    ):
        code, _, err = run_cli(argv, flat, monkeypatch, capsys)
        assert code == 2
        assert "flat object" in err
        assert "'fields'" in err


def test_a_colon_for_an_equals_sign_is_pointed_out(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["store", "good", "--kind", "api_key", "--field", f"api_key:{CANARY}"]
    code, _, err = run_cli(argv, b"", monkeypatch, capsys)
    assert code == 2
    assert "--field #1" in err
    assert "after 'api_key' comes ':'" in err
    argv = ["store", "good", "--kind", "api_key", "--field", "apikey=-"]
    code, _, err = run_cli(argv, b"v", monkeypatch, capsys)
    assert "did you mean 'api_key'?" in err
    assert "'apikey'" not in err


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 50


@pytest.mark.parametrize(("argv", "stdin"), CORPUS, ids=[str(i) for i in range(len(CORPUS))])
def test_malformed_input_is_a_one_line_usage_error(
    argv: list[str],
    stdin: bytes,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_cli(argv, stdin, monkeypatch, capsys)
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert CANARY not in err + out
    with SyncCredentialProvider(LocalStorageProvider(home)) as store:
        everything = list(store.list_all())
    assert [c.id for c in everything] == ["good"]
    assert everything[0].version == 1
    assert everything[0].reveal("api_key") == "original"
    with closing(sqlite3.connect(home / "credentials.db")) as db:
        assert db.execute("SELECT count(*) FROM credentials").fetchone()[0] == 1


@pytest.mark.parametrize(
    "payload",
    [
        [],
        None,
        "x",
        {},
        {"id": "ok"},
        {"id": "ok", "kind": "api_key"},
        {"id": "ok", "kind": "api_key", "fields": {"api_key": ""}},
        {"id": "ok", "kind": "api_key", "fields": {"api_key": "k"}, "version": -1},
        {"id": "ok", "kind": "api_key", "fields": {"api_key": "k"}, "version": "1"},
        {"id": "ok", "kind": "api_key", "fields": {"api_key": "k"}, "surprise": 1},
        {"id": 5, "kind": "api_key", "fields": {"api_key": "k"}},
        {"id": "ok", "kind": "generic", "fields": {}},
        {"id": "ok", "kind": "generic", "fields": {"credential.json": "x"}},
        {"id": "ok", "kind": "generic", "fields": {"a/b": "x"}},
    ],
)
def test_malformed_wire_payloads_are_typed_errors(payload: object) -> None:
    with pytest.raises(ValidationError):
        Credential.from_dict(payload)  # type: ignore[arg-type]


def test_non_utf8_json_is_invalid_credential() -> None:
    with pytest.raises(InvalidCredential, match="UTF-8"):
        Credential.from_json(b'{"id": "\xff"}')
