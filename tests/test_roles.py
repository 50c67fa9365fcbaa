"""Least privilege on a real PostgreSQL: `triage db roles --apply` (a real subprocess), then
desks and a supervisor logging in as their own roles. What a role may not do is refused by the
database itself, whatever program asks."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from triage import present
from triage.db.errors import db_cause
from triage.db.rollups import rollup_triggers
from triage.db.store import Store
from triage.desklog import DeskLog
from triage.model import LOCAL_ZONE
from triage.overview import failure_kind, overview
from triage.queue import Tickets
from triage.stats import summarize
from triage.visits import visit_from_result
from triage.walk import route

SITE = "jc-skelbaek"
_prefixes = itertools.count()


def triage_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "triage", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


class Installation:
    """One database with the three roles, two desk logins at one site and a supervisor login.
    Role names are the whole server's: each test has its own prefix."""

    def __init__(self, url: str, prefix: str, tmp_path: Path) -> None:
        self.url = url
        self.prefix = prefix
        self.tmp_path = tmp_path
        self.stores: list[Store] = []

    def login_url(self, login: str) -> str:
        return self.url.replace("://postgres@", f"://{login}@", 1)

    def store(self, login: str, desk: str = "skranke-1") -> Store:
        opened = Store(self.login_url(login), desk=desk, spool_dir=self.tmp_path / login)
        opened.open()
        self.stores.append(opened)
        return opened

    def superuser(self) -> psycopg.Connection:
        plain = self.url.replace("postgresql+psycopg://", "postgresql://", 1)
        return psycopg.connect(plain, autocommit=True)

    def all_visits(self) -> list[dict]:
        with self.superuser() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            return cur.execute("SELECT * FROM visit ORDER BY id").fetchall()

    def rollup_total(self) -> int:
        with self.superuser() as conn:
            row = conn.execute("SELECT COALESCE(SUM(visits), 0) FROM visit_daily").fetchone()
            return int(row[0]) if row else 0


