"""The supervisor's overview for one period: figures, heat map, trend and alerts, as plain data.

Computed from the rollups only (see triage.stats), so it is cheap to refresh while desks write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from triage.db.store import Store
from triage.i18n import count, t
from triage.sites import Sites
from triage.stats import (
    DAY_HOURS,
    BusyHour,
    Filters,
    Summary,
    busiest_hours,
    summarize,
    visit_counts,
)

PERIODS = ("today", "week", "30days", "year")
ALERT_OVER = 0.25  # a site more than 25 % above its target share
ALERT_MIN_VISITS = {"today": 20, "hour": 8}  # too few visits say nothing about balance


def period_dates(period: str, today: date) -> tuple[date, date]:
    """(start, end) with end excluded, for the named periods."""
    if period == "today":
        return today, today + timedelta(days=1)
    if period == "week":
        monday = today - timedelta(days=today.weekday())
        return monday, today + timedelta(days=1)
    if period == "30days":
        return today - timedelta(days=29), today + timedelta(days=1)
    if period == "year":
        return date(today.year, 1, 1), today + timedelta(days=1)
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
    """Everything the supervisor's screen shows. The (site, date, hour) counts serve the heat
    map, the summary and the busiest hours; the (date, demo) counts both the trend and the demo
    mark."""
    filters = filters or Filters()
    cells = visit_counts(store, start, end, DAY_HOURS, filters=filters)
    heat: dict[str, dict[tuple[int, int], int]] = {}
    for (site, day, hour), visits in cells.items():
        per_slot = heat.setdefault(site, {})
        per_slot[(day.weekday(), hour)] = per_slot.get((day.weekday(), hour), 0) + visits
    busiest_by_site: dict[str, BusyHour] = {}
    for row in busiest_hours(cells):  # busiest first: the first row of a site is its busiest
        busiest_by_site.setdefault(row["site_id"], row)
    per_day: dict[str, int] = {}
    demo = 0
    for (day, is_demo), visits in visit_counts(
        store, start, end, ("local_date", "demo"), filters=filters
    ).items():
        per_day[str(day)] = per_day.get(str(day), 0) + visits
        demo += visits if is_demo else 0
    return Overview(
        start,
        end,
        summarize(store, sites, start, end, filters, cells=cells),
        heat,
        sorted(per_day.items()),
        _alerts(store, sites, now),
        demo,
        now,
        busiest_by_site,
    )
