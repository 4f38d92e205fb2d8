"""``kms referenced`` on the real 1.20 API server across a KEK rotation: before the
re-encryption every Secret still needs the old KEK (retiring it is refused, exit 1);
after it none does. It reads etcd directly, and prints no Secret name or value."""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path

from kms_support import cli, new_file_kek, plugin, put_secret, wrapped_by
from test_kms_rotation import providers

from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.plugin import PlaneFactory

COUNT = 6
CANARY = "referenced-canary-0b7e"


def census(plane: ControlPlane, *extra: str) -> tuple[int, dict[tuple[str, str | None], int]]:
    """``kms referenced`` of ``plane`` as JSON: exit code and Secrets per (provider, KEK)."""
    done = cli("-o", "json", "kms", "referenced", "--etcd", plane.etcd_endpoint,
               "--etcd-prefix", plane.etcd_prefix, *extra)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    assert CANARY not in done.stdout + done.stderr
    assert "/secrets/" not in done.stdout + done.stderr  # no key names either
    rows = json.loads(done.stdout)
    return done.returncode, {(r["provider"], r["kek_id"]): r["secrets"] for r in rows}


def test_the_old_kek_is_referenced_until_reencrypt(
    control_plane_factory: PlaneFactory, tmp_path: Path
) -> None:
    id1, id2 = new_file_kek(tmp_path / "k1"), new_file_kek(tmp_path / "k2")
    k1, k2 = f"file:{tmp_path / 'k1'}", f"file:{tmp_path / 'k2'}"
    sock_dir = tmp_path / "kms"
    with plugin(sock_dir, k1) as old:
        config = providers(old.endpoint, "nebula")
        with control_plane_factory("kms-refd", encryption_config=config, identity_pool=1) as plane:
            namespace = f"refd-{secrets.token_hex(3)}"
            plane.ensure_namespace(namespace)
            for index in range(COUNT):
                put_secret(plane, namespace, f"s{index}", f"{CANARY}-{index}")
            old.stop()
            with plugin(sock_dir, k2, k1):
                plane.set_encryption_config(providers(old.endpoint, "nebula-2", "nebula"))
                code, before = census(plane, "--retiring", id1)
                assert code == 1
                assert before[("kms:v1:nebula", id1)] >= COUNT
                assert ("kms:v1:nebula-2", id2) not in before
                text = cli("kms", "referenced", "--etcd", plane.etcd_endpoint, "--etcd-prefix",
                           plane.etcd_prefix, "--retiring", id1)  # fmt: skip
                assert f"kms:v1:nebula KEK {id1}" in text.stdout
                assert f"KEK {id1} still wraps" in text.stderr
                assert text.returncode == 1

                done = cli("--provider", "kubernetes", "--kubeconfig",
                           str(plane.admin_kubeconfig), "reencrypt", "--all-secrets",
                           "--all-namespaces")  # fmt: skip
                assert done.returncode == 0, done.stderr
                assert wrapped_by(plane, namespace) == {("k8s:enc:kms:v1:nebula-2:", id2): COUNT}
                code, after = census(plane, "--retiring", id1)
                assert code == 0
                assert after == {("kms:v1:nebula-2", id2): before[("kms:v1:nebula", id1)]}


def test_a_bad_or_unreachable_etcd_is_a_clear_error() -> None:
    bad = cli("kms", "referenced", "--etcd", "ftp://127.0.0.1:2379")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ")
    assert "Traceback" not in bad.stderr
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = cli("kms", "referenced", "--etcd", f"http://127.0.0.1:{port}", "--timeout", "5")
    assert down.returncode == 6, down.stderr
    assert "did not answer" in down.stderr
    assert "Traceback" not in down.stderr


def test_each_stored_form_is_counted_under_its_provider(tmp_path: Path) -> None:
    from nebula_credential.kms import Keyring, write_key_file
    from nebula_credential.kms.referenced import Wrapping, classify

    kek = write_key_file(tmp_path / "k")
    blob = Keyring([kek]).seal(b"d" * 32)
    v1 = b"k8s:enc:kms:v1:ours:" + len(blob).to_bytes(2, "big") + blob + b"data"
    assert classify(v1) == Wrapping("kms:v1:ours", kek.kek_id)
    foreign = b"k8s:enc:kms:v1:theirs:" + (5).to_bytes(2, "big") + b"other" + b"data"
    assert classify(foreign) == Wrapping("kms:v1:theirs", "?")
    assert classify(b"k8s:enc:aescbc:v1:key1:" + b"\x00" * 32) == Wrapping("aescbc:v1:key1")
    assert classify(b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret") == Wrapping("identity")
    assert classify(b"k8s:enc:kms") == Wrapping("unknown")
