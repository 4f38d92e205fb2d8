"""The curated public surface: adding or removing a name is a deliberate change."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nebula_credential

README = Path(__file__).resolve().parents[2] / "README.md"
PUBLIC_MODULES = (
    "nebula_credential",
    "nebula_credential.ops",
    "nebula_credential.kubernetes",
    "nebula_credential.local",
    "nebula_credential.readers",
    "nebula_credential.testing",
    "nebula_credential.testing.envtest",
)

EXPECTED = {
    "REDACTED",
    "AuthenticationError",
    "CacheStats",
    "CachingProvider",
    "ConfigurationError",
    "Conflict",
    "CorruptData",
    "Credential",
    "CredentialError",
    "CredentialId",
    "CredentialKind",
    "CredentialProvider",
    "CredentialScope",
    "DecryptionFailed",
    "FieldSpec",
    "InvalidCredential",
    "InvalidCredentialId",
    "InvalidScope",
    "KubernetesSecretsProvider",
    "ListFilter",
    "LocalStorageProvider",
    "MountedChange",
    "MountedCredential",
    "NOT_CACHED",
    "NotCached",
    "Change",
    "NotFound",
    "NotOwned",
    "NotRotatable",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProviderUnavailable",
    "RetryPolicy",
    "TransportStats",
    "GrantPending",
    "LeaseHeld",
    "LeaseLost",
    "RotationFailed",
    "SecretValue",
    "SyncCredentialProvider",
    "SyncKubernetesSecretsProvider",
    "TokenEndpointUnreachable",
    "ValidationError",
    "WrongEventLoop",
    "__version__",
    "credential_from_env",
    "fields_of",
    "read_mounted",
}


def test_exported_names_are_pinned() -> None:
    assert set(nebula_credential.__all__) == EXPECTED
    for name in nebula_credential.__all__:
        assert hasattr(nebula_credential, name), name


def test_every_error_derives_from_the_root() -> None:
    errors = [
        getattr(nebula_credential, n)
        for n in nebula_credential.__all__
        if isinstance(getattr(nebula_credential, n), type)
        and issubclass(getattr(nebula_credential, n), Exception)
    ]
    assert len(errors) == 22
    assert nebula_credential.KubernetesSecretsProvider.name == "kubernetes"
    assert all(issubclass(e, nebula_credential.CredentialError) for e in errors)
    # Exit codes are the CLI's concern (tests/cli/test_exit_codes.py), not the errors'.
    assert not any(hasattr(e, "exit_code") for e in errors)


def _documented() -> dict[str, set[str]]:
    """README's "The Python API": each public module and the names listed for it."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### The Python API", 1)[1].split("\n## ", 1)[0]
    listed: dict[str, set[str]] = {}
    for item in re.split(r"(?:^- |; and )(?=`nebula_credential)", section, flags=re.M)[1:]:
        module, _, rest = item.partition(" — ")
        listed[module.strip("`\n ")] = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", rest))
    return listed


def test_every_public_module_is_documented_name_by_name() -> None:
    """The README lists exactly each module's ``__all__``: a name added, dropped or
    renamed without its documentation fails here."""
    listed = _documented()
    assert set(listed) == set(PUBLIC_MODULES)
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        assert listed[module_name] == set(module.__all__), module_name


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_exported_name_is_there_listed_by_dir_and_explained(module_name: str) -> None:
    # A fresh interpreter: names load on first use, dir() must list them before that.
    code = f"import {module_name} as m; print(sorted(set(m.__all__) - set(dir(m))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    module = importlib.import_module(module_name)
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), f"{module_name}.{name} has no docstring"


def test_importing_the_package_does_not_load_heavy_backends() -> None:
    heavy = ("aiohttp", "cryptography", "yaml", "rich", "authlib", "asyncio")
    code = f"import sys, nebula_credential; print(sorted(set({heavy!r}) & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_package_depends_on_one_http_client() -> None:
    """What ``pip install nebula-credential`` pulls: aiohttp is the one HTTP client."""
    from importlib.metadata import requires

    names = {
        req.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower()
        for req in requires("nebula-credential") or []
        if "extra ==" not in req
    }
    assert "aiohttp" in names
    assert names.isdisjoint({"lightkube", "httpx", "httpx2", "requests", "kubernetes", "urllib3"})
