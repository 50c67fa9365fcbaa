"""Files for the planners: footfall tables as CSV, Excel or JSON, and visit-level rows.

Plain Python over the store's rollups (the tables) and its visit table (`--visits`); no Textual.
Everything a person reads in the files (sheet names, headers, weekday names) comes from the
i18n catalog, in Danish or English.

Rules that hold for every format:
- a text cell can never turn into a formula in Excel or LibreOffice: a text beginning with
  = + - @ tab or CR gets a leading apostrophe (CSV and Excel; JSON keeps the text as it is);
- with `min_count`, counts below it are left empty, with whatever could give them away, and the
  "about" table says so;
- a file is written under a temporary name and renamed when complete, so a full disk or a
  broken connection never leaves half a file under the real name;
- only a regular file is ever replaced, and only one the person meant to replace: an earlier
  export of the same format, read from its content. A link (whatever it points at), a device,
  a pipe, a folder or any other file is refused with a message; no missing folder is made.
"""

from __future__ import annotations

import csv
import json
import os
import re
import select
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, TextIO, cast
from xml.sax.saxutils import escape

from triage.db import csv_rows, queries
from triage.db.queries import VisitQuery
from triage.db.store import Store
from triage.errors import CodedError
from triage.i18n import t
from triage.model import LOCAL_ZONE
from triage.sites import Sites
from triage.staffing import (
    DEFAULT_WAIT_MINUTES,
    DEFAULT_WAIT_SHARE,
    MEASURED_AT_LEAST,
    counters_needed,
    service_times,
)
from triage.stats import (
    Filters,
    Summary,
    is_misdirected,
    postcode_counts,
    referral_kind,
    summarize,
    visit_counts,
)
from triage.visits import CHANNELS
from triage.waits import wait_times

