"""Demo history: deterministic, realistic in the ways it promises, marked, exact in the rollups."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta

import pytest

from triage import demo
from triage.cli import main
from triage.db.store import Store
from triage.demo import DESK_SITES, DemoHistory
from triage.stats import footfall, summarize, visit_counts
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
    row = dict(zip(FIELDS, year[0], strict=True))
    assert row["demo"] is True and len(row["visit_id"]) == 32
    for values in year[::50]:
        visit = dict(zip(FIELDS, values, strict=True))
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
    stored = [
        tuple(str(r[f]) for f in ("visit_id", "local_date", "site_id", "outcome_id", "channel"))
        for r in store.visits()
    ]
    assert stored == [
        tuple(
            dict(zip(FIELDS, v, strict=True))[f]
            for f in ("visit_id", "local_date", "site_id", "outcome_id", "channel")
        )
        for v in year
    ]
    first = summarize(store, flow.sites, date(2025, 11, 23), date(2026, 2, 1))
    last = summarize(store, flow.sites, date(2026, 9, 1), END)
    share = lambda s: next(x.share for x in s.sites if x.site_id == "jc-skelbaek")  # noqa: E731
    assert share(first) > 0.5 > share(last) > 0.38  # Skelbækgade: far over its 40 % at first
    months = footfall(store, date(2025, 12, 1), END, "month")["jc-musvaage"]
    assert months["2026-07"] < 0.7 * months["2026-05"]  # the summer low

    def sick(a: date, b: date) -> float:
        return sum(
            n
            for (o,), n in visit_counts(store, a, b, ("outcome_id",)).items()
            if o.startswith("sick")
        ) / sum(visit_counts(store, a, b).values())

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
    assert (
        main(["demo", "--db", str(tmp_path / "demo.db"), "--days", "14", "--end", "2026-11-23"])
        == 0
    )
    assert "demobesøg over 14 dage" in capsys.readouterr().out
    assert (
        main(["demo", "--db", str(tmp_path / "demo.db"), "--days", "14", "--end", "2026-11-23"])
        == 1
    )
    assert "har allerede demobesøg" in capsys.readouterr().err


def test_demo_on_postgres_goes_through_the_portable_path(pg_url, tmp_path, flow, capsys):
    assert (
        main(["demo", "--db", pg_url, "--days", "7", "--per-day", "50", "--end", "2026-11-23"]) == 0
    )
    store = Store(pg_url, spool_dir=tmp_path / "spool")
    store.open()
    rows = store.visits()
    assert rows and all(r["demo"] for r in rows)
    assert sum(visit_counts(store, date(2026, 11, 1), date(2026, 12, 1)).values()) == len(rows)
    store.dispose()


ROLLUP_TABLES = (
    "visit_daily",
    "visit_hourly",
    "visit_route",
    "visit_day",
    "visit_month_hourly",
    "visit_month_route",
    "visit_postcode",
)


def _contents(db, table: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute(f"SELECT * FROM {table}").fetchall())


def test_bulk_load_counts_exactly_what_the_triggers_count(flow, tmp_path, monkeypatch):
    # 75 days over two month ends and the October clock change, in many small batches.
    monkeypatch.setattr(demo, "CHUNK", 3000)
    history = DemoHistory(flow, 75, 11, 400, date(2026, 11, 20))
    bulk = Store(tmp_path / "bulk.db", spool_dir=tmp_path / "spool")
    bulk.open()
    seen: list[int] = []
    loaded = bulk.load_demo(history, seen.append)
    assert (
        len(seen) > 1 and seen == sorted(seen) and seen[-1] == loaded
    )  # progress after each batch
    one_by_one = Store(tmp_path / "triggers.db", spool_dir=tmp_path / "spool2")
    one_by_one.open()
    assert one_by_one.insert_many(history.visits()) == loaded > 10_000
    for table in ROLLUP_TABLES:
        expected = _contents(tmp_path / "triggers.db", table)
        assert expected and _contents(tmp_path / "bulk.db", table) == expected, table
    assert [r["visit_id"] for r in bulk.visits()] == [r["visit_id"] for r in one_by_one.visits()]
    # The load put the database back in WAL, and the triggers count the next visit.
    with sqlite3.connect(tmp_path / "bulk.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert bulk.check()["integrity"] == "ok"
    before = sum(visit_counts(bulk, date(2026, 11, 1), date(2026, 12, 1)).values())
    from triage.visits import visit_from_result
    from triage.walk import route

    visit = visit_from_result(route(flow, ["1", "1"]), "jc-skelbaek", "d", "in_person", 1.0)
    bulk.record(visit)
    today = date.fromisoformat(str(bulk.visits()[-1]["local_date"]))
    assert sum(visit_counts(bulk, today, today + timedelta(days=1)).values()) >= 1
    assert sum(visit_counts(bulk, date(2026, 11, 1), date(2026, 12, 1)).values()) == before + (
        today.month == 11
    )


def test_a_failed_load_leaves_the_database_as_it_was(flow, tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "CHUNK", 3000)
    history = DemoHistory(flow, 60, 3, 400, END)
    made = history.write_batches

    def failing(*args, **kwargs):
        for number, item in enumerate(made(*args, **kwargs)):
            if number == 2:
                raise OSError(28, "No space left on device")
            yield item

    history.write_batches = failing
    store = Store(tmp_path / "demo.db", spool_dir=tmp_path / "spool")
    store.open()
    with pytest.raises(OSError):
        store.load_demo(history)
    assert store.is_empty()
    for table in ROLLUP_TABLES:
        assert _contents(tmp_path / "demo.db", table) == [], table
    assert store.check()["integrity"] == "ok"
    history.write_batches = made  # and it loads fine afterwards
    assert store.load_demo(history) == sum(visit_counts(store, date(2020, 1, 1), END).values()) > 0


def test_demo_command_on_a_locked_database_says_so_and_keeps_nothing(tmp_path, capsys):
    db = tmp_path / "demo.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    store.dispose()
    other = sqlite3.connect(db, isolation_level=None)  # another program in the middle of a write
    other.execute("BEGIN IMMEDIATE")
    try:
        assert main(["demo", "--db", str(db), "--days", "30", "--end", "2026-11-23"]) == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    err = capsys.readouterr().err
    assert "kunne ikke skrives" in err and "locked" in err and "Intet er gemt" in err
    assert store.is_empty() and store.check()["integrity"] == "ok"
    assert main(["demo", "--db", str(db), "--days", "30", "--end", "2026-11-23"]) == 0


def test_demo_loads_beside_a_program_that_has_the_database_open(flow, tmp_path):
    db = tmp_path / "demo.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    desk = sqlite3.connect(db, isolation_level=None)  # e.g. a supervisor's screen, reading
    try:
        assert desk.execute("SELECT COUNT(*) FROM visit").fetchone() == (0,)
        loaded = store.load_demo(DemoHistory(flow, 30, 5, 300, END))  # stays in WAL, no error
        assert desk.execute("SELECT COUNT(*) FROM visit").fetchone() == (loaded,)
        assert desk.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        desk.close()
    assert sum(visit_counts(store, date(2020, 1, 1), END).values()) == loaded > 0
