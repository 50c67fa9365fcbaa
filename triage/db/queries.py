"""The queries statistics and exports run: counts from the rollups (triage.stats) and the
visit-level rows (triage.export). Those modules decide what to ask; the SQL is here.

The SQL is written out rather than built with SQLAlchemy's expression language: building and
compiling a statement cost more than running it, and the overview runs several."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache, lru_cache
from threading import Lock
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlmodel import SQLModel

from triage.db.models import (
    VisitDaily,
    VisitDay,
    VisitHourly,
    VisitMonthHourly,
    VisitMonthRoute,
    VisitPostcode,
    VisitRoute,
    table_of,
)
from triage.db.rollups import ROLLUP_KEYS

if TYPE_CHECKING:
    from triage.db.store import Store

GROUPABLE = ROLLUP_KEYS + ("local_weekday",)
# Narrowest first: each query reads the smallest rollup that has every column it needs.
TABLES = (VisitDay, VisitHourly, VisitRoute, VisitDaily)
# Whole months of a long period come from these, the days at either end from the day rollup.
MONTHS: dict[type[SQLModel], type[SQLModel]] = {
    VisitHourly: VisitMonthHourly,
    VisitRoute: VisitMonthRoute,
}


@dataclass(frozen=True)
class Filters:
    """What to count: None means everything."""

    sites: tuple[str, ...] | None = None
    destinations: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    outcomes: tuple[str, ...] | None = None  # an errand group is the outcomes it leads to
    include_demo: bool = True

    @property
    def columns(self) -> set[str]:
        """Columns the filters look at (besides the date)."""
        wanted = {"local_date", "demo"}
        if self.sites is not None:
            wanted.add("site_id")
        if self.destinations is not None:
            wanted.add("destination_id")
        if self.channels is not None:
            wanted.add("channel")
        if self.outcomes is not None:
            wanted.add("outcome_id")
        return wanted


def _narrowest(needed: set[str]) -> type[SQLModel]:
    for table in TABLES:
        if needed <= set(table_of(table).columns.keys()):
            return table
    raise ValueError(f"no rollup has {sorted(needed)}")


def whole_months(start: date, end: date) -> tuple[date, date] | None:
    """The first day of the first whole month in [start, end) and the first day after the last
    whole month, or None when the period holds no whole month."""
    first = start if start.day == 1 else (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    last = end.replace(day=1)
    return (first, last) if first < last else None


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


DayRange = tuple[date, date, int]  # [first, after) added (+1) or taken away (-1)


def month_cover(start: date, end: date) -> tuple[tuple[date, date] | None, list[DayRange]]:
    """How to count [start, end) with a month rollup: the months [first, after) it reads, and
    the day ranges added to them or taken away. A month the period cuts is read whole minus
    its days outside the period when those are fewer than its days inside (a year to today:
    the month's rows, and nothing after today to take away), else by its days inside."""
    if start >= end:
        return None, []
    head, tail = start.replace(day=1), (end - timedelta(days=1)).replace(day=1)
    days: list[DayRange] = []
    first, after = (start if start.day == 1 else _next_month(start)), tail
    if end.day == 1:
        after = end
    if head == tail and start.day != 1 and end.day != 1:  # one month, cut at both ends
        inside, outside = (end - start).days, (_next_month(end) - end).days + start.day - 1
        if outside < inside:
            return (head, _next_month(head)), [(head, start, -1), (end, _next_month(end), -1)]
        return None, [(start, end, 1)]
    if start.day != 1:  # the first month, cut
        if start.day - 1 < (_next_month(start) - start).days:
            first = head
            days.append((head, start, -1))
        else:
            days.append((start, min(_next_month(start), end), 1))
    if end.day != 1:  # the last month, cut
        outside = (_next_month(end) - end).days
        if outside < end.day - 1:
            after = _next_month(end)
            days.append((end, after, -1))
        else:
            days.append((tail, end, 1))
    return ((first, after) if first < after else None), days


def rollup_counts(
    store: Store, start: date, end: date, by: tuple[str, ...], filters: Filters
) -> dict[tuple, int]:
    """Visits in the period, counted per combination of the `by` columns, from the narrowest
    rollup that has them; whole months from its month rollup where it has one."""
    return counts_in_periods(store, [(start, end)], by, filters)[0]


def counts_in_periods(
    store: Store, periods: Sequence[tuple[date, date]], by: tuple[str, ...], filters: Filters
) -> list[dict[tuple, int]]:
    """rollup_counts for each period, in one query: a round trip for all of them."""
    unknown = set(by) - set(GROUPABLE)
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}; choose from {GROUPABLE}")
    query, params = _periods_sql(store.dialect, filters, tuple(periods), by)
    if len(periods) == 1:
        return [_typed_counts(_fetched(store, query, params), by)]
    each: list[list[Sequence[Any]]] = [[] for _ in periods]
    for row in _fetched(store, query, params):
        each[row[0]].append(row[1:])
    return [_typed_counts(rows, by) for rows in each]


