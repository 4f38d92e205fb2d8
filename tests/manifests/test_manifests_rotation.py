"""Rotation in the manifests, without a cluster: lease rules of the writer grant, the
rotator's Role, and the CronJob's journal, restarts and deadlines."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from nebula_credential import manifests as m
from nebula_credential.kubernetes.model.naming import secret_name

LEASES = {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"]}


def _lease_rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for d in docs
        if d["kind"] == "Role"
        for r in d["rules"]
        if r["apiGroups"] != [""] or r["resources"] != ["secrets"]
    ]


def _pod(cronjob: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def test_a_writer_for_named_ids_gets_and_deletes_exactly_their_leases() -> None:
    ids = ["oauth2", "Team.API_key", "oauth2"]
    names = sorted({secret_name(m.DEFAULT_PREFIX, i) for i in ids})
    docs = m.rbac(ids, namespace="team-a", writer=True)
    lease = next(d for d in docs if d["metadata"]["name"] == "nebula-app-credential-lease")
    assert lease["rules"] == [
        {**LEASES, "verbs": ["get", "delete"], "resourceNames": names},
        {**LEASES, "verbs": ["create"]},
    ]
    assert _lease_rules(docs) == lease["rules"]  # no other Role touches leases
    grants = lease["metadata"]["annotations"][m.GRANTS_ANNOTATION]
    named = "get/delete on exactly these rotation Leases (coordination.k8s.io) in team-a: "
    assert f"{named}{', '.join(names)};" in grants
    assert "create of ANY Lease name in team-a" in grants
    assert "cannot restrict create by resourceNames" in grants
    binding = next(
        d
        for d in docs
        if d["kind"] == "RoleBinding" and d["metadata"]["name"] == lease["metadata"]["name"]
    )
    assert binding["roleRef"]["name"] == lease["metadata"]["name"]
    subject = {"kind": "ServiceAccount", "name": "nebula-app", "namespace": "team-a"}
    assert binding["subjects"] == [subject]


def test_a_writer_without_ids_gets_the_same_verbs_on_every_lease() -> None:
    docs = m.rbac(namespace="team-a", writer=True)
    assert _lease_rules(docs) == [{**LEASES, "verbs": ["get", "create", "delete"]}]
    lease = next(d for d in docs if d["metadata"]["name"].endswith("-lease"))
    assert "EVERY Lease in team-a" in lease["metadata"]["annotations"][m.GRANTS_ANNOTATION]


def test_readers_and_listers_get_nothing_on_leases() -> None:
    assert _lease_rules(m.rbac(["oauth2"], namespace="team-a")) == []
    assert _lease_rules(m.rbac(["oauth2"], namespace="team-a", list_watch=True)) == []
    assert _lease_rules(m.rbac(namespace="team-a", list_watch=True)) == []


def test_the_cli_comment_says_create_cannot_be_held_to_names(cli) -> None:
    done = cli("manifests", "rbac", "--writer", "-c", "oauth2", "-n", "team-a")
    assert done.returncode == 0, done.stderr
    chunks = done.stdout.split("---\n")
    chunk = next(c for c in chunks if "-credential-lease\n" in c and "kind: Role\n" in c)
    comment = chunk.splitlines()[0]
    assert comment.startswith("# Role nebula-app-credential-lease grants get/delete on exactly")
    assert "create of ANY Lease name" in comment


def test_the_rotator_role_grants_exactly_what_rotate_due_calls() -> None:
    role, binding = m.rotation_rbac(namespace="ops", service_account="rot")
    assert (role["kind"], binding["kind"]) == ("Role", "RoleBinding")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "update", "patch"]},
        {**LEASES, "verbs": ["get", "create", "delete"]},
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"] == "rot-credential-rotator"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "rot", "namespace": "ops"}]
    grants = role["metadata"]["annotations"][m.GRANTS_ANNOTATION]
    assert "no create or delete of Secrets" in grants


def test_the_cronjob_keeps_its_journal_across_container_restarts() -> None:
    for kube in ("1.20", "1.29"):
        pod = _pod(m.rotation_cronjob(kube=kube))
        assert pod["restartPolicy"] == "OnFailure"
        assert pod["serviceAccountName"] == "nebula-rotator"
        (volume,) = pod["volumes"]
        assert volume["emptyDir"]["medium"] == "Memory"  # tokens never reach the node's disk
        (container,) = pod["containers"]
        (mount,) = container["volumeMounts"]
        assert mount["name"] == volume["name"]
        env = {e["name"]: e for e in container["env"]}
        home = env["NEBULA_CREDENTIAL_HOME"]["value"]
        assert home == m.DATA_DIR
        # Inside the (world-writable) emptyDir, never the mount point itself: the data
        # directory must be private, and rotate creates it so.
        assert home.startswith(mount["mountPath"] + "/")


def test_the_cronjob_passes_its_deadlines_and_the_job_outlasts_a_rotation() -> None:
    job = m.rotation_cronjob(timeout=20, write_deadline="10m", within="1h")["spec"]["jobTemplate"]
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command == [
        "nebula-credential", "--provider", "kubernetes", "rotate", "--due",
        "--within", "1h", "--timeout", "20", "--write-deadline", "10m",
    ]  # fmt: skip
    deadline = job["spec"]["activeDeadlineSeconds"]
    assert m.job_deadline_floor(20, 600) == 20 + 600 + 60
    assert deadline == m.default_job_deadline(20, 600) == 680 + 10 + 600 + 60
    assert deadline > 20 + 600 + 60
    defaults = m.rotation_cronjob()["spec"]["jobTemplate"]["spec"]
    assert defaults["activeDeadlineSeconds"] == 30 + 330 + 60 + 10 + 330 + 60
    command = defaults["template"]["spec"]["containers"][0]["command"]
    assert command[-4:] == ["--timeout", "30", "--write-deadline", "330s"]
    given = m.rotation_cronjob(write_deadline="5m", active_deadline="391")
    assert given["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 391
    assert (
        m.rotation_cronjob(active_deadline="2h")["spec"]["jobTemplate"]["spec"][
            "activeDeadlineSeconds"
        ]
        == 7200
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"active_deadline": "420"}, "must exceed timeout + write deadline + 60s = 420s"),
        ({"write_deadline": "1h", "active_deadline": "1h"}, "(3600s) must exceed"),
        ({"timeout": 241}, "timeout must be at most 240"),
        ({"timeout": 0}, "timeout must be a whole number of at least 1"),
        ({"write_deadline": "7h"}, "write deadline must be at most 21600"),
        ({"write_deadline": "soon"}, "write deadline 'soon' is not a duration"),
        ({"active_deadline": "1 hour"}, "active deadline '1 hour' is not a duration"),
    ],
)
def test_deadlines_that_do_not_fit_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(m.ManifestError) as got:
        m.rotation_cronjob(**options)
    assert message in str(got.value)


def test_the_cli_prints_the_account_its_role_and_the_cronjob(cli) -> None:
    done = cli("manifests", "rotation-cronjob", "-n", "ops", "--kube-version", "1.20",
               "--write-deadline", "15m", "--timeout", "45")  # fmt: skip
    assert done.returncode == 0, done.stderr
    docs = list(yaml.safe_load_all(done.stdout))
    assert [d["kind"] for d in docs] == ["ServiceAccount", "Role", "RoleBinding", "CronJob"]
    assert {d["metadata"]["namespace"] for d in docs} == {"ops"}
    assert docs[2]["subjects"][0]["name"] == docs[0]["metadata"]["name"] == "nebula-rotator"
    cronjob = docs[3]
    assert cronjob["apiVersion"] == "batch/v1beta1"
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == m.default_job_deadline(45, 900)
    assert job["template"]["spec"]["containers"][0]["command"][-4:] == [
        "--timeout", "45", "--write-deadline", "15m",
    ]  # fmt: skip
    assert "restartPolicy OnFailure restarts a failed run in the same pod" in done.stdout
    alone = cli("manifests", "rotation-cronjob", "--no-rbac")
    assert [d["kind"] for d in yaml.safe_load_all(alone.stdout)] == ["CronJob"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--active-deadline", "6m"], "active deadline '6m' (360s) must exceed"),
        (["--write-deadline", "20m", "--active-deadline", "20m"], "use at least 1291s"),
        (["--timeout", "500"], "timeout must be at most 240"),
        (["--write-deadline", "5 minutes"], "is not a duration"),
    ],
)
def test_the_cli_refuses_a_job_deadline_shorter_than_a_rotation(
    cli, args: list[str], message: str
) -> None:
    done = cli("manifests", "rotation-cronjob", *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert done.stdout == ""
