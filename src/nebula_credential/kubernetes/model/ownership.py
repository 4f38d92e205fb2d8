"""Which Secrets are which credential's, for one prefix (no I/O).

A Secret is credential ``X`` of prefix ``P`` when it is labelled managed-by
nebula-credential, its id annotation says ``X``, its prefix label says ``P`` (Secrets
written before the label existed have none) and its name is one of ``X``'s names under
``P``. Reads, lists, writes and deletes all apply this one rule, so a Secret forged or
edited to carry another id, or belonging to another prefix, is never taken for ``X``.
"""

from __future__ import annotations

from enum import Enum

from ...domain import CorruptData
from .mapping import ANN_ID, is_managed, where
from .naming import PREFIX_LABEL, candidate_names, secret_name
from .objects import SecretObject


class Listed(Enum):
    """What a Secret found by a list is to one prefix."""

    OURS = "ours"  # one of our credentials: decode it
    OTHER = "other"  # another prefix's (or nobody's): not listed, not reported
    SUSPECT = "suspect"  # claims our prefix but breaks the rule: reported


def belongs(secret: SecretObject, prefix: str, credential_id: str) -> bool:
    """True when ``secret`` is credential ``credential_id`` of ``prefix``."""
    if not is_managed(secret) or secret.annotations.get(ANN_ID) != credential_id:
        return False
    if secret.labels.get(PREFIX_LABEL, prefix) != prefix:
        return False
    # Its name, else its legacy name: the second is worked out only when needed.
    return secret.name == secret_name(prefix, credential_id) or (
        secret.name in candidate_names(prefix, credential_id)
    )


def classify(secret: SecretObject, prefix: str) -> Listed:
    """How a list for ``prefix`` treats a Secret labelled managed-by nebula-credential."""
    label = secret.labels.get(PREFIX_LABEL)
    if label is not None and label != prefix:
        return Listed.OTHER
    claimed = secret.annotations.get(ANN_ID)
    if claimed is not None and belongs(secret, prefix, claimed):
        return Listed.OURS
    if label == prefix:
        return Listed.SUSPECT
    # Unlabelled: an earlier release's Secret of another prefix, or an adopted one of ours.
    adopted = claimed is None and secret.name.startswith(f"{prefix}-")
    return Listed.SUSPECT if adopted else Listed.OTHER


def suspect_error(secret: SecretObject, prefix: str, namespace: str) -> CorruptData:
    """Why a Secret that claims ``prefix`` is not listed, and what to do about it."""
    claimed = secret.annotations.get(ANN_ID)
    fix = f"inspect it with: kubectl get secret {secret.name} -n {namespace} -o yaml"
    if claimed is None:
        detail = f"is labelled as written by nebula-credential but has no {ANN_ID} annotation"
    else:
        expected = " or ".join(candidate_names(prefix, claimed[:255]))
        detail = (
            f"claims credential {claimed[:255]!r} but that credential's Secret is named {expected}"
        )
    return CorruptData(f"{where(secret, namespace)} {detail}; {fix}")


def refusal(secret: SecretObject, prefix: str, credential_id: str, namespace: str) -> str:
    """Why ``secret``, found at one of ``credential_id``'s names, is not that credential."""
    if not is_managed(secret):
        return f"{where(secret, namespace)} was not written by nebula-credential"
    claimed = secret.annotations.get(ANN_ID)
    if claimed is None:
        return f"{where(secret, namespace)} carries no {ANN_ID} annotation"
    owner = secret.labels.get(PREFIX_LABEL)
    of_prefix = f" of prefix {owner!r}" if owner is not None and owner != prefix else ""
    return f"{where(secret, namespace)} holds credential {claimed[:255]!r}{of_prefix}"
