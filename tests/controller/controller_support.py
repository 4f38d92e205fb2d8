"""Helpers for the controller tests: a controller process, workloads, waiting."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from nebula_credential.testing.cli_process import CliProcess
from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.waiting import wait_for

DIGEST = "nebula-credential.io/credentials-digest"
RELOAD = "nebula-credential.io/reload"
LEASE = 3  # seconds: the tests' leader Lease


class ControllerProcess(CliProcess):
    """``nebula-credential controller`` in a process of its own; its action lines kept."""

    def __init__(self, kubeconfig: Path, namespace: str, home: Path, *extra: str) -> None:
        args = [
            "--kubeconfig",
            str(kubeconfig),
            "controller",
            "--namespace",
            namespace,
            "--health-addr",
            "127.0.0.1:0",
            "--lease-seconds",
            str(LEASE),
            *extra,
        ]
        super().__init__(args, home=home)

    def identity(self) -> str:
        """Its name in the leader Lease: the host's name and its process id."""
        return f"{socket.gethostname()}-{self.process.pid}"

    def health_url(self, path: str) -> str:
        serving = wait_for(lambda: self.actions("serving"), 30, "the health endpoint")
        return f"http://{serving[0]['address']}{path}"


def deployment(
    name: str, reload: str | None, secret_env: dict[str, str], volume: str | None = None
) -> dict[str, Any]:
    """A Deployment whose container reads env var NAME from Secret ``secret_env[NAME]``'s
    key ``api_key`` (and mounts every key of Secret ``volume``); annotated ``reload``
    when given."""
    notes = {} if reload is None else {RELOAD: reload}
    env = [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": "api_key"}}}
        for var, secret in secret_env.items()
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": notes},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": "app", "image": "busybox", "env": env}],
                    "volumes": [{"name": "c", "secret": {"secretName": volume}}] if volume else [],
                },
            },
        },
    }


def create(plane: ControlPlane, namespace: str, body: dict[str, Any]) -> None:
    plane.request(
        "POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", body
    ).raise_for_status("create deployment")


def read(plane: ControlPlane, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = (
        plane.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        .raise_for_status("get deployment")
        .json()
    )
    return found


def template_digest(plane: ControlPlane, namespace: str, name: str) -> str | None:
    template = read(plane, namespace, name)["spec"]["template"]
    value: str | None = (template["metadata"].get("annotations") or {}).get(DIGEST)
    return value


def generation(plane: ControlPlane, namespace: str, name: str) -> int:
    value: int = read(plane, namespace, name)["metadata"]["generation"]
    return value


def grant_rules(
    plane: ControlPlane, namespace: str, account: str, rules: list[dict[str, Any]], tag: str = ""
) -> None:
    """Bind a pooled identity (``account``: its username) to a Role of ``rules``."""
    pool, name = account.split(":")[2:4]
    role = f"controller-{name}{tag}"
    plane.request(
        "POST",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles",
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": role}, "rules": rules},
    ).raise_for_status("create role")  # fmt: skip
    plane.request(
        "POST",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": role},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": pool}],
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}},
    ).raise_for_status("create rolebinding")  # fmt: skip
