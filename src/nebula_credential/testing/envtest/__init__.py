"""Real Kubernetes control planes (etcd + kube-apiserver) on loopback, for tests.

Each plane gets its own etcd, its own TLS material (a CA and a serving certificate for
127.0.0.1/localhost), RBAC authorization, a static token file with an admin user in
``system:masters`` and a pool of limited users, encryption at rest for Secrets (aescbc)
and a JSON audit log in which Secrets are recorded at ``Metadata`` level only.

Library use::

    from nebula_credential.testing.envtest import ControlPlane

    with ControlPlane("demo") as plane:           # started here, closed at the end
        ident = plane.identity("team-a")          # RBAC-limited to Secrets in team-a
        print(plane.admin_kubeconfig, ident.kubeconfig)

With ``pip install nebula-credential[testing]``, pytest gets the fixtures
``control_plane``, ``second_control_plane`` and ``control_plane_factory`` (see
:mod:`nebula_credential.testing.envtest.plugin`). From a shell::

    python -m nebula_credential.testing.envtest up --dir /tmp/planes [--count N]
    python -m nebula_credential.testing.envtest identity --dir /tmp/planes --namespace team-a
    python -m nebula_credential.testing.envtest restart --dir /tmp/planes --down-for 3 [--kill]
    python -m nebula_credential.testing.envtest down --dir /tmp/planes [--purge]

``restart`` stops a plane's kube-apiserver (SIGTERM, or SIGKILL with ``--kill``), keeps it
down ``--down-for`` seconds and starts it again on the same port with the same flags and
certificates, returning once it is ready, so kubeconfigs stay valid; etcd keeps running.
``--plane NAME`` (or an index) picks a plane of ``--count N``, the first by default;
``stop-apiserver`` and ``start-apiserver`` do the two halves. In a test,
``plane.restart_apiserver(kill=False, down_for=0.0)`` does the same and
``plane.restart_apiserver_later(delay=0.0, kill=False, down_for=0.0)`` does it in the
background, returning a :class:`~concurrent.futures.Future`.

The binaries are found like controller-runtime's envtest finds them: ``KUBEBUILDER_ASSETS``,
then the cache ``scripts/install-control-plane.sh`` fills (``$NEBULA_CACHE_DIR/bin``,
default ``~/.cache/nebula-credential/bin``), then ``PATH``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

if TYPE_CHECKING:
    from ._api import ApiResponse
    from ._binaries import Binaries, cache_dir, find_binaries, missing_binaries_message
    from ._errors import ControlPlaneError, MissingBinaryError
    from ._group import close_all, start_all
    from ._identities import DEFAULT_VERBS, Identity
    from ._plane import ControlPlane
    from .controller_manager import ControllerManager

# Loaded on first use, so that pytest start-up (the plugin imports this package) does not
# pay for cryptography and the certificate machinery.
_EXPORTS = {
    "ApiResponse": "._api",
    "Binaries": "._binaries",
    "cache_dir": "._binaries",
    "find_binaries": "._binaries",
    "missing_binaries_message": "._binaries",
    "ControlPlaneError": "._errors",
    "MissingBinaryError": "._errors",
    "close_all": "._group",
    "start_all": "._group",
    "DEFAULT_VERBS": "._identities",
    "Identity": "._identities",
    "ControlPlane": "._plane",
    "ControllerManager": ".controller_manager",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "DEFAULT_VERBS",
    "ApiResponse",
    "Binaries",
    "ControlPlane",
    "ControlPlaneError",
    "ControllerManager",
    "Identity",
    "MissingBinaryError",
    "cache_dir",
    "close_all",
    "find_binaries",
    "missing_binaries_message",
    "start_all",
]