@lru_cache(maxsize=256)
def _periods_sql(
    dialect: str, filters: Filters, periods: tuple[tuple[date, date], ...], by: tuple[str, ...]
) -> tuple[str, dict]:
    """The counting query of counts_in_periods and its parameters, made once for the same
    question (the overview asks the same ones each refresh; making them cost a tenth of it).
    With more than one period each row starts with the period's index."""
    sql = _Sql(dialect, filters)
    counting = [_counting_sql(sql, start, end, by) for start, end in periods]
    if len(counting) == 1:
        return counting[0], sql.params
    query = " UNION ALL ".join(
        f"SELECT {i} AS period, p{i}.* FROM ({part}) AS p{i}" for i, part in enumerate(counting)
    )
    return query, sql.params


def _counting_sql(sql: _Sql, start: date, end: date, by: tuple[str, ...]) -> str:
    needed = set(by) | sql.filters.columns
    table = _narrowest(needed)
    months, days = month_cover(start, end) if "local_date" not in by else (None, [])
    monthly = MONTHS.get(table)
    if (
        monthly is None
        or months is None
        or not (needed - {"local_date"} <= set(table_of(monthly).columns.keys()))
    ):
        # By a rollup's whole key each row is one cell already: no GROUP BY (half the time).
        # (local_weekday too: it follows from the date.)
        key = {c.name for c in table_of(table).primary_key.columns}
        whole_key = key <= set(by) and (set(by) - key <= {"local_weekday"} and "local_date" in key)
        return sql.grouped(table_of(table).name, by, "local_date", start, end, not whole_key)
    parts = [sql.grouped(table_of(monthly).name, by, "month", *months)]
    if not days:  # whole months only (a year to today): grouped once, not twice
        return parts[0]
    for a, b, sign in days:  # each range its own part: an OR scans all
        counted = "SUM(visits)" if sign > 0 else "-SUM(visits)"
        parts.append(sql.grouped(table_of(table).name, by, "local_date", a, b, counted=counted))
    keys = ", ".join(by)
    union = " UNION ALL ".join(parts)
    return f"SELECT {keys}, SUM(visits) AS visits FROM ({union}) AS parts GROUP BY {keys}"


@dataclass
class DayFigures:
    """What the overview takes from the period's days."""

    per_day: dict[date, int]  # visits a day at the shown sites (days with visits)
    opened: dict[tuple[str, int], int]  # days with visits per (shown site, weekday)
    by_bucket: dict[tuple[date, str], int]  # visits per (month or ISO week's first day, site)
    demo: int  # demo visits at the shown sites


def day_figures(store: Store, start: date, end: date, filters: Filters, unit: str) -> DayFigures:
    """The trend, the days each site had visits per weekday (the busiest hours' averages), the
    demo visits and the visits per month (`unit` "month") or ISO week ("week") and site (the
    shares over time, for every site: a share is against all jobcentres). PostgreSQL sums the
    days itself, in one query: a year of 30 sites is some 8,000 day rows, and shipping and
    summing them in Python cost more than the rest of the overview. A day with demo and real
    visits at a site is one day it had visits."""
    shown = None if filters.sites is None else set(filters.sites)
    if store.dialect == "sqlite":
        return _day_figures_summed_here(store, filters, start, end, unit, shown)
    per_day: dict[date, int] = {}
    opened: dict[tuple[str, int], int] = {}
    by_bucket: dict[tuple[date, str], int] = {}
    demo = 0
    for part, day, weekday, site, visits, demo_visits in _fetched(
        store, *_day_figures_sql(filters, start, end, unit)
    ):
        if part == 0:
            if visits:  # None: visits that day, but none at the shown sites
                per_day[day] = int(visits)
                demo += int(demo_visits or 0)
        elif part == 1:
            if shown is None or site in shown:
                opened[site, weekday] = int(visits)
        else:
            by_bucket[day, site] = int(visits)
    return DayFigures(per_day, opened, by_bucket, demo)


