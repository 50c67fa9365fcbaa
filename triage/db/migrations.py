"""The schema's versions as ordered, named steps. Opening an older database runs the steps
after its version, in order, in the one transaction (under the schema lock) that writes the new
version: an upgrade runs once, or not at all, however many desks open the database at once.

A new version: add a step at the end of STEPS (SCHEMA_VERSION follows), and raise WRITABLE_FROM
if code of the older versions would write into the new schema wrongly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import func
from sqlalchemy.engine import Connection
from sqlmodel import col, select

from triage.db.models import (
    ROLLUP_MODELS,
    Visit,
    VisitDaily,
    VisitHourly,
    VisitTicket,
    set_meta,
    table_of,
)
from triage.db.rollups import (
    ROLLUP_KEYS,
    ROLLUPS,
    SUMMED,
    expected_triggers,
    group_postcodes_sql,
    sum_sql,
)


class Step(NamedTuple):
    version: int  # the version the step brings a database to
    name: str
    run: Callable[[Connection], None]


def _rollups_kept_by_triggers(conn: Connection) -> None:
    """Version 1 kept visit_daily for purged days only: add today's detail to it, and build
    visit_hourly from both, so the new triggers start from exact figures."""
    _fold_detail(conn)
    for table, keys in ROLLUPS[1:]:  # the narrow ones, from the wide one
        columns = ", ".join(keys)
        conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({columns}, local_weekday, visits) "
            f"SELECT {columns}, MIN(local_weekday), SUM(visits) FROM visit_daily "
            f"GROUP BY {columns}"
        )


def _visits_per_postcode(conn: Connection) -> None:
    """Per postcode from the detail still kept; days purged before the upgrade have their
    catchment figures in visit_route but no postcode figures."""
    conn.exec_driver_sql("DELETE FROM visit_postcode")
    conn.exec_driver_sql(group_postcodes_sql("visit", "voided_utc IS NULL"))


def _per_day_and_month(conn: Connection) -> None:
    """From the rollups, not the detail: purged days keep every figure."""
    for table, keys, source in SUMMED:
        conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql(sum_sql(table, keys, source, conn.dialect.name))


def _rollups_without_rowid(conn: Connection) -> None:
    """SQLite: each rollup rebuilt as its model now makes it, WITHOUT ROWID (one b-tree by its
    key instead of a table and a key index), its rows copied as they are. The triggers that
    name the rollups go first; opening the database puts them back. Nothing on PostgreSQL."""
    if conn.dialect.name != "sqlite":
        return
    for trigger in expected_triggers("sqlite"):
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    for model in ROLLUP_MODELS:
        table = table_of(model)
        columns = ", ".join(table.columns.keys())
        conn.exec_driver_sql(f"ALTER TABLE {table.name} RENAME TO {table.name}_with_rowid")
        for index in table.indexes:  # a later step's index, made by an earlier step's models
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
        table.create(conn)
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {table.name}_with_rowid"
        )
        conn.exec_driver_sql(f"DROP TABLE {table.name}_with_rowid")


def _busiest_hour_lookup(conn: Connection) -> None:
    """The index the busiest hours' peak reads (triage.db.queries.hour_peaks)."""
    for index in table_of(VisitHourly).indexes:
        index.create(conn, checkfirst=True)


def _ticket_queue(conn: Connection) -> None:
    """The queue's tickets beside the visits, and each visit's wait and service seconds
    (NULL for the visits before, and for walk-ins). Older code writes visits without them."""
    table_of(VisitTicket).create(conn, checkfirst=True)  # opening may have made it already
    found = {column["name"] for column in conn.dialect.get_columns(conn, "visit")}
    for column in ("wait_s", "service_s"):
        if column not in found:
            conn.exec_driver_sql(f"ALTER TABLE visit ADD COLUMN {column} INTEGER")


# Version 1 is the first schema: nothing leads to it.
STEPS = (
    Step(2, "rollups kept by triggers", _rollups_kept_by_triggers),
    Step(3, "visits per postcode", _visits_per_postcode),
    Step(4, "per day, per month", _per_day_and_month),
    Step(5, "rollups without rowid", _rollups_without_rowid),
    Step(6, "busiest hour lookup", _busiest_hour_lookup),
    Step(7, "ticket queue", _ticket_queue),
)
SCHEMA_VERSION = STEPS[-1].version
# The oldest code schema that may still write into a database of SCHEMA_VERSION (kept in
# triage_meta as writable_from). A change that only adds (a table, a rollup the triggers keep, a
# triage_meta row) leaves it unchanged, so desks not yet upgraded go on writing into the shared
# database; a change that older code would write wrongly raises it to the new version.
WRITABLE_FROM = 4


def upgrade(conn: Connection, found: int) -> None:
    """Bring a database of version `found` up to SCHEMA_VERSION, step by step, inside the
    caller's schema transaction, and write the new version."""
    for step in STEPS:
        if found < step.version:
            step.run(conn)
    set_meta(conn, "schema_version", str(SCHEMA_VERSION))
    set_meta(conn, "writable_from", str(WRITABLE_FROM))


def _fold_detail(conn: Connection) -> None:
    """Add the visits not void to visit_daily (used when upgrading version 1)."""
    keys = [getattr(Visit, k) for k in ROLLUP_KEYS]
    columns = [func.coalesce(k, "") if k.key == "postcode_site_id" else k for k in keys]
    columns += [func.min(Visit.local_weekday), func.count()]
    condition = col(Visit.voided_utc).is_(None)
    grouped = conn.execute(select(*columns).where(condition).group_by(*keys)).all()
    rows: list[dict[str, Any]] = [
        {
            **dict(zip(ROLLUP_KEYS, row[:-2], strict=True)),
            "local_weekday": row[-2],
            "visits": row[-1],
        }
        for row in grouped
    ]
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]  # same API
    statement = insert(table_of(VisitDaily))
    statement = statement.on_conflict_do_update(
        index_elements=list(ROLLUP_KEYS),
        set_={"visits": table_of(VisitDaily).c.visits + statement.excluded.visits},
    )
    conn.execute(statement, rows)
