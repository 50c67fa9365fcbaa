"""Footfall on a large demo history: load rate, and the supervisor's views beside raw SQL.

    python benchmarks/footfall.py [--visits 5000000] [--db PATH] [--runs 5] [--reuse]

1. Loads demo history (about --visits visits over ten years) into a fresh SQLite file and
   reports visits/s and the process's peak RSS (goal: ≥ 200,000/s, memory flat). Beside it,
   the floor on this machine: the loaded visit rows, already made, copied into an empty visit
   table with its indexes in a fresh file (one statement, no rollups): no loader that writes
   the visit table can be faster than that. And the floor with the rollups: the same visit
   rows and every rollup's rows, already made, copied the same way in one transaction: the
   least a loader that keeps the rollups must write, so the best ratio to the floor any
   loader of this schema can reach.
2. Times, in the same run, median of --runs:
   - the supervisor's one-year overview and today's overview (triage.overview.overview);
   - (a) the plainest raw GROUP BY over the visit table (site × hour of day, one year);
   - (b) a hand-written raw query over the hourly per-site rollup (site × hour, one year).
   Goals: each view within 2× of (b) and at least 20× faster than (a).
   Each is timed on the wall clock and in this process's CPU time: on a machine shared with
   other work, the CPU time is the steadier measure (a view of a few ms is often paused).
With --reuse and an existing --db, the history loaded before is timed again (no 1.).
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage import paths  # noqa: E402
from triage.db.rollups import EVERY_ROLLUP  # noqa: E402
from triage.db.store import Store  # noqa: E402
from triage.demo import DemoHistory  # noqa: E402
from triage.load import load_or_raise  # noqa: E402
from triage.model import LOCAL_ZONE  # noqa: E402
from triage.overview import overview, period_dates  # noqa: E402

END = date(2026, 11, 23)
NOW = datetime.combine(END, clock(11, 30), LOCAL_ZONE)
DAYS = 3650


def timed(fn, runs: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of `runs` calls."""
    walls, cpus = [], []
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def floor(loaded: Path, with_rollups: bool = False) -> tuple[int, float]:
    """Copy the visit rows of `loaded` into the visit table of a new, empty store file, in one
    transaction with the same rollback journal the demo load uses, triggers removed; returns
    (rows, seconds). The rows are read once beforehand so the disk cache holds them.
    `with_rollups`: every rollup's rows too, in the same transaction, row by row in key order
    (an ORDER BY keeps SQLite from copying whole pages, which no loader making counts can)."""
    target = loaded.parent / "floor.db"
    for old in loaded.parent.glob("floor.db*"):
        old.unlink()
    empty = Store(target, spool_dir=loaded.parent / "spool")
    empty.open()
    empty.engine.dispose()
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = TRUNCATE")
        conn.execute("DROP TRIGGER visit_rollup_insert")
        conn.execute("ATTACH ? AS loaded", (str(loaded),))
        columns = ", ".join(
            r[1] for r in conn.execute("PRAGMA main.table_info(visit)") if r[1] != "id"
        )
        conn.execute(
            "SELECT MAX(LENGTH(path)) FROM loaded.visit"
        ).fetchone()  # warms the disk cache
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        copied = conn.execute(
            f"INSERT INTO visit ({columns}) SELECT {columns} FROM loaded.visit ORDER BY id"
        ).rowcount
        for table, keys in EVERY_ROLLUP if with_rollups else ():
            names = ", ".join(r[1] for r in conn.execute(f"PRAGMA main.table_info({table})"))
            conn.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM loaded.{table} "
                f"ORDER BY {', '.join(keys)}"
            )
        conn.execute("COMMIT")
        return copied, time.perf_counter() - start
    finally:
        conn.close()
        for old in loaded.parent.glob("floor.db*"):
            old.unlink()