DAY_KEY = ("local_date", "site_id", "demo", "local_weekday")
# Each day as SQLite gives it (ISO text) → the day and its month's or ISO week's first day.
_DAYS: dict[str, dict[Any, tuple[date, date]]] = {"month": {}, "week": {}}


def _day_figures_summed_here(
    store: Store, filters: Filters, start: date, end: date, unit: str, shown: set[str] | None
) -> DayFigures:
    """day_figures on SQLite, in one pass over the day rows: in the same process the rows cost
    nothing to ship, and this loop is quicker than SQLite's own grouping (0.3 against 0.7 ms
    for a year of three sites)."""
    rows = _fetched(
        store, *_periods_sql("sqlite", replace(filters, sites=None), ((start, end),), DAY_KEY)
    )
    days = _DAYS[unit]
    per_day: defaultdict[date, int] = defaultdict(int)
    opened: defaultdict[tuple[str, int], int] = defaultdict(int)
    by_bucket: defaultdict[tuple[date, str], int] = defaultdict(int)
    demo = 0
    for raw, site, is_demo, weekday, visits in rows:
        if not visits:
            continue
        try:
            day, first = days[raw]
        except KeyError:
            day = as_date(raw)
            first = day - timedelta(days=weekday) if unit == "week" else day.replace(day=1)
            days[raw] = (day, first)
        by_bucket[first, site] += visits
        if shown is None or site in shown:
            per_day[day] += visits
            opened[site, weekday] += 1
            if is_demo:
                demo += visits
    if 0 < demo < sum(per_day.values()):  # a day read twice (demo and not) counts once
        plain = {(day, site) for day, site, is_demo, _, visits in rows if visits and not is_demo}
        for day, site, is_demo, weekday, visits in rows:
            if visits and is_demo and (day, site) in plain and (shown is None or site in shown):
                opened[site, weekday] -= 1
    return DayFigures(dict(per_day), dict(opened), dict(by_bucket), demo)


# The first day of a day's month or ISO week (local_weekday is 0 on a Monday), on PostgreSQL.
_BUCKET_START = {
    "month": "d.local_date - (date_part('day', d.local_date)::int - 1)",
    "week": "d.local_date - d.local_weekday",
}


@lru_cache(maxsize=64)
def _day_figures_sql(filters: Filters, start: date, end: date, unit: str) -> tuple[str, dict]:
    """day_figures' query on PostgreSQL: rows of (part, day, weekday, site, visits, demo
    visits), part 0 a day's visits at the shown sites, 1 the days a site had visits on a
    weekday, 2 a month's or week's visits at a site; in one pass (grouping sets). A day row
    with demo visits where the site also had real ones that day is `twice`, and not counted
    again as a day it had visits (the real days made once: joined as they came, the driver's
    prepared plan hashed every day row instead)."""
    sql = _Sql("postgresql", replace(filters, sites=None))
    days = _counting_sql(sql, start, end, DAY_KEY)
    shown = "TRUE"
    if filters.sites is not None:
        shown = f"site_id IN ({', '.join(sql.param(s) for s in filters.sites) or 'NULL'})"
    bucket = _BUCKET_START[unit]
    query = (
        f"WITH r AS MATERIALIZED (SELECT local_date, site_id FROM ({days}) AS r "
        "WHERE NOT demo AND visits > 0) "
        "SELECT CASE WHEN GROUPING(local_date) = 0 THEN 0 "
        "WHEN GROUPING(local_weekday) = 0 THEN 1 ELSE 2 END, "
        "COALESCE(local_date, bucket), local_weekday, site_id, "
        f"CASE WHEN GROUPING(local_date) = 0 THEN SUM(visits) FILTER (WHERE {shown}) "
        "WHEN GROUPING(local_weekday) = 0 THEN COUNT(*) FILTER (WHERE NOT twice) "
        "ELSE SUM(visits) END, "
        f"SUM(visits) FILTER (WHERE demo AND {shown}) "
        f"FROM (SELECT d.*, {bucket} AS bucket, r.site_id IS NOT NULL AS twice "
        f"FROM ({days}) AS d LEFT JOIN r ON d.demo AND r.local_date = d.local_date "
        "AND r.site_id = d.site_id WHERE d.visits > 0) AS d "
        "GROUP BY GROUPING SETS ((local_date), (site_id, local_weekday), (bucket, site_id))"
    )
    return query, sql.params


