"""What doctor found: findings, each with its status and, when it failed, the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    FAIL = "fail"
    INFO = "info"  # not applicable or cannot be told; never fails the run


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.status is not Status.FAIL for f in self.findings)

    def add(self, check: str, status: Status, detail: str, fix: str | None = None) -> None:
        self.findings.append(Finding(check, status, detail, fix))

    def as_dict(self) -> dict[str, Any]:
        """Plain values (the status as its string) for JSON and YAML alike."""
        findings = [{**asdict(f), "status": f.status.value} for f in self.findings]
        return {"ok": self.ok, "findings": findings}
