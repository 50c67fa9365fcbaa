"""Footfall figures from the visit log's rollups, never from the visit table itself.

Plain Python over the store; no Textual. The rollups are kept by triggers in the same
transaction as every visit and void, so the figures are exact, and purging detail changes none.

Periods are local (Europe/Copenhagen) dates, `start` included and `end` excluded. Definitions a
supervisor can read:
- share: a jobcentre site's part of all visits registered at the jobcentre sites;
- imbalance of a site: share ÷ target share − 1 (+0.25 means a quarter more than its target;
  none for a period without visits at the jobcentres, where there is no share to compare);
- overall imbalance: half the sum of |share − target| over the sites, i.e. the part of all
  visitors who would have had to go to another site for every site to be exactly on target;
- misdirected: a visit registered at another jobcentre than the one whose catchment the citizen's
  postcode is in, or by a citizen whose postcode belongs to another municipality (a site marked
  `municipality = true`: Frederiksberg, "anden-kommune"; never Borgerservice). Out of the visits
  whose postcode was given for a jobcentre errand (`with_postcode`): a postcode that chose a
  social centre says where to refer the citizen, not which jobcentre they should have gone to.
  A postcode of another municipality counts whatever the errand: the citizen belongs there;
- referred: a visit whose outcome sends the citizen somewhere other than the site they came to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import TypedDict

from triage.db.queries import Filters, postcode_rollup_counts, rollup_counts
from triage.db.store import Store
from triage.sites import Sites

BUCKETS = ("hour", "weekday", "day", "week", "month")


def visit_counts(
    store: Store,
    start: date,
    end: date,
    by: tuple[str, ...] = ("site_id",),
    include_demo: bool = True,
    filters: Filters | None = None,
) -> dict[tuple, int]:
    """Visits in the period, counted per combination of the `by` columns, from the narrowest
    rollup that has them; whole months from its month rollup where it has one."""
    return rollup_counts(store, start, end, by, filters or Filters(include_demo=include_demo))


def postcode_counts(
    store: Store, start: date, end: date, filters: Filters | None = None
) -> dict[tuple[int, str, str], int]:
    """Visits that gave a postcode, per (postcode, home site, visited site)."""
    return postcode_rollup_counts(store, start, end, filters or Filters())


def _bucket(day: date, hour: int, weekday: int, kind: str) -> str | int:
    if kind == "hour":
        return hour
    if kind == "weekday":
        return weekday
    if kind == "day":
        return day.isoformat()
    if kind == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def footfall(
    store: Store, start: date, end: date, bucket: str = "hour", filters: Filters | None = None
) -> dict[str, dict[str | int, int]]:
    """Visits per site per bucket (hour of day, weekday 0=Monday, day, ISO week or month)."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}")
    cells = visit_counts(
        store, start, end, ("site_id", "local_date", "local_hour", "local_weekday"), filters=filters
    )
    result: dict[str, dict[str | int, int]] = {}
    for (site, day, hour, weekday), visits in cells.items():
        per_site = result.setdefault(site, {})
        key = _bucket(day, hour, weekday, bucket)
        per_site[key] = per_site.get(key, 0) + visits
    return result


@dataclass
class SiteShare:
    site_id: str
    visits: int
    share: float
    target: float
    imbalance: float | None  # share / target - 1; None when no one came to the jobcentres


@dataclass
class Summary:
    start: str
    end: str
    total: int
    sites: list[SiteShare]
    overall_imbalance: float
    previous_total: int
    change: float | None  # against the previous period of the same length
    change_by_site: dict[str, float | None]
    misdirected: int
    with_postcode: int  # visits whose postcode was given for a jobcentre errand
    misdirection: dict[str, dict[str, int]]  # home site → visited site → visits
    referred: int
    referred_by_kind: dict[str, int]
    busiest_hours: list[BusyHour] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def is_other_municipality(sites: Sites, site_id: str) -> bool:
    """Whether `site_id` stands for another municipality (not one of Copenhagen's own places)."""
    return site_id == sites.outside or (site_id in sites and sites[site_id].municipality)


def counts_for_misdirection(sites: Sites, home: str) -> bool:
    """Whether a visit whose postcode belongs to `home` is in the misdirection rate at all:
    a jobcentre's catchment or another municipality, not a social centre's district."""
    if not home:
        return False
    return is_other_municipality(sites, home) or (home in sites and sites[home].kind == "jobcenter")


def is_misdirected(sites: Sites, home: str, visited: str) -> bool:
    """Whether a citizen whose postcode belongs to `home` came to the wrong place at `visited`.
    The one definition the summary, the overview and the exports share."""
    return home != visited and counts_for_misdirection(sites, home)


def referral_kind(sites: Sites, destination: str) -> str:
    """The kind a referral is counted under: another municipality apart from other places
    outside the jobcentres (Borgerservice is the municipality's own)."""
    if is_other_municipality(sites, destination):
        return "municipality"
    return sites[destination].kind if destination in sites else "external"


def _change(now: int, before: int) -> float | None:
    return None if before == 0 else now / before - 1


HOURS = ("site_id", "local_weekday", "local_hour")
DAY_HOURS = ("site_id", "local_date", "local_hour")  # what the busiest hours are counted from