def _typed_counts(rows: Sequence[Sequence[Any]], by: tuple[str, ...]) -> dict[tuple, int]:
    if not rows:
        return {}
    # Column by column: the overview reads hundreds of rows each refresh, and a call per cell
    # cost more than the query.
    columns = list(zip(*rows, strict=True))
    typed: list[Iterable[Any]] = [
        column if column_type is None else map(column_type, column)
        for column_type, column in zip(map(_TYPES.get, by), columns[:-1], strict=True)
    ]
    cells = zip(*typed)  # noqa: B905 (each a column of the same rows)
    return {key: int(n) for key, n in zip(cells, columns[-1], strict=True) if n}


def postcode_rollup_counts(
    store: Store, start: date, end: date, filters: Filters
) -> dict[tuple[int, str, str], int]:
    """Visits that gave a postcode, per (postcode, home site, visited site)."""
    if any(x is not None for x in (filters.destinations, filters.channels, filters.outcomes)):
        raise ValueError("postcode counts cannot be filtered by destination, channel or outcome")
    sql = _Sql(store.dialect, filters)
    query = sql.grouped(
        VisitPostcode.__tablename__,
        ("postcode", "postcode_site_id", "site_id"),
        "local_date",
        start,
        end,
    )
    rows = _fetched(store, query, sql.params)
    return {(int(p), home, site): int(n) for p, home, site, n in rows if n}


def open_days(store: Store, start: date, end: date, filters: Filters) -> dict[tuple[str, int], int]:
    """How many days of each weekday each site had visits in the period, per (site, weekday):
    a few rows, counted by the database from the per-day rollup."""
    table = table_of(_narrowest({"local_date", "site_id", "local_weekday"} | filters.columns))
    sql = _Sql(store.dialect, filters)
    # Rows are never below zero, so a day with any row above zero had visits.
    by, counted = ("site_id", "local_weekday"), "COUNT(DISTINCT local_date)"
    query = sql.grouped(
        table.name, by, "local_date", start, end, condition="visits > 0", counted=counted
    )
    rows = _fetched(store, query, sql.params)
    return {(site, int(weekday)): int(n) for site, weekday, n in rows}


def hour_peaks(
    store: Store,
    start: date,
    end: date,
    slots: Sequence[tuple[str, int, int]],
    filters: Filters,
) -> dict[tuple[str, int, int], tuple[int, date]]:
    """For each (site, weekday, hour) slot: the most visits in that hour on one day of the
    period, and that day (the earliest on a tie). A lookup per slot on the hourly rollup's
    slot index (ix_visit_hourly_slot) reads that slot's days only, not every hour."""
    if not slots:
        return {}
    by = ("site_id", "local_weekday", "local_hour", "local_date")
    table = table_of(_narrowest(set(by) | filters.columns)).name
    sql = _Sql(store.dialect, filters)
    if store.dialect == "postgresql":
        # Every slot through one lookup, the slots given as arrays: one short statement
        # whatever their number (the driver prepares it once), where a UNION of 30 slots took
        # ten times longer to plan than to run.
        sites, weekdays, hours = (sql.param(list(column)) for column in zip(*slots, strict=True))
        slot = "site_id = s.site AND local_weekday = s.weekday AND local_hour = s.hour"
        busiest = sql.grouped(table, ("local_date",), "local_date", start, end, condition=slot)
        query = (
            f"SELECT s.i - 1, p.* FROM unnest({sites}::text[], {weekdays}::int[], "
            f"{hours}::int[]) WITH ORDINALITY AS s(site, weekday, hour, i) CROSS JOIN LATERAL "
            f"({busiest} ORDER BY visits DESC, local_date LIMIT 1) AS p"
        )
        rows = _fetched(store, query, sql.params)
        return {slots[i]: (int(visits), as_date(day)) for i, day, visits in rows}
    parts = []
    for i, (site, weekday, hour) in enumerate(slots):
        slot = (
            f"site_id = {sql.param(site)} AND local_weekday = {sql.param(weekday)} "
            f"AND local_hour = {sql.param(hour)}"
        )
        # Grouped by the day alone (the slot is fixed): the index gives the days in order.
        busiest = sql.grouped(table, ("local_date",), "local_date", start, end, condition=slot)
        parts.append(
            f"SELECT {i} AS slot, p.* FROM ({busiest} ORDER BY visits DESC, local_date LIMIT 1) "
            "AS p"
        )
    rows = _fetched(store, " UNION ALL ".join(parts), sql.params)
    return {slots[i]: (int(visits), as_date(day)) for i, day, visits in rows}


