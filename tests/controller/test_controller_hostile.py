"""The controller against hostile but realistic input: a Lease edited or deleted by hand,
a Secret edited into garbage, and a health endpoint held open by idle clients."""

from __future__ import annotations

import base64
import os
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controller_support import (
    ControllerProcess,
    create,
    deployment,
    generation,
    grant_rules,
    template_digest,
    wait_for,
)
from k8s_support import ControlPlane, new_namespace, provider_for

from nebula_credential import Credential, SyncKubernetesSecretsProvider
from nebula_credential.controller.references import BadAnnotation, parse_reload

pytestmark = pytest.mark.kubernetes

LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/{}/leases/nebula-credential-controller"


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    name = new_namespace(control_plane, "ctlh")
    yield name
    # Hundreds of Deployments left behind would keep a later test's
    # kube-controller-manager busy with them before it gets to its own.
    control_plane.request("DELETE", f"/apis/apps/v1/namespaces/{name}/deployments")


@pytest.fixture
def store(control_plane: ControlPlane, namespace: str) -> Iterator[SyncKubernetesSecretsProvider]:
    with SyncKubernetesSecretsProvider(provider_for(control_plane, namespace)) as provider:
        yield provider


@pytest.fixture
def controllers(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[Any]:
    started: list[ControllerProcess] = []

    def start(*extra: str) -> ControllerProcess:
        started.append(
            ControllerProcess(control_plane.admin_kubeconfig, namespace, tmp_path, *extra)
        )
        return started[-1]

    yield start
    for process in started:
        process.kill()


def _pair(controllers: Any, *extra: str) -> tuple[ControllerProcess, ControllerProcess]:
    """Two controllers, once one of them leads: (leader, standby)."""
    one, two = controllers(*extra), controllers(*extra)
    wait_for(lambda: one.actions("leader") or two.actions("leader"), 30, "a leader")
    return (one, two) if one.actions("leader") else (two, one)


def _one_leader_throughout(leader: ControllerProcess, standby: ControllerProcess) -> None:
    assert not standby.actions("leader"), "\n".join([*leader.lines, "--", *standby.lines])
    assert not leader.actions("standby")
    assert not leader.actions("leader-lost")


def test_a_lease_deleted_by_hand_never_makes_the_standby_a_second_leader(
    control_plane: ControlPlane, namespace: str, controllers: Any
) -> None:
    """The leader still acts for up to two thirds of its term after its last renewal:
    a standby that created the missing Lease at once would act beside it."""
    leader, standby = _pair(controllers)
    time.sleep(1)  # the standby has read the Lease (every 0.6 s): it knows a leader exists
    for _ in range(4):
        control_plane.request("DELETE", LEASE_PATH.format(namespace)).raise_for_status("delete")
        time.sleep(3 + 1)  # a term (3 s) and one more renewal: the leader has taken it back
        _one_leader_throughout(leader, standby)
    lease = control_plane.request("GET", LEASE_PATH.format(namespace)).raise_for_status("get")
    assert lease.json()["spec"]["holderIdentity"] == leader.identity()


def test_a_lease_duration_shortened_by_hand_never_makes_the_standby_a_second_leader(
    control_plane: ControlPlane, namespace: str, controllers: Any
) -> None:
    """leaseDurationSeconds set to 1 on a Lease a live leader renews every 3 s: a standby
    trusting it would take over between two renewals while the leader still acts."""
    leader, standby = _pair(controllers, "--lease-seconds", "9")
    for _ in range(4):
        renewed = _renewal(control_plane, namespace)
        wait_for(lambda seen=renewed: _renewal(control_plane, namespace) != seen, 5, "a renewal")
        control_plane.request(
            "PATCH",
            LEASE_PATH.format(namespace),
            {"spec": {"leaseDurationSeconds": 1}},
            content_type="application/merge-patch+json",
        ).raise_for_status("shorten the lease")
        time.sleep(4)  # past the leader's next renewal (every 3 s), which restores 9 s
        _one_leader_throughout(leader, standby)


def _renewal(plane: ControlPlane, namespace: str) -> str:
    lease = plane.request("GET", LEASE_PATH.format(namespace)).raise_for_status("get the Lease")
    return str(lease.json()["spec"].get("renewTime"))


def _events(plane: ControlPlane, namespace: str, reason: str) -> list[dict[str, Any]]:
    got = plane.request("GET", f"/api/v1/namespaces/{namespace}/events")
    items: list[dict[str, Any]] = got.raise_for_status("list events").json()["items"]
    return [item for item in items if item.get("reason") == reason]


def test_a_credential_edited_into_garbage_is_one_warning_and_no_rollout(
    control_plane: ControlPlane,
    namespace: str,
    store: SyncKubernetesSecretsProvider,
    controllers: Any,
) -> None:
    store.store(Credential("db", "api_key", {"api_key": "v0"}))
    secret = store.secret_name("db")
    create(control_plane, namespace, deployment("app", "db", {"DB": secret}))
    controller = controllers()
    first = wait_for(lambda: template_digest(control_plane, namespace, "app"), 30, "opt-in")
    before = generation(control_plane, namespace, "app")

    path = f"/api/v1/namespaces/{namespace}/secrets/{secret}"
    for number in range(3):  # three hand edits, each of them garbage
        garbage = base64.b64encode(b'{"id": "db", not json \x1b[2J' + b"x" * number).decode()
        body = {"data": {"credential.json": garbage}}
        control_plane.request(
            "PATCH", path, body, content_type="application/merge-patch+json"
        ).raise_for_status("edit the Secret into garbage")
        time.sleep(0.3)
    wait_for(lambda: controller.actions("corrupt-credential"), 20, "the warning line")
    wait_for(lambda: _events(control_plane, namespace, "CredentialCorrupt"), 10, "the Event")
    time.sleep(3)  # past the quiet period: nothing else comes
    assert len(controller.actions("corrupt-credential")) == 1
    line = controller.actions("corrupt-credential")[0]
    assert line["credentials"] == ["db"]
    assert "\x1b" not in str(line)
    assert generation(control_plane, namespace, "app") == before  # no rollout onto garbage
    assert template_digest(control_plane, namespace, "app") == first
    assert not controller.actions("restart")[1:]

    store.store(Credential("db", "api_key", {"api_key": "v1"}))  # mended: one rollout
    wait_for(lambda: template_digest(control_plane, namespace, "app") != first, 20, "the patch")
    time.sleep(3)
    assert generation(control_plane, namespace, "app") == before + 1
    assert controller.process.poll() is None


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no thread count")


def _probe_passes(url: str) -> bool:
    """What a kubelet liveness probe sees with its defaults: a try times out after 1 s,
    and the probe fails only after 3 tries in a row fail."""
    for _ in range(3):
        try:
            with urllib.request.urlopen(url, timeout=1.0) as answer:  # noqa: S310 - 127.0.0.1
                if answer.status == 200:
                    return True
        except OSError:
            continue
    return False


def test_idle_clients_cannot_hold_the_health_endpoint(
    control_plane: ControlPlane, namespace: str, controllers: Any
) -> None:
    """A slow-loris client (a request line never finished) on the probe port: the
    connections are closed, the threads stay bounded, and /healthz still answers."""
    controller = controllers()
    url = controller.health_url("/healthz")
    host, port = url.split("/")[2].rsplit(":", 1)
    idle: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 30
        while len(idle) < 300 and time.monotonic() < deadline:
            conn = socket.create_connection((host, int(port)), timeout=5)
            conn.sendall(b"GET /heal")
            idle.append(conn)
        assert len(idle) == 300, "the endpoint stopped accepting connections"
        assert _threads(controller.process.pid) < 100
        assert _probe_passes(url), "/healthz did not answer within a probe's 1 s, 3 times"
        last = idle[-1]
        last.settimeout(15)
        assert last.recv(100) == b""  # closed by the endpoint, not held forever
        time.sleep(0.5)
        noise = [line for line in controller.lines if not line.startswith("{")]
        assert not noise, noise[:20]  # no traceback per closed connection on stderr
    finally:
        for conn in idle:
            conn.close()


def test_a_lease_deleted_over_and_over_crashes_no_controller(
    control_plane: ControlPlane, namespace: str, controllers: Any
) -> None:
    """A tool that prunes the Lease again and again (sometimes between a leader's read
    and its renewal): the controllers go on, and one of them leads once it stops."""
    one, two = _pair(controllers)
    path = LEASE_PATH.format(namespace)
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        control_plane.request("DELETE", path)  # 404 when it is already gone
    assert one.process.poll() is None
    assert two.process.poll() is None
    lease = wait_for(
        lambda: (got := control_plane.request("GET", path)).status == 200 and got.json(),
        10,
        "the Lease again",
    )
    assert lease["spec"]["holderIdentity"] in (one.identity(), two.identity())
    time.sleep(1)
    assert one.process.poll() is None
    assert two.process.poll() is None
    assert not [line for line in one.lines + two.lines if "Traceback" in line]


def _digests(plane: ControlPlane, namespace: str) -> dict[str, str | None]:
    got = plane.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments")
    items = got.raise_for_status("list deployments").json()["items"]
    return {
        item["metadata"]["name"]: (
            item["spec"]["template"]["metadata"].get("annotations") or {}
        ).get("nebula-credential.io/credentials-digest")
        for item in items
    }


def test_hundreds_of_workloads_on_one_credential_are_all_patched(
    control_plane: ControlPlane,
    namespace: str,
    store: SyncKubernetesSecretsProvider,
    controllers: Any,
) -> None:
    """400 Deployments opt into one credential: a change patches every one of them. The
    stretched digests (a few ms each) must not stall the leader's renewals past its term,
    and a workload passed over while the term lapsed must be looked at again."""
    store.store(Credential("shared", "api_key", {"api_key": "v0"}))
    secret = store.secret_name("shared")
    count = 400
    for number in range(count):
        create(control_plane, namespace, deployment(f"w{number}", "shared", {"K": secret}))
    controller = controllers()
    first = wait_for(
        lambda: (d := _digests(control_plane, namespace)) and all(d.values()) and d, 60, "opt-in"
    )
    assert len(first) == count
    store.store(Credential("shared", "api_key", {"api_key": "v1"}))
    wait_for(
        lambda: all(d != first[n] for n, d in _digests(control_plane, namespace).items()),
        60,
        "every workload's patch",
    )
    assert len(controller.actions("restart")) == 2 * count
    assert not controller.actions("standby")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_refusals_are_told_once_and_nothing_loops_hot(
    control_plane: ControlPlane,
    namespace: str,
    store: SyncKubernetesSecretsProvider,
    tmp_path: Path,
) -> None:
    """A Role without Events ``create`` and without ``watch`` on StatefulSets: the bad
    annotation is still one line, the failed Event one line, the refused watch one line
    (not one per retry), and the process idles."""
    ident = control_plane.identity(namespace, ["get", "list", "watch"])  # Secrets
    grant_rules(control_plane, namespace, ident.username, [
        {"apiGroups": ["apps"], "resources": ["deployments", "daemonsets"],
         "verbs": ["list", "watch", "patch"]},
        {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["list"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["get", "create", "update"]},
    ])  # fmt: skip
    create(control_plane, namespace, deployment("odd", "db,\x1b[31mred", {}))
    controller = ControllerProcess(ident.kubeconfig, namespace, tmp_path)
    try:
        wait_for(lambda: controller.actions("event-failed"), 30, "the Event's refusal")
        time.sleep(2)
        spent = _cpu_seconds(controller.process.pid)
        time.sleep(10)
        assert _cpu_seconds(controller.process.pid) - spent < 0.5  # no hot retry loop
        assert len(controller.actions("bad-annotation")) == 1
        assert "\x1b" not in controller.actions("bad-annotation")[0]["reason"]
        assert len(controller.actions("event-failed")) == 1
        refused = [
            line for line in controller.actions("watch-lost") if "statefulsets" in line["watch"]
        ]
        assert len(refused) == 1, refused
        assert controller.process.poll() is None
    finally:
        controller.kill()


def test_a_long_list_of_one_id_repeated_is_that_one_id() -> None:
    """A generated annotation that repeats ids (one per container, say) names each once:
    the limit counts credentials, not entries."""
    assert parse_reload(",".join(["db"] * 500 + ["cache"] * 10)) == (False, ("db", "cache"))
    with pytest.raises(BadAnnotation, match="at most 64"):
        parse_reload(",".join(f"id{number}" for number in range(65)))


def test_sigterm_while_patches_are_in_flight_is_a_clean_stop(
    control_plane: ControlPlane,
    namespace: str,
    store: SyncKubernetesSecretsProvider,
    controllers: Any,
) -> None:
    store.store(Credential("shared", "api_key", {"api_key": "v0"}))
    secret = store.secret_name("shared")
    for number in range(200):
        create(control_plane, namespace, deployment(f"w{number}", "shared", {"K": secret}))
    controller = controllers()
    wait_for(lambda: len(controller.actions("restart")) == 200, 60, "opt-in")
    store.store(Credential("shared", "api_key", {"api_key": "v1"}))
    wait_for(lambda: len(controller.actions("restart")) > 200, 30, "the first patches")
    assert controller.stop() == 0
    patched = len(controller.actions("restart")) - 200
    assert 0 < patched <= 200
    assert not [line for line in controller.lines if not line.startswith("{")], controller.lines
    lease = control_plane.request("GET", LEASE_PATH.format(namespace)).raise_for_status("get")
    assert not lease.json()["spec"].get("holderIdentity")


def test_several_missing_credentials_are_one_line_and_one_event(
    control_plane: ControlPlane,
    namespace: str,
    store: SyncKubernetesSecretsProvider,
    controllers: Any,
) -> None:
    """A workload naming three credentials of which two have no Secret: one line and one
    Event naming both, not two more each time the third one changes."""
    store.store(Credential("present", "api_key", {"api_key": "v0"}))
    secret = store.secret_name("present")
    create(control_plane, namespace, deployment("app", "present,gone-a,gone-b", {"K": secret}))
    controller = controllers()
    first = wait_for(lambda: template_digest(control_plane, namespace, "app"), 30, "opt-in")
    for value in ("v1", "v2"):
        store.store(Credential("present", "api_key", {"api_key": value}))
        wait_for(
            lambda seen=first: template_digest(control_plane, namespace, "app") != seen,
            20,
            "the patch",
        )
        first = template_digest(control_plane, namespace, "app")
    time.sleep(1)
    missing = controller.actions("missing-credential")
    assert len(missing) == 1, missing
    assert "'gone-a'" in missing[0]["reason"]
    assert "'gone-b'" in missing[0]["reason"]
    assert len(_events(control_plane, namespace, "CredentialNotFound")) == 1


def test_an_id_annotation_edited_by_hand_leaves_the_old_id_missing(
    control_plane: ControlPlane,
    namespace: str,
    store: SyncKubernetesSecretsProvider,
    controllers: Any,
) -> None:
    """A Secret whose id annotation is edited from alpha to beta no longer answers for
    alpha: a workload naming alpha is told it is missing."""
    store.store(Credential("alpha", "api_key", {"api_key": "v0"}))
    secret = store.secret_name("alpha")
    create(control_plane, namespace, deployment("app", "alpha", {"K": secret}))
    controller = controllers()
    wait_for(lambda: template_digest(control_plane, namespace, "app"), 30, "opt-in")
    assert not controller.actions("missing-credential")
    body = {"metadata": {"annotations": {"nebula-credential/id": "beta"}}}
    control_plane.request(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/secrets/{secret}",
        body,
        content_type="application/merge-patch+json",
    ).raise_for_status("edit the id annotation")
    (missing,) = wait_for(lambda: controller.actions("missing-credential"), 20, "the report")
    assert "'alpha'" in missing["reason"]


def test_two_installations_with_leases_of_their_own_both_lead(
    control_plane: ControlPlane, namespace: str, controllers: Any
) -> None:
    """Two controller installations whose first namespace is the same: each elects on
    its own Lease (``--lease-name``), so neither stands by for the other."""
    one = controllers("--lease-name", "install-a")
    two = controllers("--lease-name", "install-b")
    wait_for(lambda: one.actions("leader") and two.actions("leader"), 30, "two leaders")
    leases = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
    holders = set()
    for lease in ("install-a", "install-b"):
        found = control_plane.request("GET", f"{leases}/{lease}").raise_for_status("get").json()
        holders.add(found["spec"]["holderIdentity"])
    assert holders == {one.identity(), two.identity()}


def test_a_bad_annotation_made_while_no_one_leads_is_told_by_the_next_leader(
    control_plane: ControlPlane, namespace: str, controllers: Any
) -> None:
    leader, standby = _pair(controllers)
    time.sleep(1)  # the standby has read the Lease
    leader.kill()  # no one leads until the standby has waited the term (3 s) out
    create(control_plane, namespace, deployment("odd", "db,,x", {}))
    wait_for(lambda: standby.actions("leader"), 10, "the standby to lead")
    told = wait_for(lambda: standby.actions("bad-annotation"), 10, "the bad annotation")
    assert told[0]["name"] == "odd"
    wait_for(lambda: _events(control_plane, namespace, "BadReloadAnnotation"), 10, "the Event")
