"""The visit log: SQLite by default (a file), PostgreSQL by URL, the same tables and code paths.

A visit that cannot be written (database locked past the timeout, disk full, server gone,
read-only file) goes to a local append-only spool instead and is replayed later. Visit ids are
made by the desk and unique in the table, so a replay never counts a visit twice.

This module imports SQLModel/SQLAlchemy; the desk loads it off the start-up path.
"""

from __future__ import annotations

import queue
import sqlite3
import tempfile
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Index, event, func, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlmodel import Field, SQLModel, create_engine, select

from triage import paths
from triage.spool import Drained, Sent, Spool, entry_problem, one_line, why
from triage.visits import FIELDS

SCHEMA_VERSION = 4  # 2: rollups kept by triggers; 3: visits per postcode; 4: per day, per month
# What "the database cannot take it now" looks like: locked past the timeout, read-only file,
# disk full, missing directory, server unreachable. These spool; anything else is a bug and raises.
UNAVAILABLE = (OperationalError, InterfaceError, OSError)
BUSY_TIMEOUT_MS = 5000
# FULL: a visit whose write returned is on disk even after a power cut. NORMAL (the WAL
# default) could lose the last few commits on power loss; a visit costs ~0.1 ms more at FULL.
SQLITE_SYNCHRONOUS = "FULL"


class StoreError(Exception):
    """A problem a person must act on; `code` names the i18n message."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(f"{code} {params}")
        self.code = code
        self.params = params


class Visit(SQLModel, table=True):
    """One confirmed outcome. There is deliberately no field for who the citizen is.
    Statistics read the rollups; the one index here serves today's counts and purge."""

    __tablename__ = "visit"
    __table_args__ = (Index("ix_visit_date_site", "local_date", "site_id"),)

    id: int | None = Field(default=None, primary_key=True)
    visit_id: str = Field(max_length=32, unique=True)
    at_utc: datetime
    local_date: date
    local_hour: int
    local_weekday: int
    site_id: str = Field(max_length=64)
    desk: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    outcome_id: str = Field(max_length=64)
    destination_id: str = Field(max_length=64)
    destinations: str = Field(max_length=400)
    handled_here: bool
    path: str = Field(max_length=2000)
    postcode: int | None = None
    postcode_site_id: str | None = Field(default=None, max_length=64)
    flow_version: str = Field(max_length=64)
    duration_s: float
    demo: bool = False
    voided_utc: datetime | None = None
    voided_desk: str | None = Field(default=None, max_length=64)


class VisitDaily(SQLModel, table=True):
    """Counts per day, hour and kind of visit, kept by a trigger in the same transaction as
    every insert and void, so it is always exact. Statistics read this, never the visit table;
    `triage purge` deletes detail only, and no figure changes.
    Empty strings, not NULL, stand for "none": they must take part in the key."""

    __tablename__ = "visit_daily"

    local_date: date = Field(primary_key=True)
    local_hour: int = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    destination_id: str = Field(primary_key=True, max_length=64)
    outcome_id: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=16)
    handled_here: bool = Field(primary_key=True)
    postcode_site_id: str = Field(primary_key=True, max_length=64)
    demo: bool = Field(primary_key=True)
    local_weekday: int
    visits: int


class VisitHourly(SQLModel, table=True):
    """Footfall per site, day and hour: the small table the supervisor's views read."""

    __tablename__ = "visit_hourly"

    # Date first in the key: a day or a month is a range scan, not a pass over every site.
    local_date: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    local_hour: int = Field(primary_key=True)
    demo: bool = Field(primary_key=True)
    local_weekday: int
    visits: int


class VisitRoute(SQLModel, table=True):
    """Per day and site: where citizens live (their postcode's site) and where they were sent.
    Small enough for misdirection and referral figures over long periods."""

    __tablename__ = "visit_route"

    local_date: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    postcode_site_id: str = Field(primary_key=True, max_length=64)
    destination_id: str = Field(primary_key=True, max_length=64)
    handled_here: bool = Field(primary_key=True)
    demo: bool = Field(primary_key=True)
    local_weekday: int
    visits: int


