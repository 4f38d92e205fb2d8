"""What a copy did to each credential, and the summary of a whole run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What happened to one credential at one destination (in a dry run: would happen)."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One credential at one destination; ``reason`` says why it was skipped or failed."""

    credential_id: str
    outcome: Outcome
    reason: str | None = None
    target: str = "destination"


@dataclass(frozen=True, slots=True)
class Progress:
    """One step of a run, handed to ``on_progress``.

    ``phase`` is ``copy`` once per credential (``done`` of ``total``), then ``verify``
    for each written credential whose read-back did not match.
    """

    result: ItemResult
    done: int
    total: int
    phase: str = "copy"


ProgressCallback = Callable[[Progress], None]


@dataclass(slots=True)
class CopySummary:
    """Every credential's outcome at one destination."""

    target: str
    dry_run: bool = False
    results: list[ItemResult] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def failures(self) -> list[ItemResult]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]

    @property
    def ok(self) -> bool:
        """True when nothing failed (skipped credentials are not failures)."""
        return not self.failures

    def counts(self) -> dict[str, int]:
        return {o.value: self.count(o) for o in Outcome}

    def to_dict(self) -> dict[str, Any]:
        """Counts, plus the id and reason of every credential skipped or failed."""
        return {
            "target": self.target,
            "dry_run": self.dry_run,
            **self.counts(),
            "problems": [
                {"id": r.credential_id, "outcome": r.outcome.value, "reason": r.reason}
                for r in self.results
                if r.outcome in (Outcome.FAILED, Outcome.SKIPPED)
            ],
        }


@dataclass(frozen=True, slots=True)
class RotationResult:
    """What ``rotate``, ``rollback`` or ``rotate_due`` did to one credential (no tokens).

    ``outcome`` is ``rotated``, ``rolled_back``, ``failed``, ``skipped`` (another run
    rotated it, or is rotating it) or ``discarded`` (a pending grant, on request);
    ``error_code`` is the token endpoint's OAuth2 error (or ``conflict``,
    ``not_rotatable`` ...). ``resumed``: tokens a failed rotation kept were landed,
    without calling the endpoint. ``warnings`` are for the user to read.
    """

    credential_id: str
    outcome: str
    version_before: int | None = None
    version_after: int | None = None
    expires_at: str | None = None
    new_refresh_token: bool = False
    error_code: str | None = None
    reason: str | None = None
    resumed: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome in ("rotated", "rolled_back", "skipped", "discarded")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.credential_id),  # a CredentialId is a str subclass
            "outcome": self.outcome,
            "version_before": self.version_before,
            "version_after": self.version_after,
            "expires_at": self.expires_at,
            "new_refresh_token": self.new_refresh_token,
            "error_code": self.error_code,
            "reason": self.reason,
            "resumed": self.resumed,
            "warnings": list(self.warnings),
        }


@dataclass(slots=True)
class RotationSummary:
    """Every credential ``rotate_due`` looked at; ``not_due`` counts those left alone."""

    results: list[RotationResult] = field(default_factory=list)
    not_due: int = 0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def counts(self) -> dict[str, int]:
        names = ("rotated", "failed", "skipped")
        return {n: sum(1 for r in self.results if r.outcome == n) for n in names} | {
            "not_due": self.not_due
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.counts(), "results": [r.to_dict() for r in self.results]}
