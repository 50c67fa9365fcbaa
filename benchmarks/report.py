"""The committee's monthly report on a large demo history: how long one month takes.

    python benchmarks/report.py [--visits 5000000] [--db PATH] [--month 2026-10] [--runs 5]

Loads demo history (about --visits visits over ten years, as benchmarks/footfall.py does) into
a fresh SQLite file, or uses --db as it is when that file already holds visits (to time again
without loading again). Then times, median of --runs, the whole report as `triage report` makes
it: every figure counted (triage.committee.build), the HTML made and the file written. Goal: one
month of 5 million visits in ≤ 2 s. The first run, on a cold disk cache, is printed apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage import committee, paths  # noqa: E402
from triage.db.store import Store  # noqa: E402
from triage.demo import DemoHistory  # noqa: E402
from triage.load import load_or_raise  # noqa: E402
from triage.model import LOCAL_ZONE  # noqa: E402

END = date(2026, 11, 23)
NOW = datetime.combine(END, clock(11, 30), LOCAL_ZONE)
DAYS = 3650
GOAL_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=5_000_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    flow = load_or_raise(paths.default_data_dir())
    db = args.db or Path(tempfile.mkdtemp(prefix="triage-report-")) / "demo.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store(db, spool_dir=db.parent / "spool")
    store.open()
    if store.is_empty():
        # About 0.54 ordinary-Tuesday-equivalents per calendar day (see benchmarks/footfall.py).
        per_day = max(1, round(args.visits / (DAYS * 0.54)))
        start = time.perf_counter()
        loaded = store.load_demo(DemoHistory(flow, DAYS, 2006, per_day, END))
        print(f"demo load: {loaded:,} visits in {time.perf_counter() - start:.1f} s into {db}")
    else:
        print(f"using the visits already in {db}")

    month = committee.parse_month(args.month)
    out = db.parent / f"rapport-{args.month}.html"

    def report() -> None:
        built = committee.build(store, flow.sites, month, NOW)
        committee.write(committee.render(built, flow.sites), out)

    times = []
    for _ in range(max(1, args.runs) + 1):
        start = time.perf_counter()
        report()
        times.append(time.perf_counter() - start)
    first, median = times[0], statistics.median(times[1:])
    verdict = "ok" if median <= GOAL_SECONDS else "TOO SLOW"
    print(
        f"report for {args.month}: first run {first:.2f} s, then median {median:.2f} s "
        f"of {len(times) - 1} (goal ≤ {GOAL_SECONDS:.0f} s: {verdict}); {out}"
    )
    store.dispose()


if __name__ == "__main__":
    main()
