"""``doctor``: is this cluster, namespace and identity ready for credentials?

Each :class:`Finding` says what was checked, what was found and, when it failed, the
command that fixes it. :func:`diagnose` runs the checks through :class:`ClusterProbe`, a
seam of its own (version, namespace, access reviews, discovery) beside the Secret
transport.
"""

from __future__ import annotations

from .checks import ALL_VERBS, READ_VERBS, Finding, Report, Status, diagnose
from .probe import ClusterProbe, Unreachable

__all__ = [
    "ALL_VERBS",
    "READ_VERBS",
    "ClusterProbe",
    "Finding",
    "Report",
    "Status",
    "Unreachable",
    "diagnose",
]
