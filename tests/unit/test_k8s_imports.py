"""The Secret mapping is cheap to import: no lightkube, no HTTP stack.

Pod readers, manifests and sealing need Secret names and the keys <-> fields mapping,
not a Kubernetes client. import-linter forbids the imports statically; this checks what
a fresh interpreter actually loads, including through ``nebula_credential.kubernetes``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import nebula_credential.kubernetes as kubernetes

HTTP_STACK = ("lightkube", "httpx", "httpx2", "httpcore", "httpcore2")


@pytest.mark.parametrize(
    "module",
    [
        "nebula_credential.kubernetes",
        "nebula_credential.kubernetes.naming",
        "nebula_credential.kubernetes.mapping",
        "nebula_credential.kubernetes.foreign",
        "nebula_credential.kubernetes.objects",
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
    assert kubernetes.SecretObject.__module__ == "nebula_credential.kubernetes.objects"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = kubernetes.nope  # type: ignore[attr-defined]
