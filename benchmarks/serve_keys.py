"""A served desk's keystroke-to-screen time in Chromium, beside the same keystroke in a terminal.

Both sides run at once, the same desk at the same size on a throwaway SQLite database of its own,
and take their keys in turn (which side goes first alternates), so a busy moment on the machine
falls on both alike:

- browser: `triage serve --role desk`, headless Chromium (the system's, /usr/bin/chromium) driven
  over the DevTools protocol. Timed in the page: from the key's `keydown` to the arrival of each
  screen update over the websocket (one update is one message: xterm.js tells the app it has no
  synchronized output, so each frame is one write), and to that update painted: the end of the
  first animation frame after xterm.js took it. The result is awaited in the page (no polling).
- terminal: `triage desk` in a pseudo-terminal of the same size, answering Textual that it has
  synchronized output as most terminals now do, so each frame ends with its end mark: from
  writing the key to the master side to reading each frame's end mark. This is what a terminal
  emulator gets; its own drawing (at its next frame) is not measured, as no display exists here.

A key's screen: `first` is its first frame (the new question is on screen), `settled` its last
frame before 100 ms of quiet (both sides draw the options once more, unchanged, some 25 ms after
the first frame). Keys alternate `1` (a question's first answer) and Backspace (back), the
commonest keys at a desk.

The like-for-like ratio is browser ÷ terminal up to the screen's bytes reaching what draws them
(xterm.js in the page / the terminal emulator); the painted ratio adds the browser's wait for its
next frame (up to 16.7 ms at 60 Hz), which a terminal emulator pays too but is not timed here, so
it errs against the browser. Prints each round's medians and ratio, then all keys' medians, p90
and the spread of the rounds' ratios. Goal: browser ≤ 2× terminal.

    python benchmarks/serve_keys.py [--rounds 5] [--keys 20]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_serve import (  # noqa: E402 - the browser driver the browser test uses
    Chromium,
    Page,
    free_ports,
    isolated_env,
    listening,
    stop,
    triage,
    wait_for,
)

SITE = "jc-skelbaek"
KEYS = ("1", "backspace")
AS_BYTES = {"1": b"1", "backspace": b"\x7f"}  # what xterm.js sends for them, too
WARM_UP = 4
QUIET = 0.1  # a key's screen has settled after this long without a frame
SYNC_QUERY = b"\x1b[?2026$p"  # Textual asks whether the terminal has synchronized output
SYNC_YES = b"\x1b[?2026;2$y"
SYNC_END = b"\x1b[?2026l"  # ends each frame once the terminal said yes

# In the page: a key's keydown starts the clock; each screen update from the app (a binary
# websocket message; text ones are pings) is noted on arrival, and again once painted: at the
# end of the first animation frame after xterm.js took it (xterm.js parses on this task or a
# timer of its own, and paints in an animation frame; a task after that frame's callbacks runs
# after its paint). `triageResult()` resolves once the screen has been quiet for QUIET.
MEASURE = """
window.triageArm = () => { window.triageArmed = true; window.triageTimed = null; };
document.addEventListener("keydown", () => {
    if (!window.triageArmed) return;
    window.triageArmed = false;
    window.triageTimed = {down: performance.now(), frames: [], painted: [], bytes: 0};
}, true);
const Socket = window.WebSocket;
window.WebSocket = function (url, protocols) {
    const socket = new Socket(url, protocols);
    socket.addEventListener("message", (event) => {
        const timed = window.triageTimed;
        if (typeof event.data === "string" || !timed) return;
        timed.frames.push(performance.now() - timed.down);
        timed.bytes += event.data.byteLength;
        setTimeout(() => requestAnimationFrame(() => setTimeout(() => {
            timed.painted.push(performance.now() - timed.down);
        }, 0)), 0);
    });
    return socket;
};
window.WebSocket.prototype = Socket.prototype;
window.triageResult = (quiet) => new Promise((resolve) => {
    const given = performance.now();
    const check = () => {
        const timed = window.triageTimed;
        const now = performance.now();
        if (timed && timed.frames.length && timed.painted.length === timed.frames.length
                && now - timed.down - timed.frames[timed.frames.length - 1] >= quiet) {
            resolve(timed);
        } else if (now - given > 5000) {
            resolve(null);
        } else {
            setTimeout(check, 10);
        }
    };
    check();
});
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Timed:
    """One key's times in ms: its first frame and its last (settled), and (browser) painted;
    and the bytes of its screen updates (the same app at the same size: about the same)."""

    def __init__(self, frames: list[float], size: int, painted: list[float] | None = None) -> None:
        self.first, self.settled, self.size = frames[0], frames[-1], size
        self.first_painted = painted[0] if painted else None
        self.settled_painted = painted[-1] if painted else None


