"""External Secrets and Sealed Secrets as doctor sees them: their CRDs (schemaless, no
status subresource, so a test writes status conditions as a controller would) and
objects whose Ready / Synced condition carries a chosen message."""

from __future__ import annotations

import time
from typing import Any

from nebula_credential.testing.envtest import ControlPlane

# (group, version, plural, kind)
SEALED = ("bitnami.com", "v1alpha1", "sealedsecrets", "SealedSecret")
EXTERNAL = ("external-secrets.io", "v1beta1", "externalsecrets", "ExternalSecret")


def install_operator_crds(plane: ControlPlane) -> None:
    """Register both CRDs and wait until the API server serves them."""
    for group, version, plural, kind in (SEALED, EXTERNAL):
        crd = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                "versions": [
                    {
                        "name": version,
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        }
        answer = plane.request(
            "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd
        )
        assert answer.status in (201, 409), answer.body
        path = f"/apis/{group}/{version}/namespaces/default/{plural}"
        for _ in range(300):  # established within a few seconds
            if plane.request("GET", path).status == 200:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"{plural}.{group} is not served")


def create_with_condition(
    plane: ControlPlane, which: tuple[str, str, str, str], ns: str, name: str, message: str
) -> None:
    """An object whose healthy condition is False with ``message``, as a controller says."""
    group, version, plural, kind = which
    condition = "Synced" if kind == "SealedSecret" else "Ready"
    body: dict[str, Any] = {
        "apiVersion": f"{group}/{version}",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": {},
        "status": {
            "conditions": [
                {"type": condition, "status": "False", "reason": "Failed", "message": message}
            ]
        },
    }
    answer = plane.request("POST", f"/apis/{group}/{version}/namespaces/{ns}/{plural}", body)
    assert answer.status == 201, answer.body
