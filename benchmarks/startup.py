"""Start-up: process start → first question on screen, beside a minimal Textual app, same run.

Each run is a fresh process (headless, 80×24). When its first screen has been painted (for the
desk: the first question is on screen) it reports to this script, which notes the time since it
started the process; the child also reports its peak RSS at that moment, then exits. Runs of the
two alternate so machine noise hits both alike. Goal: desk ≤ 1.3× minimal in time, ≤ 1.5× in memory.
The desk's database (and the ORM) load after this moment, off the start path; the script also
reports the desk's peak RSS once it has opened its database, for the record.

    python benchmarks/startup.py [--runs 15] [--app desk|kiosk|all]

`--app kiosk` measures the citizens' kiosk (`triage kiosk`, first question on screen) the same
way, goal ≤ 1.5× minimal in time; `--app all` both, each beside the same minimal runs. The
warm-up run leaves the parsed data files in the user's cache, as any earlier start does.
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Both children patch App.run the same way: headless, then exit after the first paint.
HEADLESS = """
import resource, sys
from textual.app import App
_run = App.run
def run(self, *a, **k):
    async def auto_pilot(pilot):
        await pilot.pause()
        {check}
        used = resource.getrusage(resource.RUSAGE_SELF)
        print("shown", used.ru_maxrss, used.ru_utime + used.ru_stime, flush=True)
        {after}
        pilot.app.exit()
    return _run(self, *a, **{{**k, "headless": True, "size": (80, 24), "auto_pilot": auto_pilot}})
App.run = run
"""

MINIMAL = (
    HEADLESS.format(check="pass", after="pass")
    + """
from textual.widgets import Static
class Minimal(App):
    def compose(self):
        yield Static("hello")
Minimal().run()
"""
)

QUESTION_SHOWN = "assert str(pilot.app.screen.query_one('#question').render()), 'no question shown'"
DESK = (
    HEADLESS.format(check=QUESTION_SHOWN, after="pass")
    + """
import sys
from triage.cli import main
sys.exit(main(["desk"]))
"""
)


KIOSK_SHOWN = (
    "assert str(pilot.app.screen.query_one('#kiosk-question').render()), 'no question shown'"
)
KIOSK = (
    HEADLESS.format(check=KIOSK_SHOWN, after="pass")
    + """
import sys
from triage.cli import main
sys.exit(main(["kiosk"]))
"""
)
APPS = {"desk": DESK, "kiosk": KIOSK}


# The desk once running: wait until its database is open, then report peak RSS.
DESK_RUNNING = (
    HEADLESS.format(
        check=QUESTION_SHOWN,
        after="await pilot.app.workers.wait_for_complete(); await pilot.pause(1.0); "
        "await pilot.app.workers.wait_for_complete(); "
        "print('running', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)",
    )
    + DESK.split("App.run = run", 1)[1]
)


def one_run(code: str) -> tuple[float, float, float]:
    """Seconds from process start to its first screen, its peak RSS (MiB) at that moment, and
    the CPU seconds it had used by then (on a loaded machine less noisy than the wall time)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    wall = time.perf_counter() - start
    rest, err = proc.communicate(timeout=60)
    if proc.returncode != 0 or not line.startswith("shown"):
        raise SystemExit(f"run failed ({proc.returncode}):\n{line}{rest}{err}")
    _, peak, cpu = line.split()
    return wall, int(peak) / 1024, float(cpu)


def running_rss() -> float:
    proc = subprocess.run(
        [sys.executable, "-c", DESK_RUNNING], capture_output=True, text=True, timeout=60
    )
    line = next(s for s in proc.stdout.splitlines() if s.startswith("running"))
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--app", choices=(*APPS, "all"), default="desk", help="default: desk")
    args = parser.parse_args()
    apps = list(APPS) if args.app == "all" else [args.app]
    # A desk installed with pip has its modules compiled to bytecode (pip compiles on install),
    # as Textual's are; a source checkout run with PYTHONDONTWRITEBYTECODE set would compile
    # the desk's sources on every start instead (some 25 ms here) and measure that, not the desk.
    import screens
    import triage

    for package in (triage, screens):
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)
    for code in (MINIMAL, *(APPS[app] for app in apps)):  # warm the OS file cache for each
        one_run(code)
    results: dict[str, list[tuple[float, float, float]]] = {
        "minimal": [],
        **{app: [] for app in apps},
    }
    for _ in range(args.runs):
        results["minimal"].append(one_run(MINIMAL))
        for app in apps:
            results[app].append(one_run(APPS[app]))
    summary = {}
    for name, runs in results.items():
        walls = [w for w, _, _ in runs]
        peaks = [m for _, m, _ in runs]
        cpus = [c for _, _, c in runs]
        summary[name] = tuple(map(statistics.median, (walls, peaks, cpus)))
        print(
            f"{name:8} wall median {summary[name][0]:.3f} s "
            f"(min {min(walls):.3f}, max {max(walls):.3f})   "
            f"CPU median {summary[name][2]:.3f} s   "
            f"peak RSS median {summary[name][1]:.1f} MiB"
        )
    for app in apps:
        ratios = [a[0] / m[0] for m, a in zip(results["minimal"], results[app], strict=True)]
        print(
            f"{app} / minimal: time {summary[app][0] / summary['minimal'][0]:.2f}× "
            f"(paired runs {min(ratios):.2f}–{max(ratios):.2f}), "
            f"CPU {summary[app][2] / summary['minimal'][2]:.2f}×, "
            f"memory {summary[app][1] / summary['minimal'][1]:.2f}×   [{args.runs} runs each]"
        )
    if "desk" in apps:
        print(f"desk once its database is open (ORM loaded): peak RSS {running_rss():.1f} MiB")


if __name__ == "__main__":
    main()
