"""Store: records, voids and counts visits. A visit that cannot be written (database locked
past the timeout, disk full, server gone, read-only file) goes to a local append-only spool
instead and is replayed later. Visit ids are made by the desk and unique in the table, so a
replay never counts a visit twice.

This module imports SQLModel/SQLAlchemy; the desk loads it off the start-up path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlmodel import SQLModel, col, select

from triage import paths
from triage.db.connect import (
    BUSY_TIMEOUT_MS,
    UNAVAILABLE,
    database_url,
    make_engine,
    wal_checkpointer,
)
from triage.db.errors import DbError
from triage.db.migrations import SCHEMA_VERSION, WRITABLE_FROM, upgrade
from triage.db.models import (
    TABLE_NAMES,
    TABLES,
    Meta,
    Visit,
    VisitDay,
    VisitTicket,
    set_meta,
    table_of,
)
from triage.db.rollups import rollup_triggers
from triage.db.schema import (
    SchemaState,
    read_state,
    readable_version,
    recorded_date,
    schema_transaction,
    version_number,
)
from triage.spool import Drained, Sent, Spool, database_identity, entry_problem, one_line, why
from triage.visits import FIELDS, QUEUE_FIELDS, local_parts, to_minute

if TYPE_CHECKING:
    from triage.demo import DemoHistory


def _row(visit: dict) -> dict:
    """A spool/desk visit (JSON values) as column values."""
    row: dict[str, Any] = {name: visit.get(name) for name in FIELDS + QUEUE_FIELDS}
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
        # SQLite: the log copied back by a thread, not by the commit of every ~94th visit.
        self.checkpointer = wal_checkpointer(self.engine)
        self.desk = desk
        # Its own spool: what waits for this database goes to this one only.
        self.spool = Spool(
            spool_dir or paths.user_data_dir() / "spool", desk, database=database_identity(db)
        )
        self._lock = threading.Lock()  # one write at a time from this process
        self._one_visit: tuple[str, list[tuple[str, Any]]] | None = None
        self.opened = False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def describe(self) -> str:
        """The database for messages, without a password."""
        return self.engine.url.render_as_string(hide_password=True)

    # --- schema ------------------------------------------------------------------

    def open(self) -> None:
        """Make the database ready for this code, or refuse it with a DbError that says why.

        New: create the tables. Older: upgrade it, in one transaction with the version row, so
        an upgrade happens once however many desks open it at the same moment. Newer: write into
        it untouched if its writable_from allows this version, else 'db_newer'. A version that
        cannot be read, or a missing one beside visits, is refused: never guessed, since an
        upgrade run twice would count every visit twice. Reading takes no lock and writes
        nothing, so read-only files open; only a database that needs work is locked."""
        with self.engine.connect() as conn:
            state = read_state(conn)
            conn.rollback()
        if not self.needs_work(state):
            self.opened = True
            return
        with schema_transaction(self.engine) as conn:
            state = read_state(conn)  # again: another desk may have done it meanwhile
            if self.needs_work(state):
                self.bring_up(conn, state)
        self.opened = True

    def needs_work(self, state: SchemaState) -> bool:
        """True when opening must create, upgrade or restore something; raises when the database
        cannot be used by this code."""
        if state.stored_version is None:
            if state.holds_rows:
                raise DbError("db_version_missing", db=self.describe())
            return True  # new, or left empty by a first opening that stopped half-way
        version = readable_version(state, self.describe())
        if version > SCHEMA_VERSION:
            if state.writable_from is None or state.writable_from > SCHEMA_VERSION:
                raise DbError("db_newer", found=version, supported=SCHEMA_VERSION)
            return False  # newer and open to our writes: its tables and triggers are its own
        return (
            version < SCHEMA_VERSION
            or not state.tables >= TABLE_NAMES
            or bool(state.triggers_missing)
        )

    def bring_up(self, conn, state: SchemaState) -> None:
        """Create, upgrade or restore, inside the schema transaction."""
        SQLModel.metadata.create_all(conn, tables=[table_of(model) for model in TABLES])
        if state.stored_version is None:
            set_meta(conn, "schema_version", str(SCHEMA_VERSION))
            set_meta(conn, "writable_from", str(WRITABLE_FROM))
        elif (version := readable_version(state, self.describe())) < SCHEMA_VERSION:
            upgrade(conn, version)
        elif state.triggers_missing:
            # Visits written without them are missing from the rollups: `check` says so until
            # `check --repair` has counted them again.
            now = to_minute(datetime.now(UTC))
            set_meta(conn, "triggers_restored", now.isoformat())
        for statement in rollup_triggers(self.dialect):
            conn.exec_driver_sql(statement)
        if self.dialect == "postgresql":
            from triage.db.roles import keep_roles  # imports this module

            keep_roles(conn)  # the least-privilege roles, if applied before, kept right

    def schema_version(self) -> int:
        """The database's schema version; DbError when it has none that can be read."""
        with self.engine.connect() as conn:
            stored = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
        version = version_number(stored)
        if version is None:
            code = "db_version_missing" if stored is None else "db_version_unreadable"
            raise DbError(code, db=self.describe(), found=stored)
        return version

    # --- writing -----------------------------------------------------------------

    def _insert_ignoring_known(self, conn, rows: list[dict]) -> None:
        if len(rows) == 1:  # a desk's visit: written straight to the driver (see _one_visit)
            sql, processors = self._one_visit or self._make_one_visit()
            row = rows[0]
            conn.exec_driver_sql(
                sql, {name: (p(row[name]) if p else row[name]) for name, p in processors}
            )
            return
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]  # same API
        statement = insert(table_of(Visit)).on_conflict_do_nothing(index_elements=["visit_id"])
        conn.execute(statement, rows)

    def _make_one_visit(self) -> tuple[str, list[tuple[str, Any]]]:
        """The INSERT of one visit as the driver's own SQL, and each column's conversion to the
        driver's value (SQLAlchemy's own, so the row is stored exactly as its insert stores it).
        Made once: building and compiling the insert each time cost as much as a desk's commit
        paying for every rollup."""
        dialect = self.engine.dialect
        table = table_of(Visit)
        names = FIELDS + QUEUE_FIELDS
        mark = "%({})s" if dialect.paramstyle == "pyformat" else ":{}"
        sql = (
            f"INSERT INTO visit ({', '.join(names)}) "
            f"VALUES ({', '.join(mark.format(name) for name in names)}) "
            "ON CONFLICT (visit_id) DO NOTHING"
        )
        processors = [
            (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]
        self._one_visit = (sql, processors)
        return self._one_visit

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
        could never be stored (see spool.entry_problem) raises DbError('not_saved')."""
        problem = entry_problem(visit)
        if problem:
            raise DbError("not_saved", reason=why(problem))
        with self._lock:
            try:
                if not self.opened:
                    self.open()
                self._apply([visit])
                return "saved"
            except (*UNAVAILABLE, DbError):
                self._to_spool(visit)
                return "spooled"

    def void(self, visit_id: str, desk: str, when: datetime | None = None) -> str:
        """Mark a visit void (kept, left out of statistics): 'saved', 'spooled' or 'unknown'."""
        when = when or datetime.now(UTC)
        entry = {"void": visit_id, "voided_desk": desk, "voided_utc": when.isoformat()}
        problem = entry_problem(entry)
        if problem:
            raise DbError("not_saved", reason=why(problem))
        with self._lock:
            try:
                if not self.opened:
                    self.open()
                with self.engine.begin() as conn:
                    if self._void_in(conn, visit_id, desk, when):
                        return "saved"
                if not any(e.get("visit_id") == visit_id for e in self.spool.waiting()):
                    return "unknown"
            except (*UNAVAILABLE, DbError):
                pass
            self._to_spool(entry)
            return "spooled"

    def _to_spool(self, entry: dict) -> None:
        try:
            self.spool.append(entry)
        except OSError as error:
            # Neither database nor disk: the desk must say so plainly; the visit is not lost yet,
            # the desk keeps it and tries again.
            raise DbError("not_saved", reason=error.strerror or str(error)) from error

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

    def load_demo(
        self, history: DemoHistory, progress: Callable[[int], object] | None = None
    ) -> int:
        """Load a demo history into an empty SQLite database, fast (see triage.db.bulk)."""
        from triage.db.bulk import load_demo

        return load_demo(self, history, progress)

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
        """Visits today (not void) at this desk and at the whole site. The site's from the day
        rollup: a desk's database role may read only its own desk's visits (triage.db.roles)."""
        counted = (
            Visit.site_id == site,
            Visit.local_date == today,
            col(Visit.voided_utc).is_(None),
        )
        of_site = (VisitDay.site_id == site, VisitDay.local_date == today)
        with self.engine.connect() as conn:
            at_site = conn.execute(
                select(func.coalesce(func.sum(VisitDay.visits), 0)).where(*of_site)
            ).scalar_one()
            at_desk = conn.execute(
                select(func.count()).where(*counted, Visit.desk == desk)
            ).scalar_one()
        return at_desk, int(at_site)

    def visits(self) -> list[dict]:
        """Every row as a dict (tests and small exports; statistics use aggregates)."""
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(table_of(Visit).select().order_by(col(Visit.id)))
            ]

    # --- checking and repair (triage.db.check) -------------------------------------

    def check(self) -> dict:
        """What `triage check` reports; see triage.db.check.check."""
        from triage.db.check import check

        return check(self)

    def repair(self) -> dict:
        """What `triage check --repair` does; see triage.db.check.repair."""
        from triage.db.check import repair

        return repair(self)

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
                # Queue tickets go with the detail; no ticket number outlives its day.
                tickets = table_of(VisitTicket)
                conn.execute(tickets.delete().where(tickets.c.local_date < before))
                today = date.fromisoformat(str(local_parts(datetime.now(UTC))["local_date"]))
                conn.execute(
                    tickets.update()
                    .where(tickets.c.local_date < today)
                    .values(number=None, clock_utc=None)
                )
                # What `check` needs to know: the days before this one keep figures only.
                stored = conn.execute(select(Meta.value).where(Meta.key == "purged_before"))
                recorded = recorded_date(stored.scalar())
                if recorded is None or recorded < before:
                    set_meta(conn, "purged_before", before.isoformat())
        return {"visits": kept, "void": void, "days": days, "dry_run": dry_run}

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()
