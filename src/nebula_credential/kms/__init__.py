"""A KMS plugin for kube-apiserver: envelope encryption at rest with our own KEKs.

``nebula-credential kms serve --socket unix:///PATH --kek file:PATH|pkcs11:...`` answers
the API server's KMS v1 (``v1beta1``) and KMS v2 calls on a unix socket. The API server
encrypts each object with a DEK and sends the DEK here; the plugin seals it with the
primary KEK (:mod:`.envelope`), in process for a key file or on the token for PKCS#11
(:mod:`.pkcs11_kek`), so the KEK of a production cluster never leaves its HSM.

The protobuf and gRPC stubs (``_proto``) are generated once from the upstream
Kubernetes protos by ``scripts/gen_kms_stubs.py`` and committed, not generated at build
or install time: that would make grpcio-tools (a large native build dependency) a
requirement of every install, including the many without the ``kms`` extra, and an
editable install would run no build step at all. tests/kms/test_stubs.py regenerates
them from the protos found on the machine (the v1beta1 proto of the Debian 1.20 tree the
test API server is built from) and fails when they differ. grpcio and protobuf come with
the ``kms`` extra: ``pip install 'nebula-credential[kms]'``.
"""

from __future__ import annotations

from ._errors import BadRequest, KekConfigError, KekUnavailable, KmsError, Tampered, UnknownKek
from .envelope import Kek, Keyring
from .keks import FileKek, load_kek, write_key_file
from .server import KmsServer, start

__all__ = [
    "BadRequest",
    "FileKek",
    "Kek",
    "KekConfigError",
    "KekUnavailable",
    "Keyring",
    "KmsError",
    "KmsServer",
    "Tampered",
    "UnknownKek",
    "load_kek",
    "start",
    "write_key_file",
]
