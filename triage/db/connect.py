"""Where the database is (`--db`) and the engine that reaches it."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import create_engine

from triage import paths
from triage.db.errors import DatabaseGone

# What "the database cannot take it now" looks like: locked past the timeout, read-only file,
# disk full, missing directory, server unreachable. These spool; anything else is a bug and raises.
UNAVAILABLE = (OperationalError, InterfaceError, OSError)
BUSY_TIMEOUT_MS = 5000
# FULL: a visit whose write returned is on disk even after a power cut. NORMAL (the WAL
# default) could lose the last few commits on power loss; a visit costs ~0.1 ms more at FULL.
SQLITE_SYNCHRONOUS = "FULL"


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
        def _pragmas(dbapi_connection: Any, _record: object) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            # A read-only file cannot switch mode: writes will spool.
            with suppress(Exception):
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {SQLITE_SYNCHRONOUS}")
            cursor.close()

        if engine.url.database and engine.url.database != ":memory:":
            _refuse_another_file(engine, Path(engine.url.database))
        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 3})


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _refuse_another_file(engine: Engine, path: Path) -> None:
    """Every use of a connection first checks (one stat) that the path still holds the file
    first opened: an open connection keeps writing into a file moved away, where no desk or
    board reads. A file moved, deleted or replaced is DatabaseGone until the same file is back."""
    opened: list[tuple[int, int]] = []  # the file first opened, once known

    @event.listens_for(engine, "checkout")
    def _same_file(_dbapi_connection: Any, _record: object, _proxy: object) -> None:
        now = _file_identity(path)
        if not opened:
            if now is not None:
                opened.append(now)
            return
        if now != opened[0]:
            raise DatabaseGone(f"{path} is not the database file opened (moved or replaced)")

    @event.listens_for(engine, "do_connect")
    def _no_new_file(_dialect: Any, _record: object, _args: object, _params: object) -> None:
        # Opening a connection makes the file if it is missing: a new, empty database in the
        # place of one moved away would take the moved file's log (-wal) with it.
        if opened and _file_identity(path) != opened[0]:
            raise DatabaseGone(f"{path} is not the database file opened (moved or replaced)")
