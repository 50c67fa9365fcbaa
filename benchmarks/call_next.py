"""The queue under contention: desk processes calling next while kiosk processes issue tickets,
all on one database; every ticket must be called exactly once.

    python benchmarks/call_next.py [--desks 8] [--calls 150] [--kiosks 2] [--every 0.5]
                                   [--back-to-back] [--postgres]

Each desk is a real process that calls until it has its share of tickets; the kiosks issue
desks × calls tickets in all (two queues of one site). Reported: lost (issued, never called)
and double (called more than once) tickets — both must be 0 — and on SQLite the call-next
commit p99 (only calls that took a ticket, from the call to its return) beside one raw UPDATE
commit on the same file (sqlite3 itself, same WAL mode and synchronous level). Goal: p99 ≤ 5×
the raw commit's p99 in the same run: tail against tail, as benchmarks/store.py compares a
visit's commit. (Against the raw commit's median it is printed too; on a disk shared with
other work the raw commit's own p99 is often 10–20× its median, so that ratio measures the
disk more than the queue.)

Two loads, both printed (--back-to-back runs only the second):
- A busy desk floor, sped up: each desk calls at random moments, on average every --every
  seconds (0.5 s: 8 desks make 16 calls a second, against about 0.07 a second at the busiest
  hour of the busiest site in the demo history: some 240 times faster), and the kiosks issue
  a little faster than the desks call, so the line never runs dry. This is the goal's load.
- Back to back: every desk calls again the moment it has a ticket and the kiosks issue as fast
  as they can: ten processes take the one writer's turn in a row, so a call mostly waits for
  the nine others. Its fair yardstick is the same crowd of raw commits: as many processes
  doing raw UPDATE commits back to back in the same turns, timed from asking for the turn to
  the commit, printed beside it.

The raw commit is sampled during each run, by one more process that every 10 ms (50 ms in the
paced run, where it would otherwise be a writer as busy as all desks together) takes the
queue writers' turn and times one UPDATE of a ticket row and its commit (only that, not its
wait for the turn): what one commit costs on that file at that moment. Raw commits timed after
the run, alone (printed too), are not a fair yardstick: the last connection to close removes
the WAL file, so they append to a new one that grows with every commit, and each fsync then
also writes the file's new size; and they fall on another moment of a disk shared with other
work.

tests/test_queue.py runs the same workers with smaller counts on both engines.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path, and this file would stand in
# for the standard library's `queue` (which psycopg imports): put the project there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

SITE = "jc-skelbaek"
QUEUES = ("A", "Y")
DEADLINE_S = 300.0  # a worker gives up after this: a hang is reported, not waited for


def _wait_for(start_file: Path) -> None:
    """All workers start together: each waits for the start file after its imports."""
    while not start_file.exists():
        time.sleep(0.005)


def _store(db: str, spool: str):
    from triage.db.store import Store

    store = Store(db, desk="bench", spool_dir=Path(spool))
    store.open()
    return store


def desk_worker(
    db: str, spool: str, desk: str, calls: int, every: float, start: Path, out: Path
) -> None:
    """Calls until it has `calls` tickets; between calls a pause of on average `every` seconds
    (random, as people finish at random moments), none when `every` is 0."""
    from triage.queue import Tickets

    tickets = Tickets(_store(db, spool))
    called: list[int] = []
    seconds: list[float] = []
    empty = 0
    _wait_for(start)
    give_up = time.monotonic() + DEADLINE_S
    while len(called) < calls and time.monotonic() < give_up:
        began = time.perf_counter()
        ticket = tickets.call_next(SITE, desk)
        took = time.perf_counter() - began
        if ticket is None:
            empty += 1
            time.sleep(0.02)  # nobody waits yet: the kiosks are behind (a desk asks less often)
            continue
        called.append(ticket.id)
        seconds.append(took)
        if every:
            time.sleep(random.expovariate(1 / every))
    out.write_text(json.dumps({"called": called, "seconds": seconds, "empty": empty}))


def kiosk_worker(db: str, spool: str, count: int, every: float, start: Path, out: Path) -> None:
    """Issues `count` tickets, on average one every `every` seconds (random), or as fast as it
    can when `every` is 0."""
    from triage.queue import Tickets

    tickets = Tickets(_store(db, spool))
    issued = []
    _wait_for(start)
    for n in range(count):
        issued.append(tickets.issue(SITE, QUEUES[n % len(QUEUES)], "meeting").ticket_id)
        if every:
            time.sleep(random.expovariate(1 / every))
    out.write_text(json.dumps({"issued": issued}))


def raw_connection(db: str) -> sqlite3.Connection:
    """sqlite3 itself on the file, in the store's WAL mode and synchronous level."""
    from triage.db.connect import SQLITE_SYNCHRONOUS

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {SQLITE_SYNCHRONOUS}")
    return conn