def browser_key(page: Page, key: str) -> Timed:
    page.evaluate("triageArm()")
    page.press(key, pause=0)
    answer = page.call(
        "Runtime.evaluate",
        expression=f"triageResult({QUIET * 1000})",
        awaitPromise=True,
        returnByValue=True,
    )
    timed = answer["result"].get("value")
    if not timed:
        raise AssertionError(f"no screen in the browser after {key!r}")
    return Timed(timed["frames"], timed["bytes"], sorted(timed["painted"]))


class Terminal:
    """`triage desk` in a pseudo-terminal of `size` (columns, rows)."""

    def __init__(self, args: list[str], size: tuple[int, int], env: dict[str, str]) -> None:
        self.master, follower = pty.openpty()
        columns, rows = size
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "triage", *args],
            stdin=follower, stdout=follower, stderr=follower, env=env, start_new_session=True,
        )  # fmt: skip
        os.close(follower)
        self.frames = 0  # frames ended so far
        self.size = 0  # bytes read so far
        self.tail = b""  # the last bytes read, for a mark cut in two

    def read(self, timeout: float) -> float | None:
        """Read what the app wrote within `timeout`; the time it came, None if nothing came."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return None
        try:
            data = os.read(self.master, 1 << 16)
        except OSError:  # the app has ended
            raise AssertionError("the terminal's desk ended") from None
        at = time.perf_counter()
        self.size += len(data)
        seen = self.tail + data
        if seen.count(SYNC_QUERY) > self.tail.count(SYNC_QUERY):  # once, not again from tail
            os.write(self.master, SYNC_YES)
        self.frames += seen.count(SYNC_END) - self.tail.count(SYNC_END)
        self.tail = seen[-16:]
        return at

    def settle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.read(0.05)

    def key(self, key: str) -> Timed:
        while self.read(0) is not None:  # what came before the key is not its screen
            pass
        frames: list[float] = []
        size = self.size
        pressed = time.perf_counter()
        os.write(self.master, AS_BYTES[key])
        while True:
            before = self.frames
            at = self.read(QUIET if frames else 5.0)
            if at is None:
                break
            frames += [(at - pressed) * 1000] * (self.frames - before)
        if not frames:
            raise AssertionError(f"no screen in the terminal after {key!r}")
        return Timed(frames, self.size - size)

    def close(self) -> None:
        stop(self.process)
        os.close(self.master)


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):6.1f} ms, p90 {percentile(values, 0.9):6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each with its own ratio")
    parser.add_argument("--keys", type=int, default=20, help="keys each side in a round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        base = free_ports(4)
        server = triage(
            folder, "serve", "--role", "desk", "--db", str(folder / "browser.db"),
            "--site", SITE, "--port", str(base),
        )  # fmt: skip
        browser = terminal = None
        try:
            wait_for("triage serve", lambda: listening(base))
            browser = Chromium(folder / "profile")
            page = browser.open(f"http://127.0.0.1:{base}/", before=MEASURE)
            columns, rows, *_ = page.cells()
            # The same settings textual-serve gives its apps (colours and frame rate).
            env = isolated_env(folder) | {
                "TERM": "xterm-256color", "COLORTERM": "truecolor",
                "TEXTUAL_COLOR_SYSTEM": "truecolor", "TEXTUAL_FPS": "60",
            }  # fmt: skip
            terminal = Terminal(
                ["desk", "--db", str(folder / "terminal.db"), "--site", SITE], (columns, rows), env
            )
            terminal.settle(3.0)  # the desks open their databases just after their first screen
            if not terminal.frames:
                raise AssertionError("the terminal's desk drew nothing it marked as a frame")
            run(page, terminal, args.rounds, args.keys, (columns, rows))
            page.close()
        finally:
            if terminal is not None:
                terminal.close()
            if browser is not None:
                browser.quit()
            said = "".join(stop(server))
            if "Traceback" in said or "Error" in said:
                print(said, file=sys.stderr)


def run(page: Page, terminal: Terminal, rounds: int, keys: int, size: tuple[int, int]) -> None:
    print(f"the desk at {size[0]}×{size[1]}, {rounds} rounds of {keys} keys each side")
    for n in range(WARM_UP):
        browser_key(page, KEYS[n % 2])
        terminal.key(KEYS[n % 2])
    served: list[Timed] = []
    local: list[Timed] = []
    ratios: dict[str, list[float]] = {"first": [], "settled": [], "first painted": []}
    for round_number in range(1, rounds + 1):
        these_served: list[Timed] = []
        these_local: list[Timed] = []
        for n in range(keys):
            key = KEYS[n % 2]
            # Which side goes first alternates, so neither always follows the other's work.
            if n % 4 in (0, 3):
                these_served.append(browser_key(page, key))
                these_local.append(terminal.key(key))
            else:
                these_local.append(terminal.key(key))
                these_served.append(browser_key(page, key))
        first = statistics.median(t.first for t in these_served)
        painted = statistics.median(t.first_painted or 0 for t in these_served)
        settled = statistics.median(t.settled for t in these_served)
        local_first = statistics.median(t.first for t in these_local)
        local_settled = statistics.median(t.settled for t in these_local)
        ratios["first"].append(first / local_first)
        ratios["first painted"].append(painted / local_first)
        ratios["settled"].append(settled / local_settled)
        print(
            f"round {round_number}: first frame browser {first:5.1f} ms (painted {painted:5.1f})"
            f" vs terminal {local_first:5.1f} ms = {first / local_first:.2f}× "
            f"({painted / local_first:.2f}× painted); settled {settled:5.1f} vs "
            f"{local_settled:5.1f} ms = {settled / local_settled:.2f}×"
        )
        served += these_served
        local += these_local
    print(f"all {len(served)} keys each side:")
    rows = (
        ("browser, first frame", [t.first for t in served]),
        ("browser, first painted", [t.first_painted or 0 for t in served]),
        ("terminal, first frame", [t.first for t in local]),
        ("browser, arrival → painted", [(t.first_painted or 0) - t.first for t in served]),
        ("browser, settled", [t.settled for t in served]),
        ("browser, settled painted", [t.settled_painted or 0 for t in served]),
        ("terminal, settled", [t.settled for t in local]),
    )
    for name, values in rows:
        print(f"  {name:25} {summary(values)}")
    # The served path's own cost: each browser key less the terminal's key next to it.
    extra = [b.first - t.first for b, t in zip(served, local, strict=True)]
    print(f"  {'browser − terminal, pairs':25} {summary(extra)} (the served path's own)")
    for name, keys_timed in (("browser", served), ("terminal", local)):
        size = statistics.median(t.size for t in keys_timed)
        print(f"  {name + ',':9} screen updates per key: median {size / 1000:.1f} kB")
    for name, values in ratios.items():
        print(
            f"ratio of medians, {name + ':':15} {statistics.median(values):.2f}× "
            f"(rounds {min(values):.2f}–{max(values):.2f}×; goal ≤ 2×)"
        )


if __name__ == "__main__":
    main()
