"""`manifests controller` without a cluster: what it prints, the RBAC it grants, the pod
it runs, and that the controller itself accepts the arguments it is given."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from manifest_support import kubernetes_validate

from nebula_credential import manifests as m
from nebula_credential.cli.controller_cmd import _health_address
from nebula_credential.controller.leader import LEASE_NAME
from nebula_credential.manifests.controller_access import DEFAULT_CONTROLLER

SECRETS = {"apiGroups": [""], "resources": ["secrets"]}
WORKLOADS = {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets"]}
EVENTS = {"apiGroups": [""], "resources": ["events"]}
LEASES = {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"]}


def _docs(**options: Any) -> list[dict[str, Any]]:
    return m.controller_manifests(namespace="ops", kube="1.29", **options)


def _of(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = _of(docs, "Deployment")
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def test_the_stream_is_the_account_a_role_per_watched_namespace_the_deployment_and_pdb() -> None:
    docs = _docs(watch_namespaces=["team-a", "team-b", "team-a"])
    assert [(d["kind"], d["metadata"]["namespace"]) for d in docs] == [
        ("ServiceAccount", "ops"),
        ("Role", "team-a"),
        ("RoleBinding", "team-a"),
        ("Role", "team-b"),
        ("RoleBinding", "team-b"),
        ("Deployment", "ops"),
        ("PodDisruptionBudget", "ops"),
    ]
    account = "nebula-credential-controller"
    assert docs[0]["metadata"]["name"] == account
    for binding in _of(docs, "RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": "ops"}
        ]
        assert binding["roleRef"]["name"] == binding["metadata"]["name"]
    (deployment,) = _of(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert _pod(docs)["serviceAccountName"] == account
    # Without --watch-namespace it watches its own namespace.
    alone = _docs()
    assert [d["metadata"]["namespace"] for d in _of(alone, "Role")] == ["ops"]
    assert _pod(alone)["containers"][0]["args"][:3] == ["controller", "--namespace", "ops"]


def test_the_first_namespace_holds_the_leader_lease_and_create_is_not_held_to_a_name() -> None:
    assert DEFAULT_CONTROLLER == LEASE_NAME  # what the controller elects on by default
    first, second = _of(_docs(watch_namespaces=["team-a", "team-b"]), "Role")
    leader = {**LEASES, "verbs": ["get", "update"], "resourceNames": [LEASE_NAME]}
    rotating = {**LEASES, "verbs": ["get", "create", "delete"]}
    common = [{**WORKLOADS, "verbs": ["list", "watch", "patch"]}, {**EVENTS, "verbs": ["create"]}]
    secrets = {**SECRETS, "verbs": ["get", "list", "watch", "update", "patch"]}
    assert first["rules"] == [secrets, *common, leader, rotating]
    assert second["rules"] == [secrets, *common, rotating]
    grants = first["metadata"]["annotations"][m.GRANTS_ANNOTATION]
    assert f"get/update of exactly the leader Lease {LEASE_NAME}" in grants
    assert "cannot restrict create by resourceNames" in grants
    assert "no create or delete of Secrets" in grants
    assert LEASE_NAME not in second["metadata"]["annotations"][m.GRANTS_ANNOTATION]


def test_two_installations_named_apart_never_share_an_election() -> None:
    """Each generated controller elects on a Lease named like its Deployment, and may
    update only that one: a second installation watching the same first namespace leads
    its own namespaces instead of standing by for ever."""
    for name in ("ctl-a", "ctl-b"):
        docs = _docs(name=name, watch_namespaces=["shared", f"{name}-only"])
        args = _pod(docs)["containers"][0]["args"]
        assert args[args.index("--lease-name") + 1] == name
        first = _of(docs, "Role")[0]
        leader = {**LEASES, "verbs": ["get", "update"], "resourceNames": [name]}
        assert leader in first["rules"]
        (deployment,) = _of(docs, "Deployment")
        assert f"on the Lease {name} in shared" in str(deployment["metadata"]["annotations"])


def test_without_rotation_it_writes_no_secret_and_takes_no_rotation_lease() -> None:
    docs = _docs(watch_namespaces=["team-a", "team-b"], rotate_within=None)
    first, second = _of(docs, "Role")
    common = [{**WORKLOADS, "verbs": ["list", "watch", "patch"]}, {**EVENTS, "verbs": ["create"]}]
    watch = {**SECRETS, "verbs": ["list", "watch"]}
    assert first["rules"] == [
        watch,
        *common,
        {**LEASES, "verbs": ["get", "update"], "resourceNames": [LEASE_NAME]},
        {**LEASES, "verbs": ["create"]},
    ]
    assert second["rules"] == [watch, *common]  # nothing on Leases where none is kept
    assert _pod(docs)["containers"][0]["args"][-1] == "--no-rotation"


def test_the_pod_is_hardened_and_keeps_its_journal_as_the_rotation_cronjob_does() -> None:
    pod = _pod(_docs(health_port=9100))
    (container,) = pod["containers"]
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]["memory"]
    cron = m.rotation_cronjob(kube="1.29")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (cron_container,) = cron["containers"]
    home = {e["name"]: e.get("value") for e in container["env"]}["NEBULA_CREDENTIAL_HOME"]
    cron_home = {e["name"]: e.get("value") for e in cron_container["env"]}
    assert home == cron_home["NEBULA_CREDENTIAL_HOME"] == m.DATA_DIR
    assert [v["emptyDir"] for v in pod["volumes"]] == [v["emptyDir"] for v in cron["volumes"]]
    assert pod["volumes"][0]["emptyDir"]["medium"] == "Memory"
    assert [v["mountPath"] for v in container["volumeMounts"]] == [
        v["mountPath"] for v in cron_container["volumeMounts"]
    ]
    (port,) = container["ports"]
    assert port == {"name": "metrics", "containerPort": 9100, "protocol": "TCP"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 9100}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 9100}
    args = container["args"]
    assert args[args.index("--health-addr") + 1] == "0.0.0.0:9100"


def test_two_replicas_are_never_down_together() -> None:
    docs = _docs()
    (deployment,) = _of(docs, "Deployment")
    (pdb,) = _of(docs, "PodDisruptionBudget")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": labels}}
    assert pdb["apiVersion"] == "policy/v1"
    (term,) = _pod(docs)["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["podAffinityTerm"]["labelSelector"] == {"matchLabels": labels}
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    old = m.controller_manifests(kube="1.20")
    assert _of(old, "PodDisruptionBudget")[0]["apiVersion"] == "policy/v1beta1"


def test_seccomp_is_a_field_from_1_19_and_an_annotation_before() -> None:
    before = m.controller_deployment(kube="1.18")["spec"]["template"]
    assert "seccompProfile" not in before["spec"]["securityContext"]
    annotation = "seccomp.security.alpha.kubernetes.io/pod"
    assert before["metadata"]["annotations"] == {annotation: "runtime/default"}
    since = m.controller_deployment(kube="1.19")["spec"]["template"]
    assert since["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "annotations" not in since["metadata"]


@pytest.mark.parametrize("kube", [m.DEFAULT_KUBE_VERSION, "1.29", "1.20"])
def test_every_object_validates_strictly_offline(kube: str, tmp_path: Path) -> None:
    docs = m.controller_manifests(namespace="ops", watch_namespaces=["a", "b"], kube=kube)
    docs += m.controller_manifests(namespace="ops", name="quiet", rotate_within=None, kube=kube)
    out = kubernetes_validate(m.render_yaml(docs), kube, tmp_path)
    passed = [line for line in out.splitlines() if line.startswith("INFO")]
    assert len(passed) == len(docs)


def test_the_cli_prints_what_each_role_grants_and_how_the_pods_are_run(cli) -> None:
    done = cli("manifests", "controller", "-n", "ops", "--watch-namespace", "team-a",
               "--rotate-within", "10m", "--replicas", "3", "--kube-version", "1.29")  # fmt: skip
    assert done.returncode == 0, done.stderr
    chunks = done.stdout.split("---\n")
    assert chunks[0] == "# generated for Kubernetes 1.29 (as --kube-version asked)\n"
    docs = [yaml.safe_load(c) for c in chunks[1:]]
    assert docs == m.controller_manifests(
        namespace="ops", watch_namespaces=["team-a"], rotate_within="10m", replicas=3, kube="1.29"
    )
    role_chunk = next(c for c in chunks if "kind: Role\n" in c)
    assert role_chunk.startswith("# Role nebula-credential-controller grants get/list/watch/")
    deployment_chunk = next(c for c in chunks if "kind: Deployment\n" in c)
    assert deployment_chunk.startswith("# Deployment nebula-credential-controller: 3 replicas, one")
    assert f"Lease {LEASE_NAME} in team-a" in deployment_chunk.splitlines()[0]
    as_json = cli("--output", "json", "manifests", "controller", "--no-rotation",
                  "--kube-version", "1.29")  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == m.controller_manifests(rotate_within=None, kube="1.29")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--watch-namespace", "Team_A"], "watched namespace 'Team_A' is not a valid name"),
        (["-n", "a.b"], "namespace 'a.b' is not a valid name"),
        (["--name", "c" * 64], "is also a label value"),
        (["--service-account", "Bad"], "service account 'Bad' is not a valid name"),
        (["--image", "Not An Image"], "is not an image reference"),
        (["--replicas", "0"], "replicas must be a whole number of at least 1"),
        (["--lease-seconds", "0"], "lease seconds must be a whole number of at least 1"),
        (["--lease-seconds", "3601"], "lease seconds must be at most 3600"),
        (["--health-port", "65536"], "health port 65536 must be between 1 and 65535"),
        (["--rotate-within", "5 minutes"], "rotate within '5 minutes' is not a duration"),
        (["--rotate-within", "40000d"], "is longer than a century"),
        (["--kube-version", "2.1"], "must look like 1.29"),
    ],
)
def test_what_the_cluster_or_the_controller_would_refuse_is_exit_2(
    cli, args: list[str], message: str
) -> None:
    done = cli("manifests", "controller", "--kube-version", "1.29", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: "), line
    assert message in line, line


def _unreachable_kubeconfig(path: Path, port: int) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}",
                                              "insecure-skip-tls-verify": True}}
                ],
                "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )  # fmt: skip
    return path


def _run_until_serving(argv: list[str], home: Path) -> tuple[int, str]:
    """Start the controller; once it says it serves (its options were all accepted),
    stop it as Kubernetes does (SIGTERM). Its exit code and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    env.update(HOME=str(home), NEBULA_CREDENTIAL_HOME=str(home / "journal" / "home"))
    with subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          text=True, env=env) as process:  # fmt: skip
        assert process.stderr is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stderr or ()), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 30
            while not any('"serving"' in line for line in list(lines)):
                assert process.poll() is None, "".join(lines)
                assert time.monotonic() < deadline, "the controller never started serving"
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        reader.join(timeout=10)
        return code, "".join(lines)