class VisitPostcode(SQLModel, table=True):
    """Per day and site, the visits that gave a postcode: where citizens live, finer than
    their catchment. Serves the planners' exports and the catchment proposal."""

    __tablename__ = "visit_postcode"

    local_date: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    postcode: int = Field(primary_key=True)
    postcode_site_id: str = Field(primary_key=True, max_length=64)
    demo: bool = Field(primary_key=True)
    local_weekday: int
    visits: int


class VisitDay(SQLModel, table=True):
    """Visits per day and site: the trend and the totals of long periods read this."""

    __tablename__ = "visit_day"

    local_date: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    demo: bool = Field(primary_key=True)
    local_weekday: int
    visits: int


class VisitMonthHourly(SQLModel, table=True):
    """visit_hourly summed over whole months (`month` is its first day): a year's heat map is
    twelve rows per cell instead of some 250."""

    __tablename__ = "visit_month_hourly"

    month: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    local_weekday: int = Field(primary_key=True)
    local_hour: int = Field(primary_key=True)
    demo: bool = Field(primary_key=True)
    visits: int


class VisitMonthRoute(SQLModel, table=True):
    """visit_route summed over whole months: misdirection and referrals of long periods."""

    __tablename__ = "visit_month_route"

    month: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    postcode_site_id: str = Field(primary_key=True, max_length=64)
    destination_id: str = Field(primary_key=True, max_length=64)
    handled_here: bool = Field(primary_key=True)
    demo: bool = Field(primary_key=True)
    visits: int


# What a rollup row keeps of a visit (besides the count).
ROLLUP_KEYS = ("local_date", "local_hour", "site_id", "destination_id", "outcome_id", "channel",
               "handled_here", "postcode_site_id", "demo")
HOURLY_KEYS = ("local_date", "site_id", "local_hour", "demo")
ROUTE_KEYS = ("local_date", "site_id", "postcode_site_id", "destination_id", "handled_here", "demo")
DAY_KEYS = ("local_date", "site_id", "demo")
# Every rollup with its key, kept by the triggers (and by the bulk load) in the same way.
ROLLUPS = (("visit_daily", ROLLUP_KEYS), ("visit_hourly", HOURLY_KEYS), ("visit_route", ROUTE_KEYS),
           ("visit_day", DAY_KEYS))
# The month rollups, and the day rollup each one sums.
MONTHLY = (("visit_month_hourly", ("month", "site_id", "local_weekday", "local_hour", "demo"), "visit_hourly"),
           ("visit_month_route", ("month", *ROUTE_KEYS[1:]), "visit_route"))
# Only visits with a postcode go here.
POSTCODE_KEYS = ("local_date", "site_id", "postcode", "postcode_site_id", "demo")
# Rollups that are sums of another one, with the one they sum: what an upgrade or a bulk load
# builds from that one rather than from the visits.
SUMMED = (("visit_day", DAY_KEYS, "visit_hourly"), *MONTHLY)
# Every rollup the triggers keep, with its key.
EVERY_ROLLUP = (*ROLLUPS, *((table, keys) for table, keys, _ in MONTHLY), ("visit_postcode", POSTCODE_KEYS))


def month_of(day: str, dialect: str) -> str:
    """SQL for the first day of the month of the date `day`."""
    if dialect == "postgresql":
        return f"CAST(date_trunc('month', {day}) AS date)"
    return f"date({day}, 'start of month')"


def _counted_columns(keys: tuple[str, ...]) -> list[str]:
    """A rollup's columns besides the count: its key, and the weekday of a day's rows."""
    return [*keys] if "month" in keys else [*keys, "local_weekday"]


def _add_sql(table: str, keys: tuple[str, ...], select: str, added: str = "excluded.visits") -> str:
    """Add the rows of `select` (the key, local_weekday unless by month, then visits) to the
    rollup `table`: new keys inserted, known ones counted up by `added`. SQLite needs the
    SELECT to end in WHERE or GROUP BY here, or it reads ON CONFLICT as part of a join."""
    return (f"INSERT INTO {table} ({', '.join(_counted_columns(keys))}, visits) {select} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET visits = {table}.visits + {added}")


