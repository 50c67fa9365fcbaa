"""Footfall statistics on hand-built visits with exact expected numbers, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from triage.db.store import Store
from triage.stats import Filters, footfall, summarize, visit_counts
from triage.visits import visit_from_result
from triage.walk import route

UTC = UTC


def add(store, flow, answers, site, at, channel="in_person", demo=False) -> dict:
    visit = visit_from_result(route(flow, list(answers), here=site), site, "d", channel, 10.0, at)
    visit["demo"] = demo
    assert store.record(visit) == "saved"
    return visit


def test_daylight_saving_days_count_local_hours(store, flow):
    # 29 March 2026: 02:00 local never happens. 25 October 2026: 02:00-03:00 happens twice.
    spring = [datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]
    autumn = [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 30, tzinfo=UTC),
    ]
    for at in spring + autumn:
        add(store, flow, ("1", "1"), "jc-skelbaek", at)
    march = footfall(store, date(2026, 3, 29), date(2026, 3, 30), "hour")
    assert march == {"jc-skelbaek": {1: 1, 3: 1}}  # 01:30 CET, then 03:30 CEST; no hour 2
    october = footfall(store, date(2026, 10, 25), date(2026, 10, 26), "hour")
    assert october == {"jc-skelbaek": {2: 2, 3: 1}}  # 02:30 CEST and 02:30 CET, then 03:30 CET
    weekdays = footfall(store, date(2026, 3, 1), date(2026, 11, 1), "weekday")
    assert weekdays == {"jc-skelbaek": {6: 5}}  # both are Sundays


def test_buckets_day_week_month(store, flow):
    for day in (1, 2, 8, 31):
        add(store, flow, ("2", "2"), "jc-nord", datetime(2026, 8, day, 9, 0, tzinfo=UTC))
    add(store, flow, ("2", "2"), "jc-nord", datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
    window = (date(2026, 8, 1), date(2026, 9, 2))
    assert footfall(store, *window, "day")["jc-nord"] == {
        "2026-08-01": 1,
        "2026-08-02": 1,
        "2026-08-08": 1,
        "2026-08-31": 1,
        "2026-09-01": 1,
    }
    assert footfall(store, *window, "week")["jc-nord"] == {
        "2026-W31": 2,
        "2026-W32": 1,
        "2026-W36": 2,
    }
    assert footfall(store, *window, "month")["jc-nord"] == {"2026-08": 4, "2026-09": 1}


def _month(store, flow):
    """Ten visits in November 2026 at three sites, with postcodes, referrals, a void and demo."""
    nov = lambda d, h=9: datetime(2026, 11, d, h, 0, tzinfo=UTC)  # noqa: E731
    made = [
        add(store, flow, ("4", "1050", "1"), "jc-skelbaek", nov(2)),  # home Skelbæk, here
        add(
            store, flow, ("4", "2400", "1"), "jc-skelbaek", nov(2, 10)
        ),  # home Musvåge: misdirected
        add(store, flow, ("4", "2100", "1"), "jc-skelbaek", nov(3)),  # home Nord: misdirected
        add(store, flow, ("1", "1"), "jc-skelbaek", nov(3, 10)),  # referred: sygedagpenge
        add(store, flow, ("2", "2"), "jc-skelbaek", nov(4), channel="phone"),  # referred: ys
        add(store, flow, ("4", "2400", "1"), "jc-musvaage", nov(4)),  # home Musvåge, here
        add(store, flow, ("9", "1"), "jc-musvaage", nov(5)),  # referred: external
        add(store, flow, ("4", "2100", "2"), "jc-nord", nov(5)),  # home Nord, here
        add(store, flow, ("6", "1"), "jc-nord", nov(6)),  # referred: Musvåge (jobcenter)
        add(store, flow, ("1", "2"), "jc-nord", nov(6, 10), demo=True),  # demo
    ]
    voided = add(store, flow, ("9", "2"), "jc-skelbaek", nov(6))
    store.void(voided["visit_id"], "d")
    add(
        store, flow, ("1", "1"), "jc-skelbaek", datetime(2026, 10, 20, 9, tzinfo=UTC)
    )  # previous period
    add(store, flow, ("1", "1"), "jc-nord", datetime(2026, 10, 21, 9, tzinfo=UTC))
    return made


def test_summary_has_exact_figures(store, flow):
    _month(store, flow)
    s = summarize(store, flow.sites, date(2026, 11, 1), date(2026, 12, 1))
    assert s.total == 10  # the void visit never counts
    shares = {
        x.site_id: (x.visits, round(x.share, 4), x.target, round(x.imbalance, 4)) for x in s.sites
    }
    assert shares == {
        "jc-skelbaek": (5, 0.5, 0.4, 0.25),
        "jc-musvaage": (2, 0.2, 0.3, -0.3333),
        "jc-nord": (3, 0.3, 0.3, 0.0),
    }
    assert round(s.overall_imbalance, 4) == 0.1  # (0.1 + 0.1 + 0) / 2
    assert s.with_postcode == 5 and s.misdirected == 2
    assert s.misdirection == {
        "jc-skelbaek": {"jc-skelbaek": 1},
        "jc-musvaage": {"jc-skelbaek": 1, "jc-musvaage": 1},
        "jc-nord": {"jc-skelbaek": 1, "jc-nord": 1},
    }
    # Sent on from where they came: the two misdirected ones and 6-1 (integration) to another
    # jobcentre, two to sick pay (one demo), one to Ydelsesservice, one outside.
    assert s.referred_by_kind == {
        "jobcenter": 3,
        "sygedagpenge": 2,
        "ydelsesservice": 1,
        "external": 1,
    }
    assert s.referred == 7
    assert s.previous_total == 2 and s.change == 4.0  # the 30 days before: 2 visits
    assert s.change_by_site == {"jc-musvaage": None, "jc-nord": 2.0, "jc-skelbaek": 4.0}
    # Every (site, weekday, hour) here has one visit; ties go by site, weekday, hour.
    assert s.busiest_hours[0] == {
        "site_id": "jc-musvaage",
        "weekday": 2,
        "hour": 10,
        "visits": 1,
        "days": 1,
        "average": 1.0,
        "peak": 1,
        "peak_date": "2026-11-04",
    }
    assert len(s.busiest_hours) == 5


def test_a_period_without_visits_has_no_imbalance(store, flow):
    _month(store, flow)
    s = summarize(store, flow.sites, date(2026, 6, 1), date(2026, 6, 8))  # nobody came that week
    assert (
        s.total == 0 and [(x.visits, x.share, x.imbalance) for x in s.sites] == [(0, 0.0, None)] * 3
    )
    assert s.overall_imbalance == 0.0
    from triage.report import summary_csv, summary_table

    said = summary_table(s, flow.sites)
    assert "Ingen besøg i perioden." in said and "Samlet ubalance" not in said

    assert "-100" not in summary_table(s, flow.sites) and "–" in summary_table(s, flow.sites)
    assert "imbalance,jc-skelbaek,,\r\n" in summary_csv(s, flow.sites)
    # No share either: "–", not "0 %", and null (empty in CSV), as the overall imbalance.
    rows = [line.split() for line in said.splitlines() if line.startswith("Jobcenter")]
    assert [row[-5:-3] + row[-1:] for row in rows] == [["0", "–", "–"]] * 3
    import json

    from triage.report import summary_json

    data = json.loads(summary_json(s, flow.sites))
    assert data["overall_imbalance"] is None and [x["share"] for x in data["sites"]] == [None] * 3
    csv_text = summary_csv(s, flow.sites)
    assert "share,jc-skelbaek,,\r\n" in csv_text and "overall_imbalance,,,\r\n" in csv_text
    from triage.i18n import change

    assert (change(-0.004), change(0.25), change(-1 / 3), change(None)) == (
        "0 %",
        "+25 %",
        "-33 %",
        "–",
    )


def test_filters(store, flow):
    _month(store, flow)
    nov = (date(2026, 11, 1), date(2026, 12, 1))
    assert summarize(store, flow.sites, *nov, Filters(include_demo=False)).total == 9
    assert summarize(store, flow.sites, *nov, Filters(channels=("phone",))).total == 1
    only_nord = summarize(store, flow.sites, *nov, Filters(sites=("jc-nord",)))
    assert only_nord.total == 3 and [x.site_id for x in only_nord.sites] == ["jc-nord"]
    by_dest = footfall(store, *nov, "day", Filters(destinations=("ys",)))
    assert by_dest == {"jc-skelbaek": {"2026-11-04": 1}}


def test_purged_period_gives_the_same_figures(store, flow):
    _month(store, flow)
    nov = (date(2026, 11, 1), date(2026, 12, 1))
    before = summarize(store, flow.sites, *nov).as_dict()
    hours = footfall(store, *nov, "hour")
    store.purge(date(2026, 12, 1))
    assert store.visits() == []
    assert summarize(store, flow.sites, *nov).as_dict() == before
    assert footfall(store, *nov, "hour") == hours


def test_unknown_grouping_is_refused(store):
    with pytest.raises(ValueError):
        visit_counts(store, date(2026, 1, 1), date(2026, 2, 1), by=("postcode",))
    with pytest.raises(ValueError):
        footfall(store, date(2026, 1, 1), date(2026, 2, 1), "quarter")


def test_summary_command_in_three_formats(tmp_path, flow, capsys):
    import csv
    import io
    import json

    from triage.cli import main

    db = tmp_path / "summary.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    _month(store, flow)
    store.dispose()
    period = ["--from", "2026-11-01", "--to", "2026-11-30", "--db", str(db)]

    assert main(["summary", *period]) == 0
    table = capsys.readouterr().out
    assert table.startswith("Periode 2026-11-01 til og med 2026-11-30: 10 besøg")
    assert table.splitlines()[2:8] == [
        "Sted                             Besøg   Andel    Mål   Ubalance",
        "─" * 64,
        "Jobcenter Skelbækgade                5    50 %   40 %      +25 %",
        "Jobcenter København Musvågevej       2    20 %   30 %      -33 %",
        "Jobcenter København Nord             3    30 %   30 %        0 %",
        "",
    ]
    assert "\x1b" not in table  # no colour codes when the output is not a terminal
    assert "Samlet ubalance: 10 %" in table and "2 af 5 med postnummer" in table

    assert main(["summary", *period, "--format", "json", "--no-demo"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 9 and data["site_names"]["jc-nord"] == "Jobcenter København Nord"
    assert {x["site_id"]: x["visits"] for x in data["sites"]} == {
        "jc-skelbaek": 5,
        "jc-musvaage": 2,
        "jc-nord": 2,
    }

    assert main(["summary", *period, "--format", "csv", "--site", "jc-nord"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["section", "site", "other", "value"]
    # Only Nord is shown, with its share of all jobcentres (3 of 10) against its target of 30 %.
    assert ["total", "", "", "3"] in rows and ["share", "jc-nord", "", "0.3"] in rows
    assert ["imbalance", "jc-nord", "", "0.0"] in rows and [
        "visits",
        "jc-skelbaek",
        "",
        "5",
    ] not in rows

    assert main(["summary", "--from", "2026-12-01", "--to", "2026-11-01", "--db", str(db)]) == 1
    assert "begynder" in capsys.readouterr().err
    assert main(["summary", *period, "--site", "jc-amager"]) == 1
    assert "jc-amager" in capsys.readouterr().err


def test_whole_months():
    from triage.db.queries import whole_months

    assert whole_months(date(2026, 1, 15), date(2026, 4, 10)) == (
        date(2026, 2, 1),
        date(2026, 4, 1),
    )
    assert whole_months(date(2026, 1, 1), date(2026, 2, 1)) == (date(2026, 1, 1), date(2026, 2, 1))
    assert whole_months(date(2026, 1, 2), date(2026, 2, 28)) is None
    assert whole_months(date(2025, 12, 31), date(2026, 2, 1)) == (
        date(2026, 1, 1),
        date(2026, 2, 1),
    )


def test_month_cover_reads_a_cut_month_whole_when_fewer_days_are_outside():
    from triage.db.queries import month_cover

    d = date
    # A year to today: every month whole, the days after today taken away (none yet).
    assert month_cover(d(2026, 1, 1), d(2026, 11, 24)) == (
        (d(2026, 1, 1), d(2026, 12, 1)),
        [(d(2026, 11, 24), d(2026, 12, 1), -1)],
    )
    # Cut at both ends: January whole minus its first days, April by its own few days.
    assert month_cover(d(2026, 1, 4), d(2026, 4, 6)) == (
        (d(2026, 1, 1), d(2026, 4, 1)),
        [(d(2026, 1, 1), d(2026, 1, 4), -1), (d(2026, 4, 1), d(2026, 4, 6), 1)],
    )
    # Late in the first month, early in the last: both by their days.
    assert month_cover(d(2026, 1, 28), d(2026, 4, 3)) == (
        (d(2026, 2, 1), d(2026, 4, 1)),
        [(d(2026, 1, 28), d(2026, 2, 1), 1), (d(2026, 4, 1), d(2026, 4, 3), 1)],
    )
    # Inside one month: whole minus both ends, or its days when they are fewer.
    assert month_cover(d(2026, 2, 2), d(2026, 2, 27)) == (
        (d(2026, 2, 1), d(2026, 3, 1)),
        [(d(2026, 2, 1), d(2026, 2, 2), -1), (d(2026, 2, 27), d(2026, 3, 1), -1)],
    )
    assert month_cover(d(2026, 2, 10), d(2026, 2, 11)) == (
        None,
        [(d(2026, 2, 10), d(2026, 2, 11), 1)],
    )
    # Whole months only, and two cut months side by side.
    assert month_cover(d(2026, 1, 1), d(2026, 3, 1)) == ((d(2026, 1, 1), d(2026, 3, 1)), [])
    assert month_cover(d(2025, 12, 25), d(2026, 1, 20)) == (
        (d(2026, 1, 1), d(2026, 2, 1)),
        [(d(2025, 12, 25), d(2026, 1, 1), 1), (d(2026, 1, 20), d(2026, 2, 1), -1)],
    )


def test_long_periods_from_month_rollups_match_the_visits(store, flow):
    """Whole months come from the month rollups, the days at the ends from the day rollups:
    every grouping must give exactly what counting the visits themselves gives, also after a
    void and a purge."""
    import random

    rnd = random.Random(5)
    answers = [("4", "2400", "1"), ("4", "2100", "2"), ("2", "2"), ("1", "1"), ("9", "1")]
    made = []
    for _ in range(120):
        day = date(2026, 1, 1) + timedelta(days=rnd.randrange(130))
        at = datetime(
            day.year, day.month, day.day, rnd.randrange(7, 15), rnd.randrange(60), tzinfo=UTC
        )
        site = rnd.choice(["jc-skelbaek", "jc-musvaage", "jc-nord"])
        made.append(
            add(
                store,
                flow,
                rnd.choice(answers),
                site,
                at,
                channel=rnd.choice(["in_person", "phone"]),
            )
        )
    store.void(made[3]["visit_id"], "d")
    rows = [r for r in store.visits() if r["voided_utc"] is None]
    groupings = [
        ("site_id",),
        ("site_id", "local_weekday", "local_hour"),
        ("postcode_site_id", "site_id", "destination_id", "handled_here"),
        ("channel",),
        ("local_weekday",),
    ]

    def expected(start, end, by):
        counts: dict = {}
        for r in rows:
            if start <= r["local_date"] < end:
                key = tuple(r[b] or "" if b == "postcode_site_id" else r[b] for b in by)
                counts[key] = counts.get(key, 0) + 1
        return counts

    periods = [
        (date(2026, 1, 15), date(2026, 4, 10)),
        (date(2026, 1, 1), date(2026, 5, 1)),
        (date(2026, 2, 3), date(2026, 2, 20)),
        # Cut months read whole, minus their days outside the period.
        (date(2026, 1, 4), date(2026, 4, 26)),
        (date(2026, 2, 3), date(2026, 2, 26)),
        (date(2026, 2, 20), date(2026, 3, 28)),
    ]
    for start, end in periods:
        for by in groupings:
            assert visit_counts(store, start, end, by) == expected(start, end, by), (start, end, by)
    store.purge(date(2026, 3, 15))
    for start, end in periods:
        for by in groupings:
            assert visit_counts(store, start, end, by) == expected(start, end, by), (start, end, by)


def _counted_directly(store, sites, start: date, end: date) -> tuple[int, int]:
    """(misdirected, with a postcode for a jobcentre errand) counted on the visit table itself:
    postcodes of a jobcentre's catchment or of another municipality, registered elsewhere."""
    from sqlalchemy import bindparam, text

    homes = [s.id for s in sites if s.kind == "jobcenter" or s.municipality]
    query = text(
        "SELECT COUNT(*), SUM(CASE WHEN postcode_site_id <> site_id THEN 1 ELSE 0 END) FROM visit"
        " WHERE voided_utc IS NULL AND local_date >= :start AND local_date < :end"
        " AND postcode_site_id IN :homes"
    ).bindparams(bindparam("homes", expanding=True))
    with store.engine.connect() as conn:
        given, wrong = conn.execute(query, {"start": start, "end": end, "homes": homes}).one()
    return int(wrong or 0), int(given)


