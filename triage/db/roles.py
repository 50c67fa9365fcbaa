"""Least privilege on PostgreSQL: the SQL for four NOLOGIN group roles, and running it.

- owner (`<prefix>_owner`): owns the tables and the rollup trigger function; migrates.
- desk (`<prefix>_desk`): registers visits and tickets, calls, recalls and finishes the tickets
  of its own site only, voids only its own desk's visits within the undo window. Reads only its
  own visits and its site's tickets; deletes nothing; cannot touch a rollup (the trigger that
  keeps them runs as the owner).
- kiosk (`<prefix>_kiosk`): issues tickets at its own site and registers its own referrals
  (visits in the desk name "kiosk"); calls, changes and deletes nothing. A kiosk stands in a
  public hall, so its password is the one most likely to leak: it can do least.
- supervisor (`<prefix>_supervisor`): reads everything (rollups, visits, tickets); writes nothing.

A desk's or kiosk's identity is its login role: each logs in as its own role, a member of the
desk or the kiosk group, listed in the table `desk_login` (login → site and desk; a kiosk's
desk is "kiosk"). Row-level security compares a visit's site and desk, and a ticket's site,
with that row for `current_user`. A session setting (SET triage.desk = …) would not do: any
desk may set it to any other desk's name, so it would prove nothing to the database. A login
is proven by its password (or the server's sign-on) and cannot be changed within the session.

The rules live in the database, so they hold for anyone with a desk's password, with or
without triage. Applying them records their prefix (triage_meta `roles_prefix`), and opening a
database that needs an upgrade applies them again in the same transaction (keep_roles): new
tables get their grants, and the rollup trigger function, made anew by the upgrade (CREATE OR
REPLACE resets SECURITY DEFINER), runs as the owner again.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from sqlalchemy import Connection, text

from triage.db.models import TABLE_NAMES
from triage.db.rollups import EVERY_ROLLUP
from triage.db.schema import schema_transaction
from triage.db.store import Store
from triage.desklog import UNDO_MINUTES
from triage.model import LOCAL_ZONE
from triage.queue import NUMBERS_FROM
from triage.visits import KIOSK_DESK

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
# Where applying the roles notes their prefix, so an upgrade can apply them again.
ROLES_PREFIX_KEY = "roles_prefix"


class Roles(NamedTuple):
    owner: str
    desk: str
    supervisor: str
    kiosk: str


def role_names(prefix: str = DEFAULT_PREFIX) -> Roles:
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError(f"a role prefix is a-z, digits and _, at most 40: {prefix!r}")
    return Roles(f"{prefix}_owner", f"{prefix}_desk", f"{prefix}_supervisor", f"{prefix}_kiosk")


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def roles_sql(prefix: str = DEFAULT_PREFIX, schema: str = "public") -> list[tuple[str, str]]:
    """The statements, each with a comment saying why: (comment, SQL). Safe to run again: it
    makes the grants and policies exactly these, whatever was there."""
    owner, desk, supervisor, kiosk = role_names(prefix)
    schema = '"' + schema.replace('"', '""') + '"'  # the tables' schema, as an identifier
    tables = sorted(TABLE_NAMES)
    all_tables = ", ".join([*tables, DESK_LOGIN])
    rollups = sorted(table for table, _ in EVERY_ROLLUP)
    own = (
        f"(site_id, desk) IN (SELECT l.site_id, l.desk FROM {DESK_LOGIN} l "
        "WHERE l.login = current_user)"
    )
    own_site = f"site_id IN (SELECT l.site_id FROM {DESK_LOGIN} l WHERE l.login = current_user)"
    writers = f"{desk}, {kiosk}"
    everyone = f"{desk}, {kiosk}, {supervisor}"
    steps: list[tuple[str, str]] = [
        (
            "The four group roles; nobody logs in as them. Whoever runs this joins the owner.",
            "DO $$ BEGIN\n"
            + "".join(
                f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_quoted(role)}) THEN\n"
                f"    CREATE ROLE {role} NOLOGIN;\n"
                f"  ELSIF (SELECT rolcanlogin FROM pg_roles WHERE rolname = {_quoted(role)}) THEN\n"
                f"    ALTER ROLE {role} NOLOGIN;\n"
                "  END IF;\n"
                for role in (owner, desk, supervisor, kiosk)
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
        ("", f"GRANT USAGE ON SCHEMA {schema} TO {everyone}"),
        (
            "Which desks each login is: one row per desk; a login may stand for several desks "
            "(a `triage serve` of a site's desks holds one password for them; see README).",
            f"CREATE TABLE IF NOT EXISTS {DESK_LOGIN} (login name NOT NULL, "
            "site_id varchar(64) NOT NULL, desk varchar(64) NOT NULL, PRIMARY KEY (login, desk))",
        ),
        (
            "A table made by an earlier version kept one desk per login: key it by both.",
            f"ALTER TABLE {DESK_LOGIN} DROP CONSTRAINT IF EXISTS {DESK_LOGIN}_pkey, "
            f"ADD CONSTRAINT {DESK_LOGIN}_pkey PRIMARY KEY (login, desk)",
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
            f"REVOKE ALL ON {all_tables} FROM PUBLIC, {everyone}",
        ),
        (
            "",
            f"REVOKE ALL ON SEQUENCE {', '.join(DESK_SEQUENCES)} FROM PUBLIC, {everyone}",
        ),
        (
            "The desk and the kiosk: their own visits (row-level security below); the desk "
            "voids by two columns only.",
            f"GRANT SELECT, INSERT ON visit TO {writers}",
        ),
        ("", f"GRANT UPDATE (voided_utc, voided_desk) ON visit TO {desk}"),
        (
            "Tickets of their own site (row-level security below): both issue, the desk "
            "calls, recalls and finishes; nobody deletes.",
            f"GRANT SELECT, INSERT ON visit_ticket TO {writers}",
        ),
        (
            "",
            f"GRANT UPDATE ({', '.join(TICKET_COLUMNS_DESK_UPDATES)}) ON visit_ticket TO {desk}",
        ),
        (
            "The kiosk may only send the first ticket of a day's statement that drops earlier "
            "numbers; no policy lets it change a row (the trigger below drops them).",
            f"GRANT UPDATE (number, clock_utc) ON visit_ticket TO {kiosk}",
        ),
        ("", f"GRANT USAGE ON SEQUENCE {', '.join(DESK_SEQUENCES)} TO {writers}"),
        (
            "The schema version; the first ticket of a day replaces one row (policies below).",
            f"GRANT SELECT, INSERT, DELETE ON triage_meta TO {writers}",
        ),
        (
            "Today's visits at the desk's site, shown on the desk, and whether it is a demo.",
            f"GRANT SELECT ON {DAY_ROLLUP} TO {writers}",
        ),
        *(
            (
                ""
                if i
                else "Of the other rollups only the demo mark: opening the database looks "
                "whether each table holds rows. Their counts (the overview) stay closed.",
                f"GRANT SELECT (demo) ON {name} TO {writers}",
            )
            for i, name in enumerate(r for r in rollups if r != DAY_ROLLUP)
        ),
        ("", f"GRANT SELECT ON {DESK_LOGIN} TO {writers}"),
        (
            "The supervisor reads everything and writes nothing.",
            f"GRANT SELECT ON {', '.join(tables)} TO {supervisor}",
        ),
    ]
    policies = [
        ("visit", "desk_reads_own", f"FOR SELECT TO {writers} USING ({own})"),
        ("visit", "desk_adds_own", f"FOR INSERT TO {writers} WITH CHECK ({own})"),
        (
            "visit",
            "desk_voids_own_recent",
            f"FOR UPDATE TO {desk} USING ({own} AND voided_utc IS NULL "
            f"AND at_utc >= now() - interval '{VOID_WINDOW_MINUTES} minutes') "
            f"WITH CHECK ({own} AND voided_utc IS NOT NULL AND voided_desk = desk)",
        ),
        ("visit", "supervisor_reads", f"FOR SELECT TO {supervisor} USING (true)"),
        ("triage_meta", "readers", f"FOR SELECT TO {everyone} USING (true)"),
        (
            "triage_meta",
            "desk_adds_ticket_day",
            f"FOR INSERT TO {writers} WITH CHECK (key = {_quoted(NUMBERS_FROM)})",
        ),
        (
            "triage_meta",
            "desk_drops_ticket_day",
            f"FOR DELETE TO {writers} USING (key = {_quoted(NUMBERS_FROM)})",
        ),
        (
            DESK_LOGIN,
            "desk_knows_itself",
            f"FOR SELECT TO {writers} USING (login = current_user)",
        ),
        ("visit_ticket", "site_reads_tickets", f"FOR SELECT TO {writers} USING ({own_site})"),
        (
            "visit_ticket",
            "site_issues_tickets",
            f"FOR INSERT TO {writers} WITH CHECK ({own_site} AND state = 'waiting')",
        ),
        (
            "visit_ticket",
            "desk_serves_site_tickets",
            f"FOR UPDATE TO {desk} USING ({own_site}) WITH CHECK ({own_site})",
        ),
        ("visit_ticket", "supervisor_reads_tickets", f"FOR SELECT TO {supervisor} USING (true)"),
    ]
    forget = "triage_forget_ticket_numbers"
    today = f"(now() AT TIME ZONE {_quoted(LOCAL_ZONE.key)})::date"  # the tickets' local day
    steps += [
        (
            "The first ticket of a day drops the earlier days' numbers at every site, though "
            "a desk or kiosk sees only its own site's tickets: the owner does it as the day's "
            "mark is written. A mark past today (by the server's clock) is kept to today: no "
            "desk drops today's numbers, or stops the days after from dropping theirs.",
            f"CREATE OR REPLACE FUNCTION {forget}() RETURNS trigger LANGUAGE plpgsql "
            f"SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$ BEGIN "
            f"NEW.value := LEAST(NEW.value::date, {today})::text; "
            "UPDATE visit_ticket SET number = NULL, clock_utc = NULL "
            "WHERE local_date < NEW.value::date "
            "AND (number IS NOT NULL OR clock_utc IS NOT NULL); RETURN NEW; END $$",
        ),
        ("", f"ALTER FUNCTION {forget}() OWNER TO {owner}"),
        ("", f"DROP TRIGGER IF EXISTS {forget} ON triage_meta"),
        (
            "",
            f"CREATE TRIGGER {forget} BEFORE INSERT ON triage_meta FOR EACH ROW "
            f"WHEN (NEW.key = {_quoted(NUMBERS_FROM)}) EXECUTE FUNCTION {forget}()",
        ),
        (
            "The prefix noted: opening a database that needs an upgrade applies these again.",
            f"DELETE FROM triage_meta WHERE key = {_quoted(ROLES_PREFIX_KEY)}",
        ),
        (
            "",
            f"INSERT INTO triage_meta (key, value) "
            f"VALUES ({_quoted(ROLES_PREFIX_KEY)}, {_quoted(prefix)})",
        ),
    ]
    steps.append(
        (
            "Row-level security: the owner (who owns the tables) is not bound by it.",
            "ALTER TABLE visit ENABLE ROW LEVEL SECURITY",
        )
    )
    steps += [
        ("", f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
        for name in ("triage_meta", DESK_LOGIN, "visit_ticket")
    ]
    for table, name, rule in policies:
        policy = f"{prefix}_{name}"
        steps.append(("", f"DROP POLICY IF EXISTS {policy} ON {table}"))
        steps.append(("", f"CREATE POLICY {policy} ON {table} {rule}"))
    return steps


def roles_script(prefix: str = DEFAULT_PREFIX, schema: str = "public") -> str:
    """The statements as one script to read, or to run with psql in one transaction."""
    lines = [
        "BEGIN;",
        "-- For a database triage has made: its tables must exist (`triage db roles --apply`",
        "-- makes them first, then runs this). By hand: as the database's owner, psql -f FILE.",
    ]
    for comment, statement in roles_sql(prefix, schema):
        if comment:
            lines += ["", f"-- {comment}"]
        lines.append(f"{statement};")
    owner, desk, supervisor, kiosk = role_names(prefix)
    lines += [
        "",
        "COMMIT;",
        "",
        "-- Then a login for each desk, listed in desk_login with its site and desk, e.g.:",
        f"--   CREATE ROLE nord_skranke_1 LOGIN PASSWORD '...' IN ROLE {desk};",
        f"--   INSERT INTO {DESK_LOGIN} (login, site_id, desk)",
        "--     VALUES ('nord_skranke_1', 'jc-nord', 'skranke-1');",
        f"-- for each kiosk likewise, IN ROLE {kiosk}, its desk '{KIOSK_DESK}':",
        f"--   CREATE ROLE nord_kiosk LOGIN PASSWORD '...' IN ROLE {kiosk};",
        f"--   INSERT INTO {DESK_LOGIN} VALUES ('nord_kiosk', 'jc-nord', '{KIOSK_DESK}');",
        "-- A login that stands for several desks (one `triage serve` for a site's desks) has a",
        f"-- row for each: INSERT INTO {DESK_LOGIN} VALUES ('nord_serve', 'jc-nord', 'skranke-1'),",
        "--   ('nord_serve', 'jc-nord', 'skranke-2'); it may act as any of them, and no other.",
        f"-- and for each supervisor: CREATE ROLE anne LOGIN PASSWORD '...' IN ROLE {supervisor};",
        f"-- Whoever upgrades triage: ... IN ROLE {owner}; the upgrade applies this again.",
    ]
    return "\n".join(lines) + "\n"


def apply_roles(store: Store, prefix: str = DEFAULT_PREFIX) -> None:
    """Bring the database up to this version (as the owner), then run the statements in one
    transaction, under the schema lock: no upgrade runs beside it."""
    store.open()
    with schema_transaction(store.engine) as conn:
        _apply(conn, prefix)


def keep_roles(conn: Connection) -> None:
    """Inside the transaction that upgrades (or restores) a PostgreSQL database: the roles
    applied before, applied again (their prefix is noted in triage_meta), so that new tables
    get their grants and the rollup trigger, made anew, runs as the owner again. Desks would
    otherwise be refused every visit until someone ran `triage db roles --apply`."""
    noted = conn.execute(
        text("SELECT value FROM triage_meta WHERE key = :key"), {"key": ROLES_PREFIX_KEY}
    ).scalar()
    if noted is not None and PREFIX_PATTERN.fullmatch(noted):
        _apply(conn, noted)


def _apply(conn: Connection, prefix: str) -> None:
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    for _, statement in roles_sql(prefix, schema):
        conn.exec_driver_sql(statement)
