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
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, TextIO, cast
from xml.sax.saxutils import escape

from triage.db import queries
from triage.db.queries import VisitQuery
from triage.db.store import Store
from triage.errors import CodedError
from triage.i18n import t
from triage.sites import Sites
from triage.staffing import DEFAULT_WAIT_MINUTES, DEFAULT_WAIT_SHARE, counters_needed
from triage.stats import (
    Filters,
    is_misdirected,
    postcode_counts,
    referral_kind,
    summarize,
    visit_counts,
)

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


@dataclass(frozen=True)
class Options:
    start: date
    end: date  # excluded
    lang: str = "da"
    filters: Filters = Filters()
    min_count: int = 0
    wait_minutes: float = DEFAULT_WAIT_MINUTES
    wait_share: float = DEFAULT_WAIT_SHARE


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

    postcodes = postcode_counts(store, start, end, filters)
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

    tables.append(_staffing(store, sites, options))
    step()
    export = Export(start, end, lang, options.min_count, tables)
    total_hidden = options.min_count > 1 and _suppress(export, summary.total)
    tables.insert(0, _about(export, options, None if total_hidden else summary.total))
    step()
    return export


def _staffing(store: Store, sites: Sites, options: Options) -> Table:
    """Counters needed per site, weekday and hour, from the period's average arrivals in person
    (phone calls take no counter) on the days the site had visits."""
    start, end, lang = options.start, options.end, options.lang
    in_person = Filters(
        sites=options.filters.sites,
        destinations=options.filters.destinations,
        channels=("in_person",),
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
    rows = []
    for (site, weekday, hour), visits in sorted(counts.items()):
        days = open_days.get((site, weekday), 0)
        service = sites[site].service_minutes if site in sites else None
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
        ],
        rows,
    )


def _about(export: Export, options: Options, total: int | None) -> Table:
    lang = options.lang
    small = t("exp_about_small_none", lang)
    if options.min_count > 1:
        small = t("exp_about_small_value", lang, k=options.min_count, cells=export.suppressed)
        shares = next(table for table in export.tables if table.key == "shares")
        if any(row[3] is None for row in shares.rows):
            small += " " + t("exp_about_shares_hidden", lang)
    lines = [
        *_about_period(options),
        ("exp_about_visits", t("exp_about_hidden", lang) if total is None else str(total)),
        *_about_selection(options),
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
        ("exp_about_misdirected", t("exp_about_misdirected_value", lang)),
        ("exp_about_personal", t("exp_about_personal_value", lang)),
    ]
    return Table("about", [Column("item"), Column("value")], [[t(k, lang), v] for k, v in lines])


