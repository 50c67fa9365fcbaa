"""`triage check` and `check --repair`: the database's own integrity check, the rollup
triggers, and every rollup against what it counts or sums; the repair that puts them right."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Index, func, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, DBAPIError
from sqlmodel import col, select

from triage.db.errors import DbError
from triage.db.migrations import SCHEMA_VERSION, WRITABLE_FROM
from triage.db.models import TABLE_NAMES, TABLES, Visit, set_meta, table_of
from triage.db.rollups import (
    COUNTED,
    SUMMED,
    counted_columns,
    detail_select,
    differing_sql,
    kept_days,
    rollup_select,
    rollup_triggers,
    sum_sql,
    summed_select,
)
from triage.db.schema import (
    SchemaState,
    not_newer,
    read_state,
    readable_version,
    schema_transaction,
    triage_tables,
)

if TYPE_CHECKING:
    from triage.db.store import Store


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one moment, however long the check takes."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


def check(store: Store) -> dict:
    """The database's own integrity check; that the rollup triggers are there and are this
    version's; every rollup counted from the visits against the visit detail, for the days
    whose detail is kept, and every summed rollup (day, months) against the one it sums.
    `ok` is False when anything is wrong; `check --repair` puts rollups and triggers right."""
    with _snapshot(store.engine) as conn:
        state = read_state(conn)
        not_newer(readable_version(state, store.describe()), store.describe())
        if TABLE_NAMES - state.tables:  # check reads only: --repair makes them again
            raise DbError(
                "check_tables_missing",
                db=store.describe(),
                tables=", ".join(sorted(TABLE_NAMES - state.tables)),
            )
        integrity, amcheck = integrity_of(conn)
        report: dict[str, Any] = {
            "integrity": integrity,
            "amcheck": amcheck,
            "indexes_missing": indexes_missing(conn),
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
            differences = _rollup_differences(conn, state)
            report["rollups"] = {table: found for table, found in differences if found["rows"]}
            report.update(_day_counts(conn, state.purged_before))
            counted = conn.execute(
                select(
                    func.count(),
                    func.count(col(Visit.voided_utc)),
                    func.count().filter(col(Visit.demo).is_(True)),
                )
            ).one()
            report.update(visits=counted[0], void=counted[1], demo=counted[2])
    report["spooled"] = len(store.spool.waiting())
    report["ok"] = (
        integrity == "ok"
        and not report["indexes_missing"]
        and not report["rollups"]
        and not state.triggers_missing
        and not state.triggers_changed
        and not report["triggers_restored"]
    )
    return report


def expected_indexes() -> dict[str, Index]:
    """The named indexes the tables declare (unique columns get the engine's own)."""
    return {str(index.name): index for model in TABLES for index in table_of(model).indexes}


def indexes_missing(conn: Connection) -> list[str]:
    """The declared indexes the database lacks (dropped by hand, or lost in a copy): without
    them the day and site queries read the whole visit table."""
    if conn.dialect.name == "sqlite":
        import sqlite_utils  # reads SQLite's own catalogue; loaded for `triage check` only

        database = sqlite_utils.Database(
            conn.connection.dbapi_connection,  # type: ignore[arg-type]
            recursive_triggers=False,  # leave the connection's settings as the store made them
            execute_plugins=False,
        )
        found = {index.name for table in TABLE_NAMES for index in database.table(table).indexes}
    else:
        rows = conn.exec_driver_sql(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        )
        found = {name for (name,) in rows}
    return sorted(set(expected_indexes()) - found)


def integrity_of(conn: Connection) -> tuple[str, bool | None]:
    """("ok" or what went wrong, whether amcheck checked the indexes: None on SQLite)."""
    if conn.dialect.name == "sqlite":
        try:
            said = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]
        except DatabaseError as error:
            return _said(error), None
        lines = [line for row in said for line in str(row).splitlines()]
        shown = "; ".join(lines[:3])  # SQLite can list thousands; the first say what is wrong
        return shown + (f" … (+{len(lines) - 3})" if len(lines) > 3 else ""), None
    return _postgres_integrity(conn)


def _postgres_integrity(conn: Connection) -> tuple[str, bool]:
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


def _rollup_differences(conn: Connection, state: SchemaState) -> Iterator[tuple[str, dict]]:
    """(table, {rows, found, expected, source}) for every rollup, in the order a repair
    must rebuild them: those counted from the visits, then those summed from them."""
    days = kept_days(state.purged_before)
    for table, keys in COUNTED:
        yield (
            table,
            _difference(
                conn,
                keys,
                rollup_select(table, keys, days),
                detail_select(table, keys, state.purged_before),
                "visit",
            ),
        )
    for table, keys, source in SUMMED:
        yield (
            table,
            _difference(
                conn,
                keys,
                rollup_select(table, keys),
                summed_select(keys, source, conn.dialect.name),
                source,
            ),
        )


