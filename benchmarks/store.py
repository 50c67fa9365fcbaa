"""Visit store: commit latency, 8 desks at once, bulk load — each beside the raw driver, same run.

The raw side writes a copy of the visit table without the rollup triggers (the driver's plain
floor); the store's side pays for keeping every rollup exact in the same transaction.

    python benchmarks/store.py [--commits 2000] [--pause 0] [--no-postgres]

--pause MS waits that long after each SQLite commit, as a desk does between visits (the
store's checkpoint thread works in such pauses); 0 writes back to back.

SQLite runs in WAL mode at the store's synchronous level (FULL) for both the store and the raw
sqlite3 module. PostgreSQL (a throwaway local cluster, fsync on) is compared with raw psycopg.
Goals: store p99 ≤ 2× raw p99 (single desk); 8 desks: 0 errors, 0 lost, worst wait ≤ 1.5× raw.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage import paths  # noqa: E402
from triage.db.connect import SQLITE_SYNCHRONOUS  # noqa: E402
from triage.db.store import Store, _row  # noqa: E402
from triage.load import load_or_raise  # noqa: E402
from triage.visits import FIELDS, visit_from_result  # noqa: E402
from triage.walk import route  # noqa: E402

FLOW = load_or_raise(paths.default_data_dir())
RESULT = route(FLOW, ["2", "1", "2100"])
COLUMNS = ", ".join(FIELDS)
PLACEHOLDERS = ", ".join("?" for _ in FIELDS)


def visit() -> dict:
    return visit_from_result(RESULT, "jc-skelbaek", "bench", "in_person", 1.0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


RAW_TABLE = "visit_raw"  # the same columns, no rollup triggers: the driver's plain floor


def make_raw_table(conn, dialect: str = "sqlite") -> None:
    if dialect == "postgresql":
        conn.execute(f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} (LIKE visit INCLUDING DEFAULTS)")
    else:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} AS SELECT * FROM visit WHERE 0")
    conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS ix_{RAW_TABLE}_id ON {RAW_TABLE} (visit_id)")


def raw_sqlite_row(v: dict) -> tuple:
    row = _row(v)
    row["at_utc"] = row["at_utc"].isoformat(sep=" ")
    row["local_date"] = row["local_date"].isoformat()
    return tuple(row[f] for f in FIELDS)


def time_store(
    store: Store, n: int, cpu: list[float] | None = None, pause: float = 0.0
) -> list[float]:
    """Wall-clock seconds of `n` commits; their CPU seconds (this process's) into `cpu`."""
    times = []
    for _ in range(n):
        if pause:
            time.sleep(pause)
        v = visit()
        start, started = time.perf_counter(), time.process_time()
        assert store.record(v) == "saved"
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(time.process_time() - started)
    return times


def time_raw_sqlite(
    path: Path, n: int, cpu: list[float] | None = None, pause: float = 0.0
) -> list[float]:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    conn.execute("PRAGMA busy_timeout=5000")
    make_raw_table(conn)
    sql = (
        f"INSERT INTO {RAW_TABLE} ({COLUMNS}) VALUES ({PLACEHOLDERS}) "
        "ON CONFLICT(visit_id) DO NOTHING"
    )
    times = []
    for _ in range(n):
        if pause:
            time.sleep(pause)
        row = raw_sqlite_row(visit())
        start, started = time.perf_counter(), time.process_time()
        conn.execute(sql, row)
        conn.commit()
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(time.process_time() - started)
    conn.close()
    return times


def time_raw_postgres(dsn: str, n: int, cpu: list[float] | None = None) -> list[float]:
    import psycopg

    sql = (
        f"INSERT INTO {RAW_TABLE} ({COLUMNS}) VALUES ({', '.join('%s' for _ in FIELDS)}) "
        "ON CONFLICT (visit_id) DO NOTHING"
    )
    times = []
    with psycopg.connect(dsn) as conn:
        make_raw_table(conn, "postgresql")
        conn.commit()
        for _ in range(n):
            row = _row(visit())
            values = tuple(row[f] for f in FIELDS)
            start, started = time.perf_counter(), time.process_time()
            conn.execute(sql, values)
            conn.commit()
            times.append(time.perf_counter() - start)
            if cpu is not None:
                cpu.append(time.process_time() - started)
    return times


def report(
    label: str,
    store_times: list[float],
    raw_times: list[float],
    cpu: tuple[list[float], list[float]] | None = None,
) -> None:
    """The wall-clock figures; with `cpu` (the store's and the raw side's), the median CPU
    time of a commit in this process too: steadier than the clock on a shared machine (on
    PostgreSQL only the client's part, the server's work is another process's)."""
    ms = 1000
    print(
        f"{label}: store p50 {pct(store_times, 0.5) * ms:.3f} ms, "
        f"p99 {pct(store_times, 0.99) * ms:.3f} ms"
        f" | raw p50 {pct(raw_times, 0.5) * ms:.3f} ms, p99 {pct(raw_times, 0.99) * ms:.3f} ms"
        f" | p99 ratio {pct(store_times, 0.99) / pct(raw_times, 0.99):.2f}× (goal ≤ 2×)"
        f", p50 ratio {pct(store_times, 0.5) / pct(raw_times, 0.5):.2f}×"
    )
    print(
        f"  p99.9 / max: store {pct(store_times, 0.999) * ms:.3f} / {max(store_times) * ms:.3f} ms"
        f" | raw {pct(raw_times, 0.999) * ms:.3f} / {max(raw_times) * ms:.3f} ms"
    )
    if cpu:
        ours, raw = (pct(times, 0.5) * ms for times in cpu)
        print(
            f"  CPU per commit, median: store {ours:.3f} ms | raw {raw:.3f} ms | {ours / raw:.2f}×"
        )


def wal_pages(path: Path, commit, n: int = 50) -> float:
    """Pages a commit appends to the WAL of the SQLite file at `path`, mean of `n` commits:
    a figure the machine's other work does not move (each rollup a commit changes is a page
    or more written now, and copied into the database at the next checkpoint)."""
    import sqlite3

    wal = Path(f"{path}-wal")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        before = wal.stat().st_size
        for _ in range(n):
            commit()
        # Frames of 24 bytes' header and a page; 50 commits stay below the automatic
        # checkpoint (raw: 1,000 pages; the store's: 4,000), which would restart the log.
        frames = (wal.stat().st_size - before) / (page + 24)
    return frames / n


CONCURRENT = r"""
import json, sqlite3, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[5])
kind, db, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
from benchmarks.store import raw_sqlite_row, visit, COLUMNS, PLACEHOLDERS
from triage.db.connect import SQLITE_SYNCHRONOUS
from triage.db.store import Store
if kind == "store":
    store = Store(db, desk="bench", spool_dir=Path(db).parent / "spool"); store.open()
else:
    conn = sqlite3.connect(db, timeout=5); conn.execute("PRAGMA busy_timeout=5000")
    conn.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    sql = f"INSERT INTO visit_raw ({COLUMNS}) VALUES ({PLACEHOLDERS})"
rows = [visit() for _ in range(count)]
while not go.exists():
    time.sleep(0.0005)
waits, errors, spooled = [], 0, 0
for v in rows:
    start = time.perf_counter()
    try:
        if kind == "store":
            spooled += store.record(v) == "spooled"
        else:
            conn.execute(sql, raw_sqlite_row(v)); conn.commit()
    except Exception:
        errors += 1
    waits.append(time.perf_counter() - start)
print(json.dumps({"worst": max(waits), "errors": errors, "spooled": spooled}))
"""


def concurrent(kind: str, workdir: Path, desks: int = 8, count: int = 500) -> dict:
    import sqlite3

    db = workdir / f"{kind}-concurrent.db"
    Store(db, spool_dir=workdir / "spool").open()
    with sqlite3.connect(db) as setup:
        make_raw_table(setup)
    go = workdir / f"{kind}-go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, kind, str(db), str(count), str(go), str(ROOT)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(desks)
    ]
    time.sleep(1.5)
    start = time.perf_counter()
    go.touch()
    results = [json.loads(p.communicate()[0]) for p in procs]
    elapsed = time.perf_counter() - start
    with sqlite3.connect(db) as conn:
        table = "visit" if kind == "store" else RAW_TABLE
        present = conn.execute(f"SELECT count(DISTINCT visit_id) FROM {table}").fetchone()[0]
    return {
        "per_s": desks * count / elapsed,
        "worst": max(r["worst"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "spooled": sum(r["spooled"] for r in results),
        "lost": desks * count - present,
    }


def bulk(workdir: Path, n: int) -> tuple[float, float]:
    import sqlite3

    store = Store(workdir / "bulk-store.db", spool_dir=workdir / "spool")
    store.open()
    start = time.perf_counter()
    store.insert_many(visit() for _ in range(n))
    store_rate = n / (time.perf_counter() - start)
    Store(workdir / "bulk-raw.db", spool_dir=workdir / "spool").open()
    conn = sqlite3.connect(workdir / "bulk-raw.db")
    make_raw_table(conn)
    start = time.perf_counter()
    conn.executemany(
        f"INSERT INTO {RAW_TABLE} ({COLUMNS}) VALUES ({PLACEHOLDERS})",
        (raw_sqlite_row(visit()) for _ in range(n)),
    )
    conn.commit()
    raw_rate = n / (time.perf_counter() - start)
    return store_rate, raw_rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--pause", type=float, default=0.0, help="ms after each SQLite commit")
    parser.add_argument("--bulk", type=int, default=200000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="triage-bench-"))

    store = Store(workdir / "single.db", desk="bench", spool_dir=workdir / "spool")
    store.open()
    time_store(store, 50)  # warm up
    cpu: tuple[list[float], list[float]] = ([], [])
    single = workdir / "single.db"
    pause = args.pause / 1000
    store_times = time_store(store, args.commits, cpu[0], pause)
    # The log file is not shortened after a checkpoint: its size is the most it held.
    store_log = Path(f"{single}-wal").stat().st_size
    time.sleep(1.5)  # the store's thread checkpoints once it is idle: not during raw's turn
    report(
        f"SQLite WAL synchronous={SQLITE_SYNCHRONOUS}, {args.commits} commits"
        + (f", {args.pause:g} ms apart" if args.pause else ""),
        store_times,
        time_raw_sqlite(single, args.commits, cpu[1], pause),
        cpu,
    )
    checkpointer = getattr(store, "checkpointer", None)  # None: the code before it
    print(
        f"  the store's log at most {store_log / 2**20:.1f} MiB; checkpoints by its thread: "
        f"{checkpointer.checkpoints if checkpointer else 'none (no thread)'}"
    )
    store_pages = wal_pages(single, lambda: store.record(visit()))
    raw_pages = wal_pages(single, lambda: time_raw_sqlite(single, 1))
    print(
        f"SQLite WAL pages per commit (mean of 50): store {store_pages:.1f} | raw {raw_pages:.1f}"
    )

    if not args.no_postgres:
        from tests.postgres import ThrowawayPostgres, server_bin

        bin_dir = server_bin()
        if bin_dir is None:
            print("PostgreSQL: not installed here, skipped")
        else:
            server = ThrowawayPostgres(bin_dir, fsync=True)
            server.init()
            server.start()
            try:
                url = server.create_database("bench")
                pg = Store(url, desk="bench", spool_dir=workdir / "spool-pg")
                pg.open()
                time_store(pg, 50)
                dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname=bench"
                pg_cpu: tuple[list[float], list[float]] = ([], [])
                report(
                    f"PostgreSQL (local, fsync on), {args.commits} commits",
                    time_store(pg, args.commits, pg_cpu[0]),
                    time_raw_postgres(dsn, args.commits, pg_cpu[1]),
                    pg_cpu,
                )
                pg.dispose()
            finally:
                server.cleanup()

    ours, raw = concurrent("store", workdir), concurrent("raw", workdir)
    print(
        f"8 desk processes × 500 visits, SQLite: store {ours['per_s']:.0f} visits/s, "
        f"{ours['errors']} errors, {ours['lost']} lost, {ours['spooled']} spooled, worst wait "
        f"{ours['worst'] * 1000:.0f} ms | raw {raw['per_s']:.0f}/s, {raw['errors']} errors, "
        f"worst {raw['worst'] * 1000:.0f} ms | "
        f"worst ratio {ours['worst'] / raw['worst']:.2f}× (goal ≤ 1.5×)"
    )

    store_rate, raw_rate = bulk(workdir, args.bulk)
    print(
        f"bulk load {args.bulk} visits, SQLite: store {store_rate:,.0f}/s | raw executemany "
        f"{raw_rate:,.0f}/s | {store_rate / raw_rate:.2f}×"
    )


if __name__ == "__main__":
    main()