def test_the_controller_accepts_the_arguments_its_container_is_given(
    tmp_path: Path, closed_port: int
) -> None:
    exe = str(Path(sys.executable).with_name("nebula-credential"))
    kubeconfig = _unreachable_kubeconfig(tmp_path / "kubeconfig", closed_port)
    for rotation in ({}, {"rotate_within": None}):
        (container,) = _pod(_docs(watch_namespaces=["team-a", "team-b"], **rotation))["containers"]
        args = list(container["args"])
        at = args.index("--health-addr") + 1
        # The pod's 0.0.0.0:8081 as the controller reads it; here it serves on loopback.
        assert _health_address(args[at]) == ("0.0.0.0", 8081)  # noqa: S104 - parsed, not bound
        args[at] = "127.0.0.1:0"
        code, err = _run_until_serving([exe, "--kubeconfig", str(kubeconfig), *args], tmp_path)
        assert code == 0, err
        assert "error:" not in err
    # The same run refuses what the controller does not accept: this check can fail.
    args[args.index("--lease-seconds") + 1] = "0"
    refused = subprocess.run([exe, "--kubeconfig", str(kubeconfig), *args], capture_output=True,
                             text=True, timeout=60, check=False)  # fmt: skip
    assert refused.returncode == 2
    assert "--lease-seconds" in refused.stderr
