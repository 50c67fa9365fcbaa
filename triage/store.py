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
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Index, Table, event, func, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    DatabaseError,
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlmodel import Field, SQLModel, col, create_engine, select

from triage import paths
from triage.spool import Drained, Sent, Spool, database_identity, entry_problem, one_line, why
from triage.visits import FIELDS, to_minute

SCHEMA_VERSION = 4  # 2: rollups kept by triggers; 3: visits per postcode; 4: per day, per month
# The oldest code schema that may still write into a database of SCHEMA_VERSION (kept in
# triage_meta as writable_from). A change that only adds (a table, a rollup the triggers keep, a
# triage_meta row) leaves it unchanged, so desks not yet upgraded go on writing into the shared
# database; a change that older code would write wrongly raises it to the new version.
WRITABLE_FROM = 4
# Serialises schema work (create, upgrade, repair) between processes on PostgreSQL.
SCHEMA_LOCK_KEY = 0x7472_6961_6765  # "triage"
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


Keys = tuple[str, ...]  # a rollup's key columns
# What a rollup row keeps of a visit (besides the count).
ROLLUP_KEYS: Keys = (
    "local_date",
    "local_hour",
    "site_id",
    "destination_id",
    "outcome_id",
    "channel",
    "handled_here",
    "postcode_site_id",
    "demo",
)
HOURLY_KEYS: Keys = ("local_date", "site_id", "local_hour", "demo")
ROUTE_KEYS: Keys = (
    "local_date",
    "site_id",
    "postcode_site_id",
    "destination_id",
    "handled_here",
    "demo",
)
DAY_KEYS: Keys = ("local_date", "site_id", "demo")
# Every rollup with its key, kept by the triggers (and by the bulk load) in the same way.
ROLLUPS = (
    ("visit_daily", ROLLUP_KEYS),
    ("visit_hourly", HOURLY_KEYS),
    ("visit_route", ROUTE_KEYS),
    ("visit_day", DAY_KEYS),
)
# The month rollups, and the day rollup each one sums.
MONTHLY = (
    (
        "visit_month_hourly",
        ("month", "site_id", "local_weekday", "local_hour", "demo"),
        "visit_hourly",
    ),
    ("visit_month_route", ("month", *ROUTE_KEYS[1:]), "visit_route"),
)
# Only visits with a postcode go here.
POSTCODE_KEYS: Keys = ("local_date", "site_id", "postcode", "postcode_site_id", "demo")
# Rollups that are sums of another one, with the one they sum: what an upgrade or a bulk load
# builds from that one rather than from the visits.
SUMMED = (("visit_day", DAY_KEYS, "visit_hourly"), *MONTHLY)
# Every rollup the triggers keep, with its key.
EVERY_ROLLUP = (
    *ROLLUPS,
    *((table, keys) for table, keys, _ in MONTHLY),
    ("visit_postcode", POSTCODE_KEYS),
)


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
    return (
        f"INSERT INTO {table} ({', '.join(_counted_columns(keys))}, visits) {select} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET visits = {table}.visits + {added}"
    )


def _upsert_sql(
    table: str, keys: tuple[str, ...], row: str, delta: str, when: str = "", dialect: str = "sqlite"
) -> str:
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
    return _add_sql(
        table, keys, f"SELECT {', '.join(values)}, {delta} WHERE {when or 'true'}", delta
    )


def _rollup_triggers(dialect: str) -> list[str]:
    """The triggers that keep visit_daily and visit_hourly exact: +1 on insert, -1 on void."""

    def upserts(delta: str) -> str:
        return "; ".join(
            [
                *(_upsert_sql(table, keys, "NEW", delta) for table, keys in ROLLUPS),
                *(
                    _upsert_sql(table, keys, "NEW", delta, dialect=dialect)
                    for table, keys, _ in MONTHLY
                ),
                _upsert_sql(
                    "visit_postcode", POSTCODE_KEYS, "NEW", delta, "NEW.postcode IS NOT NULL"
                ),
            ]
        )

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
    return _add_sql(
        table,
        keys,
        f"SELECT {', '.join([*grouped, *weekday])}, SUM(visits) FROM {source} "
        f"GROUP BY {', '.join(grouped)}",
    )


