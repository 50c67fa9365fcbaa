"""What one desk writes: its visits, undo of its last one, and today's counts.

The store (and with it the ORM) is created on first use, from a worker thread, so the desk's
first question appears before any database code is loaded. All methods may block; the app
calls them off the UI thread.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from triage.store import Store

UNDO_MINUTES = 5


class DeskLog:
    def __init__(self, db: str | None, site: str, desk: str, spool_dir: Path | None = None) -> None:
        self.db = db
        self.site = site
        self.desk = desk
        self.spool_dir = spool_dir
        self._store: Store | None = None
        self._lock = threading.Lock()
        self.last_visit: dict | None = None  # the one visit this desk may still undo

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from triage.store import Store  # the ORM loads here, never at start-up

                self._store = Store(self.db, desk=self.desk, spool_dir=self.spool_dir)
            return self._store

    def open(self) -> bool:
        """True when the database answers; False means visits will wait in the spool.
        StoreError (e.g. a database newer than this code) is left for the desk to show."""
        from triage.store import UNAVAILABLE

        try:
            self.store.open()
        except UNAVAILABLE:
            return False
        self.store.replay_spool()
        return True

    def record(self, visit: dict) -> str:
        self.last_visit = visit  # set first: an undo pressed meanwhile waits for this write
        return self.store.record(visit)

    def undo_last(self, now: datetime | None = None) -> tuple[str, dict | None]:
        """Void this desk's last visit if it is recent enough: ('saved'|'spooled'|'nothing', visit)."""
        now = now or datetime.now(timezone.utc)
        visit = self.last_visit
        if visit is None or now - datetime.fromisoformat(visit["at_utc"]) > timedelta(minutes=UNDO_MINUTES):
            return "nothing", None
        status = self.store.void(visit["visit_id"], self.desk, now)
        if status == "unknown":
            return "nothing", None
        self.last_visit = None
        return status, visit

    def counts_today(self, today: date) -> tuple[int, int] | None:
        """(at this desk, at this site), or None while the database does not answer."""
        from triage.store import UNAVAILABLE

        try:
            return self.store.counts_today(self.site, self.desk, today)
        except UNAVAILABLE:
            return None

    def replay(self) -> int:
        return self.store.replay_spool()
