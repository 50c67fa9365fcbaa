"""Demo history: deterministic, realistic in the ways it promises, marked, exact in the rollups."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from triage import demo
from triage.cli import main
from triage.db.store import Store
from triage.demo import DESK_SITES, DemoHistory
from triage.stats import footfall, summarize, visit_counts
from triage.visits import FIELDS, QUEUE_FIELDS

END = date(2026, 11, 23)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def year(flow):
    return list(DemoHistory(flow, 365, 7, 300, END).rows())


def test_same_seed_same_visits(flow, year):
    again = list(DemoHistory(flow, 365, 7, 300, END).rows())
    assert again == year
    other = list(DemoHistory(flow, 365, 8, 300, END).rows())
    assert other != year


def test_rows_are_demo_and_inside_opening_hours(flow, year):
    row = dict(zip(FIELDS + QUEUE_FIELDS, year[0], strict=True))
    assert row["demo"] is True and len(row["visit_id"]) == 32
    for values in year[::50]:
        visit = dict(zip(FIELDS + QUEUE_FIELDS, values, strict=True))
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
            dict(zip(FIELDS + QUEUE_FIELDS, v, strict=True))[f]
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
    assert "et andet program skriver" in err and "Frigør plads" not in err  # advice that fits
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


def test_the_history_ends_today_with_the_minutes_gone_by(flow, tmp_path, capsys, monkeypatch):
    """`triage demo` without --end: the history takes in today up to now, so the overview's
    "I dag" and "Denne uge" show visits; none lies in the future."""
    from triage import present
    from triage.model import LOCAL_ZONE

    now = datetime(2026, 11, 25, 10, 30, tzinfo=LOCAL_ZONE)  # a Wednesday morning
    monkeypatch.setattr(present, "local_now", lambda: now)
    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db), "--days", "14"]) == 0
    capsys.readouterr()
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    today = now.date()
    monday = today - timedelta(days=today.weekday())
    assert sum(visit_counts(store, today, today + timedelta(days=1)).values()) > 0
    assert sum(visit_counts(store, monday, today).values()) > 0
    latest = max(str(r["at_utc"]) for r in store.visits())
    assert latest < now.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert latest >= now.astimezone(UTC).strftime("%Y-%m-%d %H:00")  # this hour's first minutes
    first = min(str(r["local_date"]) for r in store.visits())
    assert first >= str(today - timedelta(days=13))  # 14 days, today the last of them
    store.dispose()


def test_weeks_days_and_durations_vary_as_real_ones_do(flow, year):
    """No two weeks alike: ordinary weeks (no holiday, no summer) differ by more than rounding
    would make them, the same weekday differs from week to week, and the time at the desk
    spreads from under a minute to several."""
    visits = [dict(zip(FIELDS + QUEUE_FIELDS, v, strict=True)) for v in year]
    weeks: dict[tuple[int, int], int] = {}
    days: dict[tuple[int, int], set] = {}
    mondays: dict[str, int] = {}
    for v in visits:
        day = date.fromisoformat(v["local_date"])
        if day.month in (3, 4, 5, 9, 10):  # months with no season in the history
            week = day.isocalendar()[:2]
            weeks[week] = weeks.get(week, 0) + 1
            days.setdefault(week, set()).add(day)
            if day.weekday() == 0:
                mondays[v["local_date"]] = mondays.get(v["local_date"], 0) + 1
    full = sorted(n for week, n in weeks.items() if len(days[week]) == 5)  # whole weeks
    assert len(full) > 10 and full[-1] / full[0] > 1.15, full
    assert max(mondays.values()) / min(mondays.values()) > 1.15, mondays
    seconds = sorted(v["duration_s"] for v in visits)
    median, top = seconds[len(seconds) // 2], seconds[len(seconds) * 9 // 10]
    assert 20 <= seconds[0] < median < top <= 600 and top > 1.5 * median
    assert len(set(seconds)) > 60  # whole seconds, from 26 to over 4 minutes


def demo_command(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "triage", "demo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare for a small disk")
def test_demo_on_a_full_disk_says_the_disk_is_full(tmp_path):
    """A real full disk: a 400 kB tmpfs under tmp_path, mounted in a mount namespace of the
    command's own (gone when it ends)."""
    small = tmp_path / "small"
    small.mkdir()
    command = (
        f"mount -t tmpfs -o size=400k none {small} && exec {sys.executable} -m triage demo "
        f"--db {small / 'demo.db'} --days 60 --end 2026-11-23"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if "mount" in done.stderr and "permission" in done.stderr.lower():
        pytest.skip("no right to mount a small disk here")
    assert done.returncode == 1, done.stderr
    assert "fordi disken er fuld" in done.stderr and "Frigør plads på disken" in done.stderr
    assert "andre skriver" not in done.stderr and "Traceback" not in done.stderr


def test_demo_in_a_read_only_folder_says_so(tmp_path):
    """A folder the user may not write in (root's own right to write anywhere is taken from
    the command, so the folder's mode counts as for anyone else)."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("root without setpriv writes anywhere")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    for existing in (False, True):
        if existing:  # an empty database there already, made while it could be written
            folder.chmod(0o755)
            store = Store(folder / "demo.db", spool_dir=tmp_path / "spool")
            store.open()
            store.dispose()
        folder.chmod(0o555)
        try:
            done = subprocess.run(
                [*prefix, sys.executable, "-m", "triage", "demo", "--db", "demo.db"]
                + ["--days", "10", "--end", "2026-11-23"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        finally:
            folder.chmod(0o755)
        assert done.returncode == 1, done.stderr
        assert "kan kun læses" in done.stderr and "--db" in done.stderr, done.stderr
        assert "Frigør plads" not in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["demo.db"]
