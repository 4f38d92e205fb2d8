"""The Secret mapping is cheap to import: no HTTP stack.

Pod readers, manifests and sealing need Secret names and the keys <-> fields mapping,
not a Kubernetes client. import-linter forbids the imports statically; this checks what
a fresh interpreter actually loads, including through ``nebula_credential.kubernetes``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import nebula_credential.kubernetes as kubernetes

HTTP_STACK = (
    "aiohttp",
    "asyncio",
    "http.client",
    "nebula_credential.http.aio",
    "nebula_credential.http.blocking",
)


@pytest.mark.parametrize(
    "module",
    [
        "nebula_credential.kubernetes",
        "nebula_credential.kubernetes.model.naming",
        "nebula_credential.kubernetes.model.mapping",
        "nebula_credential.kubernetes.model.foreign",
        "nebula_credential.kubernetes.model.objects",
    ],
)
def test_the_mapping_does_not_load_the_http_stack(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"print(sorted(name for name in {HTTP_STACK!r} if name in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"importing {module} loaded {out.stdout.strip()}"


def test_every_lazy_export_resolves() -> None:
    for name in kubernetes.__all__:
        assert getattr(kubernetes, name) is not None, name
    assert set(kubernetes.__all__) <= set(dir(kubernetes))
    assert kubernetes.SecretObject.__module__ == "nebula_credential.kubernetes.model.objects"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = kubernetes.nope  # type: ignore[attr-defined]


# Whatever the kubeconfig holds, a Kubernetes command first resolves it and builds its
# endpoint; none of these may load on that path (aiohttp and asyncio alone cost tens of
# milliseconds of every `nebula-credential get`).
NOT_FOR_RESOLVING = ("aiohttp", "asyncio", "nebula_credential.http.aio")


def test_resolving_a_kubeconfig_and_its_endpoint_loads_no_client(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("token-from-file\n")
    users = {
        "token": {"token": "a-token"},
        "token-file": {"tokenFile": "token"},  # relative to the kubeconfig
        "password": {"username": "u", "password": "p"},
        "plugin": {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": "./plugin.sh",
                "provideClusterInfo": True,
            }
        },
        "anonymous": {},
    }
    cluster = {
        "server": "https://127.0.0.1:6443",
        "insecure-skip-tls-verify": True,
        "tls-server-name": "kubernetes.default",
        "proxy-url": "http://127.0.0.1:3128",
    }
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": name, "user": user} for name, user in users.items()],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": n}} for n in users],
        "current-context": "token",
    }
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(yaml.safe_dump(doc))
    code = (
        "import sys\n"
        "from nebula_credential.kubernetes.config.cluster import load_cluster_config\n"
        "from nebula_credential.kubernetes.config.endpoint import endpoint_for\n"
        "for context in sys.argv[2:]:\n"
        "    target = load_cluster_config(kubeconfig=sys.argv[1], context=context, environ={})\n"
        "    print(repr(endpoint_for(target, environ={})))\n"
        f"print(sorted(name for name in {NOT_FOR_RESOLVING!r} if name in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(kubeconfig), *users],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    *endpoints, loaded = out.stdout.strip().splitlines()
    auths = [line.split("auth=", 1)[1] for line in endpoints]
    assert auths == [
        "'token')",
        f"'token file {token}')",
        "'password')",
        "'exec plugin plugin.sh')",
        "'none')",
    ]
    assert all("proxy='http://127.0.0.1:3128'" in line for line in endpoints)
    assert loaded == "[]", f"resolving a kubeconfig loaded {loaded}"
