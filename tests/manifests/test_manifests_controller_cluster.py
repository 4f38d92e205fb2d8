"""`manifests controller` against the real API server (v1.20): every object is created,
and the RBAC it prints is all the controller needs and little more. The controller runs
as the generated ServiceAccount (a token from the TokenRequest API, as in its pod) with
the arguments of the generated container: it leads, restarts opted-in Deployments in
every watched namespace, rotates a due credential through the real Authlib server and
posts Events, with no action refused; what it never does, it may not do."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_support import cli_runner, kubectl, new_namespace, provider_for
from manifest_support import can_i

from nebula_credential import Credential, SyncKubernetesSecretsProvider
from nebula_credential.controller.leader import LEASE_NAME
from nebula_credential.testing.cli_process import CliProcess
from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.waiting import wait_for

_ROTATE_TESTS = str(Path(__file__).resolve().parent.parent / "rotate")
if _ROTATE_TESTS not in sys.path:
    sys.path.insert(0, _ROTATE_TESTS)

from oauth_server import AuthServer  # noqa: E402 - found through the path just added
from rotate_support import ACCESS, CANARY, oauth2  # noqa: E402

pytestmark = pytest.mark.kubernetes

WITHIN = 5  # seconds: --rotate-within
LEASE = 3  # seconds: --lease-seconds
NAME = "nebula-credential-controller"
RELOAD = "nebula-credential.io/reload"
DIGEST = "nebula-credential.io/credentials-digest"
# What a controller with too little RBAC says; none may appear.
TROUBLE = ("refused", "watch-lost", "rotate-failed", "event-failed", "leader-lost")


@pytest.fixture
def auth() -> Iterator[AuthServer]:
    server = AuthServer()
    server.add_client("app", "client-secret-canary-5c1e")
    yield from server.running()


def _install(plane: ControlPlane, home: Path, ns: str, *args: str) -> list[dict[str, Any]]:
    """Print the manifests with the CLI, create every object for real, and wait until the
    authorizer honours the generated bindings; the objects printed."""
    admin = cli_runner(plane.admin_kubeconfig, home=home)
    printed = admin("manifests", "controller", "-n", ns, "--kube-version", "1.20", *args)
    assert printed.returncode == 0, printed.stderr
    docs = [d for d in yaml.safe_load_all(printed.stdout) if d]
    created = kubectl(plane.admin_kubeconfig, "create", "-f", "-", input_text=printed.stdout)
    lines = created.strip().splitlines()
    assert len(lines) == len(docs), created
    for line, doc in zip(lines, docs, strict=True):  # e.g. deployment.apps/NAME created
        kind, _, rest = line.partition("/")
        assert kind.split(".")[0] == doc["kind"].lower(), line
        assert rest == f"{doc['metadata']['name']} created", line
    account = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
    user = f"system:serviceaccount:{ns}:{account}"
    for where in [d["metadata"]["namespace"] for d in docs if d["kind"] == "Role"]:
        deadline = time.monotonic() + 15
        while not can_i(plane, "watch", "secrets", where, user):
            assert time.monotonic() < deadline, f"the binding in {where} never took effect"
            time.sleep(0.1)
    return docs


def _service_account_kubeconfig(plane: ControlPlane, ns: str, account: str, path: Path) -> Path:
    """A kubeconfig holding a token the API server issues for the ServiceAccount
    (TokenRequest), as the kubelet mounts one into the pod."""
    token = kubectl(plane.admin_kubeconfig, "create", "token", account, "-n", ns,
                    "--duration=1h").strip()  # fmt: skip
    admin = yaml.safe_load(plane.admin_kubeconfig.read_text())
    cluster = admin["clusters"][0]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [
                    {"name": account, "context": {"cluster": cluster["name"], "user": account}}
                ],
                "current-context": account,
            }
        )
    )
    return path


class Controller(CliProcess):
    """The generated container's command and arguments in a process of its own, as the
    ServiceAccount, with the pod's journal layout; its action lines kept."""

    def __init__(self, docs: list[dict[str, Any]], kubeconfig: Path, tmp: Path) -> None:
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        args = list(container["args"])
        args[args.index("--health-addr") + 1] = "127.0.0.1:0"  # loopback here, not 0.0.0.0
        (mount,) = container["volumeMounts"]
        journal = tmp / "pod" / mount["mountPath"].lstrip("/")
        journal.mkdir(parents=True)
        journal.chmod(0o777)  # as an emptyDir is
        pod_env = {e["name"]: e["value"] for e in container["env"]}
        home = journal / Path(pod_env["NEBULA_CREDENTIAL_HOME"]).relative_to(mount["mountPath"])
        super().__init__(
            ["--kubeconfig", str(kubeconfig), *args],
            home=tmp,
            env={"NEBULA_CREDENTIAL_HOME": str(home)},
            command=container["command"][0],
        )

    def restarts(self, ns: str, name: str) -> int:
        return len(
            [r for r in self.actions("restart") if (r["namespace"], r["name"]) == (ns, name)]
        )

    def restarted_after(self, action: str, ns: str, name: str) -> bool:
        """Whether a restart of ``ns/name`` came after the first ``action`` line."""
        seen = False
        for record in self.actions(action, "restart"):
            if record["action"] == action:
                seen = True
            elif seen and (record["namespace"], record["name"]) == (ns, name):
                return True
        return False


