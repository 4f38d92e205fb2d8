"""The PKCS#11 KEK on a SoftHSM2 token: sealing happens on the token, a tampered blob is
DATA_LOSS (SoftHSM2 reports a failed GCM tag as a general error), and keys that could
leave the token, wrong PINs or missing keys are refused at start-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pkcs11
import pytest
from kms_support import PIN, SOFTHSM_MODULE, TOKEN, cli, softhsm_token
from pkcs11 import Attribute, KeyType

from nebula_credential.kms import KekConfigError, Keyring, Tampered, UnknownKek
from nebula_credential.kms.pkcs11_kek import TokenKek, generate_token_kek

DEK = b"\x07" * 32


@pytest.fixture
def uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    return softhsm_token(tmp_path, monkeypatch)


def test_token_kek_round_trip_and_tampering(uri: Callable[[str], str]) -> None:
    kek = generate_token_kek(uri("kek-a"))
    other = generate_token_kek(uri("kek-b"))
    try:
        ring = Keyring([kek])
        blob = ring.seal(DEK)
        assert ring.open(blob) == (DEK, "pkcs11-kek-a")
        for at in (len(blob) - 1, len(blob) - 20, blob.index(b"pkcs11-kek-a") + 12 + 1):
            bad = blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1 :]
            with pytest.raises(Tampered):
                ring.open(bad)
        # The token still works after the failures (no session left broken).
        assert ring.open(ring.seal(DEK))[0] == DEK
        with pytest.raises(UnknownKek):
            ring.open(Keyring([other]).seal(DEK))
        # Both KEKs active: the first seals, each opens its own.
        both = Keyring([other, kek])
        assert both.open(blob) == (DEK, "pkcs11-kek-a")
        assert both.open(both.seal(DEK))[1] == "pkcs11-kek-b"
    finally:
        kek.close()
        other.close()


def test_keys_that_can_leave_the_token_are_refused(uri: Callable[[str], str]) -> None:
    lib = pkcs11.lib(SOFTHSM_MODULE)
    with lib.get_token(token_label=TOKEN).open(user_pin=PIN, rw=True) as session:
        session.generate_key(
            KeyType.AES, 256, label="loose", store=True, template={Attribute.EXTRACTABLE: True}
        )
    with pytest.raises(KekConfigError, match="can leave the token"):
        TokenKek.from_uri(uri("loose"))
    done = cli("kms", "serve", "--socket", "unix:///tmp/never.sock", "--kek", uri("loose"))
    assert done.returncode == 2
    assert "can leave the token" in done.stderr


def test_wrong_pin_and_missing_key_are_usage_errors(
    uri: Callable[[str], str], tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong-pin"
    wrong.write_text("not-the-pin")
    wrong.chmod(0o600)
    bad_pin = uri("kek-a").replace(str(tmp_path / "pin"), str(wrong))
    for source, message in (
        (bad_pin, "cannot open token"),
        (uri("absent"), "no AES key labelled 'absent'"),
    ):
        done = cli("kms", "serve", "--socket", f"unix://{tmp_path}/s.sock", "--kek", source)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "not-the-pin" not in done.stderr
        assert PIN not in done.stderr
