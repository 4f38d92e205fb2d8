"""YAML at the edge: manifests as one multi-document stream, with explaining comments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from .access import GRANTS_ANNOTATION
from .rotation import JOURNAL_NOTE


def _comment(manifest: dict[str, Any]) -> str:
    notes = (manifest.get("metadata") or {}).get("annotations", {})
    what = f"{manifest.get('kind')} {(manifest.get('metadata') or {}).get('name')}"
    lines = []
    if notes.get(GRANTS_ANNOTATION):
        lines.append(f"# {what} grants {notes[GRANTS_ANNOTATION]}\n")
    if notes.get(JOURNAL_NOTE):
        lines.append(f"# {what}: {notes[JOURNAL_NOTE]}\n")
    return "".join(lines)


def render_yaml(manifests: Sequence[dict[str, Any]]) -> str:
    """``manifests`` as YAML documents separated by ``---``; what a Role grants and why a
    CronJob is built as it is, as comments."""
    parts = []
    for manifest in manifests:
        body = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False, width=1000)
        parts.append(f"---\n{_comment(manifest)}{body}")
    return "".join(parts)
