"""Fault injection: the visit log tried as an attacker would, and what arrived in the end.

    python benchmarks/faults.py [--quick] [--only 5,14] [--desks 4] [--visits 250] [--no-postgres]

Each of 21 faults runs in a fresh temporary folder, mostly with several desk processes writing
through the desk's own log (triage.desklog.DeskLog.record), and is judged by its end state only:
rows in the database after a final `triage spool flush`, files in the spool folder, and what the
`triage` command said (exit code, messages). Per fault it prints whether the promise held:

- acknowledged: visits the desk was told are 'saved' or 'spooled';
- present: acknowledged visits in the visit table exactly once; duplicates: visit ids found twice;
- quarantined: acknowledged visits not in the table but in a quarantine file of the spool folder
  (any file there not named *.jsonl that holds the visit id) AND counted by `triage spool status`;
- lost = acknowledged - present - quarantined;
- rollups: every rollup table (visit_* with a `visits` column) equal to counting the visit table
  directly, row by row (per day, site, hour, ...);
- tracebacks: outputs of any process (desks, commands) that contain a Python traceback.

A fault holds when nothing is lost or doubled, the rollups are exact, no traceback was seen, and
its own checks pass (the reason is printed otherwise). The script always exits 0 (it measures);
1 only if it breaks itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SITE = "jc-skelbaek"
ROUTES = (["2", "1", "2100"], ["1", "1"], ["2", "1", "-"], ["2", "1", "2400"])
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
# `spool status` counting entries set aside: a number above 0 and the word, on one line.
REPORTED = re.compile(
    r"(quarantin|set aside)[^\n]*?\b[1-9]\d*\b"
    r"|\b[1-9]\d*\b[^\n]*?(quarantin|set aside)",
    re.IGNORECASE,
)


# --- one desk process ---------------------------------------------------------------------------


def desk_process(spec: dict) -> None:
    """Run as `faults.py --desk-process JSON`: record visits through DeskLog, one line each.

    Prints `saved ID` / `spooled ID` (acknowledged), `refused CODE` (the desk said it could not
    keep the visit) or `error TYPE` (with its traceback on stderr: the desk would have crashed)."""
    from triage import paths
    from triage.db.errors import DbError
    from triage.desklog import DeskLog
    from triage.load import load_or_raise
    from triage.visits import visit_from_result
    from triage.walk import route

    flow = load_or_raise(paths.default_data_dir())
    results = [route(flow, answers) for answers in ROUTES]
    log = DeskLog(spec["db"], SITE, spec["desk"], spool_dir=Path(spec["spool"]))
    if spec.get("open", True):
        try:
            print(f"opened {log.open()}", flush=True)
        except DbError as error:
            print(f"opened refused:{error.code}", flush=True)
        except Exception as error:  # noqa: BLE001 - the desk would have crashed: counted
            traceback.print_exc()
            print(f"error {type(error).__name__}", flush=True)
    go = spec.get("go")
    while go and not Path(go).exists():
        time.sleep(0.005)
    failures = 0
    rng = random.Random(spec["desk"])
    now = datetime.now(UTC)
    for number in range(spec["count"]):
        if spec.get("fsize") is not None and number == spec.get("limit_after", 0):
            _limit_file_size(spec)
        at = None
        if spec.get("days_back"):  # spread over past days
            at = now - timedelta(
                days=rng.randrange(spec["days_back"] + 1), minutes=rng.randrange(600)
            )
        visit = visit_from_result(
            rng.choice(results), SITE, spec["desk"], "in_person", 12.0, at_utc=at
        )
        try:
            status = log.record(visit)
            print(f"{status} {visit['visit_id']}", flush=True)
        except DbError as error:
            print(f"refused {error.code}", flush=True)
            failures += 1
        except Exception as error:  # noqa: BLE001 - the desk would have crashed: counted
            traceback.print_exc()
            print(f"error {type(error).__name__}", flush=True)
            failures += 1
        if spec.get("lift_after") is not None and failures == spec["lift_after"]:
            _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # the disk has room again
        if spec.get("pace"):
            time.sleep(spec["pace"])


def _limit_file_size(spec: dict) -> None:
    """A full disk: no file this process writes may grow past `fsize` bytes (or past the largest
    file in `fsize_dir` plus `fsize` bytes). SIGXFSZ ignored, so a write fails with EFBIG."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = spec["fsize"]
    if spec.get("fsize_dir"):
        sizes = [p.stat().st_size for p in Path(spec["fsize_dir"]).glob("*") if p.is_file()]
        limit += max(sizes, default=0)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))


# --- what each fault records ---------------------------------------------------------------------


