"""Loading a demo history into an empty SQLite database, fast (`triage demo`)."""

from __future__ import annotations

import queue
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.db.rollups import (
    COUNTED,
    EVERY_ROLLUP,
    SUMMED,
    add_sql,
    rollup_triggers,
    summed_select,
)
from triage.visits import FIELDS, QUEUE_FIELDS

if TYPE_CHECKING:
    from triage.db.store import Store
    from triage.demo import DemoHistory


def load_demo(
    store: Store, history: DemoHistory, progress: Callable[[int], object] | None = None
) -> int:
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
    if store.dialect != "sqlite":
        raise ValueError("load_demo is the SQLite bulk path; use insert_many elsewhere")
    if not store.is_empty():
        raise ValueError("load_demo fills an empty database only")
    groupings = tuple(keys for _, keys in COUNTED)
    # The rollups that sum a counted one are summed there too, from the batch's counts.
    counted = [table for table, _ in COUNTED]
    sums = tuple(
        summed_select(keys, f"batch.count{counted.index(source)}", "sqlite")
        for _, keys, source in SUMMED
    )
    add_counts = [  # the batch's counts, then its sums
        add_sql(table, keys, f"SELECT * FROM batch.count{index} WHERE true")
        for index, (table, keys) in enumerate(COUNTED)
    ]
    add_counts += [
        add_sql(table, keys, f"SELECT * FROM batch.sum{index} WHERE true")
        for index, (table, keys, _) in enumerate(SUMMED)
    ]
    from triage.demo import TICKET_COLUMNS

    store.engine.dispose()  # our own idle connections would keep the database in WAL
    raw = store.engine.raw_connection()
    total, journal = 0, "wal"
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA temp_store = MEMORY")
        # Tickets a kiosk issued before the load stay if it fails (visits: there were none).
        tickets_before = cursor.execute("SELECT COALESCE(MAX(id), 0) FROM visit_ticket").fetchone()
        history.prepare(cursor)  # the plan, to spell out the codes
        raw.commit()
        select_visits, params = history.visit_select("batch.demo_code")
        insert_tickets = (
            f"INSERT INTO visit_ticket ({', '.join(TICKET_COLUMNS)}) "
            f"{history.ticket_select('batch.demo_code')}"
        )
        # If someone else has it open (a desk, a supervisor), load in WAL, beside them.
        with suppress(sqlite3.OperationalError):
            journal = cursor.execute("PRAGMA main.journal_mode = TRUNCATE").fetchone()[0]
        with tempfile.TemporaryDirectory(prefix="triage-demo-") as scratch:
            for path, made in _made_alongside(
                history.write_batches, Path(scratch), groupings, sums
            ):
                cursor.execute("ATTACH ? AS batch", (str(path),))
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                    cursor.execute("DROP TRIGGER IF EXISTS visit_rollup_insert")
                    cursor.execute(
                        f"INSERT INTO visit ({', '.join(FIELDS + QUEUE_FIELDS)}) {select_visits}",
                        params,
                    )
                    cursor.execute(insert_tickets)
                    for statement in add_counts:
                        cursor.execute(statement)
                    for statement in rollup_triggers("sqlite"):
                        cursor.execute(statement)
                    raw.commit()
                finally:
                    raw.rollback()
                    cursor.execute("DETACH batch")
                path.unlink()
                total += made
                if progress is not None:
                    progress(total)
        if history.today is not None:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(NUMBER_TODAY, {"today": history.today.isoformat()})
            raw.commit()
    except BaseException:
        raw.rollback()
        if total:
            _remove_demo(raw, tickets_before[0])
        raise
    finally:
        try:
            if journal != "wal":
                raw.cursor().execute("PRAGMA main.journal_mode = WAL")
        except sqlite3.Error:
            pass  # then the next connection puts it back in WAL (see _pragmas)
        raw.close()
    return total


# Today's demo tickets numbered per site and queue in the order they were issued (the numbers
# a kiosk gave them); the same statement on SQLite and PostgreSQL.
NUMBER_TODAY = """
UPDATE visit_ticket SET number = numbered.n
FROM (
    SELECT id, ROW_NUMBER() OVER (PARTITION BY site_id, queue ORDER BY issued_utc, id) AS n
    FROM visit_ticket WHERE local_date = :today
) AS numbered
WHERE visit_ticket.id = numbered.id
"""


def insert_demo_tickets(store: Store, history: DemoHistory, batch: int = 20000) -> int:
    """The demo history's queue tickets through SQLAlchemy (PostgreSQL: the portable path beside
    insert_many), today's numbered; one transaction."""
    from sqlalchemy import text

    from triage.db.models import VisitTicket, table_of

    table, total, chunk = table_of(VisitTicket), 0, []
    with store.engine.begin() as conn:
        for ticket in history.tickets():
            chunk.append(ticket)
            if len(chunk) >= batch:
                conn.execute(table.insert(), chunk)
                total, chunk = total + len(chunk), []
        if chunk:
            conn.execute(table.insert(), chunk)
            total += len(chunk)
        if history.today is not None:
            conn.execute(text(NUMBER_TODAY), {"today": history.today})
    return total


def _remove_demo(raw: Any, tickets_before: int = 0) -> None:
    """Take a half-loaded demo history out again (the database was empty before it)."""
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("DELETE FROM visit_ticket WHERE id > ?", (tickets_before,))
        for table, _ in (("visit", ()), *EVERY_ROLLUP):
            cursor.execute(f"DELETE FROM {table} WHERE demo")
        raw.commit()
    except sqlite3.Error:
        raw.rollback()  # the caller reports the first failure; the demo rows stay marked demo


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
