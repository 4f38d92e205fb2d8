"""Sealing as the Sealed Secrets controller opens it: layout, scopes, certificate checks."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import os
import struct
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from seal_keys import NOW, private_pem, self_signed

from nebula_credential.domain import DecryptionFailed, ValidationError
from nebula_credential.seal import (
    CertificateRejected,
    Scope,
    load_certificate,
    load_private_keys,
    seal_secret,
    unseal,
)

CANARY = "canary-seal-7f3e1d-do-not-print"


def secret(
    name: str = "nebula-credentials-oauth2", namespace: str = "nebula-prod"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": "nebula-credential"},
            "annotations": {
                "note": "kept",
                "kubectl.kubernetes.io/last-applied-configuration": CANARY,
            },
        },
        "type": "Opaque",
        "data": {"access_token": base64.b64encode(CANARY.encode()).decode()},
        "stringData": {"refresh_token": "refresh456"},
    }


def controller_decrypt(key: rsa.RSAPrivateKey, value: str, label: bytes) -> bytes:
    """The controller's HybridDecrypt, written here from its description, not our code."""
    blob = base64.b64decode(value)
    (rsa_len,) = struct.unpack(">H", blob[:2])
    session = key.decrypt(
        blob[2 : 2 + rsa_len],
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label),
    )
    assert len(session) == 32
    return AESGCM(session).decrypt(b"\x00" * 12, blob[2 + rsa_len :], None)


def kubeseal_encrypt(public: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> str:
    """kubeseal's HybridEncrypt, written here from its description, not our code."""
    session = os.urandom(32)
    wrapped = public.encrypt(
        session,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label),
    )
    blob = len(wrapped).to_bytes(2, "big") + wrapped
    blob += AESGCM(session).encrypt(b"\x00" * 12, plaintext, None)
    return base64.b64encode(blob).decode()


def test_layout_is_what_the_controller_decrypts(controller_key: rsa.RSAPrivateKey) -> None:
    sealed = seal_secret(secret(), controller_key.public_key())
    assert sealed["apiVersion"] == "bitnami.com/v1alpha1"
    assert sealed["kind"] == "SealedSecret"
    assert sealed["metadata"] == {"name": "nebula-credentials-oauth2", "namespace": "nebula-prod"}
    encrypted = sealed["spec"]["encryptedData"]
    assert sorted(encrypted) == ["access_token", "refresh_token"]
    label = b"nebula-prod/nebula-credentials-oauth2"
    assert controller_decrypt(controller_key, encrypted["access_token"], label) == CANARY.encode()
    assert controller_decrypt(controller_key, encrypted["refresh_token"], label) == b"refresh456"
    blob = base64.b64decode(encrypted["refresh_token"])
    # 2-byte length, a 2048-bit RSA block, then ciphertext and the 16-byte GCM tag.
    assert blob[:2] == (256).to_bytes(2, "big")
    assert len(blob) == 2 + 256 + len(b"refresh456") + 16
    template = sealed["spec"]["template"]
    assert template["type"] == "Opaque"
    assert template["metadata"]["labels"] == {"app": "nebula-credential"}
    assert template["metadata"]["annotations"] == {"note": "kept"}  # last-applied dropped
    assert CANARY not in str(sealed)


def test_every_value_gets_a_fresh_session_key(controller_key: rsa.RSAPrivateKey) -> None:
    one = seal_secret(secret(), controller_key.public_key())["spec"]["encryptedData"]
    two = seal_secret(secret(), controller_key.public_key())["spec"]["encryptedData"]
    assert one["access_token"] != two["access_token"]
    heads = {base64.b64decode(v)[2:258] for v in [*one.values(), *two.values()]}
    assert len(heads) == 4


def test_unseal_opens_what_kubeseal_writes(controller_key: rsa.RSAPrivateKey) -> None:
    sealed = seal_secret(secret(), controller_key.public_key())
    sealed["spec"]["encryptedData"]["extra"] = kubeseal_encrypt(
        controller_key.public_key(), b"from kubeseal", b"nebula-prod/nebula-credentials-oauth2"
    )
    plain = unseal(sealed, [controller_key])
    assert plain["metadata"]["name"] == "nebula-credentials-oauth2"
    assert plain["metadata"]["namespace"] == "nebula-prod"
    assert base64.b64decode(plain["data"]["extra"]) == b"from kubeseal"
    assert base64.b64decode(plain["data"]["access_token"]) == CANARY.encode()
    assert base64.b64decode(plain["data"]["refresh_token"]) == b"refresh456"


def moved(
    sealed: dict[str, Any], *, name: str | None = None, ns: str | None = None
) -> dict[str, Any]:
    other = copy.deepcopy(sealed)
    if name:
        other["metadata"]["name"] = name
    if ns:
        other["metadata"]["namespace"] = ns
    return other


def test_strict_scope_refuses_another_name_or_namespace(
    controller_key: rsa.RSAPrivateKey,
) -> None:
    sealed = seal_secret(secret(), controller_key.public_key())
    assert unseal(sealed, [controller_key])["data"]
    for other in (moved(sealed, name="renamed"), moved(sealed, ns="elsewhere")):
        with pytest.raises(DecryptionFailed) as caught:
            unseal(other, [controller_key])
        assert "strict scope" in str(caught.value)
        assert CANARY not in str(caught.value)


