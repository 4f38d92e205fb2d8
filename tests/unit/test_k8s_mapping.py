"""Credential <-> Secret mapping, including Secrets nebula-credential did not write."""

from __future__ import annotations

import base64
import json
import re

import pytest

from nebula_credential import (
    CorruptData,
    Credential,
    InvalidCredential,
    ListFilter,
    PayloadTooLarge,
)
from nebula_credential.kubernetes import SecretObject
from nebula_credential.kubernetes.model.foreign import foreign_credential
from nebula_credential.kubernetes.model.mapping import (
    decode,
    encode,
    encode_previous,
    from_b64,
    list_labels,
    noted_version,
    surely_fits,
)

CANARY = "canary-5f0c9e-secret"
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def oauth(**extra: object) -> Credential:
    return Credential(
        "github_OAuth.main",
        "oauth2",
        {"access_token": CANARY, "refresh_token": "r-" + CANARY, "client_id": "app-1"},
        scope="org:acme/user:alice@example.com",
        owner="alice@example.com",
        tags={"env": "prod", "team/owner": "platform eng"},
        version=3,
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-02T00:00:00Z",
        **extra,  # type: ignore[arg-type]
    )


def test_encode_writes_payload_secret_keys_labels_and_annotations() -> None:
    secret = encode(oauth(), "nebula-credentials-x")
    assert set(secret.data) == {"credential.json", "access_token", "refresh_token"}
    assert base64.b64decode(secret.data["access_token"]).decode() == CANARY
    payload = json.loads(base64.b64decode(secret.data["credential.json"]))
    assert payload["fields"]["access_token"] == CANARY
    assert secret.labels["app.kubernetes.io/managed-by"] == "nebula-credential"
    assert secret.labels["nebula-credential/kind"] == "oauth2"
    assert secret.labels["tag.nebula-credential/env"] == "prod"
    for value in secret.labels.values():
        assert len(value) <= 63
        assert LABEL_VALUE.fullmatch(value)
    notes = secret.annotations
    assert notes["nebula-credential/id"] == "github_OAuth.main"
    assert notes["nebula-credential/scope"] == "org:acme/user:alice@example.com"
    assert notes["nebula-credential/owner"] == "alice@example.com"
    assert json.loads(notes["nebula-credential/tags"]) == {
        "env": "prod",
        "team/owner": "platform eng",
    }
    assert notes["nebula-credential/version"] == "3"
    assert notes["nebula-credential/created-at"] == "2026-01-01T00:00:00.000000Z"
    assert CANARY not in json.dumps(notes)


def test_secret_object_repr_hides_values() -> None:
    secret = encode(oauth(), "nebula-credentials-x")
    shown = repr(secret)
    assert CANARY not in shown
    assert secret.data["access_token"] not in shown
    assert "access_token" in shown


def test_decode_round_trips() -> None:
    original = oauth()
    assert decode(encode(original, "n"), "ns") == original


@pytest.mark.parametrize(
    "payload", [b"{not json", b'{"id": "x", "kind": "oauth2"}', b"\xff\xfe", b"[]"]
)
def test_corrupt_payload_is_corrupt_data(payload: bytes) -> None:
    secret = encode(oauth(), "nebula-credentials-x")
    secret.data["credential.json"] = b64(payload)
    with pytest.raises(CorruptData, match="Secret ns/nebula-credentials-x") as caught:
        decode(secret, "ns")
    assert CANARY not in str(caught.value)
    assert "kubectl delete secret nebula-credentials-x -n ns" in str(caught.value)


def test_bad_base64_and_missing_payload_are_corrupt_data() -> None:
    secret = encode(oauth(), "n")
    secret.data["credential.json"] = "%%%"
    with pytest.raises(CorruptData, match="base64"):
        decode(secret, "ns")
    del secret.data["credential.json"]
    with pytest.raises(CorruptData, match=r"no credential\.json"):
        decode(secret, "ns")


@pytest.mark.parametrize(
    "text",
    ["", "QQ==", "QUI=", "QUJD", "QR==", "QQ", "Q===", "====", "QQ==QQ==", "=QQ=", "Q Q==",
     "QQ==\n", "\nQUJD", "-_8=", "+/8=", "QUJD\x00", "QUJDé", "\u0661\u0662==", "QUJD ="],
)  # fmt: skip
def test_secret_values_are_read_as_strict_base64_exactly(text: str) -> None:
    """Whatever ``base64.b64decode(validate=True)`` refuses is refused, the rest reads alike:
    a hand-edited key with a newline or URL-safe characters is no value pods read."""
    try:
        expected: bytes | None = base64.b64decode(text, validate=True)
    except ValueError:
        expected = None
    try:
        found: bytes | None = from_b64(text)
    except ValueError:
        found = None
    assert found == expected


