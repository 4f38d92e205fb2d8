"""The hand-edit rule on Secrets as ``encode`` writes them: which per-field keys win over
``credential.json``, which are reported, and what no credential can hold."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from nebula_credential import CorruptData, Credential
from nebula_credential.kubernetes.model.hand_edits import (
    HandEdit,
    add_hand_edit_listener,
    pods_view,
    report,
)
from nebula_credential.kubernetes.model.mapping import decode, encode
from nebula_credential.kubernetes.model.objects import SecretObject

CANARY = "canary-hand-9d3e"
PLACE = "Secret ns/nebula-credentials-svc"
FIX = "fix it"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def secret_of(credential: Credential) -> SecretObject:
    """The Secret a store of ``credential`` writes (version 1)."""
    now = datetime.now(UTC)
    stored = credential.revised(1, now, now)
    return encode(stored, "nebula-credentials-svc", prefix="nebula-credentials")


def view(secret: SecretObject) -> tuple[Credential, tuple[str, ...]]:
    return pods_view(secret, decode(secret, "ns"), PLACE, FIX)


def test_keys_as_written_change_nothing() -> None:
    secret = secret_of(Credential("svc", "oauth2", {"access_token": "a", "refresh_token": "r"}))
    credential, edited = view(secret)
    assert edited == ()
    assert credential == decode(secret, "ns")


def test_edited_keys_win_and_only_they_are_named() -> None:
    secret = secret_of(Credential("svc", "oauth2", {"access_token": "a", "refresh_token": "r"}))
    secret.data["access_token"] = b64(CANARY.encode())
    secret.data["refresh_token"] = b64(b"r2")
    credential, edited = view(secret)
    assert edited == ("access_token", "refresh_token")
    assert credential.reveal("access_token") == CANARY
    assert credential.version == 1  # a hand edit is no version


def test_a_key_added_for_a_secret_field_of_the_kind_counts() -> None:
    secret = secret_of(Credential("svc", "oauth2", {"access_token": "a"}))
    secret.data["refresh_token"] = b64(b"added-by-hand")
    credential, edited = view(secret)
    assert edited == ("refresh_token",)
    assert credential.reveal("refresh_token") == "added-by-hand"


def test_a_generic_credential_compares_its_own_fields() -> None:
    secret = secret_of(Credential("svc", "generic", {"token": "t", "user": "u"}))
    secret.data["token"] = b64(b"t2")
    credential, edited = view(secret)
    assert edited == ("token",)
    assert credential.reveal("token") == "t2"


@pytest.mark.parametrize("raw", [b"\xff" + CANARY.encode(), b""])
def test_a_key_no_field_can_hold_is_corrupt_data_without_the_value(raw: bytes) -> None:
    secret = secret_of(Credential("svc", "oauth2", {"access_token": "a"}))
    secret.data["access_token"] = b64(raw)
    with pytest.raises(CorruptData) as caught:
        view(secret)
    assert "access_token" in str(caught.value)
    assert FIX in str(caught.value)
    assert CANARY not in str(caught.value)


def test_a_report_reaches_listeners_with_names_only() -> None:
    seen: list[HandEdit] = []
    remove = add_hand_edit_listener(seen.append)
    try:
        report(HandEdit("svc", PLACE, ("access_token",), "secret", "ns", "42"))
    finally:
        remove()
    report(HandEdit("svc", PLACE, ("access_token",), "secret", "ns", "43"))
    assert len(seen) == 1
    line = seen[0].message()
    assert line.startswith("credential 'svc': Secret ns/nebula-credentials-svc key access_token")
    assert "credential.json" in line
