"""Values the API server (or the kubelet, or the pod) would refuse are refused first, with
exit 2 and one clear line; valid values at the limits are accepted. No cluster needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nebula_credential import manifests as m
from nebula_credential.kubernetes.model.naming import legacy_secret_name, secret_name

NAME_63 = "a" + "b" * 61 + "c"


def _refused(cli, *args: str) -> str:
    done = cli("manifests", *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert done.stdout == ""
    assert "\x1b" not in done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def _docs(cli, *args: str) -> list[dict]:
    done = cli("manifests", *args, "--kube-version", "1.29")
    assert done.returncode == 0, done.stderr
    return list(yaml.safe_load_all(done.stdout))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # Deployment names are the pods' app label too: a label value has at most 63.
        (["deployment", "-c", "x", "--name", "a" * 64], "also a label value"),
        (["deployment", "-c", "x", "--name", "Upper"], "deployment name 'Upper'"),
        (["deployment", "-c", "x", "--env-key", "..x"], "not starting with '..'"),
        (["deployment", "-c", "x", "--env-key", "."], "is not a valid key"),
        (
            ["deployment", "-c", "x", "--env-key", "access-token", "--env-key", "access_token"],
            "becomes env var X_ACCESS_TOKEN, which is already the env var of key 'access-token'",
        ),
        (
            ["deployment", "-c", "credentials", "--env-key", "path"],
            "becomes env var CREDENTIALS_PATH, which is already set by the Deployment itself",
        ),
        (["deployment", "-c", "x", "--image", "app\x1b[31m:1"], "not an image reference"),
        (["deployment", "-c", "x", "--image", "app:1\u202e"], "not an image reference"),
        (["deployment", "-c", "x", "--image", "App:1"], "not an image reference"),
        (["deployment", "-c", "x", "--mount-path", "/etc/x\x07"], "mount path"),
        (["rotation-cronjob", "--image", "rotator\x1b]0;x\x07"], "not an image reference"),
        (
            ["external-secret", "-c", "x", "--store", "s", "--data", "..x=remote"],
            "not starting with '..'",
        ),
        (["secret-store", "aws", "--region", "eu\x1b[2J"], "without whitespace or control"),
        (
            ["external-secret", "-c", "x", "--store", "s", "--data-from", "team/\u202eapi"],
            "without whitespace or control",
        ),
        (["pdb", "--kube-version", "\uff11.\uff12\uff10"], "must look like 1.29"),
        (["pdb", "--kube-version", "1.\u0662\u0660"], "must look like 1.29"),
        (["rotation-cronjob", "--within", "\uff13\uff10m"], "not a duration"),
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
                "\uff11h",
            ],
            "not a duration",
        ),
        # --within must outlast the schedule's longest wait plus a late start (300s).
        (["rotation-cronjob", "--within", "10m"], "(900s) plus the 300s a run may start late"),
        (["rotation-cronjob", "--within", "20m"], "use at least 1201s"),
        (["rotation-cronjob", "--schedule", "@hourly"], "schedule '@hourly' (3600s)"),
        (
            ["rotation-cronjob", "--schedule", "0 9-17 * * mon-fri", "--within", "2h"],
            "(230400s)",
        ),  # fmt: skip  (Friday 17:00 to Monday 09:00)
        (["rotation-cronjob", "--schedule", "0 0 30 2 *"], "never runs"),
        (["rotation-cronjob", "--schedule", "60 * * * *"], "minute '60' is not 0-59"),
        (["rotation-cronjob", "--schedule", "*/0 * * * *"], "step '0' is not a positive"),
        (["rotation-cronjob", "--schedule", "0 0 * * 7"], "day of week '7' is not 0-6"),
        (["rotation-cronjob", "--schedule", "0 0 * 13 *"], "month '13' is not 1-12"),
    ],
)
def test_what_the_cluster_would_refuse_is_exit_2(cli, args: list[str], message: str) -> None:
    assert message in _refused(cli, *args)


def test_a_window_longer_than_the_wait_between_runs_is_accepted(cli) -> None:
    for schedule, within in [("*/15 * * * *", "21m"), ("@hourly", "66m"), ("0 0 1 * *", "32d")]:
        (*_, cronjob) = _docs(cli, "rotation-cronjob", "--schedule", schedule, "--within", within)
        assert cronjob["spec"]["schedule"] == schedule
    with pytest.raises(m.ManifestError, match="must exceed the longest wait"):
        m.rotation_cronjob(schedule="0 0 1 * *", within="31d")  # 31 days plus a late start


@pytest.mark.parametrize("length", [46, 47, 52, 63])
def test_service_account_names_up_to_63_characters_work_everywhere(cli, length: int) -> None:
    account = "s" + "a" * (length - 2) + "z"
    docs = _docs(cli, "rbac", "-c", "oauth2", "--service-account", account, "--writer")
    roles = [d for d in docs if d["kind"] == "Role"]
    assert len(roles) == 3
    for made in docs:
        if made["kind"] == "RoleBinding":
            assert made["subjects"][0]["name"] == account
    (*_, cronjob) = _docs(cli, "rotation-cronjob", "--service-account", account)
    assert cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"] == (
        account
    )
    (deployment,) = _docs(cli, "deployment", "-c", "oauth2", "--service-account", account)
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account
    namespace = _docs(cli, "namespace", "--service-account", account)
    assert namespace[1]["metadata"]["name"] == account


def test_names_at_their_limits_are_accepted(cli) -> None:
    pinned = "registry.example:5000/team/app_x:1.2-rc1@sha256:" + "a" * 64
    (deployment,) = _docs(cli, "deployment", "-c", "x", "--name", NAME_63, "--image", pinned)
    assert deployment["metadata"]["name"] == NAME_63
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"app": NAME_63}
    (dotted,) = _docs(cli, "deployment", "-c", "x", "--name", "app.v2")
    assert dotted["spec"]["selector"]["matchLabels"] == {"app": "app.v2"}


def _volume(deployment: dict) -> dict:
    (volume,) = deployment["spec"]["template"]["spec"]["volumes"]
    secret: dict = volume["secret"]
    return secret


def test_the_deployment_mounts_only_the_keys_it_needs(cli) -> None:
    (deployment,) = _docs(cli, "deployment", "-c", "oauth2")
    assert _volume(deployment) == {
        "secretName": secret_name(m.DEFAULT_PREFIX, "oauth2"),
        "defaultMode": 0o400,
        "items": [{"key": "credential.json", "path": "credential.json"}],
    }
    (synced,) = _docs(
        cli, "deployment", "-c", "oauth2", "--mount-key", "access_token", "--mount-key",
        "refresh_token", "--mount-key", "access_token",
    )  # fmt: skip
    assert _volume(synced)["items"] == [
        {"key": "access_token", "path": "access_token"},
        {"key": "refresh_token", "path": "refresh_token"},
    ]
    for option in ("--mount-key", "--env-key"):
        line = _refused(cli, "deployment", "-c", "oauth2", option, "nebula-credential.previous")
        assert "replaced version's tokens" in line


def test_a_repeated_env_key_is_one_env_var(cli) -> None:
    (deployment,) = _docs(cli, "deployment", "-c", "oauth2", "--env-key", "access_token",
                          "--env-key", "access_token")  # fmt: skip
    env = [e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert env == ["OAUTH2_ACCESS_TOKEN", "CREDENTIALS_PATH", "KUBERNETES_NAMESPACE"]


def test_the_reader_role_also_names_the_legacy_secret_of_an_id_that_is_not_dns_safe() -> None:
    docs = m.rbac(["oauth2", "Team.API_key"], namespace="team-a")
    (reader,) = [d for d in docs if d["kind"] == "Role"]
    names = reader["rules"][0]["resourceNames"]
    assert names == sorted(
        {
            secret_name(m.DEFAULT_PREFIX, "oauth2"),
            secret_name(m.DEFAULT_PREFIX, "Team.API_key"),
            legacy_secret_name(m.DEFAULT_PREFIX, "Team.API_key"),
        }
    )
    assert len(names) == 3
    grants = reader["metadata"]["annotations"][m.GRANTS_ANNOTATION]
    assert legacy_secret_name(m.DEFAULT_PREFIX, "Team.API_key") in grants


def test_without_a_cluster_the_output_says_it_is_for_the_newest_version(
    cli, tmp_path: Path
) -> None:
    nowhere = {"KUBECONFIG": str(tmp_path / "no-such-kubeconfig")}
    done = cli("manifests", "pdb", env=nowhere)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first == (
        f"# generated for Kubernetes {m.DEFAULT_KUBE_VERSION} (the newest supported: no "
        "cluster is configured; pass --kube-version to choose)"
    )
    assert yaml.safe_load(done.stdout)["apiVersion"] == "policy/v1"
    given = cli("-o", "json", "manifests", "pdb", "--kube-version", "v1.20.2", env=nowhere)
    assert given.returncode == 0, given.stderr
    assert given.stderr == "note: generated for Kubernetes 1.20 (as --kube-version asked)\n"
    assert '"policy/v1beta1"' in given.stdout


def test_an_unreachable_cluster_falls_back_to_the_newest_version(
    cli, tmp_path: Path, closed_port: int
) -> None:
    config = _kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{closed_port}")
    done = cli("--kubeconfig", str(config), "manifests", "rotation-cronjob", "--no-rbac")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        f"# generated for Kubernetes {m.DEFAULT_KUBE_VERSION} (the newest supported: the "
        f"cluster at https://127.0.0.1:{closed_port} did not answer; pass --kube-version to "
        "choose)"
    )
    assert yaml.safe_load(done.stdout)["apiVersion"] == "batch/v1"


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


@pytest.mark.parametrize(
    ("status", "minor", "used", "why"),
    [
        (200, "27+", "1.27", "the version of the cluster at {url}"),
        (200, "41", "1.40", "the closest supported: the cluster at {url} runs 1.41"),
        (200, "15", "1.16", "the closest supported: the cluster at {url} runs 1.15"),
        (
            403,
            "",
            m.DEFAULT_KUBE_VERSION,
            "the newest supported: the cluster at {url} did "
            "not say its version (HTTP 403); pass --kube-version to choose",
        ),
    ],
)
def test_the_version_follows_what_the_cluster_says(
    cli, serve, tmp_path: Path, status: int, minor: str, used: str, why: str
) -> None:
    def answer(request) -> None:  # type: ignore[no-untyped-def]
        body = json.dumps({"major": "1", "minor": minor, "gitVersion": f"v1.{minor}"}).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    site = serve(answer)
    config = _kubeconfig(tmp_path / "kubeconfig", site.url)
    done = cli("--kubeconfig", str(config), "manifests", "pdb")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        f"# generated for Kubernetes {used} ({why.format(url=site.url)})"
    )
    expected = "policy/v1" if int(used.split(".")[1]) >= 21 else "policy/v1beta1"
    assert yaml.safe_load(done.stdout)["apiVersion"] == expected
    assert site.hits["/version"] == 1
