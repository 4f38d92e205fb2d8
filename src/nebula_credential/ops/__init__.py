"""Operations over credentials: migrate, replicate, rotate (OAuth2) and roll back.

They use the provider interface only; progress is reported through callbacks and
drawing it is the caller's business (the CLI draws a bar).
"""

from .digest import content_digest
from .engine import CopyOptions, copy_all, fresh_copy
from .journal import GrantJournal, PendingGrant
from .migrate import migrate
from .replicate import replicate
from .results import (
    CopySummary,
    ItemResult,
    Outcome,
    Progress,
    ProgressCallback,
    RotationResult,
    RotationSummary,
)
from .rollback import rollback
from .rotate import LEASE_TAG, RotateOptions, resume, rotate
from .rotate_due import expiry_of, is_due, rotate_due, rotate_one

__all__ = [
    "LEASE_TAG",
    "CopyOptions",
    "CopySummary",
    "GrantJournal",
    "ItemResult",
    "Outcome",
    "PendingGrant",
    "Progress",
    "ProgressCallback",
    "RotateOptions",
    "RotationResult",
    "RotationSummary",
    "content_digest",
    "copy_all",
    "expiry_of",
    "fresh_copy",
    "is_due",
    "migrate",
    "replicate",
    "resume",
    "rollback",
    "rotate",
    "rotate_due",
    "rotate_one",
]