FORMATS = ("csv", "xlsx", "json")
SUFFIXES = {"csv": ".csv", "xlsx": ".xlsx", "json": ".json"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Visit rows from which a CSV export on SQLite writes its two halves in two processes: below
# it, starting the second costs more than it saves.
TWO_PROCESSES_FROM = 200_000
XLSX_MAX_ROWS = 1_048_576  # Excel's limit per sheet, the header row included
EXPORT_VERSION = 1

Progress = Callable[[float], None]


def safe_text(value: str) -> str:
    """A text that a spreadsheet shows as text, never evaluates (CSV injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@dataclass(frozen=True)
class Column:
    key: str
    kind: str = "text"  # text | int | number | share | date | datetime (UTC)
    count: bool = False  # a count that min_count may suppress
    derived: bool = False  # left empty too when the row's count is suppressed


@dataclass
class Table:
    key: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    # The rows as Excel cells, where a text column holds numbers and dates (the about table's
    # values): Excel gets them as numbers and dates; CSV and JSON get `rows`, their text.
    cells: list[list] | None = None

    def title(self, lang: str) -> str:
        return t(f"exp_table_{self.key}", lang)

    def headers(self, lang: str) -> list[str]:
        return [t(f"exp_col_{c.key}", lang) for c in self.columns]


@dataclass
class Export:
    start: date
    end: date  # excluded
    lang: str
    min_count: int
    tables: list[Table]
    suppressed: int = 0  # cells left empty because of min_count
    demo: bool = False  # whether demo visits are in the figures


@dataclass(frozen=True)
class Options:
    start: date
    end: date  # excluded
    lang: str = "da"
    filters: Filters = Filters()
    min_count: int = 0
    wait_minutes: float = DEFAULT_WAIT_MINUTES
    wait_share: float = DEFAULT_WAIT_SHARE
    groups: tuple[str, ...] = ()  # the errand groups filters.outcomes stands for, for people


# --- the tables ----------------------------------------------------------------------


def build(store: Store, sites: Sites, options: Options, progress: Progress | None = None) -> Export:
    """Every table for the period, from the rollups (purged days count)."""
    start, end, lang, filters = options.start, options.end, options.lang, options.filters
    step = _stepper(progress, 7)
    tables: list[Table] = []

    hourly = visit_counts(
        store, start, end, ("site_id", "local_date", "local_hour"), filters=filters
    )
    step()
    per_day: dict[tuple, int] = {}
    for (site, day, _hour), visits in hourly.items():
        per_day[(site, day)] = per_day.get((site, day), 0) + visits
    tables.append(
        Table(
            "per_day",
            [
                Column("site_id"),
                Column("site_name"),
                Column("date", "date"),
                Column("weekday"),
                Column("visits", "int", count=True),
            ],
            [
                [s, sites.name_of(s, lang), _day(d), t(f"weekday_{_day(d).weekday()}", lang), n]
                for (s, d), n in sorted(per_day.items(), key=lambda i: (str(i[0][1]), i[0][0]))
            ],
        )
    )
    tables.append(
        Table(
            "per_hour",
            [
                Column("site_id"),
                Column("site_name"),
                Column("date", "date"),
                Column("hour", "int"),
                Column("visits", "int", count=True),
            ],
            [
                [s, sites.name_of(s, lang), _day(d), h, n]
                for (s, d, h), n in sorted(
                    hourly.items(), key=lambda i: (str(i[0][1]), i[0][2], i[0][0])
                )
            ],
        )
    )

    destinations = visit_counts(store, start, end, ("site_id", "destination_id"), filters=filters)
    step()
    tables.append(
        Table(
            "destinations",
            [
                Column("site_id"),
                Column("site_name"),
                Column("destination_id"),
                Column("destination_name"),
                Column("destination_kind"),
                Column("visits", "int", count=True),
            ],
            [
                [
                    s,
                    sites.name_of(s, lang),
                    d,
                    sites.name_of(d, lang),
                    t(f"kind_{referral_kind(sites, d)}", lang),
                    n,
                ]
                for (s, d), n in sorted(
                    destinations.items(), key=lambda i: (i[0][0], -i[1], i[0][1])
                )
            ],
        )
    )

    homes = visit_counts(store, start, end, ("postcode_site_id", "site_id"), filters=filters)
    step()
    tables.append(
        Table(
            "misdirection",
            [
                Column("home_site_id"),
                Column("home_site_name"),
                Column("site_id"),
                Column("site_name"),
                Column("misdirected"),
                Column("visits", "int", count=True),
            ],
            [
                [
                    h,
                    sites.name_of(h, lang),
                    s,
                    sites.name_of(s, lang),
                    _yes(is_misdirected(sites, h, s), lang),
                    n,
                ]
                for (h, s), n in sorted(homes.items())
                if h
            ],
        )
    )

    # Visits per postcode are kept by site and day only: by channel or errand group the table
    # stays empty rather than count visits the filter leaves out (README says so).
    by_postcode = filters.channels is None and filters.outcomes is None
    postcodes = postcode_counts(store, start, end, filters) if by_postcode else {}
    step()
    tables.append(
        Table(
            "misdirection_postcode",
            [
                Column("postcode", "int"),
                Column("home_site_id"),
                Column("site_id"),
                Column("site_name"),
                Column("misdirected"),
                Column("visits", "int", count=True),
            ],
            [
                [p, h, s, sites.name_of(s, lang), _yes(is_misdirected(sites, h, s), lang), n]
                for (p, h, s), n in sorted(postcodes.items())
            ],
        )
    )

    summary = summarize(store, sites, start, end, filters)
    step()
    tables.append(
        Table(
            "shares",
            [
                Column("site_id"),
                Column("site_name"),
                Column("visits", "int", count=True),
                Column("share", "share", derived=True),
                Column("target", "share"),
                Column("imbalance", "share", derived=True),
            ],
            [
                [
                    x.site_id,
                    sites.name_of(x.site_id, lang),
                    x.visits,
                    x.share,
                    x.target,
                    x.imbalance,
                ]
                for x in summary.sites
            ],
        )
    )

    tables.append(_shares_over_time(summary, sites, lang))
    tables.append(_staffing(store, sites, options))
    tables.append(_waits(store, sites, options))
    step()
    export = Export(start, end, lang, options.min_count, tables)
    total_hidden = options.min_count > 1 and _suppress(export, summary.total)
    if options.min_count > 1:
        _suppress_waits(export)
    if options.min_count > 1 and filters.sites is not None:
        _hide_shares_if_left_out_is_small(export, store, sites, options, summary.sites)
    demo = visit_counts(store, start, end, ("demo",), filters=filters).get((True,), 0) > 0
    export.demo = demo
    total = None if total_hidden else summary.total
    tables.insert(0, _about(export, options, total, demo, sites))
    step()
    return export


def _shares_over_time(summary: Summary, sites: Sites, lang: str) -> Table:
    """Each targeted jobcentre's share per month (per week for 12 weeks or less) against its
    target (triage.stats.shares_over_time); a site's months follow each other."""
    return Table(
        "shares_over_time",
        [
            Column("site_id"),
            Column("site_name"),
            Column("period"),
            Column("first_day", "date"),
            Column("last_day", "date"),
            Column("visits", "int", count=True),
            Column("share", "share", derived=True),
            Column("target", "share"),
            Column("difference", "share", derived=True),
        ],
        [
            [
                x.site_id,
                sites.name_of(x.site_id, lang),
                x.bucket,
                _day(x.first),
                _day(x.last),
                x.visits,
                x.share,
                x.target,
                x.difference,
            ]
            for x in summary.shares_over_time
        ],
    )


def _staffing(store: Store, sites: Sites, options: Options) -> Table:
    """Counters needed per site, weekday and hour, from the period's average arrivals in person
    (phone calls take no counter) on the days the site had visits."""
    start, end, lang = options.start, options.end, options.lang
    in_person = Filters(
        sites=options.filters.sites,
        destinations=options.filters.destinations,
        channels=tuple(c for c in options.filters.channels or ("in_person",) if c == "in_person"),
        outcomes=options.filters.outcomes,
        include_demo=options.filters.include_demo,
    )
    counts = visit_counts(
        store, start, end, ("site_id", "local_weekday", "local_hour"), filters=in_person
    )
    open_days: dict[tuple[str, int], int] = {}
    for (site, day), _ in visit_counts(
        store, start, end, ("site_id", "local_date"), filters=in_person
    ).items():
        key = (site, _day(day).weekday())
        open_days[key] = open_days.get(key, 0) + 1
    # Measured where enough visits were (the count said beside it is never below --min-count).
    at_least = max(MEASURED_AT_LEAST, options.min_count)
    measured = service_times(store, sites, start, end, in_person, at_least)
    rows = []
    for (site, weekday, hour), visits in sorted(counts.items()):
        days = open_days.get((site, weekday), 0)
        time = measured.get(site)
        service = round(time.minutes, 1) if time else None
        capacity = sites[site].capacity if site in sites else None
        arrivals = visits / days if days else 0.0
        counters: int | None
        served: float | None
        if service:
            need = counters_needed(arrivals, service, options.wait_minutes, options.wait_share)
            counters, served = need.counters, need.served_within
        else:
            counters = served = None
        rows.append(
            [
                site,
                sites.name_of(site, lang),
                t(f"weekday_{weekday}", lang),
                hour,
                days,
                visits,
                round(arrivals, 2),
                service,
                counters,
                served,
                capacity,
                _enough(counters, capacity, lang),
                time.says(lang) if time else None,
            ]
        )
    return Table(
        "staffing",
        [
            Column("site_id"),
            Column("site_name"),
            Column("weekday"),
            Column("hour", "int"),
            Column("days", "int"),
            Column("visits", "int", count=True),
            Column("arrivals_per_hour", "number", derived=True),
            Column("service_minutes", "number"),
            Column("counters_needed", "int", derived=True),
            Column("served_within", "share", derived=True),
            Column("counters_today", "int"),
            Column("counters_enough", derived=True),
            Column("service_basis"),
        ],
        rows,
    )


def _waits(store: Store, sites: Sites, options: Options) -> Table:
    """Wait and service time per site, weekday and hour (triage.waits: the done tickets, the
    median and 90th percentile in minutes); the tickets are the row's count."""
    lang = options.lang
    found = wait_times(store, options.start, options.end, options.filters)

    def shown(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / 60, 2)

    return Table(
        "waits",
        [
            Column("site_id"),
            Column("site_name"),
            Column("weekday"),
            Column("hour", "int"),
            Column("tickets", "int", count=True),
            Column("served", "int", derived=True),
            Column("no_shows", "int", derived=True),
            Column("wait_median_min", "number", derived=True),
            Column("wait_ninetieth_min", "number", derived=True),
            Column("service_median_min", "number", derived=True),
            Column("service_ninetieth_min", "number", derived=True),
        ],
        [
            [
                site,
                sites.name_of(site, lang),
                t(f"weekday_{weekday}", lang),
                hour,
                x.tickets,
                x.served,
                x.no_shows,
                shown(x.wait_median_s),
                shown(x.wait_p90_s),
                shown(x.service_median_s),
                shown(x.service_p90_s),
            ]
            for (site, weekday, hour), x in found.by_slot.items()
        ],
    )


def _suppress_waits(export: Export) -> None:
    """Beyond a row's tickets under min_count (emptied with its figures by _suppress): served
    or no-shows under it go both (either gives the other away from the tickets), and the
    service time with a small served count."""
    table = next(table for table in export.tables if table.key == "waits")
    keys = [column.key for column in table.columns]
    served, no_shows = keys.index("served"), keys.index("no_shows")
    services = (keys.index("service_median_min"), keys.index("service_ninetieth_min"))
    for row in table.rows:
        if row[served] is None:
            continue  # the whole row is hidden already
        small = [row[i] is not None and 0 < row[i] < export.min_count for i in (served, no_shows)]
        hidden = [served, no_shows] if any(small) else []
        if small[0]:
            hidden.extend(services)
        for i in hidden:
            if row[i] is not None:
                row[i] = None
                export.suppressed += 1


def _enough(needed: int | None, today: int | None, lang: str) -> str | None:
    """Whether today's counters (sites.toml's capacity) are enough for the hour, in words."""
    if needed is None or today is None:
        return None
    if needed <= today:
        return t("exp_yes", lang)
    return t("exp_counters_short", lang, missing=needed - today)


def _about(export: Export, options: Options, total: int | None, demo: bool, sites: Sites) -> Table:
    """What the export holds: the period (first and last day, as dates), when it was made, the
    total (a number), the selection, whether demo visits are in it, and how to read it."""
    lang = options.lang
    small = t("exp_about_small_none", lang)
    if options.min_count > 1:
        small = t("exp_about_small_value", lang, k=options.min_count, cells=export.suppressed)
        shares = next(table for table in export.tables if table.key == "shares")
        if any(row[3] is None for row in shares.rows):
            small += " " + t("exp_about_shares_hidden", lang)
    lines = [
        *_about_period(options),
        ("exp_about_visits", t("exp_about_hidden", lang) if total is None else total),
        *_about_selection(options, demo, sites),
        *(
            [("exp_about_postcodes", t("exp_about_postcodes_empty", lang))]
            if options.filters.channels is not None or options.filters.outcomes is not None
            else []
        ),
        ("exp_about_small", small),
        (
            "exp_about_staffing",
            t(
                "exp_about_staffing_value",
                lang,
                share=f"{options.wait_share * 100:.0f}",
                minutes=f"{options.wait_minutes:g}",
            ),
        ),
        (
            "exp_about_service",
            t("exp_about_service_value", lang, least=max(MEASURED_AT_LEAST, options.min_count)),
        ),
        ("exp_about_misdirected", t("exp_about_misdirected_value", lang)),
        ("exp_about_waits", t("exp_about_waits_value", lang)),
        # The two measures against the target, defined so they are not taken for each other.
        ("exp_about_over_under", t("exp_about_over_under_value", lang)),
        ("exp_about_points", t("exp_about_points_value", lang)),
        ("exp_about_personal", t("exp_about_personal_value", lang)),
    ]
    return _about_table(lines, lang)


AboutValue = str | int | date | datetime


def _about_table(lines: list[tuple[str, AboutValue]], lang: str) -> Table:
    return Table(
        "about",
        [Column("item"), Column("value")],
        [[t(k, lang), _about_text(v)] for k, v in lines],
        cells=[[t(k, lang), v] for k, v in lines],
    )


def _about_text(value: AboutValue) -> str:
    """An about value as CSV and JSON write it."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _about_period(options: Options) -> list[tuple[str, AboutValue]]:
    last = options.end - timedelta(days=1)
    period = t(
        "exp_about_period_value",
        options.lang,
        start=options.start.isoformat(),
        end=last.isoformat(),
    )
    made = datetime.now(LOCAL_ZONE).replace(tzinfo=None, second=0, microsecond=0)
    return [
        ("exp_about_period", period),
        ("exp_about_first_day", options.start),
        ("exp_about_last_day", last),
        ("exp_about_made", made),  # Copenhagen time, as the label says
    ]


def _about_selection(
    options: Options, demo: bool | None = None, sites: Sites | None = None
) -> list[tuple[str, str]]:
    """The sites (with `sites`, each id with its name) and whether demo visits are counted; with
    `demo` (whether the period has any), whether they are in the figures at all."""
    lang, filters = options.lang, options.filters
    chosen = [f"{s} ({sites.name_of(s, lang)})" if sites else s for s in filters.sites or ()]
    if not filters.include_demo:
        demo_text = t("exp_about_demo_out" if demo is not None else "exp_no", lang)
    elif demo is None:
        demo_text = t("exp_yes", lang)
    else:
        demo_text = t("exp_about_demo_in" if demo else "exp_about_demo_none", lang)
    lines = [("exp_about_sites", ", ".join(chosen) if chosen else t("exp_all", lang))]
    if filters.channels is not None:  # said only when chosen: "all" is what the file says else
        words = [t(f"channel_{c}", lang) for c in filters.channels]
        lines.append(("exp_about_channels", ", ".join(words)))
    if filters.outcomes is not None:
        lines.append(("exp_about_groups", "; ".join(options.groups) or "–"))
    return [*lines, ("exp_about_demo", demo_text)]


def _visits_about_lines(
    options: Options, rows: int, demo: bool | None = None, sites: Sites | None = None
) -> list[tuple[str, AboutValue]]:
    return [
        *_about_period(options),
        ("exp_about_rows", rows),
        *_about_selection(options, demo, sites),
        ("exp_about_content", t("exp_about_content_value", options.lang)),
        ("exp_about_risk", t("exp_about_risk_value", options.lang)),
        ("exp_about_handling", t("exp_about_handling_value", options.lang)),
    ]


def visits_about(options: Options, rows: int) -> list[list[str]]:
    """What a file of visit rows holds and how to treat it: item, value (its "about" table)."""
    return _about_table(_visits_about_lines(options, rows), options.lang).rows


def _suppress(export: Export, total: int) -> bool:
    """Leave counts under min_count empty, with every count and figure that would give one
    away; returns whether the export's total had to go too."""
    tables = {table.key: table for table in export.tables}
    values, free, relations = _relations(tables, total, export.lang)
    hidden = _protect(values, free, relations, export.min_count)
    for key, i in sorted(hidden):
        if key in tables:
            export.suppressed += _empty(tables[key], tables[key].rows[i], count=True)
    shares = tables["shares"]
    if any(("shares", i) in hidden for i in range(len(shares.rows))):
        # visits ÷ share gives the jobcentres' total, and with it a hidden site: no shares then
        for row in shares.rows:
            export.suppressed += _empty(shares, row, count=False)
    over_time = tables["shares_over_time"]
    months = {row[2] for i, row in enumerate(over_time.rows) if ("shares_over_time", i) in hidden}
    for row in over_time.rows:  # the month's other shares give its jobcentres' total, as above
        if row[2] in months:
            export.suppressed += _empty(over_time, row, count=False)
    if ("about", 0) in hidden:
        export.suppressed += 1
    return ("about", 0) in hidden


def _hide_shares_if_left_out_is_small(
    export: Export, store: Store, sites: Sites, options: Options, shown: list
) -> None:
    """Shares are of all jobcentres, also those a site filter leaves out, so visits ÷ share
    gives the left-out jobcentres' visits back: no shares when those are a small count."""
    everywhere = replace(options.filters, sites=None)
    jobcentres = {s.id for s in sites if s.kind == "jobcenter" and s.target_share}
    counted = visit_counts(store, options.start, options.end, ("site_id",), filters=everywhere)
    left_out = sum(n for (site,), n in counted.items() if site in jobcentres) - sum(
        x.visits for x in shown
    )
    if 0 < left_out < options.min_count:
        shares = next(table for table in export.tables if table.key == "shares")
        for row in shares.rows:
            export.suppressed += _empty(shares, row, count=False)


def _empty(table: Table, row: list, count: bool) -> int:
    """Empty the row's derived figures (and its count); returns how many cells were emptied."""
    emptied = 0
    for i, column in enumerate(table.columns):
        if (column.derived or (count and column.count)) and row[i] is not None:
            row[i] = None
            emptied += 1
    return emptied


# --- small counts: primary and secondary suppression ------------------------------------
#
# Every count the tables print is a variable; the figures that tie them together are linear
# relations (a day is the sum of its hours, a site's visits the sum of its days and of its
# referrals, the export's total the sum of the sites, a home-site pair the sum of its postcodes,
# a staffing hour the sum of that hour on the period's same weekdays when all of it was in
# person). A hidden count is safe when no combination of relations pins it down: checked
# exactly (elimination over a large prime field), and more counts are hidden until it holds.

Var = tuple
PRIME = 2**61 - 1  # coefficients are ±1: a prime this large never divides a pivot in practice


def _determined(relations: list[dict[Var, int]], unknown: set[Var]) -> set[Var]:
    """The unknowns that the relations fix, whatever the other unknowns are: those whose unit
    vector lies in the relations' row space (a reduced row with a single entry)."""
    rows: dict[Var, dict[Var, int]] = {}  # pivot → row, pivot coefficient 1, fully reduced
    holding: dict[Var, set[Var]] = {}  # variable → pivots of the rows that contain it
    for relation in relations:
        row = {v: c % PRIME for v, c in relation.items() if v in unknown and c % PRIME}
        for pivot in [v for v in row if v in rows]:
            factor = row.pop(pivot, 0)
            if factor:
                for v, c in rows[pivot].items():
                    if v != pivot:
                        row[v] = (row.get(v, 0) - factor * c) % PRIME
                        if not row[v]:
                            del row[v]
        if not row:
            continue
        pivot = min(row, key=lambda v: (len(holding.get(v, ())), v))
        inverse = pow(row[pivot], PRIME - 2, PRIME)
        row = {v: c * inverse % PRIME for v, c in row.items()}
        for other in list(holding.get(pivot, ())):  # clear the new pivot from the older rows
            target = rows[other]
            factor = target.pop(pivot)
            holding[pivot].discard(other)
            for v, c in row.items():
                if v == pivot:
                    continue
                value = (target.get(v, 0) - factor * c) % PRIME
                if value:
                    target[v] = value
                    holding.setdefault(v, set()).add(other)
                elif v in target:
                    del target[v]
                    holding[v].discard(other)
        rows[pivot] = row
        for v in row:
            holding.setdefault(v, set()).add(pivot)
    return {pivot for pivot, row in rows.items() if len(row) == 1}


def _protect(
    values: dict[Var, int], free: set[Var], relations: list[dict[Var, int]], k: int
) -> set[Var]:
    """The counts to hide: every count under k (but above 0), and enough others that none of
    them can be worked out from what is shown. `free` are figures the export never prints."""
    hidden = {v for v, n in values.items() if v not in free and 0 < n < k}
    touching: dict[Var, list[dict[Var, int]]] = {}
    for relation in relations:
        for v in relation:
            touching.setdefault(v, []).append(relation)

    def smallest_shown(candidates, above: int = 0) -> Var | None:
        # A zero gives nothing away and hides nothing: a site with no row elsewhere had none.
        shown = [v for v in candidates if v not in hidden and v not in free and values[v] > above]
        return min(shown, key=lambda v: (values[v], v)) if shown else None

    while True:
        # The simple case first: a relation with one unknown gives it away; hide one more.
        changed = True
        while changed:
            changed = False
            for relation in relations:
                unknown = [v for v in relation if v in hidden or v in free]
                if len(unknown) == 1 and unknown[0] in hidden:
                    shown = smallest_shown(relation)
                    assert shown is not None  # the shown rest adds up to the hidden count, >= 1
                    hidden.add(shown)
                    changed = True
        pinned = sorted(_determined(relations, hidden | free) & hidden)
        # Every hidden count is at least 1 (its row is there): two hidden parts of a shown 2
        # are 1 each. Hiding a part of 2 or more (or the whole) leaves them a range.
        above = 0 if pinned else 1
        pinned = pinned or sorted(_squeezed(values, hidden, free, relations))
        if not pinned:
            return hidden
        widened: set[Var] = set()
        for v in pinned:  # a combination of relations gives it away: widen around it
            near = [u for relation in touching.get(v, []) for u in relation]
            if widened.intersection(near):
                continue  # this round's widening may free it already: look again first
            extra = (
                smallest_shown(near, above)
                or smallest_shown(near)
                or smallest_shown(_reachable(v, touching))
            )
            if extra is not None:  # None: this round hid all around it already
                hidden.add(extra)
                widened.add(extra)
        if not widened:
            raise AssertionError(f"{pinned[0]} is fixed by the relations with nothing shown")


def _squeezed(
    values: dict[Var, int],
    hidden: set[Var],
    free: set[Var],
    relations: list[dict[Var, int]],
    rounds: int = 200,
) -> set[Var]:
    """Hidden counts whose lowest and highest possible values meet, from what is shown, the
    relations, and that a hidden count is at least 1 and an unprinted figure at least 0
    (bounds carried from relation to relation until they settle)."""
    infinity = float("inf")
    low: dict[Var, float] = {
        v: 1 if v in hidden else 0 if v in free else n for v, n in values.items()
    }
    high = {v: infinity if v in hidden or v in free else n for v, n in values.items()}
    for _ in range(rounds):
        changed = False
        for relation in relations:
            # c·x = −(the rest), c = ±1: each member's range from the sum of the others' ranges
            ends = {v: sorted((-c * low[v], -c * high[v])) for v, c in relation.items()}
            lows, highs = _Sum([a for a, _ in ends.values()]), _Sum([b for _, b in ends.values()])
            for v, c in relation.items():
                rest = (lows.without(ends[v][0]), highs.without(ends[v][1]))
                new_low, new_high = rest if c > 0 else (-rest[1], -rest[0])
                if new_low > low[v]:
                    low[v], changed = new_low, True
                if new_high < high[v]:
                    high[v], changed = new_high, True
        if not changed:
            break
    return {v for v in hidden if low[v] == high[v]}


class _Sum:
    """A sum of terms, some of them infinite, from which one term can be taken out again."""

    def __init__(self, terms: list[float]) -> None:
        self.finite = sum(x for x in terms if abs(x) != float("inf"))
        self.up = sum(1 for x in terms if x == float("inf"))
        self.down = sum(1 for x in terms if x == -float("inf"))

    def without(self, term: float) -> float:
        up, down = self.up - (term == float("inf")), self.down - (term == -float("inf"))
        if up or down:  # never both here: a sum of lows has no +inf, of highs no -inf
            return float("inf") if up else -float("inf")
        return self.finite - (term if abs(term) != float("inf") else 0)


def _reachable(start: Var, touching: dict[Var, list[dict[Var, int]]]) -> list[Var]:
    seen, todo = {start}, [start]
    while todo:
        for relation in touching.get(todo.pop(), []):
            for v in relation:
                if v not in seen:
                    seen.add(v)
                    todo.append(v)
    return sorted(seen)


def _relations(
    tables: dict[str, Table], total: int, lang: str
) -> tuple[dict[Var, int], set[Var], list[dict[Var, int]]]:
    """Every count the tables print (and the export's total, `("about", 0)`), the figures they
    depend on but never print, and the linear relations between them (each sums to zero)."""
    values: dict[Var, int] = {("about", 0): total}
    for key, table in tables.items():
        column = next((i for i, c in enumerate(table.columns) if c.count), None)
        if column is not None:
            for i, row in enumerate(table.rows):
                values[(key, i)] = row[column]
    relations: list[dict[Var, int]] = []

    def sums(whole: Var, parts: list[Var]) -> None:
        if parts:
            relation = {whole: 1}
            for part in parts:
                relation[part] = relation.get(part, 0) - 1
            relations.append(relation)

    def grouped(key: str, group: Callable[[list], tuple]) -> dict[tuple, list[Var]]:
        groups: dict[tuple, list[Var]] = {}
        for i, row in enumerate(tables[key].rows):
            groups.setdefault(group(row), []).append((key, i))
        return groups

    day_of = {(r[0], r[2]): ("per_day", i) for i, r in enumerate(tables["per_day"].rows)}
    hours = grouped("per_hour", lambda r: (r[0], r[2]))
    for day, parts in hours.items():
        sums(day_of[day], parts)

    # A site's visits: its row in the shares table, or a figure no table prints.
    free: set[Var] = set()
    site_of = {r[0]: ("shares", i) for i, r in enumerate(tables["shares"].rows)}
    days = grouped("per_day", lambda r: (r[0],))
    referrals = grouped("destinations", lambda r: (r[0],))
    for site in sorted({s for (s,) in days} | {s for (s,) in referrals} | set(site_of)):
        if site not in site_of:
            site_of[site] = ("site", len(free))
            free.add(site_of[site])
            values[site_of[site]] = sum(values[v] for v in days.get((site,), []))
        sums(site_of[site], days.get((site,), []))
        sums(site_of[site], referrals.get((site,), []))
    sums(("about", 0), sorted(site_of.values()))

    # A site's month is the sum of its days in it.
    by_day = grouped("per_day", lambda r: (r[0], _day(r[2])))
    for i, row in enumerate(tables["shares_over_time"].rows):
        inside = [(row[0], row[3] + timedelta(days=n)) for n in range((row[4] - row[3]).days + 1)]
        sums(("shares_over_time", i), [v for day in inside for v in by_day.get(day, [])])

    pairs = {(r[0], r[2]): ("misdirection", i) for i, r in enumerate(tables["misdirection"].rows)}
    for pair, parts in grouped("misdirection_postcode", lambda r: (r[1], r[2])).items():
        if pair in pairs:
            sums(pairs[pair], parts)

    # A staffing hour is the sum of that hour on the same weekdays when every visit in it was
    # in person; then the relation holds, and someone may guess it does.
    weekday = {t(f"weekday_{i}", lang): i for i in range(7)}
    same_weekday = grouped("per_hour", lambda r: (r[0], _day(r[2]).weekday(), r[3]))
    for i, row in enumerate(tables["staffing"].rows):
        parts = same_weekday.get((row[0], weekday[row[2]], row[3]), [])
        if sum(values[v] for v in parts) == row[5]:
            sums(("staffing", i), parts)
    return values, free, relations


def _yes(value: bool, lang: str) -> str:
    return t("exp_yes" if value else "exp_no", lang)


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _stepper(progress: Progress | None, steps: int) -> Callable[[], None]:
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(min(done / steps, 1.0))

    return step


# --- writing the tables ------------------------------------------------------------------


def _number_text(value, kind: str, decimal_comma: bool) -> str:
    if value is None:
        return ""
    if kind == "date":
        return value.isoformat()
    if kind in ("share", "number"):
        text_value = f"{value:.4f}" if kind == "share" else f"{value:g}"
        return text_value.replace(".", ",") if decimal_comma else text_value
    if kind == "text":
        return safe_text(str(value))
    return str(value)


def check_target(out: Path, fmt: str, folder: bool = False) -> None:
    """Refuse, before any work, an `out` the export must not write (ExportError says why):
    a link (whatever it points at), a place in a folder that does not exist (none is made),
    for a folder of CSV files an existing file, and for one file see _check_replaceable."""
    if out.is_symlink():
        raise ExportError("out_link", path=out)
    if not _folder_of(out).exists():
        raise ExportError("out_no_folder", path=out, folder=_folder_of(out))
    if folder:
        if out.exists() and not out.is_dir():
            raise ExportError("out_file_for_folder", path=out)
        return
    _check_replaceable(out, SUFFIXES[fmt])


def _folder_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _check_replaceable(path: Path, suffix: str) -> None:
    """A new name is fine; an existing one only when it is a regular file that is an earlier
    export of the same format (read from its content, not its name). A link is never followed:
    through a link, even a root's export could replace /etc/passwd."""
    if path.is_symlink():
        raise ExportError("out_link", path=path)
    try:
        found = path.stat()
    except OSError:
        return  # nothing there (or not reachable: the write itself then says why)
    if stat.S_ISDIR(found.st_mode):
        raise ExportError("out_folder", path=path, example=path / f"triage{suffix}")
    if not stat.S_ISREG(found.st_mode):
        raise ExportError("out_special", path=path)
    if path.suffix.lower() != suffix or not _earlier_export(path, suffix):
        raise ExportError("out_not_export", path=path, kind=suffix.lstrip(".").upper())


def _earlier_export(path: Path, suffix: str) -> bool:
    """True when the file is one triage wrote: a workbook with triage's about sheet, a JSON
    document that begins with triage's format key, a CSV whose first line is triage's headers."""
    try:
        if suffix == ".xlsx":
            return _xlsx_has_about(path)
        with open(path, "rb") as file:
            head = file.read(4096)
    except (OSError, ValueError):
        return False
    text_head = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    if suffix == ".json":
        return re.match(r'\s*\{\s*"format":\s*"triage-(export|visits)"', text_head) is not None
    first = text_head.split("\r\n", 1)[0].split("\n", 1)[0]
    titles = {t(key, lang) for lang in ("da", "en") for key in _column_keys()}
    return any(
        first and all(cell.strip('"') in titles for cell in first.split(separator))
        for separator in (",", ";")
    )


def _column_keys() -> list[str]:
    from triage.i18n import DA

    return [key for key in DA if key.startswith("exp_col_")]


def _xlsx_has_about(path: Path) -> bool:
    from zipfile import BadZipFile, ZipFile

    names = {_sheet_name(t("exp_table_about", lang)) for lang in ("da", "en")}
    try:
        with ZipFile(path) as book:
            workbook = book.read("xl/workbook.xml").decode("utf-8", errors="replace")
    except (BadZipFile, KeyError, OSError, ValueError):
        return False
    sheets = set(re.findall(r'<sheet [^>]*name="([^"]*)"', workbook))
    return any(escape(name, {'"': "&quot;"}) in sheets for name in names)


@contextmanager
def _replacing(path: Path, suffix: str) -> Iterator[Path]:
    """Yield the temporary name to write `path` under; rename it into place only when the
    block completes, and remove it when it does not. No folder is made; a link is refused."""
    _check_replaceable(path, suffix)
    temporary = path.with_name(f".{path.name}.part")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def _text_file(path: Path, suffix: str, encoding: str, newline: str | None = None):
    """A text file that appears whole (flushed to disk) or not at all."""
    with (
        _replacing(path, suffix) as temporary,
        open(temporary, "w", encoding=encoding, newline=newline) as out,
    ):
        yield out
        out.flush()
        os.fsync(out.fileno())


@contextmanager
def _workbook(path: Path):
    """An XlsxWriter workbook (streamed: constant memory) and its formats, appearing whole or
    not at all. XlsxWriter writes the file on close and wraps OS errors in its own: unwrapped.
    Its scratch files go to a folder of our own, removed however the writing ends."""
    import xlsxwriter
    from xlsxwriter.exceptions import FileCreateError

    with (
        _replacing(path, SUFFIXES["xlsx"]) as temporary,
        tempfile.TemporaryDirectory(prefix="triage-xlsx-") as scratch,
    ):
        book = xlsxwriter.Workbook(str(temporary), {"constant_memory": True, "tmpdir": scratch})
        try:
            yield book, _xlsx_formats(book)
            try:
                book.close()
            except FileCreateError as error:
                cause = error.__context__ if isinstance(error.__context__, OSError) else None
                raise cause or OSError(str(error)) from error
        except BaseException as error:
            _abandon(book, error)
            raise


def _abandon(book, error: BaseException | None) -> None:
    """Close what XlsxWriter left open when writing failed (a full disk): its sheets' scratch
    files and its zip file. Left to the garbage collector, they would try to write once more
    and print "Exception ignored … Traceback" after the message."""
    from zipfile import ZipFile

    for sheet in book.worksheets():
        handle = getattr(sheet, "row_data_fh", None)
        if handle is not None:
            with suppress(OSError, ValueError):
                handle.close()  # a failed flush still closes the file
    seen: set[int] = set()
    while error is not None and id(error) not in seen:  # the zip file is a local of the failed call
        seen.add(id(error))
        trace = error.__traceback__
        while trace is not None:
            for value in list(trace.tb_frame.f_locals.values()):
                if isinstance(value, ZipFile) and value.fp is not None:
                    handle, value.fp = value.fp, None
                    with suppress(OSError, ValueError):
                        handle.close()
            trace = trace.tb_next
        error = error.__cause__ or error.__context__


def csv_dialect(excel_da: bool) -> dict:
    """Plain comma CSV, or what Danish Excel expects: semicolons (and decimal commas)."""
    return {"delimiter": ";" if excel_da else ",", "lineterminator": "\r\n"}


# Beside each table's own columns in a CSV file: a file that travels alone still says its
# period (the last day included) and whether demo visits are in its figures.
CSV_PERIOD_COLUMNS = ("period_first_day", "period_last_day", "demo_in_figures")


def write_csv(export: Export, folder: Path, excel_da: bool = False) -> list[Path]:
    """One UTF-8 file (with the byte-order mark Excel looks for) per table, in `folder` (made
    if missing; the folder it is in must exist). Every table but "about" (which says them in
    its rows) ends in the CSV_PERIOD_COLUMNS."""
    folder.mkdir(exist_ok=True)
    lang = export.lang
    period = [
        export.start.isoformat(),
        (export.end - timedelta(days=1)).isoformat(),
        _yes(export.demo, lang),
    ]
    written = []
    for table in export.tables:
        path = folder / f"{t(f'exp_file_{table.key}', lang)}.csv"
        said = [] if table.key == "about" else period
        with _text_file(path, ".csv", "utf-8-sig", newline="") as out:
            writer = csv.writer(out, **csv_dialect(excel_da))
            headers = table.headers(lang)
            if said:
                headers += [t(f"exp_col_{key}", lang) for key in CSV_PERIOD_COLUMNS]
            writer.writerow([safe_text(h) for h in headers])
            kinds = [c.kind for c in table.columns]
            writer.writerows(
                [_number_text(v, k, excel_da) for v, k in zip(row, kinds, strict=True)] + said
                for row in table.rows
            )
        written.append(path)
    return written


def _json_value(value, kind: str):
    if value is None:
        return None
    if kind == "date":
        return value.isoformat()
    if kind == "share":
        return round(value, 6)
    return value


def write_json(export: Export, path: Path) -> Path:
    document = {
        "format": "triage-export",
        "version": EXPORT_VERSION,
        "lang": export.lang,
        "start": export.start.isoformat(),
        "end": (export.end - timedelta(days=1)).isoformat(),
        "min_count": export.min_count,
        "suppressed_cells": export.suppressed,
        "tables": {
            table.key: {
                "title": table.title(export.lang),
                "columns": [
                    {"key": c.key, "title": h, "type": c.kind}
                    for c, h in zip(table.columns, table.headers(export.lang), strict=True)
                ],
                "rows": [
                    [_json_value(v, c.kind) for v, c in zip(row, table.columns, strict=True)]
                    for row in table.rows
                ],
            }
            for table in export.tables
        },
    }
    with _text_file(path, ".json", "utf-8") as out:
        json.dump(document, out, ensure_ascii=False, indent=1)
    return path


def _sheet_name(title: str) -> str:
    for bad in "[]:*?/\\":
        title = title.replace(bad, " ")
    return title[:31]


def write_xlsx(export: Export, path: Path) -> Path:
    """One sheet per table, each with an autofilter, a frozen bold header row, real dates and
    numbers and readable widths; after the about sheet, the visits by hour of the day with a
    chart; on the staffing sheet, hours that need more counters than the site has stand out."""
    lang = export.lang
    with _workbook(path) as (book, formats):
        for table in export.tables:
            sheet = book.add_worksheet(_sheet_name(table.title(lang)))
            if table.key == "about":
                _xlsx_about(sheet, table.cells or table.rows, lang, formats)
                _xlsx_by_hour(book, export, formats)
                continue
            _xlsx_table(sheet, table.headers(lang), table.columns, table.rows, formats)
            if table.key == "staffing":
                _xlsx_mark_short(sheet, table, formats)
            _xlsx_shares_chart(book, sheet, table, lang)
    return path


def _xlsx_shares_chart(book, sheet, table: Table, lang: str) -> None:
    """Beside the shares over time: a native line chart of each site's share per month, with
    its target as a dashed line of the same colour (each site's rows follow each other)."""
    if table.key != "shares_over_time" or not table.rows:
        return
    keys = [c.key for c in table.columns]
    period, share, target = keys.index("period"), keys.index("share"), keys.index("target")
    blocks: dict[str, list[int]] = {}  # site → its first and last row on the sheet
    for number, row in enumerate(table.rows, start=1):
        blocks.setdefault(row[0], [number, number])[1] = number
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
    chart = book.add_chart({"type": "line"})
    name = sheet.get_name()
    for i, (first, last) in enumerate(blocks.values()):
        colour = colours[i % len(colours)]
        site_name = table.rows[first - 1][1]
        categories = [name, first, period, last, period]
        block = table.rows[first - 1 : last]
        # Cached values too (a streamed workbook has none to read back): previews draw them.
        months = [str(row[period]) for row in block]

        def numbers(col: int, block: list = block) -> list:
            return [row[col] if isinstance(row[col], int | float) else None for row in block]

        chart.add_series(
            {
                "name": site_name,
                "categories": categories,
                "categories_data": months,
                "values": [name, first, share, last, share],
                "values_data": numbers(share),
                "line": {"color": colour, "width": 2.25},
                "marker": {"type": "circle", "size": 4, "fill": {"color": colour}},
            }
        )
        chart.add_series(
            {
                "name": t("exp_chart_target", lang, site=site_name),
                "categories": categories,
                "categories_data": months,
                "values": [name, first, target, last, target],
                "values_data": numbers(target),
                "line": {"color": colour, "dash_type": "dash", "width": 1.25},
            }
        )
    chart.set_title({"name": t("exp_chart_shares", lang)})
    chart.set_y_axis({"num_format": "0%", "min": 0})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 760, "height": 420})
    sheet.insert_chart(1, len(table.columns) + 1, chart)


