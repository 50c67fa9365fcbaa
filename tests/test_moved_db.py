"""A SQLite file moved, deleted or replaced while a kiosk, desk or board runs: the open
connection would keep writing into the moved file, where no desk or board reads. The store
notices (the path no longer holds the file it opened) and treats it as a database gone: the
kiosk sends the citizen to the desk, the desk's visits wait in the spool, the board says so."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.test_board import SITE, board, shown, until
from tests.test_kiosk import kiosk, settle
from tests.test_kiosk import shown as kiosk_shown
from tests.test_store import make_visit
from triage.db.errors import DatabaseGone
from triage.db.store import Store
from triage.load import load
from triage.queue import Tickets


@pytest.fixture(scope="module")
def loaded():
    found = load(Path(__file__).resolve().parent.parent / "data", check_cases=False, queues=True)
    assert found.ok and found.queues is not None
    return found


def move_away(db: Path, to: Path) -> None:
    to.mkdir()
    for path in db.parent.glob(db.name + "*"):
        shutil.move(path, to / path.name)


def tickets_in(db: Path) -> int:
    store = Store(db, spool_dir=db.parent / "spool-read")
    try:
        with store.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM visit_ticket")).scalar_one()
    finally:
        store.dispose()


@pytest.mark.parametrize("how", ["moved", "deleted", "replaced"])
def test_the_store_refuses_a_file_no_longer_at_its_path(tmp_path, flow, how):
    db = tmp_path / "q.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    tickets = Tickets(store)
    tickets.issue(SITE, "A", "meeting")
    if how == "moved":
        move_away(db, tmp_path / "moved")
    elif how == "deleted":
        for path in tmp_path.glob("q.db*"):
            path.unlink()
    else:  # a restore from a backup: another file at the same path
        shutil.copy(db, tmp_path / "copy.db")
        (tmp_path / "copy.db").replace(db)
    with pytest.raises(DatabaseGone):
        tickets.issue(SITE, "A", "meeting")
    assert store.record(make_visit(flow)) == "spooled"
    if how != "replaced":  # and no new, empty file was made in its place
        assert not db.exists()
    if how == "moved":
        assert tickets_in(tmp_path / "moved" / "q.db") == 1  # nothing more went into it
        move_away(tmp_path / "moved" / "q.db", tmp_path / "again")
        (tmp_path / "again" / "q.db").rename(db)  # the same file back: usable again
        assert tickets.issue(SITE, "A", "meeting").label == "A 002"
    tickets.close()
    store.dispose()


async def test_the_kiosk_sends_to_the_desk_when_its_file_is_moved(loaded, tmp_path):
    db = tmp_path / "q.db"
    app = kiosk(loaded, str(db), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3", "1")
        await settle(pilot)
        assert kiosk_shown(app, "#kiosk-details").startswith("Dit nummer er A 001")
        await pilot.press("ctrl+n", "3")
        await settle(pilot)
        move_away(db, tmp_path / "moved")
        await pilot.press("1")
        await settle(pilot)
        assert kiosk_shown(app, "#kiosk-details") == (
            "Vi kan ikke give dig et nummer lige nu. Gå til skranken, så hjælper vi dig."
        )
    assert tickets_in(tmp_path / "moved" / "q.db") == 1


async def test_the_board_says_its_file_was_replaced(tmp_path):
    db = tmp_path / "q.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    tickets = Tickets(store)
    tickets.issue(SITE, "A", "meeting")
    tickets.call_next(SITE, "skranke-2")
    tickets.close()
    store.dispose()
    app = board(str(db))
    async with app.run_test(size=(80, 24)) as pilot:
        assert await until(pilot, lambda: "ingen venter" in shown(app)), shown(app)
        shutil.copy(db, tmp_path / "copy.db")
        (tmp_path / "copy.db").replace(db)
        said = "databasefilen er flyttet, slettet eller skiftet ud"
        assert await until(pilot, lambda: said in shown(app)), shown(app)
        assert "Tavlen kan ikke hente numrene lige nu" in shown(app)


def test_the_overview_says_a_file_gone_in_danish_and_tries_again():
    """The supervisor's overview on a file moved away: "tried again", not the store's English."""
    from triage.overview import failure_kind

    assert failure_kind(DatabaseGone("/x/triage.db is not the database file opened")) == (
        "unavailable"
    )
