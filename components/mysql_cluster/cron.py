"""Cron schedules as a Kubernetes CronJob reads them: five fields, each in its range, and a
schedule that fires at all.

Kubernetes parses `spec.schedule` with robfig/cron's standard parser (kubernetes
pkg/apis/batch/validation, `cron.ParseStandard`): `*` or `?`, numbers, ranges `a-b`, steps `/n`
and lists `a,b`, with month and weekday names (JAN, MON), and the @ macros. A day of the month
restricted together with an unrestricted weekday fires only on that day of the chosen months;
`0 0 31 2 *` is accepted by the API and never runs.
"""
from __future__ import annotations

import re

MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, lowest, highest, names of the values from lowest on)
FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
          ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _WEEKDAYS))
# The most days each month has (February in a leap year).
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_PART = re.compile(r"^(\*|\?|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/([0-9]+))?$")


def _value(text: str, lowest: int, highest: int, names: tuple[str, ...]) -> int:
    if text.upper() in names:
        return lowest + names.index(text.upper())
    if not text.isdigit() or not lowest <= int(text) <= highest:
        raise ValueError
    return int(text)


def _field_values(text: str, lowest: int, highest: int, names: tuple[str, ...]) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        match = _PART.match(part)
        if not match:
            raise ValueError
        span, step = match.group(1), int(match.group(2) or 1)
        if step == 0:
            raise ValueError
        if span in ("*", "?"):
            first, last = lowest, highest
        else:
            first_text, _, last_text = span.partition("-")
            first = _value(first_text, lowest, highest, names)
            last = _value(last_text, lowest, highest, names) if last_text else (
                highest if match.group(2) else first)
            if first > last:
                raise ValueError
        values.update(range(first, last + 1, step))
    return values


def schedule_problem(schedule: str) -> str:
    """What is wrong with a five-field schedule or macro, "" when nothing."""
    if schedule in MACROS:
        return ""
    fields = schedule.split()
    if len(fields) != 5:
        return "a schedule has five fields"
    values = []
    for text, (name, lowest, highest, names) in zip(fields, FIELDS):
        try:
            values.append(_field_values(text, lowest, highest, names))
        except ValueError:
            return (f"its {name} field {text!r} is not in {lowest}-{highest}"
                    + (f" or {names[0]}-{names[-1]}" if names else ""))
    days, months = values[2], values[3]
    weekday_unrestricted = fields[4] in ("*", "?")
    day_restricted = fields[2] not in ("*", "?")
    if day_restricted and weekday_unrestricted and not any(
            day <= _DAYS_IN_MONTH[month - 1] for day in days for month in months):
        return "no month of it has that day, so it never fires"
    return ""
