"""``get ID --kind KIND --map-key KEY=FIELD``: a Secret another tool wrote, read as asked.

``get ID`` alone reads what the Secret says about itself (``credential.json``, a kind
label, a ``credential_type`` key or its built-in type). These options say it instead,
for Secrets that do not: the kind, which key holds which field, and whether keys that
are no field may be skipped. They reach the provider's ``read_secret`` on the Secret
that ``ID`` names; only Kubernetes holds Secrets that others write.
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

    def asked(self) -> bool:
        return self.kind is not None or bool(self.map_key) or self.ignore_unknown


def read_foreign(options: ProviderOptions, cid: CredentialId, asked: ForeignRead) -> Credential:
    """The credential in ``cid``'s Secret, mapped as ``asked`` says."""
    renames = parse_pairs(asked.map_key, "--map-key")  # before any request
    if options.resolved_name() is not ProviderName.KUBERNETES:
        raise UsageError(
            "--kind, --map-key and --ignore-unknown read Secrets that other tools wrote; "
            "use them with --provider kubernetes"
        )
    from ..kubernetes import KubernetesSecretsProvider, SyncKubernetesSecretsProvider

    provider = options.build(one_shot=True)
    assert isinstance(provider, KubernetesSecretsProvider)
    with SyncKubernetesSecretsProvider(provider) as store:
        name = store.secret_name(cid)
        found = store.read_secret(
            name,
            kind=asked.kind,
            field_names=renames or None,
            ignore_unknown=asked.ignore_unknown,
        )
        if found is None:
            raise NotFound(
                f"credential {cid!r} not found: no Secret {name} in namespace {provider.namespace}",
                credential_id=cid,
            )
        return found
