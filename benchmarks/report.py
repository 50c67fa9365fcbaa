"""The committee's monthly report on a large demo history: how long one month takes.

    python benchmarks/report.py [--visits 5000000] [--db PATH] [--month 2026-10] [--runs 5]

Loads demo history (about --visits visits over ten years, as benchmarks/footfall.py does) into
a fresh SQLite file, or uses --db as it is when that file already holds visits (to time again
without loading again). Then times, median of --runs, the whole report as `triage report` makes
it: every figure counted (triage.committee.build), the HTML made and the file written. Goal: one
month of 5 million visits in ≤ 2 s. The first run, on a cold disk cache, is printed apart.
Beside it, the whole command (`triage report` in a fresh process) and, as its reference in the
same run, a fresh process that only imports what every database command imports.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
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

    command = [
        str(Path(sys.executable).parent / "triage"),
        *("report", "--db", str(db), "--spool-dir", str(db.parent / "spool")),
        *("--month", args.month, "--out", str(out), "--force"),
    ]
    whole = timed_process(command, args.runs)
    imports = timed_process([sys.executable, "-c", "import triage.stats"], args.runs)
    print(
        f"`triage report` as a command: median {whole:.2f} s, beside {imports:.2f} s for a "
        "process that only imports the statistics and database code"
    )


def timed_process(command: list[str], runs: int) -> float:
    times = []
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    main()