def test_other_municipalities_are_misdirected_and_social_postcodes_not_counted(store, flow):
    from triage.report import summary_table
    from triage.stats import is_misdirected

    _month(store, flow)
    nov = lambda d, h=9: datetime(2026, 11, d, h, 0, tzinfo=UTC)  # noqa: E731
    add(store, flow, ("4", "2000", "1"), "jc-skelbaek", nov(10))  # Frederiksberg, job errand
    add(store, flow, ("4", "2610", "2"), "jc-nord", nov(10, 10))  # another municipality
    add(store, flow, ("7", "1050", "1"), "jc-skelbaek", nov(11))  # social errand: not in the rate
    add(store, flow, ("7", "2400", "2"), "jc-musvaage", nov(11, 10))  # social errand
    add(store, flow, ("9", "1"), "jc-nord", nov(12))  # sent to Borgerservice, the city's own
    period = (date(2026, 11, 1), date(2026, 12, 1))
    s = summarize(store, flow.sites, *period)
    # _month's 2 of 5, plus Frederiksberg and 2610; the two social-errand postcodes stay out.
    assert (s.misdirected, s.with_postcode) == (4, 7)
    assert (s.misdirected, s.with_postcode) == _counted_directly(store, flow.sites, *period)
    assert s.misdirection["frederiksberg"] == {"jc-skelbaek": 1}
    assert s.misdirection["sc-indre-by"] == {"jc-skelbaek": 1}  # shown, but never misdirected
    # Referred to another municipality apart from Borgerservice (two with _month's health card).
    assert s.referred_by_kind["municipality"] == 2 and s.referred_by_kind["external"] == 2
    assert not is_misdirected(flow.sites, "borgerservice", "jc-skelbaek")
    assert not is_misdirected(flow.sites, "sc-indre-by", "jc-skelbaek")
    table = summary_table(s, flow.sites)
    assert "4 af 7 med postnummer til et jobcenterærinde" in table
    assert "Frederiksberg Kommune → Jobcenter Skelbækgade: 1" in table
    assert "anden kommune 2" in table and "andre steder 2" in table
    assert "uden for kommunen" not in table


