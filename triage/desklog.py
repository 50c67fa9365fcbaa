"""What one desk writes: its visits, undo of its last one, and today's counts.

The store (and with it the ORM) is created on first use, from a worker thread, so the desk's
first question appears before any database code is loaded. All methods may block; the app
calls them off the UI thread.

Whatever is wrong with the database — unreachable, locked, read-only, or a --db the store cannot
even use (a malformed URL, a driver that is not installed) — a visit goes to the spool and the
reason is kept for the desk to show. A visit is only ever lost if the spool cannot be written
either, and then the desk says so and keeps the card.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage import paths
from triage.spool import Drained, Spool, database_identity, entry_problem, one_line, why
from triage.visits import valid_desk_name

try:
    import fcntl
except ImportError:  # Windows: no flock; a second window of a desk goes unnoticed there
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from triage.db.store import Store

UNDO_MINUTES = 5


class DeskLog:
    def __init__(
        self,
        db: str | None,
        site: str,
        desk: str,
        spool_dir: Path | None = None,
        training: bool = False,
    ) -> None:
        if not valid_desk_name(desk):
            # Written into every visit and the spool's file name: never a person's name or CPR.
            raise ValueError("a desk name is a short id: letters a-z, digits, hyphens, at most 32")
        self.db = db
        self.site = site
        self.desk = desk
        self.spool_dir = spool_dir or paths.user_data_dir() / "spool"
        self.spool = Spool(self.spool_dir, desk, database=database_identity(db))
        self._store: Store | None = None
        self._lock = threading.Lock()
        self.last_visit: dict[str, Any] | None = None  # the one visit this desk may still undo
        self.problem = ""  # why the database cannot be used, for the desk to show
        self.cause: str | None = None  # the same as a word (db_cause), when it is known
        self.replayed = Drained()  # what the latest replay of the spool did
        # A demo database (see `triage demo`) is for trying things out: what a desk registers
        # there is marked demo too, so it never counts as a real visit. A training desk
        # (`triage --training`) marks every visit demo from the first, so its database is one.
        self.training = training
        self.demo = training
        self._in_use: int | None = None  # the lock of claim_desk

    def claim_desk(self) -> bool:
        """Whether this is the one process on this machine running as this desk on this
        database: it locks a file in its spool folder for as long as it runs. Another tab or
        window of the same desk would have citizens called to it twice. True where it cannot
        tell (Windows, a folder it cannot write)."""
        if fcntl is None or self._in_use is not None:  # claimed already (or cannot tell)
            return True
        try:
            self.spool.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.spool.directory / f"{self.desk}.in-use", os.O_RDWR | os.O_CREAT)
        except OSError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._in_use = fd  # held until release_desk or the process's end
        return True

    def release_desk(self) -> None:
        """Let go of claim_desk's lock: the desk has stopped."""
        fd, self._in_use = self._in_use, None
        if fd is not None:
            os.close(fd)  # closing lets the lock go

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from triage.db.store import Store  # the ORM loads here, never at start-up

                self._store = Store(self.db, desk=self.desk, spool_dir=self.spool_dir)
            return self._store

    def _unusable(self, error: Exception) -> None:
        from triage.db.errors import db_cause

        self.problem = one_line(error)
        self.cause = db_cause(error)

    def _keep_in_spool(self, entry: dict[str, Any]) -> str:
        """The store itself cannot be used: the entry waits in the spool. DbError when the
        spool cannot be written either, so the desk says so and the entry is not lost silently."""
        from triage.db.errors import DbError

        try:
            self.spool.append(entry)
        except OSError as error:
            raise DbError("not_saved", reason=error.strerror or str(error)) from error
        return "spooled"

    def open(self) -> bool:
        """True when the database answers; False means visits will wait in the spool (see
        `problem`). A database newer than this code raises DbError for the desk to show."""
        from triage.db.errors import DbError

        try:
            self.store.open()
        except DbError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure here means: spool, and say why
            self._unusable(error)
            return False
        self.problem, self.cause = "", None
        self.demo = self.training or self.store.holds_demo()
        self.replay()
        return True

    def record(self, visit: dict[str, Any]) -> str:
        """'saved' or 'spooled'; DbError('not_saved') only when the spool fails too."""
        from triage.db.errors import DbError

        if self.demo:
            visit["demo"] = True
        problem = entry_problem(visit)
        if problem:  # it could never be stored: say so now, rather than spool it
            raise DbError("not_saved", reason=why(problem))
        self.last_visit = visit  # set first: an undo pressed meanwhile waits for this write
        try:
            return self.store.record(visit)
        except DbError:
            raise
        except Exception as error:  # noqa: BLE001 - the store itself is unusable: keep the visit
            self._unusable(error)
            return self._keep_in_spool(visit)

    def undo_last(self, now: datetime | None = None) -> tuple[str, dict[str, Any] | None]:
        """Void this desk's last visit if recent enough: ('saved'|'spooled'|'nothing', visit)."""
        now = now or datetime.now(UTC)
        visit = self.last_visit
        if visit is None or now - datetime.fromisoformat(visit["at_utc"]) > timedelta(
            minutes=UNDO_MINUTES
        ):
            return "nothing", None
        from triage.db.errors import DbError

        try:
            status = self.store.void(visit["visit_id"], self.desk, now)
        except DbError:
            raise  # neither database nor spool took it: the visit still counts, say so
        except Exception as error:  # noqa: BLE001 - as for record: the void waits in the spool
            self._unusable(error)
            status = self._keep_in_spool(
                {"void": visit["visit_id"], "voided_desk": self.desk, "voided_utc": now.isoformat()}
            )
        if status == "unknown":
            return "nothing", None
        self.last_visit = None
        return status, visit

    def holds_nothing(self) -> bool:
        """True when the database holds no visit at all (a fresh install)."""
        try:
            return self.store.is_empty()
        except Exception:  # noqa: BLE001 - only decides whether to show a hint
            return False

    def counts_today(self, today: date) -> tuple[int, int] | None:
        """(at this desk, at this site), or None while the database does not answer."""
        try:
            return self.store.counts_today(self.site, self.desk, today)
        except Exception:  # noqa: BLE001 - counts are a convenience; the desk goes on without
            return None

    def replay(self) -> Drained:
        """Send what waits in the spool: what went, what was set aside and why, what still waits."""
        try:
            self.store.replay_spool()
            self.replayed = self.store.spool.last
        except Exception as error:  # noqa: BLE001 - the spool keeps everything; say why
            self._unusable(error)
            self.replayed = Drained(cause=self.problem)
        return self.replayed