def _upsert_sql(table: str, keys: tuple[str, ...], row: str, delta: str, when: str = "",
                dialect: str = "sqlite") -> str:
    """INSERT … ON CONFLICT DO UPDATE adding `delta` visits for the visit in `row` (NEW), if
    the visit meets `when`."""
    columns = _counted_columns(keys)

    def value(column: str) -> str:
        if column == "postcode_site_id":
            return f"COALESCE({row}.postcode_site_id, '')"
        if column == "month":
            return month_of(f"{row}.local_date", dialect)
        return f"{row}.{column}"

    values = [value(c) for c in columns]
    return _add_sql(table, keys, f"SELECT {', '.join(values)}, {delta} WHERE {when or 'true'}", delta)


def _rollup_triggers(dialect: str) -> list[str]:
    """The triggers that keep visit_daily and visit_hourly exact: +1 on insert, -1 on void."""
    def upserts(delta: str) -> str:
        return "; ".join([*(_upsert_sql(table, keys, "NEW", delta) for table, keys in ROLLUPS),
                          *(_upsert_sql(table, keys, "NEW", delta, dialect=dialect) for table, keys, _ in MONTHLY),
                          _upsert_sql("visit_postcode", POSTCODE_KEYS, "NEW", delta,
                                      "NEW.postcode IS NOT NULL")])

    if dialect == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION triage_visit_rollup() RETURNS trigger AS $$
            DECLARE delta integer;
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    IF NEW.voided_utc IS NOT NULL THEN RETURN NULL; END IF;
                    delta := 1;
                ELSIF OLD.voided_utc IS NULL AND NEW.voided_utc IS NOT NULL THEN
                    delta := -1;
                ELSE
                    RETURN NULL;
                END IF;
                {upserts("delta")};
                RETURN NULL;
            END $$ LANGUAGE plpgsql""",
            "DROP TRIGGER IF EXISTS visit_rollup ON visit",
            "CREATE TRIGGER visit_rollup AFTER INSERT OR UPDATE OF voided_utc ON visit "
            "FOR EACH ROW EXECUTE FUNCTION triage_visit_rollup()",
        ]
    return [
        f"""CREATE TRIGGER IF NOT EXISTS visit_rollup_insert AFTER INSERT ON visit
        WHEN NEW.voided_utc IS NULL BEGIN {upserts("1")}; END""",
        f"""CREATE TRIGGER IF NOT EXISTS visit_rollup_void AFTER UPDATE OF voided_utc ON visit
        WHEN OLD.voided_utc IS NULL AND NEW.voided_utc IS NOT NULL
        BEGIN {upserts("-1")}; END""",
    ]


def _sum_sql(table: str, keys: tuple[str, ...], source: str, dialect: str) -> str:
    """Add the rows of `source` (a rollup with a date and a weekday, or one shaped like it)
    to `table`, summed over its key; "month" in the key sums whole months."""
    grouped = [month_of("local_date", dialect) if k == "month" else k for k in keys]
    weekday = [] if "month" in keys else ["MIN(local_weekday)"]
    return _add_sql(table, keys, f"SELECT {', '.join([*grouped, *weekday])}, SUM(visits) FROM {source} "
                                 f"GROUP BY {', '.join(grouped)}")


def _group_postcodes_sql(source: str, condition: str) -> str:
    """Add the visits of `source` that gave a postcode to visit_postcode, grouped."""
    grouped = ", ".join(POSTCODE_KEYS).replace("postcode_site_id", "COALESCE(postcode_site_id, '')")
    return _add_sql("visit_postcode", POSTCODE_KEYS, f"SELECT {grouped}, MIN(local_weekday), COUNT(*) FROM {source} "
                                                     f"WHERE postcode IS NOT NULL AND {condition} GROUP BY {grouped}")


class Meta(SQLModel, table=True):
    __tablename__ = "triage_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=400)


def database_url(db: str | Path | None) -> str:
    """`--db`: None (the user's data folder), a file path (SQLite) or a SQLAlchemy URL."""
    if db is None:
        path = paths.default_db_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    text_db = str(db)
    if "://" in text_db:
        return text_db
    return f"sqlite:///{Path(text_db).expanduser().absolute()}"


def make_engine(url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            try:
                cursor.execute("PRAGMA journal_mode = WAL")
            except Exception:  # a read-only file cannot switch mode: writes will spool
                pass
            cursor.execute(f"PRAGMA synchronous = {SQLITE_SYNCHRONOUS}")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 3})


