"""`triage board`, the waiting-room screen, on real SQLite and real PostgreSQL: a call made by
Tickets.call_next while the board runs appears on it, newest first; the waiting per queue is
what the tickets say; a database that goes away is said on the board and the board recovers;
an earlier day's numbers never show. Plus the command itself and the screen at 80×24."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from screens.board import GAP, big_lines
from tests.conftest import edit
from tests.test_cli import run
from triage import present
from triage.app import BoardApp
from triage.db.store import Store
from triage.load import load
from triage.model import LOCAL_ZONE
from triage.queue import Tickets, board_view

SITE = "jc-skelbaek"
SIZE = (80, 24)
NINE = datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC)  # 09:00:05 in Copenhagen, a Monday


def at(seconds: float, days: int = 0) -> datetime:
    return NINE + timedelta(seconds=seconds, days=days)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        folder = tmp_path / "db"
        folder.mkdir()
        return str(folder / "visits.db")
    return request.getfixturevalue("pg_url")


def board(db: str, data: Path | None = None, **options) -> BoardApp:
    loaded = load(data or Path(__file__).resolve().parent.parent / "data", queues=True)
    assert loaded.ok and loaded.flow is not None and loaded.queues is not None
    site = options.pop("site", SITE)
    return BoardApp(Store(db), loaded.flow.sites, site, loaded.queues.at(site), **options)


def shown(app: BoardApp) -> str:
    """The board as text: title, message (when shown), the calls drawn large, the waiting."""
    found = []
    for selector in ("#board-title", "#board-message", "#board-calls", "#board-waiting"):
        widget = app.board.query_one(selector)
        if widget.display:
            found.append(str(widget.render()))
    return "\n".join(found)


def at_any_scale(app: BoardApp, label: str, desk: str) -> int:
    """Where the call is drawn on the board (its offset in shown()), or -1."""
    from screens.board import GAP, big_lines

    board_text = shown(app)
    for scale in range(1, 9):
        where = board_text.find("\n".join(big_lines(f"{label}{' ' * GAP}{desk.upper()}", scale)))
        if where >= 0:
            return where
    return -1


async def until(pilot, check: Callable[[], bool], seconds: float = 15) -> bool:
    """Wait in real time (the board polls a real database) until check() holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        await pilot.pause(0.05)
    return check()


# --- calls appear ----------------------------------------------------------------------------


async def test_a_call_made_while_the_board_runs_appears_newest_first(db, tickets):
    for _ in range(3):
        tickets.issue(SITE, "A", "meeting")
    app = board(db)
    async with app.run_test(size=SIZE) as pilot:
        assert await until(pilot, lambda: "Jobcenter (A): 3 venter" in shown(app)), shown(app)
        assert "Der er ikke kaldt nogen numre endnu i dag." in shown(app)
        assert at_any_scale(app, "A 001", "skranke-2") < 0
        tickets.call_next(SITE, "skranke-2")  # another desk's commit, not through the board
        assert await until(pilot, lambda: at_any_scale(app, "A 001", "skranke-2") >= 0), shown(app)
        assert await until(pilot, lambda: "Jobcenter (A): 2 venter" in shown(app)), shown(app)
        tickets.call_next(SITE, "jc-nord-12")
        assert await until(pilot, lambda: at_any_scale(app, "A 002", "jc-nord-12") >= 0)
        # The newest first, the one before still there, under it.
        assert (
            0 <= at_any_scale(app, "A 002", "jc-nord-12") < at_any_scale(app, "A 001", "skranke-2")
        )
        assert "Jobcenter (A): 1 venter" in shown(app)
        assert "Nummer" in shown(app) and "Gå til" in shown(app)
        await pilot.press("f2")  # the language key works on the board too
        await pilot.pause()
        assert "Jobcentre (A): 1 waiting" in shown(app)


