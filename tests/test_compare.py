"""Comparisons, presets and filters: same period last year, last week and last month, and the
figures by channel and errand group, each against counting the visit table directly on SQLite
and PostgreSQL; the overview's keys through Pilot; the command line as a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import bindparam, text
from textual.widgets import Static

from triage import present
from triage.app import TriageApp
from triage.db.store import Store
from triage.desklog import DeskLog
from triage.model import LOCAL_ZONE
from triage.overview import overview, period_dates
from triage.stats import (
    Filters,
    errand_groups,
    find_group,
    previous_period,
    same_period_last_year,
    summarize,
)
from triage.visits import visit_from_result
from triage.walk import route


def add(store, flow, answers, site, day: date, channel="in_person", hour=9) -> dict:
    at = datetime(day.year, day.month, day.day, hour, tzinfo=LOCAL_ZONE).astimezone(UTC)
    visit = visit_from_result(route(flow, list(answers), here=site), site, "d", channel, 10.0, at)
    assert store.record(visit) == "saved"
    return visit


def direct(store, first: date, last: date, where: str = "true", **params) -> int:
    """Visits from `first` to `last`, both included, counted on the visit table itself."""
    query = text(
        "SELECT COUNT(*) FROM visit WHERE voided_utc IS NULL AND local_date >= :first"
        f" AND local_date <= :last AND {where}"
    )
    if "values" in params:
        query = query.bindparams(bindparam("values", expanding=True))
    with store.engine.connect() as conn:
        return int(conn.execute(query, {"first": first, "last": last, **params}).scalar_one())


# --- the definitions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "week", "month"),
    [
        # A Monday in a new year: last week is the last of the old one, last month December.
        ("2027-01-04", ("2026-12-28", "2027-01-03"), ("2026-12-01", "2026-12-31")),
        # A Sunday: the week that ends today is not over until tonight, so not "last week".
        ("2027-01-03", ("2026-12-21", "2026-12-27"), ("2026-12-01", "2026-12-31")),
        # The first of a month: last month is the whole month before, February in a leap year.
        ("2024-03-01", ("2024-02-19", "2024-02-25"), ("2024-02-01", "2024-02-29")),
        # A week across New Year.
        ("2026-01-07", ("2025-12-29", "2026-01-04"), ("2025-12-01", "2025-12-31")),
    ],
)
def test_last_week_and_last_month(today, week, month):
    one_day = timedelta(days=1)
    today = date.fromisoformat(today)
    for name, (first, last) in (("last_week", week), ("last_month", month)):
        start, end = period_dates(name, today)
        assert (str(start), str(end - one_day)) == (first, last)
    start, end = period_dates("last_week", today)
    assert start.weekday() == 0 and (end - start).days == 7


@pytest.mark.parametrize(
    ("first", "last", "year_ago"),
    [
        ((2024, 2, 29), (2024, 2, 29), ((2023, 2, 28), (2023, 2, 28))),  # 29 Feb → 28 Feb
        ((2024, 2, 1), (2024, 2, 29), ((2023, 2, 1), (2023, 2, 28))),
        ((2025, 2, 1), (2025, 2, 28), ((2024, 2, 1), (2024, 2, 29))),  # whole months: whole
        ((2025, 2, 2), (2025, 2, 28), ((2024, 2, 2), (2024, 2, 28))),  # else the same dates
        ((2025, 2, 28), (2025, 2, 28), ((2024, 2, 28), (2024, 2, 28))),  # one day stays one
        ((2025, 12, 29), (2026, 1, 4), ((2024, 12, 29), (2025, 1, 4))),
    ],
)
def test_same_period_last_year_is_the_same_dates(first, last, year_ago):
    start, end = same_period_last_year(date(*first), date(*last) + timedelta(days=1))
    assert (start, end - timedelta(days=1)) == (date(*year_ago[0]), date(*year_ago[1]))


@pytest.mark.parametrize(
    ("first", "last", "before"),
    [
        # Whole months against as many whole months before, whatever their lengths.
        ("2026-10-01", "2026-10-31", ("2026-09-01", "2026-09-30")),
        ("2024-03-01", "2024-03-31", ("2024-02-01", "2024-02-29")),
        ("2026-01-01", "2026-01-31", ("2025-12-01", "2025-12-31")),
        ("2026-01-01", "2026-03-31", ("2025-10-01", "2025-12-31")),  # a quarter
        # A month so far against the same days of the month before (at most all of it).
        ("2026-10-01", "2026-10-15", ("2026-09-01", "2026-09-15")),
        ("2026-03-01", "2026-03-30", ("2026-02-01", "2026-02-28")),
        # Today and this week against the day and the days just before, on the 1st too.
        ("2026-11-01", "2026-11-01", ("2026-10-31", "2026-10-31")),
        ("2026-06-01", "2026-06-03", ("2026-05-29", "2026-05-31")),
        ("2025-12-29", "2026-01-04", ("2025-12-22", "2025-12-28")),
        ("2026-10-02", "2026-10-31", ("2026-09-02", "2026-10-01")),  # 30 days
    ],
)
def test_the_previous_period(first, last, before):
    one_day = timedelta(days=1)
    start, end = previous_period(date.fromisoformat(first), date.fromisoformat(last) + one_day)
    assert (str(start), str(end - one_day)) == before


def test_last_month_compares_with_the_calendar_month_before_on_the_visit_table(store, flow):
    """October (31 days) against September (30): 31 August, the day a comparison of the same
    length would take, is not in it; 1 and 30 September are."""
    for day, visits in (
        (date(2026, 8, 31), 4),
        (date(2026, 9, 1), 1),
        (date(2026, 9, 30), 2),
        (date(2026, 10, 7), 3),
        (date(2026, 2, 28), 1),
        (date(2026, 3, 20), 2),
    ):
        for hour in range(visits):
            add(store, flow, ("4", "1050", "1"), "jc-nord", day, hour=9 + hour)
    start, end = period_dates("last_month", date(2026, 11, 18))
    s = summarize(store, flow.sites, start, end)
    september = direct(store, date(2026, 9, 1), date(2026, 9, 30))
    assert s.previous_total == september == 3
    assert s.change == pytest.approx(3 / 3 - 1)
    assert s.change_by_site["jc-nord"] == s.change
    # A month so far against the same days of February: 1-20 March against 1-20 February,
    # 1-30 March against all of February (28 February is in it).
    s = summarize(store, flow.sites, date(2026, 3, 1), date(2026, 3, 21))
    assert s.previous_total == direct(store, date(2026, 2, 1), date(2026, 2, 20)) == 0
    s = summarize(store, flow.sites, date(2026, 3, 1), date(2026, 3, 31))
    assert s.previous_total == direct(store, date(2026, 2, 1), date(2026, 2, 28)) == 1


def test_errand_groups_are_the_first_questions_answers(flow):
    groups = errand_groups(flow)
    first = flow.questions[flow.start]
    assert [g.key for g in groups] == [o.key for o in first.options]
    assert [g.label for g in groups] == [o.label for o in first.options]
    every = [o for g in groups for o in g.outcomes]
    assert sorted(every) == sorted(flow.outcomes)  # each outcome in one group here
    assert find_group(groups, "1") == groups[0]
    assert find_group(groups, "  SYGDOM ") == groups[0]
    assert find_group(groups, "illness") == groups[0]
    assert find_group(groups, "zz") is None and find_group(groups, "") is None


# --- the figures against the visit table ---------------------------------------------------


def _years(store, flow) -> None:
    """Visits on the days that decide last year: 28 Feb, 29 Feb and 1 March, New Year, with
    both channels, several errand groups, and a void."""
    days = [
        date(2023, 2, 27),
        date(2023, 2, 28),
        date(2023, 3, 1),
        date(2024, 2, 28),
        date(2024, 2, 29),
        date(2024, 3, 1),
        date(2024, 12, 28),
        date(2024, 12, 30),
        date(2025, 1, 3),
        date(2025, 2, 28),
        date(2025, 12, 29),
        date(2026, 1, 2),
        date(2026, 1, 5),
    ]
    answers = [("1", "1"), ("2", "2"), ("9", "1"), ("6", "1"), ("4", "1050", "1")]
    sites = ["jc-skelbaek", "jc-musvaage", "jc-nord"]
    for i, day in enumerate(days):
        for j in range(1 + i % 3):
            add(
                store,
                flow,
                answers[(i + j) % len(answers)],
                sites[(i * 2 + j) % 3],
                day,
                channel="phone" if (i + j) % 2 else "in_person",
                hour=9 + j,
            )
    voided = add(store, flow, ("1", "1"), "jc-nord", date(2023, 2, 28))
    store.void(voided["visit_id"], "d")


PERIODS = [
    (date(2024, 2, 29), date(2024, 2, 29)),
    (date(2024, 2, 1), date(2024, 2, 29)),
    (date(2025, 2, 1), date(2025, 2, 28)),
    (date(2025, 2, 28), date(2025, 2, 28)),
    (date(2025, 12, 29), date(2026, 1, 4)),
    (date(2024, 2, 28), date(2024, 3, 1)),
]


def test_last_year_matches_the_visit_table(store, flow):
    _years(store, flow)
    for first, last in PERIODS:
        s = summarize(store, flow.sites, first, last + timedelta(days=1))
        start, end = date.fromisoformat(s.last_year_start), date.fromisoformat(s.last_year_end)
        # Counted directly over the same dates a year earlier, 29 February as 28 February;
        # whole months over the same whole months.
        back = [
            date(d.year - 1, 2, 28) if (d.month, d.day) == (2, 29) else d.replace(year=d.year - 1)
            for d in (first, last)
        ]
        if first.day == 1 and (last + timedelta(days=1)).day == 1:
            back[1] = (last + timedelta(days=1)).replace(year=last.year - 1) - timedelta(days=1)
        assert (start, end - timedelta(days=1)) == tuple(back), (first, last)
        year_ago = direct(store, *back)
        now = direct(store, first, last)
        assert (s.total, s.last_year_total) == (now, year_ago), (first, last)
        expected = None if year_ago == 0 else now / year_ago - 1
        assert s.change_from_last_year == expected
    # 29 February 2024 against 28 February 2023 only (not 1 March): 2 visits there, 1 voided.
    s = summarize(store, flow.sites, date(2024, 2, 29), date(2024, 3, 1))
    assert s.last_year_total == direct(store, date(2023, 2, 28), date(2023, 2, 28)) == 2


def test_last_week_and_month_at_the_year_end_match_the_visit_table(store, flow):
    _years(store, flow)
    for today in (date(2026, 1, 5), date(2026, 1, 4), date(2025, 1, 6), date(2024, 3, 1)):
        for name in ("last_week", "last_month"):
            start, end = period_dates(name, today)
            s = summarize(store, flow.sites, start, end)
            assert s.total == direct(store, start, end - timedelta(days=1)), (today, name)
            year_ago = same_period_last_year(start, end)
            assert s.last_year_total == direct(store, year_ago[0], year_ago[1] - timedelta(days=1))


def test_channel_and_group_filters_match_the_visit_table(store, flow):
    _years(store, flow)
    groups = errand_groups(flow)
    first_question = flow.questions[flow.start]
    start, end = date(2023, 1, 1), date(2026, 2, 1)
    last = end - timedelta(days=1)
    for channels in (("phone",), ("in_person",), ("in_person", "phone")):
        s = summarize(store, flow.sites, start, end, Filters(channels=channels))
        counted = direct(store, start, last, "channel IN :values", values=list(channels))
        assert s.total == counted > 0, channels
        for x in s.sites:
            where = "channel IN :values AND site_id = :site"
            site = x.site_id
            assert x.visits == direct(store, start, last, where, values=list(channels), site=site)
    for group, option in zip(groups, first_question.options, strict=True):
        # The group by the citizen's first answer in the visit's path, not by its outcome.
        path = f"{flow.start}:{option.id} %"
        for channel in (None, "phone"):
            filters = Filters(outcomes=group.outcomes, channels=(channel,) if channel else None)
            s = summarize(store, flow.sites, start, end, filters)
            where = "path LIKE :path" + (" AND channel = :channel" if channel else "")
            counted = direct(store, start, last, where, path=path, channel=channel)
            assert s.total == counted, (option.id, channel)
            chosen = {"path": path, "channel": channel}
            referred = direct(store, start, last, where + " AND NOT handled_here", **chosen)
            assert s.referred == referred
            # Last year is filtered the same way.
            back = same_period_last_year(start, end)
            year_ago = direct(store, back[0], back[1] - timedelta(days=1), where, **chosen)
            assert s.last_year_total == year_ago
    sick = f"{flow.start}:{first_question.options[0].id} %"
    assert direct(store, start, last, "path LIKE :path", path=sick) > 0  # not all zeros


def test_the_overview_counts_with_the_filters(store, flow):
    _years(store, flow)
    group = errand_groups(flow)[0]
    start, end = date(2024, 2, 1), date(2024, 3, 2)
    now = datetime(2024, 3, 1, 12, tzinfo=LOCAL_ZONE)
    filters = Filters(channels=("in_person",), outcomes=group.outcomes)
    seen = overview(store, flow.sites, start, end, now, filters)
    path = f"{flow.start}:{flow.questions[flow.start].options[0].id} %"
    where = "channel = 'in_person' AND path LIKE :path"
    assert seen.summary.total == direct(store, start, date(2024, 3, 1), where, path=path)
    assert sum(n for _, n in seen.trend) == seen.summary.total
    assert seen.summary.last_year_total == direct(
        store, date(2023, 2, 1), date(2023, 3, 1), where, path=path
    )


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def years_db(tmp_path, flow) -> Path:
    path = tmp_path / "years.db"
    store = Store(path, spool_dir=tmp_path / "spool")
    store.open()
    _years(store, flow)
    store.dispose()
    return path


def triage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "triage", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def test_summary_shows_last_year_in_every_format(years_db):
    period = ["--from", "2024-02-29", "--to", "2024-02-29", "--db", str(years_db)]
    table = triage("summary", *period)
    assert table.returncode == 0, table.stderr
    assert "Samme periode sidste år (2023-02-28 til og med 2023-02-28): 2 (0 %)." in table.stdout
    data = json.loads(triage("summary", *period, "--format", "json").stdout)
    assert (data["last_year_start"], data["last_year_end"]) == ("2023-02-28", "2023-02-28")
    assert (data["total"], data["last_year_total"], data["change_from_last_year"]) == (2, 2, 0)
    rows = list(csv.reader(io.StringIO(triage("summary", *period, "--format", "csv").stdout)))
    for row in (
        ["last_year_start", "", "", "2023-02-28"],
        ["last_year_end", "", "", "2023-02-28"],
        ["last_year_total", "", "", "2"],
        ["change_from_last_year", "", "", "0.0"],
    ):
        assert row in rows
    across_new_year = ["--from", "2025-12-29", "--to", "2026-01-04", "--db", str(years_db)]
    said = triage("summary", *across_new_year).stdout
    assert "5 besøg" in said and "sidste år (2024-12-29 til og med 2025-01-04): 5 (0 %)" in said
    # No visits a year before: the change is "–" (JSON null), not a division by 0.
    lonely = ["--from", "2023-02-27", "--to", "2023-02-27", "--db", str(years_db)]
    said = triage("summary", *lonely, "--lang", "en").stdout
    assert "Same period last year (2022-02-27 to 2022-02-27 inclusive): 0 (–)." in said
    data = json.loads(triage("summary", *lonely, "--format", "json").stdout)
    assert data["change_from_last_year"] is None


def test_every_format_dates_the_previous_calendar_month(years_db, tmp_path):
    """March 2024 against all of February 2024 (29 days), in the table, JSON and CSV."""
    march = ["--from", "2024-03-01", "--to", "2024-03-31", "--db", str(years_db)]
    store = Store(years_db, spool_dir=tmp_path / "spool")
    store.open()
    try:
        february = direct(store, date(2024, 2, 1), date(2024, 2, 29))
    finally:
        store.dispose()
    assert february > 0
    data = json.loads(triage("summary", *march, "--format", "json").stdout)
    assert (data["previous_start"], data["previous_end"]) == ("2024-02-01", "2024-02-29")
    assert data["previous_total"] == february
    rows = list(csv.reader(io.StringIO(triage("summary", *march, "--format", "csv").stdout)))
    for row in (
        ["previous_start", "", "", "2024-02-01"],
        ["previous_end", "", "", "2024-02-29"],
        ["previous_total", "", "", str(february)],
    ):
        assert row in rows
    table = triage("summary", *march).stdout
    assert f"forrige periode (2024-02-01 til og med 2024-02-29): {february} (" in table


def test_summary_period_channel_and_group_options(years_db, flow):
    db = ["--db", str(years_db), "--format", "json"]
    # last-month of today's date is a real month: compare with --from/--to for the same days.
    start, end = period_dates("last_month", present.local_now().date())
    named = json.loads(triage("summary", *db, "--period", "last-month").stdout)
    dated = ["--from", str(start), "--to", str(end - timedelta(days=1))]
    assert named == json.loads(triage("summary", *db, *dated).stdout)
    assert (named["start"], named["end"]) == (str(start), str(end - timedelta(days=1)))

    period = ["--from", "2023-01-01", "--to", "2026-01-31"]
    phone = json.loads(triage("summary", *db, *period, "--channel", "phone").stdout)
    everyone = json.loads(triage("summary", *db, *period).stdout)
    by_word = json.loads(triage("summary", *db, *period, "--channel", "Telefon").stdout)
    assert 0 < phone["total"] < everyone["total"] and by_word == phone
    both = triage("summary", *db, *period, "--channel", "phone", "--channel", "in_person")
    assert json.loads(both.stdout)["total"] == everyone["total"]
    sick = json.loads(triage("summary", *db, *period, "--group", "sygdom").stdout)
    by_number = json.loads(triage("summary", *db, *period, "--group", "1").stdout)
    assert sick == by_number and 0 < sick["total"] < everyone["total"]
    two = json.loads(triage("summary", *db, *period, "--group", "1", "--group", "2").stdout)
    money = json.loads(triage("summary", *db, *period, "--group", "2").stdout)
    assert two["total"] == sick["total"] + money["total"]


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["--period", "last-week", "--from", "2026-01-01"], 2, "Brug enten --period last-week"),
        (["--period", "last-month", "--to", "2026-01-01"], 2, "ikke begge"),
        (["--period", "yesterday"], 2, "--period yesterday kender vi ikke"),
        (["--channel", "fax"], 1, "Kanalen »fax« kender vi ikke"),
        (["--channel", "fax"], 1, "in_person (fremmøde), phone (telefon)"),
        (["--group", "zz"], 1, "Henvendelsesgruppen »zz« kender vi ikke"),
        (["--group", "a"], 1, "1 Sygdom og sygedagpenge"),  # fits more than one
    ],
)
@pytest.mark.parametrize("command", ["summary", "export"])
def test_options_refused_in_danish(years_db, tmp_path, args, code, said, command):
    out = ["--out", str(tmp_path / "x.xlsx")] if command == "export" else []
    done = triage(command, "--db", str(years_db), *out, *args)
    assert done.returncode == code, done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_export_filters_by_channel_and_group(years_db, tmp_path, flow):
    period = ["--from", "2023-01-01", "--to", "2026-01-31", "--db", str(years_db)]
    out = tmp_path / "phone.json"
    done = triage("export", *period, "--format", "json", "--out", str(out), "--channel", "phone")
    assert done.returncode == 0, done.stderr
    store = Store(years_db, spool_dir=tmp_path / "spool")
    store.open()
    try:
        phone = direct(store, date(2023, 1, 1), date(2026, 1, 31), "channel = 'phone'")
        path = f"{flow.start}:{flow.questions[flow.start].options[0].id} %"
        sick = direct(store, date(2023, 1, 1), date(2026, 1, 31), "path LIKE :path", path=path)
    finally:
        store.dispose()
    tables = json.loads(out.read_text(encoding="utf-8"))["tables"]
    per_day = tables["per_day"]
    visits = [c["key"] for c in per_day["columns"]].index("visits")
    assert sum(row[visits] for row in per_day["rows"]) == phone
    # Visits per postcode are not kept by channel: the table is empty, not wrong, and says so.
    assert tables["misdirection_postcode"]["rows"] == []
    about = dict(tables["about"]["rows"])
    assert about["Kanal"] == "Telefon" and "Henvendelsesgrupper" not in about
    assert about["Besøg pr. postnummer"].startswith("Tabellen er tom")
    rows = tmp_path / "sick.csv"
    done = triage(
        "export", *period, "--visits", "--format", "csv", "--out", str(rows), "--group", "1"
    )
    assert done.returncode == 0, done.stderr
    read = list(csv.DictReader(io.StringIO(rows.read_text(encoding="utf-8-sig"))))
    assert len(read) == sick > 0


# --- the overview --------------------------------------------------------------------------

# `triage summary --tui …` as a subprocess, headless: it prints the overview's title and
# totals line once its first count is on screen, then quits.
OVERVIEW_PROBE = """
import sys
from textual.app import App
_run = App.run
def run(self, *a, **k):
    async def auto_pilot(pilot):
        for _ in range(3):
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
        for selector in ("#sup-title", "#sup-summary"):
            print(str(pilot.app.screen.query_one(selector).render()).replace("\\n", " "))
        pilot.app.exit()
    return _run(self, *a, **{**k, "headless": True, "size": (160, 40), "auto_pilot": auto_pilot})
