"""The curated public surface: adding or removing a name is a deliberate change."""

from __future__ import annotations

import nebula_credential

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
    "GrantPending",
    "LeaseHeld",
    "LeaseLost",
    "RotationFailed",
    "SecretValue",
    "SyncCredentialProvider",
    "SyncKubernetesSecretsProvider",
    "TokenEndpointUnreachable",
    "ValidationError",
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
    assert len(errors) == 21
    assert nebula_credential.KubernetesSecretsProvider.name == "kubernetes"
    assert all(issubclass(e, nebula_credential.CredentialError) for e in errors)
    # Exit codes are the CLI's concern (tests/cli/test_exit_codes.py), not the errors'.
    assert not any(hasattr(e, "exit_code") for e in errors)


def test_importing_the_package_does_not_load_heavy_backends() -> None:
    import subprocess
    import sys

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