async def test_waiting_per_queue_is_what_the_tickets_say(db, tickets, data_copy):
    """Two queues at the site: each its own count, today's waiting tickets of this site only,
    as counted from the table directly; a queue nobody waits in says so."""
    site = "[site.jc-skelbaek]\nqueues = "
    edit(data_copy / "queues.toml", f'{site}["A"]', f'{site}["A", "Y"]')
    for _ in range(3):
        tickets.issue(SITE, "A", "meeting")
    for _ in range(2):
        tickets.issue(SITE, "Y", "benefit_payment")
    tickets.issue("jc-nord", "A", "meeting")  # another site
    tickets.issue(SITE, "A", "meeting", now=datetime.now(UTC) - timedelta(days=1))  # yesterday
    tickets.call_next(SITE, "skranke-1")
    today = present.local_now().date()
    with tickets.engine.connect() as conn:
        counted = dict(
            conn.execute(
                text(
                    "SELECT queue, COUNT(*) FROM visit_ticket WHERE site_id = :site "
                    "AND local_date = :day AND state = 'waiting' GROUP BY queue"
                ),
                {"site": SITE, "day": today},
            ).all()
        )
    assert counted == {"A": 2, "Y": 2}
    app = board(db, data_copy)
    async with app.run_test(size=SIZE) as pilot:
        expected = "Jobcenter (A): 2 venter   Ydelsesservice (Y): 2 venter"
        assert await until(pilot, lambda: expected in shown(app)), shown(app)
        tickets.call_next(SITE, "skranke-1", queues=["Y"])
        tickets.call_next(SITE, "skranke-2", queues=["Y"])
        expected = "Jobcenter (A): 2 venter   Ydelsesservice (Y): ingen venter"
        assert await until(pilot, lambda: expected in shown(app)), shown(app)
        assert at_any_scale(app, "Y 002", "skranke-2") >= 0


# --- the database goes away and comes back ---------------------------------------------------


def take_away(db: str, tmp_path: Path) -> Callable[[], None]:
    """Make the database unreachable; returns what brings it back. SQLite: its folder moved
    away and a file put in its place. PostgreSQL: connections refused and the open ones ended."""
    if "://" not in db:
        folder = Path(db).parent
        folder.rename(tmp_path / "away")
        folder.write_text("not a folder")

        def back() -> None:
            folder.unlink()
            (tmp_path / "away").rename(folder)

        return back
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(db)
    admin = f"host={url.host} port={url.port} user={url.username} dbname=postgres"
    name = url.database

    def allow(on: bool) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(on).lower()}')
            if not on:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )

    allow(False)
    return lambda: allow(True)


async def test_a_database_gone_is_said_on_the_board_which_recovers(db, tickets, tmp_path):
    tickets.issue(SITE, "A", "meeting")
    tickets.issue(SITE, "A", "meeting")
    tickets.call_next(SITE, "skranke-2")
    tickets.close()
    tickets.store.dispose()
    app = board(db)
    async with app.run_test(size=SIZE) as pilot:
        assert await until(pilot, lambda: at_any_scale(app, "A 001", "skranke-2") >= 0)
        bring_back = take_away(db, tmp_path)
        try:
            said = "Tavlen kan ikke hente numrene lige nu"
            assert await until(pilot, lambda: said in shown(app)), shown(app)
            assert "prøver igen af sig selv" in shown(app)
            assert "Traceback" not in shown(app)
            assert app.is_running
            # Today's last calls stay up meanwhile: nobody can call while it is down.
            assert at_any_scale(app, "A 001", "skranke-2") >= 0
        finally:
            bring_back()
        assert await until(pilot, lambda: said not in shown(app)), shown(app)
        store = Store(db, spool_dir=tmp_path / "spool")
        again = Tickets(store)
        try:
            again.call_next(SITE, "skranke-3")
        finally:
            again.close()
            store.dispose()
        assert await until(pilot, lambda: at_any_scale(app, "A 002", "skranke-3") >= 0)
        assert "Jobcenter (A): ingen venter" in shown(app)


async def test_a_database_of_a_newer_version_is_said_on_the_board(tmp_path):
    db = tmp_path / "visits.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE triage_meta SET value = '99' WHERE key = 'schema_version'"))
        conn.execute(text("UPDATE triage_meta SET value = '99' WHERE key = 'writable_from'"))
    store.dispose()
    app = board(str(db), lang="en")
    async with app.run_test(size=SIZE) as pilot:
        newer = "is from a newer version of triage (schema 99"
        assert await until(pilot, lambda: newer in shown(app)), shown(app)
        assert "The board cannot fetch the numbers right now" in shown(app)
        assert "locally" not in shown(app)  # the desk's sentence speaks of its spool


# --- a number never outlives its day ---------------------------------------------------------


