"""TLS contexts from a kubeconfig's cluster and user entries (no network).

What kubectl trusts: the cluster's ``certificate-authority`` file or
``certificate-authority-data`` and nothing else when one is given, else the system's
roots; ``insecure-skip-tls-verify: true`` checks nothing. A client certificate comes
from files, from inline data, or from an exec plugin. ``ssl`` loads a certificate chain
from files only, so inline keys go through an anonymous in-memory file where the system
has one (Linux ``memfd``), else a private temporary file removed at once.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...domain import ConfigurationError


def decode_data(value: str, what: str, where: str) -> bytes:
    """Base64 ``value`` of the kubeconfig key ``what`` (the error never shows it)."""
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{what} in {where} is not valid base64") from None


def read_file(path: str, what: str, where: str) -> bytes:
    """The bytes of ``path`` named by the kubeconfig key ``what``."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"{what} file {path} named in {where} cannot be read ({exc.strerror or exc}); "
            "fix the path or its permissions"
        ) from None


def server_context(ca: bytes | None, *, insecure: bool, where: str) -> ssl.SSLContext:
    """A client context verifying the server against ``ca`` (PEM or DER), or the system's
    roots when ``ca`` is None; with ``insecure`` nothing is verified."""
    if insecure and ca is not None:
        # kubectl refuses this combination too: the one setting undoes the other.
        raise ConfigurationError(
            f"{where} sets both a certificate authority and insecure-skip-tls-verify; "
            "remove one of them"
        )
    if ca is None and not insecure:
        return ssl.create_default_context()  # loads the system's roots: tens of ms
    # Only this CA, not the system's roots as well (PROTOCOL_TLS_CLIENT checks the host).
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    assert ca is not None
    try:
        if b"-----BEGIN" in ca:
            ctx.load_verify_locations(cadata=ca.decode("ascii", "replace"))
        else:
            ctx.load_verify_locations(cadata=ca)
    except (ssl.SSLError, ValueError):
        raise ConfigurationError(
            f"the certificate authority in {where} is not a PEM or DER certificate"
        ) from None
    return ctx


def load_client_cert(ctx: ssl.SSLContext, cert: bytes, key: bytes, where: str) -> None:
    """Present ``cert`` with ``key`` (PEM) from ``ctx``; a mismatch names ``where`` only."""
    try:
        with _anonymous_file(cert) as cert_path, _anonymous_file(key) as key_path:
            ctx.load_cert_chain(cert_path, key_path)
    except (ssl.SSLError, OSError, ValueError):
        raise ConfigurationError(
            f"the client certificate or key from {where} cannot be loaded (not PEM, "
            "encrypted, or the key does not belong to the certificate)"
        ) from None


@contextmanager
def _anonymous_file(data: bytes) -> Iterator[str]:
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None and Path("/proc/self/fd").is_dir():
        fd = memfd("nebula-tls", getattr(os, "MFD_CLOEXEC", 0))
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    import tempfile  # without memfd only

    with tempfile.TemporaryDirectory(prefix="nebula-tls-") as directory:
        path = Path(directory) / "pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        yield str(path)
