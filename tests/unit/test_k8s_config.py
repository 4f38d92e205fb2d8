"""Configuration is inferred like kubectl, from files only, and failures name the gap."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml

from nebula_credential import ConfigurationError, ProviderUnavailable
from nebula_credential.kubernetes import KubernetesSecretsProvider, RetryPolicy
from nebula_credential.kubernetes.config.cluster import load_cluster_config

TOKEN = "token-canary-7d1e"


def kubeconfig(path: Path, *, current: str | None = "dev", **extra: Any) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c1", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u1", "user": {"token": TOKEN}}],
        "contexts": [
            {"name": "dev", "context": {"cluster": "c1", "user": "u1", "namespace": "team-a"}},
            {"name": "ops", "context": {"cluster": "c1", "user": "u1"}},
        ],
    }
    if current:
        doc["current-context"] = current
    doc.update(extra)
    path.write_text(yaml.safe_dump(doc))
    return path


def load(tmp_path: Path, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
    return load_cluster_config(environ=env or {}, service_account_dir=tmp_path / "no-sa", **kwargs)


def test_context_and_its_namespace(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config")
    target = load(tmp_path, kubeconfig=path)
    assert (target.context, target.namespace) == ("dev", "team-a")
    assert target.cluster.server == "https://127.0.0.1:1"
    other = load(tmp_path, kubeconfig=path, context="ops")
    assert (other.context, other.namespace) == ("ops", "default")
    assert TOKEN not in repr(target)


def test_namespace_precedence(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config")
    env = {"KUBERNETES_NAMESPACE": "from-env"}
    assert load(tmp_path, env, kubeconfig=path).namespace == "from-env"
    assert load(tmp_path, env, kubeconfig=path, namespace="arg").namespace == "arg"


def in_cluster_files(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A directory laid out like the kubelet's ServiceAccount volume, and the pod's env."""
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(TOKEN)
    (sa / "namespace").write_text("pod-ns\n")
    return sa, {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}


def test_service_account_namespace_only_for_in_cluster_config(tmp_path: Path) -> None:
    """A pod pointed at another cluster must not write into its own namespace there."""
    path = kubeconfig(tmp_path / "config")
    sa, env = in_cluster_files(tmp_path)
    # The context's namespace, then default -- never the pod's namespace file.
    target = load_cluster_config(kubeconfig=path, environ=env, service_account_dir=sa)
    assert (target.context, target.namespace) == ("dev", "team-a")
    other = load_cluster_config(kubeconfig=path, context="ops", environ=env, service_account_dir=sa)
    assert other.namespace == "default"
    # KUBECONFIG set in the pod wins over the ServiceAccount, as it does for kubectl.
    with_env = load_cluster_config(environ={**env, "KUBECONFIG": str(path)}, service_account_dir=sa)
    assert with_env.source.startswith("kubeconfig ")
    assert (with_env.context, with_env.namespace) == ("dev", "team-a")
    assert with_env.cluster.server == "https://127.0.0.1:1"
    # Without any kubeconfig the ServiceAccount and its namespace file are used.
    pod = load_cluster_config(environ=env, service_account_dir=sa)
    assert (pod.source, pod.namespace) == ("in-cluster ServiceAccount", "pod-ns")
    # The flag and KUBERNETES_NAMESPACE still come first.
    assert load_cluster_config(namespace="arg", environ=env, service_account_dir=sa).namespace == (
        "arg"
    )
    flagged = {**env, "KUBERNETES_NAMESPACE": "from-env", "KUBECONFIG": str(path)}
    assert load_cluster_config(environ=flagged, service_account_dir=sa).namespace == "from-env"


def test_repr_shows_no_password_or_token_of_the_server_url(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        clusters=[{"name": "c1", "cluster": {"server": f"https://admin:{TOKEN}@127.0.0.1:1"}}],
    )
    target = load(tmp_path, kubeconfig=path)
    assert TOKEN not in repr(target)
    assert "https://127.0.0.1:1" in repr(target)
    provider = KubernetesSecretsProvider(kubeconfig=path)
    assert TOKEN not in repr(provider)


def test_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config")
    with pytest.raises(ConfigurationError, match=r"'prod' is not in kubeconfig.*dev, ops"):
        load(tmp_path, kubeconfig=path, context="prod")