def _about_period(options: Options) -> list[tuple[str, str]]:
    last = options.end - timedelta(days=1)
    period = t(
        "exp_about_period_value",
        options.lang,
        start=options.start.isoformat(),
        end=last.isoformat(),
    )
    return [
        ("exp_about_period", period),
        ("exp_about_made", datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")),
    ]


def _about_selection(options: Options) -> list[tuple[str, str]]:
    lang, filters = options.lang, options.filters
    return [
        ("exp_about_sites", ", ".join(filters.sites) if filters.sites else t("exp_all", lang)),
        ("exp_about_demo", t("exp_yes" if filters.include_demo else "exp_no", lang)),
    ]


def visits_about(options: Options, rows: int) -> list[list[str]]:
    """What a file of visit rows holds and how to treat it: item, value (its "about" table)."""
    lines = [
        *_about_period(options),
        ("exp_about_rows", str(rows)),
        *_about_selection(options),
        ("exp_about_content", t("exp_about_content_value", options.lang)),
        ("exp_about_risk", t("exp_about_risk_value", options.lang)),
        ("exp_about_handling", t("exp_about_handling_value", options.lang)),
    ]
    return [[t(k, options.lang), v] for k, v in lines]


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
    if ("about", 0) in hidden:
        export.suppressed += 1
    return ("about", 0) in hidden


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


def write_csv(export: Export, folder: Path, excel_da: bool = False) -> list[Path]:
    """One UTF-8 file (with the byte-order mark Excel looks for) per table, in `folder` (made
    if missing; the folder it is in must exist)."""
    folder.mkdir(exist_ok=True)
    written = []
    for table in export.tables:
        path = folder / f"{t(f'exp_file_{table.key}', export.lang)}.csv"
        with _text_file(path, ".csv", "utf-8-sig", newline="") as out:
            writer = csv.writer(out, **csv_dialect(excel_da))
            writer.writerow([safe_text(h) for h in table.headers(export.lang)])
            kinds = [c.kind for c in table.columns]
            writer.writerows(
                [_number_text(v, k, excel_da) for v, k in zip(row, kinds, strict=True)]
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
    """One sheet per table: real dates and numbers, a frozen bold header row, readable widths."""
    with _workbook(path) as (book, formats):
        for table in export.tables:
            sheet = book.add_worksheet(_sheet_name(table.title(export.lang)))
            headers = table.headers(export.lang)
            _xlsx_widths(sheet, table.columns, headers, table.rows[:500])
            sheet.freeze_panes(1, 0)
            for col, header in enumerate(headers):
                sheet.write_string(0, col, safe_text(header), formats["header"])
            for number, row in enumerate(table.rows, start=1):
                _xlsx_row(sheet, number, row, table.columns, formats)
    return path


def _xlsx_formats(book) -> dict:
    return {
        "header": book.add_format({"bold": True, "bottom": 1}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "share": book.add_format({"num_format": "0.0%"}),
        "number": book.add_format({"num_format": "0.00"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
    }


def _xlsx_widths(sheet, columns: list[Column], headers: list[str], sample: list[list]) -> None:
    for col, (column, header) in enumerate(zip(columns, headers, strict=True)):
        widest = len(header)
        for row in sample:
            value = row[col]
            widest = max(
                widest, 10 if column.kind == "date" else len(str(value)) if value is not None else 0
            )
        sheet.set_column(col, col, min(max(widest + 2, 6), 60))


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
) -> int:
    """Every visit of the period (never void ones), one row each; returns how many."""
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
            written = _write_visit_csv_rows(store, options, out, writer, excel_da, tick)
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
        written = _write_visits_xlsx(store, options, path, headers, tick)
    return written


def _write_visit_csv_rows(
    store: Store, options: Options, out: TextIO, writer: Any, excel_da: bool, tick: Ticker
) -> int:
    """The visit rows of a CSV export, after its header; returns how many. On SQLite, a large
    export writes the second half of its period in a process of its own (both cores at work)
    to a scratch file beside `out`, appended when both are done: the same bytes, in order."""
    query = _visit_query(options)
    split = None
    if store.dialect == "sqlite" and (os.cpu_count() or 1) > 1:
        split = queries.halves(store, query, TWO_PROCESSES_FROM)
    if split is None:
        return _write_csv_part(store, query, writer, tick)
    first, second = split
    target = Path(out.name)
    handle, name = tempfile.mkstemp(prefix=f"{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    scratch = Path(name)
    sql, params = queries.visits_sql(second, False, store.dialect)
    job = {
        "db": store.engine.url.database,
        "sql": sql,
        "params": {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()},
        "out": str(scratch),
        "delimiter": csv_dialect(excel_da)["delimiter"],
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

        ours = _write_csv_part(store, first, writer, both)
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


def _write_csv_part(store: Store, query: VisitQuery, writer: Any, tick: Ticker) -> int:
    written = 0
    for part in queries.visit_rows(store, query, False):
        writer.writerows(part)
        written += len(part)
        tick(written)
    return written


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _write_visits_xlsx(
    store: Store, options: Options, path: Path, headers: list[str], tick: Callable[[int], None]
) -> int:
    written = 0
    with _workbook(path) as (book, formats):
        about = book.add_worksheet(_sheet_name(t("exp_table_about", options.lang)))  # read first
        sheet = book.add_worksheet(_sheet_name(t("exp_table_visits", options.lang)))
        widths = {"visit_id": 34, "at_utc": 20, "flow_version": 16, "destinations": 24}
        for col, (column, header) in enumerate(zip(VISIT_COLUMNS, headers, strict=True)):
            sheet.set_column(col, col, max(widths.get(column.key, 12), len(header) + 2))
        sheet.freeze_panes(1, 0)
        for col, header in enumerate(headers):
            sheet.write_string(0, col, safe_text(header), formats["header"])
        for part in _visit_rows(store, options, False, "typed"):
            for row in part:
                written += 1
                _xlsx_row(sheet, written, row, VISIT_COLUMNS, formats)
            tick(written)
        _xlsx_about(about, visits_about(options, written), options.lang, formats)
    return written


def _xlsx_about(sheet, lines: list[list[str]], lang: str, formats: dict) -> None:
    columns = [Column("item"), Column("value")]
    _xlsx_widths(sheet, columns, [t("exp_col_item", lang), t("exp_col_value", lang)], lines)
    for col, key in enumerate(("exp_col_item", "exp_col_value")):
        sheet.write_string(0, col, t(key, lang), formats["header"])
    for number, line in enumerate(lines, start=1):
        _xlsx_row(sheet, number, line, columns, formats)


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
