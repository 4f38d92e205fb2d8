"""The generated EncryptionConfiguration and audit Policy, loaded by a real API server."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from k8s_support import kubectl

from nebula_credential import manifests as m
from nebula_credential.testing.envtest.plugin import PlaneFactory

CANARY = "canary-manifests-4d1c-do-not-print"


@pytest.mark.slow
def test_api_server_runs_with_the_generated_encryption_and_audit_files(
    control_plane_factory: PlaneFactory, tmp_path: Path
) -> None:
    encryption = tmp_path / "encryption.yaml"
    encryption.write_text(m.render_yaml([m.encryption_config("aescbc", kube="1.20")]))
    encryption.chmod(0o600)
    policy = tmp_path / "audit-policy.yaml"
    policy.write_text(m.render_yaml([m.audit_policy()]))
    with control_plane_factory(
        "manifest-config",
        extra_apiserver_args=[
            f"--encryption-provider-config={encryption}",
            f"--audit-policy-file={policy}",
        ],
        identity_pool=1,
    ) as plane:
        plane.ensure_namespace("cfg")
        kubectl(
            plane.admin_kubeconfig,
            "create", "secret", "generic", "probe", "-n", "cfg", f"--from-literal=v={CANARY}",
        )  # fmt: skip
        shown = json.loads(kubectl(plane.admin_kubeconfig, "get", "secret", "probe", "-n", "cfg",
                                   "-o", "json"))  # fmt: skip
        assert base64.b64decode(shown["data"]["v"]).decode() == CANARY
        raw = plane.etcd_get(plane.secret_etcd_key("cfg", "probe"))
        assert raw is not None
        assert raw.startswith(b"k8s:enc:aescbc:v1:key1:")
        assert CANARY.encode() not in raw
        events = [json.loads(line) for line in plane.audit_log_path.read_text().splitlines()]
    secret_events = [e for e in events if e.get("objectRef", {}).get("resource") == "secrets"]
    assert {e["verb"] for e in secret_events} >= {"create", "get"}
    assert {e["level"] for e in secret_events} == {"Metadata"}
    assert CANARY not in plane.audit_log_path.read_text()