class BusyHour(TypedDict):
    site_id: str
    weekday: int  # 0 = Monday
    hour: int
    visits: int  # in the whole period
    days: int  # days of that weekday the site had visits
    average: float  # visits ÷ days
    peak: int  # the most visits in that hour on one day
    peak_date: str


def busiest_hours(cells: dict[tuple, int], limit: int | None = None) -> list[BusyHour]:
    """The (site, weekday, hour) slots with the most visits on average, from visits per
    (site, date, hour). The average is over the days of that weekday the site was open in the
    period (the days it had visits); the peak is the slot's single busiest hour, with its date
    (the earliest on a tie). Ties go by site, weekday, hour."""
    totals: dict[tuple[str, int, int], int] = {}
    peaks: dict[tuple[str, int, int], tuple[int, date]] = {}
    open_days: dict[tuple[str, int], set[date]] = {}
    for (site, day, hour), visits in cells.items():
        weekday = day.weekday()
        slot = (site, weekday, hour)
        totals[slot] = totals.get(slot, 0) + visits
        open_days.setdefault((site, weekday), set()).add(day)
        best = peaks.get(slot)
        if best is None or (-visits, day) < (-best[0], best[1]):
            peaks[slot] = (visits, day)
    rows: list[BusyHour] = []
    for (site, weekday, hour), visits in totals.items():
        days = len(open_days[(site, weekday)])
        peak, peak_day = peaks[(site, weekday, hour)]
        rows.append(
            {
                "site_id": site,
                "weekday": weekday,
                "hour": hour,
                "visits": visits,
                "days": days,
                "average": visits / days,
                "peak": peak,
                "peak_date": peak_day.isoformat(),
            }
        )
    rows.sort(key=lambda r: (-r["average"], r["site_id"], r["weekday"], r["hour"]))
    return rows if limit is None else rows[:limit]


def summarize(
    store: Store,
    sites: Sites,
    start: date,
    end: date,
    filters: Filters | None = None,
    busiest: int = 5,
    cells: dict[tuple, int] | None = None,
) -> Summary:
    """The supervisor's figures for one period, with the previous period of the same length.
    Each query lets the database aggregate and returns a few rows. `cells` — visits per
    (site, date, hour) — may be passed in by a caller that has them already.

    A site filter chooses which sites are shown and counted in the totals; shares and
    imbalances stay against all jobcentres, as their targets are."""
    filters = filters or Filters()
    length = end - start
    before = {
        k[0]: v
        for k, v in visit_counts(
            store, start - length, start, ("site_id",), filters=filters
        ).items()
    }
    if cells is None:
        cells = visit_counts(store, start, end, DAY_HOURS, filters=filters)
    per_site: dict[str, int] = {}
    for (site, _, _), visits in cells.items():  # one query fewer: the cells hold every visit
        per_site[site] = per_site.get(site, 0) + visits
    total = sum(per_site.values())

    everywhere = per_site
    if filters.sites is not None:
        unfiltered = replace(filters, sites=None)
        everywhere = {
            k[0]: v
            for k, v in visit_counts(store, start, end, ("site_id",), filters=unfiltered).items()
        }
    targeted = [s for s in sites if s.kind == "jobcenter" and s.target_share]
    at_jobcentres = sum(everywhere.get(s.id, 0) for s in targeted)
    shares = []
    for site in targeted:
        visits = everywhere.get(site.id, 0)
        share = visits / at_jobcentres if at_jobcentres else 0.0
        target = float(site.target_share or 0)
        shares.append(
            SiteShare(site.id, visits, share, target, share / target - 1 if at_jobcentres else None)
        )
    overall = sum(abs(s.share - s.target) for s in shares) / 2 if at_jobcentres else 0.0
    if filters.sites is not None:
        shares = [s for s in shares if s.site_id in filters.sites]

    matrix: dict[str, dict[str, int]] = {}
    referred_by_kind: dict[str, int] = {}
    misdirected = with_postcode = 0
    for (home, visited, destination, here), visits in visit_counts(
        store,
        start,
        end,
        ("postcode_site_id", "site_id", "destination_id", "handled_here"),
        filters=filters,
    ).items():
        if home:
            row = matrix.setdefault(home, {})
            row[visited] = row.get(visited, 0) + visits
            if counts_for_misdirection(sites, home):
                with_postcode += visits
            if is_misdirected(sites, home, visited):
                misdirected += visits
        if not here:
            kind = referral_kind(sites, destination)
            referred_by_kind[kind] = referred_by_kind.get(kind, 0) + visits

    return Summary(
        start=start.isoformat(),
        end=end.isoformat(),
        total=total,
        sites=shares,
        overall_imbalance=overall,
        previous_total=sum(before.values()),
        change=_change(total, sum(before.values())),
        change_by_site={
            site: _change(per_site.get(site, 0), before.get(site, 0))
            for site in sorted(set(per_site) | set(before))
        },
        misdirected=misdirected,
        with_postcode=with_postcode,
        misdirection=matrix,
        referred=sum(referred_by_kind.values()),
        referred_by_kind=referred_by_kind,
        busiest_hours=busiest_hours(cells, busiest),
    )
