"""--min-count: no hidden count can be worked out from anything else in the same export.

The files are written in every format, read back (openpyxl, csv, json), and an attacker's linear
system is built from what they print — a day is the sum of its hours, a site's visits the sum of
its days and of its referrals, the total the sum of the sites, visits ÷ share gives the
jobcentres' total (of the period, and of each week in it), a site's week is the sum of its days,
a home-site pair is the sum of its postcodes, a staffing hour the sum of that hour on the same
weekdays (where all of it was in person), an average × days gives the visits. The system is
solved exactly (fractions): every hidden count must stay undetermined. This solver is written
here on its own, not taken from the code under test.
"""

from __future__ import annotations

import csv
import json
import math
import random
import tempfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st

from triage import export, paths
from triage.db.store import Store
from triage.export import Options, build
from triage.i18n import t
from triage.load import load_or_raise
from triage.visits import visit_from_result
from triage.walk import route

UTC = UTC
FLOW = load_or_raise(paths.default_data_dir())  # loaded once: hypothesis calls the test often
START, END = date(2026, 11, 2), date(2026, 11, 16)  # two whole weeks, no daylight-saving change
SITES = ("jc-skelbaek", "jc-musvaage", "jc-nord")
ANSWERS = (
    ("4", "1050", "1"),
    ("4", "2400", "1"),
    ("4", "2100", "1"),
    ("1", "1"),
    ("2", "2"),
    ("9", "1"),
    ("7", "2400", "1"),
    ("4", "3000", "1"),
)
TABLES = (
    "per_day",
    "per_hour",
    "destinations",
    "misdirection",
    "misdirection_postcode",
    "shares",
    "shares_over_time",
    "staffing",
    "waits",
)

# One group of identical visits: site, day, UTC hour, answers, in person or not, how many.
group = st.tuples(
    st.sampled_from(SITES),
    st.integers(0, 13),
    st.integers(7, 13),
    st.integers(0, len(ANSWERS) - 1),
    st.booleans(),
    st.integers(1, 7),
)


def _visits(flow, groups) -> list[dict]:
    results = {}
    visits = []
    for site, day, hour, answers, in_person, many in groups:
        key = (answers, site)
        if key not in results:
            results[key] = route(flow, list(ANSWERS[answers]), here=site)
        at = datetime.combine(START + timedelta(days=day), datetime.min.time(), UTC)
        at += timedelta(hours=hour)
        channel = "in_person" if in_person else "phone"
        for _ in range(many):
            visits.append(visit_from_result(results[key], site, "d", channel, 10.0, at))
    return visits


# --- reading the files back -------------------------------------------------------------------


def _normal(value, kind: str):
    """One spelling per value, whatever the format: None for an empty cell."""
    if value is None or value == "":
        return None
    if kind == "int":
        return int(value)
    if kind in ("share", "number"):
        return round(float(value), 4)
    if kind == "date":
        return value.date().isoformat() if isinstance(value, datetime) else str(value)[:10]
    if isinstance(value, datetime):  # Excel's about sheet holds its days and time as dates
        value = value.strftime("%Y-%m-%d %H:%M")
    return str(value).removesuffix(" 00:00")