def test_municipalities_are_the_ones_marked_in_the_data(data_copy):
    from tests.conftest import edit
    from triage.i18n import problem_text
    from triage.load import load
    from triage.stats import is_misdirected

    sites_file = data_copy / "sites.toml"
    edit(
        sites_file,
        '[site.frederiksberg]\nkind = "external"\nmunicipality = true\n',
        '[site.frederiksberg]\nkind = "external"\n',
    )
    loaded = load(data_copy)
    assert loaded.ok
    sites = loaded.flow.sites
    assert not is_misdirected(sites, "frederiksberg", "jc-skelbaek")  # not marked: not counted
    assert is_misdirected(sites, "anden-kommune", "jc-skelbaek")
    edit(sites_file, "[site.borgerservice]\n", '[site.borgerservice]\nmunicipality = "ja"\n')
    (problem,) = load(data_copy).errors
    assert problem_text(problem).endswith(
        "Feltet 'municipality' skal være true eller false uden anførselstegn, men her står \"ja\"."
    )


# --- shares over time ----------------------------------------------------------------------


def _direct_shares(store, flow, start: date, end: date, unit: str, include_demo: bool = True):
    """Each targeted jobcentre's share per month (or ISO week) counted from the visit table
    itself: {(site, bucket): (first, last, visits, share)}."""
    from sqlalchemy import text

    rows = []
    with store.engine.connect() as conn:
        for site, day, demo in conn.execute(
            text("SELECT site_id, local_date, demo FROM visit WHERE voided_utc IS NULL")
        ):
            day = day if isinstance(day, date) else date.fromisoformat(day)
            if start <= day < end and (include_demo or not demo):
                rows.append((site, day))
    targeted = [s.id for s in flow.sites if s.kind == "jobcenter" and s.target_share]

    def bucket(day: date) -> str:
        if unit == "week":
            year, week, _ = day.isocalendar()
            return f"{year}-W{week:02d}"
        return day.strftime("%Y-%m")

    days = [start + timedelta(days=i) for i in range((end - start).days)]
    spans: dict[str, list[date]] = {}
    for day in days:
        spans.setdefault(bucket(day), []).append(day)
    expected = {}
    for name, inside in spans.items():
        at_jobcentres = sum(1 for s, d in rows if s in targeted and bucket(d) == name)
        for site in targeted:
            visits = sum(1 for s, d in rows if s == site and bucket(d) == name)
            share = visits / at_jobcentres if at_jobcentres else None
            expected[(site, name)] = (str(min(inside)), str(max(inside)), visits, share)
    return expected


