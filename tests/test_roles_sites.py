"""Tickets scoped to a site, the kiosk's role, and roles kept through an upgrade, on a real
PostgreSQL: a desk logs in as its own role and the database itself refuses what it may not do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import ProgrammingError

from tests.test_roles import SITE, a_visit, refused, triage_cli
from tests.test_roles import roles as roles  # noqa: F401, PLC0414 (the fixture, by its name)
from triage.db.errors import db_cause
from triage.db.store import Store
from triage.desklog import DeskLog
from triage.overview import failure_kind, overview
from triage.queue import QueueError, Tickets, board_view, today_of
from triage.visits import KIOSK_DESK, visit_from_result
from triage.walk import route

NORD = "jc-nord"


@pytest.fixture
def sites(roles):
    """The roles fixture's desks a and b at SITE, and besides: desk c at Nord (named
    "skranke-1" like a: a site is told by its login, not by a desk's name), a kiosk login at
    SITE and one at Nord."""
    with roles.superuser() as conn:
        for login, role in (("c", "desk"), ("k", "kiosk"), ("kn", "kiosk")):
            conn.execute(f"CREATE ROLE {roles.prefix}_{login} LOGIN IN ROLE {roles.prefix}_{role}")
        conn.execute(
            "INSERT INTO desk_login (login, site_id, desk) VALUES "
            "(%s, %s, 'skranke-1'), (%s, %s, %s), (%s, %s, %s)",
            (
                f"{roles.prefix}_c",
                NORD,
                f"{roles.prefix}_k",
                SITE,
                KIOSK_DESK,
                f"{roles.prefix}_kn",
                NORD,
                KIOSK_DESK,
            ),
        )
    return roles


def ticket_row(installation, ticket_id: int) -> tuple:
    with installation.superuser() as conn:
        found = conn.execute(
            "SELECT state, desk, recalls, number FROM visit_ticket WHERE id = %s", (ticket_id,)
        ).fetchone()
    assert found is not None
    return tuple(found)


def denied(action) -> bool:
    try:
        action()
    except ProgrammingError as error:
        assert db_cause(error) == "denied", error
        return True
    return False


def test_a_desk_cannot_call_or_close_another_sites_ticket(sites):
    """The kiosk at SITE issues; the desk at Nord neither sees, calls, recalls nor finishes
    that ticket, even under the same desk name, nor issues one at SITE; SITE's own desk
    serves it through the app's queue, line counts included."""
    kiosk = Tickets(sites.store(f"{sites.prefix}_k", KIOSK_DESK))
    here = Tickets(sites.store(f"{sites.prefix}_a"))
    nord_store = sites.store(f"{sites.prefix}_c")
    nord = Tickets(nord_store)
    issued = kiosk.issue(SITE, "A", "money")
    assert here.waiting(SITE).waiting == 1
    assert nord.waiting(SITE).waiting == 0 and nord.status() == {}
    assert nord.call_next(SITE, "skranke-1") is None
    assert ticket_row(sites, issued.ticket_id) == ("waiting", None, 0, 1)
    called = here.call_next(SITE, "skranke-1")
    assert called is not None and called.id == issued.ticket_id
    for act in (nord.recall, nord.finish, nord.no_show):
        with pytest.raises(QueueError):
            act(issued.ticket_id, "skranke-1")
    assert ticket_row(sites, issued.ticket_id) == ("called", "skranke-1", 0, 1)
    with nord_store.engine.begin() as conn:  # by hand: no row of SITE's is there to change
        changed = conn.exec_driver_sql(
            "UPDATE visit_ticket SET state = 'served', desk = 'skranke-1'"
        ).rowcount
        assert changed == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM visit_ticket").scalar_one() == 0
    assert denied(lambda: nord.issue(SITE, "A", "money"))
    here.recall(issued.ticket_id, "skranke-1")
    assert here.finish(issued.ticket_id, "skranke-1").wait_s >= 0
    assert ticket_row(sites, issued.ticket_id) == ("served", "skranke-1", 1, 1)
    assert nord.issue(NORD, "A", "money").label == "A 001"  # its own site's line
    assert here.waiting(SITE).waiting == 0 and nord.waiting(NORD).waiting == 1