def test_id_annotation_edited_by_hand_is_corrupt_data() -> None:
    secret = encode(oauth(), "n")
    secret.annotations["nebula-credential/id"] = "someone-else"
    with pytest.raises(CorruptData, match="edited by hand"):
        decode(secret, "ns")


def test_payload_over_one_mebibyte_is_refused_before_sending() -> None:
    big = Credential("big", "generic", {"blob": "x" * (1024 * 1024)})
    with pytest.raises(PayloadTooLarge, match="big") as caught:
        encode(big, "n")
    assert "x" * 50 not in str(caught.value)


def test_secret_fields_count_twice_against_the_limit() -> None:
    # 600 KB alone fits, but credential.json plus its own data key do not.
    cred = Credential("half", "api_key", {"api_key": "k" * 600_000})
    with pytest.raises(PayloadTooLarge):
        encode(cred, "n")


def test_noted_version_survives_garbage() -> None:
    secret = encode(oauth(), "n")
    assert noted_version(secret) == 3
    secret.annotations["nebula-credential/version"] = "not-a-number"
    assert noted_version(secret) == 0


def test_list_labels_use_one_selector_per_filter() -> None:
    labels = list_labels(
        ListFilter.build(scope="org:acme", descendants=True, kind="api_key", tags={"env": "prod"})
    )
    assert labels["app.kubernetes.io/managed-by"] == "nebula-credential"
    assert labels["nebula-credential/kind"] == "api_key"
    assert labels["tag.nebula-credential/env"] == "prod"
    assert "nebula-credential/scope-level-1" in labels
    assert len(labels) == 4
    assert list_labels(ListFilter()) == {"app.kubernetes.io/managed-by": "nebula-credential"}


# -- Secrets written by others -------------------------------------------------------


def seed_step_1_3() -> SecretObject:
    """``kubectl create secret generic nebula-credentials-oauth2 --from-literal=...``."""
    return SecretObject(
        name="nebula-credentials-oauth2",
        labels={"app": "nebula-credential", "credential-type": "oauth2"},
        data={
            "credential_id": b64("cred_123"),
            "credential_type": b64("oauth2"),
            "access_token": b64(CANARY),
            "refresh_token": b64("1//0eXhY"),
        },
    )


def test_seed_kubectl_secret_reads_as_oauth2() -> None:
    cred = foreign_credential(seed_step_1_3(), "nebula-prod", prefix="nebula-credentials")
    assert cred.kind.value == "oauth2"
    assert cred.id == "cred_123"
    assert cred.reveal("access_token") == CANARY
    assert cred.reveal("refresh_token") == "1//0eXhY"
    assert cred.version == 0
    assert CANARY not in repr(cred)


def test_kind_from_credential_type_key_alone() -> None:
    secret = seed_step_1_3()
    secret.labels.clear()
    assert foreign_credential(secret, "ns", prefix="p").kind.value == "oauth2"


def test_eso_style_secret_needs_a_kind_and_gets_one_from_the_caller() -> None:
    secret = SecretObject(
        name="nebula-credentials-github",
        data={"accessToken": b64(CANARY), "refreshToken": b64("r")},
    )
    # The stored Secret lacks the kind, not the caller's input: CorruptData (exit 1).
    with pytest.raises(CorruptData, match="does not say which kind") as caught:
        foreign_credential(secret, "ns", prefix="nebula-credentials")
    assert "kubectl label secret nebula-credentials-github" in str(caught.value)
    cred = foreign_credential(
        secret,
        "ns",
        prefix="nebula-credentials",
        kind="oauth2",
        field_names={"accessToken": "access_token", "refreshToken": "refresh_token"},
    )
    assert cred.id == "github"  # the name without the prefix
    assert cred.reveal("access_token") == CANARY