def test_namespace_wide_accepts_another_name_only(controller_key: rsa.RSAPrivateKey) -> None:
    sealed = seal_secret(secret(), controller_key.public_key(), scope=Scope.NAMESPACE_WIDE)
    assert sealed["metadata"]["annotations"] == {"sealedsecrets.bitnami.com/namespace-wide": "true"}
    label = b"nebula-prod"
    value = sealed["spec"]["encryptedData"]["access_token"]
    assert controller_decrypt(controller_key, value, label) == CANARY.encode()
    renamed = unseal(moved(sealed, name="renamed"), [controller_key])
    assert renamed["metadata"]["name"] == "renamed"
    with pytest.raises(DecryptionFailed):
        unseal(moved(sealed, ns="elsewhere"), [controller_key])


def test_cluster_wide_accepts_both(controller_key: rsa.RSAPrivateKey) -> None:
    sealed = seal_secret(secret(), controller_key.public_key(), scope=Scope.CLUSTER_WIDE)
    assert sealed["metadata"]["annotations"] == {"sealedsecrets.bitnami.com/cluster-wide": "true"}
    value = sealed["spec"]["encryptedData"]["access_token"]
    assert controller_decrypt(controller_key, value, b"") == CANARY.encode()
    both = unseal(moved(sealed, name="renamed", ns="elsewhere"), [controller_key])
    assert both["metadata"] == {
        "name": "renamed",
        "namespace": "elsewhere",
        "labels": {"app": "nebula-credential"},
        "annotations": {"note": "kept", "sealedsecrets.bitnami.com/cluster-wide": "true"},
    }


def test_scope_from_the_secret_annotations_like_kubeseal(controller_key: rsa.RSAPrivateKey) -> None:
    source = secret()
    source["metadata"]["annotations"]["sealedsecrets.bitnami.com/namespace-wide"] = "true"
    sealed = seal_secret(source, controller_key.public_key())
    assert unseal(moved(sealed, name="other"), [controller_key])["data"]


def test_wrong_key_and_tampering_are_refused(
    controller_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    sealed = seal_secret(secret(), controller_key.public_key())
    with pytest.raises(DecryptionFailed, match="another controller key"):
        unseal(sealed, [other_key])
    assert unseal(sealed, [other_key, controller_key])["data"]  # any key of several
    blob = bytearray(base64.b64decode(sealed["spec"]["encryptedData"]["access_token"]))
    blob[-1] ^= 1
    sealed["spec"]["encryptedData"]["access_token"] = base64.b64encode(bytes(blob)).decode()
    with pytest.raises(DecryptionFailed, match="altered"):
        unseal(sealed, [controller_key])


def test_a_secret_without_namespace_needs_one(controller_key: rsa.RSAPrivateKey) -> None:
    source = secret()
    del source["metadata"]["namespace"]
    with pytest.raises(ValidationError, match="no namespace"):
        seal_secret(source, controller_key.public_key())
    sealed = seal_secret(source, controller_key.public_key(), namespace="given")
    assert sealed["metadata"]["namespace"] == "given"
    assert seal_secret(source, controller_key.public_key(), scope=Scope.CLUSTER_WIDE)


def test_bad_base64_names_the_key_not_the_value(controller_key: rsa.RSAPrivateKey) -> None:
    source = secret()
    source["data"]["access_token"] = CANARY + "!"
    with pytest.raises(ValidationError) as caught:
        seal_secret(source, controller_key.public_key())
    assert "access_token" in str(caught.value)
    assert CANARY not in str(caught.value)


def test_certificate_checks(controller_key: rsa.RSAPrivateKey) -> None:
    assert load_certificate(self_signed(controller_key), source="c").key_size == 2048
    expired = self_signed(
        controller_key,
        not_before=NOW - dt.timedelta(days=30),
        not_after=NOW - dt.timedelta(days=1),
    )
    with pytest.raises(CertificateRejected, match="expired"):
        load_certificate(expired, source="old.crt")
    future = self_signed(controller_key, not_before=NOW + dt.timedelta(days=2))
    with pytest.raises(CertificateRejected, match="not valid before"):
        load_certificate(future, source="new.crt")
    with pytest.raises(CertificateRejected, match="needs RSA"):
        load_certificate(self_signed(ec.generate_private_key(ec.SECP256R1())), source="ec.crt")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point of the test
    with pytest.raises(CertificateRejected, match="1024-bit"):
        load_certificate(self_signed(small), source="small.crt")
    with pytest.raises(CertificateRejected, match="1024-bit"):
        load_private_keys(private_pem(small), source="small.key")
    with pytest.raises(CertificateRejected, match=r"not an X\.509"):
        load_certificate(b"garbage", source="junk")


def test_private_keys_from_pem_or_exported_secrets(
    controller_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    both = private_pem(controller_key) + private_pem(other_key)
    assert len(load_private_keys(both, source="keys.pem")) == 2
    exported = (
        "apiVersion: v1\nkind: List\nitems:\n"
        + "".join(
            f"- apiVersion: v1\n  kind: Secret\n  type: kubernetes.io/tls\n"
            f"  data:\n    tls.key: {base64.b64encode(private_pem(k)).decode()}\n"
            for k in (controller_key, other_key)
        )
    ).encode()
    keys = load_private_keys(exported, source="keys.yaml")
    assert [k.private_numbers() for k in keys] == [
        controller_key.private_numbers(),
        other_key.private_numbers(),
    ]
    with pytest.raises(CertificateRejected, match="no PEM private key"):
        load_private_keys(b"kind: ConfigMap\n", source="cm.yaml")