def test_a_kiosk_only_issues_tickets_and_logs_its_referrals_at_its_own_site(sites, flow):
    kiosk_store = sites.store(f"{sites.prefix}_k", KIOSK_DESK)
    kiosk = Tickets(kiosk_store)
    issued = kiosk.issue(SITE, "A", "money")
    assert issued.label == "A 001" and issued.ahead == 0
    assert kiosk.waiting(SITE).waiting == 1  # what a screen at the entrance may show
    assert denied(lambda: kiosk.issue(NORD, "A", "money"))
    assert denied(lambda: kiosk.call_next(SITE, KIOSK_DESK))
    Tickets(sites.store(f"{sites.prefix}_a")).call_next(SITE, "skranke-1")
    board = board_view(kiosk, SITE, 5)  # a board may use its site's kiosk login
    assert [call.desk for call in board.calls] == ["skranke-1"]
    assert denied(lambda: kiosk.finish(issued.ticket_id, "skranke-1"))
    assert denied(lambda: kiosk.recall(issued.ticket_id, "skranke-1"))
    for statement in (
        "DELETE FROM visit_ticket",
        "UPDATE visit_ticket SET state = 'served'",
        "INSERT INTO visit_ticket (local_date, local_hour, local_weekday, site_id, queue, "
        f"number, errand, state, recalls, issued_utc) VALUES (current_date, 9, 0, '{SITE}', "
        "'A', 99, 'money', 'served', 0, now())",
        "DELETE FROM visit",
        "UPDATE visit SET voided_utc = now()",
        "UPDATE desk_login SET site_id = 'elsewhere'",
    ):
        assert refused(kiosk_store, statement), statement
    assert ticket_row(sites, issued.ticket_id) == ("called", "skranke-1", 0, 1)
    # Its referrals, as the kiosk app logs them: saved; in a desk's name: refused.
    sites.store(f"{sites.prefix}_a").record(a_visit(flow, "skranke-1"))
    log = DeskLog(sites.login_url(f"{sites.prefix}_k"), SITE, KIOSK_DESK, sites.tmp_path / "k")
    try:
        assert log.open() is True, log.problem
        referral = visit_from_result(
            route(flow, ["2", "1", "2100"]), SITE, KIOSK_DESK, "in_person", 20.0
        )
        assert log.record(referral) == "saved"
    finally:
        if log._store is not None:
            log._store.dispose()
    with pytest.raises(ProgrammingError) as raised:
        kiosk_store._apply([a_visit(flow, "skranke-1")])
    assert db_cause(raised.value) == "denied"
    assert [v["desk"] for v in kiosk_store.visits()] == [KIOSK_DESK]  # not the desk's
    assert sorted(v["desk"] for v in sites.all_visits()) == [KIOSK_DESK, "skranke-1"]
    today = datetime.now(UTC).date()
    with pytest.raises(Exception) as raised:  # noqa: B017 (the driver's own error)
        overview(kiosk_store, flow.sites, today, today + timedelta(days=1), datetime.now(UTC))
    assert failure_kind(raised.value) == "denied"


def test_the_first_ticket_of_a_day_drops_earlier_numbers_at_every_site(sites):
    """A kiosk sees only its own site's tickets, yet its first ticket of the day drops the
    numbers of the days before at every site (data minimisation), as on a database without
    roles."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    owner = Tickets(sites.store("postgres"))  # the superuser: as before the roles
    earlier = [owner.issue(site, "A", "money", now=yesterday).ticket_id for site in (SITE, NORD)]
    assert [ticket_row(sites, i)[3] for i in earlier] == [1, 1]
    kiosk_store = sites.store(f"{sites.prefix}_kn", KIOSK_DESK)
    today = Tickets(kiosk_store).issue(NORD, "A", "money")
    assert [ticket_row(sites, i)[3] for i in earlier] == [None, None]
    with sites.superuser() as conn:
        clocks = conn.execute("SELECT count(*) FROM visit_ticket WHERE clock_utc IS NOT NULL")
        assert clocks.fetchone() == (1,)  # today's ticket only
    # A mark far ahead, written by hand, drops no number of today's and is kept to today.
    with kiosk_store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM triage_meta WHERE key = 'ticket_numbers_from'")
        conn.exec_driver_sql(
            "INSERT INTO triage_meta (key, value) VALUES ('ticket_numbers_from', '2999-01-01')"
        )
    assert ticket_row(sites, today.ticket_id)[3] == 1
    with sites.superuser() as conn:
        kept = "SELECT value FROM triage_meta WHERE key = 'ticket_numbers_from'"
        assert conn.execute(kept).fetchone() == (today_of().isoformat(),)


def test_an_upgrade_keeps_the_roles_without_applying_them_again(sites, flow, tmp_path):
    """A version 6 database (before the ticket queue) upgraded by opening it as someone in the
    owner group: the new ticket table gets the owner, grants and site rules, and the rollup
    trigger, made anew, runs as the owner again, in the upgrade's own transaction. Desks and
    kiosks work on at once; nobody had to run `triage db roles --apply` again."""
    with sites.superuser() as conn:
        conn.execute("DROP TABLE visit_ticket")
        conn.execute("UPDATE triage_meta SET value = '6' WHERE key = 'schema_version'")
        conn.execute(f"CREATE ROLE {sites.prefix}_upgrader LOGIN IN ROLE {sites.prefix}_owner")
    upgrader = Store(sites.login_url(f"{sites.prefix}_upgrader"), spool_dir=tmp_path / "up")
    try:
        upgrader.open()
        assert upgrader.schema_version() == 7
    finally:
        upgrader.dispose()
    with sites.superuser() as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'visit_ticket'")
        assert owner.fetchone() == (f"{sites.prefix}_owner",)
    log = DeskLog(sites.login_url(f"{sites.prefix}_a"), SITE, "skranke-1", tmp_path / "a")
    try:
        assert log.open() is True, log.problem
        assert log.record(a_visit(flow, "skranke-1")) == "saved"
    finally:
        if log._store is not None:
            log._store.dispose()
    assert sites.rollup_total() == 1
    kiosk = Tickets(sites.store(f"{sites.prefix}_k", KIOSK_DESK))
    issued = kiosk.issue(SITE, "A", "money")
    assert denied(lambda: kiosk.issue(NORD, "A", "money"))
    assert Tickets(sites.store(f"{sites.prefix}_c")).call_next(SITE, "skranke-1") is None
    called = Tickets(sites.store(f"{sites.prefix}_a")).call_next(SITE, "skranke-1")
    assert called is not None and called.id == issued.ticket_id
    checked = triage_cli("check", "--db", sites.url, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
