"""From a resolved kubeconfig target to what an HTTP client needs: URL, TLS, proxy, auth.

:func:`endpoint_for` builds an :class:`Endpoint` (no network, no subprocess); a transport
asks it per request for headers and the TLS context, and tells it about a 401.
"""

from __future__ import annotations

from .endpoint import Endpoint, endpoint_for

__all__ = ["Endpoint", "endpoint_for"]
