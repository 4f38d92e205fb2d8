"""Who doctor runs as, so that a fix names that identity instead of a placeholder.

The API server knows best: a SelfSubjectReview (Kubernetes 1.27+, earlier as an alpha)
answers with the user name. Older servers do not serve it, but every refusal they send
names the user (``User "…" cannot …``), so a request for a resource no cluster has is
refused with the name (or, for an identity allowed everything, answered 404 and the name
is not needed). Last, the kubeconfig: a ServiceAccount token's subject, a client
certificate's common name (the user name for x509 authentication), a basic-auth user.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any, Final

from ..kubernetes.config.cluster import ClusterConfig
from .probe import ClusterProbe

SERVICE_ACCOUNT: Final = "system:serviceaccount:"
_REVIEW_VERSIONS: Final = ("v1", "v1beta1", "v1alpha1")
# Go's %q of the user name in the API server's "forbidden" message.
_REFUSED_USER: Final = re.compile(r'User ("(?:[^"\\]|\\.)*") cannot ')
# A resource no cluster serves: asking for it is refused (naming the user) or not found.
_NOWHERE: Final = "nebula-credential-whoami"
_MAX_CERT: Final = 64 * 1024


async def who_am_i(probe: ClusterProbe) -> tuple[str, str] | None:
    """``(user name, where it was learnt)``, or None when nothing tells."""
    name = await _self_subject_review(probe)
    if name:
        return name, "SelfSubjectReview"
    name = await _named_in_refusal(probe)
    if name:
        return name, "the API server's refusal"
    return from_kubeconfig(probe.target)


def subject_flag(user: str | None) -> str:
    """The ``kubectl create rolebinding`` flag binding ``user`` (shell-quoted)."""
    import shlex

    if user is None:
        return "--user=<your user name>"
    if user.startswith(SERVICE_ACCOUNT) and user.count(":") == 3:
        return "--serviceaccount=" + shlex.quote(user[len(SERVICE_ACCOUNT) :])
    return "--user=" + shlex.quote(user)


def service_account_of(user: str | None) -> tuple[str, str] | None:
    """``(namespace, name)`` when ``user`` is a ServiceAccount's user name."""
    if user is None or not user.startswith(SERVICE_ACCOUNT) or user.count(":") != 3:
        return None
    namespace, name = user[len(SERVICE_ACCOUNT) :].split(":")
    return namespace, name


async def _self_subject_review(probe: ClusterProbe) -> str | None:
    review = {"kind": "SelfSubjectReview", "metadata": {}}
    for version in _REVIEW_VERSIONS:
        review["apiVersion"] = f"authentication.k8s.io/{version}"
        status, body = await probe.post(
            f"/apis/authentication.k8s.io/{version}/selfsubjectreviews", review
        )
        if status == 404:
            continue  # not served in this version: try an older one
        if status != 201 or not isinstance(body, dict):
            return None
        name = (body.get("status") or {}).get("userInfo", {}).get("username")
        return name if isinstance(name, str) and name else None
    return None


async def _named_in_refusal(probe: ClusterProbe) -> str | None:
    status, body = await probe.get(f"/api/v1/namespaces/{probe.target.namespace}/{_NOWHERE}")
    if status != 403 or not isinstance(body, dict):
        return None
    found = _REFUSED_USER.search(str(body.get("message", "")))
    if found is None:
        return None
    try:
        name = json.loads(found.group(1))  # %q and JSON agree on every printable name
    except ValueError:
        return None
    return name if isinstance(name, str) and name else None


def from_kubeconfig(target: ClusterConfig) -> tuple[str, str] | None:
    """The user name the kubeconfig's credentials stand for, when they say."""
    account = _token_subject(target)
    if account:
        return account, "the ServiceAccount token"
    common_name = _certificate_name(target)
    if common_name:
        return common_name, "the client certificate"
    if target.user.username:
        return target.user.username, "the kubeconfig"
    return None


def _token_subject(target: ClusterConfig) -> str | None:
    """The ServiceAccount a JWT token names (claims read, not verified)."""
    token, token_file = target.user.token, target.user.token_file
    if token is None and token_file:
        try:
            token = Path(token_file).read_text()[:_MAX_CERT].strip()
        except (OSError, UnicodeDecodeError):
            return None
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    try:
        part = token.split(".")[1]
        claims: Any = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        subject = claims.get("sub", "")
    except (ValueError, AttributeError):
        return None
    return subject if isinstance(subject, str) and subject.startswith(SERVICE_ACCOUNT) else None


def _certificate_name(target: ClusterConfig) -> str | None:
    user = target.user
    try:
        if user.client_certificate_data:
            pem = base64.b64decode(user.client_certificate_data)
        elif user.client_certificate:
            with open(user.client_certificate, "rb") as handle:
                pem = handle.read(_MAX_CERT)
        else:
            return None
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        names = x509.load_pem_x509_certificate(pem).subject.get_attributes_for_oid(
            NameOID.COMMON_NAME
        )
    except (OSError, ValueError):
        return None
    value = names[0].value if names else None
    return value if isinstance(value, str) and value else None
