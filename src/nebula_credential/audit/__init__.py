"""Who touched which Secret: kube-apiserver audit logs (JSON lines), read in one pass.

Pure parsing: no Kubernetes client, no provider. Feed it the lines of an audit log
(plain or gzip, see :func:`open_lines`), a filter and an optional allow-list.
"""

from ._events import READ_VERBS, AuditEvent, Malformed, parse_line
from ._report import AuditFilter, AuditReport, Principal, allowed, analyse, open_lines

__all__ = [
    "READ_VERBS",
    "AuditEvent",
    "AuditFilter",
    "AuditReport",
    "Malformed",
    "Principal",
    "allowed",
    "analyse",
    "open_lines",
    "parse_line",
]