def read_json(path: Path) -> dict[str, list[list]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    tables = {}
    for key, table in document["tables"].items():
        kinds = [c["type"] for c in table["columns"]]
        tables[key] = [
            [_normal(v, k) for v, k in zip(row, kinds, strict=True)] for row in table["rows"]
        ]
    return tables


def read_csv(folder: Path, columns: dict) -> dict[str, list[list]]:
    tables = {}
    for key in ("about",) + TABLES:
        kinds = [c.kind for c in columns[key]]
        path = folder / f"{t(f'exp_file_{key}')}.csv"
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        rows = list(csv.reader(lines))[1:]
        # A table's own columns; the period's follow them (test_export checks those).
        period = 0 if key == "about" else len(export.CSV_PERIOD_COLUMNS)
        assert all(len(row) == len(kinds) + period for row in rows), key
        tables[key] = [[_normal(v, k) for v, k in zip(row, kinds, strict=False)] for row in rows]
    return tables


def read_xlsx(path: Path, columns: dict) -> dict[str, list[list]]:
    book = openpyxl.load_workbook(path)
    tables = {}
    for key in ("about",) + TABLES:
        kinds = [c.kind for c in columns[key]]
        sheet = book[t(f"exp_table_{key}")[:31]]
        rows = list(sheet.iter_rows(min_row=2, values_only=True))
        tables[key] = [[_normal(v, k) for v, k in zip(row, kinds, strict=True)] for row in rows]
    return tables


def read_by_hour(path: Path) -> dict[tuple[str, int], int | None]:
    """Excel's visits by hour of the day: (site, hour) → visits, None when left empty."""
    rows = list(openpyxl.load_workbook(path)[t("exp_table_by_hour")].iter_rows(values_only=True))
    ids = {FLOW.sites.name_of(site, "da"): site for site in SITES}
    sites = [ids[name] for name in rows[0][1:]]
    return {(site, r[0]): n for r in rows[1:] for site, n in zip(sites, r[1:], strict=True)}


# --- the attacker ------------------------------------------------------------------------------


def determined(relations: list[dict], unknown: set) -> set:
    """Unknowns the relations fix: exact Gauss-Jordan elimination over the rationals."""
    pivots: dict = {}
    for relation in relations:
        row = {v: Fraction(c) for v, c in relation.items() if v in unknown and c}
        for pivot, pivot_row in pivots.items():
            factor = row.get(pivot)
            if factor:
                for v, c in pivot_row.items():
                    row[v] = row.get(v, 0) - factor * c
                row = {v: c for v, c in row.items() if c}
        if not row:
            continue
        pivot = min(row, key=repr)
        row = {v: c / row[pivot] for v, c in row.items()}
        for other, other_row in pivots.items():
            factor = other_row.get(pivot)
            if factor:
                for v, c in row.items():
                    other_row[v] = other_row.get(v, 0) - factor * c
                pivots[other] = {v: c for v, c in other_row.items() if c}
        pivots[pivot] = row
    return {pivot for pivot, row in pivots.items() if set(row) == {pivot}}


def attack(
    tables: dict[str, list[list]],
    in_person_only: set[tuple],
    by_hour: dict[tuple[str, int], int | None] | None = None,
) -> tuple[set, set]:
    """Every relation the export prints, solved: (hidden counts, those it pins down).
    `in_person_only`: (site, weekday, hour) where every visit was in person, so the staffing
    hour is the sum of the hours (the attacker is given that knowledge). `by_hour`: Excel's
    visits per site and hour of the day, each the sum of that hour on every day."""
    hidden: set = set()
    shown: dict = {}
    relations: list[dict] = []
    count_at = {
        "per_day": 4,
        "per_hour": 4,
        "destinations": 5,
        "misdirection": 5,
        "misdirection_postcode": 5,
        "shares": 2,
        "shares_over_time": 5,
        "staffing": 5,
    }

    def cell(key: str, i: int):
        value = tables[key][i][count_at[key]]
        if value is None:
            hidden.add((key, i))
        else:
            shown[(key, i)] = value
        return (key, i)

    def sums(whole, parts) -> None:
        relation = Counter({whole: 1})
        relation.subtract(Counter(parts))
        relations.append(dict(relation))

    about = dict((r[0], r[1]) for r in tables["about"])
    total = ("total",)
    if not str(about[t("exp_about_visits")]).isdigit():
        hidden.add(total)
    else:
        shown[total] = int(about[t("exp_about_visits")])
    by_day: dict = {}
    for i, r in enumerate(tables["per_hour"]):
        by_day.setdefault((r[0], r[2]), []).append(cell("per_hour", i))
    sites: dict = {}
    site_days: dict = {}
    for i, r in enumerate(tables["per_day"]):
        sums(cell("per_day", i), by_day.pop((r[0], r[2])))
        site_days.setdefault(r[0], []).append(("per_day", i))
        sites[r[0]] = ("site", r[0])
    assert not by_day  # every hour belongs to a printed day
    referrals: dict = {}
    for i, r in enumerate(tables["destinations"]):
        referrals.setdefault(r[0], []).append(cell("destinations", i))
        sites.setdefault(r[0], ("site", r[0]))
    for site, var in sites.items():
        hidden.add(var)  # no table prints a site's total as such ...
        sums(var, site_days.get(site, []))
        sums(var, referrals.get(site, []))
    sums(total, list(sites.values()))
    jobcentres = ("jobcentres",)  # their total: the sum of their visits, or visits ÷ share
    hidden.add(jobcentres)
    for i, r in enumerate(tables["shares"]):
        var = cell("shares", i)
        if r[0] in sites:
            relations.append({var: 1, sites[r[0]]: -1})  # ... but the shares table does
        share = r[3] if r[3] is not None else None if r[5] is None else (r[5] + 1) * r[4]
        if share:  # visits = share × the jobcentres' total
            relations.append({var: 1, jobcentres: -Fraction(str(share))})
    sums(jobcentres, [("shares", i) for i in range(len(tables["shares"]))])

    # A site's month (or week) is the sum of its days in it; its share × the month's
    # jobcentre total is its visits, and share − target is printed beside it.
    months: dict = {}
    for i, r in enumerate(tables["shares_over_time"]):
        var = cell("shares_over_time", i)
        sums(
            var,
            [
                ("per_day", j)
                for j, d in enumerate(tables["per_day"])
                if d[0] == r[0] and r[3] <= d[2] <= r[4]
            ],
        )
        month = ("month", r[2])
        hidden.add(month)
        months.setdefault(month, []).append(var)
        share = r[6] if r[6] is not None else None if r[8] is None else r[8] + r[7]
        if share:
            relations.append({var: 1, month: -Fraction(str(share))})
    for month, parts in months.items():
        sums(month, parts)

    pairs = {(r[0], r[2]): cell("misdirection", i) for i, r in enumerate(tables["misdirection"])}
    by_pair: dict = {}
    for i, r in enumerate(tables["misdirection_postcode"]):
        by_pair.setdefault((r[1], r[2]), []).append(cell("misdirection_postcode", i))
    for pair, parts in by_pair.items():
        if pair in pairs:
            sums(pairs[pair], parts)

    weekdays = {t(f"weekday_{i}"): i for i in range(7)}
    same: dict = {}
    for i, r in enumerate(tables["per_hour"]):
        weekday = date.fromisoformat(r[2]).weekday()
        same.setdefault((r[0], weekday, r[3]), []).append(("per_hour", i))
    for i, r in enumerate(tables["staffing"]):
        var = cell("staffing", i)
        key = (r[0], weekdays[r[2]], r[3])
        if key in in_person_only:
            sums(var, same[key])
        if any(r[i] is not None for i in (6, 8, 9, 11)):  # average × days gives the visits
            relations.append({var: 1})
    hours_of_day: dict = {}
    for i, r in enumerate(tables["per_hour"]):
        hours_of_day.setdefault((r[0], r[3]), []).append(("per_hour", i))
    for key, visits in (by_hour or {}).items():
        if visits is not None:
            shown[("by_hour", key)] = visits
            sums(("by_hour", key), hours_of_day.get(key, []))
    counts = {v for v in hidden if v[0] in count_at or v == total}
    sums_only = [r for r in relations if len(r) > 1 and all(c in (1, -1) for c in r.values())]
    return counts, (determined(relations, hidden) | squeezed(sums_only, shown, counts)) & counts


def squeezed(relations: list[dict], shown: dict, counts: set, rounds: int = 300) -> set:
    """Hidden counts pinned by bounds: a hidden count is at least 1 (its row is printed), any
    other unprinted figure at least 0; each relation narrows each member's range from the
    others' (x = −Σ others·c / c), rounded to whole visits, until nothing changes."""
    variables = {v for relation in relations for v in relation}
    low = {v: shown.get(v, 1 if v in counts else 0) for v in variables}
    high = {v: shown.get(v) for v in variables}  # None: no upper bound
    for _ in range(rounds):
        changed = False
        for relation in relations:
            for v, c in relation.items():
                rest_low, rest_high = Fraction(0), Fraction(0)  # of −Σ others, None = infinite
                for other, d in relation.items():
                    if other == v:
                        continue
                    ends = (low[other], high[other]) if -d > 0 else (high[other], low[other])
                    lo = None if ends[0] is None else -d * ends[0]
                    hi = None if ends[1] is None else -d * ends[1]
                    rest_low = None if rest_low is None or lo is None else rest_low + lo
                    rest_high = None if rest_high is None or hi is None else rest_high + hi
                a, b = (rest_low, rest_high) if c > 0 else (rest_high, rest_low)
                a = None if a is None else math.ceil(Fraction(a) / c)
                b = None if b is None else math.floor(Fraction(b) / c)
                if a is not None and a > low[v]:
                    low[v], changed = a, True
                if b is not None and (high[v] is None or b < high[v]):
                    high[v], changed = b, True
        if not changed:
            break
    assert all(high[v] is None or low[v] <= high[v] for v in variables)  # the export adds up
    return {v for v in counts if v in low and low[v] == high[v]}


# --- the property --------------------------------------------------------------------------------


def export_and_attack(
    store: Store, flow, visits: list[dict], k: int, folder: Path
) -> tuple[set, set]:
    """Write the export with --min-count k in every format, read each back, and attack it."""
    options = Options(start=START, end=END, min_count=k)
    built = build(store, flow.sites, options)
    columns = {table.key: table.columns for table in built.tables}
    export.write(built, "csv", folder / "csv")
    read = [
        read_json(export.write(built, "json", folder / "x.json")[0]),
        read_csv(folder / "csv", columns),
        read_xlsx(export.write(built, "xlsx", folder / "x.xlsx")[0], columns),
    ]
    for other in read[1:]:  # every format carries the same cells (figures to their decimals)
        assert other.keys() == read[0].keys()
        for key, rows in other.items():
            assert len(rows) == len(read[0][key])
            for row, first in zip(rows, read[0][key], strict=True):
                assert [v is None for v in row] == [v is None for v in first]
                assert all(
                    a == b or isinstance(a, float) and abs(a - b) < 2e-4
                    for a, b in zip(row, first, strict=True)
                ), (key, row, first)
    tables = read[0]
    by_hour = read_by_hour(folder / "x.xlsx")

    truth = Counter((v["site_id"], v["local_date"], v["local_hour"]) for v in visits)
    printed = {(r[0], r[2], r[3]): r[4] for r in tables["per_hour"]}
    assert set(printed) == set(truth)
    for key, shown in printed.items():
        assert shown is None or shown == truth[key]
    for key in TABLES:  # no count under k is ever printed
        for row in tables[key]:
            assert all(
                not (isinstance(v, int) and 0 < v < k)
                for v, c in zip(row, columns[key], strict=True)
                if c.count
            ), (key, row)
    phone = {
        (v["site_id"], date.fromisoformat(v["local_date"]).weekday(), v["local_hour"])
        for v in visits
        if v["channel"] != "in_person"
    }
    everything = {
        (v["site_id"], date.fromisoformat(v["local_date"]).weekday(), v["local_hour"])
        for v in visits
    }
    return attack(tables, everything - phone, by_hour)


@settings(max_examples=40, deadline=None)
@given(groups=st.lists(group, min_size=1, max_size=14), k=st.integers(2, 9))
def test_no_hidden_count_can_be_worked_out(groups, k):
    flow = FLOW
    with tempfile.TemporaryDirectory() as folder:
        store = Store(str(Path(folder) / "v.db"), spool_dir=Path(folder) / "spool")
        store.open()
        try:
            visits = _visits(flow, groups)
            store.insert_many(visits)
            hidden, pinned = export_and_attack(store, flow, visits, k, Path(folder))
        finally:
            store.dispose()
    assert not pinned, f"hidden counts the export gives away: {sorted(pinned)}"


def test_no_hidden_count_can_be_worked_out_on_both_engines(store, flow, tmp_path):
    """One fixed random month on each engine: the same property, the same suppression."""
    rng = random.Random(12)
    groups = [
        (
            rng.choice(SITES),
            rng.randrange(14),
            rng.randrange(7, 14),
            rng.randrange(len(ANSWERS)),
            rng.random() < 0.8,
            rng.choice((1, 1, 2, 3, 6, 9)),
        )
        for _ in range(60)
    ]
    visits = _visits(flow, groups)
    store.insert_many(visits)
    hidden, pinned = export_and_attack(store, flow, visits, 4, tmp_path)
    assert len(hidden) > 10 and not pinned
    options = Options(start=START, end=END, min_count=4)
    again = [build(store, flow.sites, options) for _ in range(2)]
    assert [t.rows for t in again[0].tables[1:]] == [t.rows for t in again[1].tables[1:]]


# --- the examples, each failing on the first --min-count ------------------------------


def _add(store, flow, answers, site, day, hours, channel="in_person") -> None:
    visits = []
    for hour, many in hours.items():
        at = datetime(2026, 11, day, hour - 1, tzinfo=UTC)  # CET: local hour = UTC + 1
        result = route(flow, list(answers), here=site)
        visits += [visit_from_result(result, site, "d", channel, 10.0, at) for _ in range(many)]
    store.insert_many(visits)


def _rows(built, key):
    return next(table for table in built.tables if table.key == key).rows


def test_a_hidden_hour_is_not_the_day_total_minus_the_shown_hours(store, flow):
    _add(store, flow, ("1", "1"), "jc-nord", 3, {9: 6, 10: 1, 11: 8})  # one citizen at 10
    _add(store, flow, ("1", "1"), "jc-nord", 4, {9: 7, 10: 9})
    built = build(store, flow.sites, Options(start=START, end=END, min_count=3))
    hours = {r[3]: r[4] for r in _rows(built, "per_hour") if r[2] == date(2026, 11, 3)}
    day = next(r[4] for r in _rows(built, "per_day") if r[2] == date(2026, 11, 3))
    assert hours[10] is None
    if day is not None:  # day total minus the shown hours must not give the hidden one
        assert sum(n is None for n in hours.values()) >= 2


def test_a_hidden_site_is_not_visits_divided_by_share(store, flow):
    _add(store, flow, ("1", "1"), "jc-nord", 3, {9: 20})
    _add(store, flow, ("1", "1"), "jc-skelbaek", 3, {9: 30})
    _add(store, flow, ("1", "1"), "jc-musvaage", 3, {9: 2})
    built = build(store, flow.sites, Options(start=START, end=END, min_count=5))
    shares = {r[0]: r for r in _rows(built, "shares")}
    assert shares["jc-musvaage"][2] is None
    for row in shares.values():  # visits ÷ share would give the total and so the hidden site
        assert row[2] is None or row[3] is None
    total = dict(_rows(built, "about"))[t("exp_about_visits")]
    shown = [r[2] for r in shares.values() if r[2] is not None]
    assert not (total.isdigit() and len(shown) == 2)  # nor the total minus the shown sites


def test_a_hidden_referral_is_not_the_site_total_minus_the_shown_ones(store, flow):
    _add(store, flow, ("1", "1"), "jc-nord", 3, {9: 12})  # referred to sygedagpenge
    _add(store, flow, ("2", "2"), "jc-nord", 3, {10: 1})  # one to Ydelsesservice
    _add(store, flow, ("9", "1"), "jc-nord", 3, {11: 9})
    built = build(store, flow.sites, Options(start=START, end=END, min_count=3))
    referrals = [r[5] for r in _rows(built, "destinations") if r[0] == "jc-nord"]
    assert None in referrals and referrals.count(None) >= 2


def test_hidden_ones_are_not_given_away_by_their_sum(store, flow):
    """A hidden count is at least 1, so two hidden hours of a shown day of 7 with 5 shown are
    1 each: not linear algebra, but just as telling."""
    _add(store, flow, ("1", "1"), "jc-nord", 3, {9: 1, 10: 1, 11: 5})
    built = build(store, flow.sites, Options(start=START, end=END, min_count=2))
    hours = [r[4] for r in _rows(built, "per_hour")]
    day = _rows(built, "per_day")[0][4]
    assert hours[:2] == [None, None]
    assert day is None or hours[2] is None  # else 7 − 5 = 2 = 1 + 1
