"""The supervisor's overview for one period: figures, heat map, trend and alerts, as plain data.

Computed from the rollups only (see triage.stats), so it is cheap to refresh while desks write.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from triage.db.errors import db_cause
from triage.db.queries import day_figures, one_reading
from triage.db.store import Store
from triage.i18n import count, t
from triage.sites import Sites
from triage.stats import (
    HOURS,
    BusyHour,
    Filters,
    ShareInTime,
    Summary,
    bucket_names,
    busiest_hours,
    share_unit,
    shares_over_time,
    summarize,
    visit_counts,
)
from triage.waits import WaitingNow, Waits, has_tickets, wait_times, waiting_now

PERIODS = ("today", "week", "30days", "year", "last_week", "last_month")
# The periods as the command line's --period names them.
PERIOD_OPTIONS = {
    "today": "today",
    "this-week": "week",
    "30-days": "30days",
    "this-year": "year",
    "last-week": "last_week",
    "last-month": "last_month",
}
ALERT_OVER = 0.25  # a site more than 25 % above its target share
ALERT_MIN_VISITS = {"today": 20, "hour": 8}  # too few visits say nothing about balance


def period_dates(period: str, today: date) -> tuple[date, date]:
    """(start, end) with end excluded, for the named periods. "last_week" is the last whole
    week, Monday to Sunday, before this one; "last_month" the last whole calendar month."""
    if period == "today":
        return today, today + timedelta(days=1)
    if period == "week":
        monday = today - timedelta(days=today.weekday())
        return monday, today + timedelta(days=1)
    if period == "30days":
        return today - timedelta(days=29), today + timedelta(days=1)
    if period == "year":
        return date(today.year, 1, 1), today + timedelta(days=1)
    if period == "last_week":
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday
    if period == "last_month":
        first = today.replace(day=1)
        return (first - timedelta(days=1)).replace(day=1), first
    raise ValueError(f"period must be one of {PERIODS}")


def busiest_params(row: BusyHour, lang: str) -> dict[str, str]:
    """A busiest-hours row (stats.busiest_hours) as people read it: the average with one
    decimal, the peak with its weekday and date."""
    average = f"{row['average']:.1f}"
    peak_weekday = date.fromisoformat(row["peak_date"]).weekday()
    return {
        "weekday": t(f"weekday_{row['weekday']}", lang),
        "hour": f"{row['hour']:02d}-{row['hour'] + 1:02d}",
        "average": average.replace(".", ",") if lang == "da" else average,
        "days": count(row["days"], lang),
        "peak": count(row["peak"], lang),
        "peak_weekday": t(f"weekday_{peak_weekday}", lang),
        "peak_date": row["peak_date"],
        "peak_hour": f"{row['hour']:02d}",
    }


@dataclass
class Alert:
    site_id: str
    window: str  # "today" or "hour"
    share: float
    target: float
    visits: int


@dataclass
class Overview:
    start: date
    end: date
    summary: Summary
    heat: dict[str, dict[tuple[int, int], int]]  # site → (weekday, hour) → visits
    trend: list[tuple[str, int]]  # (day, visits) in order
    alerts: list[Alert] = field(default_factory=list)
    demo_visits: int = 0
    refreshed: datetime | None = None
    busiest_by_site: dict[str, BusyHour] = field(default_factory=dict)  # see stats.busiest_hours


def failure_kind(error: BaseException) -> str | None:
    """Why the overview's count failed, for what its screen says: "damaged" (damaged pages or no
    database: only a backup helps, no retry), "unavailable" (locked, gone or unreachable: tried
    again in a moment), "denied" (the database role may not read the figures: a desk's), or
    None (said in the driver's words)."""
    cause = db_cause(error)
    if cause == "denied":
        return "denied"
    if cause in ("corrupt", "not_db"):
        return "damaged"
    if cause in ("locked", "cannot_open", "gone"):
        return "unavailable"
    import sqlite3

    found = sys.modules.get("sqlalchemy.exc")  # loaded by the store that raised it, if any
    busy = (sqlite3.OperationalError,) + (
        (found.OperationalError, found.InterfaceError) if found is not None else ()
    )
    return "unavailable" if isinstance(error, busy) else None


def _alerts(store: Store, sites: Sites, now: datetime) -> list[Alert]:
    today = now.date()
    targets = {
        s.id: float(s.target_share) for s in sites if s.kind == "jobcenter" and s.target_share
    }
    by_hour = visit_counts(store, today, today + timedelta(days=1), ("site_id", "local_hour"))
    windows: dict[str, dict[str, int]] = {"today": {}, "hour": {}}
    for (site, hour), visits in by_hour.items():
        windows["today"][site] = windows["today"].get(site, 0) + visits
        if hour == now.hour:
            windows["hour"][site] = visits
    alerts = []
    for window, per_site in windows.items():
        counted = {s: per_site.get(s, 0) for s in targets}
        total = sum(counted.values())
        if total < ALERT_MIN_VISITS[window]:
            continue
        for site, visits in counted.items():
            share = visits / total
            if share > targets[site] * (1 + ALERT_OVER):
                alerts.append(Alert(site, window, share, targets[site], visits))
    return alerts


def overview(
    store: Store,
    sites: Sites,
    start: date,
    end: date,
    now: datetime,
    filters: Filters | None = None,
) -> Overview:
    """Everything the supervisor's screen shows. The (site, weekday, hour) counts serve both the
    heat map and the busiest hours; the day figures (day_figures) the trend, the demo mark, the
    busiest hours' averages and the shares over time."""
    filters = filters or Filters()
    # One connection, one moment, and the queries of the refresh before sent together.
    with one_reading(store, again=("overview", start, end, now.date(), filters)):
        return _overview(store, sites, start, end, now, filters)


def _overview(
    store: Store, sites: Sites, start: date, end: date, now: datetime, filters: Filters
) -> Overview:
    hours = visit_counts(store, start, end, HOURS, filters=filters)
    heat: dict[str, dict[tuple[int, int], int]] = {}
    for (site, weekday, hour), visits in hours.items():
        heat.setdefault(site, {})[(weekday, hour)] = visits
    unit = share_unit(start, end)
    days = day_figures(store, start, end, filters, unit)
    name = bucket_names(unit)
    by_bucket = {(name(first), site): visits for (first, site), visits in days.by_bucket.items()}
    opened = days.opened
    # The summary's busiest five and each site's busiest (the heat map's legend), one lookup.
    busiest = busiest_hours(store, start, end, hours, opened, filters, each_site=True)
    busiest_by_site: dict[str, BusyHour] = {}
    for row in busiest:
        busiest_by_site.setdefault(row["site_id"], row)
    return Overview(
        start,
        end,
        summarize(
            store,
            sites,
            start,
            end,
            filters,
            hours=hours,
            busiest_rows=busiest,
            over_time=shares_over_time(store, sites, start, end, filters, by_bucket=by_bucket),
        ),
        heat,
        sorted((day.isoformat(), visits) for day, visits in days.per_day.items()),
        _alerts(store, sites, now),
        days.demo,
        now,
        busiest_by_site,
    )


BLOCKS = " ▁▂▃▄▅▆▇█"  # eighths of one text row


def chart_bars(
    start: date, end: date, trend: list[tuple[str, int]], width: int
) -> tuple[str, list[tuple[date, int]]]:
    """The bars of the period's chart: one a day, or one a week (from its Monday) when a day
    each would not fit in `width` columns. Days without visits are kept, as zeros."""
    per_day = dict(trend)
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    bars = [(d, per_day.get(str(d), 0)) for d in days]
    if len(bars) <= width:
        return "day", bars
    weeks: dict[date, int] = {}
    for d, n in bars:
        monday = d - timedelta(days=d.weekday())
        weeks[monday] = weeks.get(monday, 0) + n
    return "week", sorted(weeks.items())


def day_chart(
    start: date,
    end: date,
    trend: list[tuple[str, int]],
    width: int,
    weekday_names: list[str],
    shown: Callable[[int], str] = str,
    height: int = 4,
) -> tuple[str, list[str]]:
    """The period's visits as a bar chart of text `height` rows high and at most `width`
    columns wide, scaled from zero: a day without visits (closed) is a gap, the highest bar is
    labelled with its count, and the days are labelled below (weekday and date when there is
    room, else the date of each Monday). Returns ("day" or "week", the lines)."""
    unit, bars = chart_bars(start, end, trend, max(1, width - len(shown(0)) - 8))
    top = max((n for _, n in bars), default=0)  # a week's bar sums its days
    top_label = shown(top)
    gutter = len(top_label) + 1
    step = max(1, min(4, (width - gutter) // max(1, len(bars))))
    bar_width = step - 1 if step > 1 else 1
    rows = []
    for row in range(height, 0, -1):  # top row first
        cells = []
        for _, n in bars:
            eighths = 0 if not top else max(1 if n else 0, round(n * height * 8 / top))
            level = min(8, max(0, eighths - (row - 1) * 8))
            cells.append((BLOCKS[level] * bar_width).ljust(step))
        axis = top_label if row == height else ("0" if row == 1 else "")
        rows.append((f"{axis:>{gutter - 1}} " + "".join(cells))[:width].rstrip())
    labels = [" " * gutter, " " * gutter]
    if unit == "day" and step >= 3:  # each bar its weekday and day of month
        for d, _ in bars:
            labels[0] += weekday_names[d.weekday()][:2].ljust(step)
            labels[1] += f"{d.day:>2}".ljust(step)
    else:  # the date under each Monday (and the first bar) where it fits
        line = " " * gutter
        for i, (d, _) in enumerate(bars):
            column = gutter + i * step
            if (i == 0 or d.weekday() == 0) and column >= len(line) + (1 if i else 0):
                line = line.ljust(column) + f"{d.day}/{d.month}"
        labels = [line[:width]]
    return unit, rows + [label[:width].rstrip() for label in labels]


def above_target(x: ShareInTime) -> bool:
    """A month's share more than ALERT_OVER above the site's target (as the alert line)."""
    return x.share is not None and x.share > x.target * (1 + ALERT_OVER)


def latest_shares(
    rows: list[ShareInTime], most: int
) -> tuple[list[str], dict[str, list[ShareInTime]]]:
    """The last `most` months (or weeks) of the shares over time, and each site's shares in
    them, the sites in the order of the rows."""
    buckets = list(dict.fromkeys(x.bucket for x in rows))[-most:] if most > 0 else []
    per_site: dict[str, list[ShareInTime]] = {}
    for x in rows:
        if x.bucket in buckets:
            per_site.setdefault(x.site_id, []).append(x)
    return buckets, per_site


def bucket_label(bucket: str, lang: str) -> str:
    """A month as "sep 26", an ISO week as "u40" (Danish) or "w40"."""
    year, part = bucket.split("-")
    if part.startswith("W"):
        return t("share_week", lang, week=int(part[1:]))
    return f"{t('share_months', lang).split()[int(part) - 1]} {year[2:]}"


def share_cell(x: ShareInTime) -> str:
    """A share in whole per cent, "–" when no one came to the jobcentres then, "*" when high."""
    if x.share is None:
        return "–"
    return f"{x.share * 100:.0f}" + ("*" if above_target(x) else "")


PART_MARK = "°"  # a month (or week) the period cuts: only some of its days are counted


def partial_buckets(rows: list[ShareInTime]) -> dict[str, tuple[str, str]]:
    """The months (or ISO weeks) the period cuts, each with the first and last day counted."""
    cut = {}
    for x in rows:
        first, last = date.fromisoformat(x.first), date.fromisoformat(x.last)
        if x.bucket.split("-")[1].startswith("W"):
            whole = first.weekday() == 0 and last.weekday() == 6
        else:
            whole = first.day == 1 and (last + timedelta(days=1)).day == 1
        if not whole:
            cut[x.bucket] = (x.first, x.last)
    return cut


def marked_label(bucket: str, cut: dict[str, tuple[str, str]], lang: str) -> str:
    """The bucket's label, with PART_MARK when the period counts only some of its days."""
    return bucket_label(bucket, lang) + (PART_MARK if bucket in cut else "")


def partial_note(buckets: list[str], cut: dict[str, tuple[str, str]], lang: str) -> str:
    """The footnote to PART_MARK: which days of each cut month (or week) are counted."""
    parts = [
        f"{bucket_label(b, lang)} {cut[b][0]}"
        + ("" if cut[b][0] == cut[b][1] else f" – {cut[b][1]}")
        for b in buckets
        if b in cut
    ]
    return t("share_partial", lang, mark=PART_MARK, parts="; ".join(parts)) if parts else ""


# --- the queue: who waits now, and the period's wait and service time (triage.waits) -----


@dataclass
class QueueOverview:
    """The queue's part of the overview: the period's wait and service figures (its done
    tickets), who waits now, and whether the log holds tickets at all (without, the screen
    shows nothing of the queue)."""

    waits: Waits
    now: dict[str, WaitingNow]
    used: bool


def queue_overview(
    store: Store, start: date, end: date, now: datetime, filters: Filters | None = None
) -> QueueOverview:
    """Read apart from overview(): a year's tickets take longer than its rollups, and the
    figures of the visits should not wait for them."""
    waits = wait_times(store, start, end, filters)
    waiting = waiting_now(store, now=now)
    return QueueOverview(waits, waiting, bool(waiting) or not waits.empty or has_tickets(store))


def queue_sites(waits: Waits, now: dict[str, WaitingNow], listed: list[str]) -> list[str]:
    """The sites the queue's table shows: those with figures in the period or waiting now, in
    the order of the site table (`listed`), then by id."""
    found = set(waits.by_site) | set(now)
    return sorted(found, key=lambda s: (listed.index(s) if s in listed else len(listed), s))
