"""The API server's rules for names and keys, checked before anything is sent or printed.

A manifest or a SealedSecret holding a name the API server refuses is only found out at
``kubectl apply`` time, far from the command that made it; these checks say it at once,
naming the option or field and what a valid value looks like. ASCII only: Python's
``\\d`` and ``str.isalnum`` take fullwidth or other scripts' digits and letters, which
Kubernetes does not.
"""

from __future__ import annotations

import re
from typing import Final

from ...domain import ValidationError

_LABEL: Final = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_SUBDOMAIN: Final = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
_DATA_KEY: Final = re.compile(r"[-._a-zA-Z0-9]+")


def _shown(value: object) -> str:
    return repr(str(value)[:80])


def dns_label(value: str, what: str, *, error: type[ValidationError] = ValidationError) -> str:
    """A DNS-1123 label (namespaces, ServiceAccounts, container names): 1-63 chars."""
    if not isinstance(value, str) or len(value) > 63 or not _LABEL.fullmatch(value):
        raise error(
            f"{what} {_shown(value)} is not a valid name: use 1-63 lower-case letters, digits "
            "or '-', starting and ending with a letter or digit"
        )
    return value


def dns_subdomain(value: str, what: str, *, error: type[ValidationError] = ValidationError) -> str:
    """A DNS-1123 subdomain (most object names): at most 253 chars, dot-separated labels."""
    if not isinstance(value, str) or len(value) > 253 or not _SUBDOMAIN.fullmatch(value):
        raise error(
            f"{what} {_shown(value)} is not a valid name: use at most 253 lower-case letters, "
            "digits, '-' or '.', starting and ending with a letter or digit"
        )
    return value


def data_key(value: str, what: str, *, error: type[ValidationError] = ValidationError) -> str:
    """A Secret or ConfigMap data key: 1-253 of letters, digits, '-', '_' and '.',
    neither '.' nor starting with '..' (the kubelet's own names in a volume)."""
    if (
        not isinstance(value, str)
        or len(value) > 253
        or not _DATA_KEY.fullmatch(value)
        or value == "."
        or value.startswith("..")
    ):
        raise error(
            f"{what} {_shown(value)} is not a valid key: use at most 253 letters, digits, "
            "'-', '_' or '.' (not '.' and not starting with '..')"
        )
    return value


# kube-apiserver reaches a KMS plugin on a unix socket only; sun_path holds 107 bytes.
_SOCKET_PATH: Final = re.compile(r"/[A-Za-z0-9._/-]{1,106}")


def unix_socket(
    endpoint: str,
    what: str,
    *,
    bare: bool = False,
    error: type[ValidationError] = ValidationError,
) -> str:
    """The absolute path of a ``unix:///PATH`` endpoint (``bare``: a plain absolute path
    too), as an EncryptionConfiguration names a KMS plugin; shown only in that form."""
    path = endpoint.removeprefix("unix://") if isinstance(endpoint, str) else ""
    if (path == endpoint and not bare) or not _SOCKET_PATH.fullmatch(path) or path.endswith("/"):
        raise error(
            f"{what} {_shown(endpoint)} is not unix:///PATH: an absolute path of at most "
            "107 letters, digits, '.', '_', '-' or '/' (e.g. unix:///run/kms.sock)"
        )
    return path
