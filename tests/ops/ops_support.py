"""Helpers for the migrate/replicate tests: stores, digests, kubeconfigs, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from k8s_support import kubectl

from nebula_credential import Credential
from nebula_credential.ops import content_digest
from nebula_credential.providers import CredentialProvider
from nebula_credential.testing.envtest import ControlPlane

CANARY = "canary-3d7e-migrate-do-not-print"
EXE = str(Path(sys.executable).with_name("nebula-credential"))


def sample_id(i: int) -> str:
    """Mostly ids that are their own Secret name; every tenth one that is not."""
    return f"Svc_{i}.Key" if i % 10 == 0 else f"svc-{i}-key"


def sample(i: int) -> Credential:
    kinds = ("api_key", "basic_auth", "generic")
    kind = kinds[i % 3]
    fields: dict[str, Any] = {
        "api_key": {"api_key": f"{CANARY}-{i}"},
        "basic_auth": {"username": f"user{i}", "password": f"{CANARY}-{i}"},
        "generic": {"token": f"{CANARY}-{i}", "note": "plain"},
    }[kind]
    return Credential(
        sample_id(i),
        kind,
        fields,
        scope=f"org:acme/team:t{i % 4}",
        owner="platform",
        tags={"env": "prod", "n": str(i)},
        expires_at="2031-01-01T00:00:00Z" if i % 2 else None,
    )


async def digests(provider: CredentialProvider) -> dict[str, str]:
    return {str(c.id): content_digest(c) async for c in provider.list_all()}


def secret_count(plane: ControlPlane, namespace: str) -> int:
    out = kubectl(plane.admin_kubeconfig, "get", "secrets", "-n", namespace, "-o", "name")
    return len([line for line in out.splitlines() if line.strip()])


def merged_kubeconfig(path: Path, planes: Mapping[str, ControlPlane]) -> Path:
    """One kubeconfig with a context per plane, named by the mapping's keys."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "preferences": {}}
    merged.update(clusters=[], users=[], contexts=[])
    for name, plane in planes.items():
        config = yaml.safe_load(plane.admin_kubeconfig.read_text())
        cluster, user, context = config["clusters"][0], config["users"][0], config["contexts"][0]
        merged["clusters"].append({**cluster, "name": f"{name}-cluster"})
        merged["users"].append({**user, "name": f"{name}-user"})
        ctx = dict(context["context"], cluster=f"{name}-cluster", user=f"{name}-user")
        merged["contexts"].append({"name": name, "context": ctx})
    merged["current-context"] = next(iter(planes))
    path.write_text(yaml.safe_dump(merged))
    path.chmod(0o600)
    return path


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    env["HOME"] = str(home)  # no stray ~/.kube/config
    return env


def run_cli(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *args],
        capture_output=True,
        text=True,
        env=cli_env(home),
        timeout=timeout,
        check=False,
    )


def summary_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert CANARY not in done.stdout + done.stderr
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded
