"""Cron schedules as the CronJob controller reads them, and the longest wait between runs.

The API server parses a CronJob's schedule with robfig/cron (``ParseStandard``): five
fields or a macro such as ``@hourly``, numbers in range, month and weekday names, ranges
and steps. What it never checks is whether the schedule runs at all (``0 0 30 2 *``) and
how long it may sleep between two runs, which ``rotate --within`` must exceed. Both come
from walking nine calendar years (two leap days apart, and 2100's missing one is far off).

Day-of-month and day-of-week combine like cron's: when both are restricted, a day matching
either runs; when one is ``*`` (or ``?``), both must match. robfig/cron v1 (the 1.20
controller) also counts ``*/2`` as ``*`` there, v3 (1.21 on) does not; the longer of the
two waits is the one reported.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from itertools import pairwise
from typing import Final, NamedTuple

from ._checks import ManifestError, _shown

MACROS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS: Final = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)
_DAYS: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# name, lowest, highest, names for lowest onwards
_FIELDS: Final = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)
_NUMBER: Final = re.compile(r"[0-9]{1,2}")
_FIRST_DAY: Final = date(2024, 1, 1)
_DAYS_WALKED: Final = (date(2033, 1, 1) - _FIRST_DAY).days
MINUTES_PER_DAY: Final = 24 * 60


class Schedule(NamedTuple):
    """A schedule as written in the CronJob, and the longest time between two runs."""

    text: str
    longest_gap: int  # seconds


class _Field(NamedTuple):
    values: frozenset[int]
    star_v1: bool  # some part is * or ? (robfig/cron v1, Kubernetes 1.20)
    star_v3: bool  # some part is * or ? without a step (v3, Kubernetes 1.21 on)


def _bad(value: str, why: str) -> ManifestError:
    return ManifestError(
        f"schedule {_shown(value)} is not a cron schedule ({why}): use five fields such as "
        "'0 * * * *' or a macro such as @hourly"
    )


def _number(text: str, field: int, schedule: str) -> int:
    name, low, high, names = _FIELDS[field]
    lowered = text.lower()
    if lowered in names:
        return low + names.index(lowered)
    if not _NUMBER.fullmatch(text) or not low <= int(text) <= high:
        raise _bad(schedule, f"{name} {text[:12]!r} is not {low}-{high}")
    return int(text)


def _part(text: str, field: int, schedule: str) -> tuple[range, bool, bool]:
    name, low, high, _ = _FIELDS[field]
    span, slash, step_text = text.partition("/")
    step = 1
    if slash:
        if not _NUMBER.fullmatch(step_text) or int(step_text) == 0:
            raise _bad(schedule, f"{name} step {step_text[:12]!r} is not a positive number")
        step = int(step_text)
    if span in ("*", "?"):
        return range(low, high + 1, step), True, step == 1
    first, dash, last = span.partition("-")
    start = _number(first, field, schedule)
    end = _number(last, field, schedule) if dash else (high if slash else start)
    if end < start:
        raise _bad(schedule, f"{name} range {span[:12]!r} ends before it starts")
    return range(start, end + 1, step), False, False


def _field(text: str, field: int, schedule: str) -> _Field:
    values: set[int] = set()
    star_v1 = star_v3 = False
    for piece in text.split(","):
        numbers, v1, v3 = _part(piece, field, schedule)
        values.update(numbers)
        star_v1, star_v3 = star_v1 or v1, star_v3 or v3
    return _Field(frozenset(values), star_v1, star_v3)


def _run_days(fields: list[_Field], v1: bool) -> list[int]:
    """Days (counted from 2024-01-01) with at least one run in the nine years walked."""
    _, _, dom, month, dow = fields
    both = (dom.star_v1 or dow.star_v1) if v1 else (dom.star_v3 or dow.star_v3)
    days = []
    for offset in range(_DAYS_WALKED):
        day = _FIRST_DAY + timedelta(days=offset)
        if day.month not in month.values:
            continue
        in_month, in_week = day.day in dom.values, (day.weekday() + 1) % 7 in dow.values
        if (in_month and in_week) if both else (in_month or in_week):
            days.append(offset)
    return days


def _longest_gap(times: list[int], days: list[int]) -> int:
    """Minutes of the longest wait between runs at ``times`` (minutes into a day) on
    ``days``; the nine years walked when it runs on one day only."""
    within_day = max((b - a for a, b in pairwise(times)), default=0)
    across = [(b - a) * MINUTES_PER_DAY - times[-1] + times[0] for a, b in pairwise(days)]
    return max([within_day, *across]) if len(days) > 1 else _DAYS_WALKED * MINUTES_PER_DAY


def cron_schedule(value: str) -> Schedule:
    """Five cron fields (``*/15 * * * *``) or a macro such as ``@hourly``, checked as the
    API server checks them, refused when it never runs; with its longest gap."""
    raw = value.split() if isinstance(value, str) else []
    text = " ".join(raw)
    spelled = MACROS.get(text, text).split()
    if len(spelled) != 5:
        raise _bad(str(value), "five fields are needed")
    fields = [_field(part, i, str(value)) for i, part in enumerate(spelled)]
    minutes, hours = fields[0].values, fields[1].values
    times = sorted(h * 60 + m for h in hours for m in minutes)
    gaps = []
    for v1 in (True, False):
        days = _run_days(fields, v1)
        if not days:
            raise ManifestError(
                f"schedule {_shown(value)} never runs: no date matches its day of month, "
                "month and day of week"
            )
        gaps.append(_longest_gap(times, days))
    return Schedule(text, max(gaps) * 60)