@dataclass
class Outcome:
    acknowledged: set[str] = field(default_factory=set)
    present: int = 0
    duplicates: int = 0
    quarantined: int = 0
    lost: int = 0
    tracebacks: int = 0
    rollups_exact: bool | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""

    def require(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.problems.append(problem)
        return ok

    @property
    def held(self) -> bool:
        return (
            not self.problems
            and self.lost == 0
            and self.duplicates == 0
            and self.tracebacks == 0
            and self.rollups_exact is not False
        )


@dataclass
class Desks:
    """Desk processes started together; their output goes to files (no pipe ever fills up)."""

    procs: list[subprocess.Popen]
    outputs: list[Path]
    errors: list[Path]

    def lines(self) -> list[str]:
        return [
            line for path in self.outputs if path.exists() for line in path.read_text().splitlines()
        ]

    def acknowledged(self) -> int:
        return sum(line.startswith(("saved ", "spooled ")) for line in self.lines())


class Run:
    """One fault's folder, its outcome, and the helpers every fault shares."""

    def __init__(self, folder: Path, args: argparse.Namespace) -> None:
        self.folder = folder
        self.args = args
        self.out = Outcome()
        self.spool = folder / "spool"
        self.counter = 0
        self.pending: set[str] = set()  # acknowledged, not yet looked for by arrived()
        self.started: list[subprocess.Popen] = []  # every desk process, stopped at the end

    def env(self) -> dict[str, str]:
        """The code under test (this checkout), and a user data folder of the fault's own."""
        return {**os.environ, "XDG_DATA_HOME": str(self.folder / "xdg"), "PYTHONPATH": str(ROOT)}

    # the `triage` command, as a person runs it
    def cli(self, *argv: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "triage", *argv],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=self.env(),
            timeout=300,
        )
        self.saw(done.stdout + done.stderr, f"`triage {' '.join(argv[:2])}`")
        return done

    def saw(self, output: str, where: str) -> None:
        """Count an output that holds a traceback (a person would have seen it)."""
        if "Traceback" in output:
            self.out.tracebacks += 1
            self.out.notes.append(f"traceback from {where}: {last_line(output)}")

    def says_no(self, what: str, *argv: str) -> bool:
        """The command refuses with exit 1 and a message, no traceback."""
        done = self.cli(*argv)
        ok = done.returncode == 1 and done.stderr.strip() and "Traceback" not in done.stderr
        said = last_line(done.stderr) or "no message"
        return self.out.require(bool(ok), f"{what}: exit {done.returncode}, {said}")

    # desks
    def start_desks(
        self,
        db: str,
        desks: int | None = None,
        per_desk: int | None = None,
        names: list[str] | None = None,
        **spec,
    ) -> Desks:
        per_desk = per_desk or self.args.visits
        if names is None:
            names = [f"desk-{self.counter + i + 1}" for i in range(desks or self.args.desks)]
            self.counter += len(names)
        procs, outputs, errors = [], [], []
        for name in names:
            name_out = f"{name}-{len(list(self.folder.glob(name + '-*.out')))}"
            outputs.append(self.folder / f"{name_out}.out")
            errors.append(self.folder / f"{name_out}.err")
            full = {"db": db, "spool": str(self.spool), "desk": name, "count": per_desk, **spec}
            argv = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--desk-process",
                json.dumps(full),
            ]
            with open(outputs[-1], "w") as stdout, open(errors[-1], "w") as stderr:
                procs.append(
                    subprocess.Popen(argv, stdout=stdout, stderr=stderr, cwd=ROOT, env=self.env())
                )
        self.started.extend(procs)
        return Desks(procs, outputs, errors)

    def finish_desks(
        self, desks: Desks, timeout: float = 300, acknowledge: bool = True
    ) -> dict[str, int]:
        """Wait for the desks; take in what they acknowledged (unless the fault is about to
        destroy it); count their answers by kind."""
        for proc in desks.procs:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self.out.problems.append("a desk hung and was stopped")
        kinds: dict[str, int] = {}
        for line in desks.lines():
            kind, _, rest = line.partition(" ")
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind in ("saved", "spooled") and acknowledge:
                self.out.acknowledged.add(rest.strip())
                self.pending.add(rest.strip())
            if kind in ("refused", "opened"):
                kinds[f"{kind} {rest}"] = kinds.get(f"{kind} {rest}", 0) + 1
        for path in desks.errors:
            self.saw(path.read_text() if path.exists() else "", "a desk")
        return kinds

    def desks_write(self, db: str, acknowledge: bool = True, **spec) -> dict[str, int]:
        """N desks write M visits each, all at once; returns their answers by kind."""
        go = self.folder / f"go-{time.monotonic_ns()}"
        desks = self.start_desks(db, go=str(go), **spec)
        time.sleep(0.3)
        go.touch()
        return self.finish_desks(desks, acknowledge=acknowledge)

    def postgres_database(self, name: str) -> str | None:
        """A fresh database on the throwaway server (started on first use), tables made."""
        if self.args.no_postgres:
            self.out.skipped = "--no-postgres"
            return None
        if self.args.postgres_server is None:
            from tests.postgres import ThrowawayPostgres, server_bin

            bin_dir = server_bin()
            if bin_dir is None:
                self.out.skipped = "PostgreSQL is not installed here"
                return None
            server = ThrowawayPostgres(bin_dir)
            server.init()
            server.start()
            self.args.postgres_server = server
        return new_database(self.args.postgres_server.create_database(name))

    # the end state
    def arrived(self, url: str, flush: bool = True, since: date | None = None) -> None:
        """Flush the spool, then count what arrived of the visits acknowledged since the last
        call, what is quarantined, and check the rollups."""
        out = self.out
        acknowledged, self.pending = self.pending, set()
        if flush:
            done = self.cli("spool", "flush", "--db", url, "--spool-dir", str(self.spool))
            if done.returncode not in (0, 1):
                out.notes.append(f"final flush: exit {done.returncode}")
        try:
            counts, readable = visit_ids(url), True
        except Exception as error:  # noqa: BLE001 - unreadable at the end: all of it is lost
            out.problems.append(f"the database cannot be read at the end: {error!r:.100}")
            counts, readable = {}, False
        present = {i for i in acknowledged if counts.get(i) == 1}
        out.present += len(present)
        out.duplicates += sum(1 for n in counts.values() if n > 1)
        missing = acknowledged - set(counts)
        set_aside, waiting_lines = quarantine_text(self.spool), waiting_text(self.spool)
        quarantined = {i for i in missing if i in set_aside}
        if quarantined and not self.status_reports_quarantine():
            out.notes.append(
                f"{len(quarantined)} in a quarantine file, not counted by `spool status`"
            )
            quarantined = set()
        out.quarantined += len(quarantined)
        out.lost += len(acknowledged - present - quarantined)
        waiting = sum(1 for i in missing if i in waiting_lines)
        if waiting:
            out.notes.append(f"{waiting} still waiting in the spool after the flush")
        if readable:
            exact, detail = rollups_exact(url, since)
            out.rollups_exact = exact and out.rollups_exact is not False
            if not exact:
                out.notes.append(detail)

    def status_reports_quarantine(self) -> bool:
        """`spool status` names a count of entries quarantined (or set aside). Folder names are
        taken out first: a digit in a path is not a count."""
        done = self.cli("spool", "status", "--spool-dir", str(self.spool), "--lang", "en")
        said = (done.stdout + done.stderr).replace(str(self.folder.parent), "FOLDER")
        return bool(REPORTED.search(said))

    def bad_entry_kept(self, marker: str, what: str) -> None:
        """An entry that cannot be stored is in a quarantine file and `spool status` counts it.
        (`42` must stand alone there, not inside a visit id.)"""
        found = re.search(
            rf"(^|[^0-9a-f]){re.escape(marker)}($|[^0-9a-f])",
            quarantine_text(self.spool),
            re.MULTILINE,
        )
        self.out.require(bool(found), f"{what}: not found in any quarantine file")
        self.out.require(
            self.status_reports_quarantine(), f"{what}: `spool status` reports no quarantined entry"
        )


