"""Where the database is (`--db`) and the engine that reaches it."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
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
# A checkpoint copies the log (-wal) back into the database file. SQLite's own runs inside the
# commit that takes the log past its limit, and that commit waits for it: at the default 1,000
# pages, with the rollups' ~10 pages a visit, every ~94th visit did (raw inserts: every ~400th).
# A WalCheckpointer thread does it instead, when the process has been idle a moment; SQLite's
# own stays as the bound for writing that never pauses, at 4,000 pages (16 MB), where it falls
# every ~380 visits, as often as it does for raw inserts at the default.
SQLITE_AUTOCHECKPOINT_PAGES = 4_000
CHECKPOINT_WHEN_IDLE_S = 0.1  # no commit for this long: checkpoint now,
CHECKPOINT_AT_MOST_EVERY_S = 1.0  # but not more often than this (each one syncs the file)


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
            cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_AUTOCHECKPOINT_PAGES}")
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


class WalCheckpointer:
    """Checkpoints an SQLite file in WAL mode from a daemon thread, off every commit's path.

    Woken when a connection goes back to the pool; once the process has used none for
    CHECKPOINT_WHEN_IDLE_S (and at most every CHECKPOINT_AT_MOST_EVERY_S), if the log changed
    since its last checkpoint (whoever wrote it), it runs one PASSIVE checkpoint: that never
    waits for or blocks a reader or a writer, so each of several desk processes runs one.
    Each opens a connection of its own and closes it, holding nothing open between them (a
    bulk load may switch the journal mode; Windows cannot move an open file). When the last
    connection to the file closes, SQLite itself checkpoints and removes the log, so a short
    command leaves none behind. A pool event, not a commit event: listening for commits
    would make SQLAlchemy dispatch events on every statement, some 15 µs a visit."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self.path = path
        self.wal = Path(f"{path}-wal")
        self.checkpoints = 0  # run, for tests and benchmarks
        self.last_used = time.monotonic()  # a connection last back in the pool
        self.last_checkpoint = 0.0  # time.monotonic() at its start
        self._seen: tuple[int, int] | None = None  # the log's size and time at the last one
        self._wake = threading.Event()  # set by a connection back in the pool
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        event.listen(engine, "checkin", self._checked_in)

    def _checked_in(self, _dbapi_connection: object, _record: object) -> None:
        self.last_used = time.monotonic()
        if not self._wake.is_set():
            self._wake.set()
            if self._thread is None:
                self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(
                    target=_checkpoint_after_use,
                    args=(weakref.ref(self), self._wake),
                    name="triage-wal-checkpoint",
                    daemon=True,
                )
                self._thread.start()

    def _log_state(self) -> tuple[int, int] | None:
        try:
            found = os.stat(self.wal)
        except OSError:
            return None  # no log: nothing to copy
        return found.st_size, found.st_mtime_ns

    def checkpoint_if_written(self) -> None:
        """A checkpoint if the log was written since the last one."""
        before = self._log_state()
        if before is None or before == self._seen:
            return
        self.last_checkpoint = time.monotonic()
        if self.checkpoint():
            self._seen = before  # what is written from now on is looked at again

    def wait_before_checkpoint(self) -> float:
        """Seconds until this process has been idle long enough, and the last one is not new."""
        now = time.monotonic()
        return max(
            self.last_used + CHECKPOINT_WHEN_IDLE_S - now,
            self.last_checkpoint + CHECKPOINT_AT_MOST_EVERY_S - now,
        )

    def checkpoint(self) -> bool:
        """One PASSIVE checkpoint; False when the file cannot be reached now (moved, locked by
        a bulk load, read-only, another checkpoint under way): the next one tries again."""
        # mode=rw: never make a new, empty file where the database was moved away.
        uri = f"{self.path.absolute().as_uri()}?mode=rw"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=0, check_same_thread=False)
        except sqlite3.Error:
            return False
        try:
            conn.execute(f"PRAGMA synchronous = {SQLITE_SYNCHRONOUS}")
            busy = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0]
        except sqlite3.Error:
            return False
        finally:
            conn.close()
        self.checkpoints += 1
        return not busy

    def stop(self) -> None:
        """For good (the store is disposed); waits for a checkpoint under way to end."""
        self._stopped.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)


def _checkpoint_after_use(
    checkpointer: weakref.ref[WalCheckpointer], wake: threading.Event
) -> None:
    """The thread. It holds its checkpointer weakly, so a store dropped without dispose() (a
    test, a command) takes its thread with it within a few seconds."""
    while True:
        wake.wait(5.0)
        found = checkpointer()
        if found is None or found._stopped.is_set():
            return
        if not wake.is_set():
            continue  # not used: look again whether it is still wanted
        wake.clear()
        stopped = False
        while not stopped and (wait := found.wait_before_checkpoint()) > 0:
            stopped = found._stopped.wait(wait)
        if not found._stopped.is_set():
            found.checkpoint_if_written()
        del found


def wal_checkpointer(engine: Engine) -> WalCheckpointer | None:
    """A checkpointer for an SQLite file's engine (none for PostgreSQL or memory)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return WalCheckpointer(engine, Path(database))