def raw_commit(conn: sqlite3.Connection, row: int) -> None:
    """The raw yardstick: one UPDATE of one ticket row and its commit."""
    conn.execute("BEGIN")
    conn.execute("UPDATE visit_ticket SET recalls = recalls + 1 WHERE id = ?", (row,))
    conn.execute("COMMIT")


def raw_worker(db: str, every: float, start: Path, stop: Path, out: Path) -> None:
    """One raw UPDATE commit every `every` seconds while the desks and kiosks run, each in the
    queue writers' turn (so it never waits inside SQLite): the commit alone is timed."""
    from triage.queue import Turns, lock_file

    conn = raw_connection(db)
    turns = Turns.of(lock_file(db))
    assert turns is not None, "no lock file beside the database"
    seconds: list[float] = []
    _wait_for(start)
    row = None
    while not stop.exists():
        time.sleep(every)
        row = row or conn.execute("SELECT MIN(id) FROM visit_ticket").fetchone()[0]
        if row is None:
            continue
        with turns.turn():
            began = time.perf_counter()
            raw_commit(conn, row)
            seconds.append(time.perf_counter() - began)
    conn.close()
    out.write_text(json.dumps({"raw_seconds": seconds}))


def crowd_worker(db: str, commits: int, start: Path, out: Path) -> None:
    """Raw UPDATE commits back to back, each in the queue writers' turn, timed from asking for
    the turn to the commit: what a raw writer meets in a crowd of them."""
    from triage.queue import Turns, lock_file

    conn = raw_connection(db)
    turns = Turns.of(lock_file(db))
    assert turns is not None, "no lock file beside the database"
    row = conn.execute("SELECT MIN(id) FROM visit_ticket").fetchone()[0]
    seconds: list[float] = []
    _wait_for(start)
    for _ in range(commits):
        began = time.perf_counter()
        with turns.turn():
            raw_commit(conn, row)
        seconds.append(time.perf_counter() - began)
    conn.close()
    out.write_text(json.dumps({"raw_seconds": seconds}))


def crowd(db: str, writers: int, commits: int, folder: Path) -> list[float]:
    """`writers` processes of raw commits back to back on `db` (which has tickets), all at
    once; every commit's time, turn included."""
    folder.mkdir(parents=True, exist_ok=True)
    start = folder / "start"
    me = [sys.executable, str(Path(__file__).resolve()), "--worker", "crowd"]
    outs = [folder / f"crowd-{n}.json" for n in range(writers)]
    processes = [subprocess.Popen([*me, db, str(commits), str(start), str(out)]) for out in outs]
    time.sleep(1.0)
    start.touch()
    for process in processes:
        process.wait(timeout=DEADLINE_S)
    return [s for out in outs if out.exists() for s in json.loads(out.read_text())["raw_seconds"]]