def _over_time(rows) -> dict:
    return {(x.site_id, x.bucket): (x.first, x.last, x.visits, x.share) for x in rows}


def _spread_visits(store, flow, year: int = 2026) -> None:
    """Visits from August to December; none at Musvågevej in October; demo and a void."""
    at = lambda m, d, h=9: datetime(year, m, d, h, 0, tzinfo=UTC)  # noqa: E731
    for month, day, site, demo in [
        (8, 31, "jc-nord", False),  # before the period
        (9, 14, "jc-skelbaek", False),  # cut month: inside
        (9, 14, "jc-nord", False),
        (9, 2, "jc-skelbaek", False),  # cut month: before the period's first day
        (9, 29, "jc-musvaage", False),
        (10, 6, "jc-skelbaek", False),
        (10, 7, "jc-skelbaek", False),
        (10, 8, "jc-nord", False),
        (10, 9, "jc-nord", True),  # demo
        (10, 9, "jc-skelbaek", True),
        (11, 3, "jc-musvaage", False),
        (11, 4, "jc-musvaage", False),
        (11, 5, "jc-skelbaek", False),
        (12, 2, "jc-nord", False),  # cut month: inside
        (12, 9, "jc-skelbaek", False),  # cut month: after the last day
    ]:
        add(store, flow, ("1", "1"), site, at(month, day), demo=demo)
    voided = add(store, flow, ("1", "1"), "jc-musvaage", at(10, 6))
    store.void(voided["visit_id"], "d")
    add(store, flow, ("1", "1"), "ys", at(10, 6))  # not a jobcentre: counts in no share


