"""``get ID --kind KIND --map-key KEY=FIELD``: a Secret another tool wrote, read as asked.

``get ID`` alone reads what the Secret says about itself (``credential.json``, a kind
label, a ``credential_type`` key or its built-in type). These options say it instead,
for Secrets that do not: the kind, which key holds which field, and whether keys that
are no field may be skipped. They reach the provider's ``read_secret`` on the Secret
that ``ID`` names, or, with ``--by-name``, on the Secret called ``ID`` (``web-tls``, as
cert-manager or ``kubectl create secret`` named it, without our prefix); only
Kubernetes holds Secrets that others write.
"""

from __future__ import annotations

from typing import NamedTuple

from ..domain import Credential, CredentialId, NotFound
from .inputs import UsageError, parse_pairs
from .providers import ProviderName, ProviderOptions


class ForeignRead(NamedTuple):
    """What ``get`` was told about a Secret it did not write."""

    kind: str | None
    map_key: list[str]
    ignore_unknown: bool
    by_name: bool = False

    def asked(self) -> bool:
        return self.kind is not None or bool(self.map_key) or self.ignore_unknown or self.by_name


def read_foreign(options: ProviderOptions, ident: str, asked: ForeignRead) -> Credential:
    """The credential in ``ident``'s Secret (or the Secret called ``ident``, by name),
    mapped as ``asked`` says."""
    renames = parse_pairs(asked.map_key, "--map-key")  # before any request
    if options.resolved_name() is not ProviderName.KUBERNETES:
        raise UsageError(
            "--by-name, --kind, --map-key and --ignore-unknown read Secrets that other tools "
            "wrote; use them with --provider kubernetes"
        )
    cid = CredentialId(ident) if not asked.by_name else None
    if asked.by_name:
        from ..kubernetes.model.api_names import dns_subdomain

        dns_subdomain(ident, "--by-name: the Secret name")
    from ..kubernetes import KubernetesSecretsProvider, SyncKubernetesSecretsProvider

    provider = options.build(one_shot=True)
    assert isinstance(provider, KubernetesSecretsProvider)
    with SyncKubernetesSecretsProvider(provider) as store:
        name = ident if cid is None else store.secret_name(cid)
        found = store.read_secret(
            name,
            kind=asked.kind,
            field_names=renames or None,
            ignore_unknown=asked.ignore_unknown,
        )
        if found is None:
            what = f"Secret {name!r}" if cid is None else f"credential {cid!r}"
            raise NotFound(
                f"{what} not found: no Secret {name} in namespace {provider.namespace}",
                credential_id=cid,
            )
        return found
