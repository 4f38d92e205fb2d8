"""Why a KMS call or the plugin's set-up failed, each with the gRPC code it answers with.

Messages name the problem (and a KEK id, which is not secret) and never a key, a DEK or
any bytes of a request: they reach the API server's log and our own.
"""

from __future__ import annotations

from typing import ClassVar

import grpc


class KmsError(Exception):
    """A KMS failure; ``code`` is the gRPC status the plugin answers with."""

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL


class BadRequest(KmsError):
    """The request cannot be served as sent: malformed, too large, empty, wrong version."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class UnknownKek(KmsError):
    """The blob was wrapped by a KEK this plugin does not hold (retired, or never ours)."""

    code = grpc.StatusCode.NOT_FOUND


class Tampered(KmsError):
    """The blob names a KEK we hold but fails authentication: altered or corrupted."""

    code = grpc.StatusCode.DATA_LOSS


class KekUnavailable(KmsError):
    """The KEK's store (a token) could not do the operation right now."""

    code = grpc.StatusCode.UNAVAILABLE


class KekConfigError(Exception):
    """A ``--kek`` source cannot be used: bad syntax, unsafe file mode, wrong key size,
    missing token or key. Raised at start-up, never during a call."""
