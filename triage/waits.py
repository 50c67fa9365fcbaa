"""Waiting and service time from the queue's tickets, for supervisors and planners.

Plain Python over the store's engine; no Textual. Read from the ticket table (visit_ticket), the
one place a no-show is kept; a ticket is never linked to its visit, so these figures stand beside
the visit counts, not inside them. What each figure counts (README, "Waiting and service time"):

- a ticket belongs to the local date, weekday and hour it was issued (taken at the kiosk);
- served: tickets done as served (the citizen came to the desk and was helped);
- no-shows: tickets done as not come (called, recalled, still nobody);
- wait: issue to first call, whole seconds, over the served tickets and the no-shows (a
  no-show waited as long as the queue made them: the desk called after that wait);
- service: last call to done, whole seconds, over the served tickets only;
- median and 90th percentile: over the tickets of the cell, interpolated linearly between the
  two nearest ranks (as Excel's MEDIAN and PERCENTILE.INC, PostgreSQL's percentile_cont): a
  90th percentile of 20 minutes means 9 in 10 waited 20 minutes or less. None without tickets.
  Computed here in Python from the fetched seconds, so both engines give the same figure;
- tickets still waiting or at a desk are not in the period's figures (they are not done): they
  are what `waiting_now` shows;
- filters: a site filter chooses the sites; an errand group the tickets issued for its
  outcomes; tickets are arrivals in person, so a channel filter without in-person leaves none;
  a ticket has no destination, so a destination filter does not apply. Tickets carry no demo
  mark: a demo database's tickets (one `triage demo` filled) are all practice, and leaving demo
  out leaves them all out.
- `triage purge` deletes tickets with the visit detail: purged days have no wait figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from triage.db.queries import Filters
from triage.i18n import count, t

if TYPE_CHECKING:
    from triage.db.store import Store
    from triage.sites import Sites

# The states of a ticket that is done (triage.db.models.TICKET_STATES).
DONE_STATES = ("served", "no_show")
SLOT = ("site_id", "local_weekday", "local_hour")  # a site's weekday hour


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """The value below which `fraction` of the values lie, interpolated linearly between the
    two nearest ranks (Excel's PERCENTILE.INC, PostgreSQL's percentile_cont); `ordered` must be
    sorted. None for no values."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * fraction
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class WaitFigures:
    """One cell's figures (a site, or a site's hour or weekday hour); seconds, None when
    no ticket counts for it."""

    served: int
    no_shows: int
    wait_median_s: float | None
    wait_p90_s: float | None
    service_median_s: float | None
    service_p90_s: float | None

    @property
    def tickets(self) -> int:
        """The tickets the wait is counted over: served and no-shows."""
        return self.served + self.no_shows


def figures_of(waits: Iterable[int], services: Iterable[int]) -> WaitFigures:
    """One cell's figures from its tickets' wait seconds (served and no-shows) and service
    seconds (served only: one each)."""
    wait, service = sorted(waits), sorted(services)
    return WaitFigures(
        len(service),
        len(wait) - len(service),
        percentile(wait, 0.5),
        percentile(wait, 0.9),
        percentile(service, 0.5),
        percentile(service, 0.9),
    )


@dataclass
class Waits:
    """The period's wait and service figures, per site, per site and hour of the day (all
    weekdays together) and per site, weekday (0 = Monday) and hour; and for all sites."""

    start: date
    end: date  # excluded
    by_site: dict[str, WaitFigures] = field(default_factory=dict)
    by_hour: dict[tuple[str, int], WaitFigures] = field(default_factory=dict)
    by_slot: dict[tuple[str, int, int], WaitFigures] = field(default_factory=dict)
    overall: WaitFigures | None = None  # None: no ticket done in the period

    @property
    def empty(self) -> bool:
        return self.overall is None


def _applies(filters: Filters) -> bool:
    """Whether any ticket can pass the filters: tickets are arrivals in person."""
    return filters.channels is None or "in_person" in filters.channels


Seconds = tuple[list[int], list[int]]  # (waits, services), each sorted


