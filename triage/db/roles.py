"""Least privilege on PostgreSQL: the SQL for three NOLOGIN group roles, and running it.

- owner (`<prefix>_owner`): owns the tables and the rollup trigger function; migrates.
- desk (`<prefix>_desk`): registers visits and tickets, calls and finishes tickets, voids only
  its own desk's visits within the undo window. Reads only its own visits; deletes nothing;
  cannot touch a rollup (the trigger that keeps them runs as the owner).
- supervisor (`<prefix>_supervisor`): reads everything (rollups, visits, tickets); writes nothing.

A desk's identity is its login role: each desk logs in as its own role, a member of the desk
group, listed in the table `desk_login` (login → site and desk). Row-level security compares a
visit's site and desk with that row for `current_user`. A session setting (SET triage.desk = …)
would not do: any desk may set it to any other desk's name, so it would prove nothing to the
database. A login is proven by its password (or the server's sign-on) and cannot be changed
within the session.

The rules live in the database, so they hold for anyone with a desk's password, with or
without triage. Run the SQL again after each upgrade: new tables get their grants, and opening
an upgraded database puts the trigger function back as its creator's (CREATE OR REPLACE resets
SECURITY DEFINER).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from sqlalchemy import text

from triage.db.models import TABLE_NAMES
from triage.db.rollups import EVERY_ROLLUP
from triage.db.schema import schema_transaction
from triage.db.store import Store
from triage.desklog import UNDO_MINUTES
from triage.queue import NUMBERS_FROM

DEFAULT_PREFIX = "triage"
# Role names are cluster-wide: a prefix keeps two installations (test, production) apart.
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
# The table that says which desk each desk login is.
DESK_LOGIN = "desk_login"
# The database allows a void this long after the visit's minute: the desk's own window, plus a
# minute for a desk clock a little off the server's (at_utc is kept to the whole minute, so a
# visit is at most a minute older than its at_utc says).
VOID_WINDOW_MINUTES = UNDO_MINUTES + 1
# What a desk may change of a ticket (never its site, queue, errand or issue time).
TICKET_COLUMNS_DESK_UPDATES = (
    "number",
    "state",
    "desk",
    "recalls",
    "called_utc",
    "done_utc",
    "wait_s",
    "service_s",
    "clock_utc",
)
# Tables with a serial id the desk inserts into.
DESK_SEQUENCES = ("visit_id_seq", "visit_ticket_id_seq")
DAY_ROLLUP = "visit_day"


class Roles(NamedTuple):
    owner: str
    desk: str
    supervisor: str


def role_names(prefix: str = DEFAULT_PREFIX) -> Roles:
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError(f"a role prefix is a-z, digits and _, at most 40: {prefix!r}")
    return Roles(f"{prefix}_owner", f"{prefix}_desk", f"{prefix}_supervisor")


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def roles_sql(prefix: str = DEFAULT_PREFIX, schema: str = "public") -> list[tuple[str, str]]:
    """The statements, each with a comment saying why: (comment, SQL). Safe to run again: it
    makes the grants and policies exactly these, whatever was there."""
    owner, desk, supervisor = role_names(prefix)
    schema = '"' + schema.replace('"', '""') + '"'  # the tables' schema, as an identifier
    tables = sorted(TABLE_NAMES)
    all_tables = ", ".join([*tables, DESK_LOGIN])
    rollups = sorted(table for table, _ in EVERY_ROLLUP)
    own = (
        f"(site_id, desk) IN (SELECT l.site_id, l.desk FROM {DESK_LOGIN} l "
        "WHERE l.login = current_user)"
    )
    steps: list[tuple[str, str]] = [
        (
            "The three group roles; nobody logs in as them. Whoever runs this joins the owner.",
            "DO $$ BEGIN\n"
            + "".join(
                f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_quoted(role)}) THEN\n"
                f"    CREATE ROLE {role} NOLOGIN;\n"
                f"  ELSIF (SELECT rolcanlogin FROM pg_roles WHERE rolname = {_quoted(role)}) THEN\n"
                f"    ALTER ROLE {role} NOLOGIN;\n"
                "  END IF;\n"
                for role in (owner, desk, supervisor)
            )
            + f"  IF NOT pg_has_role(current_user, {_quoted(owner)}, 'MEMBER') THEN\n"
            f"    GRANT {owner} TO CURRENT_USER;\n"
            "  END IF;\n"
            "END $$",
        ),
        (
            "Only the owner creates tables (PostgreSQL before 15 let everyone).",
            f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC",
        ),
        ("", f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {owner}"),
        ("", f"GRANT USAGE ON SCHEMA {schema} TO {desk}, {supervisor}"),
        (
            "Which desk each desk login is: one row per login (see README).",
            f"CREATE TABLE IF NOT EXISTS {DESK_LOGIN} (login name PRIMARY KEY, "
            "site_id varchar(64) NOT NULL, desk varchar(64) NOT NULL)",
        ),
        *(
            ("" if i else "The owner owns every table.", f"ALTER TABLE {name} OWNER TO {owner}")
            for i, name in enumerate([*tables, DESK_LOGIN])
        ),
        (
            "The rollup trigger runs as the owner, so a desk's visit updates the rollups "
            "that the desk itself may not touch.",
            f"ALTER FUNCTION triage_visit_rollup() OWNER TO {owner}",
        ),
        (
            "",
            "ALTER FUNCTION triage_visit_rollup() SECURITY DEFINER "
            f"SET search_path = {schema}, pg_temp",
        ),
        (
            "From nothing: whatever was granted before goes.",
            f"REVOKE ALL ON {all_tables} FROM PUBLIC, {desk}, {supervisor}",
        ),
        (
            "",
            f"REVOKE ALL ON SEQUENCE {', '.join(DESK_SEQUENCES)} FROM PUBLIC, {desk}, {supervisor}",
        ),
        (
            "The desk: its own visits (row-level security below), voids by two columns only.",
            f"GRANT SELECT, INSERT ON visit TO {desk}",
        ),
        ("", f"GRANT UPDATE (voided_utc, voided_desk) ON visit TO {desk}"),
        (
            "Tickets: issue, call, recall, finish; never delete.",
            f"GRANT SELECT, INSERT ON visit_ticket TO {desk}",
        ),
        (
            "",
            f"GRANT UPDATE ({', '.join(TICKET_COLUMNS_DESK_UPDATES)}) ON visit_ticket TO {desk}",
        ),
        ("", f"GRANT USAGE ON SEQUENCE {', '.join(DESK_SEQUENCES)} TO {desk}"),
        (
            "The schema version; the first ticket of a day replaces one row (policies below).",
            f"GRANT SELECT, INSERT, DELETE ON triage_meta TO {desk}",
        ),
        (
            "Today's visits at the desk's site, shown on the desk, and whether it is a demo.",
            f"GRANT SELECT ON {DAY_ROLLUP} TO {desk}",
        ),
        *(
            (
                ""
                if i
                else "Of the other rollups only the demo mark: opening the database looks "
                "whether each table holds rows. Their counts (the overview) stay closed.",
                f"GRANT SELECT (demo) ON {name} TO {desk}",
            )
            for i, name in enumerate(r for r in rollups if r != DAY_ROLLUP)
        ),
        ("", f"GRANT SELECT ON {DESK_LOGIN} TO {desk}"),
        (
            "The supervisor reads everything and writes nothing.",
            f"GRANT SELECT ON {', '.join(tables)} TO {supervisor}",
        ),
    ]
    policies = [
        ("visit", "desk_reads_own", f"FOR SELECT TO {desk} USING ({own})"),
        ("visit", "desk_adds_own", f"FOR INSERT TO {desk} WITH CHECK ({own})"),
        (
            "visit",
            "desk_voids_own_recent",
            f"FOR UPDATE TO {desk} USING ({own} AND voided_utc IS NULL "
            f"AND at_utc >= now() - interval '{VOID_WINDOW_MINUTES} minutes') "
            f"WITH CHECK ({own} AND voided_utc IS NOT NULL AND voided_desk = desk)",
        ),
        ("visit", "supervisor_reads", f"FOR SELECT TO {supervisor} USING (true)"),
        ("triage_meta", "readers", f"FOR SELECT TO {desk}, {supervisor} USING (true)"),
        (
            "triage_meta",
            "desk_adds_ticket_day",
            f"FOR INSERT TO {desk} WITH CHECK (key = {_quoted(NUMBERS_FROM)})",
        ),
        (
            "triage_meta",
            "desk_drops_ticket_day",
            f"FOR DELETE TO {desk} USING (key = {_quoted(NUMBERS_FROM)})",
        ),
        (DESK_LOGIN, "desk_knows_itself", f"FOR SELECT TO {desk} USING (login = current_user)"),
    ]
    steps.append(
        (
            "Row-level security: the owner (who owns the tables) is not bound by it.",
            "ALTER TABLE visit ENABLE ROW LEVEL SECURITY",
        )
    )
    steps += [
        ("", f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
        for name in ("triage_meta", DESK_LOGIN)
    ]
    for table, name, rule in policies:
        policy = f"{prefix}_{name}"
        steps.append(("", f"DROP POLICY IF EXISTS {policy} ON {table}"))
        steps.append(("", f"CREATE POLICY {policy} ON {table} {rule}"))
    return steps


def roles_script(prefix: str = DEFAULT_PREFIX, schema: str = "public") -> str:
    """The statements as one script to read, or to run with psql in one transaction."""
    lines = ["BEGIN;"]
    for comment, statement in roles_sql(prefix, schema):
        if comment:
            lines += ["", f"-- {comment}"]
        lines.append(f"{statement};")
    owner, desk, supervisor = role_names(prefix)
    lines += [
        "",
        "COMMIT;",
        "",
        "-- Then a login for each desk, listed in desk_login with its site and desk, e.g.:",
        f"--   CREATE ROLE nord_skranke_1 LOGIN PASSWORD '...' IN ROLE {desk};",
        f"--   INSERT INTO {DESK_LOGIN} (login, site_id, desk)",
        "--     VALUES ('nord_skranke_1', 'jc-nord', 'skranke-1');",
        f"-- and for each supervisor: CREATE ROLE anne LOGIN PASSWORD '...' IN ROLE {supervisor};",
        f"-- Whoever upgrades triage: ... IN ROLE {owner}; run this again after each upgrade.",
    ]
    return "\n".join(lines) + "\n"


def apply_roles(store: Store, prefix: str = DEFAULT_PREFIX) -> None:
    """Bring the database up to this version (as the owner), then run the statements in one
    transaction, under the schema lock: no upgrade runs beside it."""
    store.open()
    with schema_transaction(store.engine) as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        for _, statement in roles_sql(prefix, schema):
            conn.exec_driver_sql(statement)