def test_unknown_keys_are_named_not_dropped() -> None:
    secret = seed_step_1_3()
    secret.data["extra"] = b64(CANARY)
    with pytest.raises(InvalidCredential, match="extra") as caught:
        foreign_credential(secret, "ns", prefix="p")
    assert CANARY not in str(caught.value)
    cred = foreign_credential(secret, "ns", prefix="p", ignore_unknown=True)
    assert "extra" not in cred.fields


def test_missing_required_field_and_binary_value_are_typed_errors() -> None:
    secret = seed_step_1_3()
    del secret.data["access_token"]
    with pytest.raises(InvalidCredential, match="access_token"):
        foreign_credential(secret, "ns", prefix="p")
    secret.data["access_token"] = b64(b"\xff\x00\xfe")
    with pytest.raises(InvalidCredential, match="not UTF-8"):
        foreign_credential(secret, "ns", prefix="p")


def test_unknown_kind_label_is_refused() -> None:
    secret = seed_step_1_3()
    secret.labels["credential-type"] = "kerberos"
    with pytest.raises(CorruptData, match="kerberos"):
        foreign_credential(secret, "ns", prefix="p")
    with pytest.raises(InvalidCredential, match="kerberos"):  # the caller's kind is input
        foreign_credential(secret, "ns", prefix="p", kind="kerberos")


def test_database_port_key_becomes_an_integer() -> None:
    secret = SecretObject(
        name="db",
        data={
            "host": b64("db.internal"),
            "port": b64("5432"),
            "username": b64("svc"),
            "password": b64(CANARY),
        },
    )
    cred = foreign_credential(secret, "ns", prefix="p", kind="database")
    assert cred.fields["port"] == 5432
    secret.data["port"] = b64("54x")
    with pytest.raises(InvalidCredential, match="integer"):
        foreign_credential(secret, "ns", prefix="p", kind="database")


def test_foreign_secret_with_credential_json_is_read_from_it() -> None:
    secret = encode(oauth(), "nebula-credentials-api")
    secret.labels.clear()
    secret.annotations.clear()
    cred = foreign_credential(secret, "ns", prefix="nebula-credentials")
    assert cred.id == "github_OAuth.main"
    with pytest.raises(InvalidCredential, match="not api_key"):
        foreign_credential(secret, "ns", prefix="nebula-credentials", kind="api_key")


def test_size_check_counts_labels_and_annotations_but_allows_a_full_data_limit() -> None:
    from nebula_credential import PayloadTooLarge
    from nebula_credential.kubernetes.model.limits import MAX_STORED_BYTES, stored_bytes

    # Close to 1 MiB of data (credential.json plus the api_key key) and a few tags: fits.
    full = Credential("full", "api_key", {"api_key": "x" * 520_000}, tags={"env": "prod"})
    secret = encode(full.evolve(version=1), "nebula-credentials-full")
    assert 1_000_000 < stored_bytes(secret) <= MAX_STORED_BYTES
    # The same data with many long tags no longer fits etcd, though the data limit holds.
    tags = {f"t{i:04d}-" + "k" * 57: f"{i:04d}" + "v" * 59 for i in range(1900)}
    many = Credential("many", "api_key", {"api_key": "x" * 390_000}, tags=tags)
    with pytest.raises(PayloadTooLarge, match="labels"):
        encode(many.evolve(version=1), "nebula-credentials-many")


@pytest.mark.parametrize(
    "fields",
    [
        {"api_key": "k"},
        {"blob": "x" * 40_000},
        {"blob": "\x01" * 30_000},  # escaped as \u0001: six bytes each
        {"blob": "\U0001f511" * 30_000},  # four bytes each in UTF-8
        {"blob": "x" * 1024 * 1024},
        {f"k{i}": "v" * 900 for i in range(1200)},
    ],
    ids=["small", "40k", "control", "emoji", "1mib", "many-keys"],
)
def test_surely_fits_only_when_encode_accepts(fields: dict[str, str]) -> None:
    """The cheap bound that lets an update skip its early size check never says "fits"
    for a credential that encode refuses; small credentials take the shortcut."""
    credential = Credential("svc", "generic", fields, tags={"team": "a" * 60})
    for kept in (None, encode_previous(credential)):
        if surely_fits(credential, kept):
            encode(credential, "nebula-credentials-svc", previous=kept)  # no PayloadTooLarge
    assert surely_fits(Credential("svc", "api_key", {"api_key": "k" * 4096}), None)
    assert not surely_fits(Credential("svc", "generic", {"blob": "x" * 1024 * 1024}), None)