async def test_numbers_of_an_earlier_day_never_show(db, tickets):
    """Called late one evening: on the board until midnight, gone after it (the board's own
    clock moves on; nothing is issued the next day), and yesterday's waiting are not counted."""
    evening = datetime(2026, 11, 23, 22, 58, 0, tzinfo=UTC)  # 23:58 in Copenhagen
    tickets.issue(SITE, "A", "meeting", now=evening)
    tickets.issue(SITE, "A", "meeting", now=evening)
    tickets.call_next(SITE, "skranke-2", now=evening + timedelta(seconds=30))
    clock = [evening + timedelta(seconds=40)]
    app = board(db, now=lambda: clock[0].astimezone(LOCAL_ZONE))
    async with app.run_test(size=SIZE) as pilot:
        assert await until(pilot, lambda: at_any_scale(app, "A 001", "skranke-2") >= 0)
        assert "Jobcenter (A): 1 venter" in shown(app)
        clock[0] = evening + timedelta(minutes=3)  # 00:01 the next day
        assert await until(pilot, lambda: at_any_scale(app, "A 001", "skranke-2") < 0)
        assert "Der er ikke kaldt nogen numre endnu i dag." in shown(app)
        assert "Jobcenter (A): ingen venter" in shown(app)


async def test_numbers_leave_at_midnight_while_the_database_is_down(tmp_path):
    folder = tmp_path / "db"
    folder.mkdir()
    db = str(folder / "visits.db")
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    tickets = Tickets(store)
    evening = datetime(2026, 11, 23, 22, 58, 0, tzinfo=UTC)  # 23:58 in Copenhagen
    tickets.issue(SITE, "A", "meeting", now=evening)
    tickets.call_next(SITE, "skranke-2", now=evening + timedelta(seconds=30))
    tickets.close()
    store.dispose()
    clock = [evening + timedelta(seconds=40)]
    app = board(db, now=lambda: clock[0].astimezone(LOCAL_ZONE))
    async with app.run_test(size=SIZE) as pilot:
        assert await until(pilot, lambda: at_any_scale(app, "A 001", "skranke-2") >= 0)
        bring_back = take_away(db, tmp_path)
        try:
            assert await until(pilot, lambda: "Tavlen kan ikke hente" in shown(app))
            assert at_any_scale(app, "A 001", "skranke-2") >= 0  # still today
            clock[0] = evening + timedelta(minutes=3)  # 00:01 the next day, still down
            assert await until(pilot, lambda: at_any_scale(app, "A 001", "skranke-2") < 0)
            assert "Tavlen kan ikke hente" in shown(app)
        finally:
            bring_back()


def test_board_view_orders_calls_by_their_last_call_newest_first(tickets):
    for _ in range(4):
        tickets.issue(SITE, "A", "meeting", now=at(0))
    first = tickets.call_next(SITE, "skranke-1", now=at(5))
    second = tickets.call_next(SITE, "skranke-2", now=at(20))
    assert first is not None and second is not None
    # Within one minute (09:00) by the second each call started.
    assert [c.label for c in board_view(tickets, SITE, 5, now=at(30)).calls] == ["A 002", "A 001"]
    tickets.finish(first.id, "skranke-1", now=at(40))
    tickets.call_next(SITE, "skranke-1", now=at(120))
    tickets.recall(second.id, "skranke-2", now=at(180))  # called again: on top again
    view = board_view(tickets, SITE, 5, now=at(200))
    assert [(c.label, c.desk) for c in view.calls] == [
        ("A 002", "skranke-2"),
        ("A 003", "skranke-1"),
        ("A 001", "skranke-1"),
    ]
    assert view.waiting == {"A": 1}
    assert [c.label for c in board_view(tickets, SITE, 2, now=at(200)).calls] == ["A 002", "A 003"]
    assert board_view(tickets, "jc-nord", 5, now=at(300)).calls == ()
    assert board_view(tickets, SITE, 5, now=at(0, days=1)).calls == ()


# --- the command -------------------------------------------------------------------------------


