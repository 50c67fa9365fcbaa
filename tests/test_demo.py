"""Demo history: deterministic, realistic in the ways it promises, marked, exact in the rollups."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from triage import demo
from triage.cli import main
from triage.db.store import Store
from triage.demo import DESK_SITES, DemoHistory
from triage.model import LOCAL_ZONE
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


# --- the queue in the demo -------------------------------------------------------------------


@pytest.fixture(scope="module")
def queues(flow):
    from triage.model import Report
    from triage.paths import default_data_dir
    from triage.queue_data import read_queues

    return read_queues(default_data_dir(), flow, Report())


# A history that ends today, a Friday at 13:30.
NOW = datetime(2026, 11, 20, 13, 30, tzinfo=LOCAL_ZONE)


def _queue_history(flow, queues, until: datetime | None = None) -> DemoHistory:
    """Four weeks at the default footfall: Skelbækgade still draws far above its target."""
    end = until.date() + timedelta(days=1) if until else END
    return DemoHistory(flow, 28, 7, 1500, end, until=until, queues=queues)


@pytest.fixture(scope="module")
def queued_store(flow, queues, tmp_path_factory):
    folder = tmp_path_factory.mktemp("queued")
    store = Store(folder / "demo.db", spool_dir=folder / "spool")
    store.open()
    store.load_demo(_queue_history(flow, queues))
    yield store
    store.dispose()


def _rows(store, sql: str) -> list[tuple]:
    from sqlalchemy import text

    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


TICKET_READ = (
    "SELECT site_id, local_date, local_hour, state, number, issued_utc, called_utc, done_utc, "
    "wait_s, service_s, clock_utc, errand, queue FROM visit_ticket"
)


def test_demo_writes_tickets_beside_the_visits_of_the_sites_with_queues(queued_store, flow):
    tickets = _rows(queued_store, TICKET_READ)
    visits = _rows(
        queued_store,
        "SELECT site_id, channel, handled_here, outcome_id, wait_s, service_s FROM visit",
    )
    assert {t[0] for t in tickets} == set(DESK_SITES)
    served = [t for t in tickets if t[3] == "served"]
    timed = [v for v in visits if v[5] is not None]
    # One served ticket per visit with queue times, with the same times, site and errand.
    assert len(served) == len(timed) > 1000
    assert Counter((t[0], t[11], t[8], t[9]) for t in served) == Counter(
        (v[0], v[3], v[4], v[5]) for v in timed
    )
    # Only citizens in person whose errand is handled at the site took a ticket.
    assert all(v[1] == "in_person" and v[2] for v in timed)
    assert any(v[1] == "in_person" and v[2] and v[5] is None for v in visits) is False
    # No-shows 3–5 %: waited, never served.
    no_shows = [t for t in tickets if t[3] == "no_show"]
    assert 0.03 <= len(no_shows) / len(tickets) <= 0.05
    assert all(t[9] is None and t[8] is not None for t in no_shows)
    # Past days: no numbers, no running clock; times to the minute, called after the wait.
    assert all(t[4] is None and t[10] is None for t in tickets)
    for t in tickets[::97]:
        issued, called, done = (datetime.fromisoformat(str(x)) for x in t[5:8])
        assert issued.second == called.second == done.second == 0
        assert called == (issued + timedelta(seconds=t[8])).replace(second=0)
        assert issued <= called <= done
        assert t[12] == "A"


def test_demo_service_times_spread_around_the_estimates_with_a_long_tail(queued_store, flow):
    times: dict[str, list[int]] = {}
    for site, service_s in _rows(
        queued_store, "SELECT site_id, service_s FROM visit WHERE service_s IS NOT NULL"
    ):
        times.setdefault(site, []).append(service_s)
    for site, found in times.items():
        found.sort()
        mean = sum(found) / len(found) / 60
        estimate = flow.sites[site].service_minutes
        assert 0.7 * estimate <= mean <= 1.4 * estimate, (site, mean, estimate)
        median, p95 = found[len(found) // 2], found[len(found) * 95 // 100]
        assert p95 > 2.5 * median and found[0] >= 0.2 * estimate * 60  # a tail, no zero


def test_demo_the_overloaded_site_waits_longest(queued_store, flow, queues):
    """By the data: the tickets per hour at each site's counters and its measured service
    time give each site's load in its busiest hour of the week; the site loaded beyond its
    counters waits longest, and every site waits longer in its busy hours than its quiet."""
    counters = _queue_history(flow, queues).counters()
    per_cell: dict[tuple, int] = {}
    days: dict[tuple, set] = {}
    waits: dict[str, list[int]] = {}
    by_hour: dict[tuple, list[int]] = {}
    service: dict[str, list[int]] = {}
    for site, day, hour, state, *_, wait_s, service_s, _, _, _ in _rows(queued_store, TICKET_READ):
        weekday = date.fromisoformat(str(day)).weekday()
        per_cell[(site, weekday, hour)] = per_cell.get((site, weekday, hour), 0) + 1
        days.setdefault((site, weekday), set()).add(day)
        waits.setdefault(site, []).append(wait_s)
        by_hour.setdefault((site, hour), []).append(wait_s)
        if state == "served":
            service.setdefault(site, []).append(service_s)
    load = {}
    for site in waits:
        minutes = sum(service[site]) / len(service[site]) / 60
        busiest = max(
            n / len(days[(s, weekday)]) for (s, weekday, _), n in per_cell.items() if s == site
        )
        load[site] = busiest * minutes / 60 / counters[site]  # ρ: 1 = the counters' all
    mean_wait = {site: sum(w) / len(w) for site, w in waits.items()}
    overloaded = max(load, key=load.get)
    assert load[overloaded] > 1 > min(load.values()), load
    assert max(mean_wait, key=mean_wait.get) == overloaded, (load, mean_wait)
    for site in waits:
        hours = {h: sum(w) / len(w) for (s, h), w in by_hour.items() if s == site}
        busy = max(hours, key=lambda h: sum(1 for _ in by_hour[(site, h)]))
        quiet = min(hours, key=lambda h: sum(1 for _ in by_hour[(site, h)]))
        assert hours[busy] > hours[quiet], (site, hours)


def test_demo_tickets_of_today_keep_their_numbers_and_none_is_done_after_now(
    flow, queues, tmp_path
):
    now = NOW
    store = Store(tmp_path / "demo.db", spool_dir=tmp_path / "spool")
    store.open()
    store.load_demo(_queue_history(flow, queues, until=now))
    tickets = _rows(store, TICKET_READ + " ORDER BY id")
    today = [t for t in tickets if str(t[1]) == now.date().isoformat()]
    assert today and all(t[4] is None for t in tickets if t not in today)
    for site in {t[0] for t in today}:
        mine = sorted((t for t in today if t[0] == site), key=lambda t: t[4])
        assert [t[4] for t in mine] == list(range(1, len(mine) + 1))
        issued = [str(t[5]) for t in mine]
        assert issued == sorted(issued)  # numbered in the order they were issued
    cutoff = now.astimezone(UTC).replace(tzinfo=None)
    assert all(datetime.fromisoformat(str(t[7])) < cutoff for t in tickets)
    store.dispose()


def test_demo_tickets_on_postgres_are_those_of_the_bulk_load(flow, queues, pg_url, tmp_path):
    from triage.db.bulk import insert_demo_tickets

    end = NOW.date() + timedelta(days=1)
    history = DemoHistory(flow, 10, 3, 800, end, until=NOW, queues=queues)
    sqlite_store = Store(tmp_path / "demo.db", spool_dir=tmp_path / "spool")
    sqlite_store.open()
    sqlite_store.load_demo(history)
    postgres = Store(pg_url, spool_dir=tmp_path / "spool-pg")
    postgres.open()
    postgres.insert_many(history.visits())
    assert insert_demo_tickets(postgres, history) > 100

    def read(store) -> list[tuple]:
        sql = TICKET_READ.replace("SELECT ", "SELECT id, ") + " ORDER BY id"
        read = [
            (r[1], str(r[2]), *r[3:6], *(str(x)[:16] for x in r[6:9]), *r[9:])
            for r in _rows(store, sql)
        ]
        return sorted(read, key=repr)

    assert read(postgres) == read(sqlite_store)
    timed = "SELECT visit_id, wait_s, service_s FROM visit ORDER BY visit_id"
    assert _rows(postgres, timed) == _rows(sqlite_store, timed)
    sqlite_store.dispose()
    postgres.dispose()
