"""The controller on a real API server: which workloads it patches, when, and how often.

Without kube-controller-manager no ReplicaSet rolls out here: these tests assert on the
pod-template patch (the Deployment's ``metadata.generation`` counts template changes)
that makes the workload's own rollout happen; test_controller_rollout.py runs
kube-controller-manager beside the plane and counts the ReplicaSets themselves.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_support import (
    ControllerProcess,
    create,
    deployment,
    generation,
    template_digest,
    wait_for,
)
from k8s_support import CANARY, ControlPlane, new_namespace, provider_for

from nebula_credential import Credential, SyncKubernetesSecretsProvider

pytestmark = pytest.mark.kubernetes

QUIET_AND_MARGIN = 3.0  # the controller's 1 s debounce, then time for a patch to land


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    return new_namespace(control_plane, "ctl")


@pytest.fixture
def store(control_plane: ControlPlane, namespace: str) -> Iterator[SyncKubernetesSecretsProvider]:
    """Writes from this test process: another process than the controller's."""
    with SyncKubernetesSecretsProvider(provider_for(control_plane, namespace)) as provider:
        yield provider


@pytest.fixture
def controllers(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[list]:
    started: list[ControllerProcess] = []

    def start() -> ControllerProcess:
        started.append(ControllerProcess(control_plane.admin_kubeconfig, namespace, tmp_path))
        return started[-1]

    yield start  # type: ignore[misc]
    for process in started:
        process.kill()


def _put(store: SyncKubernetesSecretsProvider, cid: str, value: str, **tags: str) -> None:
    store.store(Credential(cid, "api_key", {"api_key": value}, tags=tags or None))


def test_opted_in_deployments_are_patched_once_per_change_and_no_others(
    control_plane: ControlPlane, namespace: str, store: SyncKubernetesSecretsProvider, controllers
) -> None:
    _put(store, "db", CANARY)
    _put(store, "other", "other-value")
    db, other = store.secret_name("db"), store.secret_name("other")
    create(control_plane, namespace, deployment("named", "db", {"DB": db}))
    create(control_plane, namespace, deployment("auto", "auto", {"DB": db}))
    create(control_plane, namespace, deployment("mounted", "auto", {}, volume=db))
    create(control_plane, namespace, deployment("plain", None, {"DB": db}))
    create(control_plane, namespace, deployment("uses-other", "other", {"O": other}))
    controller = controllers()

    def digests() -> dict[str, str | None]:
        names = ("named", "auto", "mounted", "plain", "uses-other")
        return {name: template_digest(control_plane, namespace, name) for name in names}

    # Opting in sets the annotation once (the workload's first digest).
    first = wait_for(
        lambda: all((d := digests())[n] for n in ("named", "auto", "mounted", "uses-other")) and d,
        30,
        "opt-in",
    )
    assert first["plain"] is None
    assert CANARY not in str(first)
    before = {n: generation(control_plane, namespace, n) for n in first}

    _put(store, "db", "a-new-value")
    wait_for(lambda: digests()["named"] != first["named"], 20, "the patch after a change")
    time.sleep(QUIET_AND_MARGIN)
    after = digests()
    assert after["auto"] != first["auto"]
    assert after["mounted"] != first["mounted"]
    assert after["uses-other"] == first["uses-other"]
    assert after["plain"] is None
    moved = {n: generation(control_plane, namespace, n) - before[n] for n in before}
    assert moved == {"named": 1, "auto": 1, "mounted": 1, "plain": 0, "uses-other": 0}

    # Tags and the version counter change credential.json (which "mounted" sees), not
    # anything a pod acts on.
    _put(store, "db", "a-new-value", team="payments")
    time.sleep(QUIET_AND_MARGIN)
    assert digests() == after
    restarts = controller.actions("restart")
    assert sorted(r["name"] for r in restarts) == [
        *("auto", "auto", "mounted", "mounted", "named", "named", "uses-other")
    ]
    assert not any(CANARY in line or "a-new-value" in line for line in controller.lines)

    with urllib.request.urlopen(controller.health_url("/readyz"), timeout=5) as reply:  # noqa: S310
        assert reply.status == 200
    with urllib.request.urlopen(controller.health_url("/metrics"), timeout=5) as reply:  # noqa: S310
        text = reply.read().decode()
    assert 'nebula_credential_controller_restarts_total{kind="deployment"} 7.0' in text
    assert "nebula_credential_controller_leader 1.0" in text
    assert controller.stop() == 0


def test_a_burst_of_twenty_changes_in_two_seconds_is_one_patch(
    control_plane: ControlPlane, namespace: str, store: SyncKubernetesSecretsProvider, controllers
) -> None:
    """The debounce waits for 1 s without changes (at most 5 s after the first): twenty
    changes 0.1 s apart never leave such a gap, so they make one patch, one rollout."""
    _put(store, "burst", "v0")
    create(control_plane, namespace, deployment("app", "burst", {"K": store.secret_name("burst")}))
    controllers()
    first = wait_for(lambda: template_digest(control_plane, namespace, "app"), 30, "opt-in")
    before = generation(control_plane, namespace, "app")
    started = time.monotonic()
    for number in range(1, 21):
        _put(store, "burst", f"v{number}")
        time.sleep(max(0.0, started + number * 0.1 - time.monotonic()))
    assert time.monotonic() - started < 2.5
    wait_for(
        lambda: template_digest(control_plane, namespace, "app") != first, 20, "the burst's patch"
    )
    time.sleep(QUIET_AND_MARGIN)
    assert generation(control_plane, namespace, "app") - before == 1


def test_two_controllers_one_leader_and_the_standby_takes_over_after_sigkill(
    control_plane: ControlPlane, namespace: str, store: SyncKubernetesSecretsProvider, controllers
) -> None:
    _put(store, "shared", "v0")
    secret = store.secret_name("shared")
    create(control_plane, namespace, deployment("app", "shared", {"K": secret}))
    one, two = controllers(), controllers()
    wait_for(lambda: one.actions("leader") or two.actions("leader"), 30, "a leader")
    time.sleep(2 * 3)  # two lease durations: the standby has had every chance to grab it
    leaders = [c for c in (one, two) if c.actions("leader")]
    assert len(leaders) == 1
    leader = leaders[0]
    standby = two if leader is one else one
    first = wait_for(lambda: template_digest(control_plane, namespace, "app"), 30, "opt-in")
    before = generation(control_plane, namespace, "app")

    _put(store, "shared", "v1")
    second = wait_for(
        lambda: (d := template_digest(control_plane, namespace, "app")) != first and d, 20, "patch"
    )
    time.sleep(QUIET_AND_MARGIN)
    assert generation(control_plane, namespace, "app") - before == 1
    assert len(leader.actions("restart")) == 2
    assert not standby.actions("restart")

    leader.kill()
    killed = time.monotonic()
    wait_for(lambda: standby.actions("leader"), 3 + 2, "the standby to take over")
    # The lease (3 s) plus one of the standby's reads (every 0.6 s).
    assert time.monotonic() - killed <= 3 + 1.5
    _put(store, "shared", "v2")
    wait_for(
        lambda: template_digest(control_plane, namespace, "app") not in (first, second),
        20,
        "the new leader's patch",
    )
    time.sleep(QUIET_AND_MARGIN)
    assert generation(control_plane, namespace, "app") - before == 2


def test_a_leader_stopped_cleanly_hands_the_lease_back_at_once(
    control_plane: ControlPlane, namespace: str, controllers
) -> None:
    """SIGTERM (a rollout of the controller itself): the leader empties the Lease before
    it exits, so the standby leads after one of its reads, not after the whole term."""
    one, two = controllers(), controllers()
    wait_for(lambda: one.actions("leader") or two.actions("leader"), 30, "a leader")
    leader, standby = (one, two) if one.actions("leader") else (two, one)
    gone = leader.actions("leader")[0]["identity"]
    assert leader.stop() == 0
    stopped = time.monotonic()
    lease = control_plane.request(
        "GET",
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/nebula-credential-controller",
    ).raise_for_status("get the leader Lease")
    # Empty, or already the standby's: never still the stopped leader's.
    assert lease.json()["spec"].get("holderIdentity") in (None, standby.identity())
    wait_for(lambda: standby.actions("leader"), 3, "the standby to lead")
    assert time.monotonic() - stopped < 2.0  # its reads come every 0.6 s; the term is 3 s
    assert standby.identity() != gone


def test_bad_input_is_one_line_and_an_event_and_the_rest_goes_on(
    control_plane: ControlPlane, namespace: str, store: SyncKubernetesSecretsProvider, controllers
) -> None:
    _put(store, "good", "v0")
    good = store.secret_name("good")
    create(control_plane, namespace, deployment("malformed", "good,,other", {"K": good}))
    create(control_plane, namespace, deployment("missing", "nowhere", {}))
    create(control_plane, namespace, deployment("fine", "good", {"K": good}))
    controller = controllers()
    wait_for(lambda: template_digest(control_plane, namespace, "fine"), 30, "the good one")
    time.sleep(QUIET_AND_MARGIN)
    bad = controller.actions("bad-annotation")
    assert [b["name"] for b in bad] == ["malformed"]
    assert "comma-separated" in bad[0]["reason"]
    missing = controller.actions("missing-credential")
    assert [m["name"] for m in missing] == ["missing"]
    assert "'nowhere'" in missing[0]["reason"]
    assert template_digest(control_plane, namespace, "malformed") is None
    assert template_digest(control_plane, namespace, "missing") is None

    def reasons() -> set[str]:
        listed = control_plane.request("GET", f"/api/v1/namespaces/{namespace}/events")
        items = listed.raise_for_status("list events").json()["items"]
        return {f"{e['involvedObject']['name']}:{e['reason']}" for e in items}

    wait_for(
        lambda: {"malformed:BadReloadAnnotation", "missing:CredentialNotFound"} <= reasons(),
        10,
        "the Events",
    )
    _put(store, "good", "v1")  # the controller goes on with the rest
    first = template_digest(control_plane, namespace, "fine")
    wait_for(lambda: template_digest(control_plane, namespace, "fine") != first, 20, "patch")
    assert controller.process.poll() is None
    assert not [line for line in controller.lines if "Traceback" in line]


def test_health_answers_before_anything_else(controllers) -> None:
    controller = controllers()
    with urllib.request.urlopen(controller.health_url("/healthz"), timeout=5) as reply:  # noqa: S310
        assert reply.read() == b"ok\n"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(controller.health_url("/nope"), timeout=5)  # noqa: S310
    refused.value.close()
    assert refused.value.code == 404


def test_an_api_server_restart_misses_no_change_and_patches_once(
    control_plane: ControlPlane, namespace: str, store: SyncKubernetesSecretsProvider, controllers
) -> None:
    """The watches resume from the last resourceVersion they saw: a change made as soon
    as the server is back (before the controller's watches reconnect) is still seen,
    and the leader, back from its lost renewals, patches once for it."""
    _put(store, "rs", "v0")
    create(control_plane, namespace, deployment("app", "rs", {"K": store.secret_name("rs")}))
    controller = controllers()
    first = wait_for(lambda: template_digest(control_plane, namespace, "app"), 30, "opt-in")
    before = generation(control_plane, namespace, "app")
    control_plane.restart_apiserver(kill=True, down_for=4.0)
    _put(store, "rs", "v1")
    wait_for(lambda: template_digest(control_plane, namespace, "app") != first, 60, "the patch")
    time.sleep(QUIET_AND_MARGIN)
    assert generation(control_plane, namespace, "app") - before == 1
    assert len(controller.actions("restart")) == 2  # the opt-in, then the change
    assert controller.actions("watch-lost")
    with urllib.request.urlopen(controller.health_url("/metrics"), timeout=5) as reply:  # noqa: S310
        text = reply.read().decode()
    assert 'nebula_credential_controller_watch_restarts_total{resource="secrets"}' in text
    assert wait_for(lambda: _ready(controller), 30, "ready again")


def _ready(controller: ControllerProcess) -> bool:
    try:
        with urllib.request.urlopen(controller.health_url("/readyz"), timeout=5) as reply:  # noqa: S310
            return bool(reply.status == 200)
    except urllib.error.HTTPError as exc:
        exc.close()
        return False