App.run = run
from triage.cli import main
sys.exit(main(sys.argv[1:]))
"""


def overview_opened(*args: str) -> tuple[str, str]:
    """The title and totals line `triage summary --tui *args` opens with."""
    done = subprocess.run(
        [sys.executable, "-c", OVERVIEW_PROBE, "summary", "--tui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 0, done.stderr
    title, totals = done.stdout.splitlines()[-2:]
    return title, totals


def test_summary_tui_opens_on_the_commands_period_and_filters(years_db):
    db = ["--db", str(years_db)]
    chosen = ["--from", "2023-01-01", "--to", "2026-01-31", "--channel", "phone"]
    chosen += ["--group", "1", "--group", "2", "--site", "jc-nord", "--no-demo"]
    counted = json.loads(triage("summary", *db, *chosen, "--format", "json").stdout)
    everyone = json.loads(
        triage(
            "summary", *db, "--from", "2023-01-01", "--to", "2026-01-31", "--format", "json"
        ).stdout
    )
    assert 0 < counted["total"] < everyone["total"]
    title, totals = overview_opened(*db, *chosen)
    assert "Periode (2023-01-01 – 2026-01-31)" in title
    assert totals.startswith(
        "Kun: Jobcenter København Nord, Telefon, Sygdom og sygedagpenge, Kontanthjælp og andre"
        f" ydelser. Demobesøg er udeladt. I alt {counted['total']} besøg"
    ), totals
    # A named period, and the command's default (the last 30 days), as the summary counts them.
    today = present.local_now().date()
    start, end = period_dates("last_week", today)
    title, _ = overview_opened(*db, "--period", "last-week")
    assert f"Sidste uge ({start} – {end - timedelta(days=1)})" in title
    title, _ = overview_opened(*db)
    assert f"30 dage ({today - timedelta(days=29)} – {today})" in title


NOW = datetime(2026, 1, 7, 10, 30, tzinfo=LOCAL_ZONE)  # a Wednesday just after New Year


@pytest.fixture
def overview_app(flow, years_db, tmp_path, monkeypatch):
    monkeypatch.setattr(present, "local_now", lambda: NOW)
    log = DeskLog(str(years_db), "jc-skelbaek", "overblik", spool_dir=tmp_path / "spool")
    return TriageApp(flow, site="jc-skelbaek", log=log, start="overview", open_log_after=0)


async def ready(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def shown(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def totals(app) -> str:
    """The totals line, its lines joined: the overview wraps it itself (each figure with its %)."""
    return " ".join(shown(app, "#sup-summary").splitlines())


async def test_keys_6_and_7_show_last_week_and_last_month(overview_app):
    async with overview_app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("6")
        await ready(pilot)
        assert "Sidste uge (2025-12-29 – 2026-01-04)" in shown(overview_app, "#sup-title")
        # 29 Dec, 2 Jan: 2 + 3 visits; a year before (29 Dec 2024 – 4 Jan 2025): 2 + 3.
        summary = totals(overview_app)
        assert summary.startswith("I alt 5 besøg")
        assert "samme periode sidste år, 2024-12-29 – 2025-01-04: 5, 0 %)." in summary
        await pilot.press("7")
        await ready(pilot)
        assert "Sidste måned (2025-12-01 – 2025-12-31)" in shown(overview_app, "#sup-title")
        assert "sidste år, 2024-12-01 – 2024-12-31: 3, -33 %)." in totals(overview_app)
        # December against November, the calendar month before (not 31 October – 30 November).
        assert "(forrige periode, 2025-11-01 – 2025-11-30: 0, " in totals(overview_app)


async def test_k_and_g_filter_by_channel_and_group(overview_app, flow):
    async with overview_app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("6")
        await ready(pilot)
        everyone = shown(overview_app, "#sup-summary")
        await pilot.press("k")  # in person only
        await ready(pilot)
        assert shown(overview_app, "#sup-summary").startswith("Kun: Fremmøde. I alt 2 besøg")
        await pilot.press("K")  # phone only
        await ready(pilot)
        assert shown(overview_app, "#sup-summary").startswith("Kun: Telefon. I alt 3 besøg")
        await pilot.press("k")  # the kiosk's referrals only: none here
        await ready(pilot)
        assert shown(overview_app, "#sup-summary").startswith("Kun: Selvbetjening. Ingen besøg")
        await pilot.press("k")  # all again
        await ready(pilot)
        assert shown(overview_app, "#sup-summary") == everyone
        await pilot.press("g")
        await ready(pilot)
        said = shown(overview_app, "#sup-summary")
        assert said.startswith("Kun: Sygdom og sygedagpenge. I alt ")
        for _ in errand_groups(flow):  # through every group and back to all
            await pilot.press("G")
        await ready(pilot)
        assert shown(overview_app, "#sup-summary") == everyone


async def test_the_period_dialog_offers_last_week_and_last_month(overview_app):
    async with overview_app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("5")
        await pilot.pause()
        assert "F6 sidste uge, F7 sidste måned" in shown(overview_app, "#period-presets")
        await pilot.press("f7")
        await ready(pilot)
        assert "Sidste måned (2025-12-01 – 2025-12-31)" in shown(overview_app, "#sup-title")
        await pilot.press("5")
        await pilot.pause()
        await pilot.press("f6")
        await ready(pilot)
        assert "Sidste uge (2025-12-29 – 2026-01-04)" in shown(overview_app, "#sup-title")


@pytest.mark.parametrize("lang", ["da", "en"])
async def test_the_key_bar_fits_80_columns_in_both_languages(overview_app, lang):
    overview_app.lang = lang
    async with overview_app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        bar = shown(overview_app, "#keys").splitlines()
        assert len(bar) == 3
        assert all(len(line) <= 79 for line in bar), bar  # the bar's padding takes one column
        last_week = "6 Sidste uge" if lang == "da" else "6 Last week"
        last_month = "7 Sidste måned" if lang == "da" else "7 Last month"
        assert last_week in bar[0] and last_month in bar[0]
        assert ("K Kanal" if lang == "da" else "K Channel") in bar[1]
        assert ("G Gruppe" if lang == "da" else "G Group") in bar[1]
        region = overview_app.screen.query_one("#keys").region
        assert region.height == 3 and region.bottom == 24


async def test_the_overviews_export_counts_what_the_filters_show(
    overview_app, years_db, tmp_path, flow
):
    import openpyxl
    from textual.widgets import Input

    async with overview_app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("6", "k", "k", "g", "g")  # last week, phone only, the second group
        await ready(pilot)
        said = shown(overview_app, "#sup-summary")
        assert said.startswith("Kun: Telefon, Kontanthjælp og andre ydelser. I alt 2 besøg")
        await pilot.press("e")
        await pilot.pause()
        target = tmp_path / "telefon.xlsx"
        path = overview_app.screen.query_one("#export-path", Input)
        path.value = str(target)
        path.focus()
        await pilot.press("enter")
        await ready(pilot)
    book = openpyxl.load_workbook(target)
    visits = {row[0].value: row[2].value for row in book["Andel og mål"].iter_rows(min_row=2)}
    about = {row[0].value: row[1].value for row in book["Om udtrækket"].iter_rows()}
    assert about["Kanal"] == "Telefon"
    assert about["Henvendelsesgrupper"] == "2 Kontanthjælp og andre ydelser"
    store = Store(years_db, spool_dir=tmp_path / "spool")
    store.open()
    path = f"{flow.start}:{flow.questions[flow.start].options[1].id} %"
    where = "channel = 'phone' AND site_id = :site AND path LIKE :path"
    try:
        for site, n in visits.items():
            counted = direct(
                store, date(2025, 12, 29), date(2026, 1, 4), where, site=site, path=path
            )
            assert n == counted
    finally:
        store.dispose()
    assert sum(visits.values()) == 2


def test_the_committee_report_compares_with_the_same_dates_last_year(store, flow):
    from triage.committee import build

    _years(store, flow)
    made = datetime(2025, 3, 3, 9, tzinfo=LOCAL_ZONE)
    report = build(store, flow.sites, date(2025, 2, 1), made)
    # February 2025 against the whole of February 2024, as the summary: whole months compare
    # with whole months, 29 February 2024 included.
    assert (report.last_year.start, report.last_year.end) == ("2024-02-01", "2024-03-01")
    assert report.last_year.total == direct(store, date(2024, 2, 1), date(2024, 2, 29))
    assert report.last_year.total > direct(store, date(2024, 2, 1), date(2024, 2, 28))
    assert report.summary.last_year_total == report.last_year.total
