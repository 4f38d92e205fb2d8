"""The KMS plugin's manifests on the real 1.20 API server: the generated
EncryptionConfiguration, exactly as printed, puts Secrets under ``k8s:enc:kms:v1:NAME:``
through our plugin; the static Pod passes a server-side dry run."""

from __future__ import annotations

import base64
import secrets
import sys
from pathlib import Path

from k8s_support import kubectl

from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.kms import KmsPlugin
from nebula_credential.testing.envtest.plugin import PlaneFactory

EXE = str(Path(sys.executable).with_name("nebula-credential"))
CANARY = "kms-manifest-canary-51c3-not-in-etcd"


def test_the_generated_v1_config_encrypts_secrets_through_our_plugin(
    cli, control_plane_factory: PlaneFactory, tmp_path: Path
) -> None:
    made = cli("kms", "new-kek", f"file:{tmp_path / 'kek.key'}")
    assert made.returncode == 0, made.stderr
    argv = [EXE, "kms", "serve", "--grace", "1", "--kek", f"file:{tmp_path / 'kek.key'}"]
    with KmsPlugin(argv, tmp_path / "kms") as kms:
        generated = cli(
            "manifests", "encryption-config", "--provider", "kms", "--kube-version", "1.20",
            "--kms-name", "from-manifest", "--kms-endpoint", kms.endpoint,
        )  # fmt: skip
        assert generated.returncode == 0, generated.stderr
        with control_plane_factory(
            "kms-manifest", encryption_config=generated.stdout, identity_pool=1
        ) as plane:
            namespace = f"kmsm-{secrets.token_hex(3)}"
            plane.ensure_namespace(namespace)
            for index in range(3):
                body = {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": f"s{index}"},
                    "data": {"v": base64.b64encode(f"{CANARY}-{index}".encode()).decode()},
                }
                plane.request(
                    "POST", f"/api/v1/namespaces/{namespace}/secrets", body
                ).raise_for_status("create")
            raw = plane.etcd_get_prefix(f"{plane.etcd_prefix}/secrets/{namespace}/")
            assert len(raw) == 3
            for value in raw.values():
                assert value.startswith(b"k8s:enc:kms:v1:from-manifest:")
                assert CANARY.encode() not in value
            got = plane.request("GET", f"/api/v1/namespaces/{namespace}/secrets/s2")
            data = got.raise_for_status("get").json()["data"]
            assert base64.b64decode(data["v"]).decode() == f"{CANARY}-2"


def test_the_static_pod_passes_a_server_dry_run(cli, control_plane: ControlPlane) -> None:
    for kek in (
        "file:/etc/kubernetes/kms/kek.key",
        "pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so",
    ):
        pod = cli("manifests", "kms-plugin", "--kek", kek, "--kube-version", "1.20")
        assert pod.returncode == 0, pod.stderr
        out = kubectl(
            control_plane.admin_kubeconfig, "apply", "--dry-run=server", "-f", "-",
            input_text=pod.stdout,
        )  # fmt: skip
        assert "pod/nebula-kms-plugin created (server dry run)" in out