def test_the_command_refuses_what_it_cannot_show(tmp_path):
    missing = run("board", "--db", str(tmp_path / "nothing.db"), cwd=tmp_path)
    assert missing.returncode == 1
    assert "findes ikke" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "nothing.db").exists()  # the board never makes a database
    no_queues = run("board", "--site", "sc-valby", "--db", str(tmp_path / "x.db"), cwd=tmp_path)
    assert no_queues.returncode == 1 and "har ingen køer" in no_queues.stderr
    unknown = run("board", "--site", "nowhere", "--lang", "en", cwd=tmp_path)
    assert unknown.returncode == 1 and "nowhere" in unknown.stderr
    store = Store(tmp_path / "visits.db", spool_dir=tmp_path / "spool")
    store.open()
    store.dispose()
    # A real database, but no terminal to draw on: said in one line, not a spinning process.
    headless = run("board", "--db", str(tmp_path / "visits.db"), cwd=tmp_path)
    assert headless.returncode == 1, headless.stderr
    assert "terminal" in headless.stderr and "Traceback" not in headless.stderr


# --- the screen --------------------------------------------------------------------------------


def test_snapshot_80x24(snap_compare, tmp_path, monkeypatch):
    moment = datetime(2026, 11, 23, 10, 30, tzinfo=LOCAL_ZONE)
    monkeypatch.setattr(present, "local_now", lambda: moment)
    store = Store(tmp_path / "snap.db", spool_dir=tmp_path / "spool")
    store.open()
    tickets = Tickets(store)
    for minute in range(9):
        tickets.issue(SITE, "A", "meeting", now=moment - timedelta(minutes=40 - minute))
    for minute, desk in enumerate(("skranke-1", "skranke-2", "skranke-3", "skranke-1", "jc-2")):
        tickets.call_next(SITE, desk, now=moment - timedelta(minutes=10 - minute))
    tickets.close()
    store.dispose()
    app = board(str(tmp_path / "snap.db"))

    async def shown_up(pilot) -> None:
        assert await until(pilot, lambda: at_any_scale(app, "A 005", "jc-2") >= 0)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=shown_up)


# --- fixq: small screens, no-shows -----------------------------------------------------------


def test_a_no_show_leaves_the_board(tickets):
    """The called list holds the citizens expected at a desk: a no-show (after a recall, so
    the newest call) is not one of them."""
    for _ in range(2):
        tickets.issue(SITE, "A", "meeting", now=at(0))
    first = tickets.call_next(SITE, "skranke-1", now=at(5))
    second = tickets.call_next(SITE, "skranke-2", now=at(20))
    assert first is not None and second is not None
    tickets.recall(second.id, "skranke-2", now=at(80))
    tickets.no_show(second.id, "skranke-2", now=at(90))
    calls = board_view(tickets, SITE, 5, now=at(100)).calls
    assert [(c.label, c.desk) for c in calls] == [("A 001", "skranke-1")]


@pytest.mark.parametrize("size", [(60, 20), (40, 12), (20, 6)])
async def test_a_small_board_falls_back_to_plain_text(tmp_path, size):
    """Where the pixel font does not fit, the calls are plain text, never wrapped glyphs."""
    db = str(tmp_path / "q.db")
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    queue = Tickets(store)
    for _ in range(3):
        queue.issue(SITE, "A", "meeting")
    queue.call_next(SITE, "skranke-1")
    queue.call_next(SITE, "skranke-22")
    queue.close()
    store.dispose()
    app = board(db)
    async with app.run_test(size=size) as pilot:
        assert await until(pilot, lambda: "venter" in shown(app)), shown(app)
        await pilot.pause()
        calls = app.board.query_one("#board-calls")
        lines = [strip.text.rstrip() for strip in calls.render_lines(calls.region.reset_offset)]
        drawn = "\n".join(lines)
        plain = " ".join(drawn.split())  # at 20 columns the plain line itself wraps
        assert "A 002 → SKRANKE-22" in plain or at_any_scale(app, "A 002", "skranke-22") >= 0
        if "→" not in drawn:  # the pixel font: every row of it whole, none wrapped
            assert all(len(line) <= size[0] for line in lines)
            newest = big_lines(f"A 002{' ' * GAP}SKRANKE-22", 1)
            assert all(row.rstrip() in lines for row in newest), drawn


def test_the_command_refuses_a_folder_as_its_database(tmp_path):
    """fixq: a folder for --db is refused like a missing file (exit 1), not polled for ever."""
    done = run("board", "--db", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "er en mappe, ikke en databasefil" in done.stderr and "Traceback" not in done.stderr