def _difference(
    conn: Connection, keys: tuple[str, ...], found: str, expected: str, source: str
) -> dict:
    rows = conn.exec_driver_sql(differing_sql(keys, found, expected)).scalar_one()
    totals = [
        conn.exec_driver_sql(f"SELECT COALESCE(SUM(visits), 0) FROM ({sql}) AS rows_").scalar_one()
        for sql in (found, expected)
    ]
    return {"rows": rows, "found": int(totals[0]), "expected": int(totals[1]), "source": source}


def _day_counts(conn: Connection, purged_before: date | None) -> dict:
    """How many days were checked against the detail, and how many have figures only."""
    kept = kept_days(purged_before)
    days = "SELECT COUNT(DISTINCT local_date) FROM visit_day WHERE visits <> 0 AND "
    return {
        "days_checked": conn.exec_driver_sql(f"{days}{kept}").scalar_one(),
        "days_without_detail": conn.exec_driver_sql(f"{days}NOT ({kept})").scalar_one(),
    }


def repair(store: Store) -> dict:
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
        "indexes": [],
        "rollups": {},
        "restored_note": None,
    }
    with schema_transaction(store.engine, block_writers=True) as conn:
        integrity, _ = integrity_of(conn)
        if integrity != "ok":  # figures rebuilt from a damaged file could not be trusted
            raise DbError("repair_damaged", db=store.describe(), integrity=integrity)
        state = read_state(conn)
        if state.version is None and triage_tables(state.tables) == TABLE_NAMES:
            # Exactly this version's tables, no more, no fewer: write the version it lost.
            set_meta(conn, "schema_version", str(SCHEMA_VERSION))
            set_meta(conn, "writable_from", str(WRITABLE_FROM))
            changes["version"] = SCHEMA_VERSION
            state = read_state(conn)
        if state.version is None and state.holds_rows:
            raise DbError(
                "db_schema_unknown",
                db=store.describe(),
                supported=SCHEMA_VERSION,
                tables=", ".join(sorted(triage_tables(state.tables))),
            )
        if state.version is not None:
            not_newer(state.version, store.describe())
        changes["restored_note"] = state.meta.get("triggers_restored")  # by an opening, before
        changes["triggers"] = [*state.triggers_missing, *state.triggers_changed]
        if store.needs_work(state):
            changes["tables"] = sorted(TABLE_NAMES - state.tables)
            if state.version is not None and state.version < SCHEMA_VERSION:
                changes["version"] = SCHEMA_VERSION
            store.bring_up(conn, state)
            state = read_state(conn)
        _put_back_triggers(conn, state)
        changes["indexes"] = indexes_missing(conn)
        for name in changes["indexes"]:
            expected_indexes()[name].create(conn)
        for table, difference in _rollup_differences(conn, state):  # in order, as rebuilt
            if difference["rows"]:
                _rebuild(conn, table, state.purged_before)
                changes["rollups"][table] = difference
        set_meta(conn, "triggers_restored", None)
    return changes


def _put_back_triggers(conn: Connection, state: SchemaState) -> None:
    """Replace the rollup triggers that are missing or not this version's."""
    wrong = [*state.triggers_missing, *state.triggers_changed]
    if not wrong:
        return
    on_table = " ON visit" if conn.dialect.name == "postgresql" else ""
    for name in wrong:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}{on_table}")
    for statement in rollup_triggers(conn.dialect.name):
        conn.exec_driver_sql(statement)


def _rebuild(conn: Connection, table: str, purged_before: date | None) -> None:
    """Rebuild one rollup: the kept days from the visits, or all of it from what it sums."""
    summed = {t: (keys, source) for t, keys, source in SUMMED}
    if table in summed:
        keys, source = summed[table]
        conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql(sum_sql(table, keys, source, conn.dialect.name))
        return
    keys = dict(COUNTED)[table]
    conn.exec_driver_sql(f"DELETE FROM {table} WHERE {kept_days(purged_before)}")
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(counted_columns(keys))}, visits) "
        f"{detail_select(table, keys, purged_before)}"
    )


def _corrupt(error: DBAPIError) -> bool:
    """PostgreSQL's own words for damaged data or a damaged index."""
    return getattr(error.orig, "sqlstate", "") in ("XX000", "XX001", "XX002")


def _said(error: Exception) -> str:
    """What the database said went wrong, in one line."""
    said = str(getattr(error, "orig", None) or error).strip()
    return said.splitlines()[0] if said else type(error).__name__
