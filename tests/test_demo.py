"""Demo history: deterministic, realistic in the ways it promises, marked, and exact in the rollups."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from triage.cli import main
from triage.demo import DESK_SITES, DemoHistory
from triage.stats import footfall, summarize, visit_counts
from triage.store import Store
from triage.visits import FIELDS

END = date(2026, 11, 23)


@pytest.fixture(scope="module")
def year(flow):
    return list(DemoHistory(flow, 365, 7, 300, END).rows())


def test_same_seed_same_visits(flow, year):
    again = list(DemoHistory(flow, 365, 7, 300, END).rows())
    assert again == year
    other = list(DemoHistory(flow, 365, 8, 300, END).rows())
    assert other != year


def test_rows_are_demo_and_inside_opening_hours(flow, year):
    row = dict(zip(FIELDS, year[0]))
    assert row["demo"] is True and len(row["visit_id"]) == 32
    for values in year[::50]:
        visit = dict(zip(FIELDS, values))
        day = date.fromisoformat(visit["local_date"])
        minute = int(visit["at_utc"][14:16])
        moment = datetime(2000, 1, 1, visit["local_hour"], minute).time()
        windows = flow.sites[visit["site_id"]].windows_on(day)
        assert any(a <= moment < b for a, b in windows), visit
        assert visit["site_id"] in DESK_SITES and visit["outcome_id"] in flow.outcomes
    assert len({v[0] for v in year}) == len(year)  # ids unique


def test_the_story_it_tells(flow, year, tmp_path):
    store = Store(tmp_path / "demo.db", spool_dir=tmp_path / "spool")
    store.open()
    assert store.load_demo(DemoHistory(flow, 365, 7, 300, END)) == len(year)
    # The bulk path writes exactly the visits the portable path yields.
    stored = [tuple(str(r[f]) for f in ("visit_id", "local_date", "site_id", "outcome_id", "channel"))
              for r in store.visits()]
    assert stored == [tuple(dict(zip(FIELDS, v))[f] for f in ("visit_id", "local_date", "site_id",
                                                              "outcome_id", "channel")) for v in year]
    first = summarize(store, flow.sites, date(2025, 11, 23), date(2026, 2, 1))
    last = summarize(store, flow.sites, date(2026, 9, 1), END)
    share = lambda s: next(x.share for x in s.sites if x.site_id == "jc-skelbaek")  # noqa: E731
    assert share(first) > 0.5 > share(last) > 0.38  # Skelbækgade: far over its 40 % at first
    months = footfall(store, date(2025, 12, 1), END, "month")["jc-musvaage"]
    assert months["2026-07"] < 0.7 * months["2026-05"]  # the summer low
    sick = lambda a, b: sum(n for (o,), n in visit_counts(store, a, b, ("outcome_id",)).items()  # noqa: E731
                            if o.startswith("sick")) / sum(visit_counts(store, a, b).values())
    assert sick(date(2026, 9, 1), END) > sick(date(2025, 11, 23), date(2026, 2, 1))  # growing
    assert sum(visit_counts(store, date(2020, 1, 1), date(2030, 1, 1)).values()) == len(year)


def test_demo_command_refuses_a_database_with_real_visits(tmp_path, capsys, flow):
    from triage.visits import visit_from_result
    from triage.walk import route

    db = tmp_path / "real.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    store.record(visit_from_result(route(flow, ["1", "1"]), "jc-skelbaek", "d", "in_person", 1.0))
    store.dispose()
    assert main(["demo", "--db", str(db), "--days", "5"]) == 1
    assert "har rigtige besøg" in capsys.readouterr().err
    assert main(["demo", "--db", str(tmp_path / "demo.db"), "--days", "14", "--end", "2026-11-23"]) == 0
    assert "demobesøg over 14 dage" in capsys.readouterr().out
    assert main(["demo", "--db", str(tmp_path / "demo.db"), "--days", "14", "--end", "2026-11-23"]) == 1
    assert "har allerede demobesøg" in capsys.readouterr().err


def test_demo_on_postgres_goes_through_the_portable_path(pg_url, tmp_path, flow, capsys):
    assert main(["demo", "--db", pg_url, "--days", "7", "--per-day", "50", "--end", "2026-11-23"]) == 0
    store = Store(pg_url, spool_dir=tmp_path / "spool")
    store.open()
    rows = store.visits()
    assert rows and all(r["demo"] for r in rows)
    assert sum(visit_counts(store, date(2026, 11, 1), date(2026, 12, 1)).values()) == len(rows)
    store.dispose()
