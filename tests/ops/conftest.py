"""The Kubernetes test helpers live beside the provider's tests; share them here."""

from __future__ import annotations

import sys
from pathlib import Path

_K8S_TESTS = str(Path(__file__).resolve().parents[1] / "kubernetes")
if _K8S_TESTS not in sys.path:
    sys.path.insert(0, _K8S_TESTS)