def slot_seconds(
    store: Store, start: date, end: date, filters: Filters | None = None
) -> dict[tuple[str, int, int], Seconds]:
    """The done tickets' wait seconds (served and no-shows) and service seconds (served), per
    (site, weekday, hour), each list sorted. The database hands each slot's seconds over as one
    text: a year's tickets come in a few hundred rows, not one Python row each."""
    filters = filters or Filters()
    if not _applies(filters) or (not filters.include_demo and store.holds_demo()):
        return {}
    sqlite = store.dialect == "sqlite"
    params: dict[str, object] = {}

    def param(value: object) -> str:
        """A placeholder for the value, in the driver's own style."""
        name = f"p{len(params)}"
        params[name] = value.isoformat() if sqlite and isinstance(value, date) else value
        return f":{name}" if sqlite else f"%({name})s"

    def listed(values: Sequence[str]) -> str:
        return ", ".join(param(v) for v in values) or "NULL"

    def joined(seconds: str) -> str:  # NULLs are left out
        return f"group_concat({seconds})" if sqlite else f"string_agg(({seconds})::text, ',')"

    where = [
        f"local_date >= {param(start)}",
        f"local_date < {param(end)}",
        f"state IN ({listed(DONE_STATES)})",
    ]
    if filters.sites is not None:
        where.append(f"site_id IN ({listed(filters.sites)})")
    if filters.outcomes is not None:
        where.append(f"errand IN ({listed(filters.outcomes)})")
    served = f"CASE WHEN state = {param('served')} THEN COALESCE(service_s, 0) END"
    query = (
        f"SELECT {', '.join(SLOT)}, {joined('COALESCE(wait_s, 0)')}, {joined(served)} "  # noqa: S608
        f"FROM visit_ticket WHERE {' AND '.join(where)} GROUP BY {', '.join(SLOT)}"
    )
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(query, params)
        rows = cursor.fetchall()
    finally:
        raw.close()
    return {
        (site, int(weekday), int(hour)): (_seconds(waits), _seconds(services))
        for site, weekday, hour, waits, services in rows
    }


def _seconds(joined: str | None) -> list[int]:
    return sorted(map(int, joined.split(","))) if joined else []


def wait_times(store: Store, start: date, end: date, filters: Filters | None = None) -> Waits:
    """The period's wait and service figures (see the module's definitions), from one read of
    its done tickets: each weekday hour's seconds, then those put together per hour, per site
    and for all (sorted runs put together sort fast)."""
    slots = slot_seconds(store, start, end, filters)
    hours: dict[tuple[str, int], Seconds] = {}
    per_site: dict[str, Seconds] = {}
    everything: Seconds = ([], [])
    for (site, _, hour), (waits, services) in slots.items():
        for together in (
            hours.setdefault((site, hour), ([], [])),
            per_site.setdefault(site, ([], [])),
            everything,
        ):
            together[0].extend(waits)
            together[1].extend(services)
    return Waits(
        start,
        end,
        by_site={k: figures_of(*v) for k, v in sorted(per_site.items())},
        by_hour={k: figures_of(*v) for k, v in sorted(hours.items())},
        by_slot={k: figures_of(*v) for k, v in sorted(slots.items())},
        overall=figures_of(*everything) if slots else None,
    )


@dataclass(frozen=True)
class WaitingNow:
    """One site's queues at this moment (today's tickets)."""

    waiting: int
    longest_s: int  # how long the first in line has waited; 0 when nobody waits
    desks: int  # desks serving a called citizen now


def waiting_now(
    store: Store, sites: Sequence[str] | None = None, now: datetime | None = None
) -> dict[str, WaitingNow]:
    """Per site with tickets waiting or at a desk now: how many wait (all its queues), the
    longest wait so far, and the desks serving. Live: read at each call."""
    from triage.queue import Tickets  # the queue's own reading of "now", one definition

    tickets = Tickets(store)
    try:
        status = tickets.status(sites, now)
    finally:
        tickets.close()
    return {
        site: WaitingNow(
            sum(q.waiting for q in found.queues.values()),
            max((q.longest_s for q in found.queues.values()), default=0),
            len(found.desks),
        )
        for site, found in sorted(status.items())
    }


def has_tickets(store: Store) -> bool:
    """Whether the log holds any ticket at all (a place without the queue shows none of this)."""
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT 1 FROM visit_ticket LIMIT 1")
        return cursor.fetchone() is not None
    finally:
        raw.close()


def minutes(seconds: float | None, lang: str = "da") -> str:
    """Seconds as minutes for people: one decimal under ten minutes (0,5 and 8,2), whole ones
    from ten (12, 31); "–" for none."""
    if seconds is None:
        return "–"
    # Halves round up, as people round (12,5 minutes is 13, not Python's even 12).
    if seconds < 600:
        shown = f"{math.floor(seconds / 6 + 0.5) / 10:.1f}"
    else:
        shown = str(math.floor(seconds / 60 + 0.5))
    return shown.replace(".", ",") if lang == "da" else shown


def summary_lines(waits: Waits, sites: Sites, lang: str = "da") -> list[str]:
    """A short block for `triage summary`: each site's wait and service in minutes (median /
    90th percentile), served and no-shows; nothing when no ticket was done in the period."""
    if waits.empty:
        return []
    lines = [t("sum_waits_heading", lang)]
    for site, x in waits.by_site.items():
        lines.append(
            "  "
            + t(
                "sum_waits_site",
                lang,
                site=sites.name_of(site, lang),
                wait=f"{minutes(x.wait_median_s, lang)} / {minutes(x.wait_p90_s, lang)}",
                service=f"{minutes(x.service_median_s, lang)} / {minutes(x.service_p90_s, lang)}",
                served=count(x.served, lang),
                no_shows=count(x.no_shows, lang),
            )
        )
    return lines