@pytest.fixture
def roles(pg_url, tmp_path):
    prefix = f"r{os.getpid()}_{next(_prefixes)}"
    done = triage_cli("db", "roles", "--db", pg_url, "--prefix", prefix, "--apply", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{prefix}_desk" in done.stdout
    installation = Installation(pg_url, prefix, tmp_path)
    with installation.superuser() as conn:
        for login, role in (("a", "desk"), ("b", "desk"), ("boss", "supervisor")):
            conn.execute(f"CREATE ROLE {prefix}_{login} LOGIN IN ROLE {prefix}_{role}")
        conn.execute(
            "INSERT INTO desk_login (login, site_id, desk) VALUES (%s, %s, %s), (%s, %s, %s)",
            (f"{prefix}_a", SITE, "skranke-1", f"{prefix}_b", SITE, "skranke-2"),
        )
    yield installation
    for store in installation.stores:
        store.dispose()


def a_visit(flow, desk: str, minutes_ago: float = 0.0) -> dict:
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return visit_from_result(route(flow, ["2", "1", "2100"]), SITE, desk, "in_person", 30.0, at)


def refused(store: Store, sql: str) -> bool:
    """True when the database refuses the statement for want of privilege."""
    try:
        with store.engine.begin() as conn:
            conn.execute(text(sql))
    except ProgrammingError as error:
        assert db_cause(error) == "denied", error
        return True
    return False


def test_the_desk_flow_works_under_a_desk_role(roles, flow):
    """DeskLog as the desk app uses it: opened (no spooling), visits saved with their rollups,
    its last visit undone, today's counts with the other desk's visits in the site's."""
    other = roles.store(f"{roles.prefix}_b", "skranke-2")
    assert other.record(a_visit(flow, "skranke-2")) == "saved"
    log = DeskLog(roles.login_url(f"{roles.prefix}_a"), SITE, "skranke-1", roles.tmp_path / "a")
    try:
        assert log.open() is True, log.problem
        assert log.record(a_visit(flow, "skranke-1")) == "saved"
        assert log.record(a_visit(flow, "skranke-1")) == "saved"
        assert roles.rollup_total() == 3  # the trigger counted the desk's visits
        today = datetime.now(LOCAL_ZONE).date()
        assert log.counts_today(today) == (2, 3)
        status, undone = log.undo_last()
        assert status == "saved" and undone is not None
        assert roles.rollup_total() == 2
        assert log.counts_today(today) == (1, 2)
        assert not log.spool.waiting()
    finally:
        if log._store is not None:
            log._store.dispose()
    (voided,) = [v for v in roles.all_visits() if v["voided_utc"] is not None]
    assert voided["visit_id"] == undone["visit_id"] and voided["voided_desk"] == "skranke-1"


def test_a_desk_cannot_read_another_desks_visits(roles, flow):
    mine, theirs = a_visit(flow, "skranke-1"), a_visit(flow, "skranke-2")
    desk_a = roles.store(f"{roles.prefix}_a")
    desk_b = roles.store(f"{roles.prefix}_b", "skranke-2")
    assert desk_a.record(mine) == "saved" and desk_b.record(theirs) == "saved"
    assert [v["visit_id"] for v in desk_a.visits()] == [mine["visit_id"]]
    with desk_a.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM visit")).scalar_one() == 1
        found = text("SELECT count(*) FROM visit WHERE visit_id = :id")
        assert conn.execute(found, {"id": theirs["visit_id"]}).scalar_one() == 0
    assert refused(desk_a, "SELECT visits FROM visit_daily")  # nor the overview's figures
    assert len(roles.all_visits()) == 2


def test_a_desk_deletes_nothing_and_writes_no_rollup(roles, flow):
    desk_a = roles.store(f"{roles.prefix}_a")
    desk_a.record(a_visit(flow, "skranke-1"))
    Tickets(desk_a).issue(SITE, "A", "x")
    for sql in (
        "DELETE FROM visit",
        "TRUNCATE visit",
        "DELETE FROM visit_ticket",
        "DELETE FROM visit_daily",
        "DELETE FROM visit_day",
        "UPDATE visit_daily SET visits = visits + 100",
        "UPDATE visit_day SET visits = visits + 100",
        "INSERT INTO visit_hourly (local_date, site_id, local_hour, demo, local_weekday, visits)"
        " VALUES ('2026-11-30', 'x', 9, false, 0, 5)",
        "UPDATE visit SET outcome_id = 'changed'",
        "UPDATE visit_ticket SET site_id = 'elsewhere'",
        "DELETE FROM desk_login",
        "INSERT INTO desk_login VALUES ('someone', 'x', 'y')",
        "DROP TABLE visit",
    ):
        assert refused(desk_a, sql), sql
    with desk_a.engine.begin() as conn:  # a row-level policy: nothing matches, nothing goes
        conn.execute(text("DELETE FROM triage_meta WHERE key = 'schema_version'"))
    assert len(roles.all_visits()) == 1 and roles.rollup_total() == 1
    with roles.superuser() as conn:
        assert conn.execute("SELECT count(*) FROM visit_ticket").fetchone() == (1,)
        version = "SELECT value FROM triage_meta WHERE key = 'schema_version'"
        assert conn.execute(version).fetchone() is not None


def test_a_desk_cannot_void_another_desks_visit(roles, flow):
    theirs = a_visit(flow, "skranke-2")
    roles.store(f"{roles.prefix}_b", "skranke-2").record(theirs)
    desk_a = roles.store(f"{roles.prefix}_a")
    assert desk_a.void(theirs["visit_id"], "skranke-1") == "unknown"
    with desk_a.engine.begin() as conn:  # straight SQL, naming the other desk: no row moves
        changed = conn.execute(
            text(
                "UPDATE visit SET voided_utc = now(), voided_desk = 'skranke-2' "
                "WHERE visit_id = :id"
            ),
            {"id": theirs["visit_id"]},
        )
        assert changed.rowcount == 0
    (row,) = roles.all_visits()
    assert row["voided_utc"] is None and roles.rollup_total() == 1


def test_a_desk_voids_its_own_visit_only_within_the_undo_window(roles, flow):
    """A visit sent late (from the spool) is stored; voiding it after the window is refused
    however the desk asks; a recent one is voided."""
    desk_a = roles.store(f"{roles.prefix}_a")
    old, recent = a_visit(flow, "skranke-1", minutes_ago=20), a_visit(flow, "skranke-1", 2)
    assert desk_a.record(old) == "saved" and desk_a.record(recent) == "saved"
    assert desk_a.void(old["visit_id"], "skranke-1") != "saved"
    with desk_a.engine.begin() as conn:
        changed = conn.execute(
            text(
                "UPDATE visit SET voided_utc = now(), voided_desk = 'skranke-1' "
                "WHERE visit_id = :id"
            ),
            {"id": old["visit_id"]},
        )
        assert changed.rowcount == 0
    assert desk_a.void(recent["visit_id"], "skranke-1") == "saved"
    voided = {v["visit_id"]: v["voided_utc"] for v in roles.all_visits()}
    assert voided[old["visit_id"]] is None and voided[recent["visit_id"]] is not None
    assert roles.rollup_total() == 1
    # Un-voiding would leave the rollups wrong: the desk cannot.
    with desk_a.engine.begin() as conn:
        again = text("UPDATE visit SET voided_utc = NULL WHERE visit_id = :id")
        assert conn.execute(again, {"id": recent["visit_id"]}).rowcount == 0


def test_a_desk_cannot_pass_for_another_desk(roles, flow):
    """Its identity is its login: a visit in another desk's name is refused, and a session
    setting or SET ROLE cannot change who it is."""
    desk_a = roles.store(f"{roles.prefix}_a")
    with pytest.raises(ProgrammingError) as raised:
        desk_a._apply([a_visit(flow, "skranke-2")])
    assert db_cause(raised.value) == "denied"
    assert refused(desk_a, f"SET ROLE {roles.prefix}_b")
    with desk_a.engine.connect() as conn:
        conn.execute(text("SET triage.desk = 'skranke-2'"))
        conn.execute(text(f"SET ROLE {roles.prefix}_desk"))  # the group: no desk at all
        assert conn.execute(text("SELECT count(*) FROM desk_login")).scalar_one() == 0
    assert roles.all_visits() == []


def test_one_login_for_several_desks_acts_as_each_of_them_and_no_other(roles, flow):
    """A served site's desks share the server's one login: a row per desk lets it register and
    void as each of them; a desk it has no row for is refused as before."""
    login = f"{roles.prefix}_serve"
    with roles.superuser() as conn:
        conn.execute(f"CREATE ROLE {login} LOGIN IN ROLE {roles.prefix}_desk")
        conn.execute(
            "INSERT INTO desk_login (login, site_id, desk) VALUES (%s, %s, %s), (%s, %s, %s)",
            (login, SITE, "skranke-5", login, SITE, "skranke-6"),
        )
    five, six = roles.store(login, "skranke-5"), roles.store(login, "skranke-6")
    first, second = a_visit(flow, "skranke-5"), a_visit(flow, "skranke-6")
    assert five.record(first) == "saved" and six.record(second) == "saved"
    assert six.void(second["visit_id"], "skranke-6") == "saved"
    with pytest.raises(ProgrammingError) as raised:
        five._apply([a_visit(flow, "skranke-1")])  # desk a's: not this login's
    assert db_cause(raised.value) == "denied"
    assert sorted(v["desk"] for v in roles.all_visits()) == ["skranke-5", "skranke-6"]
    assert roles.rollup_total() == 1


def test_roles_applied_again_key_an_old_one_desk_per_login_table_by_login_and_desk(roles, tmp_path):
    """desk_login made by the version before (login the key): applying the roles again keys
    it by login and desk, rows kept."""
    with roles.superuser() as conn:
        conn.execute("ALTER TABLE desk_login DROP CONSTRAINT desk_login_pkey")
        conn.execute("ALTER TABLE desk_login ADD PRIMARY KEY (login)")
    again = triage_cli(
        "db", "roles", "--db", roles.url, "--prefix", roles.prefix, "--apply", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    with roles.superuser() as conn:
        key = conn.execute(
            "SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'desk_login'::regclass AND i.indisprimary"
        ).fetchone()
        rows = conn.execute("SELECT count(*) FROM desk_login").fetchone()
    assert key is not None and key[0] == "login,desk"
    assert rows is not None and rows[0] == 2


def test_a_desk_started_under_another_name_keeps_its_visits_in_the_spool(roles, flow):
    """A login whose desk_login row names another desk: its visits are refused, wait in the
    spool, and go in once the row is put right. Nothing is lost."""
    login = f"{roles.prefix}_a"
    log = DeskLog(roles.login_url(login), SITE, "skranke-7", roles.tmp_path / "a")
    try:
        assert log.open() is True
        assert log.record(a_visit(flow, "skranke-7")) == "spooled"
        assert roles.all_visits() == [] and len(log.spool.waiting()) == 1
        with roles.superuser() as conn:
            conn.execute("UPDATE desk_login SET desk = 'skranke-7' WHERE login = %s", (login,))
        log.replay()
        assert not log.spool.waiting()
        assert [v["desk"] for v in roles.all_visits()] == ["skranke-7"]
    finally:
        if log._store is not None:
            log._store.dispose()


def test_after_an_upgrade_desks_spool_until_the_roles_are_applied_again(roles, flow):
    """An upgrade makes the rollup trigger anew, as an ordinary function: a desk's visit then
    cannot reach the rollups, waits in the spool, and goes in once the roles are applied."""
    with roles.superuser() as conn:
        for statement in rollup_triggers("postgresql"):  # what opening an upgraded database runs
            conn.execute(statement)
    log = DeskLog(roles.login_url(f"{roles.prefix}_a"), SITE, "skranke-1", roles.tmp_path / "a")
    try:
        assert log.open() is True
        assert log.record(a_visit(flow, "skranke-1")) == "spooled"
        again = triage_cli(
            "db",
            "roles",
            "--db",
            roles.url,
            "--prefix",
            roles.prefix,
            "--apply",
            cwd=roles.tmp_path,
        )
        assert again.returncode == 0, again.stderr
        log.replay()
        assert not log.spool.waiting()
    finally:
        if log._store is not None:
            log._store.dispose()
    assert len(roles.all_visits()) == 1 and roles.rollup_total() == 1


def test_a_void_sent_from_the_spool_after_the_window_leaves_the_visit_counted(roles, flow):
    desk_a = roles.store(f"{roles.prefix}_a")
    old = a_visit(flow, "skranke-1", minutes_ago=20)
    assert desk_a.record(old) == "saved"
    voided_then = (datetime.now(UTC) - timedelta(minutes=18)).isoformat()
    desk_a.spool.append(
        {"void": old["visit_id"], "voided_desk": "skranke-1", "voided_utc": voided_then}
    )
    desk_a.replay_spool()
    assert not desk_a.spool.waiting()  # not retried for ever
    (row,) = roles.all_visits()
    assert row["voided_utc"] is None and roles.rollup_total() == 1


def test_a_desk_issues_calls_and_finishes_tickets(roles):
    """The kiosk's and the desk's queue work, the first ticket of a day included (it moves the
    day the numbers are kept from, a row of triage_meta)."""
    desk_a = roles.store(f"{roles.prefix}_a")
    tickets = Tickets(desk_a)
    issued = tickets.issue(SITE, "A", "money")
    assert issued.label == "A 001"
    called = tickets.call_next(SITE, "skranke-1")
    assert called is not None and called.id == issued.ticket_id
    tickets.recall(called.id, "skranke-1")
    assert tickets.finish(called.id, "skranke-1").wait_s >= 0
    second = tickets.issue(SITE, "A", "money")
    tickets.call_next(SITE, "skranke-1")
    tickets.recall(second.ticket_id, "skranke-1")
    assert tickets.no_show(second.ticket_id, "skranke-1").state == "no_show"
    with roles.superuser() as conn:
        states = conn.execute("SELECT state FROM visit_ticket ORDER BY id").fetchall()
        assert states == [("served",), ("no_show",)]
        kept = "SELECT value FROM triage_meta WHERE key = 'ticket_numbers_from'"
        assert conn.execute(kept).fetchone() is not None


def test_the_supervisor_reads_everything_and_writes_nothing(roles, flow):
    roles.store(f"{roles.prefix}_a").record(a_visit(flow, "skranke-1"))
    roles.store(f"{roles.prefix}_b", "skranke-2").record(a_visit(flow, "skranke-2"))
    boss = roles.store(f"{roles.prefix}_boss")
    assert len(boss.visits()) == 2
    today = datetime.now(LOCAL_ZONE).date()
    summary = summarize(boss, flow.sites, today, today + timedelta(days=1))
    assert summary.total == 2
    visit_id = boss.visits()[0]["visit_id"]
    for sql in (
        "DELETE FROM visit",
        f"UPDATE visit SET voided_utc = now() WHERE visit_id = '{visit_id}'",
        "UPDATE visit_daily SET visits = 0",
        "DELETE FROM visit_ticket",
        "INSERT INTO triage_meta (key, value) VALUES ('x', 'y')",
    ):
        assert refused(boss, sql), sql
    with pytest.raises(ProgrammingError):
        boss._apply([a_visit(flow, "skranke-1")])
    with pytest.raises(ProgrammingError):
        Tickets(boss).issue(SITE, "A", "money")
    assert len(roles.all_visits()) == 2 and roles.rollup_total() == 2


def test_the_overview_on_a_desk_role_says_the_desk_has_no_access(roles, flow):
    desk_a = roles.store(f"{roles.prefix}_a")
    now = datetime.now(LOCAL_ZONE)
    # The counts run on the driver's own cursor: its error, not SQLAlchemy's.
    with pytest.raises((ProgrammingError, psycopg.errors.InsufficientPrivilege)) as raised:
        overview(desk_a, flow.sites, now.date(), now.date() + timedelta(days=1), now)
    assert failure_kind(raised.value) == "denied"


async def test_f5_on_a_desk_role_says_plainly_it_has_no_access(roles, flow, monkeypatch):
    from textual.widgets import Static

    from triage.app import TriageApp

    now = datetime.now(LOCAL_ZONE)
    monkeypatch.setattr(present, "local_now", lambda: now)
    log = DeskLog(roles.login_url(f"{roles.prefix}_a"), SITE, "skranke-1", roles.tmp_path / "a")
    app = TriageApp(flow, site=SITE, log=log, open_log_after=0)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.press("f5")
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert type(app.screen).__name__ == "SupervisorScreen"
            alert = app.screen.query_one("#sup-alert", Static)
            said = str(alert.render())
            assert said.startswith("Denne skranke har ikke adgang til oversigten"), said
            assert "permission" not in said
    finally:
        if log._store is not None:
            log._store.dispose()


@pytest.mark.parametrize("command", ["summary", "export"])
def test_statistics_on_a_desk_role_exit_1_with_a_danish_sentence(roles, command, tmp_path):
    url = roles.login_url(f"{roles.prefix}_a")
    extra = ["--out", str(tmp_path / "out.xlsx")] if command == "export" else []
    done = triage_cli(command, "--db", url, *extra, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Databasebrugeren har ikke adgang til det"), done.stderr
    assert "Traceback" not in done.stderr and "permission denied" not in done.stderr
    assert not (tmp_path / "out.xlsx").exists()
    boss = roles.login_url(f"{roles.prefix}_boss")
    assert triage_cli(command, "--db", boss, *extra, cwd=tmp_path).returncode == 0


def test_a_login_in_no_group_is_told_so_when_the_database_opens(roles, tmp_path):
    with roles.superuser() as conn:
        conn.execute(f"CREATE ROLE {roles.prefix}_nobody LOGIN")
    url = roles.login_url(f"{roles.prefix}_nobody")
    done = triage_cli("summary", "--db", url, "--lang", "en", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("The database user has no access to what the command needs")
    assert "damaged" not in done.stderr and "Traceback" not in done.stderr


def test_roles_apply_again_after_an_upgrade_and_as_a_desk_is_refused(roles, flow, tmp_path):
    """Run twice, the roles come out the same (the desk still writes); a desk's login may not
    run it."""
    again = triage_cli(
        "db", "roles", "--db", roles.url, "--prefix", roles.prefix, "--apply", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert roles.store(f"{roles.prefix}_a").record(a_visit(flow, "skranke-1")) == "saved"
    checked = triage_cli("check", "--db", roles.url, cwd=tmp_path)  # the trigger is as expected
    assert checked.returncode == 0, checked.stdout + checked.stderr
    as_desk = triage_cli(
        "db",
        "roles",
        "--db",
        roles.login_url(f"{roles.prefix}_a"),
        "--prefix",
        roles.prefix,
        "--apply",
        "--lang",
        "en",
        cwd=tmp_path,
    )
    assert as_desk.returncode == 1
    assert as_desk.stderr.startswith("The roles could not be set up in"), as_desk.stderr
    assert "Traceback" not in as_desk.stderr


def test_set_up_by_the_databases_owner_and_applied_again_by_an_owner_login(
    postgres, flow, tmp_path
):
    """No superuser: the database's owner (allowed to create roles) sets up an empty database;
    later someone in the owner group (not allowed to create roles) applies the roles again."""
    prefix = f"r{os.getpid()}_{next(_prefixes)}"
    admin, database = f"{prefix}_admin", f"{prefix}_db"
    with psycopg.connect(postgres.url().replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {admin} LOGIN CREATEROLE")
        conn.execute(f"CREATE DATABASE {database} OWNER {admin}")
    installation = Installation(postgres.url(database), prefix, tmp_path)
    as_admin = installation.login_url(admin)
    done = triage_cli("db", "roles", "--db", as_admin, "--prefix", prefix, "--apply", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(as_admin.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {prefix}_upgrader LOGIN IN ROLE {prefix}_owner")
        conn.execute(f"CREATE ROLE {prefix}_a LOGIN IN ROLE {prefix}_desk")
        conn.execute("INSERT INTO desk_login VALUES (%s, %s, 'skranke-1')", (f"{prefix}_a", SITE))
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        )
        assert owners.fetchall() == [(f"{prefix}_owner",)]
    upgrader = installation.login_url(f"{prefix}_upgrader")
    again = triage_cli("db", "roles", "--db", upgrader, "--prefix", prefix, "--apply", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    desk = installation.store(f"{prefix}_a")
    try:
        assert desk.record(a_visit(flow, "skranke-1")) == "saved"
        summary = triage_cli("summary", "--db", upgrader, "--format", "json", cwd=tmp_path)
        assert summary.returncode == 0 and '"total": 1' in summary.stdout  # owners see all
    finally:
        desk.dispose()


def test_roles_printed_name_the_three_groups_without_touching_the_database(pg_url, tmp_path):
    prefix = f"r{os.getpid()}_{next(_prefixes)}"
    done = triage_cli("db", "roles", "--db", pg_url, "--prefix", prefix, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for role in ("owner", "desk", "supervisor"):
        assert f"CREATE ROLE {prefix}_{role} NOLOGIN" in done.stdout
    assert "ENABLE ROW LEVEL SECURITY" in done.stdout and done.stdout.startswith("BEGIN;")
    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
        found = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s", (prefix + "%",))
        assert found.fetchone() == (0,)
        assert conn.execute("SELECT to_regclass('visit')").fetchone() == (None,)


@pytest.mark.parametrize("db", [None, "visits.db", "sqlite:///visits.db"])
def test_roles_on_sqlite_say_they_are_a_postgresql_matter(db, tmp_path):
    args = ["db", "roles"] + (["--db", db] if db else [])
    done = triage_cli(*args, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Roller findes kun på PostgreSQL"), done.stderr
    assert not (tmp_path / "visits.db").exists()


def test_a_bad_prefix_is_refused(pg_url, tmp_path):
    done = triage_cli("db", "roles", "--db", pg_url, "--prefix", "Triage; DROP", cwd=tmp_path)
    assert done.returncode == 1 and "--prefix" in done.stderr and done.stdout == ""


def test_roles_applied_by_a_login_without_the_right_say_why_in_danish_only(roles, tmp_path):
    """PostgreSQL's own English ("must have admin option on role …", "permission denied …") is
    not put inside the Danish sentence: the cause is said in Danish."""
    done = triage_cli(
        "db",
        "roles",
        "--db",
        roles.login_url(f"{roles.prefix}_a"),
        "--prefix",
        roles.prefix,
        "--apply",
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "Rollerne kunne ikke sættes op" in done.stderr, done.stderr
    assert "databasebrugeren har ikke lov til det" in done.stderr
    assert "must" not in done.stderr and "permission denied" not in done.stderr
