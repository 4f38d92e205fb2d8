"""Store, read, list and delete an OAuth2 credential in Kubernetes Secrets.

The seed's usage example. Point it at a cluster with KUBECONFIG (and optionally
KUBERNETES_NAMESPACE); the identity needs get/list/create/update/delete on secrets:

    KUBECONFIG=~/.kube/config python examples/kubernetes_oauth2.py
"""

from __future__ import annotations

import asyncio

from nebula_credential import Credential, CredentialId, KubernetesSecretsProvider


async def main() -> None:
    # Configuration is inferred like kubectl: in-cluster ServiceAccount, else KUBECONFIG.
    async with KubernetesSecretsProvider(prefix="nebula-credentials") as provider:
        credential = Credential(
            CredentialId.new("github-oauth"),
            "oauth2",
            {
                "access_token": "gho_example_access_token",
                "refresh_token": "ghr_example_refresh_token",
                "client_id": "Iv1.example",
                "token_url": "https://github.com/login/oauth/access_token",
            },
            scope="user:alice",
            owner="alice",
        )
        stored = await provider.store(credential)
        print(
            f"stored {stored.id} as Secret {provider.secret_name(stored.id)} "
            f"in namespace {provider.namespace} (version {stored.version})"
        )

        retrieved = await provider.retrieve(stored.id)
        if retrieved is not None:
            print(f"retrieved credential: {retrieved!r}")  # secret fields print as **********

        found = [c.id async for c in provider.list(scope="user:alice")]
        print(f"found {len(found)} credential(s) in scope user:alice")

        deleted = await provider.delete(stored.id)
        print(f"deleted: {deleted}")


if __name__ == "__main__":
    asyncio.run(main())