def last_line(text: str) -> str:
    """What a traceback ended in (the exception's own line), else the last line said."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    raised = [
        line
        for line in lines
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Warning)\b", line)
    ]
    return (raised or lines or [""])[-1][:140]


# --- reading the end state --------------------------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def engine_for(url: str):
    from sqlalchemy import create_engine

    return create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})


def query(url: str, sql: str, params: dict | None = None) -> list[tuple]:
    from sqlalchemy import text

    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params or {})]
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    from sqlalchemy import text

    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def visit_ids(url: str) -> dict[str, int]:
    return dict(query(url, "SELECT visit_id, COUNT(*) FROM visit GROUP BY visit_id"))


def schema_version(url: str) -> str | None:
    rows = query(url, "SELECT value FROM triage_meta WHERE key = 'schema_version'")
    return rows[0][0] if rows else None


def set_schema_version(url: str, value: str) -> None:
    execute(url, f"UPDATE triage_meta SET value = '{value}' WHERE key = 'schema_version'")


def is_quarantine(path: Path) -> bool:
    """Where entries set aside go: any file in the spool folder not named *.jsonl, or one whose
    name says it is a quarantine (the format is not fixed; nothing else is assumed)."""
    return not path.name.endswith(".jsonl") or "quarantin" in path.name.lower()


def spool_files(spool: Path, waiting: bool) -> list[Path]:
    if not spool.is_dir():
        return []
    return [p for p in spool.rglob("*") if p.is_file() and is_quarantine(p) != waiting]


def quarantine_text(spool: Path) -> str:
    """Everything in the spool folder's quarantine files."""
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in spool_files(spool, False))


def waiting_text(spool: Path) -> str:
    """Everything still waiting to be sent."""
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in spool_files(spool, True))


def new_database(target: Path | str) -> str:
    """A database (a SQLite path or a URL) made ready the way the desk makes it; its URL."""
    from triage.db.store import Store

    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
    store = Store(target, spool_dir=Path(tempfile.gettempdir()) / "triage-faults-unused-spool")
    store.open()
    store.dispose()
    return sqlite_url(target) if isinstance(target, Path) else target


