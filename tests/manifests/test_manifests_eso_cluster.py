"""SecretStore and ExternalSecret, as the CLI prints them, through a server dry-run.

The test plane has no External Secrets Operator; its CRDs are stood in for by CRDs built
from ``eso_schema`` (our transcription of the fields we generate), on a plane of their
own so no other test sees them. kubectl refuses fields the CRD's schema does not know,
and the server would prune them, so the dry-run's answer must hold every field sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from eso_schema import EXTERNAL_SECRET_SPEC, SECRET_STORE_SPEC
from k8s_support import cli_runner, kubectl, new_namespace

from nebula_credential.testing.envtest.plugin import PlaneFactory

ESO_KINDS = [
    ("secret-store", "aws", "--region", "eu-west-1", "--service-account", "s" * 63),
    ("secret-store", "azure", "--vault-url", "https://kv.vault.azure.net"),
    ("secret-store", "vault", "--vault-server", "https://vault.example:8200"),
    ("external-secret", "-c", "oauth2", "--kind", "oauth2", "--store", "aws-secrets-manager",
     "--data", "access_token=nebula/oauth2#access_token",
     "--data", "refresh_token=nebula/oauth2#refresh_token", "--refresh-interval", "30m"),
    ("external-secret", "-c", "Team.API_key", "--store", "vault", "--data-from", "team/api",
     "--eso-api-version", "v1beta1"),
]  # fmt: skip


def _structural(node: Any) -> Any:
    """``node`` as a CRD's structural schema: typed everywhere, and no
    ``additionalProperties: false`` beside ``properties`` (a CRD may not say that)."""
    if not isinstance(node, dict):
        return node
    out = {k: _structural(v) for k, v in node.items() if node.get(k) is not False}
    if "properties" in out:
        out["properties"] = {k: _structural(v) for k, v in node["properties"].items()}
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if out.get("type") == "array" and "items" not in out:
        out["items"] = {"type": "string"}
    return out


def _crd(kind: str, plural: str, spec: dict[str, Any]) -> dict[str, Any]:
    schema = {
        "openAPIV3Schema": {
            "type": "object",
            "properties": {"spec": _structural(spec)},
        }
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.external-secrets.io"},
        "spec": {
            "group": "external-secrets.io",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "scope": "Namespaced",
            "versions": [
                {"name": v, "served": True, "storage": v == "v1", "schema": schema}
                for v in ("v1", "v1beta1")
            ],
        },
    }


def test_eso_kinds_with_the_default_version_pass_a_server_dry_run(
    control_plane_factory: PlaneFactory, tmp_path: Path
) -> None:
    with control_plane_factory("manifests-eso", identity_pool=1) as plane:
        admin = plane.admin_kubeconfig
        crds = [
            _crd("SecretStore", "secretstores", SECRET_STORE_SPEC),
            _crd("ExternalSecret", "externalsecrets", EXTERNAL_SECRET_SPEC),
        ]
        for crd in crds:
            kubectl(admin, "apply", "-f", "-", input_text=json.dumps(crd))
            name = f"crd/{crd['metadata']['name']}"
            kubectl(admin, "wait", "--for=condition=established", name, "--timeout=60s")
        ns = new_namespace(plane, "eso")
        run = cli_runner(admin, ns, home=tmp_path)
        for args in ESO_KINDS:
            done = run("manifests", *args)
            assert done.returncode == 0, (args, done.stderr)
            assert done.stdout.startswith("# generated for Kubernetes 1.20 (the version of the ")
            (sent,) = yaml.safe_load_all(done.stdout)
            out = kubectl(admin, "apply", "--dry-run=server", "-o", "json", "-f", "-",
                          input_text=done.stdout)  # fmt: skip
            answered = json.loads(out)
            assert answered["kind"] == sent["kind"]
            assert answered["spec"] == sent["spec"], args  # nothing pruned, nothing added
        # The check can fail: kubectl refuses a misplaced field from the CRD's schema.
        sent["spec"]["target"] = {**sent["spec"].get("target", {}), "refreshInterval": "1h"}
        with pytest.raises(AssertionError, match='unknown field "refreshInterval"'):
            kubectl(admin, "apply", "--dry-run=server", "-f", "-", input_text=json.dumps(sent))