def test_no_current_context_asks_for_one(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", current=None)
    with pytest.raises(ConfigurationError, match=r"no current-context.*dev, ops"):
        load(tmp_path, kubeconfig=path)


def test_context_pointing_at_missing_cluster(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        contexts=[{"name": "dev", "context": {"cluster": "gone", "user": "u1"}}],
    )
    with pytest.raises(ConfigurationError, match="cluster 'gone'"):
        load(tmp_path, kubeconfig=path)


def test_nothing_configured_names_every_source(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path)
    message = str(caught.value)
    assert "KUBECONFIG is unset" in message
    assert ".kube/config" in message
    assert "ServiceAccount" in message


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load(tmp_path, kubeconfig=tmp_path / "nope")
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    with pytest.raises(ConfigurationError, match="YAML"):
        load(tmp_path, kubeconfig=broken)
    with pytest.raises(ConfigurationError, match="none of the files in KUBECONFIG"):
        load(tmp_path, {"KUBECONFIG": str(tmp_path / "a") + ":" + str(tmp_path / "b")})


def test_kubeconfig_path_list_is_merged_first_wins(tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.write_text(
        yaml.safe_dump(
            {
                "contexts": [{"name": "extra", "context": {"cluster": "c1", "namespace": "x"}}],
                "clusters": [],
                "current-context": "extra",
            }
        )
    )
    second = kubeconfig(tmp_path / "second")
    target = load(tmp_path, {"KUBECONFIG": f"{first}:{tmp_path / 'missing'}:{second}"})
    assert (target.context, target.namespace) == ("extra", "x")
    assert target.cluster.server == "https://127.0.0.1:1"


def test_relative_certificate_paths_resolve_against_their_file(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    path = kubeconfig(
        sub / "config",
        clusters=[
            {
                "name": "c1",
                "cluster": {"server": "https://127.0.0.1:1", "certificate-authority": "ca.pem"},
            }
        ],
    )
    target = load(tmp_path, {"KUBECONFIG": str(path)})
    assert target.cluster.certificate_authority == str(sub / "ca.pem")


def test_in_cluster_service_account_comes_first(tmp_path: Path) -> None:
    """No pod runs here: a directory laid out like the kubelet's ServiceAccount volume
    stands in for it (tests/kubernetes/test_k8s_in_cluster.py uses it against a server)."""
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(TOKEN)
    (sa / "namespace").write_text("pod-ns")
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
    target = load_cluster_config(environ=env, service_account_dir=sa)
    assert target.source == "in-cluster ServiceAccount"
    assert target.namespace == "pod-ns"
    assert target.cluster.server == "https://127.0.0.1:6443"
    assert target.user.token_file == str(sa / "token")  # re-read when rotated
    assert TOKEN not in repr(target)
    # An explicit kubeconfig still wins inside a pod.
    path = kubeconfig(tmp_path / "config")
    assert load_cluster_config(kubeconfig=path, environ=env, service_account_dir=sa).context == (
        "dev"
    )


def test_invalid_namespace_is_refused(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config")
    with pytest.raises(ConfigurationError, match="Team_A"):
        load(tmp_path, kubeconfig=path, namespace="Team_A")


async def test_provider_constructor_makes_no_network_call(tmp_path: Path) -> None:
    # 127.0.0.1:1 refuses connections: building the provider succeeds, the first call fails.
    provider = KubernetesSecretsProvider(
        kubeconfig=kubeconfig(tmp_path / "config"), retry=RetryPolicy(attempts=1)
    )
    assert provider.namespace == "team-a"
    assert TOKEN not in repr(provider)
    assert provider.secret_name("A_b") != provider.secret_name("a-b")
    async with provider:
        with pytest.raises(ProviderUnavailable, match=r"https://127\.0\.0\.1:1\b"):
            await provider.exists("github")
    # The refused connection was the provider's first and only request.
    assert provider.stats.requests == 1
    assert provider.stats.connection_errors == 1


def test_missing_certificate_authority_fails_in_the_constructor(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        clusters=[
            {
                "name": "c1",
                "cluster": {"server": "https://127.0.0.1:1", "certificate-authority": "nope.pem"},
            }
        ],
    )
    with pytest.raises(ConfigurationError, match="certificate-authority"):
        KubernetesSecretsProvider(kubeconfig=path)


def test_retry_policy_validates_and_honours_retry_after() -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(attempts=0)
    policy = RetryPolicy(base_delay=0.1, max_delay=0.4)
    assert all(policy.delay(n, None) <= 0.4 for n in range(1, 20))
    assert all(policy.delay(1, 1.0) >= 1.0 for _ in range(20))


@pytest.mark.parametrize(
    "raw",
    [
        f"users: [{{name: u1, user: {{token: {TOKEN}}}}}\n".encode(),  # unclosed [
        f"users:\n- name: u1\n  user: {{token: {TOKEN}\xff}}\n".encode("latin-1"),
    ],
    ids=["yaml", "utf8"],
)
def test_an_unreadable_kubeconfig_error_keeps_no_token(tmp_path: Path, raw: bytes) -> None:
    broken = tmp_path / "broken"
    broken.write_bytes(raw)
    with pytest.raises(ConfigurationError, match="YAML") as caught:
        load(tmp_path, kubeconfig=broken)
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None
    assert TOKEN not in "".join(traceback.format_exception(caught.value))