def _deployment(plane: ControlPlane, ns: str, name: str, reload: str) -> None:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": {RELOAD: reload}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "busybox"}]},
            },
        },
    }
    plane.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", body).raise_for_status(
        "create deployment"
    )


def _digest(plane: ControlPlane, ns: str, name: str) -> str | None:
    got = plane.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    template = got.raise_for_status("get deployment").json()["spec"]["template"]
    value: str | None = (template["metadata"].get("annotations") or {}).get(DIGEST)
    return value


def _lease(plane: ControlPlane, ns: str) -> dict[str, Any] | None:
    got = plane.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{LEASE_NAME}")
    if got.status == 404:
        return None
    found: dict[str, Any] = got.raise_for_status("get lease").json()
    return found


def _event_reasons(plane: ControlPlane, ns: str, name: str) -> list[str]:
    got = plane.request("GET", f"/api/v1/namespaces/{ns}/events")
    items = got.raise_for_status("list events").json()["items"]
    return [e["reason"] for e in items if e["involvedObject"]["name"] == name]


def test_the_generated_rbac_lets_the_controller_lead_restart_rotate_and_report(
    control_plane: ControlPlane, auth: AuthServer, tmp_path: Path
) -> None:
    plane = control_plane
    home, first, second = (new_namespace(plane, p) for p in ("ctlm", "ctlm-a", "ctlm-b"))
    docs = _install(plane, tmp_path, home, "--watch-namespace", first, "--watch-namespace",
                    second, "--rotate-within", f"{WITHIN}s",
                    "--lease-seconds", str(LEASE))  # fmt: skip
    kubeconfig = _service_account_kubeconfig(plane, home, NAME, tmp_path / "sa.kubeconfig")
    with (
        SyncKubernetesSecretsProvider(provider_for(plane, first)) as store_a,
        SyncKubernetesSecretsProvider(provider_for(plane, second)) as store_b,
    ):
        store_a.store(Credential("payments", "api_key", {"api_key": f"{CANARY}-v1"}))
        due = timedelta(seconds=WITHIN + 4)
        store_b.store(oauth2("github", auth, auth.grant("app"), expires_in=due))
        _deployment(plane, first, "web", "payments")
        _deployment(plane, first, "orphan", "nowhere")  # no such credential: an Event
        _deployment(plane, second, "worker", "github")
        controller = Controller(docs, kubeconfig, tmp_path)
        try:
            (led,) = wait_for(lambda: controller.actions("leader"), 30, "leadership")
            lease = _lease(plane, first)
            assert lease is not None
            assert lease["spec"]["holderIdentity"] == led["identity"]
            assert _lease(plane, second) is None  # the leader Lease lives in the first only

            # Opting in sets the digest once; a change of the credential patches it again.
            wait_for(lambda: controller.restarts(first, "web") == 1, 30, "the opt-in patch")
            before = _digest(plane, first, "web")
            store_a.store(Credential("payments", "api_key", {"api_key": f"{CANARY}-v2"}))
            wait_for(lambda: controller.restarts(first, "web") == 2, 30, "the restart")
            assert _digest(plane, first, "web") not in (None, before)

            # Rotation when due, in the second namespace, and the worker's restart for it.
            (rotated,) = wait_for(lambda: controller.actions("rotate"), 30, "the rotation")
            assert (rotated["credential"], rotated["outcome"]) == ("github", "rotated")
            assert str(store_b.get("github").reveal("access_token")) != ACCESS
            assert auth.hits["/token"] == 1
            restarted = lambda: controller.restarted_after("rotate", second, "worker")  # noqa: E731
            wait_for(restarted, 30, "the worker's restart for the new token")

            missing = wait_for(lambda: controller.actions("missing-credential"), 30, "report")
            assert missing[0]["name"] == "orphan"
            reasons = wait_for(lambda: _event_reasons(plane, first, "orphan"), 15, "the Event")
            assert reasons == ["CredentialNotFound"]

            # Meanwhile the leader renewed its Lease: an update of it, by name.
            renewed = _lease(plane, first)
            assert renewed is not None
            assert renewed["spec"]["holderIdentity"] == led["identity"]
            assert renewed["spec"]["renewTime"] > renewed["spec"]["acquireTime"]
        finally:
            code = controller.stop(timeout=20)
        assert code == 0
        assert controller.actions(*TROUBLE) == []
        assert not [line for line in controller.lines if "Traceback" in line]
        assert not [line for line in controller.lines if CANARY in line]


