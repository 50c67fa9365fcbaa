"""SQLite's log (-wal) copied back into the database off the visit's commit, and kept bounded:
real files, their log measured, several real desk processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tests.test_cli import installed_triage
from tests.test_store import make_visit
from tests.test_store_processes import start_writer
from triage.db.connect import SQLITE_AUTOCHECKPOINT_PAGES
from triage.db.store import Store
from triage.visits import visit_from_result
from triage.walk import route

# About ten pages a visit (the row, its indexes, seven rollups); SQLite's default automatic
# checkpoint falls at 1,000 pages, so 150 visits take the log well past it.
PAST_DEFAULT_CHECKPOINT = 150


def log_frames(db: Path) -> tuple[int, int]:
    """(frames in the log, frames of it copied into the database), from the shared WAL index
    (-shm) as SQLite's file format describes it: mxFrame at byte 16, nBackfill at byte 96,
    in the machine's byte order. Read without a connection, which might checkpoint."""
    index = Path(f"{db}-shm").read_bytes()
    return int.from_bytes(index[16:20], sys.byteorder), int.from_bytes(index[96:100], sys.byteorder)


def log_pages(db: Path) -> float:
    """The log file's size in pages (a frame is a page and a 24-byte header; the page size is
    in the database file's header, bytes 16-17)."""
    with db.open("rb") as file:
        page = int.from_bytes(file.read(18)[16:18], "big")
    wal = Path(f"{db}-wal")
    try:
        return wal.stat().st_size / (page + 24)
    except FileNotFoundError:
        return 0.0


def visit(flow, desk: str = "skranke-1") -> dict:
    return visit_from_result(route(flow, ["2", "1", "2100"]), "jc-skelbaek", desk, "in_person", 5)


def checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "triage-wal-checkpoint"]


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_no_visit_commit_checkpoints_at_sqlites_default(tmp_path, flow):
    """With the thread stopped, commit after commit leaves the log to grow past 1,000 pages:
    no commit copied it back, as the visit that took it past 1,000 used to, waiting for it."""
    db = tmp_path / "visits.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    if store.checkpointer is not None:
        store.checkpointer.stop()
    for _ in range(PAST_DEFAULT_CHECKPOINT):
        assert store.record(visit(flow)) == "saved"
    frames, copied = log_frames(db)
    assert frames > 1000, frames
    assert copied == 0  # nothing was checkpointed, by a commit or otherwise
    assert frames < SQLITE_AUTOCHECKPOINT_PAGES  # the bound is still far
    store.dispose()


def test_a_desk_idle_a_moment_has_its_log_copied_back_by_the_thread(tmp_path, flow):
    db = tmp_path / "visits.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    for _ in range(30):  # some 300 pages: below any automatic checkpoint
        assert store.record(visit(flow)) == "saved"
    assert wait_for(lambda: log_frames(db)[1] > 0, 5.0), log_frames(db)
    frames, copied = log_frames(db)
    assert copied == frames > 250  # all of it, by the thread, not by a commit
    assert store.checkpointer is not None and store.checkpointer.checkpoints >= 1
    # All copied: the next visit starts the log again from its beginning.
    assert store.record(visit(flow)) == "saved"
    assert log_frames(db)[0] < 30
    thread = store.checkpointer._thread
    store.dispose()
    assert thread is not None and not thread.is_alive()  # dispose stops it


def test_the_log_stays_bounded_under_commits_that_never_pause(tmp_path, flow):
    """SQLite's own checkpoint stays as the bound when the thread never finds a quiet moment:
    2,000 visits back to back write some 21,000 pages; the log file never holds more than
    the bound and a visit's pages."""
    db = tmp_path / "visits.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    peak = 0.0
    for _ in range(2000):
        assert store.record(visit(flow)) == "saved"
        peak = max(peak, log_pages(db))
    assert peak <= SQLITE_AUTOCHECKPOINT_PAGES + 20, peak
    with store.engine.connect() as conn:
        pragma = "PRAGMA wal_autocheckpoint"
        assert conn.exec_driver_sql(pragma).scalar() == SQLITE_AUTOCHECKPOINT_PAGES
    store.dispose()


def test_a_checkpoint_never_makes_a_file_where_the_database_was(tmp_path, flow):
    db = tmp_path / "visits.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    assert store.record(visit(flow)) == "saved"
    assert store.checkpointer is not None
    store.checkpointer.stop()
    store.engine.dispose()
    db.rename(tmp_path / "moved.db")
    assert store.checkpointer.checkpoint() is False
    assert not db.exists()
    store.dispose()


def test_a_command_that_writes_leaves_no_log_behind(tmp_path, flow):
    """`triage purge` deletes visit detail and ends: its closing connection copies the log back
    and removes it, with no desk running to do so."""
    db = tmp_path / "visits.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    for _ in range(200):
        assert store.record(make_visit(flow, at=ten_days_ago)) == "saved"
    store.dispose()
    assert not Path(f"{db}-wal").exists()
    before = (date.today() - timedelta(days=2)).isoformat()
    done = subprocess.run(
        [installed_triage(), "purge", "--before", before, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not Path(f"{db}-wal").exists()
    with sqlite3.connect(db) as conn:
        left = conn.execute("SELECT count(*) FROM visit").fetchone()[0]
    assert left == 0


def test_eight_desk_processes_keep_the_log_bounded_and_lose_nothing(tmp_path):
    db = tmp_path / "shared.db"
    Store(db, spool_dir=tmp_path / "spool").open()
    start = tmp_path / "go"
    writers = [start_writer(db, f"desk-{i}", 300, start, tmp_path / "spool") for i in range(8)]
    time.sleep(1.0)
    start.touch()
    peak = 0.0
    while any(w.poll() is None for w in writers):
        peak = max(peak, log_pages(db))
        time.sleep(0.01)
    acknowledged: set[str] = set()
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
        acknowledged.update(out.strip().splitlines()[:-1])
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    store.replay_spool()
    stored = {row["visit_id"] for row in store.visits()}
    assert len(stored) == 8 * 300 and acknowledged <= stored
    assert peak <= SQLITE_AUTOCHECKPOINT_PAGES + 8 * 20, peak
    store.dispose()


def test_postgres_has_no_checkpointer(db, tmp_path, flow):
    before = set(checkpoint_threads())
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    assert store.record(visit(flow)) == "saved"
    assert (store.checkpointer is None) == (store.dialect == "postgresql")
    started = set(checkpoint_threads()) - before
    assert len(started) == (1 if store.dialect == "sqlite" else 0)
    store.dispose()
    assert not any(thread.is_alive() for thread in started)