def run(
    db: str,
    desks: int,
    calls: int,
    kiosks: int,
    folder: Path,
    raw_during: bool = False,
    every: float = 0.0,
) -> dict:
    """Start the workers as processes, let them go at once, and gather what they did; with
    raw_during (SQLite), raw commits are sampled meanwhile. `every`: a desk's mean pause
    between calls in seconds (0: back to back); the kiosks then issue 10 % faster between them
    than the desks call, and the raw sampler looks every 50 ms instead of every 10 ms."""
    from triage.db.store import Store

    folder.mkdir(parents=True, exist_ok=True)
    made = Store(db, spool_dir=folder / "spool")
    made.open()  # made once, before the workers race
    made.dispose()
    start = folder / "start"
    total = desks * calls
    shares = [total // kiosks + (1 if k < total % kiosks else 0) for k in range(kiosks)]
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    spool = str(folder / "spool")
    processes = []
    # The kiosks together issue 10 % faster than the desks together call.
    kiosk_every = every * kiosks / desks / 1.1
    for k, share in enumerate(shares):
        out = folder / f"kiosk-{k}.json"
        args = ["kiosk", db, spool, str(share), str(kiosk_every), str(start), str(out)]
        processes.append((out, subprocess.Popen([*me, *args])))
    for d in range(desks):
        out = folder / f"desk-{d}.json"
        args = ["desk", db, spool, f"skranke-{d + 1}", str(calls), str(every), str(start), str(out)]
        processes.append((out, subprocess.Popen([*me, *args])))
    stop, sampler = folder / "stop", None
    if raw_during:
        raw_out = folder / "raw.json"
        args = ["raw", db, str(0.05 if every else 0.01), str(start), str(stop), str(raw_out)]
        sampler = (raw_out, subprocess.Popen([*me, *args]))
    time.sleep(1.0)  # imports and opening; the workers wait for the start file
    start.touch()
    began = time.monotonic()
    failed = [p.args for _, p in processes if p.wait(timeout=DEADLINE_S + 60) != 0]
    elapsed = time.monotonic() - began
    if sampler is not None:
        stop.touch()
        processes.append(sampler)
        if sampler[1].wait(timeout=60) != 0:
            failed.append(sampler[1].args)
    results = [json.loads(out.read_text()) for out, _ in processes if out.exists()]
    issued = [t for r in results for t in r.get("issued", [])]
    called = [t for r in results for t in r.get("called", [])]
    seconds = [s for r in results for s in r.get("seconds", [])]
    raw_seconds = [s for r in results for s in r.get("raw_seconds", [])]
    states = _states(db)
    return {
        "failed": failed,
        "issued": len(issued),
        "called": len(called),
        "lost": len(set(issued) - set(called)),
        "double": len(called) - len(set(called)),
        "unknown": len(set(called) - set(issued)),
        "states": states,
        "seconds": seconds,
        "raw_seconds": raw_seconds,
        "elapsed": elapsed,
    }


def _states(db: str) -> dict:
    """The tickets' states as the database holds them, and how many desks each was called to."""
    from sqlalchemy import text

    from triage.db.connect import database_url, make_engine

    engine = make_engine(database_url(db))
    with engine.connect() as conn:
        states = dict(
            conn.execute(text("SELECT state, COUNT(*) FROM visit_ticket GROUP BY state")).all()
        )
        no_desk = conn.execute(
            text("SELECT COUNT(*) FROM visit_ticket WHERE state = 'called' AND desk IS NULL")
        ).scalar_one()
    engine.dispose()
    return {"by_state": states, "called_without_desk": no_desk}


def raw_update_commits(path: str, runs: int = 300) -> list[float]:
    """One UPDATE of one ticket row and its commit, by sqlite3 itself on the same file, alone
    after the run (another moment's disk: see the module's text)."""
    conn = raw_connection(path)
    first = conn.execute("SELECT MIN(id) FROM visit_ticket").fetchone()[0]
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        raw_commit(conn, first)
        seconds.append(time.perf_counter() - began)
    conn.close()
    return seconds


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def sqlite_run(args: argparse.Namespace, folder: Path, every: float) -> bool:
    """One SQLite run at a desk's mean pause `every` (0: back to back); prints its figures and
    says whether the goal is met."""
    folder.mkdir()
    db = str(folder / "queue.db")
    found = run(db, args.desks, args.calls, args.kiosks, folder, raw_during=True, every=every)
    after = raw_update_commits(db)
    load = f"each desk calling on average every {every:g} s" if every else "back to back"
    _say(f"SQLite, {load}", args, found)
    p99, median = pct(found["seconds"], 0.99), pct(found["seconds"], 0.5)
    during = found["raw_seconds"]
    print(f"  call-next median {median * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")
    for name, raw in (("during the run", during), ("after the run, alone", after)):
        print(
            f"  raw UPDATE commit {name}: median {pct(raw, 0.5) * 1000:.2f} ms, "
            f"p99 {pct(raw, 0.99) * 1000:.2f} ms ({len(raw)} commits)"
        )
    ratio = p99 / pct(during, 0.99)
    met = ratio <= 5 and not found["lost"] and not found["double"] and not found["failed"]
    print(
        f"  call-next p99 / raw commit p99 during the run = {ratio:.2f}x "
        f"(goal <= 5x, 0 lost, 0 double: {'met' if met else 'NOT met'})"
    )
    print(f"  call-next p99 / raw commit median during the run = {p99 / pct(during, 0.5):.2f}x")
    if not every:
        writers = args.desks + args.kiosks
        crowded = crowd(db, writers, args.calls, folder / "crowd")
        print(
            f"  the same crowd of raw commits ({writers} processes x {args.calls} back to back, "
            f"turn included): median {pct(crowded, 0.5) * 1000:.2f} ms, "
            f"p99 {pct(crowded, 0.99) * 1000:.2f} ms; "
            f"call-next p99 / crowd p99 = {p99 / pct(crowded, 0.99):.2f}x"
        )
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--desks", type=int, default=8)
    parser.add_argument("--calls", type=int, default=150, help="tickets each desk calls")
    parser.add_argument("--kiosks", type=int, default=2)
    parser.add_argument(
        "--every", type=float, default=0.5, help="a desk's mean pause between calls, seconds"
    )
    parser.add_argument("--back-to-back", action="store_true", help="only the back-to-back run")
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="triage-queue-") as tmp:
        folder = Path(tmp)
        if not args.back_to_back:
            sqlite_run(args, folder / "paced", args.every)
        sqlite_run(args, folder / "back-to-back", 0.0)
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
                for every in (0.0,) if args.back_to_back else (args.every, 0.0):
                    url = server.create_database(f"queue_{int(every * 1000)}")
                    found = run(
                        url,
                        args.desks,
                        args.calls,
                        args.kiosks,
                        folder / f"pg-{every}",
                        every=every,
                    )
                    load = f"every {every:g} s" if every else "back to back"
                    _say(f"PostgreSQL, {load}", args, found)
                    print(
                        f"  call-next median {pct(found['seconds'], 0.5) * 1000:.2f} ms, "
                        f"p99 {pct(found['seconds'], 0.99) * 1000:.2f} ms"
                    )
            finally:
                server.cleanup()


def _say(engine: str, args: argparse.Namespace, found: dict) -> None:
    print(
        f"{engine}: {args.desks} desks x {args.calls} calls, {args.kiosks} kiosks: "
        f"{found['issued']} issued, {found['called']} called, lost {found['lost']}, "
        f"double {found['double']}, failed processes {len(found['failed'])}, "
        f"{found['elapsed']:.1f} s"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        role, *rest = sys.argv[2:]
        if role == "desk":
            db, spool, desk, calls, every, start, out = rest
            desk_worker(db, spool, desk, int(calls), float(every), Path(start), Path(out))
        elif role == "raw":
            db, every, start, stop, out = rest
            raw_worker(db, float(every), Path(start), Path(stop), Path(out))
        elif role == "crowd":
            db, commits, start, out = rest
            crowd_worker(db, int(commits), Path(start), Path(out))
        else:
            db, spool, count, every, start, out = rest
            kiosk_worker(db, spool, int(count), float(every), Path(start), Path(out))
    else:
        main()
