"""What a database holds (tables, version, triggers), read before deciding what opening,
checking or repairing it takes; and the lock that schema work runs under."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import select

from triage.db.errors import DbError
from triage.db.migrations import SCHEMA_VERSION
from triage.db.models import TABLE_NAMES, Meta
from triage.db.rollups import expected_triggers

# Serialises schema work (create, upgrade, repair) between processes on PostgreSQL.
SCHEMA_LOCK_KEY = 0x7472_6961_6765  # "triage"


def version_number(stored: object) -> int | None:
    """A version as stored, '4': a whole number from 1. Anything else ('4.0', 'x', '') is None:
    never guessed."""
    text_value = str(stored) if stored is not None else ""
    if text_value.isascii() and text_value.isdigit() and int(text_value) >= 1:
        return int(text_value)
    return None


def recorded_date(stored: object) -> date | None:
    try:
        return date.fromisoformat(str(stored))
    except ValueError:
        return None


def triage_tables(tables: set[str]) -> set[str]:
    return {name for name in tables if name.startswith(("visit", "triage_"))}


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
        return version_number(self.stored_version)

    @property
    def writable_from(self) -> int | None:
        return version_number(self.meta.get("writable_from"))

    @property
    def purged_before(self) -> date | None:
        return recorded_date(self.meta.get("purged_before"))


def read_state(conn: Connection) -> SchemaState:
    tables = set(conn.dialect.get_table_names(conn))
    meta = {}
    if "triage_meta" in tables:
        meta = {key: value for key, value in conn.execute(select(Meta.key, Meta.value))}
    holds_rows = any(
        conn.execute(text(f"SELECT 1 FROM {name} LIMIT 1")).first() is not None
        for name in sorted(TABLE_NAMES & tables - {"triage_meta"})
    )
    state = SchemaState(tables, meta, holds_rows)
    if "visit" in tables:
        found = triggers_found(conn)
        for name, expected in expected_triggers(conn.dialect.name).items():
            if name not in found:
                state.triggers_missing.append(name)
            elif found[name].strip() != expected.strip():
                state.triggers_changed.append(name)
    return state


def triggers_found(conn: Connection) -> dict[str, str]:
    """The rollup triggers the visit table has (enabled), as expected_triggers gives them."""
    if conn.dialect.name == "postgresql":
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
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'visit'"
            )
        )
    return {name: body or "" for name, body in rows}


@contextmanager
def schema_transaction(engine: Engine, block_writers: bool = False) -> Iterator[Connection]:
    """One transaction for schema work that no other process's schema work runs beside
    (and, with `block_writers`, no write to the visit table either)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite's one writer, DDL included
        else:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            if block_writers and engine.dialect.has_table(conn, "visit"):
                conn.exec_driver_sql("LOCK TABLE visit IN SHARE ROW EXCLUSIVE MODE")
        yield conn


def readable_version(state: SchemaState, db: str) -> int:
    """The stored version; DbError when it is missing or cannot be read."""
    if state.stored_version is None:
        raise DbError("db_version_missing", db=db)
    if state.version is None:
        raise DbError("db_version_unreadable", db=db, found=state.stored_version)
    return state.version


def not_newer(version: int, db: str) -> None:
    """Checking or repairing a newer schema is for the newer code."""
    if version > SCHEMA_VERSION:
        raise DbError("check_db_newer", db=db, found=version, supported=SCHEMA_VERSION)
