"""Rotation when due: a timer per oauth2 credential, on the leader only, against the
real Authlib server; each due credential is rotated exactly once (one token request)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from controller_support import LEASE, ControllerProcess, grant_rules, wait_for
from k8s_support import ControlPlane, new_namespace, provider_for
from oauth_server import AuthServer
from rotate_support import ACCESS, CANARY, oauth2

from nebula_credential import SyncKubernetesSecretsProvider

pytestmark = pytest.mark.kubernetes

WITHIN = 5  # seconds: --rotate-within


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    return new_namespace(control_plane, "ctl")


@pytest.fixture
def store(control_plane: ControlPlane, namespace: str) -> Iterator[SyncKubernetesSecretsProvider]:
    with SyncKubernetesSecretsProvider(provider_for(control_plane, namespace)) as provider:
        yield provider


@pytest.fixture
def start(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Iterator:
    started: list[ControllerProcess] = []

    def run() -> ControllerProcess:
        started.append(
            ControllerProcess(
                control_plane.admin_kubeconfig,
                namespace,
                tmp_path,
                "--rotate-within",
                f"{WITHIN}s",
            )
        )
        return started[-1]

    yield run
    for process in started:
        process.kill()


def _access(store: SyncKubernetesSecretsProvider, cid: str) -> str:
    return str(store.get(cid).reveal("access_token"))


def test_a_due_credential_is_rotated_once_at_its_time_and_others_are_not(
    store: SyncKubernetesSecretsProvider, auth: AuthServer, start
) -> None:
    store.store(oauth2("soon", auth, auth.grant("app"), expires_in=timedelta(seconds=WITHIN + 4)))
    store.store(oauth2("later", auth, auth.grant("app"), expires_in=timedelta(hours=1)))
    stored = time.monotonic()
    controller = start()
    rotated = wait_for(lambda: controller.actions("rotate"), 30, "the rotation")
    # Due 4 s after it was stored, not before (no schedule, no rotation on sight).
    assert time.monotonic() - stored >= 3.5
    assert [(r["credential"], r["outcome"]) for r in rotated] == [("soon", "rotated")]
    assert _access(store, "soon") != ACCESS
    assert _access(store, "later") == ACCESS
    time.sleep(3)  # the new token lasts an hour: nothing more to do
    assert auth.hits["/token"] == 1
    assert len(controller.actions("rotate")) == 1
    assert not any(CANARY in line for line in controller.lines)


def test_the_standby_rotates_what_comes_due_after_the_leader_is_killed_each_once(
    store: SyncKubernetesSecretsProvider, auth: AuthServer, start
) -> None:
    one, two = start(), start()
    wait_for(lambda: one.actions("leader") or two.actions("leader"), 30, "a leader")
    leader = one if one.actions("leader") else two
    standby = two if leader is one else one
    due_in = 2.0
    for cid in ("a", "b", "c"):
        expires = timedelta(seconds=WITHIN + due_in)
        store.store(oauth2(cid, auth, auth.grant("app"), expires_in=expires))
    leader.kill()  # before any is due: the standby must take over and rotate them
    wait_for(lambda: standby.actions("leader"), LEASE + 3, "the standby to lead")
    done = wait_for(
        lambda: len(standby.actions("rotate")) >= 3 and standby.actions("rotate"), 30, "rotations"
    )
    assert sorted((r["credential"], r["outcome"]) for r in done) == [
        ("a", "rotated"),
        ("b", "rotated"),
        ("c", "rotated"),
    ]
    time.sleep(3)
    assert auth.hits["/token"] == 3
    assert not leader.actions("rotate")


def test_tokens_it_cannot_store_wait_in_its_journal_and_land_without_a_second_request(
    control_plane: ControlPlane,
    namespace: str,
    store: SyncKubernetesSecretsProvider,
    auth: AuthServer,
    tmp_path: Path,
) -> None:
    """The controller may read Secrets but not write them: the tokens it was issued are
    kept in its data directory's journal, and once it may write, its next try stores
    them without spending the refresh token again."""
    ident = control_plane.identity(namespace, ["get", "list", "watch"])  # Secrets, read only
    grant_rules(control_plane, namespace, ident.username, [
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets"],
         "verbs": ["list", "watch"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["get", "create", "update", "delete"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    ])  # fmt: skip
    store.store(oauth2("held", auth, auth.grant("app"), expires_in=timedelta(seconds=WITHIN - 1)))
    controller = ControllerProcess(
        ident.kubeconfig, namespace, tmp_path, "--rotate-within", f"{WITHIN}s"
    )
    try:
        failed = wait_for(lambda: controller.actions("rotate-failed"), 30, "the refused write")
        assert failed[0]["error"] == "pending"
        assert auth.hits["/token"] == 1
        assert list(tmp_path.rglob("*.grant"))  # kept, sealed, under its HOME
        assert _access(store, "held") == ACCESS
        grant_rules(control_plane, namespace, ident.username, [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["update", "patch"]},
        ], tag="-write")  # fmt: skip
        landed = wait_for(
            lambda: [r for r in controller.actions("rotate") if r["outcome"] == "rotated"],
            60,
            "the kept tokens to be stored",
        )
        assert landed[0]["resumed"] is True
        assert _access(store, "held") != ACCESS
        assert auth.hits["/token"] == 1  # the refresh token was spent once
        assert not list(tmp_path.rglob("*.grant"))
        assert not any(CANARY in line for line in controller.lines)
    finally:
        controller.kill()
