"""The waiting-room board's delay: from a call's commit to the board showing it.

    python benchmarks/board.py [--calls 20] [--postgres]

The board runs headless (Textual's Pilot) on a real database and polls it as `triage board`
does. Another process, a desk, calls the next ticket with Tickets.call_next at random moments
(0.4-1.2 s apart, so the calls fall at every phase of the board's poll) and says on its output
when each call's transaction committed (the system's monotonic clock, shared by both
processes). The board's side looks every 5 ms at what its screen draws; the delay is from the
commit to the first look that finds the new number on top. Printed: median, p95 and worst.
Goal: ≤ 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

SITE = "jc-skelbaek"


def desk(db: str, calls: int, seed: int) -> None:
    """The other process: call the next ticket `calls` times, saying when each committed."""
    from triage.db.store import Store
    from triage.queue import Tickets

    store = Store(db, desk="bench", spool_dir=Path(tempfile.gettempdir()) / "board-bench-spool")
    store.open()
    tickets = Tickets(store)
    chance = random.Random(seed)
    print("ready", flush=True)
    sys.stdin.readline()  # the board is up
    for _ in range(calls):
        time.sleep(chance.uniform(0.4, 1.2))
        called = tickets.call_next(SITE, "skranke-2")
        committed = time.monotonic()  # call_next returns after its transaction committed
        assert called is not None
        print(f"{called.label}\t{committed}", flush=True)
    tickets.close()
    store.dispose()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(db: str, calls: int, seed: int) -> list[float]:
    from screens.board import Calls
    from triage.app import BoardApp
    from triage.db.store import Store
    from triage.load import load
    from triage.queue import Tickets

    setup = Store(db, spool_dir=Path(tempfile.gettempdir()) / "board-bench-spool")
    setup.open()
    issuer = Tickets(setup)
    for _ in range(calls):
        issuer.issue(SITE, "A", "meeting")
    issuer.close()
    setup.dispose()
    loaded = load(ROOT / "data", queues=True)
    assert loaded.flow is not None and loaded.queues is not None
    app = BoardApp(Store(db), loaded.flow.sites, SITE, loaded.queues.at(SITE))
    caller = subprocess.Popen(
        [sys.executable, __file__, "--desk", db, str(calls), str(seed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert caller.stdin is not None and caller.stdout is not None
    committed: dict[str, float] = {}
    seen: dict[str, float] = {}
    assert caller.stdout.readline().strip() == "ready"

    def read_calls() -> None:
        assert caller.stdout is not None
        for line in caller.stdout:
            label, at = line.rstrip("\n").split("\t")
            committed[label] = float(at)

    reader = threading.Thread(target=read_calls, daemon=True)
    reader.start()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.5)
            caller.stdin.write("go\n")
            caller.stdin.flush()
            board = app.board.query_one(Calls)
            give_up = time.monotonic() + calls * 1.2 + 30
            while len(seen) < calls and time.monotonic() < give_up:
                await asyncio.sleep(0.005)
                top = board.calls[0][0] if board.calls else None
                if top is not None and top not in seen:
                    seen[top] = time.monotonic()
    finally:
        caller.wait(timeout=60)
    reader.join(timeout=5)
    missing = sorted(set(committed) - set(seen))
    if missing:
        print(f"  never shown: {', '.join(missing)}")
    return [seen[label] - committed[label] for label in committed if label in seen]


def report(engine: str, delays: list[float]) -> None:
    if not delays:
        print(f"{engine}: no call was shown")
        return
    median, p95, worst = pct(delays, 0.5), pct(delays, 0.95), max(delays)
    verdict = "met" if p95 <= 1.0 else "NOT met"
    print(
        f"{engine}: {len(delays)} calls, commit -> on the board: median {median * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, worst {worst * 1000:.0f} ms (goal <= 1 s: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="triage-board-") as tmp:
        db = str(Path(tmp) / "board.db")
        report("SQLite", asyncio.run(measure(db, args.calls, args.seed)))
        if args.postgres:
            from tests.postgres import ThrowawayPostgres, server_bin

            bin_dir = server_bin()
            if bin_dir is None:
                print("PostgreSQL: not installed here")
                return
            server = ThrowawayPostgres(bin_dir, fsync=True)
            try:
                server.init()
                server.start()
                url = server.create_database("board")
                report("PostgreSQL", asyncio.run(measure(url, args.calls, args.seed)))
            finally:
                server.cleanup()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--desk":
        desk(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
