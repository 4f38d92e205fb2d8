"""Operations over whole sets of credentials: migrate and replicate.

They use the provider interface only; progress is reported through callbacks and
drawing it is the caller's business (the CLI draws a bar).
"""

from .digest import content_digest
from .engine import CopyOptions, copy_all, fresh_copy
from .migrate import migrate
from .replicate import replicate
from .results import CopySummary, ItemResult, Outcome, Progress, ProgressCallback

__all__ = [
    "CopyOptions",
    "CopySummary",
    "ItemResult",
    "Outcome",
    "Progress",
    "ProgressCallback",
    "content_digest",
    "copy_all",
    "fresh_copy",
    "migrate",
    "replicate",
]
