"""Many sites on one PostgreSQL: 30 sites × 10 desks and 30 kiosks (one a site) writing to one
throwaway server over loopback (fsync on) through a simulated busy morning.

    python benchmarks/many_sites.py [--sites 30] [--desks 10] [--kiosks 30] [--minutes 3]
                                    [--scale 60] [--workers 10] [--history-days 365]
                                    [--history-sites all|real]

Sites: 30 generated site ids (bench-01 …) in a copy of data/ in a temporary folder, each with
one queue A, so every site has its own line and the overview knows every site.

The morning is compressed: --scale simulated seconds pass each real second (60: a real second
is a simulated minute), and the kiosks issue tickets for --minutes real minutes. Each site's
kiosk issues tickets at random (Poisson) at the rate its desks can serve (desks / service
minutes of the site, so a busy morning: the line never empties for long). Each desk, through
the real code, calls the next ticket (triage.queue.Tickets.call_next), serves the citizen for a
random service time, finishes the ticket (Tickets.finish) and registers the visit with the
ticket's times (triage.db.store.Store.record). After the kiosks stop, the desks serve who still
waits, then stop.

Processes and threads: 310 processes would not fit 2 cores (each a Python interpreter with
SQLAlchemy, ~60 MB, and a scheduler fight); a desk spends nearly all its time waiting (the
citizen at the desk), so --workers desk processes each drive their share of desks as threads
over one Store (one SQLAlchemy pool, 15 connections) — as one server process would serve many
browser desks — and two kiosk processes drive the kiosks likewise. The database work in a
thread releases the GIL while it waits for the server.

Beside them, one more process commits one raw psycopg INSERT of a visit row into a copy of the
visit table without the rollup triggers every 10 ms during the run: what one commit costs on
that server at that moment. Reported: tickets issued and called, visits written, lost (issued,
never called) and double (called more than once), both must be 0; the commit p99 of a visit
(Store.record) and of a call-next that took a ticket, against the raw INSERT commit's p99 and
median; then the supervisor's overview (triage.overview) for this year and for today on that
database, against a raw query over the hourly rollup. Goal: 0 lost, 0 double, commit p99 ≤ 5×
the raw INSERT commit's p99.

--history-days N first loads N days of demo visits up to today (--per-day an ordinary Tuesday,
2537: the density of the 5 M history of benchmarks/footfall.py), so the overview is also timed
on a large history (a year: about 490,000 visits); --minutes 0 times the overview alone. The
demo routes citizens to Copenhagen's three jobcentres only; a server of 30 sites has a history
at every site, so each of their visits is dealt to its own site or one of the generated sites
(bench-01 … shared round the three), which the overview then counts as 33 sites' year.
--history-sites real keeps the demo's three.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path, and benchmarks/ holds files that
# would stand in for standard modules: put the project there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

SERVICE_MINUTES = 6
POLL_S = 0.5  # a desk with nobody waiting asks again after this (real seconds)
DEADLINE_S = 1800.0  # a worker gives up after this: a hang is reported, not waited for


def site_ids(count: int) -> list[str]:
    return [f"bench-{n + 1:02d}" for n in range(count)]


def make_data(folder: Path, sites: int) -> Path:
    """A copy of data/ with `sites` more jobcentre sites, each with its own queue A."""
    data = folder / "data"
    shutil.copytree(ROOT / "data", data)
    site_text, queue_text = [], []
    for n, site in enumerate(site_ids(sites), start=1):
        site_text.append(
            f'\n[site.{site}]\nkind = "jobcenter"\n'
            f'name = {{ da = "Bænk {n}", en = "Bench {n}" }}\n'
            'address = "Skelbækgade, 1717 København V"\npostcode = "1717"\n'
            'hours = { mon = "09:00-15:00", tue = "09:00-15:00", wed = "09:00-15:00", '
            'thu = "09:00-17:00", fri = "09:00-13:00" }\n'
            f"target_share = 0.0\ncapacity = 10\nservice_minutes = {SERVICE_MINUTES}\n"
        )
        queue_text.append(f'\n[site.{site}]\nqueues = ["A"]\ndefault = "A"\n')
    with open(data / "sites.toml", "a", encoding="utf-8") as out:
        out.write("".join(site_text))
    with open(data / "queues.toml", "a", encoding="utf-8") as out:
        out.write("".join(queue_text))
    return data


def _wait_for(flag: Path) -> None:
    while not flag.exists():
        time.sleep(0.005)


def _store(db: str, spool: str, name: str):
    from triage.db.store import Store

    store = Store(db, desk=name, spool_dir=Path(spool))
    store.open()
    return store


def _visit(site: str, desk: str) -> dict:
    from triage import paths
    from triage.load import load_or_raise
    from triage.visits import visit_from_result
    from triage.walk import route

    global _RESULT
    if _RESULT is None:
        _RESULT = route(load_or_raise(paths.default_data_dir()), ["2", "1", "2100"])
    return visit_from_result(_RESULT, site, desk, "in_person", 1.0)


_RESULT = None


def desk_worker(db: str, spool: str, desks: list[str], scale: float, flags: Path, out: Path):
    """Each desk ("site/desk") a thread: call, serve, finish, register, until the kiosks
    have stopped and nobody waits at its site."""
    from triage.queue import Tickets

    store = _store(db, spool, out.stem)
    _visit("x", "x")  # the data loaded once, before the clock starts
    lock = threading.Lock()
    found: dict[str, list] = {"called": [], "call_s": [], "visit_s": [], "saved": [], "errors": []}

    def desk(site: str, name: str) -> None:
        tickets = Tickets(store)
        rng = random.Random(f"{site}/{name}")
        give_up = time.monotonic() + DEADLINE_S
        called, call_s, visit_s, saved = [], [], [], []
        try:
            while time.monotonic() < give_up:
                began = time.perf_counter()
                ticket = tickets.call_next(site, name)
                took = time.perf_counter() - began
                if ticket is None:
                    if (flags / "kiosks-done").exists():
                        break
                    time.sleep(POLL_S)
                    continue
                called.append(ticket.id)
                call_s.append(took)
                time.sleep(rng.expovariate(1 / (SERVICE_MINUTES * 60)) / scale)
                served = tickets.finish(ticket.id, name)
                visit = served.on(_visit(site, name))
                began = time.perf_counter()
                saved.append(store.record(visit))
                visit_s.append(time.perf_counter() - began)
        except Exception as error:  # reported, not hidden: a desk that fails counts
            with lock:
                found["errors"].append(f"{site}/{name}: {error!r}")
        with lock:
            found["called"] += called
            found["call_s"] += call_s
            found["visit_s"] += visit_s
            found["saved"] += saved

    threads = [
        threading.Thread(target=desk, args=tuple(d.split("/", 1)), daemon=True) for d in desks
    ]
    _wait_for(flags / "start")
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.write_text(json.dumps(found))


def kiosk_worker(
    db: str, spool: str, sites: list[str], rate: float, seconds: float, flags: Path, out: Path
):
    """Each site's kiosk a thread issuing tickets at random, `rate` a real second, for
    `seconds`."""
    from triage.queue import Tickets

    store = _store(db, spool, out.stem)
    lock = threading.Lock()
    found: dict[str, list] = {"issued": [], "issue_s": [], "errors": []}

    def kiosk(site: str) -> None:
        tickets = Tickets(store)
        rng = random.Random(site)
        issued, issue_s = [], []
        stop = time.monotonic() + seconds
        try:
            while True:
                time.sleep(rng.expovariate(rate))
                if time.monotonic() >= stop:
                    break
                began = time.perf_counter()
                issued.append(tickets.issue(site, "A", "apply_benefits").ticket_id)
                issue_s.append(time.perf_counter() - began)
        except Exception as error:
            with lock:
                found["errors"].append(f"{site}: {error!r}")
        with lock:
            found["issued"] += issued
            found["issue_s"] += issue_s

    threads = [threading.Thread(target=kiosk, args=(s,), daemon=True) for s in sites]
    _wait_for(flags / "start")
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.write_text(json.dumps(found))


def raw_worker(dsn: str, flags: Path, out: Path) -> None:
    """One raw psycopg INSERT of a visit row and its commit every 10 ms during the run."""
    import psycopg

    from triage.db.store import _row
    from triage.visits import FIELDS

    sql = f"INSERT INTO visit_raw ({', '.join(FIELDS)}) VALUES ({', '.join('%s' for _ in FIELDS)})"
    seconds = []
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS visit_raw (LIKE visit INCLUDING DEFAULTS)")
        conn.commit()
        _wait_for(flags / "start")
        while not (flags / "desks-done").exists():
            time.sleep(0.01)
            row = _row(_visit("bench-raw", "raw"))
            values = tuple(row[f] for f in FIELDS)
            began = time.perf_counter()
            conn.execute(sql, values)
            conn.commit()
            seconds.append(time.perf_counter() - began)
    out.write_text(json.dumps({"raw_s": seconds}))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def ms(value: float) -> str:
    return f"{value * 1000:.2f} ms"


def run(url: str, dsn: str, args: argparse.Namespace, folder: Path) -> dict:
    from triage.db.store import Store

    made = Store(url, spool_dir=folder / "spool")
    made.open()  # the schema made once, before the workers race
    made.dispose()
    flags = folder / "flags"
    flags.mkdir()
    spool = str(folder / "spool")
    sites = site_ids(args.sites)
    desks = [f"{s}/skranke-{d + 1}" for s in sites for d in range(args.desks)]
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    desk_procs, kiosk_procs = [], []
    for w in range(args.workers):
        share = desks[w :: args.workers]
        if share:
            out = folder / f"desks-{w}.json"
            cmd = [
                *me,
                "desk",
                url,
                spool,
                json.dumps(share),
                str(args.scale),
                str(flags),
                str(out),
            ]
            desk_procs.append((out, subprocess.Popen(cmd)))
    kiosk_sites = sites[: args.kiosks]
    # A site's kiosk issues as fast as its desks serve: desks / service minutes, sped up.
    rate = args.desks / (SERVICE_MINUTES * 60) * args.scale
    seconds = args.minutes * 60
    for k in range(2):
        share = kiosk_sites[k::2]
        if share:
            out = folder / f"kiosks-{k}.json"
            cmd = [*me, "kiosk", url, spool, json.dumps(share), str(rate), str(seconds)]
            kiosk_procs.append((out, subprocess.Popen([*cmd, str(flags), str(out)])))
    raw_out = folder / "raw.json"
    raw = subprocess.Popen([*me, "raw", dsn, str(flags), str(raw_out)])
    time.sleep(3.0)  # imports and opening; the workers wait for the start flag
    (flags / "start").touch()
    began = time.monotonic()
    failed = [p.args[3] for _, p in kiosk_procs if p.wait(timeout=DEADLINE_S + 60) != 0]
    (flags / "kiosks-done").touch()
    failed += [p.args[3] for _, p in desk_procs if p.wait(timeout=DEADLINE_S + 60) != 0]
    elapsed = time.monotonic() - began
    (flags / "desks-done").touch()
    if raw.wait(timeout=60) != 0:
        failed.append("raw")
    results = [json.loads(out.read_text()) for out, _ in desk_procs + kiosk_procs if out.exists()]
    gather = lambda key: [x for r in results for x in r.get(key, [])]  # noqa: E731
    issued, called = gather("issued"), gather("called")
    return {
        "failed": failed,
        "errors": gather("errors"),
        "issued": issued,
        "called": called,
        "saved": gather("saved"),
        "call_s": gather("call_s"),
        "visit_s": gather("visit_s"),
        "issue_s": gather("issue_s"),
        "raw_s": json.loads(raw_out.read_text())["raw_s"] if raw_out.exists() else [],
        "elapsed": elapsed,
    }


def database_counts(dsn: str) -> dict:
    import psycopg

    with psycopg.connect(dsn) as conn:
        visits = conn.execute("SELECT COUNT(*) FROM visit").fetchone()[0]
        states = dict(conn.execute("SELECT state, COUNT(*) FROM visit_ticket GROUP BY state"))
    return {"visits": visits, "states": states}


def load_history(
    dsn: str, url: str, data: Path, folder: Path, days: int, per_day: int, spread: list[str]
) -> int:
    """Demo visits of the last `days` days (as `triage demo` makes them, `per_day` an ordinary
    Tuesday) loaded into the PostgreSQL database: made on SQLite first (the demo's fast path is
    SQLite's own), copied over with COPY while the rollup triggers are off, and the rollups then
    counted from the visits by the store's repair (what `triage check --repair` does). With
    `spread` sites each visit at a jobcentre goes to that jobcentre or one of the `spread` sites
    dealt to it, chosen by the visit's id (a visit handled where it came stays so)."""
    import sqlite3

    import psycopg

    from triage.db.store import Store
    from triage.demo import DemoHistory
    from triage.load import load_or_raise
    from triage.visits import FIELDS

    made = folder / "history.db"
    demo = Store(made, spool_dir=folder / "spool")
    demo.open()
    today = date.today()
    demo.load_demo(DemoHistory(load_or_raise(data), days, 2006, per_day, today))
    demo.dispose()
    columns = ", ".join(FIELDS)
    site_at, destination_at = FIELDS.index("site_id"), FIELDS.index("destination_id")
    jobcentres = sorted(s.id for s in load_or_raise(data).sites if s.kind == "jobcenter")
    jobcentres = [s for s in jobcentres if s not in spread]
    dealt = {s: [s] + spread[i :: len(jobcentres)] for i, s in enumerate(jobcentres)}
    copied = 0
    with sqlite3.connect(made) as source, psycopg.connect(dsn) as conn:
        conn.execute("ALTER TABLE visit DISABLE TRIGGER USER")
        with conn.cursor().copy(f"COPY visit ({columns}) FROM STDIN") as copy:
            for row in source.execute(f"SELECT {columns} FROM visit ORDER BY id"):  # noqa: S608
                sites = dealt.get(row[site_at]) if spread else None
                if sites:
                    row = list(row)
                    site = sites[zlib.crc32(row[0].encode()) % len(sites)]
                    if row[destination_at] == row[site_at]:
                        row[destination_at] = site
                    row[site_at] = site
                copy.write_row(row)
                copied += 1
        conn.execute("ALTER TABLE visit ENABLE TRIGGER USER")
        conn.commit()
    store = Store(url, spool_dir=folder / "spool")
    store.open()
    store.repair()
    store.dispose()
    made.unlink()
    return copied


def overview_times(url: str, dsn: str, data: Path, folder: Path, runs: int) -> list[str]:
    """The overview for this year and for today on that database, beside a raw query over the
    hourly rollup (site × hour, this year)."""
    import psycopg

    from triage.db.store import Store
    from triage.load import load_or_raise
    from triage.model import LOCAL_ZONE
    from triage.overview import overview, period_dates

    flow = load_or_raise(data)
    store = Store(url, spool_dir=folder / "spool")
    store.open()
    now = datetime.now(LOCAL_ZONE)
    today = now.date()
    year = (date(today.year, 1, 1), period_dates("today", today)[1])
    rollup_sql = (
        "SELECT site_id, local_hour, SUM(visits) FROM visit_hourly WHERE local_date >= %s "
        "AND local_date < %s GROUP BY site_id, local_hour"
    )

    def timed(fn) -> float:
        fn()  # warm: statements prepared, caches filled
        walls = []
        for _ in range(runs):
            began = time.perf_counter()
            fn()
            walls.append(time.perf_counter() - began)
        return statistics.median(walls)

    with psycopg.connect(dsn) as conn:
        raw = timed(lambda: conn.execute(rollup_sql, year).fetchall())
    lines = [f"raw query over the hourly rollup, this year: {ms(raw)} (median of {runs})"]
    for name, period in (("one-year", year), ("today's", period_dates("today", today))):
        took = timed(lambda p=period: overview(store, flow.sites, *p, now))
        lines.append(f"{name} overview: {ms(took)} = {took / raw:.1f}x the raw rollup query")
    store.dispose()
    return lines


class Server:
    """tests/postgres.py's throwaway server, fsync on, with room for every worker's pool."""

    def __init__(self) -> None:
        from tests.postgres import ThrowawayPostgres, server_bin

        bin_dir = server_bin()
        if bin_dir is None:
            sys.exit("PostgreSQL's server programs (initdb, pg_ctl) are not installed here.")

        class Roomy(ThrowawayPostgres):
            def start(self) -> None:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.base / "log"), "-w",
                    "-o", f"-k {self.base} -p {self.port} -c listen_addresses=127.0.0.1 "
                    "-c fsync=on -c max_connections=400",
                    "start",
                )  # fmt: skip

        self.pg = Roomy(bin_dir, fsync=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=30)
    parser.add_argument("--desks", type=int, default=10, help="desks a site")
    parser.add_argument("--kiosks", type=int, default=30, help="sites with a kiosk (one each)")
    parser.add_argument("--minutes", type=float, default=3.0, help="real minutes of issuing")
    parser.add_argument("--scale", type=float, default=60.0, help="simulated seconds a second")
    parser.add_argument("--workers", type=int, default=10, help="desk processes")
    parser.add_argument(
        "--runs", type=int, default=40, help="overview timings (a screen refreshes all day)"
    )
    parser.add_argument("--history-days", type=int, default=0, help="demo history first")
    parser.add_argument("--per-day", type=int, default=2537, help="demo visits, a Tuesday")
    parser.add_argument(
        "--history-sites",
        choices=("all", "real"),
        default="all",
        help="history at every site (dealt out), or at the demo's three jobcentres",
    )
    args = parser.parse_args()
    args.kiosks = min(args.kiosks, args.sites)
    import psycopg

    from triage.db.store import Store

    server = Server().pg
    with tempfile.TemporaryDirectory(prefix="triage-many-") as tmp:
        folder = Path(tmp)
        data = make_data(folder, args.sites)
        try:
            server.init()
            server.start()
            url = server.create_database("many")
            dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname=many"
            if args.history_days:
                made = Store(url, spool_dir=folder / "spool")
                made.open()
                made.dispose()
                began = time.monotonic()
                spread = site_ids(args.sites) if args.history_sites == "all" else []
                loaded = load_history(
                    dsn, url, data, folder, args.history_days, args.per_day, spread
                )
                with psycopg.connect(dsn) as conn:
                    (at_sites,) = conn.execute(
                        "SELECT COUNT(DISTINCT site_id) FROM visit"
                    ).fetchone()
                print(
                    f"history: {loaded:,} demo visits of {args.history_days} days at {at_sites} "
                    f"sites loaded in {time.monotonic() - began:.0f} s"
                )
            if args.minutes > 0:
                found = run(url, dsn, args, folder)
                report(args, found, database_counts(dsn))
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")  # as autovacuum keeps the tables, soon after
            for line in overview_times(url, dsn, data, folder, args.runs):
                print(f"  {line}")
        finally:
            server.cleanup()


