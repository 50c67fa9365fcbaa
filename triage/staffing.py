"""Counters needed per site and hour: the Erlang C queue model.

Citizens arrive at random (λ per hour) and each takes on average `service_minutes` at a counter.
With N open counters, Erlang C gives the chance that a citizen has to wait at all, and from it
the share who wait less than a target time. The staffing table takes, for every site, weekday
and hour, the average arrivals over the chosen period and finds the fewest counters that reach
the target (by default 80 % served within 10 minutes).

Erlang B is computed by its recursion, which stays exact for hundreds of counters where the
textbook factorial formula overflows.

The time per citizen is measured where the queue has measured it: the MEAN service time of the
period's served visits at the site (Erlang C's offered load is arrivals × mean service time; a
median would understate it, service times having a long tail). A site with fewer than
MEASURED_AT_LEAST such visits uses the estimate in sites.toml (`service_minutes`). Per site, not
per errand or queue: a site's counters serve all its errands, and the arrivals are counted per
site, so the mean over the site's mix of errands is the one the model needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from triage.i18n import count, t

if TYPE_CHECKING:  # the database layer loads SQLAlchemy: only when a staffing is made
    from triage.db.queries import Filters
    from triage.db.store import Store
    from triage.sites import Sites

DEFAULT_WAIT_MINUTES = 10.0
DEFAULT_WAIT_SHARE = 0.80
MOST_COUNTERS = 500  # a guard against nonsense input, far above any jobcentre
# Served visits with a measured service time a site needs in the period before its measured
# mean is used: with fewer, one long conversation moves the mean by minutes.
MEASURED_AT_LEAST = 30


def erlang_b(counters: int, load: float) -> float:
    """Chance that all counters are busy in a system that turns arrivals away (Erlang B)."""
    blocked = 1.0
    for k in range(1, counters + 1):
        blocked = load * blocked / (k + load * blocked)
    return blocked


def erlang_c(counters: int, load: float) -> float:
    """Chance that an arriving citizen must wait (Erlang C); 1.0 when the queue never empties.
    `load` is the offered traffic in erlangs: arrivals per hour × service hours per citizen."""
    if load <= 0:
        return 0.0
    if counters <= load:
        return 1.0
    blocked = erlang_b(counters, load)
    return counters * blocked / (counters - load * (1 - blocked))


def served_within(counters: int, load: float, wait_minutes: float, service_minutes: float) -> float:
    """Share of citizens who wait less than `wait_minutes` with this many counters."""
    if load <= 0:
        return 1.0
    if counters <= load:
        return 0.0
    waits = erlang_c(counters, load)
    return 1 - waits * math.exp(-(counters - load) * wait_minutes / service_minutes)


@dataclass(frozen=True)
class Need:
    counters: int
    served_within: float  # the share waiting less than the target time at that many counters
    mean_wait_minutes: float


def counters_needed(
    arrivals_per_hour: float,
    service_minutes: float,
    wait_minutes: float = DEFAULT_WAIT_MINUTES,
    wait_share: float = DEFAULT_WAIT_SHARE,
) -> Need:
    """The fewest counters at which at least `wait_share` of citizens wait less than
    `wait_minutes`. No arrivals need no counters."""
    if arrivals_per_hour <= 0:
        return Need(0, 1.0, 0.0)
    load = arrivals_per_hour * service_minutes / 60
    counters = max(1, math.floor(load) + 1)
    while counters < MOST_COUNTERS:
        share = served_within(counters, load, wait_minutes, service_minutes)
        if share >= wait_share:
            break
        counters += 1
    else:
        share = served_within(counters, load, wait_minutes, service_minutes)
    mean_wait = erlang_c(counters, load) * service_minutes / (counters - load)
    return Need(counters, share, mean_wait)


@dataclass(frozen=True)
class ServiceTime:
    """The mean minutes a counter spends on one citizen at a site, and where they come from."""

    minutes: float
    visits: int  # the served visits it was measured on; 0: the estimate from sites.toml

    @property
    def measured(self) -> bool:
        return self.visits > 0

    def says(self, lang: str) -> str:
        """ "målt: 11,5 min på 240 besøg" or "anslået: 12 min": which the staffing used."""
        if self.measured:
            minutes = _minutes(self.minutes, lang)
            return t("staffing_measured", lang, minutes=minutes, n=count(self.visits, lang))
        return t("staffing_estimated", lang, minutes=_minutes(self.minutes, lang))


def _minutes(minutes: float, lang: str) -> str:
    shown = f"{minutes:.1f}".removesuffix(".0")
    return shown.replace(".", ",") if lang == "da" else shown


def measured_service(
    store: Store, start: date, end: date, filters: Filters | None = None
) -> dict[str, tuple[int, float]]:
    """Per site: the served visits in [start, end) with a measured service time (called from
    the queue; not void), and their mean service time in seconds."""
    from sqlalchemy import func, select

    from triage.db.models import Visit, table_of

    visit = table_of(Visit)
    where = [
        visit.c.local_date >= start,
        visit.c.local_date < end,
        visit.c.voided_utc.is_(None),
        visit.c.service_s.is_not(None),
    ]
    if filters is not None:
        for column, values in (
            (visit.c.site_id, filters.sites),
            (visit.c.destination_id, filters.destinations),
            (visit.c.channel, filters.channels),
            (visit.c.outcome_id, filters.outcomes),
        ):
            if values is not None:
                where.append(column.in_(list(values)))
        if not filters.include_demo:
            where.append(visit.c.demo.is_(False))
    query = (
        select(visit.c.site_id, func.count(), func.avg(visit.c.service_s))
        .where(*where)
        .group_by(visit.c.site_id)
    )
    with store.engine.connect() as conn:
        return {site: (int(n), float(mean)) for site, n, mean in conn.execute(query)}


def service_times(
    store: Store,
    sites: Sites,
    start: date,
    end: date,
    filters: Filters | None = None,
    at_least: int = MEASURED_AT_LEAST,
) -> dict[str, ServiceTime]:
    """Per site: the measured mean service time where the site has at least `at_least` served
    visits measured in the period, else sites.toml's estimate; a site with neither is left
    out (no staffing for it)."""
    measured = measured_service(store, start, end, filters)
    found: dict[str, ServiceTime] = {}
    for site in _ids(sites, measured):
        visits, mean_s = measured.get(site, (0, 0.0))
        if visits >= max(at_least, 1):
            found[site] = ServiceTime(mean_s / 60, visits)
        elif site in sites and sites[site].service_minutes:
            found[site] = ServiceTime(float(sites[site].service_minutes or 0), 0)
    return found


def _ids(sites: Sites, measured: dict[str, tuple[int, float]]) -> Iterable[str]:
    yield from sorted({s.id for s in sites} | set(measured))