def test_without_rotation_watching_alone_is_enough_to_lead_and_restart(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    plane = control_plane
    ns = new_namespace(plane, "ctlm-quiet")
    docs = _install(plane, tmp_path, ns, "--no-rotation", "--lease-seconds", str(LEASE))
    kubeconfig = _service_account_kubeconfig(plane, ns, NAME, tmp_path / "sa.kubeconfig")
    with SyncKubernetesSecretsProvider(provider_for(plane, ns)) as store:
        store.store(Credential("payments", "api_key", {"api_key": f"{CANARY}-v1"}))
        _deployment(plane, ns, "web", "payments")
        controller = Controller(docs, kubeconfig, tmp_path)
        try:
            wait_for(lambda: controller.actions("leader"), 30, "leadership")
            wait_for(lambda: controller.restarts(ns, "web") == 1, 30, "the opt-in patch")
            store.store(Credential("payments", "api_key", {"api_key": f"{CANARY}-v2"}))
            wait_for(lambda: controller.restarts(ns, "web") == 2, 30, "the restart")
        finally:
            code = controller.stop(timeout=20)
    assert code == 0
    assert controller.actions(*TROUBLE) == []
    assert not [line for line in controller.lines if "Traceback" in line]


def test_what_the_controller_never_does_it_may_not_do(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    plane = control_plane
    home, first, second, other = (
        new_namespace(plane, p) for p in ("ctlm-min", "ctlm-min-a", "ctlm-min-b", "ctlm-min-x")
    )
    _install(plane, tmp_path, home, "--watch-namespace", first, "--watch-namespace", second)
    _install(plane, tmp_path, home, "--name", "quiet", "--watch-namespace", first,
             "--watch-namespace", second, "--no-rotation")  # fmt: skip
    rotating = f"system:serviceaccount:{home}:{NAME}"
    quiet = f"system:serviceaccount:{home}:quiet"
    # Each installation elects on a Lease named like it, and may update that one only.
    leader_of = {rotating: f"leases/{LEASE_NAME}", quiet: "leases/quiet"}
    other_lease = "leases/someone-elses"

    def can(user: str, verb: str, resource: str, ns: str) -> bool:
        return can_i(plane, verb, resource, ns, user)

    for user in (rotating, quiet):
        for ns in (first, second):
            for verb in ("list", "watch"):
                assert can(user, verb, "secrets", ns)
            for verb in ("create", "delete", "deletecollection"):
                assert not can(user, verb, "secrets", ns), (user, verb, ns)
            for verb in ("get", "create", "update", "delete"):
                assert not can(user, verb, "deployments.apps", ns), (user, verb)
            assert can(user, "patch", "deployments.apps", ns)
            for verb in ("patch", "update", "delete", "list"):
                assert not can(user, verb, "events", ns), (user, verb)
            for verb in ("list", "watch", "patch"):
                assert not can(user, verb, "leases.coordination.k8s.io", ns), (user, verb)
            assert not can(user, "get", "configmaps", ns)
        leader = leader_of[user]
        assert can(user, "update", leader, first)
        assert not can(user, "update", leader, second)
        assert not can(user, "update", other_lease, first)
        for theirs in set(leader_of.values()) - {leader}:
            assert not can(user, "update", theirs, first)  # another installation's
        for ns in (home, other):  # neither watched: nothing at all
            for verb in ("get", "list", "watch"):
                assert not can(user, verb, "secrets", ns), (user, verb, ns)
            assert not can(user, "create", "leases.coordination.k8s.io", ns)
    for ns in (first, second):  # rotating: read and rewrite, take and give back its leases
        for verb in ("get", "update", "patch"):
            assert can(rotating, verb, "secrets", ns)
            assert not can(quiet, verb, "secrets", ns), (verb, ns)
        for verb in ("get", "create", "delete"):
            assert can(rotating, verb, other_lease, ns)
    assert not can(quiet, "get", other_lease, first)
    assert not can(quiet, "delete", leader_of[quiet], first)
    assert can(quiet, "create", "leases.coordination.k8s.io", first)  # not restrictable by name
    assert not can(quiet, "create", "leases.coordination.k8s.io", second)