def _group_postcodes_sql(source: str, condition: str) -> str:
    """Add the visits of `source` that gave a postcode to visit_postcode, grouped."""
    grouped = ", ".join(POSTCODE_KEYS).replace("postcode_site_id", "COALESCE(postcode_site_id, '')")
    return _add_sql(
        "visit_postcode",
        POSTCODE_KEYS,
        f"SELECT {grouped}, MIN(local_weekday), COUNT(*) FROM {source} "
        f"WHERE postcode IS NOT NULL AND {condition} GROUP BY {grouped}",
    )


def _expected_triggers(dialect: str) -> dict[str, str]:
    """Each rollup trigger by name, with what the database keeps of it: on SQLite the CREATE
    statement (SQLite drops the IF NOT EXISTS), on PostgreSQL the trigger function's body."""
    statements = _rollup_triggers(dialect)
    if dialect == "postgresql":
        return {"visit_rollup": statements[0].split("$$")[1]}
    return {
        statement.split()[5]: statement.replace("IF NOT EXISTS ", "", 1) for statement in statements
    }


# Rollups counted from the visits, and those summed from another rollup (with their source).
COUNTED = tuple(
    (table, keys)
    for table, keys in EVERY_ROLLUP
    if table not in {summed for summed, _, _ in SUMMED}
)


def _kept_days(kept_from: date | None) -> str:
    """SQL: the days whose every visit is still in the detail. Purge deletes whole days before
    a date (kept_from); a day with no visit row at all has nothing to count from either, so its
    figures stay as they are (detail deleted by an older purge that did not record it)."""
    since = f"local_date >= '{kept_from.isoformat()}' AND " if kept_from else ""
    return f"{since}local_date IN (SELECT local_date FROM visit)"


def _rollup_select(table: str, keys: tuple[str, ...], where: str = "true") -> str:
    """A rollup's rows as they are (rows a void brought down to 0 count as absent)."""
    columns = ", ".join(_counted_columns(keys))
    return f"SELECT {columns}, visits FROM {table} WHERE visits <> 0 AND {where}"


def _detail_select(table: str, keys: tuple[str, ...], kept_from: date | None) -> str:
    """What the counted rollup `table` must hold for the kept days, counted from the visits."""
    grouped = ["COALESCE(postcode_site_id, '')" if k == "postcode_site_id" else k for k in keys]
    since = f" AND local_date >= '{kept_from.isoformat()}'" if kept_from else ""
    postcode = " AND postcode IS NOT NULL" if table == "visit_postcode" else ""
    columns = ", ".join(f"{g} AS {k}" for g, k in zip(grouped, keys, strict=True))
    return (
        f"SELECT {columns}, MIN(local_weekday) AS local_weekday, COUNT(*) AS visits FROM visit "
        f"WHERE voided_utc IS NULL{since}{postcode} GROUP BY {', '.join(grouped)}"
    )


def _summed_select(keys: tuple[str, ...], source: str, dialect: str) -> str:
    """What a summed rollup must hold: its source rollup summed over its key."""
    grouped = [month_of("local_date", dialect) if k == "month" else k for k in keys]
    weekday = "" if "month" in keys else ", MIN(local_weekday) AS local_weekday"
    columns = ", ".join(f"{g} AS {k}" for g, k in zip(grouped, keys, strict=True))
    return (
        f"SELECT {columns}{weekday}, SUM(visits) AS visits FROM {source} "
        f"GROUP BY {', '.join(grouped)} HAVING SUM(visits) <> 0"
    )


def _differing_sql(keys: tuple[str, ...], found: str, expected: str) -> str:
    """SQL counting the keys whose row differs between two selects (or is in one only)."""
    key = ", ".join(keys)
    return (
        f"SELECT COUNT(*) FROM (SELECT {key} FROM ({found} EXCEPT {expected}) AS extra "
        f"UNION SELECT {key} FROM ({expected} EXCEPT {found}) AS missing) AS differing"
    )


def _version_number(stored: object) -> int | None:
    """A version as stored, '4': a whole number from 1. Anything else ('4.0', 'x', '') is None:
    never guessed."""
    text_value = str(stored) if stored is not None else ""
    if text_value.isascii() and text_value.isdigit() and int(text_value) >= 1:
        return int(text_value)
    return None


