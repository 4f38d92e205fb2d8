"""``doctor``: is this cluster, namespace and identity ready for credentials?

Each :class:`Finding` says what was checked, what was found and, when it failed, the
command that fixes it, for the identity doctor runs as. :func:`diagnose` runs the checks
through :class:`ClusterProbe`, a seam of its own (version, namespace, access reviews,
discovery) beside the Secret transport. Access is checked the way RBAC grants it: per
named Secret when credential ids are given (:class:`Wanted`).
"""

from __future__ import annotations

from .access import ALL_VERBS, READ_VERBS, Wanted
from .checks import diagnose
from .probe import ClusterProbe, Unreachable
from .report import Finding, Report, Status

__all__ = [
    "ALL_VERBS",
    "READ_VERBS",
    "ClusterProbe",
    "Finding",
    "Report",
    "Status",
    "Unreachable",
    "Wanted",
    "diagnose",
]
