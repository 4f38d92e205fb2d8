"""The plugin behind the real 1.20 kube-apiserver (KMS v1): Secrets written through the
API server are stored in etcd under ``k8s:enc:kms:v1:<name>:`` with the DEK wrapped by our
KEK (a key file, or a non-extractable key in SoftHSM2), read back through the API, and no
plaintext reaches etcd."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from kms_support import (
    new_file_kek,
    plugin,
    put_secret,
    read_secret,
    softhsm_token,
    stored,
    wrapped_kek_id,
)

from nebula_credential.testing.envtest.kms import KmsPlugin
from nebula_credential.testing.envtest.plugin import PlaneFactory

CANARY = "kms-canary-7d41-must-not-reach-etcd"
COUNT = 12


def round_trip(factory: PlaneFactory, kms: KmsPlugin, name: str, kek_id: str) -> None:
    """COUNT Secrets through a plane wired to ``kms``: etcd holds only KMS v1 values whose
    wrapped DEK names ``kek_id``, never the canary; each reads back through the API."""
    config = kms.encryption_config(name)
    with factory(f"kms-{name}", encryption_config=config, identity_pool=1) as plane:
        namespace = f"kms-{secrets.token_hex(3)}"
        plane.ensure_namespace(namespace)
        names = [f"s{i:02d}" for i in range(COUNT)]
        for secret in names:
            put_secret(plane, namespace, secret, f"{CANARY}-{secret}")
        raw = stored(plane, namespace)
        assert sorted(raw) == names
        prefix = f"k8s:enc:kms:v1:{name}:".encode()
        for value in raw.values():
            assert value.startswith(prefix)
            assert CANARY.encode() not in value
            assert wrapped_kek_id(value, prefix) == kek_id
        for secret in names:
            assert read_secret(plane, namespace, secret) == f"{CANARY}-{secret}"
        # After an API server restart (its DEK cache gone) every Secret is unwrapped again.
        plane.restart_apiserver()
        for secret in names:
            assert read_secret(plane, namespace, secret) == f"{CANARY}-{secret}"


def test_secrets_at_rest_under_a_key_file_kek(
    control_plane_factory: PlaneFactory, tmp_path: Path
) -> None:
    kek_id = new_file_kek(tmp_path / "kek.key")
    with plugin(tmp_path / "kms", f"file:{tmp_path / 'kek.key'}") as kms:
        round_trip(control_plane_factory, kms, "nebula", kek_id)
    log = (tmp_path / "kms" / "kms-plugin.log").read_bytes()
    assert (tmp_path / "kek.key").read_bytes() not in log
    assert (tmp_path / "kek.key").read_bytes().hex().encode() not in log


def test_secrets_at_rest_under_a_token_kek_that_never_leaves_softhsm(
    control_plane_factory: PlaneFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pkcs11
    from kms_support import PIN, SOFTHSM_MODULE, TOKEN, cli
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

    uri = softhsm_token(tmp_path, monkeypatch)
    made = cli("kms", "new-kek", uri("kek1"))
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "pkcs11-kek1"
    with plugin(tmp_path / "kms", uri("kek1")) as kms:
        round_trip(control_plane_factory, kms, "hsm", "pkcs11-kek1")

    # The KEK cannot be read or wrapped out of the token.
    token = pkcs11.lib(SOFTHSM_MODULE).get_token(token_label=TOKEN)
    with token.open(user_pin=PIN, rw=True) as session:
        key = session.get_key(
            object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label="kek1"
        )
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.SENSITIVE] is True
        with pytest.raises(pkcs11.AttributeSensitive):
            key[Attribute.VALUE]
        wrapper = session.generate_key(KeyType.AES, 256, template={Attribute.WRAP: True})
        with pytest.raises(pkcs11.KeyUnextractable):
            wrapper.wrap_key(key, mechanism=Mechanism.AES_KEY_WRAP)
    # A second key with the same label is refused, not added beside the first.
    again = cli("kms", "new-kek", uri("kek1"))
    assert again.returncode == 2
    assert "already holds an object labelled 'kek1'" in again.stderr