def _recorded_date(stored: object) -> date | None:
    try:
        return date.fromisoformat(str(stored))
    except ValueError:
        return None


def _corrupt(error: DBAPIError) -> bool:
    """PostgreSQL's own words for damaged data or a damaged index."""
    return getattr(error.orig, "sqlstate", "") in ("XX000", "XX001", "XX002")


def _triage_tables(tables: set[str]) -> set[str]:
    return {name for name in tables if name.startswith(("visit", "triage_"))}


def _said(error: Exception) -> str:
    """What the database said went wrong, in one line."""
    said = str(getattr(error, "orig", None) or error).strip()
    return said.splitlines()[0] if said else type(error).__name__


class Meta(SQLModel, table=True):
    __tablename__ = "triage_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=400)


# Every table of SCHEMA_VERSION: what a database of this version holds.
TABLES = (
    Visit,
    VisitDaily,
    VisitHourly,
    VisitRoute,
    VisitPostcode,
    VisitDay,
    VisitMonthHourly,
    VisitMonthRoute,
    Meta,
)
TABLE_NAMES = frozenset(model.__tablename__ for model in TABLES)


def table_of(model: type[SQLModel]) -> Table:
    """The table behind a table model: SQLModel makes `__table__` but declares no type for it."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


@dataclass
class SchemaState:
    """What a database holds, read before deciding what opening (or repairing) it takes."""

    tables: set[str]
    meta: dict[str, str]
    holds_rows: bool  # any visit or rollup row: a database that must never be guessed at
    triggers_missing: list[str] = field(default_factory=list)
    triggers_changed: list[str] = field(default_factory=list)

    @property
    def stored_version(self) -> str | None:
        return self.meta.get("schema_version")

    @property
    def version(self) -> int | None:
        return _version_number(self.stored_version)

    @property
    def writable_from(self) -> int | None:
        return _version_number(self.meta.get("writable_from"))

    @property
    def purged_before(self) -> date | None:
        return _recorded_date(self.meta.get("purged_before"))


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
            # A read-only file cannot switch mode: writes will spool.
            with suppress(Exception):
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {SQLITE_SYNCHRONOUS}")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 3})


def _row(visit: dict) -> dict:
    """A spool/desk visit (JSON values) as column values."""
    row: dict[str, Any] = {name: visit.get(name) for name in FIELDS}
    at = datetime.fromisoformat(row["at_utc"]) if isinstance(row["at_utc"], str) else row["at_utc"]
    row["at_utc"] = to_minute(at)  # also for entries spooled before times were kept to the minute
    if isinstance(row["duration_s"], float):
        row["duration_s"] = round(row["duration_s"])  # whole seconds, likewise
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

    def __init__(
        self,
        db: str | Path | None = None,
        desk: str = "skranke-1",
        spool_dir: Path | None = None,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        self.url = database_url(db)
        self.engine = make_engine(self.url, busy_timeout_ms)
        self.desk = desk
        # Its own spool: what waits for this database goes to this one only.
        self.spool = Spool(
            spool_dir or paths.user_data_dir() / "spool", desk, database=database_identity(db)
        )
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
        """Make the database ready for this code, or refuse it with a StoreError that says why.

        New: create the tables. Older: upgrade it, in one transaction with the version row, so
        an upgrade happens once however many desks open it at the same moment. Newer: write into
        it untouched if its writable_from allows this version, else 'db_newer'. A version that
        cannot be read, or a missing one beside visits, is refused: never guessed, since an
        upgrade run twice would count every visit twice. Reading takes no lock and writes
        nothing, so read-only files open; only a database that needs work is locked."""
        with self.engine.connect() as conn:
            state = self._schema_state(conn)
            conn.rollback()
        if not self._needs_work(state):
            self.opened = True
            return
        with self._schema_transaction() as conn:
            state = self._schema_state(conn)  # again: another desk may have done it meanwhile
            if self._needs_work(state):
                self._bring_up(conn, state)
        self.opened = True

    def _needs_work(self, state: SchemaState) -> bool:
        """True when opening must create, upgrade or restore something; raises when the database
        cannot be used by this code."""
        if state.stored_version is None:
            if state.holds_rows:
                raise StoreError("db_version_missing", db=self.describe())
            return True  # new, or left empty by a first opening that stopped half-way
        version = self._readable_version(state)
        if version > SCHEMA_VERSION:
            if state.writable_from is None or state.writable_from > SCHEMA_VERSION:
                raise StoreError("db_newer", found=version, supported=SCHEMA_VERSION)
            return False  # newer and open to our writes: its tables and triggers are its own
        return (
            version < SCHEMA_VERSION
            or not state.tables >= TABLE_NAMES
            or bool(state.triggers_missing)
        )

    def _bring_up(self, conn, state: SchemaState) -> None:
        """Create, upgrade or restore, inside the schema transaction."""
        SQLModel.metadata.create_all(conn, tables=[table_of(model) for model in TABLES])
        if state.stored_version is None:
            self._set_meta(conn, "schema_version", str(SCHEMA_VERSION))
            self._set_meta(conn, "writable_from", str(WRITABLE_FROM))
        elif (version := self._readable_version(state)) < SCHEMA_VERSION:
            self._upgrade(conn, version)
        elif state.triggers_missing:
            # Visits written without them are missing from the rollups: `check` says so until
            # `check --repair` has counted them again.
            now = to_minute(datetime.now(UTC))
            self._set_meta(conn, "triggers_restored", now.isoformat())
        for statement in _rollup_triggers(self.dialect):
            conn.exec_driver_sql(statement)

    @contextmanager
    def _schema_transaction(self, block_writers: bool = False):
        """One transaction for schema work that no other process's schema work runs beside
        (and, with `block_writers`, no write to the visit table either)."""
        with self.engine.begin() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite's one writer, DDL included
            else:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
                if block_writers and self.engine.dialect.has_table(conn, "visit"):
                    conn.exec_driver_sql("LOCK TABLE visit IN SHARE ROW EXCLUSIVE MODE")
            yield conn

    def _schema_state(self, conn) -> SchemaState:
        tables = set(self.engine.dialect.get_table_names(conn))
        meta = {}
        if "triage_meta" in tables:
            meta = {key: value for key, value in conn.execute(select(Meta.key, Meta.value))}
        holds_rows = any(
            conn.execute(text(f"SELECT 1 FROM {name} LIMIT 1")).first() is not None
            for name in sorted(TABLE_NAMES & tables - {"triage_meta"})
        )
        state = SchemaState(tables, meta, holds_rows)
        if "visit" in tables:
            found = self._triggers_found(conn)
            for name, expected in _expected_triggers(self.dialect).items():
                if name not in found:
                    state.triggers_missing.append(name)
                elif found[name].strip() != expected.strip():
                    state.triggers_changed.append(name)
        return state

    def _triggers_found(self, conn) -> dict[str, str]:
        """The rollup triggers the visit table has (enabled), as _expected_triggers gives them."""
        if self.dialect == "postgresql":
            rows = conn.execute(
                text(
                    "SELECT t.tgname, p.prosrc FROM pg_trigger t "
                    "JOIN pg_proc p ON p.oid = t.tgfoid "
                    "WHERE t.tgrelid = to_regclass('visit') AND NOT t.tgisinternal "
                    "AND t.tgenabled <> 'D'"
                )
            )
        else:
            rows = conn.execute(
                text(
                    "SELECT name, sql FROM sqlite_master "
                    "WHERE type = 'trigger' AND tbl_name = 'visit'"
                )
            )
        return {name: body or "" for name, body in rows}

    @staticmethod
    def _set_meta(conn, key: str, value: str | None) -> None:
        """Write (or, with None, remove) one triage_meta row."""
        conn.execute(table_of(Meta).delete().where(col(Meta.key) == key))
        if value is not None:
            conn.execute(table_of(Meta).insert().values(key=key, value=value))

    def _upgrade(self, conn, found: int) -> None:
        """Bring an older database up to SCHEMA_VERSION, step by step, in the transaction that
        writes the new version: it runs once, or not at all."""
        if found < 2:
            # Version 1 kept visit_daily for purged days only: add today's detail to it, and
            # build visit_hourly from both, so the new triggers start from exact figures.
            self._fold_detail(conn, col(Visit.voided_utc).is_(None))
            for table, keys in ROLLUPS[1:]:  # the narrow ones, from the wide one
                columns = ", ".join(keys)
                conn.exec_driver_sql(f"DELETE FROM {table}")
                conn.exec_driver_sql(
                    f"INSERT INTO {table} ({columns}, local_weekday, visits) "
                    f"SELECT {columns}, MIN(local_weekday), SUM(visits) FROM visit_daily "
                    f"GROUP BY {columns}"
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
        self._set_meta(conn, "schema_version", str(SCHEMA_VERSION))
        self._set_meta(conn, "writable_from", str(WRITABLE_FROM))

    def schema_version(self) -> int:
        """The database's schema version; StoreError when it has none that can be read."""
        with self.engine.connect() as conn:
            stored = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
        version = _version_number(stored)
        if version is None:
            code = "db_version_missing" if stored is None else "db_version_unreadable"
            raise StoreError(code, db=self.describe(), found=stored)
        return version

    # --- writing -----------------------------------------------------------------

    def _insert_ignoring_known(self, conn, rows: list[dict]) -> None:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]  # same API
        statement = insert(table_of(Visit)).on_conflict_do_nothing(index_elements=["visit_id"])
        conn.execute(statement, rows)

    def _void_in(self, conn, visit_id: str, desk: str, when: datetime) -> int:
        result = conn.execute(
            update(Visit)
            .where(col(Visit.visit_id) == visit_id, col(Visit.voided_utc).is_(None))
            .values(voided_utc=to_minute(when), voided_desk=desk)
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
        when = when or datetime.now(UTC)
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

    def replay_spool(self, legacy: bool = False) -> int:
        """Send what waits in this database's spool; returns how many entries went. Safe to
        call any time. Entries that can never be stored are set aside with their reason; what
        the flush did, and why anything still waits, is in self.spool.last. `legacy` (only
        `triage spool flush`, which names the database): also what earlier versions spooled
        with no database recorded."""
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

            return self.spool.drain(send, legacy).sent

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
            for index, (table, keys) in enumerate(counted)
        ]
        add_counts += [
            _sum_sql(table, keys, f"batch.count{[t for t, _ in counted].index(source)}", "sqlite")
            for table, keys, source in SUMMED
        ]
        self.engine.dispose()  # our own idle connections would keep the database in WAL
        raw = self.engine.raw_connection()
        total, journal = 0, "wal"
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA temp_store = MEMORY")
            history.prepare(cursor)  # the plan, to spell out the codes
            raw.commit()
            select_visits, params = history.visit_select("batch.demo_code")
            # If someone else has it open (a desk, a supervisor), load in WAL, beside them.
            with suppress(sqlite3.OperationalError):
                journal = cursor.execute("PRAGMA main.journal_mode = TRUNCATE").fetchone()[0]
            with tempfile.TemporaryDirectory(prefix="triage-demo-") as scratch:
                for path, made in _made_alongside(history.write_batches, Path(scratch), groupings):
                    cursor.execute("ATTACH ? AS batch", (str(path),))
                    try:
                        cursor.execute("BEGIN IMMEDIATE")
                        cursor.execute("DROP TRIGGER IF EXISTS visit_rollup_insert")
                        cursor.execute(
                            f"INSERT INTO visit ({', '.join(FIELDS)}) {select_visits}", params
                        )
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
            return (
                conn.execute(
                    select(VisitDay.demo).where(col(VisitDay.demo).is_(True)).limit(1)
                ).first()
                is not None
            )

    def has_real_visits(self) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(func.count()).select_from(Visit).where(col(Visit.demo).is_(False))
                ).scalar_one()
                > 0
            )

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(Visit.id).limit(1)).first() is None

    # --- reading -----------------------------------------------------------------

    def counts_today(self, site: str, desk: str, today: date) -> tuple[int, int]:
        """Visits today (not void) at this desk and at the whole site."""
        counted = (
            Visit.site_id == site,
            Visit.local_date == today,
            col(Visit.voided_utc).is_(None),
        )
        with self.engine.connect() as conn:
            at_site = conn.execute(select(func.count()).where(*counted)).scalar_one()
            at_desk = conn.execute(
                select(func.count()).where(*counted, Visit.desk == desk)
            ).scalar_one()
        return at_desk, at_site

    def visits(self) -> list[dict]:
        """Every row as a dict (tests and small exports; statistics use aggregates)."""
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(table_of(Visit).select().order_by(col(Visit.id)))
            ]

    # --- checking and repair -------------------------------------------------------

    @contextmanager
    def _snapshot(self):
        """A read-only transaction that sees one moment, however long the check takes."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            else:
                conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                conn.rollback()

    def _readable_version(self, state: SchemaState) -> int:
        """The stored version; StoreError when it is missing or cannot be read."""
        if state.stored_version is None:
            raise StoreError("db_version_missing", db=self.describe())
        if state.version is None:
            raise StoreError(
                "db_version_unreadable", db=self.describe(), found=state.stored_version
            )
        return state.version

    def _not_newer(self, version: int) -> None:
        """Checking or repairing a newer schema is for the newer code."""
        if version > SCHEMA_VERSION:
            raise StoreError(
                "check_db_newer", db=self.describe(), found=version, supported=SCHEMA_VERSION
            )

    def check(self) -> dict:
        """The database's own integrity check; that the rollup triggers are there and are this
        version's; every rollup counted from the visits against the visit detail, for the days
        whose detail is kept, and every summed rollup (day, months) against the one it sums.
        `ok` is False when anything is wrong; `check --repair` puts rollups and triggers right."""
        with self._snapshot() as conn:
            state = self._schema_state(conn)
            self._not_newer(self._readable_version(state))
            if TABLE_NAMES - state.tables:  # check reads only: --repair makes them again
                raise StoreError(
                    "check_tables_missing",
                    db=self.describe(),
                    tables=", ".join(sorted(TABLE_NAMES - state.tables)),
                )
            integrity, amcheck = self._integrity(conn)
            report: dict[str, Any] = {
                "integrity": integrity,
                "amcheck": amcheck,
                "schema_version": state.version,
                "triggers_missing": state.triggers_missing,
                "triggers_changed": state.triggers_changed,
                "triggers_restored": state.meta.get("triggers_restored"),
                "purged_before": state.purged_before,
                "rollups": {},
                "days_checked": 0,
                "days_without_detail": 0,
                "visits": 0,
                "void": 0,
                "demo": 0,
            }
            if integrity == "ok":  # figures read from a damaged file prove nothing
                differences = self._rollup_differences(conn, state)
                report["rollups"] = {table: found for table, found in differences if found["rows"]}
                report.update(self._day_counts(conn, state.purged_before))
                counted = conn.execute(
                    select(
                        func.count(),
                        func.count(col(Visit.voided_utc)),
                        func.count().filter(col(Visit.demo).is_(True)),
                    )
                ).one()
                report.update(visits=counted[0], void=counted[1], demo=counted[2])
        report["spooled"] = len(self.spool.waiting())
        report["ok"] = (
            integrity == "ok"
            and not report["rollups"]
            and not state.triggers_missing
            and not state.triggers_changed
            and not report["triggers_restored"]
        )
        return report

    def _integrity(self, conn) -> tuple[str, bool | None]:
        """("ok" or what went wrong, whether amcheck checked the indexes: None on SQLite)."""
        if self.dialect == "sqlite":
            try:
                said = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]
            except DatabaseError as error:
                return _said(error), None
            lines = [line for row in said for line in str(row).splitlines()]
            shown = "; ".join(lines[:3])  # SQLite can list thousands; the first say what is wrong
            return shown + (f" … (+{len(lines) - 3})" if len(lines) > 3 else ""), None
        return self._postgres_integrity(conn)

    def _postgres_integrity(self, conn) -> tuple[str, bool]:
        """What an ordinary user can check on PostgreSQL: every row of every triage table read
        from the table itself (not an index), no visit id twice (a damaged unique index lets a
        visit in twice), and the B-tree indexes with amcheck's bt_index_check where that
        extension is installed and this user may run it. The server's own files, WAL and other
        databases are the server administrator's (pg_amcheck, data checksums)."""
        tables = sorted(TABLE_NAMES)
        try:
            for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
                conn.exec_driver_sql(f"SET LOCAL {setting} = off")
            for table in tables:
                conn.exec_driver_sql(f"SELECT COUNT(*) FROM (SELECT * FROM {table}) AS every_row")
            for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
                conn.exec_driver_sql(f"SET LOCAL {setting} = on")
            twice = conn.exec_driver_sql(
                "SELECT COUNT(*) FROM (SELECT visit_id FROM visit GROUP BY visit_id "
                "HAVING COUNT(*) > 1) AS twice"
            ).scalar_one()
        except DBAPIError as error:
            if _corrupt(error):
                return _said(error), False
            raise
        if twice:
            return f"visit_id twice: {twice}", False
        amcheck = conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'")
        if amcheck.first() is None:
            return "ok", False
        savepoint = conn.begin_nested()
        try:
            conn.execute(
                text(
                    "SELECT bt_index_check(i.indexrelid) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                    "WHERE i.indrelid = ANY(CAST(:tables AS regclass[])) AND a.amname = 'btree'"
                ),
                {"tables": tables},
            )
        except DBAPIError as error:
            savepoint.rollback()
            if _corrupt(error):
                return _said(error), True
            return "ok", False  # not this user's to run (amcheck is for its owner by default)
        savepoint.commit()
        return "ok", True

    def _rollup_differences(self, conn, state: SchemaState):
        """(table, {rows, found, expected, source}) for every rollup, in the order a repair
        must rebuild them: those counted from the visits, then those summed from them."""
        days = _kept_days(state.purged_before)
        for table, keys in COUNTED:
            yield (
                table,
                self._difference(
                    conn,
                    keys,
                    _rollup_select(table, keys, days),
                    _detail_select(table, keys, state.purged_before),
                    "visit",
                ),
            )
        for table, keys, source in SUMMED:
            yield (
                table,
                self._difference(
                    conn,
                    keys,
                    _rollup_select(table, keys),
                    _summed_select(keys, source, self.dialect),
                    source,
                ),
            )

    @staticmethod
    def _difference(conn, keys: tuple[str, ...], found: str, expected: str, source: str) -> dict:
        rows = conn.exec_driver_sql(_differing_sql(keys, found, expected)).scalar_one()
        totals = [
            conn.exec_driver_sql(
                f"SELECT COALESCE(SUM(visits), 0) FROM ({sql}) AS rows_"
            ).scalar_one()
            for sql in (found, expected)
        ]
        return {"rows": rows, "found": int(totals[0]), "expected": int(totals[1]), "source": source}

    @staticmethod
    def _day_counts(conn, purged_before: date | None) -> dict:
        """How many days were checked against the detail, and how many have figures only."""
        kept = _kept_days(purged_before)
        days = "SELECT COUNT(DISTINCT local_date) FROM visit_day WHERE visits <> 0 AND "
        return {
            "days_checked": conn.exec_driver_sql(f"{days}{kept}").scalar_one(),
            "days_without_detail": conn.exec_driver_sql(f"{days}NOT ({kept})").scalar_one(),
        }

    def repair(self) -> dict:
        """Put the rollups and triggers right, in one transaction that desks wait for (a few
        seconds; a desk that waits longer spools): rollups counted from the visits are rebuilt
        for the days whose detail is kept, summed ones from what they sum, so days whose detail
        was purged keep their figures. A database whose version row is missing or unreadable
        gets it written when its tables are exactly this version's. Returns what changed:
        {"version": written or None, "tables": created, "triggers": put back, "rollups": {table:
        what differed, as in check}, "restored_note": when an opening had put triggers back}."""
        changes: dict = {
            "version": None,
            "tables": [],
            "triggers": [],
            "rollups": {},
            "restored_note": None,
        }
        with self._schema_transaction(block_writers=True) as conn:
            integrity, _ = self._integrity(conn)
            if integrity != "ok":  # figures rebuilt from a damaged file could not be trusted
                raise StoreError("repair_damaged", db=self.describe(), integrity=integrity)
            state = self._schema_state(conn)
            if state.version is None and _triage_tables(state.tables) == TABLE_NAMES:
                # Exactly this version's tables, no more, no fewer: write the version it lost.
                self._set_meta(conn, "schema_version", str(SCHEMA_VERSION))
                self._set_meta(conn, "writable_from", str(WRITABLE_FROM))
                changes["version"] = SCHEMA_VERSION
                state = self._schema_state(conn)
            if state.version is None and state.holds_rows:
                raise StoreError(
                    "db_schema_unknown",
                    db=self.describe(),
                    supported=SCHEMA_VERSION,
                    tables=", ".join(sorted(_triage_tables(state.tables))),
                )
            if state.version is not None:
                self._not_newer(state.version)
            changes["restored_note"] = state.meta.get("triggers_restored")  # by an opening, before
            changes["triggers"] = [*state.triggers_missing, *state.triggers_changed]
            if self._needs_work(state):
                changes["tables"] = sorted(TABLE_NAMES - state.tables)
                if state.version is not None and state.version < SCHEMA_VERSION:
                    changes["version"] = SCHEMA_VERSION
                self._bring_up(conn, state)
                state = self._schema_state(conn)
            self._put_back_triggers(conn, state)
            for table, difference in self._rollup_differences(conn, state):  # in order, as rebuilt
                if difference["rows"]:
                    self._rebuild(conn, table, state.purged_before)
                    changes["rollups"][table] = difference
            self._set_meta(conn, "triggers_restored", None)
        return changes

    def _put_back_triggers(self, conn, state: SchemaState) -> None:
        """Replace the rollup triggers that are missing or not this version's."""
        wrong = [*state.triggers_missing, *state.triggers_changed]
        if not wrong:
            return
        on_table = " ON visit" if self.dialect == "postgresql" else ""
        for name in wrong:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}{on_table}")
        for statement in _rollup_triggers(self.dialect):
            conn.exec_driver_sql(statement)

    def _rebuild(self, conn, table: str, purged_before: date | None) -> None:
        """Rebuild one rollup: the kept days from the visits, or all of it from what it sums."""
        summed = {t: (keys, source) for t, keys, source in SUMMED}
        if table in summed:
            keys, source = summed[table]
            conn.exec_driver_sql(f"DELETE FROM {table}")
            conn.exec_driver_sql(_sum_sql(table, keys, source, self.dialect))
            return
        keys = dict(COUNTED)[table]
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE {_kept_days(purged_before)}")
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(_counted_columns(keys))}, visits) "
            f"{_detail_select(table, keys, purged_before)}"
        )

    # --- retention -------------------------------------------------------------------

    def purge(self, before: date, dry_run: bool = False) -> dict:
        """Delete visit detail dated before `before`. Its counts are already in the rollups (the
        triggers put them there when each visit was written), so no figure changes. The date is
        recorded (purged_before): `check` counts the detail of the days from it on only."""
        older = col(Visit.local_date) < before
        with self.engine.begin() as conn:
            kept = conn.execute(
                select(func.count()).where(older, col(Visit.voided_utc).is_(None))
            ).scalar_one()
            void = conn.execute(
                select(func.count()).where(older, col(Visit.voided_utc).is_not(None))
            ).scalar_one()
            days = conn.execute(
                select(func.count(func.distinct(Visit.local_date))).where(older)
            ).scalar_one()
            if not dry_run:
                conn.execute(table_of(Visit).delete().where(older))
                # What `check` needs to know: the days before this one keep figures only.
                stored = conn.execute(select(Meta.value).where(Meta.key == "purged_before"))
                recorded = _recorded_date(stored.scalar())
                if recorded is None or recorded < before:
                    self._set_meta(conn, "purged_before", before.isoformat())
        return {"visits": kept, "void": void, "days": days, "dry_run": dry_run}

    def _fold_detail(self, conn, condition) -> None:
        """Add the visits matching `condition` to visit_daily (used when upgrading version 1)."""
        keys = [getattr(Visit, k) for k in ROLLUP_KEYS]
        columns = [func.coalesce(k, "") if k.key == "postcode_site_id" else k for k in keys]
        columns += [func.min(Visit.local_weekday), func.count()]
        grouped = conn.execute(select(*columns).where(condition).group_by(*keys)).all()
        self._add_to_rollup(
            conn,
            [
                {
                    **dict(zip(ROLLUP_KEYS, row[:-2], strict=True)),
                    "local_weekday": row[-2],
                    "visits": row[-1],
                }
                for row in grouped
            ],
        )

    def _add_to_rollup(self, conn, rows: list[dict]) -> None:
        if not rows:
            return
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]  # same API
        statement = insert(table_of(VisitDaily))
        statement = statement.on_conflict_do_update(
            index_elements=list(ROLLUP_KEYS),
            set_={"visits": table_of(VisitDaily).c.visits + statement.excluded.visits},
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
            with suppress(queue.Empty):
                items.get(timeout=0.1)
        worker.join()
