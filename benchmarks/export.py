"""Visit-level CSV export beside the sqlite3 command-line tool's own CSV export of the same rows.

    python benchmarks/export.py [--visits 5000000] [--db PATH] [--runs 3]

Loads (or reuses, with --db) a demo history, then times, median of --runs, each as its own
process so its peak memory can be read on its own:
- `triage export --visits --format csv` over every visit;
- `sqlite3 -csv -header` with the plain SELECT of the same columns and rows (what a person
  would type), and with triage's own query (the same formula-safe text) for reference.
Goal: at most 1.5× the sqlite3 tool's time, memory flat (it streams): peak RSS is also shown
for a tenth of the rows. Beside the wall clock, each command's CPU time (user + system, its
helper process included): on a machine shared with other work, the steadier measure of the
work done (a large export splits its rows between two processes, so on two free cores its
wall clock is about half its CPU time).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage import paths  # noqa: E402
from triage.db.store import Store  # noqa: E402
from triage.demo import DemoHistory  # noqa: E402
from triage.export import Options, visits_sql  # noqa: E402
from triage.load import load_or_raise  # noqa: E402

END = date(2026, 11, 23)
DAYS = 3650
PLAIN = (
    "SELECT visit_id, at_utc, local_date, local_hour, local_weekday, site_id, desk, channel, "
    "outcome_id, destination_id, destinations, handled_here, postcode, postcode_site_id, "
    "flow_version, duration_s, demo FROM visit WHERE voided_utc IS NULL"
)


def run(command: list[str], out: Path | None = None) -> tuple[float, float, float]:
    """Seconds, peak RSS (MiB) and CPU seconds of one process (with the children it waited
    for). GNU time reads them: a child forked from this (large) Python would report this
    process's memory as its own."""
    start = time.perf_counter()
    report = Path(tempfile.mktemp(suffix=".rss"))
    with open(out, "wb") if out else open(os.devnull, "wb") as sink:
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%U %S %M", "-o", str(report), *command],
            stdout=sink,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed: {done.stderr.decode()}")
    user, system, peak_kib = report.read_text().split()[-3:]
    report.unlink()
    return seconds, int(peak_kib) / 1024, float(user) + float(system)


def lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=5_000_000)
    parser.add_argument(
        "--db", type=Path, default=None, help="reuse this demo database if it exists"
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("sqlite3") is None or not Path("/usr/bin/time").exists():
        raise SystemExit(
            "needs the sqlite3 command-line tool and GNU time (apt-get install sqlite3 time)"
        )
    work = Path(tempfile.mkdtemp(prefix="triage-export-"))
    db = args.db or work / "demo.db"
    store = Store(db, spool_dir=work / "spool")
    store.open()
    if store.is_empty():  # (check() would compare every rollup with 5 M visits: minutes)
        flow = load_or_raise(paths.default_data_dir())
        per_day = max(1, round(args.visits / (DAYS * 0.54)))
        store.load_demo(DemoHistory(flow, DAYS, 2006, per_day, END))
    with store.engine.connect() as conn:
        total = conn.exec_driver_sql("SELECT COUNT(*) FROM visit WHERE voided_utc IS NULL").scalar()
    store.dispose()

    everything = Options(start=date(1900, 1, 1), end=date(2100, 1, 1))
    ours_sql, params = visits_sql(everything, False, "text")
    for name, value in sorted(params.items(), key=lambda item: -len(item[0])):  # :f1 after :f10…
        literal = "'" + str(value).replace("'", "''") + "'"
        ours_sql = ours_sql.replace(f":{name}", literal)

    triage = [
        sys.executable,
        "-m",
        "triage",
        "export",
        "--db",
        str(db),
        "--visits",
        "--format",
        "csv",
        "--from",
        "1900-01-01",
        "--to",
        "2099-12-31",
        "--out",
        str(work / "triage.csv"),
    ]
    results = {}
    for name, command, out in (
        ("triage export", triage, None),
        (
            "sqlite3 plain SELECT",
            ["sqlite3", "-csv", "-header", str(db), PLAIN],
            work / "plain.csv",
        ),
        (
            "sqlite3 triage's query",
            ["sqlite3", "-csv", "-header", str(db), ours_sql],
            work / "same.csv",
        ),
    ):
        timings = [run(command, out) for _ in range(args.runs)]
        results[name] = (
            statistics.median(t for t, _, _ in timings),
            max(m for _, m, _ in timings),
            statistics.median(c for _, _, c in timings),
        )
    rows = {
        p.name: lines(p) - 1 for p in (work / "triage.csv", work / "plain.csv", work / "same.csv")
    }
    assert len(set(rows.values())) == 1, rows

    tenth = [
        *triage[:-6],
        "--from",
        "2025-11-23",
        "--to",
        "2026-11-22",
        "--out",
        str(work / "tenth.csv"),
    ]
    _, tenth_rss, _ = run(tenth)
    print(f"{total:,} visits in the database, {rows['triage.csv']:,} rows exported by each")
    base, _, base_cpu = results["sqlite3 plain SELECT"]
    for name, (seconds, rss, cpu) in results.items():
        print(
            f"{name:24} {seconds:6.1f} s  {rows['triage.csv'] / seconds:>9,.0f} rows/s  "
            f"{seconds / base:4.2f}× sqlite3 plain (goal ≤ 1.5×)  peak RSS {rss:.0f} MiB  "
            f"CPU {cpu:.1f} s = {cpu / base_cpu:.2f}×"
        )
    print(
        f"triage export of one year ({lines(work / 'tenth.csv') - 1:,} rows): "
        f"peak RSS {tenth_rss:.0f} MiB (all rows: {results['triage export'][1]:.0f} MiB)"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