def _xlsx_formats(book) -> dict:
    return {
        "header": book.add_format({"bold": True, "bottom": 1}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "share": book.add_format({"num_format": "0.0%"}),
        "number": book.add_format({"num_format": "0.00"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
        # Excel's own "light red fill with dark red text"
        "short": book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
    }


def _xlsx_table(
    sheet, headers: list[str], columns: Sequence[Column], rows: list[list], formats: dict
) -> None:
    _xlsx_widths(sheet, columns, headers, rows[:500])
    _xlsx_header(sheet, headers, formats)
    for number, row in enumerate(rows, start=1):
        _xlsx_row(sheet, number, row, columns, formats)
    sheet.autofilter(0, 0, len(rows), len(columns) - 1)


def _xlsx_header(sheet, headers: list[str], formats: dict) -> None:
    sheet.freeze_panes(1, 0)
    for col, header in enumerate(headers):
        sheet.write_string(0, col, safe_text(header), formats["header"])


def _xlsx_widths(sheet, columns: Sequence[Column], headers: list[str], sample: list[list]) -> None:
    for col, (column, header) in enumerate(zip(columns, headers, strict=True)):
        widest = len(header)
        for row in sample:
            widest = max(widest, _shown_width(row[col], column.kind))
        sheet.set_column(col, col, min(max(widest + 2, 6), 60))


def _shown_width(value, kind: str) -> int:
    """How many characters Excel shows for the value in its column's format."""
    if value is None:
        return 0
    if kind == "date":
        return 10
    if kind == "datetime":
        return 16
    if kind == "share":
        return len(f"{value:.1%}")
    if kind == "number":
        return len(f"{value:.2f}")
    return len(str(value))


def _xlsx_row(
    sheet, number: int, row: Sequence[Any], columns: Sequence[Column], formats: dict
) -> None:
    for col, (value, column) in enumerate(zip(row, columns, strict=True)):
        if value is None:
            continue
        if column.kind == "text":
            sheet.write_string(number, col, safe_text(str(value)))
        elif column.kind == "date":
            sheet.write_datetime(
                number, col, datetime.combine(_day(value), datetime.min.time()), formats["date"]
            )
        elif column.kind == "datetime":
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            sheet.write_datetime(number, col, moment.replace(tzinfo=None), formats["datetime"])
        elif column.kind == "share":
            sheet.write_number(number, col, value, formats["share"])
        elif column.kind == "number":
            sheet.write_number(number, col, value, formats["number"])
        else:
            sheet.write_number(number, col, value)


def _xlsx_about(sheet, lines: Sequence[Sequence[Any]], lang: str, formats: dict) -> None:
    """The about sheet: its values as what they are (a number, a date, a time), texts wrapped."""
    _xlsx_header(sheet, [t("exp_col_item", lang), t("exp_col_value", lang)], formats)
    sheet.set_column(0, 0, max(len(t("exp_col_item", lang)), *(len(i) for i, _ in lines)) + 2)
    sheet.set_column(1, 1, 90)
    for number, (item, value) in enumerate(lines, start=1):
        sheet.write_string(number, 0, safe_text(item), formats["wrap"])
        if isinstance(value, bool) or not isinstance(value, (int, float, date)):
            sheet.write_string(number, 1, safe_text(str(value)), formats["wrap"])
        elif isinstance(value, datetime):
            sheet.write_datetime(number, 1, value.replace(tzinfo=None), formats["datetime"])
        elif isinstance(value, date):
            sheet.write_datetime(
                number, 1, datetime.combine(value, datetime.min.time()), formats["date"]
            )
        else:
            sheet.write_number(number, 1, value)
    sheet.autofilter(0, 0, len(lines), 1)


def _xlsx_by_hour(book, export: Export, formats: dict) -> None:
    """Visits per hour of the day, one column per site, and a column chart of them. A figure is
    the sum of the hourly table's counts for that site and hour; with --min-count it is left
    empty when any of those is, so it shows nothing the hourly table does not."""
    lang = export.lang
    hourly = next(table for table in export.tables if table.key == "per_hour")
    totals: dict[tuple[str, int], int | None] = {}
    names: dict[str, str] = {}
    for site, name, _, hour, visits in hourly.rows:
        names[site] = name
        before = totals.get((site, hour), 0)
        totals[(site, hour)] = None if before is None or visits is None else before + visits
    title = _sheet_name(t("exp_table_by_hour", lang))
    sheet = book.add_worksheet(title)
    sites = sorted(names)
    hours = list(range(min(h for _, h in totals), max(h for _, h in totals) + 1)) if totals else []
    columns = [Column("hour", "int"), *(Column(site, "int") for site in sites)]
    headers = [t("exp_col_hour", lang), *(names[site] for site in sites)]
    rows = [[hour, *(totals.get((site, hour), 0) for site in sites)] for hour in hours]
    _xlsx_table(sheet, headers, columns, rows, formats)
    if not rows:
        return
    chart = book.add_chart({"type": "column"})
    for col in range(1, len(columns)):
        # The *_data: the chart's cached values, which a streamed workbook cannot read back
        # from its sheet; viewers that draw from the cache (previews, mail) need them.
        chart.add_series(
            {
                "name": [title, 0, col],
                "name_data": [headers[col]],
                "categories": [title, 1, 0, len(rows), 0],
                "categories_data": hours,
                "values": [title, 1, col, len(rows), col],
                "values_data": [row[col] for row in rows],
            }
        )
    last = export.end - timedelta(days=1)
    chart.set_title(
        {"name": t("exp_chart_by_hour", lang, start=export.start.isoformat(), end=last.isoformat())}
    )
    chart.set_x_axis({"name": t("exp_col_hour", lang)})
    chart.set_y_axis({"name": t("exp_col_visits", lang)})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 760, "height": 400})
    sheet.insert_chart(1, len(columns) + 1, chart)


def _xlsx_mark_short(sheet, table: Table, formats: dict) -> None:
    """Hours that need more counters than the site has (sites.toml's capacity) in red."""
    from xlsxwriter.utility import xl_col_to_name

    if not table.rows:
        return
    keys = [column.key for column in table.columns]
    needed = xl_col_to_name(keys.index("counters_needed"))
    today = xl_col_to_name(keys.index("counters_today"))
    sheet.conditional_format(
        1,
        0,
        len(table.rows),
        len(keys) - 1,
        {
            "type": "formula",
            "criteria": f"=AND(ISNUMBER(${needed}2),ISNUMBER(${today}2),${needed}2>${today}2)",
            "format": formats["short"],
        },
    )


# --- visit-level rows --------------------------------------------------------------------

VISIT_COLUMNS = (
    Column("visit_id"),
    Column("at_utc", "datetime"),
    Column("date", "date"),
    Column("hour", "int"),
    Column("weekday", "int"),
    Column("site_id"),
    Column("desk"),
    Column("channel"),
    Column("outcome_id"),
    Column("destination_id"),
    Column("destinations"),
    Column("handled_here"),
    Column("postcode", "int"),
    Column("home_site_id"),
    Column("flow_version"),
    Column("duration_s", "int"),
    Column("wait_s", "int"),
    Column("service_s", "int"),
    Column("demo"),
)


def _visit_query(options: Options) -> VisitQuery:
    return VisitQuery(
        columns=[column.key for column in VISIT_COLUMNS],
        start=options.start,
        end=options.end,
        filters=options.filters,
        yes=t("exp_yes", options.lang),
        no=t("exp_no", options.lang),
        formula_starts=FORMULA_STARTS,
    )


def visits_sql(
    options: Options, excel_da: bool, mode: str, dialect: str = "sqlite"
) -> tuple[str, dict]:
    """The visit-level query (triage.db.queries.visits_sql). Mode "typed": the stored values
    (JSON, Excel); "text": every value as the text the CSV needs, made formula-safe."""
    return queries.visits_sql(_visit_query(options), mode == "typed", dialect)


def _visit_rows(
    store: Store, options: Options, excel_da: bool, mode: str, batch: int = 5000
) -> Iterator[Sequence[Sequence[Any]]]:
    """Visit rows in batches, streamed from the database (memory stays flat)."""
    return queries.visit_rows(store, _visit_query(options), mode == "typed", batch)


def count_visits(store: Store, options: Options) -> int:
    return queries.count_visit_rows(store, _visit_query(options))


Ticker = Callable[[int], None]


def _ticker(progress: Progress | None, total: int) -> Ticker:
    def tick(done: int) -> None:
        if progress and total:
            progress(min(done / total, 1.0))

    return tick


def write_visits(
    store: Store,
    options: Options,
    fmt: str,
    path: Path,
    excel_da: bool = False,
    progress: Progress | None = None,
    sites: Sites | None = None,
) -> int:
    """Every visit of the period (never void ones), one row each; returns how many. With
    `sites`, the Excel sheet names each site beside its id."""
    check_target(path, fmt)
    total = count_visits(store, options) if progress or fmt == "xlsx" else 0
    if fmt == "xlsx" and total >= XLSX_MAX_ROWS:
        raise ExportError("exp_too_many_rows", rows=total, most=XLSX_MAX_ROWS - 1)
    tick = _ticker(progress, total)
    headers = [t(f"exp_col_{c.key}", options.lang) for c in VISIT_COLUMNS]
    written = 0
    if fmt == "csv":
        with _text_file(path, ".csv", "utf-8-sig", newline="") as out:
            writer = csv.writer(out, **csv_dialect(excel_da))
            writer.writerow(headers)
            written = _write_visit_csv_rows(store, options, out, excel_da, tick)
        _write_visits_about_csv(path, options, written, excel_da)
    elif fmt == "json":
        with _text_file(path, ".json", "utf-8") as out:
            columns = json.dumps(
                [
                    {"key": c.key, "title": h, "type": c.kind}
                    for c, h in zip(VISIT_COLUMNS, headers, strict=True)
                ],
                ensure_ascii=False,
            )
            out.write(
                f'{{"format": "triage-visits", "version": {EXPORT_VERSION}, '
                f'"lang": {json.dumps(options.lang)}, "columns": {columns}, "rows": [\n'
            )
            for part in _visit_rows(store, options, False, "typed"):
                for row in part:
                    out.write(
                        (",\n" if written else "")
                        + json.dumps([_plain(v) for v in row], ensure_ascii=False)
                    )
                    written += 1
                tick(written)
            about = json.dumps(visits_about(options, written), ensure_ascii=False)
            out.write(f'\n], "about": {about}}}\n')
    else:
        written = _write_visits_xlsx(store, options, path, sites, tick)
    return written


def _write_visit_csv_rows(
    store: Store, options: Options, out: TextIO, excel_da: bool, tick: Ticker
) -> int:
    """The visit rows of a CSV export, after its header; returns how many. On SQLite, a large
    export writes the second half of its period in a process of its own (both cores at work)
    to a scratch file beside `out`, appended when both are done: the same bytes, in order."""
    query = _visit_query(options)
    delimiter = csv_dialect(excel_da)["delimiter"]
    split = None
    if store.dialect == "sqlite" and (os.cpu_count() or 1) > 1:
        split = queries.halves(store, query, TWO_PROCESSES_FROM)
    if split is None:
        return _write_csv_part(store, query, out, delimiter, tick)
    first, second = split
    target = Path(out.name)
    handle, name = tempfile.mkstemp(prefix=f"{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    scratch = Path(name)
    sql, params, quoted = queries.visits_csv_sql(second, store.dialect, delimiter)
    exact_sql, exact_params = queries.visits_sql(second, False, store.dialect)

    def plain(params: dict) -> dict:
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}

    job = {
        "db": store.engine.url.database,
        "sql": sql,
        "params": plain(params),
        "quoted": quoted,
        "fields": len(second.columns),
        "exact_sql": exact_sql,
        "exact_params": plain(exact_params),
        "out": str(scratch),
        "delimiter": delimiter,
    }
    try:
        # The same triage as this process's, whatever the working folder holds (-P).
        code = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, [code, os.environ.get("PYTHONPATH")]))
        helper = subprocess.Popen(
            [sys.executable, "-P", "-m", "triage.db.csv_rows"],
            env={**os.environ, "PYTHONPATH": path},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except BaseException:
        scratch.unlink()
        raise
    try:
        # All three are pipes (PIPE above), never None.
        stdin, said, errors = (
            cast(IO[bytes], p) for p in (helper.stdin, helper.stdout, helper.stderr)
        )
        stdin.write(json.dumps(job).encode())
        stdin.close()
        theirs = 0

        def both(ours: int) -> None:
            nonlocal theirs
            while select.select([said], [], [], 0)[0]:  # what it said so far
                line = said.readline()
                if not line:
                    break
                theirs = int(line)
            tick(ours + theirs)

        ours = _write_csv_part(store, first, out, delimiter, both)
        for line in said:  # until it is done
            theirs = int(line)
            tick(ours + theirs)
        if helper.wait() != 0:
            _helper_failed(errors.read().decode(errors="replace"), out.name)
        out.flush()
        with open(scratch, "rb") as part:
            shutil.copyfileobj(part, out.buffer, 1 << 20)
        return ours + theirs
    finally:
        if helper.poll() is None:
            helper.kill()
        helper.wait()
        for pipe in (helper.stdout, helper.stderr):
            if pipe:
                pipe.close()
        scratch.unlink(missing_ok=True)


def _helper_failed(said: str, path: str) -> None:
    """Raise here what the helper process failed with: an OSError with its number (a full
    disk) or a database error, as writing the rows in this process would have."""
    try:
        failure = json.loads(said.strip().splitlines()[-1])
    except (ValueError, IndexError):
        failure = {"message": said.strip() or "the helper process stopped"}
    if failure.get("errno") is not None:
        raise OSError(failure["errno"], os.strerror(failure["errno"]), path)
    if failure.get("database"):
        raise sqlite3.OperationalError(failure["message"])
    raise RuntimeError(f"CSV helper process: {failure['message']}")


def _write_csv_part(
    store: Store, query: VisitQuery, out: TextIO, delimiter: str, tick: Ticker
) -> int:
    """The query's visit rows as CSV lines at the end of `out`; returns how many. The quick
    way (csv_rows.csv_lines); should a value need the csv module, this part starts over the
    csv module's way: the same bytes either way."""
    out.flush()
    raw = cast(IO[bytes], out.buffer)
    start = raw.tell()
    batches, quoted = queries.visit_csv_rows(store, query, delimiter)
    try:
        written = csv_rows.write_lines(batches, raw, delimiter, len(query.columns), quoted, tick)
    finally:
        cast(Any, batches).close()  # the query's connection back, whatever happened
    if written is not None:
        return written
    raw.seek(start)
    raw.truncate()
    rows = queries.visit_rows(store, query, False)
    return csv_rows.write_quoted(rows, out, delimiter, tick)


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


# The Excel sheet's visit columns: VISIT_COLUMNS with the weekday's and the channel's words,
# the sites' names beside their ids and the destination's kind (in the summary's words).
XLSX_VISIT_COLUMNS = (
    Column("visit_id"),
    Column("at_utc", "datetime"),
    Column("date", "date"),
    Column("hour", "int"),
    Column("weekday"),
    Column("site_id"),
    Column("site_name"),
    Column("desk"),
    Column("channel"),
    Column("outcome_id"),
    Column("destination_id"),
    Column("destination_name"),
    Column("destination_kind"),
    Column("destinations"),
    Column("handled_here"),
    Column("postcode", "int"),
    Column("home_site_id"),
    Column("home_site_name"),
    Column("flow_version"),
    Column("duration_s", "int"),
    Column("wait_s", "int"),
    Column("service_s", "int"),
    Column("demo"),
)


def _xlsx_visit(sites: Sites | None, lang: str) -> Callable[[Sequence[Any]], tuple]:
    """A typed visit row (VISIT_COLUMNS) as the Excel sheet's row (XLSX_VISIT_COLUMNS)."""
    at = {column.key: i for i, column in enumerate(VISIT_COLUMNS)}
    weekdays = [t(f"weekday_{day}", lang) for day in range(7)]
    channels = {channel: t(f"channel_{channel}", lang) for channel in CHANNELS}
    names: dict[str, str] = {}  # looked up once per site: the sheet may have a million rows
    kinds: dict[str, str | None] = {}

    def name(site: str | None) -> str | None:
        if site is None:
            return None
        if site not in names:
            names[site] = sites.name_of(site, lang) if sites else site
        return names[site]

    def kind(destination: str | None) -> str | None:
        if destination is None:
            return None
        if destination not in kinds:
            found = referral_kind(sites, destination) if sites else None
            kinds[destination] = t(f"kind_{found}", lang) if found else None
        return kinds[destination]

    def row_of(row: Sequence[Any]) -> tuple:
        site, destination, home = (
            row[at["site_id"]],
            row[at["destination_id"]],
            row[at["home_site_id"]],
        )
        weekday, channel = row[at["weekday"]], row[at["channel"]]
        return (
            row[at["visit_id"]],
            row[at["at_utc"]],
            row[at["date"]],
            row[at["hour"]],
            weekdays[weekday] if isinstance(weekday, int) else weekday,
            site,
            name(site),
            row[at["desk"]],
            channels.get(channel, channel),
            row[at["outcome_id"]],
            destination,
            name(destination),
            kind(destination),
            row[at["destinations"]],
            row[at["handled_here"]],
            row[at["postcode"]],
            home,
            name(home),
            row[at["flow_version"]],
            row[at["duration_s"]],
            row[at["wait_s"]],
            row[at["service_s"]],
            row[at["demo"]],
        )

    return row_of


def _write_visits_xlsx(
    store: Store,
    options: Options,
    path: Path,
    sites: Sites | None,
    tick: Callable[[int], None],
) -> int:
    lang = options.lang
    written = demo = 0
    yes = t("exp_yes", lang)
    demo_at = len(XLSX_VISIT_COLUMNS) - 1
    row_of = _xlsx_visit(sites, lang)
    with _workbook(path) as (book, formats):
        about = book.add_worksheet(_sheet_name(t("exp_table_about", lang)))  # read first
        sheet = book.add_worksheet(_sheet_name(t("exp_table_visits", lang)))
        headers = [t(f"exp_col_{c.key}", lang) for c in XLSX_VISIT_COLUMNS]
        widths = {"visit_id": 34, "at_utc": 18, "flow_version": 16, "destinations": 24}
        names = ("site_name", "destination_name", "home_site_name")
        widths |= {key: 32 for key in names} | {"destination_kind": 20}
        for col, (column, header) in enumerate(zip(XLSX_VISIT_COLUMNS, headers, strict=True)):
            sheet.set_column(col, col, max(widths.get(column.key, 12), len(header) + 2))
        _xlsx_header(sheet, headers, formats)
        for part in _visit_rows(store, options, False, "typed"):
            for row in part:
                cells = row_of(row)
                written += 1
                demo += cells[demo_at] == yes
                _xlsx_row(sheet, written, cells, XLSX_VISIT_COLUMNS, formats)
            tick(written)
        sheet.autofilter(0, 0, written, len(XLSX_VISIT_COLUMNS) - 1)
        lines = _visits_about_lines(options, written, demo > 0, sites)
        _xlsx_about(about, [[t(k, lang), v] for k, v in lines], lang, formats)
    return written


def _write_visits_about_csv(path: Path, options: Options, rows: int, excel_da: bool) -> Path:
    """Beside a CSV of visit rows, its "about" table: <name>_om_udtraekket.csv."""
    about = path.with_name(f"{path.stem}_{t('exp_file_about', options.lang)}.csv")
    with _text_file(about, ".csv", "utf-8-sig", newline="") as out:
        writer = csv.writer(out, **csv_dialect(excel_da))
        writer.writerow([t("exp_col_item", options.lang), t("exp_col_value", options.lang)])
        writer.writerows([safe_text(v) for v in line] for line in visits_about(options, rows))
    return about


class ExportError(CodedError):
    """A problem the person exporting must act on; `code` names the i18n message."""


def write(export: Export, fmt: str, out: Path, excel_da: bool = False) -> list[Path]:
    check_target(out, fmt, folder=fmt == "csv")  # again here: the overview's dialog comes here
    if fmt == "csv":
        return write_csv(export, out, excel_da)
    if fmt == "json":
        return [write_json(export, out)]
    return [write_xlsx(export, out)]
