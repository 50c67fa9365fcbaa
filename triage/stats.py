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
- referred: a visit whose outcome sends the citizen somewhere other than the site they came to;
- same period last year: the same dates one year earlier; 29 February, which last year did not
  have, stands for 28 February (see same_period_last_year);
- share over time: the share per month (per ISO week for a period of 12 weeks or less), with the
  same rule as the share; a month cut by the period counts only its days inside the period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, TypedDict

from triage.db.queries import (
    Filters,
    counts_in_periods,
    first_day,
    hour_peaks,
    open_days,
    postcode_rollup_counts,
    rollup_counts,
)
from triage.db.store import Store
from triage.sites import Sites

if TYPE_CHECKING:
    from triage.flow import Flow
    from triage.model import Text

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
class ShareInTime:
    """A targeted jobcentre's share in one month (or ISO week) of a period."""

    site_id: str
    bucket: str  # "2026-10", or "2026-W43" for a week
    first: str  # the first day counted (a month cut by the period counts only its days in it)
    last: str  # the last day counted, included
    visits: int
    share: float | None  # None when no one came to the jobcentres in that month
    target: float
    difference: float | None  # share − target


@dataclass
class Summary:
    start: str
    end: str
    total: int
    sites: list[SiteShare]
    overall_imbalance: float
    previous_total: int
    change: float | None  # against the previous period (previous_period)
    change_by_site: dict[str, float | None]
    last_year_start: str  # the same period a year earlier (end excluded, as `end`)
    last_year_end: str
    last_year_total: int
    change_from_last_year: float | None  # None when last year had no visits
    misdirected: int
    with_postcode: int  # visits whose postcode was given for a jobcentre errand
    misdirection: dict[str, dict[str, int]]  # home site → visited site → visits
    referred: int
    referred_by_kind: dict[str, int]
    busiest_hours: list[BusyHour] = field(default_factory=list)
    shares_over_time: list[ShareInTime] = field(default_factory=list)
    log_start: str | None = None  # the first day the log holds visits on; None: no visits

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


def year_earlier(day: date) -> date:
    """The same date a year earlier; 29 February, which that year lacks, as 28 February."""
    if day.month == 2 and day.day == 29:
        return date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def same_period_last_year(start: date, end: date) -> tuple[date, date]:
    """(start, end), end excluded, of the same dates one year earlier: the first and the last
    day each moved back a year. Whole months compare with the same whole months (February 2025
    with all of February 2024, 29 February included). The one definition the summary, the
    overview and the committee's report share."""
    if start.day == 1 and end.day == 1:
        return year_earlier(start), year_earlier(end)
    return year_earlier(start), year_earlier(end - timedelta(days=1)) + timedelta(days=1)


def previous_period(start: date, end: date) -> tuple[date, date]:
    """(start, end), end excluded, of the period the change is measured against. Whole calendar
    months (a last month, a quarter) compare with as many whole months before (October with
    all of September); a month so far, from its 1st for more than a week, with the same days
    of the month before (30 March with 1–28 February); any other period, today and this week
    too, with as many days just before it. The one definition of the summary (every format)
    and the overview; the committee's report, a whole month, compares with the month before."""
    if start.day == 1 and end.day == 1:
        months = (end.year - start.year) * 12 + end.month - start.month
        return _first_of_month(start, -months), start
    if start.day == 1 and end - start > timedelta(days=7) and end < _first_of_month(start, 1):
        first = _first_of_month(start, -1)
        return first, min(first + (end - start), start)
    return start - (end - start), start


