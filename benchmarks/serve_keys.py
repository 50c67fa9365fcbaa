"""A served desk's keystroke-to-screen time in Chromium, beside the same keystroke in Pilot.

Browser: `triage serve --role desk` on a throwaway SQLite database, headless Chromium (the
system's, /usr/bin/chromium) driven over the DevTools protocol. For each key the page notes the
time, the key is dispatched, and the time is taken again at the first animation frame after the
first screen data from the app arrives over the websocket (xterm.js paints on that frame).
Pilot: the same desk app, in this process at the same size: from `press` to the first screen
update the app hands its (headless) driver. Both alternate `1` (a question's first answer) and
Backspace (back), the commonest keys at a desk. Prints the medians and p90s and the ratio
(goal: browser ≤ 2× Pilot).

    python benchmarks/serve_keys.py [--keys 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_serve import (  # noqa: E402 - the browser driver the browser test uses
    Chromium,
    free_ports,
    listening,
    stop,
    triage,
    wait_for,
)

SITE = "jc-skelbaek"
KEYS = ("1", "backspace")
WARM_UP = 4
# In the page: note the time before a key; the first frame after the app's next screen data
# (binary websocket messages; the text ones are pings) gives the time it is on screen.
MEASURE = """
window.triageKey = () => { window.triageSent = performance.now(); window.triageShown = null; };
const Socket = window.WebSocket;
window.WebSocket = function (url, protocols) {
    const socket = new Socket(url, protocols);
    socket.addEventListener("message", (event) => {
        if (typeof event.data === "string" || window.triageSent === undefined) return;
        if (window.triageShown !== null || window.triageWaiting) return;
        window.triageWaiting = true;
        requestAnimationFrame(() => {
            window.triageShown = performance.now() - window.triageSent;
            window.triageWaiting = false;
        });
    });
    return socket;
};
window.WebSocket.prototype = Socket.prototype;
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def in_chromium(keys: int, folder: Path) -> tuple[list[float], tuple[int, int]]:
    base = free_ports(4)
    server = triage(
        folder, "serve", "--role", "desk", "--db", str(folder / "browser.db"), "--site", SITE,
        "--port", str(base),
    )  # fmt: skip
    wait_for("triage serve", lambda: listening(base))
    browser = Chromium(folder / "profile")
    try:
        page = browser.open(f"http://127.0.0.1:{base}/", before=MEASURE)
        columns, rows, *_ = page.cells()
        time.sleep(2.0)  # the desk opens its database just after its first screen
        times = []
        for n in range(WARM_UP + keys):
            page.evaluate("triageKey()")
            page.press(KEYS[n % 2], pause=0)
            shown = wait_for("the screen", lambda: page.evaluate("window.triageShown"), 10, 0)
            if n >= WARM_UP:
                times.append(shown / 1000)
            time.sleep(0.15)  # the app's last frames of this key, before the next
        page.close()
        return times, (columns, rows)
    finally:
        browser.quit()
        said = "".join(stop(server))
        if "Traceback" in said or "Error" in said:
            print(said, file=sys.stderr)


def in_pilot(keys: int, size: tuple[int, int], folder: Path) -> list[float]:
    from triage import paths
    from triage.app import TriageApp
    from triage.desklog import DeskLog
    from triage.load import load_or_raise

    flow = load_or_raise(paths.default_data_dir())
    log = DeskLog(str(folder / "pilot.db"), SITE, "skranke-1", spool_dir=folder / "spool")
    app = TriageApp(
        flow, site=SITE, desk="skranke-1", log=log, open_log_after=0,
        data_dir=paths.default_data_dir(),
    )  # fmt: skip

    # The first screen update the app hands its driver after the key (headless: drawn on no
    # terminal, so this side has no terminal's own drawing; the ratio errs against the browser).
    updates: list[float] = []
    display = app._display

    def noted(screen, renderable) -> None:
        if renderable is not None:
            updates.append(time.perf_counter())
        display(screen, renderable)

    app._display = noted  # type: ignore[method-assign]

    async def run() -> list[float]:
        times = []
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await asyncio.sleep(2.0)
            for n in range(WARM_UP + keys):
                updates.clear()
                started = time.perf_counter()
                await pilot.press(KEYS[n % 2])
                await pilot.pause()
                after = [at for at in updates if at > started]
                if n >= WARM_UP and after:
                    times.append(after[0] - started)
                await asyncio.sleep(0.15)
        return times

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=40, help="keys measured each way")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        browser, size = in_chromium(args.keys, folder)
        pilot = in_pilot(args.keys, size, folder)
    for name, times in (("Chromium (served)", browser), ("Pilot", pilot)):
        print(
            f"{name:18} {size[0]}×{size[1]}: median {statistics.median(times) * 1000:6.1f} ms, "
            f"p90 {percentile(times, 0.9) * 1000:6.1f} ms ({len(times)} keys)"
        )
    ratio = statistics.median(browser) / statistics.median(pilot)
    print(f"ratio (median): {ratio:.2f}× (goal ≤ 2×)")


if __name__ == "__main__":
    main()
