"""One JSON codec for credentials: byte-compatible with what was stored before, and
decode errors that carry none of the input (a canary stands in for a secret)."""

from __future__ import annotations

import base64
import json
import traceback
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nebula_credential import CorruptData, Credential, CredentialError, InvalidCredential
from nebula_credential.cli.inputs import UsageError, load_json_source, read_limited
from nebula_credential.domain.wire import decode_json, encode_json, format_json
from nebula_credential.kubernetes.model.foreign import foreign_credential
from nebula_credential.kubernetes.model.mapping import decode, encode
from nebula_credential.kubernetes.model.objects import SecretObject

CANARY = "canary-wire-5be21f"

# Written by Credential.to_json(reveal=True) when it still used json.dumps.
STORED_BEFORE = (
    '{"schema_version":1,"id":"db.prod_eu-1","kind":"database","scope":"org:acme/team:core",'
    '"owner":"alice@example.com","tags":{"env":"prod","note":"café </script>"},'
    '"fields":{"host":"db.example","port":5432,"username":"ünïcode \\"quoted\\"",'
    '"password":"p@ss\\n\\t\\\\/\u2028é🔑\x7f\\u0001"},'
    '"created_at":"2025-01-02T03:04:05.123456Z","updated_at":"2025-02-03T04:05:06.000000Z",'
    '"expires_at":"2025-12-31T22:00:00.000000Z","version":7}'
)


def test_a_credential_stored_before_decodes_and_encodes_to_the_same_bytes() -> None:
    credential = Credential.from_json(STORED_BEFORE.encode("utf-8"))
    assert credential.reveal("password") == "p@ss\n\t\\/\u2028é🔑\x7f\x01"
    assert credential.reveal("port") == 5432
    assert credential.tags == {"env": "prod", "note": "café </script>"}
    assert credential.version == 7
    assert credential.to_json(reveal=True) == STORED_BEFORE
    assert Credential.from_json(STORED_BEFORE) == credential


def test_the_encoder_writes_what_stdlib_json_wrote_for_every_code_point() -> None:
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    value = {"k": every, "n": [2**70, -1, None, True], "e": {}, "l": []}
    stdlib = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert encode_json(value) == stdlib
    assert format_json(value, indent=2) == json.dumps(value, ensure_ascii=False, indent=2)
    assert format_json(value, indent=0) == json.dumps(value, ensure_ascii=False)
    assert decode_json(stdlib) == value


MALFORMED = [
    pytest.param(f'{{"api_key": "{CANARY}', id="truncated"),
    pytest.param(f'{{"api_key": {CANARY}}}', id="bare-word"),
    pytest.param(f'{{"api_key": "{CANARY}"}} trailing', id="trailing"),
    pytest.param(f'{{"api_key": "{CANARY}\\x"}}'.encode(), id="bad-escape"),
    pytest.param(f'{{"api_key": "{CANARY}\xff"}}'.encode("latin-1"), id="bad-utf8"),
    pytest.param(f'\xff{{"api_key": "{CANARY}"}}'.encode("latin-1"), id="bad-utf8-outside"),
    pytest.param(f'{{"api_key": "{CANARY}\ud800"}}', id="lone-surrogate"),
    pytest.param(f'{{"api_key": "{CANARY}", "x": ' + "[" * 100_000, id="deep"),
]


def assert_carries_no_input(error: BaseException) -> None:
    assert error.__cause__ is None
    assert error.__context__ is None
    shown = "".join(traceback.format_exception(error))
    for text in (str(error), repr(error), shown):
        assert CANARY not in text


@pytest.mark.parametrize("document", MALFORMED)
def test_credential_decode_errors_carry_no_input(document: str | bytes) -> None:
    with pytest.raises(InvalidCredential) as caught:
        Credential.from_json(document)
    assert_carries_no_input(caught.value)


def test_a_secret_field_that_is_not_utf8_carries_no_value() -> None:
    with pytest.raises(InvalidCredential, match="not valid UTF-8") as caught:
        Credential("x", "api_key", {"api_key": f"{CANARY}\udcff"})
    assert_carries_no_input(caught.value)


def b64(raw: str | bytes) -> str:
    return base64.b64encode(
        raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    ).decode("ascii")


@pytest.mark.parametrize("document", MALFORMED)
def test_secret_payload_decode_errors_carry_no_input(document: str | bytes) -> None:
    secret = SecretObject(
        name="nebula-credentials-x",
        labels={"app.kubernetes.io/managed-by": "nebula-credential"},
        data={"credential.json": b64(document)},
    )
    with pytest.raises(CorruptData) as caught:
        decode(secret, "ns")
    assert_carries_no_input(caught.value)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"api_key": b64(f"{CANARY}\xff".encode("latin-1"))}, id="bad-utf8"),
        pytest.param({"api_key": f"{CANARY}!!"}, id="not-base64"),
        pytest.param({"api_key": f"{CANARY}é"}, id="not-ascii"),
        pytest.param({"credential.json": b64(f'{{"id": "{CANARY}'.encode())}, id="payload"),
    ],
)
def test_foreign_secret_decode_errors_carry_no_input(data: dict[str, str]) -> None:
    secret = SecretObject(name="x", data=data)
    with pytest.raises(CredentialError) as caught:
        foreign_credential(secret, "ns", prefix="nebula-credentials", kind="api_key")
    assert_carries_no_input(caught.value)


def test_foreign_tags_annotation_that_is_not_json_carries_no_input() -> None:
    secret = SecretObject(
        name="x",
        annotations={"nebula-credential/tags": f'{{"env": "{CANARY}'},
        data={"api_key": b64("value")},
    )
    with pytest.raises(InvalidCredential, match="annotation nebula-credential/tags") as caught:
        foreign_credential(secret, "ns", prefix="nebula-credentials", kind="api_key")
    assert_carries_no_input(caught.value)


class _Stream:
    def __init__(self, data: bytes) -> None:
        self.buffer = self
        self._data = data

    def read(self, size: int) -> bytes:
        return self._data[:size]


def test_cli_input_errors_carry_no_input() -> None:
    with pytest.raises(UsageError) as caught:
        read_limited(_Stream(f"{CANARY}\xff".encode("latin-1")), "standard input")
    assert_carries_no_input(caught.value)
    with pytest.raises(InvalidCredential, match="--from-json is not valid JSON") as bad:
        load_json_source("-", _Stream(f'{{"fields": {{"api_key": "{CANARY}'.encode()))  # type: ignore[arg-type]
    assert_carries_no_input(bad.value)


@pytest.mark.parametrize("year", [1, 999, 1000, 2026, 9999])
def test_a_credential_of_any_year_reads_back_as_it_was_stored(year: int, tmp_path: Path) -> None:
    """An expiry before the year 1000 was written with a three-digit year, which no
    reader accepts: the credential was stored and then could not be read."""
    from nebula_credential import LocalStorageProvider, SyncCredentialProvider

    expiry = datetime(year, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
    with SyncCredentialProvider(LocalStorageProvider(tmp_path / "store")) as store:
        store.store(Credential("old", "api_key", {"api_key": "v"}, expires_at=expiry))
        assert store.get("old").expires_at == expiry
    secret = encode(Credential("old", "api_key", {"api_key": "v"}, expires_at=expiry), "s")
    assert decode(secret, "ns").expires_at == expiry
