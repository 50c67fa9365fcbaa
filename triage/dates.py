"""Days a person types (--from, --to, --before, --end, --at, the overview's own period): read,
and kept within the years the visit log is meant for, so no sum of days ever overflows.

Python's dates end at year 9999 (and begin at year 1): a period's day after, the previous
period of the same length, or a demo history counted back from --end would otherwise raise
OverflowError on input such as 9999-12-31 or 0001-01-01.
"""

from __future__ import annotations

from datetime import date, datetime

from triage.errors import CodedError

EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)


class DayError(CodedError, ValueError):
    """A day that cannot be used; `code` names the i18n message."""


def within(day: date, typed: str) -> date:
    """`day`, or DayError when it lies outside EARLIEST…LATEST."""
    if not EARLIEST <= day <= LATEST:
        raise DayError("date_out_of_range", value=typed, first=EARLIEST, last=LATEST)
    return day


def parse_day(typed: str) -> date:
    """A day written as 2026-11-30."""
    try:
        day = date.fromisoformat(typed.strip())
    except ValueError:
        raise DayError("bad_date", value=typed) from None
    return within(day, typed)


def parse_moment(typed: str) -> datetime:
    """A local time written as 2026-11-23T10:30 (as route --at takes it)."""
    try:
        moment = datetime.fromisoformat(typed.strip())
    except ValueError:
        raise DayError("bad_moment", value=typed) from None
    within(moment.date(), typed)
    return moment
