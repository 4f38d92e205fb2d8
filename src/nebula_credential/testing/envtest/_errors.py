"""Errors of the control plane kit."""

from __future__ import annotations


class ControlPlaneError(RuntimeError):
    """A control plane could not be started, reached or stopped."""


class MissingBinaryError(ControlPlaneError):
    """etcd or kube-apiserver is not installed."""