def report(args: argparse.Namespace, found: dict, counts: dict) -> None:
    issued, called = found["issued"], found["called"]
    lost = len(set(issued) - set(called))
    double = len(called) - len(set(called))
    saved = found["saved"]
    print(
        f"PostgreSQL (fsync on, loopback): {args.sites} sites x {args.desks} desks in "
        f"{args.workers} processes, {args.kiosks} kiosks in 2 processes, "
        f"{args.minutes:g} min of issuing at {args.scale:g}x ({args.minutes * args.scale:g} "
        f"simulated min), {found['elapsed']:.1f} s in all"
    )
    print(
        f"  tickets issued {len(issued)}, called {len(called)}; visits registered {len(saved)} "
        f"(saved {saved.count('saved')}, spooled {saved.count('spooled')}); in the database: "
        f"{counts['visits']} visits, tickets {counts['states']}"
    )
    print(
        f"  lost {lost}, double-called {double}, failed processes {len(found['failed'])}, "
        f"errors {len(found['errors'])}"
    )
    for error in found["errors"][:5]:
        print(f"    {error}")
    raw = found["raw_s"]
    print(f"  raw psycopg INSERT commit during the run: median {ms(pct(raw, 0.5))}, "
          f"p99 {ms(pct(raw, 0.99))} ({len(raw)} commits)")  # fmt: skip
    met = True
    for name, values in (("visit (Store.record)", found["visit_s"]),
                         ("call-next (took a ticket)", found["call_s"]),
                         ("ticket issue (kiosk)", found["issue_s"])):  # fmt: skip
        p99 = pct(values, 0.99)
        ratio = p99 / pct(raw, 0.99)
        if not name.startswith("ticket"):
            met = met and ratio <= 5
        print(
            f"  {name}: median {ms(pct(values, 0.5))}, p99 {ms(p99)} = {ratio:.2f}x raw p99, "
            f"{p99 / pct(raw, 0.5):.1f}x raw median ({len(values)})"
        )
    ok = met and not lost and not double and not found["failed"] and not found["errors"]
    print(f"  goal (0 lost, 0 double, visit and call-next p99 <= 5x raw p99): "
          f"{'met' if ok else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        role, *rest = sys.argv[2:]
        if role == "desk":
            db, spool, desks, scale, flags, out = rest
            desk_worker(db, spool, json.loads(desks), float(scale), Path(flags), Path(out))
        elif role == "kiosk":
            db, spool, sites, rate, seconds, flags, out = rest
            kiosk_worker(
                db, spool, json.loads(sites), float(rate), float(seconds), Path(flags), Path(out)
            )
        else:
            dsn, flags, out = rest
            raw_worker(dsn, Path(flags), Path(out))
    else:
        main()
