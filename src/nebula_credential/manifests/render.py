"""YAML at the edge: manifests as one multi-document stream, with explaining comments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from .access import GRANTS_ANNOTATION


def _comment(manifest: dict[str, Any]) -> str:
    grants = (manifest.get("metadata") or {}).get("annotations", {}).get(GRANTS_ANNOTATION)
    if not grants:
        return ""
    return f"# {manifest['kind']} {manifest['metadata']['name']} grants {grants}\n"


def render_yaml(manifests: Sequence[dict[str, Any]]) -> str:
    """``manifests`` as YAML documents separated by ``---``; a Role's grant as a comment."""
    parts = []
    for manifest in manifests:
        body = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False, width=1000)
        parts.append(f"---\n{_comment(manifest)}{body}")
    return "".join(parts)