def checkpoint(path: Path) -> None:
    """Fold the WAL into the file and empty it, so the file alone holds the database."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _norm(value) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return str(value)


def rollup_tables(url: str) -> dict[str, list[str]]:
    """Every rollup (a visit_* table with a `visits` column) and its other columns."""
    from sqlalchemy import inspect

    engine = engine_for(url)
    try:
        found = inspect(engine)
        tables = {}
        for name in found.get_table_names():
            columns = [c["name"] for c in found.get_columns(name)]
            if name.startswith("visit_") and "visits" in columns:
                tables[name] = [c for c in columns if c != "visits"]
        return tables
    finally:
        engine.dispose()


def rollup_snapshot(url: str) -> dict[str, dict[tuple, int]]:
    snapshot = {}
    for table, columns in rollup_tables(url).items():
        rows = query(url, f"SELECT {', '.join(columns)}, visits FROM {table}")
        snapshot[table] = {tuple(_norm(v) for v in row[:-1]): row[-1] for row in rows if row[-1]}
    return snapshot


def rollups_exact(url: str, since: date | None = None) -> tuple[bool, str]:
    """Each rollup against counting the visit table directly, row by row (from `since` on, and
    whole months from then on, when older detail has been purged)."""
    from sqlalchemy import inspect

    month = (
        "CAST(date_trunc('month', local_date) AS date)"
        if url.startswith("postgres")
        else "date(local_date, 'start of month')"
    )
    engine = engine_for(url)
    try:
        visit_columns = {c["name"] for c in inspect(engine).get_columns("visit")}
    finally:
        engine.dispose()
    first_month = None
    if since is not None:
        next_month = (since.replace(day=28) + timedelta(days=4)).replace(day=1)
        first_month = since if since.day == 1 else next_month
    wrong, unchecked = [], []
    for table, columns in rollup_tables(url).items():
        # a day's weekday follows from its date: counted by the date alone
        grouped = [c for c in columns if not (c == "local_weekday" and "local_date" in columns)]
        unknown = [c for c in grouped if c != "month" and c not in visit_columns]
        if unknown:
            unchecked.append(f"{table} ({', '.join(unknown)} not in the visit table)")
            continue
        expressions = {
            c: month
            if c == "month"
            else "COALESCE(postcode_site_id, '')"
            if c == "postcode_site_id"
            else c
            for c in grouped
        }
        where = ["voided_utc IS NULL"] + (["postcode IS NOT NULL"] if "postcode" in grouped else [])
        rolled_where = ["1 = 1"]
        key = "local_date" if "local_date" in grouped else "month" if "month" in grouped else None
        if since is not None and key:
            start = (since if key == "local_date" else first_month).isoformat()
            where.append(f"{expressions[key]} >= '{start}'")
            rolled_where.append(f"{key} >= '{start}'")
        chosen = ", ".join(expressions[c] for c in grouped)
        detail = query(
            url,
            f"SELECT {chosen}, COUNT(*) FROM visit WHERE {' AND '.join(where)} GROUP BY {chosen}",
        )
        rolled = query(
            url,
            f"SELECT {', '.join(grouped)}, SUM(visits) FROM {table} "
            f"WHERE {' AND '.join(rolled_where)} GROUP BY {', '.join(grouped)}",
        )
        counted = {tuple(_norm(v) for v in row[:-1]): int(row[-1]) for row in detail}
        summed = {tuple(_norm(v) for v in row[:-1]): int(row[-1]) for row in rolled if row[-1]}
        if counted != summed:
            differ = sum(
                1 for k in counted.keys() | summed.keys() if counted.get(k) != summed.get(k)
            )
            wrong.append(
                f"{table} {sum(summed.values()):,} vs {sum(counted.values()):,} counted "
                f"({differ} rows differ)"
            )
    said = "rollups wrong: " + "; ".join(wrong) if wrong else ""
    said += ("; not checked: " + ", ".join(unchecked)) if unchecked else ""
    return not wrong, said


# --- the faults -----------------------------------------------------------------------------------


def unreachable_db(run: Run) -> Path:
    """A database in a folder that does not exist yet: every write spools until it is made."""
    return run.folder / "later" / "visits.db"


def spool_some(run: Run, **spec) -> Path:
    """Desks write while the database is missing: every visit they confirm is spooled."""
    db = unreachable_db(run)
    kinds = run.desks_write(str(db), **spec)
    run.out.require(
        kinds.get("spooled", 0) == len(run.out.acknowledged) > 0,
        f"desks without a database did not spool: {kinds}",
    )
    return db


def fault_01(run: Run) -> None:
    """Schema-version row deleted, then the database opened 5 times: no figure may change."""
    db = run.folder / "visits.db"
    url = new_database(db)
    run.desks_write(str(db))
    before = rollup_snapshot(url)
    execute(url, "DELETE FROM triage_meta WHERE key = 'schema_version'")
    for attempt in range(1, 6):
        done = run.cli("summary", "--db", str(db), "--spool-dir", str(run.spool))
        refused = done.returncode == 1 and done.stderr.strip()  # refusing, with a message, is fine
        run.out.require(
            done.returncode == 0 or bool(refused),
            f"open {attempt}: exit {done.returncode}, {last_line(done.stderr)}",
        )
        if not run.out.require(
            rollup_snapshot(url) == before, f"figures changed at open {attempt}"
        ):
            break
    done = run.cli("check", "--db", str(db), "--spool-dir", str(run.spool))
    run.out.require(
        done.returncode in (0, 1) and "Traceback" not in done.stderr,
        f"check afterwards: exit {done.returncode}",
    )
    run.arrived(url)


def fault_02(run: Run) -> None:
    """Schema version unreadable ('4.0', 'x'): refused with a message, visits spooled, no guess."""
    db = run.folder / "visits.db"
    url = new_database(db)
    run.desks_write(str(db), desks=2)
    right = schema_version(url)
    for value in ("4.0",) if run.args.quick else ("4.0", "x"):
        set_schema_version(url, value)
        before = rollup_snapshot(url)
        kinds = run.desks_write(str(db), desks=2)
        run.out.require(
            kinds.get("saved", 0) == 0 and kinds.get("spooled", 0) > 0,
            f"version {value!r}: desks did not spool: {kinds}",
        )
        run.says_no(
            f"version {value!r}: check", "check", "--db", str(db), "--spool-dir", str(run.spool)
        )
        run.out.require(schema_version(url) == value, f"version {value!r} was changed (guessed)")
        run.out.require(rollup_snapshot(url) == before, f"version {value!r}: figures changed")
    set_schema_version(url, right)  # someone puts the right version back
    run.arrived(url)


def fault_03(run: Run) -> None:
    """A database of a newer schema (99) at the desk: visits spool, the notice has its numbers."""
    db = run.folder / "visits.db"
    url = new_database(db)
    right = schema_version(url)
    set_schema_version(url, "99")
    # A change older code would write wrongly: it says so by raising writable_from too (an
    # additive change leaves it, and older desks go on writing: fault 4).
    execute(url, "UPDATE triage_meta SET value = '99' WHERE key = 'writable_from'")
    kinds = run.desks_write(str(db))
    run.out.require(
        kinds.get("spooled", 0) > 0 and kinds.get("saved", 0) == 0, f"desks did not spool: {kinds}"
    )
    run.out.require(schema_version(url) == "99", "the newer version was changed")
    shown = desk_app_notice(run, str(db))
    if shown is not None:
        text = shown["opened"]
        raw = PLACEHOLDER.search(text)
        if raw:
            run.out.problems.append(
                "the desk's notice shows a raw placeholder: "
                f"{text[max(0, raw.start() - 40) : raw.end() + 20]!r}"
            )
        else:
            run.out.require("99" in text, "the desk shows no notice naming schema 99")
        said = [part for part in shown["entered"].split(" | ") if "gem" in part.lower()]
        run.out.require(
            shown["spooled_after_enter"] == 1,
            f"Enter at the desk: {shown['spooled_after_enter']} visits spooled"
            + (f", it said {said[0][:80]!r}" if said else ""),
        )
    set_schema_version(url, right)  # as if the desks were updated: what waits must now arrive
    execute(url, f"UPDATE triage_meta SET value = '{right}' WHERE key = 'writable_from'")
    run.arrived(url)


DESK_APP = r"""
import asyncio, json, sys
from pathlib import Path
from textual.widgets import Static
from triage import paths
from triage.app import TriageApp
from triage.desklog import DeskLog
from triage.load import load_or_raise

