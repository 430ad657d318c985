"""Cron triggers: validation with useful messages, next fire times, and the foreground scheduler.

Five-field cron (`minute hour day month weekday`) as usual; a sixth leading field means seconds
(`*/10 * * * * *` = every 10 s), which croniter calls `second_at_beginning`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forge.errors import ConfigError

EXAMPLE = "0 */6 * * *"
_FIELDS_5 = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7))
_FIELDS_6 = (("second", 0, 59), *_FIELDS_5)
_NAMES = re.compile(r"^[a-z]{3}$", re.I)


def _field_problem(text: str, name: str, lo: int, hi: int) -> str | None:
    """Why one cron field is out of range, or None. croniter accepts e.g. `*/360` for minutes,
    which silently means "minute 0 only": that is almost never what the author meant."""
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step:
            if not step.isdigit() or int(step) == 0:
                return f"the {name} step {step!r} must be a positive number"
            if int(step) > hi - lo + 1 or (base == "*" and int(step) > hi):
                return f"the {name} field is {lo}-{hi}, so a step of {step} never repeats"
        for bound in base.split("-"):
            if bound in ("*", "?", "L") or _NAMES.match(bound) or not bound.isdigit():
                continue
            if not lo <= int(bound) <= hi:
                return f"the {name} field is {lo}-{hi}, got {bound}"
    return None


def cron_problem(expr: Any) -> str | None:
    """One line saying what is wrong with a cron expression, or None when it is valid."""
    from croniter import croniter

    if not isinstance(expr, str) or not expr.strip():
        return f"missing cron expression; use e.g. {EXAMPLE!r} (every 6 hours)"
    fields = expr.split()
    if len(fields) not in (5, 6):
        return (f"cron {expr!r} has {len(fields)} fields; use 5 (minute hour day month weekday), "
                f"e.g. {EXAMPLE!r}, or 6 with seconds first")
    for text, (name, lo, hi) in zip(fields, _FIELDS_6 if len(fields) == 6 else _FIELDS_5, strict=True):
        if problem := _field_problem(text, name, lo, hi):
            return f"bad cron {expr!r}: {problem}; for every 6 hours use {EXAMPLE!r}"
    if not croniter.is_valid(expr, second_at_beginning=len(fields) == 6):
        return f"bad cron {expr!r}; use e.g. {EXAMPLE!r} (every 6 hours)"
    return None


def timezone_problem(name: Any) -> str | None:
    if name is None:
        return None
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown timezone {name!r}; use an IANA name like 'Asia/Shanghai' or 'UTC'"
    return None


class CronSchedule:
    def __init__(self, expr: str, timezone: str | None = None):
        if problem := cron_problem(expr) or timezone_problem(timezone):
            raise ConfigError(problem)
        self.expr = expr
        self.tz = ZoneInfo(timezone) if timezone else None
        self.with_seconds = len(expr.split()) == 6

    def next_after(self, when: datetime | None = None) -> datetime:
        from croniter import croniter

        start = when or datetime.now(self.tz).astimezone(self.tz)
        nxt: datetime = croniter(self.expr, start, second_at_beginning=self.with_seconds).get_next(datetime)
        return nxt


async def run_on_schedule(
    schedule: CronSchedule,
    job: Callable[[int], Awaitable[Any]],
    *,
    max_runs: int | None = None,
    on_wait: Callable[[datetime], None] | None = None,
) -> int:
    """Run `job(n)` at each fire time, one at a time, in the foreground. A run that overruns the next
    fire time makes the scheduler skip to the following one (no pile-up). Returns runs done."""
    done = 0
    while max_runs is None or done < max_runs:
        fire = schedule.next_after()
        if on_wait:
            on_wait(fire)
        delay = (fire - datetime.now(fire.tzinfo)).total_seconds()
        await asyncio.sleep(max(delay, 0))
        done += 1
        await job(done)
    return done