def _fetched(store: Store, query: str, params: dict) -> Sequence[Any]:
    """A counting query's rows from the driver's own cursor: plain tuples, without the result
    objects that cost more than a small query itself (the overview runs several). Inside
    one_reading on the connection it holds (the rows maybe on their way already), else on one
    of its own."""
    reading = _READING.get()
    if reading is not None:
        return reading.fetched(query, params)
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(query, params)
        return cursor.fetchall()
    finally:
        raw.close()


def _asked(query: str, params: dict) -> tuple:
    """A query with its parameters, as a key (PostgreSQL's array parameters as tuples)."""
    return query, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items())


class _Reading:
    """one_reading's connection, the queries asked on it, and those sent ahead."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.asked: list[tuple[str, dict]] = []
        self.sent: dict[tuple, Any] = {}  # cursors whose rows are on their way

    def send(self, query: str, params: dict) -> None:
        cursor = self.raw.cursor()
        cursor.execute(query, params)  # in pipeline mode: sent, not waited for
        self.sent[_asked(query, params)] = cursor

    def fetched(self, query: str, params: dict) -> Sequence[Any]:
        self.asked.append((query, params))
        cursor = self.sent.pop(_asked(query, params), None) if self.sent else None
        if cursor is None:
            cursor = self.raw.cursor()
            cursor.execute(query, params)
        return cursor.fetchall()


# The connection one_reading holds for the counting queries inside it, if any.
_READING: ContextVar[_Reading | None] = ContextVar("reading", default=None)
# What each repeated reading (one_reading's `again`) asked the last time, the latest few.
_ASKED_BEFORE: dict[Hashable, list[tuple[str, dict]]] = {}
_REMEMBERED = 16
_ASKED_LOCK = Lock()  # views refresh in worker threads


@contextmanager
def one_reading(store: Store, again: Hashable | None = None) -> Iterator[None]:
    """The counting queries inside share one connection and one read-only transaction: every
    figure of a view counted at the same moment while desks write, and on PostgreSQL one
    round trip a query over the network, where a connection of its own costs four or five
    (the pool's ping, BEGIN, the query, ROLLBACK). There the connection works in pipeline
    mode, so BEGIN travels with the first query and ROLLBACK needs no trip of its own; and a
    view refreshed with the same `again` (the overview, every few seconds) sends the queries it
    asked the time before all at once, so their rows come back in one round trip. A query asked
    as sent takes its rows; one not sent (the busiest hours moved) is asked then."""
    if _READING.get() is not None:  # inside another: that one's connection and moment
        yield
        return
    reading = _Reading(store.engine.raw_connection())
    token = _READING.set(reading)
    try:
        if store.dialect == "postgresql":
            with _pg_snapshot(reading.raw):
                for query, params in _ASKED_BEFORE.get(again, ()) if again is not None else ():
                    reading.send(query, params)
                yield
        else:
            reading.raw.execute("BEGIN")  # a read transaction: one WAL snapshot for every query
            try:
                yield
            finally:
                reading.raw.rollback()
        if again is not None and store.dialect == "postgresql":
            with _ASKED_LOCK:  # the latest last, the oldest dropped
                _ASKED_BEFORE.pop(again, None)
                _ASKED_BEFORE[again] = reading.asked
                while len(_ASKED_BEFORE) > _REMEMBERED:
                    del _ASKED_BEFORE[next(iter(_ASKED_BEFORE))]
    finally:
        _READING.reset(token)
        reading.raw.close()


@contextmanager
def _pg_snapshot(raw: Any) -> Iterator[None]:
    conn = raw.driver_connection
    conn.autocommit = True  # BEGIN and ROLLBACK said here, so they can share a round trip
    try:
        with conn.pipeline():
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield
            conn.execute("ROLLBACK")  # sent with the pipeline's last sync
    finally:
        try:
            conn.rollback()  # after a failure; nothing is sent when no transaction is open
            conn.autocommit = False
        except Exception:
            raw.invalidate()  # never back to the pool in autocommit or a broken transaction


class _Sql:
    """Pieces of the counting queries, with their parameters in the driver's own style."""

    def __init__(self, dialect: str, filters: Filters) -> None:
        self.dialect = dialect
        self.filters = filters
        self.params: dict = {}

    def param(self, value) -> str:
        name = f"p{len(self.params)}"
        if isinstance(value, date) and self.dialect == "sqlite":
            value = value.isoformat()  # as SQLite stores dates
        self.params[name] = value
        return f"%({name})s" if self.dialect == "postgresql" else f":{name}"

    def grouped(
        self,
        table: str,
        by: tuple[str, ...],
        date_column: str,
        start: date,
        end: date,
        summed: bool = True,
        condition: str = "",
        counted: str = "SUM(visits)",
    ) -> str:
        conditions = [f"{date_column} >= {self.param(start)}", f"{date_column} < {self.param(end)}"]
        if condition:
            conditions.append(condition)
        for column, values in (
            ("site_id", self.filters.sites),
            ("destination_id", self.filters.destinations),
            ("channel", self.filters.channels),
            ("outcome_id", self.filters.outcomes),
        ):
            if values is not None:
                listed = ", ".join(self.param(v) for v in values) or "NULL"
                conditions.append(f"{column} IN ({listed})")
        if not self.filters.include_demo:
            conditions.append("NOT demo")
        keys = ", ".join(by)
        where = " AND ".join(conditions)
        if not summed:
            return f"SELECT {keys}, visits FROM {table} WHERE {where}"
        return f"SELECT {keys}, {counted} AS visits FROM {table} WHERE {where} GROUP BY {keys}"


@cache
def as_date(value) -> date:
    """A date as a date, from SQLite's ISO text (each day's text is read once)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


# The same Python types on both engines: dates as dates, yes/no as bool.
_TYPES: dict[str, Callable[[Any], Any]] = {
    "local_date": as_date,
    "handled_here": bool,
    "demo": bool,
}


# --- visit-level rows (exports) ----------------------------------------------------------

# An export's text columns and the visit columns they come from.
_TEXT_SOURCES = {
    "visit_id": "visit_id",
    "site_id": "site_id",
    "desk": "desk",
    "channel": "channel",
    "outcome_id": "outcome_id",
    "destination_id": "destination_id",
    "destinations": "destinations",
    "home_site_id": "postcode_site_id",
    "flow_version": "flow_version",
}
_PLAIN_SOURCES = {
    "at_utc": "at_utc",
    "date": "local_date",
    "hour": "local_hour",
    "weekday": "local_weekday",
    "postcode": "postcode",
    "wait_s": "wait_s",
    "service_s": "service_s",
}


@dataclass(frozen=True)
class VisitQuery:
    """What a visit-level export reads: its columns (by export key), the period and filters,
    the words for yes and no, and the first characters a spreadsheet reads as a formula."""

    columns: Sequence[str]
    start: date
    end: date
    filters: Filters
    yes: str
    no: str
    formula_starts: Sequence[str]


def visits_sql(query: VisitQuery, typed: bool, dialect: str = "sqlite") -> tuple[str, dict]:
    """The visit-level query, the same on SQLite and PostgreSQL. `typed`: the stored values
    (JSON, Excel); else every value as the text the CSV needs, made formula-safe by the
    database itself (the csv module quotes it: see visits_csv_sql for the quicker way)."""
    selected, rest, params = _visit_select(query, typed, dialect)
    return f"SELECT {', '.join(selected)} {rest}", params


# Visit columns whose text holds the CSV delimiter by design (a list of places): made whole
# CSV fields, quoted where needed, by the database itself (see visits_csv_sql).
_QUOTED_IN_SQL = frozenset({"destinations"})


def visits_csv_sql(
    query: VisitQuery, dialect: str, delimiter: str
) -> tuple[str, dict, tuple[int, ...]]:
    """The visit-level query for a CSV file, its rows lines already but for the delimiter:
    every value as its text (formula-safe, NULL as nothing), consecutive fields joined by
    `delimiter` in one cell, a field of _QUOTED_IN_SQL a cell of its own, quoted as the csv
    module would. A row's cells joined by `delimiter` are its CSV line, exactly as the csv
    module writes the rows of visits_sql, as long as no other value needs quoting: that is
    for the caller to check (triage.db.csv_rows.csv_lines; a value that does is a reason to
    write the rows of visits_sql the csv module's way instead). Returns the SQL, its
    parameters and which cells are quoted fields. (Checking every value for quoting in SQL
    costs more than the csv module.)"""
    selected, rest, params = _visit_select(query, False, dialect)
    pg = dialect == "postgresql"
    literal = "'" + delimiter.replace("'", "''") + "'"
    cells: list[str] = []
    run: list[str] = []
    quoted: list[int] = []
    for key, field in zip(query.columns, selected, strict=True):
        if key in _QUOTED_IN_SQL:
            raw = _TEXT_SOURCES[key]
            find, char = ("strpos", "chr") if pg else ("instr", "char")
            special = " OR ".join(
                f"{find}({raw}, {c}) > 0" for c in (literal, "'\"'", f"{char}(13)", f"{char}(10)")
            )
            safe = f"COALESCE({field}, '')"
            if run:
                cells.append(f" || {literal} || ".join(run))
                run = []
            quoted.append(len(cells))
            cells.append(
                f"CASE WHEN {special} THEN '\"' || replace({safe}, '\"', '\"\"') || '\"' "
                f"ELSE {safe} END"
            )
        elif key in _TEXT_SOURCES or key in ("handled_here", "demo", "at_utc"):
            run.append(f"COALESCE({field}, '')")  # text already
        elif pg:
            run.append(f"COALESCE(CAST({field} AS TEXT), '')")
        else:  # SQLite prints a real number otherwise than Python: a bare CR fails the check
            run.append(
                f"CASE WHEN typeof({field}) = 'real' THEN char(13) "
                f"ELSE COALESCE(CAST({field} AS TEXT), '') END"
            )
    if run:
        cells.append(f" || {literal} || ".join(run))
    return f"SELECT {', '.join(cells)} {rest}", params, tuple(quoted)


def _visit_select(query: VisitQuery, typed: bool, dialect: str) -> tuple[list[str], str, dict]:
    """The visit-level query's columns (see visits_sql), the rest of it from FROM on, and its
    parameters."""
    params: dict = {"start": query.start, "end": query.end, "yes": query.yes, "no": query.no}
    for i, start in enumerate(query.formula_starts):
        params[f"f{i}"] = start
    starts = ", ".join(f":f{i}" for i in range(len(query.formula_starts)))
    points = ", ".join(str(ord(start)) for start in query.formula_starts)  # one character each

    def safe(column: str) -> str:
        if typed:
            return column
        if dialect == "sqlite":  # the first character's code point: no substring per cell
            return (
                f"CASE WHEN unicode({column}) IN ({points}) THEN '''' || {column} ELSE {column} END"
            )
        return (
            f"CASE WHEN substr({column}, 1, 1) IN ({starts}) THEN '''' || {column} "
            f"ELSE {column} END"
        )

    selected = []
    for key in query.columns:
        if key in _TEXT_SOURCES:
            selected.append(safe(_TEXT_SOURCES[key]))
        elif key in ("handled_here", "demo"):
            selected.append(f"CASE WHEN {key} THEN :yes ELSE :no END")
        elif key == "duration_s":
            selected.append("CAST(ROUND(duration_s) AS INTEGER)")  # whole seconds, as promised
        elif key == "at_utc":  # to the minute, whatever older rows hold
            if dialect != "postgresql":
                selected.append("substr(at_utc, 1, 16)")  # SQLite keeps ISO text: cut it
            elif typed:
                selected.append("date_trunc('minute', at_utc)")
            else:  # the same text as from SQLite (\\: keeps the colon from reading as a parameter)
                selected.append("to_char(at_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24\\:MI')")
        else:
            selected.append(_PLAIN_SOURCES[key])
    where = ["local_date >= :start", "local_date < :end", "voided_utc IS NULL"]
    if query.filters.sites is not None:
        names = []
        for i, site in enumerate(query.filters.sites):
            params[f"s{i}"] = site
            names.append(f":s{i}")
        where.append(f"site_id IN ({', '.join(names)})")
    for column, values in (
        ("channel", query.filters.channels),
        ("outcome_id", query.filters.outcomes),
    ):
        if values is not None:
            for i, value in enumerate(values):
                params[f"{column}{i}"] = value
            listed = ", ".join(f":{column}{i}" for i in range(len(values))) or "NULL"
            where.append(f"{column} IN ({listed})")
    if not query.filters.include_demo:
        where.append("NOT demo")
    # In the order of the (date, site) index: no sort, whatever the period.
    rest = f"FROM visit WHERE {' AND '.join(where)} ORDER BY local_date, site_id, id"
    return selected, rest, params


def visit_rows(
    store: Store, query: VisitQuery, typed: bool, batch: int = 5000
) -> Iterator[Sequence[Sequence[Any]]]:
    """Visit rows in batches, streamed from the database (memory stays flat)."""
    sql, params = visits_sql(query, typed, store.dialect)
    return _streamed(store, sql, params, batch)


def visit_csv_rows(
    store: Store, query: VisitQuery, delimiter: str, batch: int = 5000
) -> tuple[Iterator[Sequence[Sequence[str]]], tuple[int, ...]]:
    """The rows of visits_csv_sql in batches, streamed, and which of their cells are quoted."""
    sql, params, quoted = visits_csv_sql(query, store.dialect, delimiter)
    return _streamed(store, sql, params, batch), quoted


def _streamed(
    store: Store, sql: str, params: dict, batch: int
) -> Iterator[Sequence[Sequence[Any]]]:
    if store.dialect == "sqlite":
        # The driver's own cursor: its rows are plain tuples, cheaper than result rows.
        raw = store.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(
                sql, {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}
            )
            while part := cursor.fetchmany(batch):
                yield part
        finally:
            raw.close()
        return
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(
            text(sql), params
        )
        yield from result.partitions(batch)


def halves(store: Store, query: VisitQuery, least: int) -> tuple[VisitQuery, VisitQuery] | None:
    """The query's period cut at the day that splits its rows in two of about equal size
    (counted from the day rollup: cheap, and near enough to share the work), or None when
    fewer than `least` rows or all on one day. The halves' rows, one after the other, are the
    query's rows in its order (dates first)."""
    filters = Filters(sites=query.filters.sites, include_demo=query.filters.include_demo)
    days = sorted(rollup_counts(store, query.start, query.end, ("local_date",), filters).items())
    total = sum(n for _, n in days)
    if total < least or len(days) < 2:
        return None
    cut, counted = 1, days[0][1]  # days[:cut] are the first half
    while cut < len(days) - 1 and counted * 2 < total:
        counted += days[cut][1]
        cut += 1
    middle = days[cut][0][0]  # the first day of the second half
    return replace(query, end=middle), replace(query, start=middle)


def count_visit_rows(store: Store, query: VisitQuery) -> int:
    """How many rows visit_rows would give."""
    sql, params = visits_sql(query, True, store.dialect)
    counted = f"SELECT COUNT(*) FROM ({sql.rsplit(' ORDER BY', 1)[0]}) AS chosen"  # noqa: S608
    with store.engine.connect() as conn:
        return int(conn.execute(text(counted), params).scalar_one())


def first_day(store: Store, include_demo: bool = True) -> date | None:
    """The first day the log holds visits on (purged days count: their rollups stay), or None
    for an empty log: a period compared with one before it says when the log starts."""
    demo = "" if include_demo else " AND NOT demo"
    rows = _fetched(store, f"SELECT MIN(local_date) FROM visit_day WHERE visits > 0{demo}", {})
    found = rows[0][0] if rows else None
    return None if found is None else date.fromisoformat(str(found)[:10])
