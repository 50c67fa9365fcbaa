"""Several desk processes writing one SQLite file at once, and a writer killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from triage.db.store import Store

# One desk process: wait for the start signal, record N visits, report what happened.
WRITER = r"""
import json, sys, time
from pathlib import Path
from triage import paths
from triage.load import load_or_raise
from triage.db.store import Store
from triage.visits import visit_from_result
from triage.walk import route

db, desk, spool = sys.argv[1], sys.argv[2], sys.argv[5]
count, start_file = int(sys.argv[3]), Path(sys.argv[4])
flow = load_or_raise(paths.default_data_dir())
result = route(flow, ["2", "1", "2100"])
store = Store(db, desk=desk, spool_dir=Path(spool))
store.open()
while not start_file.exists():
    time.sleep(0.001)
statuses, errors = {"saved": 0, "spooled": 0}, 0
for _ in range(count):
    visit = visit_from_result(result, "jc-skelbaek", desk, "in_person", 1.0)
    try:
        status = store.record(visit)
    except Exception as error:
        errors += 1
        continue
    statuses[status] += 1
    if status == "saved":
        print(visit["visit_id"], flush=True)  # acknowledged: the caller has been told it is saved
print(json.dumps({"statuses": statuses, "errors": errors}), flush=True)
"""


def start_writer(
    db: Path, desk: str, count: int, start_file: Path, spool: Path
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), desk, str(count), str(start_file), str(spool)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )


def test_eight_desks_at_once_lose_and_double_nothing(tmp_path):
    db = tmp_path / "shared.db"
    Store(db, spool_dir=tmp_path / "spool").open()
    start = tmp_path / "go"
    writers = [start_writer(db, f"desk-{i}", 500, start, tmp_path / "spool") for i in range(8)]
    time.sleep(1.0)  # let every process load and open before they all start together
    start.touch()
    acknowledged: set[str] = set()
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
        *ids, summary = out.strip().splitlines()
        report = json.loads(summary)
        assert report["errors"] == 0, report  # nothing raised to the desk
        assert report["statuses"]["saved"] + report["statuses"]["spooled"] == 500
        acknowledged.update(ids)
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    store.replay_spool()  # anything that had to wait goes in now
    rows = store.visits()
    ids = [r["visit_id"] for r in rows]
    assert len(ids) == 4000 and len(set(ids)) == 4000  # every one present, exactly once
    assert acknowledged <= set(ids)
    assert store.check()["integrity"] == "ok"
    with sqlite3.connect(db) as conn:  # the rollups, kept by triggers, are exact under contention
        assert conn.execute("SELECT SUM(visits) FROM visit_daily").fetchone()[0] == 4000
        assert conn.execute("SELECT SUM(visits) FROM visit_hourly").fetchone()[0] == 4000
        assert conn.execute("SELECT SUM(visits) FROM visit_route").fetchone()[0] == 4000
        assert (
            conn.execute("SELECT SUM(visits) FROM visit_postcode").fetchone()[0]
            == conn.execute("SELECT COUNT(*) FROM visit WHERE postcode IS NOT NULL").fetchone()[0]
        )


def test_writer_killed_mid_run_loses_no_acknowledged_visit(tmp_path):
    db = tmp_path / "crash.db"
    Store(db, spool_dir=tmp_path / "spool").open()
    start = tmp_path / "go"
    start.touch()
    writer = start_writer(db, "desk-k", 100000, start, tmp_path / "spool")
    acknowledged: list[str] = []
    assert writer.stdout is not None
    for line in writer.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) >= 300:
            os.kill(writer.pid, signal.SIGKILL)
            break
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        present = {r[0] for r in conn.execute("SELECT visit_id FROM visit")}
    assert set(acknowledged) <= present
    assert len(present) >= len(acknowledged)
