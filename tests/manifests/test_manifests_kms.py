"""The KMS plugin's manifests without a cluster: the EncryptionConfiguration's kms stanza
by Kubernetes version, the static Pod (schema-checked offline) and the systemd unit
(checked by systemd-analyze)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from manifest_support import kubernetes_validate

from nebula_credential import manifests as m

SOFTHSM = (
    "pkcs11:token=t;object=kek1?module-path=/usr/lib/softhsm/libsofthsm2.so"
    "&pin-source=file:/etc/nebula-kms/pin"
)


def _providers(cli, *args: str) -> list[dict[str, object]]:
    done = cli("manifests", "encryption-config", *args)
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(done.stdout)
    assert doc["kind"] == "EncryptionConfiguration"
    providers: list[dict[str, object]] = doc["resources"][0]["providers"]
    return providers


@pytest.mark.parametrize("kube", ["1.20", "1.26", "1.27", "1.28"])
def test_kms_is_v1_with_a_cache_size_before_1_29(cli, kube: str) -> None:
    providers = _providers(
        cli, "--provider", "kms", "--kube-version", kube, "--kms-name", "ours",
        "--kms-endpoint", "unix:///run/nebula-kms/kms.sock", "--kms-cachesize", "250",
        "--kms-timeout", "5s",
    )  # fmt: skip
    assert providers == [
        {
            "kms": {
                "name": "ours",
                "endpoint": "unix:///run/nebula-kms/kms.sock",
                "timeout": "5s",
                "cachesize": 250,
            }
        }
    ]


@pytest.mark.parametrize("kube", ["1.29", "1.33", m.DEFAULT_KUBE_VERSION])
def test_kms_is_v2_without_a_cache_size_from_1_29(cli, kube: str) -> None:
    (provider,) = _providers(cli, "kms", "--kube-version", kube)
    assert provider == {
        "kms": {
            "apiVersion": "v2",
            "name": "nebula-kms",
            "endpoint": "unix:///var/run/kmsplugin/socket.sock",
            "timeout": "3s",
        }
    }


def test_plaintext_fallback_only_when_asked(cli) -> None:
    # Without it, a Secret stored in plaintext (or by a removed provider) fails to read
    # rather than quietly bypassing the KMS.
    assert len(_providers(cli, "kms", "--kube-version", "1.20")) == 1
    asked = _providers(cli, "kms", "--kube-version", "1.20", "--identity-fallback")
    assert asked[-1] == {"identity": {}}
    keyed = _providers(cli, "aescbc", "--kube-version", "1.20")
    assert keyed[-1] == {"identity": {}}
    assert len(_providers(cli, "aescbc", "--no-identity-fallback")) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["encryption-config", "kms", "--kms-endpoint", "/run/kms.sock"], "unix:///PATH"),
        (["encryption-config", "kms", "--kms-endpoint", "unix://run/k.sock"], "unix:///PATH"),
        (["encryption-config", "kms", "--kms-name", "Not_A_Label"], "KMS provider name"),
        (["encryption-config", "kms", "--kms-timeout", "soon"], "not a duration"),
        (
            ["encryption-config", "kms", "--kube-version", "1.20", "--kms-cachesize", "0"],
            "cache size",
        ),
        (["kms-plugin", "--kek", "vault:x"], "file:PATH or pkcs11:"),
        (["kms-plugin", "--kek", "file:relative/kek.key"], "absolute paths"),
        (["kms-plugin", "--kek", "pkcs11:token=t;object=k"], "module-path"),
        (["kms-plugin", "--kek", "file:/k", "--format", "systemd", "--user", "Root Me"], "user"),
        (["kms-plugin", "--kek", "file:/k", "--format", "upstart"], "upstart"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(cli, args: list[str], message: str) -> None:
    done = cli("manifests", *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") or "Invalid value" in done.stderr
    assert message in done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr


def _pod(cli, *args: str) -> dict[str, object]:
    done = cli("manifests", "kms-plugin", "--kube-version", "1.30", *args)
    assert done.returncode == 0, done.stderr
    (pod,) = list(yaml.safe_load_all(done.stdout))
    assert pod["kind"] == "Pod"
    return pod


@pytest.mark.parametrize("kube", ["1.20", "1.30"])
def test_the_static_pod_validates_strictly_offline(kube: str, tmp_path: Path) -> None:
    docs = [
        m.kms_plugin_pod(kek="file:/etc/kubernetes/kms/kek.key", metrics_port=9464),
        m.kms_plugin_pod(kek=SOFTHSM, mounts=["/var/lib/softhsm/tokens"], name="hsm-plugin"),
    ]
    kubernetes_validate(m.render_yaml(docs), kube, tmp_path)


def test_the_static_pod_shares_the_socket_dir_and_mounts_the_kek_read_only(cli) -> None:
    pod = _pod(cli, "--kek", "file:/etc/kubernetes/kms/kek.key", "--socket",
               "unix:///run/nebula-kms/kms.sock")  # fmt: skip
    spec = pod["spec"]
    assert spec["priorityClassName"] == "system-node-critical"
    (container,) = spec["containers"]
    assert container["args"] == [
        "kms", "serve", "--socket", "unix:///run/nebula-kms/kms.sock",
        "--kek", "file:/etc/kubernetes/kms/kek.key",
    ]  # fmt: skip
    mounts = {v["mountPath"]: v for v in container["volumeMounts"]}
    assert mounts["/etc/kubernetes/kms/kek.key"]["readOnly"] is True
    assert mounts["/run/nebula-kms"].get("readOnly") is not True
    volumes = {v["name"]: v["hostPath"] for v in spec["volumes"]}
    assert volumes[mounts["/run/nebula-kms"]["name"]]["path"] == "/run/nebula-kms"
    assert volumes[mounts["/etc/kubernetes/kms/kek.key"]["name"]]["type"] == "File"
    probe = container["livenessProbe"]["exec"]["command"]
    assert probe[1:] == ["kms", "status", "--socket", "unix:///run/nebula-kms/kms.sock"]
    assert container["resources"]["requests"]["memory"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_a_pkcs11_static_pod_mounts_the_module_and_pin_file_read_only(cli) -> None:
    pod = _pod(cli, "--kek", SOFTHSM, "--mount", "/var/lib/softhsm/tokens")
    (container,) = pod["spec"]["containers"]
    read_only = {v["mountPath"] for v in container["volumeMounts"] if v.get("readOnly")}
    assert read_only == {
        "/usr/lib/softhsm/libsofthsm2.so",
        "/etc/nebula-kms/pin",
        "/var/lib/softhsm/tokens",
    }


def _verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    unit = tmp_path / "nebula-kms-plugin.service"
    unit.write_text(unit_text)
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_systemd_unit_is_hardened_and_passes_systemd_analyze(cli, tmp_path: Path) -> None:
    exe = str(Path(sys.executable).with_name("nebula-credential"))
    done = cli("manifests", "kms-plugin", "--format", "systemd", "--kek",
               "file:/etc/nebula-kms/kek.key", "--socket", "unix:///run/nebula-kms/kms.sock",
               "--executable", exe)  # fmt: skip
    assert done.returncode == 0, done.stderr
    settings = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert settings["Restart"] == "always"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["ProtectSystem"] == "strict"
    assert settings["ReadWritePaths"] == "/run/nebula-kms"
    assert settings["User"] == "nebula-kms"
    # The KEK stays root's; systemd hands the service a private copy only it can read.
    assert settings["LoadCredential"] == "kek:/etc/nebula-kms/kek.key"
    assert settings["ExecStart"].endswith("--kek file:%d/kek")
    verified = _verify(done.stdout, tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "nebula-kms-plugin.service" not in verified.stderr, verified.stderr


def test_a_pkcs11_unit_quotes_the_uri_and_passes_systemd_analyze(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).with_name("nebula-credential"))
    unit = m.kms_plugin_unit(kek=SOFTHSM, executable=exe, metrics_port=9464)
    assert f"--kek '{SOFTHSM}'" in unit
    assert "ReadOnlyPaths=/usr/lib/softhsm/libsofthsm2.so" in unit
    verified = _verify(unit, tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "nebula-kms-plugin.service" not in verified.stderr, verified.stderr
