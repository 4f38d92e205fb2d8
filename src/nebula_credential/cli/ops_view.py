"""Drawing migrate/replicate progress and printing their summaries."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from ..domain.wire import format_json
from ..ops import CopySummary, ItemResult, Outcome, Progress
from .output import OutputFormat, _dump_yaml
from .safe_text import json_text, one_line, visible

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID


def result_line(result: ItemResult, *, with_target: bool, dry_run: bool = False) -> str:
    where = f"{visible(result.target)}: " if with_target else ""
    why = f" ({one_line(result.reason)})" if result.reason else ""
    what = result.outcome.value
    if dry_run and result.outcome in (Outcome.CREATED, Outcome.UPDATED):
        what = f"would be {what}"  # nothing was written
    return f"{where}{what} {visible(result.credential_id)}{why}"


class ProgressView:
    """A rich bar per target on a terminal; otherwise one plain line per credential.

    Lines go to stderr so that stdout stays the summary a script reads.
    """

    def __init__(
        self, *, with_target: bool, dry_run: bool = False, stream: TextIO | None = None
    ) -> None:
        self._stream = stream or sys.stderr
        self._with_target = with_target
        self._dry_run = dry_run
        self._bar: RichProgress | None = None
        self._tasks: dict[str, TaskID] = {}
        if self._stream.isatty():
            from rich.console import Console
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(console=Console(file=self._stream), transient=True)

    def __enter__(self) -> ProgressView:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, step: Progress) -> None:
        result = step.result
        if self._bar is None:
            if step.phase == "copy" or result.outcome is Outcome.FAILED:
                line = result_line(result, with_target=self._with_target, dry_run=self._dry_run)
                self._stream.write(f"[{step.done}/{step.total}] {line}\n")
            return
        task = self._tasks.get(result.target)
        if task is None:
            label = f"{result.target}" if self._with_target else "migrating"
            from rich.markup import escape

            task = self._bar.add_task(escape(visible(label)), total=step.total)
            self._tasks[result.target] = task
        if step.phase == "copy":
            self._bar.update(task, completed=step.done)
        if result.outcome is Outcome.FAILED:
            line = result_line(result, with_target=self._with_target)
            self._bar.console.print(line, markup=False, highlight=False)


def _totals(summary: CopySummary) -> str:
    counts = summary.counts()
    head = "would be: " if summary.dry_run else ""
    return head + ", ".join(f"{n} {o}" for o, n in counts.items())


def print_summaries(
    summaries: Sequence[CopySummary],
    fmt: OutputFormat,
    out: TextIO,
    *,
    per_item: bool,
    extra: dict[str, Any] | None = None,
) -> None:
    """Counts and problems per target; with ``per_item`` a line per target and credential."""
    if fmt is not OutputFormat.TABLE:
        data: dict[str, Any]
        if len(summaries) == 1 and not per_item:
            data = {**(extra or {}), **summaries[0].to_dict()}
        else:
            data = {**(extra or {}), "targets": [s.to_dict() for s in summaries]}
        if fmt is OutputFormat.JSON:
            out.write(json_text(format_json(data, indent=2)) + "\n")
        else:
            _dump_yaml(data, out)
        return
    for summary in summaries:
        for result in summary.results:
            if per_item or result.outcome in (Outcome.FAILED, Outcome.SKIPPED):
                line = result_line(result, with_target=per_item, dry_run=summary.dry_run)
                out.write(line + "\n")
        out.write(f"{visible(summary.target)}: {_totals(summary)}\n")