def load(db: Path, flow, visits: int) -> Store:
    """A fresh file at `db` with about `visits` demo visits; prints the load rate and floor."""
    for old in db.parent.glob(db.name + "*"):  # with its -wal and -shm
        old.unlink()
    store = Store(db, spool_dir=db.parent / "spool")
    store.open()

    # About 0.54 ordinary-Tuesday-equivalents per calendar day once weekends, seasons and
    # opening hours are counted (measured on the demo history itself).
    per_day = max(1, round(visits / (DAYS * 0.54)))
    history = DemoHistory(flow, DAYS, 2006, per_day, END)
    start = time.perf_counter()
    loaded = store.load_demo(history)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"demo load: {loaded:,} visits in {seconds:.1f} s = {loaded / seconds:,.0f} visits/s "
        f"(goal ≥ 200,000/s); peak RSS {peak:.0f} MiB; file {db.stat().st_size / 2**20:.0f} MiB"
    )

    copied, copy_seconds = floor(db)
    print(
        f"floor: the same {copied:,} visit rows, already made, copied into an empty visit table: "
        f"{copy_seconds:.1f} s = {copied / copy_seconds:,.0f} visits/s"
    )
    _, least_seconds = floor(db, with_rollups=True)
    print(
        f"floor with the rollups: the visit rows and every rollup's rows, already made, copied: "
        f"{least_seconds:.1f} s, so no loader of this schema gets past "
        f"{copy_seconds / least_seconds:.2f}× the floor"
    )
    print(f"demo load: {copy_seconds / seconds:.2f}× the floor (goal ≥ 0.8×)")
    return store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=5_000_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="time the history in --db again")
    args = parser.parse_args()
    flow = load_or_raise(paths.default_data_dir())
    db = args.db or Path(tempfile.mkdtemp(prefix="triage-footfall-")) / "demo.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    if args.reuse and db.exists():
        store = Store(db, spool_dir=db.parent / "spool")
        store.open()
    else:
        store = load(db, flow, args.visits)
    year = (date(END.year, 1, 1), END)
    raw = sqlite3.connect(db)
    plain_sql = (
        "SELECT site_id, local_hour, COUNT(*) FROM visit WHERE local_date >= ? AND local_date < ? "
        "AND voided_utc IS NULL GROUP BY site_id, local_hour"
    )
    rollup_sql = (
        "SELECT site_id, local_hour, SUM(visits) FROM visit_hourly WHERE local_date >= ? "
        "AND local_date < ? GROUP BY site_id, local_hour"
    )
    bounds = (year[0].isoformat(), year[1].isoformat())
    assert sorted(raw.execute(plain_sql, bounds).fetchall()) == sorted(
        raw.execute(rollup_sql, bounds).fetchall()
    )
    plain, plain_cpu = timed(lambda: raw.execute(plain_sql, bounds).fetchall(), args.runs)
    rolled, rolled_cpu = timed(lambda: raw.execute(rollup_sql, bounds).fetchall(), args.runs)
    year_view = timed(lambda: overview(store, flow.sites, *year, NOW), args.runs)
    today = period_dates("today", END)
    today_view = timed(lambda: overview(store, flow.sites, *today, NOW), args.runs)
    print(f"(a) plain GROUP BY over visit, one year: {plain * 1000:.1f} ms (CPU {plain_cpu:.3f} s)")
    print(
        f"(b) raw query over the hourly rollup, one year: {rolled * 1000:.1f} ms "
        f"(CPU {rolled_cpu * 1000:.2f})"
    )
    for name, (value, cpu) in (("one-year overview", year_view), ("today's overview", today_view)):
        print(
            f"{name}: {value * 1000:.1f} ms = {value / rolled:.1f}× (b) (goal ≤ 2×), "
            f"{plain / value:.0f}× faster than (a) (goal ≥ 20×); CPU {cpu * 1000:.2f} ms = "
            f"{cpu / rolled_cpu:.2f}× (b)'s CPU"
        )


if __name__ == "__main__":
    main()