def test_shares_over_time_match_the_visit_table(store, flow):
    from triage.stats import shares_over_time

    _spread_visits(store, flow)
    period = (date(2026, 9, 10), date(2026, 12, 5))  # 86 days: months, both ends cut
    rows = shares_over_time(store, flow.sites, *period)
    assert _over_time(rows) == _direct_shares(store, flow, *period, "month")
    by_key = {(x.site_id, x.bucket): x for x in rows}
    assert (by_key["jc-skelbaek", "2026-09"].first, by_key["jc-skelbaek", "2026-09"].last) == (
        "2026-09-10",
        "2026-09-30",
    )
    assert by_key["jc-nord", "2026-12"].last == "2026-12-04"
    october = by_key["jc-musvaage", "2026-10"]  # no visits there that month: a share of 0
    assert october.visits == 0 and october.share == 0.0 and october.difference == -0.3
    assert by_key["jc-skelbaek", "2026-10"].share == 3 / 5  # demo counted here
    assert by_key["jc-skelbaek", "2026-12"].share == 0.0  # the 9th is after the period
    # Without demo visits, and weekly for a period of 12 weeks or less.
    no_demo = shares_over_time(store, flow.sites, *period, Filters(include_demo=False))
    assert _over_time(no_demo) == _direct_shares(store, flow, *period, "month", False)
    assert {x.bucket: x.share for x in no_demo if x.site_id == "jc-skelbaek"}["2026-10"] == 2 / 3
    weeks = (date(2026, 9, 30), date(2026, 11, 5))
    weekly = shares_over_time(store, flow.sites, *weeks)
    assert _over_time(weekly) == _direct_shares(store, flow, *weeks, "week")
    assert weekly[0].bucket == "2026-W40" and weekly[0].first == "2026-09-30"


def test_shares_over_time_with_a_site_filter_stay_against_all_jobcentres(store, flow):
    from triage.stats import shares_over_time

    _spread_visits(store, flow)
    period = (date(2026, 9, 10), date(2026, 12, 5))
    everything = _over_time(shares_over_time(store, flow.sites, *period))
    only_nord = shares_over_time(store, flow.sites, *period, Filters(sites=("jc-nord",)))
    assert {x.site_id for x in only_nord} == {"jc-nord"}
    assert _over_time(only_nord) == {k: v for k, v in everything.items() if k[0] == "jc-nord"}
    assert {x.bucket: x.share for x in only_nord}["2026-10"] == 2 / 5  # not 100 %
    # The summary carries the same rows.
    summary = summarize(store, flow.sites, *period, Filters(sites=("jc-nord",)))
    assert _over_time(summary.shares_over_time) == _over_time(only_nord)


def test_shares_over_time_in_a_month_without_visits_have_no_share(store, flow):
    from triage.stats import shares_over_time

    _spread_visits(store, flow)
    rows = shares_over_time(store, flow.sites, date(2026, 1, 1), date(2026, 4, 1))
    assert {x.bucket for x in rows} == {"2026-01", "2026-02", "2026-03"}
    assert all(x.visits == 0 and x.share is None and x.difference is None for x in rows)


