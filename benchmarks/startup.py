"""Start-up: process start → first question on screen, beside a minimal Textual app, same run.

Each run is a fresh process (headless, 80×24) that exits once its first screen has been
painted; runs of the two alternate so machine noise hits both alike. Prints median wall time
and peak RSS for each, and the ratios (goal: desk ≤ 1.5× minimal in both).

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

# Both children patch App.run the same way: headless, then exit after the first paint.
HEADLESS = """
from textual.app import App
_run = App.run
def run(self, *a, **k):
    async def auto_pilot(pilot):
        await pilot.pause()
        {check}
        pilot.app.exit()
    return _run(self, *a, **{{**k, "headless": True, "size": (80, 24), "auto_pilot": auto_pilot}})
App.run = run
"""

MINIMAL = HEADLESS.format(check="pass") + """
from textual.widgets import Static
class Minimal(App):
    def compose(self):
        yield Static("hello")
Minimal().run()
"""

DESK = HEADLESS.format(
    check="assert str(pilot.app.screen.query_one('#question').render()), 'no question shown'"
) + """
import sys
from triage.cli import main
sys.exit(main(["desk"]))
"""


def one_run(code: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}):\n{err}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    one_run(MINIMAL), one_run(DESK)  # warm the OS file cache for both
    results: dict[str, list[tuple[float, float]]] = {"minimal": [], "desk": []}
    for _ in range(args.runs):
        results["minimal"].append(one_run(MINIMAL))
        results["desk"].append(one_run(DESK))
    summary = {}
    for name, runs in results.items():
        walls = [w for w, _ in runs]
        peaks = [m for _, m in runs]
        summary[name] = (statistics.median(walls), statistics.median(peaks))
        print(f"{name:8} wall median {summary[name][0]:.3f} s "
              f"(min {min(walls):.3f}, max {max(walls):.3f})   peak RSS median {summary[name][1]:.1f} MiB")
    ratios = [d[0] / m[0] for m, d in zip(results["minimal"], results["desk"])]
    print(f"desk / minimal: time {summary['desk'][0] / summary['minimal'][0]:.2f}× "
          f"(paired runs {min(ratios):.2f}–{max(ratios):.2f}), "
          f"memory {summary['desk'][1] / summary['minimal'][1]:.2f}×   [{args.runs} runs each]")


if __name__ == "__main__":
    main()