def _row(visit: dict) -> dict:
    """A spool/desk visit (JSON values) as column values."""
    row = {name: visit.get(name) for name in FIELDS}
    at = datetime.fromisoformat(row["at_utc"]) if isinstance(row["at_utc"], str) else row["at_utc"]
    row["at_utc"] = at.astimezone(timezone.utc)
    if isinstance(row["local_date"], str):
        row["local_date"] = date.fromisoformat(row["local_date"])
    return row


def _refused_for_good(error: Exception) -> bool:
    """True when the database refuses an entry itself (a value it cannot hold), so sending it
    again can never help; False for "not now" (locked, read-only, full, gone, wrong schema)."""
    if isinstance(error, DBAPIError):
        return isinstance(error, (DataError, IntegrityError))
    return isinstance(error, (StatementError, ValueError, TypeError, KeyError))


class Store:
    """Record, void and count visits; anything that cannot reach the database waits in the spool."""

    def __init__(self, db: str | Path | None = None, desk: str = "skranke-1",
                 spool_dir: Path | None = None, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.url = database_url(db)
        self.engine = make_engine(self.url, busy_timeout_ms)
        self.desk = desk
        self.spool = Spool(spool_dir or paths.user_data_dir() / "spool", desk)
        self._lock = threading.Lock()  # one write at a time from this process
        self.opened = False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def describe(self) -> str:
        """The database for messages, without a password."""
        return self.engine.url.render_as_string(hide_password=True)

    # --- schema ------------------------------------------------------------------

    def open(self) -> None:
        """Create the tables, or upgrade an older schema; refuse one newer than this code."""
        with self.engine.begin() as conn:
            fresh = not self.engine.dialect.has_table(conn, "visit")
            SQLModel.metadata.create_all(conn, tables=[
                Visit.__table__, VisitDaily.__table__, VisitHourly.__table__, VisitRoute.__table__,
                VisitPostcode.__table__, VisitDay.__table__, VisitMonthHourly.__table__,
                VisitMonthRoute.__table__, Meta.__table__])
            found = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
            if found is not None and int(found) > SCHEMA_VERSION:
                raise StoreError("db_newer", found=found, supported=SCHEMA_VERSION)
            if found is None and fresh:
                conn.execute(Meta.__table__.insert().values(key="schema_version",
                                                            value=str(SCHEMA_VERSION)))
            elif found is None or int(found) < SCHEMA_VERSION:
                self._upgrade(conn, int(found or 1))
            for statement in _rollup_triggers(self.dialect):
                conn.exec_driver_sql(statement)
        self.opened = True

    def _upgrade(self, conn, found: int) -> None:
        """Bring an older database up to SCHEMA_VERSION, step by step, in one transaction."""
        if found < 2:
            # Version 1 kept visit_daily for purged days only: add today's detail to it, and
            # build visit_hourly from both, so the new triggers start from exact figures.
            self._fold_detail(conn, Visit.voided_utc.is_(None))
            for table, keys in ROLLUPS[1:]:  # the narrow ones, from the wide one
                columns = ", ".join(keys)
                conn.exec_driver_sql(f"DELETE FROM {table}")
                conn.exec_driver_sql(
                    f"INSERT INTO {table} ({columns}, local_weekday, visits) "
                    f"SELECT {columns}, MIN(local_weekday), SUM(visits) FROM visit_daily GROUP BY {columns}"
                )
        if found < 3:
            # Per postcode from the detail still kept; days purged before the upgrade have
            # their catchment figures in visit_route but no postcode figures.
            conn.exec_driver_sql("DELETE FROM visit_postcode")
            conn.exec_driver_sql(_group_postcodes_sql("visit", "voided_utc IS NULL"))
        if found < 4:
            # From the rollups, not the detail: purged days keep every figure.
            for table, keys, source in SUMMED:
                conn.exec_driver_sql(f"DELETE FROM {table}")
                conn.exec_driver_sql(_sum_sql(table, keys, source, self.dialect))
        conn.execute(update(Meta).where(Meta.key == "schema_version").values(value=str(SCHEMA_VERSION)))
        if found is None:
            conn.execute(Meta.__table__.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar())

    # --- writing -----------------------------------------------------------------

    def _insert_ignoring_known(self, conn, rows: list[dict]) -> None:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(Visit.__table__).on_conflict_do_nothing(index_elements=["visit_id"])
        conn.execute(statement, rows)

    def _void_in(self, conn, visit_id: str, desk: str, when: datetime) -> int:
        result = conn.execute(
            update(Visit)
            .where(Visit.visit_id == visit_id, Visit.voided_utc.is_(None))
            .values(voided_utc=when.astimezone(timezone.utc), voided_desk=desk)
        )
        return result.rowcount

    def _apply(self, entries: list[dict]) -> list[int]:
        """Visits first, then voids (a void may refer to a visit in the same batch), in one
        transaction. Returns the positions of voids whose visit is not in the database."""
        visits = [_row(e) for e in entries if "void" not in e]
        unknown = []
        with self.engine.begin() as conn:
            if visits:
                self._insert_ignoring_known(conn, visits)
            for position, e in enumerate(entries):
                if "void" not in e:
                    continue
                when = datetime.fromisoformat(e["voided_utc"])
                if not self._void_in(conn, e["void"], e["voided_desk"], when):
                    known = select(Visit.id).where(Visit.visit_id == e["void"])
                    if conn.execute(known).first() is None:  # voided before: known, and done
                        unknown.append(position)
        return unknown

    def record(self, visit: dict) -> str:
        """'saved' once the row is committed, or 'spooled' when it waits locally (nothing lost):
        also when the database refuses this version of triage (a newer schema). A visit that
        could never be stored (see spool.entry_problem) raises StoreError('not_saved')."""
        problem = entry_problem(visit)
        if problem:
            raise StoreError("not_saved", reason=why(problem))
        with self._lock:
            try:
                if not self.opened:
                    self.open()
                self._apply([visit])
                return "saved"
            except (*UNAVAILABLE, StoreError):
                self._to_spool(visit)
                return "spooled"

    def void(self, visit_id: str, desk: str, when: datetime | None = None) -> str:
        """Mark a visit void (kept, left out of statistics): 'saved', 'spooled' or 'unknown'."""
        when = when or datetime.now(timezone.utc)
        entry = {"void": visit_id, "voided_desk": desk, "voided_utc": when.isoformat()}
        problem = entry_problem(entry)
        if problem:
            raise StoreError("not_saved", reason=why(problem))
        with self._lock:
            try:
                if not self.opened:
                    self.open()
                with self.engine.begin() as conn:
                    if self._void_in(conn, visit_id, desk, when):
                        return "saved"
                if not any(e.get("visit_id") == visit_id for e in self.spool.waiting()):
                    return "unknown"
            except (*UNAVAILABLE, StoreError):
                pass
            self._to_spool(entry)
            return "spooled"

    def _to_spool(self, entry: dict) -> None:
        try:
            self.spool.append(entry)
        except OSError as error:
            # Neither database nor disk: the desk must say so plainly; the visit is not lost yet,
            # the desk keeps it and tries again.
            raise StoreError("not_saved", reason=error.strerror or str(error)) from error

    def replay_spool(self) -> int:
        """Send what waits in the spool; returns how many entries went. Safe to call any time.
        Entries that can never be stored are set aside with their reason; what the flush did,
        and why anything still waits, is in self.spool.last."""
        with self._lock:
            try:
                if not self.opened:
                    self.open()
            except Exception as error:  # noqa: BLE001 - unusable now (or newer): all waits
                self.spool.last = Drained(cause=one_line(error))
                return 0

            def send(entries: list[dict]) -> Sent:
                try:
                    unknown = self._apply(entries)
                    refused = dict.fromkeys(unknown, ("void_unknown", ""))
                    return Sent(len(entries) - len(unknown), refused)
                except Exception as error:  # noqa: BLE001 - sorted out one entry at a time below
                    if not _refused_for_good(error):
                        return Sent(0, cause=one_line(error))
                # The database refuses something in this batch: find it, one entry at a time.
                sent = Sent(0)
                for position, entry in enumerate(entries):
                    try:
                        if self._apply([entry]):
                            sent.refused[position] = ("void_unknown", "")
                        else:
                            sent.stored += 1
                    except Exception as error:  # noqa: BLE001
                        if not _refused_for_good(error):
                            sent.cause = one_line(error)
                            return sent
                        sent.refused[position] = ("refused", one_line(error))
                return sent

            return self.spool.drain(send).sent

    def insert_many(self, visits, batch: int = 20000) -> int:
        """Bulk load (demo history, imports): streamed in batches, all in one transaction, so
        it is all or nothing."""
        total = 0
        chunk: list[dict] = []
        with self.engine.begin() as conn:
            for visit in visits:
                chunk.append(_row(visit))
                if len(chunk) >= batch:
                    self._insert_ignoring_known(conn, chunk)
                    total += len(chunk)
                    chunk = []
            if chunk:
                self._insert_ignoring_known(conn, chunk)
                total += len(chunk)
        return total

    def load_demo(self, history, progress=None) -> int:
        """Load a demo history (triage.demo.DemoHistory) into an empty SQLite database, fast.

        A second thread makes the history a few weeks at a time as batch files (whole-number
        codes and the counts every rollup needs), while this one spells each batch out into the
        visit table and adds its counts to the rollups: two cores at work. Each batch is one
        transaction that sets the rollup triggers aside and puts them back, so a desk writing
        between batches is counted by its trigger as always, and no visit is ever counted
        twice or missed. If anything fails, the demo visits loaded so far are taken out again.

        While it loads, the database uses a rollback journal instead of WAL if no one else has
        it open: pages added at the end of the file need no journal, where WAL writes every page
        twice (log, then checkpoint). `progress(visits)` is called after each batch is in."""
        if self.dialect != "sqlite":
            raise ValueError("load_demo is the SQLite bulk path; use insert_many elsewhere")
        if not self.is_empty():
            raise ValueError("load_demo fills an empty database only")
        summed = {table for table, _, _ in SUMMED}
        counted = [(table, keys) for table, keys in EVERY_ROLLUP if table not in summed]
        groupings = tuple(keys for _, keys in counted)
        add_counts = [  # the batch's counts; then the rollups that sum those, from them
            _add_sql(table, keys, f"SELECT * FROM batch.count{index} WHERE true")
            for index, (table, keys) in enumerate(counted)]
        add_counts += [_sum_sql(table, keys, f"batch.count{[t for t, _ in counted].index(source)}", "sqlite")
                       for table, keys, source in SUMMED]
        self.engine.dispose()  # our own idle connections would keep the database in WAL
        raw = self.engine.raw_connection()
        total, journal = 0, "wal"
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA temp_store = MEMORY")
            history.prepare(cursor)  # the plan, to spell out the codes
            raw.commit()
            select_visits, params = history.visit_select("batch.demo_code")
            try:
                journal = cursor.execute("PRAGMA main.journal_mode = TRUNCATE").fetchone()[0]
            except sqlite3.OperationalError:
                pass  # someone else has it open (a desk, a supervisor): load in WAL, beside them
            with tempfile.TemporaryDirectory(prefix="triage-demo-") as scratch:
                for path, made in _made_alongside(history.write_batches, Path(scratch), groupings):
                    cursor.execute("ATTACH ? AS batch", (str(path),))
                    try:
                        cursor.execute("BEGIN IMMEDIATE")
                        cursor.execute("DROP TRIGGER IF EXISTS visit_rollup_insert")
                        cursor.execute(f"INSERT INTO visit ({', '.join(FIELDS)}) {select_visits}", params)
                        for statement in add_counts:
                            cursor.execute(statement)
                        for statement in _rollup_triggers("sqlite"):
                            cursor.execute(statement)
                        raw.commit()
                    finally:
                        raw.rollback()
                        cursor.execute("DETACH batch")
                    path.unlink()
                    total += made
                    if progress is not None:
                        progress(total)
        except BaseException:
            raw.rollback()
            if total:
                self._remove_demo(raw)
            raise
        finally:
            try:
                if journal != "wal":
                    raw.cursor().execute("PRAGMA main.journal_mode = WAL")
            except sqlite3.Error:
                pass  # then the next connection puts it back in WAL (see _pragmas)
            raw.close()
        return total

    @staticmethod
    def _remove_demo(raw) -> None:
        """Take a half-loaded demo history out again (the database was empty before it)."""
        try:
            cursor = raw.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            for table, _ in (("visit", ()), *EVERY_ROLLUP):
                cursor.execute(f"DELETE FROM {table} WHERE demo")
            raw.commit()
        except sqlite3.Error:
            raw.rollback()  # the caller reports the first failure; the demo rows stay marked demo

    def holds_demo(self) -> bool:
        """True for a demo database (one `triage demo` filled). Read from the small day rollup,
        which keeps counting purged days, so it answers at once however big the visit table."""
        with self.engine.connect() as conn:
            return conn.execute(select(VisitDay.demo).where(VisitDay.demo.is_(True)).limit(1)).first() is not None

    def has_real_visits(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Visit).where(Visit.demo.is_(False))).scalar_one() > 0

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(Visit.id).limit(1)).first() is None

    # --- reading -----------------------------------------------------------------

    def counts_today(self, site: str, desk: str, today: date) -> tuple[int, int]:
        """Visits today (not void) at this desk and at the whole site."""
        counted = (Visit.site_id == site, Visit.local_date == today, Visit.voided_utc.is_(None))
        with self.engine.connect() as conn:
            at_site = conn.execute(select(func.count()).where(*counted)).scalar_one()
            at_desk = conn.execute(select(func.count()).where(*counted, Visit.desk == desk)).scalar_one()
        return at_desk, at_site

    def visits(self) -> list[dict]:
        """Every row as a dict (tests and small exports; statistics use aggregates)."""
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(Visit.__table__).order_by(Visit.id))]

    def check(self) -> dict:
        """The database's own integrity check, and counts."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                integrity = ", ".join(r[0] for r in conn.execute(text("PRAGMA integrity_check")))
            else:
                conn.execute(text("SELECT 1"))
                integrity = "ok"
            total = conn.execute(select(func.count()).select_from(Visit)).scalar_one()
            void = conn.execute(select(func.count()).where(Visit.voided_utc.is_not(None))).scalar_one()
            demo = conn.execute(select(func.count()).where(Visit.demo.is_(True))).scalar_one()
        return {"integrity": integrity, "visits": total, "void": void, "demo": demo,
                "schema_version": self.schema_version(), "spooled": len(self.spool.waiting())}

    # --- retention -------------------------------------------------------------------

    def purge(self, before: date, dry_run: bool = False) -> dict:
        """Delete visit detail dated before `before`. Its counts are already in the rollups (the
        triggers put them there when each visit was written), so no figure changes."""
        older = Visit.local_date < before
        with self.engine.begin() as conn:
            kept = conn.execute(select(func.count()).where(older, Visit.voided_utc.is_(None))).scalar_one()
            void = conn.execute(select(func.count()).where(older, Visit.voided_utc.is_not(None))).scalar_one()
            days = conn.execute(select(func.count(func.distinct(Visit.local_date))).where(older)).scalar_one()
            if not dry_run:
                conn.execute(Visit.__table__.delete().where(older))
        return {"visits": kept, "void": void, "days": days, "dry_run": dry_run}

    def _fold_detail(self, conn, condition) -> None:
        """Add the visits matching `condition` to visit_daily (used when upgrading version 1)."""
        keys = [getattr(Visit, k) for k in ROLLUP_KEYS]
        grouped = conn.execute(
            select(*[func.coalesce(k, "") if k.key == "postcode_site_id" else k for k in keys],
                   func.min(Visit.local_weekday), func.count())
            .where(condition).group_by(*keys)
        ).all()
        self._add_to_rollup(conn, [
            {**dict(zip(ROLLUP_KEYS, row[:-2])), "local_weekday": row[-2], "visits": row[-1]}
            for row in grouped
        ])

    def _add_to_rollup(self, conn, rows: list[dict]) -> None:
        if not rows:
            return
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(VisitDaily.__table__)
        statement = statement.on_conflict_do_update(
            index_elements=list(ROLLUP_KEYS),
            set_={"visits": VisitDaily.__table__.c.visits + statement.excluded.visits},
        )
        conn.execute(statement, rows)

    def dispose(self) -> None:
        self.engine.dispose()


def _made_alongside(make, *args):
    """Run the generator `make(*args, stop=…)` in a thread of its own, a couple of items ahead,
    and yield its items here; an error there is raised here. Stopping early stops it too."""
    items: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in make(*args, stop=stop):
                items.put(item)
        except BaseException as error:  # handed over to the consuming thread
            items.put(error)
        else:
            items.put(done)

    worker = threading.Thread(target=produce, name="triage-demo-batches", daemon=True)
    worker.start()
    try:
        while (item := items.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # let it finish the item it is making
            try:
                items.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()