db, spool = sys.argv[1], Path(sys.argv[2])
waiting = lambda: sum(len(p.read_text().splitlines()) for p in spool.rglob("*.jsonl")
                      if "quarantin" not in p.name) if spool.is_dir() else 0

async def main():
    flow = load_or_raise(paths.default_data_dir())
    log = DeskLog(db, "jc-skelbaek", "app-desk", spool_dir=spool)
    app = TriageApp(flow, site="jc-skelbaek", log=log, open_log_after=0)
    shown = lambda: " | ".join(str(w.render()) for w in app.screen.query(Static) if w.display)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(3):
            await pilot.pause()
            await app.workers.wait_for_complete()
        opened, before = shown(), waiting()
        await pilot.press("1", "1", "enter")
        for _ in range(3):
            await pilot.pause()
            await app.workers.wait_for_complete()
        print(json.dumps({"opened": opened, "entered": shown(),
                          "spooled_after_enter": waiting() - before}))

asyncio.run(main())
"""


def desk_app_notice(run: Run, db: str) -> dict | None:
    """The real desk app (headless): what it shows once the log is open, and after one visit."""
    done = subprocess.run(
        [sys.executable, "-c", DESK_APP, db, str(run.spool)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=run.env(),
        timeout=120,
    )
    run.saw(done.stderr, "the desk app")
    if done.returncode:
        run.out.problems.append(f"the desk app failed: {last_line(done.stderr)}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def fault_04(run: Run) -> None:
    """An older desk on a newer, additively changed database (a new column, a new table, the
    version one up; any other marker left as this code wrote it): it still writes."""
    db = run.folder / "visits.db"
    url = new_database(db)
    newer = str(int(schema_version(url)) + 1)
    execute(
        url,
        "ALTER TABLE visit ADD COLUMN wait_s INTEGER",
        "CREATE TABLE ticket (id INTEGER PRIMARY KEY, issued_utc TEXT)",
    )
    set_schema_version(url, newer)
    kinds = run.desks_write(str(db))
    run.out.require(
        kinds.get("saved", 0) == len(run.out.acknowledged) > 0,
        f"the older desks did not write: {kinds}",
    )
    run.out.require(schema_version(url) == newer, "the older desk changed the schema version")
    run.arrived(url)


def fault_05(run: Run) -> None:
    """A torn spool tail (a file cut mid-line), then more visits appended, then a flush."""
    db = spool_some(run, names=["desk-a", "desk-b"])
    target = sorted(spool_files(run.spool, True))[0]
    data = target.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    torn = json.loads(data[start:])["visit_id"]
    target.write_bytes(data[: start + (len(data) - start) // 2])
    run.out.acknowledged.discard(torn)  # a write cut off like this was never confirmed
    run.pending.discard(torn)
    run.out.notes.append("1 visit torn by the fault itself, not counted")
    run.desks_write(str(db), names=["desk-a", "desk-b"])  # the same desks: appended after the tear
    new_database(db)
    run.arrived(sqlite_url(db))


def a_good_entry(run: Run) -> dict:
    """A visit as a desk spooled it, to make bad ones from."""
    return json.loads(sorted(spool_files(run.spool, True))[-1].read_text().splitlines()[0])


def insert_line(run: Run, line: str) -> None:
    """Put `line` in the middle of the first spool file: good entries follow it in that file,
    and other files sort after it."""
    target = sorted(spool_files(run.spool, True))[0]
    lines = target.read_text().splitlines(keepends=True)
    lines.insert(len(lines) // 2, line + "\n")
    target.write_text("".join(lines))


def entry_fault(run: Run, what: str, make) -> None:
    """Desks spool; one bad entry, `make(good entry) -> (line, marker)`, goes in among theirs.
    The good ones must arrive, the bad one be quarantined (its marker in a quarantine file) and
    counted by `spool status`."""
    db = spool_some(run, desks=3)
    line, marker = make(a_good_entry(run))
    insert_line(run, line)
    new_database(db)
    run.arrived(sqlite_url(db))
    run.bad_entry_kept(marker, what)


def fault_06(run: Run) -> None:
    """A spool entry that is just `42`."""
    entry_fault(run, "the entry 42", lambda entry: ("42", "42"))


def fault_07(run: Run) -> None:
    """A spooled visit missing a field (its outcome)."""

    def make(entry: dict) -> tuple[str, str]:
        entry = {**entry, "visit_id": "f07" + entry["visit_id"][3:]}
        del entry["outcome_id"]
        return json.dumps(entry), entry["visit_id"]

    entry_fault(run, "a visit without outcome_id", make)


def fault_08(run: Run) -> None:
    """A spooled visit with "site_id": null."""

    def make(entry: dict) -> tuple[str, str]:
        entry = {**entry, "visit_id": "f08" + entry["visit_id"][3:], "site_id": None}
        return json.dumps(entry), entry["visit_id"]

    entry_fault(run, "a visit with site_id null", make)


def fault_09(run: Run) -> None:
    """A void without its time (voided_utc missing), for a visit that is itself spooled."""

    def make(entry: dict) -> tuple[str, str]:
        return json.dumps({"void": entry["visit_id"], "voided_desk": "desk-x"}), entry["visit_id"]

    entry_fault(run, "a void without its time", make)


def fault_10(run: Run) -> None:
    """A line that is not JSON at all."""

    def make(entry: dict) -> tuple[str, str]:
        marker = "f10" + entry["visit_id"][3:]
        return '{"visit_id": "' + marker + '", oops}', marker

    entry_fault(run, "a line that is not JSON", make)


def fault_11(run: Run) -> None:
    """An unreadable spool file (bytes that are not UTF-8; mode 000 when not root) and a folder
    named x.jsonl in the spool folder: a message, never a traceback; the rest is sent."""
    db = spool_some(run, desks=2)
    (run.spool / "x.jsonl").mkdir()
    (run.spool / "garbled.jsonl").write_bytes(b"\xff\xfe\x00\x9c not text\n")
    if os.geteuid() != 0:
        locked = run.spool / "locked.jsonl"
        locked.write_text("{}\n")
        locked.chmod(0)
    else:
        run.out.notes.append("as root a mode-000 file stays readable: only undecodable bytes tried")
    for action in ("status", "flush"):
        extra = ["--db", str(db)] if action == "flush" else []
        if action == "flush":
            new_database(db)
        done = run.cli("spool", action, *extra, "--spool-dir", str(run.spool))
        run.out.require(
            done.returncode in (0, 1) and (done.stdout + done.stderr).strip() != "",
            f"spool {action}: exit {done.returncode}",
        )
    run.arrived(sqlite_url(db))
    if os.geteuid() != 0:
        (run.spool / "locked.jsonl").chmod(0o644)


def fault_12(run: Run) -> None:
    """A spool line that can never be stored (a desk name of 70 characters), on PostgreSQL: good
    visits arrive, the bad one is quarantined with its reason and not retried forever."""
    if run.postgres_database("f12_first") is None:  # starts the server
        return
    server = run.args.postgres_server
    url = server.url("f12")  # not made yet: the desks spool for it
    kinds = run.desks_write(url, desks=2)
    run.out.require(
        kinds.get("spooled", 0) == len(run.out.acknowledged) > 0,
        f"desks without their database did not spool: {kinds}",
    )
    new_database(server.create_database("f12"))
    marker = "f12" + a_good_entry(run)["visit_id"][3:]
    insert_line(run, json.dumps({**a_good_entry(run), "visit_id": marker, "desk": "d" * 70}))
    run.arrived(url)
    run.cli("spool", "flush", "--db", url, "--spool-dir", str(run.spool))  # a second try
    run.out.require(
        marker not in waiting_text(run.spool),
        "the entry that cannot be stored still waits (retried forever)",
    )
    run.bad_entry_kept(marker, "a desk name of 70 characters")


def fault_13(run: Run) -> None:
    """Two `triage spool flush` at once."""
    db = spool_some(run)
    new_database(db)
    argv = [
        sys.executable,
        "-m",
        "triage",
        "spool",
        "flush",
        "--db",
        str(db),
        "--spool-dir",
        str(run.spool),
    ]
    flushes = [
        subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=run.env()
        )
        for _ in range(2)
    ]
    for flush in flushes:
        run.saw("".join(flush.communicate(timeout=300)), "a concurrent flush")
    run.arrived(sqlite_url(db), flush=False)  # the two flushes alone


def fault_14(run: Run) -> None:
    """A real full disk while spooling: the spool file may not grow (RLIMIT_FSIZE) until three
    visits failed, then the disk has room again and desks go on."""
    db = unreachable_db(run)
    kinds = run.desks_write(
        str(db),
        desks=2,
        fsize=3000,
        fsize_dir=str(run.spool),
        lift_after=3,
        limit_after=run.args.visits // 4,
    )
    refused = kinds.get("refused not_saved", 0)
    run.out.require(refused > 0, f"the full disk did not bite: {kinds}")
    run.out.notes.append(f"{refused} visits the desk said it could not keep (not acknowledged)")
    new_database(db)
    run.arrived(sqlite_url(db))


def fault_15(run: Run) -> None:
    """Desk processes SIGKILLed mid-run."""
    db = run.folder / "visits.db"
    url = new_database(db)
    desks = run.start_desks(str(db), per_desk=100000)
    target = run.args.desks * run.args.visits // 2
    deadline = time.monotonic() + 120
    while desks.acknowledged() < target and time.monotonic() < deadline:
        time.sleep(0.05)
    for proc in desks.procs:
        proc.send_signal(signal.SIGKILL)
        time.sleep(0.02)  # each at a different moment
    run.finish_desks(desks)
    done = run.cli("check", "--db", str(db), "--spool-dir", str(run.spool))
    run.out.require(done.returncode == 0, f"check afterwards: exit {done.returncode}")
    run.arrived(url)


def fault_16(run: Run) -> None:
    """The database on a full disk: the desks may not grow any file past the database's own size
    (its WAL fills up); their visits spool and arrive later."""
    db = run.folder / "visits.db"
    url = new_database(db)
    run.desks_write(str(db), desks=2)  # some visits first, so the file has a size
    checkpoint(db)
    kinds = run.desks_write(str(db), fsize=db.stat().st_size)
    run.out.require(kinds.get("spooled", 0) > 0, f"the full disk did not bite: {kinds}")
    run.out.require(kinds.get("refused not_saved", 0) == 0, f"desks refused visits: {kinds}")
    run.arrived(url)
    done = run.cli("check", "--db", str(db), "--spool-dir", str(run.spool))
    run.out.require(done.returncode == 0, f"check afterwards: exit {done.returncode}")


def fault_17(run: Run) -> None:
    """A read-only database file: visits spool, and arrive once it can be written again."""
    db = run.folder / "visits.db"
    url = new_database(db)
    run.desks_write(str(db), desks=2)
    checkpoint(db)
    if os.geteuid() == 0:
        run.out.notes.append("as root chmod 444 does not stop writes: desks given a ?mode=ro URL")
        readonly = f"sqlite:///file:{db}?mode=ro&uri=true"
    else:
        db.chmod(0o444)
        readonly = str(db)
    kinds = run.desks_write(readonly)
    run.out.require(
        kinds.get("spooled", 0) > 0 and kinds.get("saved", 0) == 0,
        f"desks on a read-only file: {kinds}",
    )
    db.chmod(0o644)
    run.arrived(url)


def fault_18(run: Run) -> None:
    """PostgreSQL stopped with -m immediate while desks write, started again, then a flush."""
    url = run.postgres_database("f18")
    if url is None:
        return
    server = run.args.postgres_server
    desks = run.start_desks(url, per_desk=max(run.args.visits, 150), pace=0.01)
    deadline = time.monotonic() + 120
    while desks.acknowledged() < run.args.desks * 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    server._run("pg_ctl", "-D", str(server.data), "-m", "immediate", "-w", "stop")
    down_at = desks.acknowledged()
    time.sleep(2)
    server.start()
    kinds = run.finish_desks(desks)
    run.out.require(
        kinds.get("spooled", 0) > 0,
        f"the server's death did not bite ({down_at} acknowledged before): {kinds}",
    )
    run.arrived(url)


def fault_19(run: Run) -> None:
    """The database locked by another writer (BEGIN EXCLUSIVE) for longer than the busy timeout."""
    from triage.db import connect as store

    db = run.folder / "visits.db"
    url = new_database(db)
    hold = getattr(store, "BUSY_TIMEOUT_MS", 5000) / 1000 + 2
    go = run.folder / "go-lock"
    desks = run.start_desks(
        str(db), desks=3, per_desk=min(run.args.visits, 100), pace=0.01, go=str(go)
    )
    time.sleep(0.5)
    locker = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        go.touch()
        time.sleep(0.2)
        locker.execute("BEGIN EXCLUSIVE")
        time.sleep(hold)
        locker.execute("ROLLBACK")
    finally:
        locker.close()
    kinds = run.finish_desks(desks)
    run.out.require(kinds.get("spooled", 0) > 0, f"the lock did not bite: {kinds}")
    run.arrived(url)


def fault_20(run: Run) -> None:
    """A corrupt database file ('hello' written over it; cut to half its size) under every
    command that reads it: exit 1 and a message, no traceback. Desks on it spool."""
    variants = (
        ("hello", lambda p: p.write_bytes(b"hello\n")),
        ("cut in half", lambda p: os.truncate(p, p.stat().st_size // 2)),
    )
    today = date.today()
    for name, corrupt in variants[:1] if run.args.quick else variants:
        db = run.folder / name.replace(" ", "-") / "visits.db"
        new_database(db)
        run.desks_write(str(db), desks=2, per_desk=20, acknowledge=False)  # destroyed below
        checkpoint(db)
        for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            extra.unlink(missing_ok=True)
        corrupt(db)
        common = ["--db", str(db), "--spool-dir", str(run.spool)]
        commands = {
            "check": ["check"],
            "summary": ["summary"],
            "export": ["export", "--format", "json", "--out", str(db.parent / "out.json")],
            "purge": ["purge", "--before", (today - timedelta(days=400)).isoformat()],
            "rebalance": ["rebalance", "--out", str(db.parent / "proposal")],
            "spool flush": ["spool", "flush"],
            "demo": ["demo", "--days", "2", "--per-day", "20"],
        }
        for command, argv in commands.items():
            run.says_no(f"{name}: {command}", *argv, *common)
        kinds = run.desks_write(str(db), desks=2)
        run.out.require(
            kinds.get("saved", 0) == 0, f"{name}: desks 'saved' into a corrupt file: {kinds}"
        )
        for part in db.parent.glob("visits.db*"):  # someone sets the broken file aside
            part.rename(part.with_name("corrupt-" + part.name))
        new_database(db)
        run.arrived(sqlite_url(db))


def fault_21(run: Run) -> None:
    """Rollups after a purge, a rollup made wrong on a kept day, `check` and `check --repair`:
    check finds it, repair mends it, and the figures of purged days do not change."""
    db = run.folder / "visits.db"
    url = new_database(db)
    run.desks_write(str(db), days_back=60)
    run.out.require(rollups_exact(url)[0], "rollups not exact before the purge")
    before = rollup_snapshot(url)
    cutoff = date.today() - timedelta(days=20)
    purged = {i for (i,) in query(url, f"SELECT visit_id FROM visit WHERE local_date < '{cutoff}'")}
    run.out.acknowledged -= purged  # deleted on purpose: neither present nor lost
    run.pending -= purged
    run.out.notes.append(f"{len(purged)} visits purged on purpose, not counted")
    common = ["--db", str(db), "--spool-dir", str(run.spool)]
    done = run.cli("purge", "--before", cutoff.isoformat(), *common)
    run.out.require(
        done.returncode == 0, f"purge: exit {done.returncode}, {last_line(done.stderr)}"
    )
    day, site, hour = query(
        url,
        "SELECT local_date, site_id, local_hour FROM visit_hourly "
        f"WHERE local_date >= '{cutoff}' AND visits > 0",
    )[0]
    execute(
        url,
        f"UPDATE visit_hourly SET visits = visits + 3 WHERE local_date = '{_norm(day)}' "
        f"AND site_id = '{site}' AND local_hour = {hour}",
    )
    done = run.cli("check", *common)
    run.out.require(
        done.returncode == 1, f"check did not find a rollup off by 3 (exit {done.returncode})"
    )
    done = run.cli("check", "--repair", *common)
    run.out.require(
        done.returncode == 0, f"check --repair: exit {done.returncode}, {last_line(done.stderr)}"
    )
    done = run.cli("check", *common)
    run.out.require(done.returncode == 0, f"check after the repair: exit {done.returncode}")
    after = rollup_snapshot(url)
    changed = [t for t in before if before[t] != after.get(t)]
    run.out.require(not changed, f"figures changed by purge and repair: {', '.join(changed)}")
    run.arrived(url, since=cutoff)


FAULTS = {
    1: ("schema-version row deleted, 5 opens", fault_01),
    2: ("schema version unreadable ('4.0', 'x')", fault_02),
    3: ("newer schema version (99) at the desk", fault_03),
    4: ("older desk on a newer database", fault_04),
    5: ("torn spool tail, then appends", fault_05),
    6: ("spool entry 42", fault_06),
    7: ("spooled visit missing a field", fault_07),
    8: ('spooled visit with "site_id": null', fault_08),
    9: ("void without its time", fault_09),
    10: ("invalid JSON line in the spool", fault_10),
    11: ("unreadable spool file, folder x.jsonl", fault_11),
    12: ("desk name of 70 chars (PostgreSQL)", fault_12),
    13: ("two spool flushes at once", fault_13),
    14: ("full disk while spooling", fault_14),
    15: ("desk processes SIGKILLed mid-run", fault_15),
    16: ("database on a full disk", fault_16),
    17: ("read-only database file", fault_17),
    18: ("PostgreSQL killed mid-run", fault_18),
    19: ("database locked past the busy timeout", fault_19),
    20: ("corrupt database under every command", fault_20),
    21: ("rollups after purge and check --repair", fault_21),
}


# --- running and printing -----------------------------------------------------------------------


def run_fault(number: int, args: argparse.Namespace, base: Path) -> Outcome:
    _, fault = FAULTS[number]
    run = Run(base / f"fault-{number:02d}", args)
    run.folder.mkdir()
    try:
        fault(run)
    except Exception as error:  # noqa: BLE001 - a fault that breaks the script is a failed fault
        where = traceback.extract_tb(error.__traceback__)[-1]
        run.out.problems.append(
            f"stopped by {type(error).__name__}: {str(error)[:100]} "
            f"({Path(where.filename).name}:{where.lineno})"
        )
    finally:
        for proc in run.started:  # no desk outlives its fault
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return run.out


def line_for(number: int, out: Outcome, seconds: float) -> str:
    name = FAULTS[number][0]
    verdict = "skipped" if out.skipped else ("ok" if out.held else "FAILED")
    rollups = {None: "-", True: "exact", False: "WRONG"}[out.rollups_exact]
    return (
        f"{number:>2} {name:<40} {verdict:<7} ack {len(out.acknowledged):>5}  "
        f"present {out.present:>5}  dup {out.duplicates}  quar {out.quarantined}  "
        f"lost {out.lost:>4}  tb {out.tracebacks}  rollups {rollups:<5} {seconds:5.1f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 desks, 40 visits each, fewer variants: about a minute",
    )
    parser.add_argument(
        "--desks", type=int, default=None, help="desk processes per fault (default 4)"
    )
    parser.add_argument("--visits", type=int, default=None, help="visits per desk (default 250)")
    parser.add_argument("--only", default="", help="fault numbers, e.g. 5,14")
    parser.add_argument(
        "--no-postgres", action="store_true", help="skip the PostgreSQL faults (12, 18)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--desk-process", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.desk_process:
        desk_process(json.loads(args.desk_process))
        return 0
    args.desks = args.desks or (2 if args.quick else 4)
    args.visits = args.visits or (40 if args.quick else 250)
    args.postgres_server = None
    chosen = [int(n) for n in args.only.split(",") if n.strip()] or list(FAULTS)
    base = Path(tempfile.mkdtemp(prefix="triage-faults-"))
    print(
        f"{len(chosen)} faults, {args.desks} desk processes × {args.visits} visits where desks "
        f"write; folders in {base}"
    )
    outcomes: dict[int, Outcome] = {}
    started = time.perf_counter()
    try:
        for number in chosen:
            t0 = time.perf_counter()
            out = outcomes[number] = run_fault(number, args, base)
            print(line_for(number, out, time.perf_counter() - t0), flush=True)
            for reason in [out.skipped] if out.skipped else out.problems + out.notes:
                print(f"     {'-' if reason in out.notes else '!'} {reason}", flush=True)
    finally:
        if args.postgres_server is not None:
            args.postgres_server.cleanup()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    ran = {n: o for n, o in outcomes.items() if not o.skipped}
    held = [n for n, o in ran.items() if o.held]
    checked = [o for o in ran.values() if o.rollups_exact is not None]
    total = lambda attr: sum(getattr(o, attr) for o in ran.values())  # noqa: E731
    acknowledged = sum(len(o.acknowledged) for o in ran.values())
    print()
    failed = [str(n) for n in ran if n not in held]
    print(
        f"faults survived: {len(held)} of {len(ran)}"
        + (f" ({len(outcomes) - len(ran)} skipped)" if len(ran) < len(outcomes) else "")
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    print(
        f"visits acknowledged {acknowledged:,}; present exactly once {total('present'):,}; "
        f"duplicates {total('duplicates')}; quarantined and reported {total('quarantined')}; "
        f"lost {total('lost'):,}"
    )
    print(
        f"rollups exact: {sum(1 for o in checked if o.rollups_exact)} of {len(checked)} "
        "faults checked"
    )
    print(f"tracebacks seen: {total('tracebacks')}")
    print(f"time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # noqa: BLE001 - the script itself broke
        traceback.print_exc()
        sys.exit(1)