def _first_of_month(first: date, months: int) -> date:
    """The first day of the month `months` after (or before) the month of `first`."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _change(now: int, before: int) -> float | None:
    return None if before == 0 else now / before - 1


HOURS = ("site_id", "local_weekday", "local_hour")


class BusyHour(TypedDict):
    site_id: str
    weekday: int  # 0 = Monday
    hour: int
    visits: int  # in the whole period
    days: int  # days of that weekday the site had visits
    average: float  # visits ÷ days
    peak: int  # the most visits in that hour on one day
    peak_date: str


def busiest_hours(
    store: Store,
    start: date,
    end: date,
    hours: dict[tuple, int],
    opened: dict[tuple[str, int], int],
    filters: Filters | None = None,
    limit: int = 5,
    each_site: bool = False,
) -> list[BusyHour]:
    """The (site, weekday, hour) slots with the most visits on average, busiest first, from
    visits per (site, weekday, hour) (HOURS) and the days each site was open per (site,
    weekday) (open_days: the days it had visits). The peak is the slot's single busiest hour,
    with its date (the earliest on a tie), looked up for the slots returned only. Ties go by
    site, weekday, hour. The `limit` busiest; with `each_site` also each site's busiest, so
    the first row of a site is its busiest and the first `limit` rows are still the busiest."""
    # Sorted as plain tuples, the average negated (busiest first): a key function called for
    # each of a year's thousand slots cost more than the sort.
    ordered = sorted(
        (-visits / opened[(site, weekday)], site, weekday, hour, visits)
        for (site, weekday, hour), visits in hours.items()
        if opened.get((site, weekday))
    )
    sites_seen: set[str] = set()
    ranked = []
    for i, (negated, site, weekday, hour, visits) in enumerate(ordered):
        if i < limit or (each_site and site not in sites_seen):
            ranked.append((-negated, site, weekday, hour, visits))
        sites_seen.add(site)
    slots = [(site, weekday, hour) for _, site, weekday, hour, _ in ranked]
    peaks = hour_peaks(store, start, end, slots, filters or Filters())
    return [
        {
            "site_id": site,
            "weekday": weekday,
            "hour": hour,
            "visits": visits,
            "days": opened[(site, weekday)],
            "average": average,
            "peak": peaks[(site, weekday, hour)][0],
            "peak_date": peaks[(site, weekday, hour)][1].isoformat(),
        }
        for average, site, weekday, hour, visits in ranked
    ]


def summarize(
    store: Store,
    sites: Sites,
    start: date,
    end: date,
    filters: Filters | None = None,
    busiest: int = 5,
    hours: dict[tuple, int] | None = None,
    days: dict[tuple, int] | None = None,
    busiest_rows: list[BusyHour] | None = None,
    over_time: list[ShareInTime] | None = None,
) -> Summary:
    """The supervisor's figures for one period, with the previous period (previous_period).
    Each query lets the database aggregate and returns a few rows (shipping every hourly cell
    to Python was slower). `hours` — visits per (site, weekday, hour) — and the busiest hours
    (busiest_hours) may be passed in by a caller that has them already, as may `days` (see
    shares_over_time) or the shares over time themselves (`over_time`).

    A site filter chooses which sites are shown and counted in the totals; shares and
    imbalances stay against all jobcentres, as their targets are."""
    filters = filters or Filters()
    last_year = same_period_last_year(start, end)
    # The previous period and last year in one small query over the day rollup.
    previous, last_years = counts_in_periods(
        store, [previous_period(start, end), last_year], ("site_id",), filters
    )
    before = {k[0]: v for k, v in previous.items()}
    last_year_total = sum(last_years.values())
    if hours is None:
        hours = visit_counts(store, start, end, HOURS, filters=filters)
    if busiest_rows is None:
        opened = open_days(store, start, end, filters)
        busiest_rows = busiest_hours(store, start, end, hours, opened, filters, busiest)
    per_site: dict[str, int] = {}
    for (site, _, _), visits in hours.items():  # one query fewer: the hours hold every visit
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
    routes = visit_counts(
        store,
        start,
        end,
        ("postcode_site_id", "site_id", "destination_id", "handled_here"),
        filters=filters,
    )
    # Each home, each route and each destination decided once, not once a row.
    counted = {home: counts_for_misdirection(sites, home) for home in {r[0] for r in routes}}
    pairs = {(r[0], r[1]) for r in routes if counted[r[0]]}
    wrong = {(home, visited): is_misdirected(sites, home, visited) for home, visited in pairs}
    kinds = {d: referral_kind(sites, d) for d in {r[2] for r in routes if not r[3]}}
    for (home, visited, destination, here), visits in routes.items():
        if home:
            row = matrix.setdefault(home, {})
            row[visited] = row.get(visited, 0) + visits
            if counted[home]:
                with_postcode += visits
                if wrong[home, visited]:
                    misdirected += visits
        if not here:
            kind = kinds[destination]
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
        last_year_start=last_year[0].isoformat(),
        last_year_end=last_year[1].isoformat(),
        last_year_total=last_year_total,
        change_from_last_year=_change(total, last_year_total),
        misdirected=misdirected,
        with_postcode=with_postcode,
        misdirection=matrix,
        referred=sum(referred_by_kind.values()),
        referred_by_kind=referred_by_kind,
        busiest_hours=busiest_rows[:busiest],
        shares_over_time=(
            shares_over_time(store, sites, start, end, filters, days)
            if over_time is None
            else over_time
        ),
        log_start=_iso(first_day(store, filters.include_demo)),
    )


WEEKLY_UP_TO = timedelta(weeks=12)  # a period this short has too few months for a trend


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def share_unit(start: date, end: date) -> str:
    """Weekly ("week") for a period of 12 weeks or less, else monthly ("month")."""
    return "week" if end - start <= WEEKLY_UP_TO else "month"


def _buckets(start: date, end: date, unit: str) -> list[tuple[str, date, date]]:
    """(name, first day, last day) of each month or ISO week of [start, end), cut to it."""
    out = []
    first = start
    while first < end:
        if unit == "week":
            after = first + timedelta(days=7 - first.weekday())
        else:
            after = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
        last = min(after, end) - timedelta(days=1)
        out.append((str(_bucket(first, 0, 0, unit)), first, last))
        first = last + timedelta(days=1)
    return out


# Each day's month and ISO week, worked out once a day rather than once a row each refresh.
_BUCKET_NAMES: dict[str, dict[date, str]] = {"month": {}, "week": {}}


def bucket_names(unit: str) -> Callable[[date], str]:
    """The name of a day's month ("2026-10") or ISO week ("2026-W43"), as `unit` says,
    remembered per day (the overview names hundreds of days each refresh)."""
    names = _BUCKET_NAMES[unit]

    def name(day: date) -> str:
        try:
            return names[day]
        except KeyError:
            found = names[day] = str(_bucket(day, 0, 0, unit))
            return found

    return name


def shares_over_time(
    store: Store,
    sites: Sites,
    start: date,
    end: date,
    filters: Filters | None = None,
    days: dict[tuple, int] | None = None,
    by_bucket: dict[tuple[str, str], int] | None = None,
) -> list[ShareInTime]:
    """Each targeted jobcentre's share per month (per ISO week for 12 weeks or less) with its
    target: its visits ÷ the visits at all targeted jobcentres in that month, as the share.
    A site filter only chooses the sites listed: shares stay against all jobcentres. `days`,
    visits per (local_date, site_id, …) read without the site filter, may be passed in by a
    caller that has them already, or `by_bucket`: those visits summed per (bucket name as
    bucket_names gives it, site). Ordered by site (as the summary's sites), then by time."""
    filters = filters or Filters()
    unit = share_unit(start, end)
    buckets = _buckets(start, end, unit)
    counted = by_bucket
    if counted is None:
        if days is None:
            days = visit_counts(
                store, start, end, ("local_date", "site_id"), filters=replace(filters, sites=None)
            )
        bucket_of = bucket_names(unit)
        counted = defaultdict(int)
        for key, visits in days.items():
            day = key[0]
            counted[bucket_of(day) if start <= day < end else "", key[1]] += visits
    targeted = [s for s in sites if s.kind == "jobcenter" and s.target_share]
    totals = {name: sum(counted.get((name, s.id), 0) for s in targeted) for name, _, _ in buckets}
    shown = [s for s in targeted if filters.sites is None or s.id in filters.sites]
    rows = []
    for site in shown:
        target = float(site.target_share or 0)
        for name, first, last in buckets:
            visits = counted.get((name, site.id), 0)
            share = visits / totals[name] if totals[name] else None
            rows.append(
                ShareInTime(
                    site.id,
                    name,
                    first.isoformat(),
                    last.isoformat(),
                    visits,
                    share,
                    target,
                    None if share is None else share - target,
                )
            )
    return rows


@dataclass(frozen=True)
class ErrandGroup:
    """One answer to the flow's first question ("Sygdom og sygedagpenge"), and the outcomes
    reached from it: a visit belongs to the group of its outcome."""

    key: int
    label: Text
    outcomes: tuple[str, ...]


def errand_groups(flow: Flow) -> list[ErrandGroup]:
    """The first question's answers as errand groups, in the order of their keys."""
    first = flow.questions.get(flow.start)
    groups = []
    for option in first.options if first else ():
        seen, queue = {option.next}, [option.next]
        while queue:
            for following in flow.successors(queue.pop()):
                if following not in seen:
                    seen.add(following)
                    queue.append(following)
        outcomes = tuple(sorted(node for node in seen if node in flow.outcomes))
        groups.append(ErrandGroup(option.key, option.label, outcomes))
    return groups


def find_group(groups: list[ErrandGroup], name: str) -> ErrandGroup | None:
    """The group a person named: its key ("1") or the start of its text in Danish or English
    ("sygdom", "job"), in any case; None unless exactly one group fits."""
    wanted = name.strip().casefold()
    if not wanted:
        return None
    found = [
        g
        for g in groups
        if wanted == str(g.key)
        or g.label.da.casefold().startswith(wanted)
        or g.label.en.casefold().startswith(wanted)
    ]
    return found[0] if len(found) == 1 else None