def test_summary_shows_shares_over_time_in_every_format(tmp_path, flow):
    import csv
    import io
    import json
    import subprocess
    import sys

    from triage.stats import shares_over_time

    db = tmp_path / "trend.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    _spread_visits(store, flow, year=2025)  # a year ago: a period after today would be cut
    period = (date(2025, 9, 10), date(2025, 12, 5))
    expected = shares_over_time(store, flow.sites, *period, Filters(include_demo=False))
    store.dispose()

    def summary(*extra: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "triage", "summary", "--db", str(db), "--no-demo"]
            + ["--from", "2025-09-10", "--to", "2025-12-04", *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    data = json.loads(summary("--format", "json"))["shares_over_time"]
    assert [(x["site_id"], x["bucket"], x["first"], x["last"]) for x in data] == [
        (x.site_id, x.bucket, x.first, x.last) for x in expected
    ]
    assert [x["share"] for x in data] == [x.share for x in expected]
    assert data[0]["first"] == "2025-09-10" and data[-1]["last"] == "2025-12-04"

    rows = list(csv.reader(io.StringIO(summary("--format", "csv", "--site", "jc-nord"))))
    over_time = [r for r in rows if r[0] == "share_over_time"]
    nord = [x for x in expected if x.site_id == "jc-nord"]
    assert [(r[1], r[2]) for r in over_time] == [("jc-nord", f"{x.first}/{x.last}") for x in nord]
    assert [float(r[3]) for r in over_time] == [round(x.share or 0, 4) for x in nord]
    assert any(r[:2] == ["other_means", "share_over_time"] for r in rows)

    table = summary()
    block = table[table.index("Andel pr. måned") :].splitlines()
    assert "sep 25" in block[2] and "dec 25" in block[2]
    # Without demo: Skelbækgade has 2 of 3 in October, 67 % against 40 %: marked.
    assert block[4].split()[:2] == ["Jobcenter", "Skelbækgade"] and "67*" in block[4]
    assert block[4].split()[-1] == "40"


def test_the_shares_table_fits_80_columns_and_marks_cut_months(store, flow):
    """On an 80-column terminal the share-per-month block shows the latest months that fit,
    never a cut site name; a month the period cuts is marked (°) and its days named."""
    import io

    from rich.console import Console

    from triage.report import summary_table, summary_view

    _spread_visits(store, flow)
    s = summarize(store, flow.sites, date(2026, 1, 10), date(2026, 12, 5))
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(summary_view(s, flow.sites))
    drawn = console.file.getvalue()
    block = drawn[drawn.index("Andel pr. måned") :].splitlines()
    assert all(len(line) <= 80 for line in block)
    names = [site.name("da") for site in flow.sites if site.kind == "jobcenter"]
    assert all(any(line.startswith(name + " ") for line in block) for name in names)
    assert "…" not in "\n".join(block) and "Kun de seneste" in block[0]
    header = next(line for line in block if line.startswith("Sted"))
    assert header.split()[-3:] == ["dec", "26°", "Mål"] and "nov 26 " in header
    assert "° delvis, kun disse dage er talt med: dec 26 2026-12-01 – 2026-12-04." in drawn
    plain = summary_table(s, flow.sites)  # no terminal: all 12 months, both cut ends marked
    assert "jan 26°" in plain and "dec 26°" in plain and "jun 26 " in plain
    assert "jan 26 2026-01-10 – 2026-01-31; dec 26 2026-12-01 – 2026-12-04." in plain


def test_the_summary_lists_misdirected_flows_biggest_first(store, flow):
    from triage.report import summary_csv, summary_table

    _month(store, flow)
    nov = lambda d, h=9: datetime(2026, 11, d, h, 0, tzinfo=UTC)  # noqa: E731
    for hour in (11, 12):  # home Nord at Musvågevej twice: the biggest flow
        add(store, flow, ("4", "2100", "1"), "jc-musvaage", nov(9, hour))
    s = summarize(store, flow.sites, date(2026, 11, 1), date(2026, 12, 1))
    table = summary_table(s, flow.sites).splitlines()
    first = table.index(next(line for line in table if line.startswith("Kom til")))
    assert [line.strip() for line in table[first + 1 : first + 4]] == [
        "Jobcenter København Nord → Jobcenter København Musvågevej: 2",
        "Jobcenter København Musvågevej → Jobcenter Skelbækgade: 1",
        "Jobcenter København Nord → Jobcenter Skelbækgade: 1",
    ]
    other = [r for r in summary_csv(s, flow.sites).splitlines() if "home_by_visited" in r][0]
    assert "socialcenter" in other and "anden kommune" in other


def test_overview_with_a_site_filter_reads_every_site_once_for_shares(store, flow):
    from datetime import time

    from triage.model import LOCAL_ZONE
    from triage.overview import overview

    _spread_visits(store, flow)
    period = (date(2026, 9, 10), date(2026, 12, 5))
    now = datetime.combine(date(2026, 12, 4), time(12), LOCAL_ZONE)
    only_nord = overview(store, flow.sites, *period, now, Filters(sites=("jc-nord",)))
    expected = _direct_shares(store, flow, *period, "month")
    assert _over_time(only_nord.summary.shares_over_time) == {
        k: v for k, v in expected.items() if k[0] == "jc-nord"
    }
    # The trend and the demo mark count only the chosen site.
    assert only_nord.trend == [
        ("2026-09-14", 1),
        ("2026-10-08", 1),
        ("2026-10-09", 1),
        ("2026-12-02", 1),
    ]
    assert only_nord.demo_visits == 1


def _random_visits(store, flow, seed: int = 7, n: int = 150) -> list[dict]:
    """Visits on random days and hours of October-November 2026 at three jobcentres and the
    social centre, some voided; returns the visit table's rows that count."""
    import random

    rnd = random.Random(seed)
    answers = [("4", "2400", "1"), ("4", "2100", "2"), ("2", "2"), ("1", "1"), ("9", "1")]
    made = []
    for _ in range(n):
        day = date(2026, 10, 1) + timedelta(days=rnd.randrange(50))
        at = datetime(day.year, day.month, day.day, rnd.randrange(7, 13), 5, tzinfo=UTC)
        site = rnd.choice(["jc-skelbaek", "jc-skelbaek", "jc-musvaage", "jc-nord"])
        made.append(add(store, flow, rnd.choice(answers), site, at))
    for visit in made[:5]:
        store.void(visit["visit_id"], "d")
    return [r for r in store.visits() if r["voided_utc"] is None]


def test_site_filter_keeps_shares_against_all_jobcentres(store, flow):
    """--site chooses what is shown; each shown site's share is of all jobcentre visits, counted
    from the visit table itself, and its imbalance is against its own target."""
    rows = _random_visits(store, flow)
    period = (date(2026, 10, 1), date(2026, 11, 20))
    jobcentres = {s.id: float(s.target_share) for s in flow.sites if s.kind == "jobcenter"}
    everyone = sum(1 for r in rows if r["site_id"] in jobcentres)
    unfiltered = summarize(store, flow.sites, *period)
    for chosen in (("jc-nord",), ("jc-skelbaek", "jc-musvaage")):
        s = summarize(store, flow.sites, *period, Filters(sites=chosen))
        assert [x.site_id for x in s.sites] == [x for x in jobcentres if x in chosen]
        assert s.total == sum(1 for r in rows if r["site_id"] in chosen)
        for x in s.sites:
            visits = sum(1 for r in rows if r["site_id"] == x.site_id)
            assert x.visits == visits and x.share == pytest.approx(visits / everyone)
            assert x.imbalance == pytest.approx(visits / everyone / jobcentres[x.site_id] - 1)
        assert s.overall_imbalance == pytest.approx(unfiltered.overall_imbalance)


def test_busiest_hours_are_averages_over_open_days_with_their_peak(store, flow):
    """Each (site, weekday, hour): visits ÷ days of that weekday the site had visits, and the
    single busiest hour with its date, all counted from the visit table itself."""
    rows = _random_visits(store, flow, seed=11, n=200)
    period = (date(2026, 10, 1), date(2026, 11, 20))
    open_days: dict = {}
    per_hour: dict = {}
    for r in rows:
        open_days.setdefault((r["site_id"], r["local_weekday"]), set()).add(r["local_date"])
        key = (r["site_id"], r["local_weekday"], r["local_hour"], r["local_date"])
        per_hour[key] = per_hour.get(key, 0) + 1
    expected = {}
    for (site, weekday, hour, day), n in per_hour.items():
        total, peak, peak_day = expected.get((site, weekday, hour), (0, 0, None))
        better = n > peak or (n == peak and day < peak_day)
        expected[(site, weekday, hour)] = (
            total + n,
            n if better else peak,
            day if better else peak_day,
        )
    got = summarize(store, flow.sites, *period, busiest=10_000).busiest_hours
    assert len(got) == len(expected)
    for h in got:
        total, peak, peak_day = expected[(h["site_id"], h["weekday"], h["hour"])]
        days = len(open_days[(h["site_id"], h["weekday"])])
        assert (h["visits"], h["days"], h["peak"], h["peak_date"]) == (
            total,
            days,
            peak,
            peak_day.isoformat(),
        )
        assert h["average"] == pytest.approx(total / days)
    averages = [h["average"] for h in got]
    assert averages == sorted(averages, reverse=True)


def test_busiest_hour_text_says_average_and_peak(store, flow):
    """Three Mondays open at Nord: 3 and 1 visits at 10-11 on two of them, one at 9 on the third.
    The busiest hour is 4 ÷ 3 on average, 3 at most (2 November), not the total 4."""
    from triage.report import summary_json, summary_table

    for day, hour, n in ((2, 10, 3), (9, 10, 1), (16, 9, 1)):
        for _ in range(n):
            add(
                store, flow, ("2", "2"), "jc-nord", datetime(2026, 11, day, hour - 1, 5, tzinfo=UTC)
            )
    s = summarize(store, flow.sites, date(2026, 11, 1), date(2026, 11, 30))
    said = summary_table(s, flow.sites)
    assert (
        "Jobcenter København Nord, mandag kl. 10-11: i gennemsnit 1,3 besøg over 3 dage; "
        "flest på én time: 3 (mandag 2026-11-02 kl. 10)"
    ) in said
    import json

    first = json.loads(summary_json(s, flow.sites))["busiest_hours"][0]
    assert (first["average"], first["peak"], first["peak_date"]) == (4 / 3, 3, "2026-11-02")
    english = summary_table(s, flow.sites, "en")
    assert "on average 1.3 visits over 3 days; most in one hour: 3 (Monday 2026-11-02" in english


def _busiest_from_visits(rows: list[dict]) -> list[dict]:
    """Every (site, weekday, hour) slot counted on the visit table itself: its visits, the days
    of that weekday the site had visits, the average over them, the single busiest hour and
    its date (the earliest on a tie); busiest on average first, ties by site, weekday, hour."""
    open_days: dict = {}
    per_hour: dict = {}
    for r in rows:
        open_days.setdefault((r["site_id"], r["local_weekday"]), set()).add(r["local_date"])
        key = (r["site_id"], r["local_weekday"], r["local_hour"], r["local_date"])
        per_hour[key] = per_hour.get(key, 0) + 1
    slots: dict = {}
    for (site, weekday, hour, day), n in sorted(per_hour.items()):
        slot = slots.setdefault((site, weekday, hour), {"visits": 0, "peak": 0, "peak_date": ""})
        slot["visits"] += n
        if n > slot["peak"]:  # days in order: the earliest of equal peaks stays
            slot["peak"], slot["peak_date"] = n, day.isoformat()
    ranked = []
    for (site, weekday, hour), slot in slots.items():
        days = len(open_days[(site, weekday)])
        ranked.append(
            {"site_id": site, "weekday": weekday, "hour": hour, "days": days}
            | slot
            | {"average": slot["visits"] / days}
        )
    return sorted(ranked, key=lambda r: (-r["average"], r["site_id"], r["weekday"], r["hour"]))


def _shown(rows) -> list[tuple]:
    return [
        (r["site_id"], r["weekday"], r["hour"], r["visits"], r["days"], r["peak"], r["peak_date"])
        for r in rows
    ]


def test_busiest_hours_of_the_overview_and_filters_against_the_visit_table(store, flow):
    """The overview's busiest hour per site and the summary's five, with and without demo
    visits, for some sites and for a destination (read from another rollup), equal what the
    visit table gives. A day whose visits at a site were all voided is not an open day there,
    and the busiest day of a slot is found across a whole month read from the month rollups."""
    from triage.overview import overview

    made = _random_visits(store, flow, seed=3, n=160)
    for n in range(4):  # demo visits: a Tuesday hour busier than any real one
        add(
            store,
            flow,
            ("2", "2"),
            "jc-musvaage",
            datetime(2026, 10, 6, 8, n, tzinfo=UTC),
            demo=True,
        )
    # A real visit the same day: a day with demo and real visits is one open day.
    add(store, flow, ("1", "1"), "jc-musvaage", datetime(2026, 10, 6, 12, tzinfo=UTC))
    voided = [
        add(store, flow, ("1", "1"), "jc-nord", datetime(2026, 11, 23, 8, n, tzinfo=UTC))
        for n in range(3)
    ]  # a Monday with visits at Nord, all of them voided
    for visit in voided:
        store.void(visit["visit_id"], "d")
    rows = [r for r in store.visits() if r["voided_utc"] is None]
    assert len(rows) > len(made)
    period = (date(2026, 9, 28), date(2026, 11, 25))  # October whole, days either side
    in_period = [r for r in rows if period[0] <= r["local_date"] < period[1]]
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    for filters, chosen in (
        (Filters(), in_period),
        (Filters(include_demo=False), [r for r in in_period if not r["demo"]]),
        (
            Filters(sites=("jc-nord", "jc-musvaage")),
            [r for r in in_period if r["site_id"] in ("jc-nord", "jc-musvaage")],
        ),
    ):
        expected = _busiest_from_visits(chosen)
        result = overview(store, flow.sites, *period, now, filters)
        assert _shown(result.summary.busiest_hours) == _shown(expected[:5])
        firsts: dict = {}
        for row in expected:
            firsts.setdefault(row["site_id"], row)
        assert {s: _shown([r])[0] for s, r in result.busiest_by_site.items()} == {
            s: _shown([r])[0] for s, r in firsts.items()
        }
        for got, want in zip(result.summary.busiest_hours, expected, strict=False):
            assert got["average"] == pytest.approx(want["average"])
    ys = Filters(destinations=("ys",))
    expected = _busiest_from_visits([r for r in in_period if r["destination_id"] == "ys"])
    assert expected and _shown(summarize(store, flow.sites, *period, ys).busiest_hours) == _shown(
        expected[:5]
    )
    nord_mondays = {
        r["local_date"] for r in in_period if r["site_id"] == "jc-nord" and r["local_weekday"] == 0
    }
    assert date(2026, 11, 23) not in nord_mondays
    monday = [
        r
        for r in _busiest_from_visits(in_period)
        if r["site_id"] == "jc-nord" and r["weekday"] == 0
    ]
    assert monday and all(r["days"] == len(nord_mondays) for r in monday)


def test_the_busiest_hour_peak_reads_its_slot_through_the_index(tmp_path, flow):
    """On SQLite the peak lookup searches ix_visit_hourly_slot (one slot's days), not every
    hour of the period."""
    import sqlite3

    from triage.db.queries import hour_peaks

    store = Store(tmp_path / "v.db", spool_dir=tmp_path / "spool")
    store.open()
    add(store, flow, ("2", "2"), "jc-nord", datetime(2026, 11, 2, 9, 5, tzinfo=UTC))
    period = (date(2026, 1, 1), date(2026, 12, 1))
    statements: list[str] = []
    raw = store.engine.raw_connection()
    try:
        raw.driver_connection.set_trace_callback(statements.append)
        raw.close()  # back to the pool, traced: the lookup below takes it again
        peaks = hour_peaks(store, *period, [("jc-nord", 0, 10)], Filters())
    finally:
        store.engine.dispose()
    assert peaks == {("jc-nord", 0, 10): (1, date(2026, 11, 2))}
    (lookup,) = [s for s in statements if "visit_hourly" in s]
    with sqlite3.connect(tmp_path / "v.db") as conn:
        plan = " ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + lookup))
    assert "SEARCH visit_hourly USING INDEX ix_visit_hourly_slot" in plan
    assert "SCAN visit_hourly" not in plan


def test_overview_day_figures_match_the_visit_table(store, flow):
    """The overview's trend, demo mark and weekly shares, made in one pass over the day rows,
    against the visit table itself: with a channel filter (a rollup grouped by day), without
    demo visits, and a day with demo and ordinary visits at the same site."""
    from collections import Counter

    from triage.overview import overview

    _random_visits(store, flow)
    for day, site, channel, demo in [
        (6, "jc-nord", "phone", False),
        (6, "jc-nord", "phone", True),  # the same day and site, demo and not
        (13, "jc-skelbaek", "phone", True),
        (20, "jc-musvaage", "in_person", True),
    ]:
        at = datetime(2026, 10, day, 9, 30, tzinfo=UTC)
        add(store, flow, ("1", "1"), site, at, channel=channel, demo=demo)
    rows = [r for r in store.visits() if r["voided_utc"] is None]
    period = (date(2026, 10, 5), date(2026, 11, 16))  # six whole ISO weeks: weekly shares
    now = datetime(2026, 11, 15, 10, tzinfo=UTC)
    for filters in (Filters(), Filters(channels=("phone",)), Filters(include_demo=False)):
        chosen = [
            r
            for r in rows
            if period[0] <= r["local_date"] < period[1]
            and (filters.channels is None or r["channel"] in filters.channels)
            and (filters.include_demo or not r["demo"])
        ]
        result = overview(store, flow.sites, *period, now, filters)
        per_day = Counter(r["local_date"].isoformat() for r in chosen)
        assert result.trend == sorted(per_day.items())
        assert result.demo_visits == sum(1 for r in chosen if r["demo"])
        if filters.channels is None:
            assert _over_time(result.summary.shares_over_time) == _direct_shares(
                store, flow, *period, "week", include_demo=filters.include_demo
            )
    phone = overview(store, flow.sites, *period, now, Filters(channels=("phone",)))
    nord = phone.busiest_by_site["jc-nord"]
    assert (nord["weekday"], nord["days"], nord["visits"]) == (1, 1, 2)  # one Tuesday, not two


@pytest.mark.parametrize(
    ("start", "end", "unit"),
    [
        (date(2026, 8, 1), date(2027, 1, 1), "month"),
        (date(2026, 8, 14), date(2026, 12, 3), "month"),  # months cut at both ends
        (date(2026, 9, 28), date(2026, 11, 20), "week"),
    ],
)
@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(sites=("jc-nord", "jc-musvaage")),
        Filters(include_demo=False),
        Filters(channels=("in_person",)),
    ],
)
def test_day_figures_match_counting_the_visit_table(store, flow, start, end, unit, filters):
    """The overview's day figures (trend, days a site had visits per weekday, demo visits,
    visits per month or ISO week) as counting the visit rows one by one gives them: shown
    sites only, except the buckets (every site), and a day with demo and real visits at a
    site one day it had visits."""
    from sqlalchemy import text

    from triage.db.queries import day_figures
    from triage.overview import overview

    _spread_visits(store, flow)
    add(store, flow, ("1", "1"), "jc-nord", datetime(2026, 10, 9, 11, tzinfo=UTC))  # + demo day
    add(store, flow, ("1", "1"), "jc-nord", datetime(2026, 10, 20, 9, tzinfo=UTC), "phone")
    for hour in (10, 12):  # one day a site had two visits
        add(store, flow, ("1", "1"), "jc-musvaage", datetime(2026, 11, 10, hour, tzinfo=UTC))
    per_day: dict[date, int] = {}
    opened: dict[tuple[str, int], set[date]] = {}
    by_bucket: dict[tuple[date, str], int] = {}
    demo = 0
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT site_id, local_date, demo, channel FROM visit WHERE voided_utc IS NULL")
        ).all()
    for site, day, is_demo, channel in rows:
        day = day if isinstance(day, date) else date.fromisoformat(day)
        if not start <= day < end or (is_demo and not filters.include_demo):
            continue
        if filters.channels is not None and channel not in filters.channels:
            continue
        first = day - timedelta(days=day.weekday()) if unit == "week" else day.replace(day=1)
        by_bucket[first, site] = by_bucket.get((first, site), 0) + 1
        if filters.sites is None or site in filters.sites:
            per_day[day] = per_day.get(day, 0) + 1
            opened.setdefault((site, day.weekday()), set()).add(day)
            demo += bool(is_demo)
    found = day_figures(store, start, end, filters, unit)
    assert found.per_day == per_day
    assert found.opened == {key: len(days) for key, days in opened.items()}
    assert found.by_bucket == by_bucket
    assert found.demo == demo
    assert demo > 0 or not filters.include_demo  # the demo visits were there to count
    view = overview(store, flow.sites, start, end, datetime(2027, 1, 2, tzinfo=UTC), filters)
    assert view.trend == sorted((day.isoformat(), n) for day, n in per_day.items())
    assert view.demo_visits == demo
