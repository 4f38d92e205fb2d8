"""Manifest generators without a cluster: API versions, inputs, schemas, the CLI's YAML."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from eso_schema import validate_eso
from manifest_support import builtin_manifests, crd_manifests, kubernetes_validate

from nebula_credential import manifests as m
from nebula_credential.kubernetes.model.naming import legacy_secret_name, secret_name


@pytest.mark.parametrize("kube", [m.DEFAULT_KUBE_VERSION, "1.29", "1.20"])
def test_every_builtin_manifest_validates_strictly_offline(kube: str, tmp_path: Path) -> None:
    docs = builtin_manifests(kube)
    out = kubernetes_validate(m.render_yaml(docs), kube, tmp_path)
    passed = [line for line in out.splitlines() if line.startswith("INFO")]
    assert len(passed) == len(docs)
    assert all(line.endswith(f"against version {kube}") for line in passed)


def test_the_strict_check_rejects_a_misplaced_field(tmp_path: Path) -> None:
    doc = m.deployment("oauth2")
    doc["spec"]["template"]["spec"]["containers"][0]["secretName"] = "x"
    with pytest.raises(AssertionError, match="did not validate"):
        kubernetes_validate(m.render_yaml([doc]), "1.29", tmp_path)


def test_api_versions_follow_the_target_kubernetes_version() -> None:
    for kube, pdb_api, cron_api in [
        ("1.20", "policy/v1beta1", "batch/v1beta1"),
        ("v1.20.2", "policy/v1beta1", "batch/v1beta1"),
        ("1.21", "policy/v1", "batch/v1"),
        ("1.29", "policy/v1", "batch/v1"),
    ]:
        assert m.pdb(kube=kube)["apiVersion"] == pdb_api
        assert m.rotation_cronjob(kube=kube)["apiVersion"] == cron_api
    assert m.pdb()["apiVersion"] == "policy/v1"  # the default target is 1.29


def test_rotation_cronjob_runs_rotate_due_with_a_window_longer_than_its_interval() -> None:
    for within in ("30m", "2h"):
        spec = m.rotation_cronjob(within=within)["spec"]
        container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert container["command"][3:7] == ["rotate", "--due", "--within", within]


@pytest.mark.parametrize("eso", ["v1", "v1beta1"])
def test_external_secrets_manifests_match_the_crd_fields(eso: str) -> None:
    for doc in crd_manifests(eso):
        assert doc["apiVersion"] == f"external-secrets.io/{eso}"
        validate_eso(doc)


def test_the_eso_check_rejects_a_misplaced_field() -> None:
    doc = crd_manifests("v1")[-1]
    doc["spec"]["target"]["refreshInterval"] = "1h"
    with pytest.raises(jsonschema.ValidationError):
        validate_eso(doc)


def test_external_secret_targets_the_secret_the_provider_reads() -> None:
    doc = m.external_secret(
        "Team.API_key", store="vault", data_from=["team/api"], refresh_interval="30m"
    )
    assert doc["apiVersion"] == "external-secrets.io/v1"
    target = doc["spec"]["target"]
    assert target["name"] == secret_name("nebula-credentials", "Team.API_key")
    assert target["creationPolicy"] == "Owner"
    # The template makes ESO write our labels and credential.json (see the cluster test).
    assert target["template"]["metadata"]["annotations"]["nebula-credential/id"] == "Team.API_key"
    assert doc["spec"]["refreshInterval"] == "30m"
    assert doc["spec"]["dataFrom"] == [{"extract": {"key": "team/api"}}]


def test_rbac_names_exactly_the_secrets_the_provider_writes() -> None:
    from nebula_credential.kubernetes import DEFAULT_PREFIX

    assert m.DEFAULT_PREFIX == DEFAULT_PREFIX
    ids = ["oauth2", "Team.API_key", "oauth2"]
    roles = [d for d in m.rbac(ids, writer=True) if d["kind"] == "Role"]
    named, creator, _lease = roles
    # An id that is not DNS-safe may still live under the name earlier releases gave it,
    # which the provider reads, updates in place and deletes.
    assert named["rules"][0]["resourceNames"] == sorted(
        {*(secret_name(DEFAULT_PREFIX, i) for i in ids), legacy_secret_name(DEFAULT_PREFIX, ids[1])}
    )
    assert named["rules"][0]["verbs"] == ["get", "update", "patch", "delete"]
    assert creator["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}]
    assert not any("*" in n for r in roles for n in r["rules"][0].get("resourceNames", []))


def test_list_watch_is_a_separate_role_with_a_comment_saying_what_it_exposes(cli) -> None:
    done = cli("manifests", "rbac", "-c", "oauth2", "--list-watch", "-n", "team-a")
    assert done.returncode == 0, done.stderr
    docs = list(yaml.safe_load_all(done.stdout))
    lister = next(d for d in docs if d["metadata"]["name"].endswith("-lister"))
    assert lister["rules"][0]["verbs"] == ["list", "watch"]
    assert "resourceNames" not in lister["rules"][0]
    chunks = done.stdout.split("---\n")
    role_text = next(c for c in chunks if "kind: Role\n" in c and "-lister\n" in c)
    comment = role_text.splitlines()[0]
    assert comment.startswith("# Role nebula-app-credential-lister grants list/watch of EVERY")
    assert "values included" in comment


def test_encryption_config_keys_come_fresh_and_identity_comes_last() -> None:
    a, b = m.encryption_config("aescbc"), m.encryption_config("aescbc")
    key_a = a["resources"][0]["providers"][0]["aescbc"]["keys"][0]["secret"]
    key_b = b["resources"][0]["providers"][0]["aescbc"]["keys"][0]["secret"]
    assert key_a != key_b
    assert len(base64.b64decode(key_a)) == 32
    for provider in ("aescbc", "aesgcm", "secretbox"):  # kms: test_manifests_kms.py
        providers = m.encryption_config(provider)["resources"][0]["providers"]
        assert list(providers[0]) == [provider]
        assert providers[-1] == {"identity": {}}
    gcm = m.encryption_config("aesgcm", key_size=16)["resources"][0]["providers"][0]
    assert len(base64.b64decode(gcm["aesgcm"]["keys"][0]["secret"])) == 16
    assert m.encryption_config("kms")["resources"][0]["providers"][0]["kms"]["apiVersion"] == "v2"
    old = m.encryption_config("kms", kube="1.20")["resources"][0]["providers"][0]["kms"]
    assert "apiVersion" not in old
    assert old["cachesize"] == 1000


def test_audit_policy_logs_secrets_at_metadata_only() -> None:
    policy = m.audit_policy()
    assert policy["rules"][0] == {
        "level": "Metadata",
        "resources": [{"group": "", "resources": ["secrets"]}],
    }
    assert "Request" not in json.dumps(policy).replace("RequestReceived", "")
    with pytest.raises(m.ManifestError, match="log request bodies"):
        m.audit_policy("RequestResponse")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["namespace", "-n", "Bad_NS"], "namespace 'Bad_NS' is not a valid name"),
        (["rbac"], "needs at least one credential id"),
        (["rbac", "-c", "x", "--service-account", "a" * 254], "service account"),
        (["rbac", "-c", "x", "--service-account", "Bad_SA"], "service account 'Bad_SA'"),
        (["pdb", "--kube-version", "1.x"], "must look like 1.29"),
        (["pdb", "--kube-version", "1.9"], "outside what manifests are generated for"),
        (["pdb", "--min-available", "0"], "min available must be a whole number"),
        (
            [
                "external-secret",
                "-c",
                "x",
                "--store",
                "s",
                "--data-from",
                "k",
                "--refresh-interval",
                "1 hour",
            ],
            "is not a duration",
        ),
        (["external-secret", "-c", "x", "--store", "s", "--data", "nokey"], "SECRET_KEY="),
        (
            [
                "external-secret",
                "-c",
                "x",
                "--store",
                "s",
                "--data-from",
                "k",
                "--eso-api-version",
                "v1alpha1",
            ],
            "ESO API version",
        ),
        (["encryption-config", "aescbc", "--key-size", "20"], "must be 16 or 24 or 32 bytes"),
        (["encryption-config", "secretbox", "--key-size", "16"], "must be 32 bytes"),
        (["encryption-config", "rot13"], "not one of: aescbc"),
        (["secret-store", "azure"], "--vault-url"),
        (["rotation-cronjob", "--schedule", "every hour"], "not a cron schedule"),
        (["rotation-cronjob", "--within", "soon"], "not a duration"),
        (["network-policy", "--api-server-cidr", "x"], "not an address block"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(cli, args: list[str], message: str) -> None:
    done = cli("manifests", *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert done.stdout == ""


def test_cli_prints_multi_document_yaml_or_json(cli) -> None:
    done = cli("manifests", "namespace", "-n", "team-a", "--service-account", "svc")
    assert done.returncode == 0, done.stderr
    assert [d["kind"] for d in yaml.safe_load_all(done.stdout)] == ["Namespace", "ServiceAccount"]
    as_json = cli("--output", "json", "--namespace", "team-b", "manifests", "pdb")
    assert json.loads(as_json.stdout)[0]["metadata"]["namespace"] == "team-b"
    deployment = cli("manifests", "deployment", "-c", "oauth2", "--env-key", "access_token")
    spec = yaml.safe_load(deployment.stdout)["spec"]["template"]["spec"]
    assert spec["volumes"][0]["secret"]["defaultMode"] == 0o400
    assert spec["containers"][0]["volumeMounts"][0]["readOnly"] is True
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    assert env["CREDENTIALS_PATH"]["value"] == "/etc/nebula/credentials"
    assert env["OAUTH2_ACCESS_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "nebula-credentials-oauth2",
        "key": "access_token",
    }
