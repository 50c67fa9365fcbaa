"""The desk as a receptionist meets it: one language everywhere, a channel per citizen, a
screen that fits 80 columns, going back, no key lost while saving, training mode, and no run
without a terminal. Pilot tests press keys only; the CLI tests run the installed `triage`."""

from __future__ import annotations

import os
import select
import sqlite3
import struct
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from textual import events
from textual.app import App
from textual.widgets import OptionList

from screens import frames
from screens.messages import QueueSeen
from tests.test_app import rows, settle
from tests.test_app import visible_text as text
from tests.test_cli import installed_triage
from triage import paths, present
from triage.app import TriageApp
from triage.db.store import Store
from triage.desklog import DeskLog
from triage.visits import visit_from_result
from triage.walk import route

SIZE = (80, 24)


@pytest.fixture
def make_app(flow, tmp_path):
    """The real app on its own SQLite file in tmp_path."""

    def make(
        desk: str = "skranke-1",
        lang: str = "da",
        channel: str = "in_person",
        training: bool = False,
    ) -> TriageApp:
        log = DeskLog(
            str(tmp_path / "triage.db"),
            "jc-skelbaek",
            desk,
            spool_dir=tmp_path / "spool",
            training=training,
        )
        return TriageApp(
            flow,
            site="jc-skelbaek",
            desk=desk,
            lang=lang,
            log=log,
            open_log_after=0,
            channel=channel,
            training=training,
        )

    return make


def preload(tmp_path, flow, desk: str, n: int) -> None:
    """n visits registered at this desk a few minutes ago (today, whatever the hour)."""
    store = Store(tmp_path / "triage.db", spool_dir=tmp_path / "spool")
    store.open()
    at = datetime.now(UTC) - timedelta(seconds=30)
    for _ in range(n):
        store.record(
            visit_from_result(
                route(flow, ["2", "2"], "jc-skelbaek"), "jc-skelbaek", desk, "in_person", 5.0, at
            )
        )
    store.dispose()


def screen_lines(app) -> list[str]:
    """What the terminal shows, line by line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


# --- 1. F2 switches everything, everywhere ------------------------------------------------


async def test_f2_in_the_overview_switches_the_desk_below(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await settle(pilot, app)
        await pilot.press("f2")
        await settle(pilot, app)
        assert "1 Today" in text(app, "#keys") and "F2 Dansk" in text(app, "#keys")
        await pilot.press("escape")
        await settle(pilot, app)
        assert text(app, "#question") == "What is the visit about?"
        keys = text(app, "#keys")
        assert "F2 Dansk" in keys and "English" not in keys
        assert text(app, "#channel") == " IN PERSON "


async def test_the_status_line_follows_f2(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("2", "2", "enter")
        await settle(pilot, app)
        assert text(app, "#notice").startswith("Registreret: ")
        await pilot.press("f2")
        notice = text(app, "#notice")
        assert notice.startswith("Registered: ") and "Registreret" not in notice
        await pilot.press("ctrl+z")
        await settle(pilot, app)
        assert text(app, "#notice").startswith("Last visit cancelled: ")
        await pilot.press("f2")
        assert text(app, "#notice").startswith("Sidste besøg er annulleret: ")


async def test_an_answer_error_follows_f2(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "2", "4", "enter")
        assert "'24' er ikke et postnummer" in text(app, "#message")
        await pilot.press("f2")
        message = text(app, "#message")
        assert message and "postnummer" not in message


async def palette_entries(pilot, app) -> list[str]:
    """Open the command palette and return its entries (title and description) as text."""
    await pilot.press("ctrl+p")
    for _ in range(100):
        await pilot.pause(0.05)
        lists = app.screen.query(OptionList)
        if lists and lists.first().option_count >= 8:
            break
    options = app.screen.query_one(OptionList)
    await pilot.pause(0.2)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_the_palette_speaks_the_ui_language_and_says_what_each_entry_does(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        entries = "\n".join(await palette_entries(pilot, app))
        for danish in (
            "Farvetema",
            "Afslut",
            "Skærmbillede",
            "Søg efter henvendelsen",
            "Skift mellem fremmøde og telefon for denne borger",
        ):
            assert danish in entries, entries
        for english in ("Theme", "Quit", "Screenshot", "Change the current theme"):
            assert english not in entries, entries
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f2")
        entries = "\n".join(await palette_entries(pilot, app))
        for english in ("Theme", "Quit", "Screenshot", "Switch between in person and phone"):
            assert english in entries, entries
        # Textual's key panel is English only: not offered (the key bar shows the keys).
        assert "Keys" not in entries and "Taster" not in entries
        assert "Farvetema" not in entries and "Kanal" not in entries


async def test_the_export_dialog_follows_f2_while_open(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await settle(pilot, app)
        await pilot.press("e")
        await settle(pilot, app)
        assert "Eksportér" in text(app, "#export-title")
        await pilot.press("f2")
        await pilot.pause()
        assert text(app, "#export-title").startswith("Export")
        assert "Danish Excel" in str(app.screen.query("RadioButton")[1].label)


async def test_the_search_dialog_and_its_note_follow_f2(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"krisecenter")
        await pilot.pause()
        assert "Søg" in text(app, "#search-title")
        await pilot.press("f2")
        await pilot.pause()
        assert text(app, "#search-title").startswith("Search")
        await pilot.press("enter")
        await settle(pilot, app)
        await pilot.press("minus")  # declined: the district is asked, the errand kept
        await settle(pilot, app)
        assert "search found" in text(app, "#message")
        await pilot.press("f2")
        await pilot.pause()
        assert "Søgningen fandt" in text(app, "#message")


# --- 2. Channel per citizen -----------------------------------------------------------------


async def test_f3_is_for_the_citizen_at_hand(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f3")
        assert text(app, "#channel") == " TELEFON "
        await pilot.press("2", "2", "enter")
        await settle(pilot, app)
        assert text(app, "#channel") == " FREMMØDE "  # back to the desk's default
        await pilot.press("2", "2", "enter")
        await settle(pilot, app)
        await pilot.press("f3", "1", "ctrl+n")
        assert text(app, "#channel") == " FREMMØDE "  # a new citizen: the default again
    assert [r["channel"] for r in sorted(rows(tmp_path), key=lambda r: r["at_utc"])] == [
        "phone",
        "in_person",
    ]


async def test_a_phone_desk_returns_to_phone(make_app, tmp_path):
    app = make_app(channel="phone")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert text(app, "#channel") == " TELEFON "
        await pilot.press("f3", "2", "2", "enter")
        await settle(pilot, app)
        assert text(app, "#channel") == " TELEFON "
        await pilot.press("2", "2", "enter")
        await settle(pilot, app)
    assert sorted(r["channel"] for r in rows(tmp_path)) == ["in_person", "phone"]


# --- 3. 80 columns ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("lang", ["da", "en"])
async def test_top_bar_and_key_bar_fit(make_app, tmp_path, flow, width, lang):
    preload(tmp_path, flow, "skranke-12", 27)
    app = make_app(desk="skranke-12", lang=lang)
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(pilot, app)
        for keys in ((), ("4",), ("minus", "1")):  # first question, postcode, card
            await pilot.press(*keys)
            lines = screen_lines(app)
            top = "\n".join(lines[:2])
            assert "Skelbækgade · skranke-12" in top and "…" not in top
            assert ("FREMMØDE" if lang == "da" else "IN PERSON") in top
            counts = (
                "I dag: 27 ved denne skranke, 27 på stedet"
                if lang == "da"
                else "Today: 27 at this desk, 27 at this site"
            )
            assert counts in top
            assert present.local_now().strftime("%H:") in top
            bar = "\n".join(lines[-2:])
            assert ("F5 Overblik" if lang == "da" else "F5 Overview") in bar
            assert ("^Q Afslut" if lang == "da" else "^Q Quit") in bar
            assert ("F2 English" if lang == "da" else "F2 Dansk") in bar


# --- 4. Going back ------------------------------------------------------------------------


async def test_back_from_the_question_after_a_postcode_keeps_it(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "2", "4", "0", "0", "enter")
        assert app.screen.walk.node_id == "job"
        await pilot.press("escape")
        assert app.screen.walk.node_id == "job_postcode"
        assert "2400" in text(app, "#postcode")
        await pilot.press("enter", "1")  # the same postcode again, then the next answer
        assert "Jobcenter København Musvågevej" in text(app, "#card")
        await pilot.press("escape", "escape", *["backspace"] * 4, "2", "2", "0", "0", "enter")
        assert "Postnummer 2200" in text(app, "#trail")  # or corrected


# --- 5. No lost keys while saving ------------------------------------------------------------


async def test_keys_typed_while_saving_go_to_the_next_citizen(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        # Another writer holds the database: this visit's save waits (as on a busy server).
        blocker = sqlite3.connect(tmp_path / "triage.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            await pilot.press("2", "1", "minus", "enter", "1")
            assert app.screen.saving
            assert app.screen.walk.finished  # the card stays until the visit is saved
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await settle(pilot, app)
        assert not app.screen.saving
        assert [s.key for s in app.screen.walk.steps] == [1]  # the 1 answered the next citizen
    (row,) = rows(tmp_path)
    assert row["outcome_id"] == "apply_benefits"


# --- 6. Training mode -------------------------------------------------------------------------


async def test_training_desk_says_so_and_marks_visits_demo(make_app, tmp_path):
    app = make_app(training=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        clock = text(app, "#clock")
        assert "ØVELSE" in clock and "DEMODATA" in clock
        assert text(app, "#notice").startswith("Øvelse: ")
        await pilot.press("2", "2", "enter")
        await settle(pilot, app)
        await pilot.press("f2")
        assert "TRAINING" in text(app, "#clock")
    (row,) = rows(tmp_path)
    assert row["demo"] is True


async def test_first_start_on_an_empty_database_says_how_to_practise(make_app, tmp_path, flow):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "triage --training" in text(app, "#notice")
        await pilot.press("1")
        assert text(app, "#notice") == ""
    app = make_app()  # the database now holds a visit: no hint
    preload(tmp_path, flow, "skranke-1", 1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "--training" not in text(app, "#notice")


async def test_a_served_desk_does_not_offer_training_it_has_not(make_app, monkeypatch):
    """A desk in a browser page (triage serve) has no --training to start: it says only that
    its visits are real."""
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert text(app, "#notice") == "Besøg, der registreres her, er rigtige."


# --- CLI: --channel and --training in a real terminal; no terminal at all -----------------------


def _in_a_terminal(command: list[str], keys: list[bytes], home, done=None) -> tuple[int, str]:
    """Run command in a pseudo-terminal of 80x24, type keys once the first question is on
    screen, wait until done() holds (then quit with Ctrl+Q) or the process ends by itself;
    return its exit code and everything it showed."""
    import fcntl
    import pty
    import select
    import struct
    import termios
    import time

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "TERM": "xterm",
    }
    proc = subprocess.Popen(
        command,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=os.getcwd(),
        close_fds=True,
    )
    os.close(follower)
    seen = bytearray()

    def read_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if select.select([leader], [], [], 0.05)[0]:
                try:
                    seen.extend(os.read(leader, 65536))
                except OSError:
                    return

    try:
        for _ in range(200):  # the first question on screen
            read_for(0.1)
            if b"drejer" in seen:
                break
        for key in keys:
            os.write(leader, key)
            read_for(0.2)
        for _ in range(200):
            if proc.poll() is not None or (done is not None and done()):
                break
            read_for(0.1)
        if proc.poll() is None:
            os.write(leader, b"\x11")  # Ctrl+Q
        read_for(0.5)
        return proc.wait(timeout=30), seen.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)


def _rows_at(path) -> list[dict]:
    if not path.exists():
        return []
    store = Store(path, spool_dir=path.parent / "spool-read")
    try:
        return store.visits()
    except Exception:  # noqa: BLE001 - still being created by the desk: not yet
        return []
    finally:
        store.dispose()


def test_triage_channel_phone_logs_phone_calls(tmp_path):
    db = tmp_path / "desk.db"
    code, shown = _in_a_terminal(
        [installed_triage(), "--channel", "phone", "--db", str(db), "--site", "jc-skelbaek"],
        [b"2", b"2", b"\r"],
        tmp_path,
        lambda: len(_rows_at(db)) == 1,
    )
    assert code == 0, shown[-2000:]
    (row,) = _rows_at(db)
    assert row["channel"] == "phone" and row["demo"] is False


def test_triage_training_uses_a_practice_database_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    training, real = paths.training_db_path(), paths.default_db_path()
    assert training.is_relative_to(tmp_path) and training != real
    code, shown = _in_a_terminal(
        [installed_triage(), "--training"],
        [b"2", b"2", b"\r"],
        tmp_path,
        lambda: len(_rows_at(training)) == 1,
    )
    assert code == 0, shown[-2000:]
    (row,) = _rows_at(training)
    assert row["demo"] is True
    assert not real.exists()  # the real database is never touched


def test_training_refuses_a_db(tmp_path):
    done = subprocess.run(
        [installed_triage(), "--training", "--db", str(tmp_path / "x.db")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2 and "udelad --db" in done.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("command", [["desk"], ["summary", "--tui"]])
def test_without_a_terminal_triage_refuses_instead_of_spinning(tmp_path, flow, command):
    db = tmp_path / "desk.db"
    Store(db, spool_dir=tmp_path / "spool").open()  # summary reads an existing database
    done = subprocess.run(
        [installed_triage(), *command, "--db", str(db), "--lang", "en"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1, done.stderr
    assert "triage must run in a terminal window" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


# --- Bursts around the search: every key reaches what it was typed for ----------------------


def burst(app, *keys: str) -> None:
    """Keys as a fast typist's burst arrives from the terminal: all queued before any is handled."""
    for key in keys:
        character = {"enter": "\r", "minus": "-", "slash": "/", "escape": "\x1b"}.get(key, key)
        app.post_message(events.Key(key, character if len(character) == 1 else None))


async def test_letters_typed_right_after_slash_go_into_the_search(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        burst(app, "slash", "1", "2")  # "12" must not answer the question behind the dialog
        await settle(pilot, app)
        assert app.screen.query_one("#search-input").value == "12"
        burst(app, "escape")
        await settle(pilot, app)
        assert app.screen.walk.steps == ()


async def test_a_whole_search_route_in_one_burst_loses_nothing(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        burst(app, "slash", *"alkohol", "enter", "enter", "minus", "0", "enter")
        await settle(pilot, app)
        await settle(pilot, app)
    (row,) = rows(tmp_path)  # the second Enter neither crashed nor went astray
    assert row["outcome_id"] == "addiction"
    assert row["destination_id"] == "sc-vesterbro"  # no fixed address: this desk's district


def test_an_unexpected_error_in_the_desk_shows_one_line_and_a_report_not_a_traceback(tmp_path):
    """A defect in a key's handler (made here on purpose) stops the desk: the terminal shows one
    line saying where the full report is, the report holds the traceback, and the exit is 70."""
    import sys

    script = (
        "import sys, triage.cli as cli; from screens.desk import DeskScreen; "
        "DeskScreen.action_toggle_channel = lambda self: 1 / 0; "
        "sys.exit(cli.main(['--training']))"
    )
    code, shown = _in_a_terminal([sys.executable, "-c", script], [b"\x1bOR"], tmp_path)  # F3
    assert code == 70
    assert "Traceback" not in shown and "ZeroDivisionError" in shown
    (report,) = (tmp_path / "state" / "triage").glob("crash-*.txt")
    assert "Traceback" in report.read_text(encoding="utf-8")


async def test_a_card_taller_than_the_screen_offers_pgdn(make_app, monkeypatch):
    """Two stops at 80x24 run below the screen: the key bar says PgDn shows the rest."""
    from triage.model import LOCAL_ZONE

    # Before opening time, so both stops say when they open: the card's height does not
    # depend on the hour the test runs.
    early = datetime(2026, 11, 23, 7, 30, tzinfo=LOCAL_ZONE)
    monkeypatch.setattr(present, "local_now", lambda: early)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("2", "1", "2", "4", "0", "0", "enter")
        await settle(pilot, app)
        assert "PgDn Mere" in text(app, "#keys")
        assert not any("Lønsedler" in line for line in screen_lines(app))
        await pilot.press("pagedown")
        await settle(pilot, app)
        assert any("Lønsedler" in line for line in screen_lines(app))
        assert "PgDn" not in text(app, "#keys")  # nothing more below
        await pilot.press("escape", "escape")  # a short question: nothing to scroll
        await settle(pilot, app)
        assert "PgDn" not in text(app, "#keys")


async def test_no_pgdn_on_the_next_citizens_question(make_app):
    """After a visit is registered, the first question fits: the key bar must not offer PgDn
    from the layout before it (the notice line appeared as the card went)."""
    app = make_app(lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("4", "2", "2", "0", "0", "enter", "1", "enter")
        await settle(pilot, app)
        assert "Registered" in text(app, "#notice")
        assert "PgDn" not in text(app, "#keys")


async def test_f5_typed_while_saving_opens_the_overview_and_the_keys_after_it_go_there(
    make_app, tmp_path
):
    """F5 asks the app for the overview (a message, not a call): keys typed after it while the
    visit is being saved reach the overview, in order, not the next citizen's question."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        blocker = sqlite3.connect(tmp_path / "triage.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            await pilot.press("2", "1", "minus", "enter", "f5", "3")
            assert app.screen.saving
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await settle(pilot, app)
        assert type(app.screen).__name__ == "SupervisorScreen"
        assert app.screen.period == "30days"  # the 3 chose the overview's period
        desk = app.screen_stack[0]
        assert desk.walk.steps == () and not desk.saving
    (row,) = rows(tmp_path)
    assert row["outcome_id"] == "apply_benefits"


async def test_a_write_or_undo_worker_that_raises_says_so_and_keeps_the_card(make_app):
    """Faults nobody foresaw inside the log's write and undo (injected here: the log's own code
    catches every fault it knows of): the desk says the visit was not saved and stays on the
    card, and a failed undo says so; never a silent desk or a saving line for ever."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)

        def broken(*args, **kwargs):
            raise RuntimeError("disken brændte")

        app.visit_log.record = broken
        app.visit_log.undo_last = broken
        await pilot.press("2", "2", "enter")
        await settle(pilot, app)
        assert app.screen.walk.finished and not app.screen.saving  # still on the card
        assert "disken brændte" in text(app, "#message")
        await pilot.press("ctrl+z")
        await settle(pilot, app)
        assert "disken brændte" in text(app, "#notice")


async def test_a_desk_already_running_on_this_machine_is_said_at_the_start(make_app, tmp_path):
    """A second tab or window as the same desk: both would have citizens called to it. The
    second says so; once the first has stopped, a new one starts without the warning."""
    first = make_app()
    async with first.run_test(size=SIZE) as pilot:
        await settle(pilot, first)
        assert "åben et andet sted" not in text(first, "#notice")
        second = make_app()
        async with second.run_test(size=SIZE) as other:
            await settle(other, second)
            said = text(second, "#notice")
            assert said.startswith("skranke-1 er også åben et andet sted (en anden fane")
        elsewhere = make_app(desk="skranke-2")  # another desk's name: no warning
        async with elsewhere.run_test(size=SIZE) as other:
            await settle(other, elsewhere)
            assert "åben et andet sted" not in text(elsewhere, "#notice")
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot, again)
        assert "åben et andet sted" not in text(again, "#notice")


def test_a_desk_claims_its_name_on_one_database_only(tmp_path):
    """The lock is per desk and database: the same desk name on another database is another
    desk; let go, the name is free again."""
    spool = tmp_path / "spool"
    one = DeskLog(str(tmp_path / "a.db"), "jc-skelbaek", "skranke-1", spool_dir=spool)
    same = DeskLog(str(tmp_path / "a.db"), "jc-skelbaek", "skranke-1", spool_dir=spool)
    other_db = DeskLog(str(tmp_path / "b.db"), "jc-skelbaek", "skranke-1", spool_dir=spool)
    assert one.claim_desk() is True
    assert one.claim_desk() is True  # its own claim, asked again (the log opened again)
    assert same.claim_desk() is False
    assert other_db.claim_desk() is True
    one.release_desk()
    assert same.claim_desk() is True
    same.release_desk()
    other_db.release_desk()


# --- polish16: a screen is written once, until something on it changes ----------------------


def frames_written(monkeypatch) -> list[str]:
    """Each frame the app hands Textual's writer (what goes to the terminal or the browser), as
    the screen's text at that moment."""
    written: list[str] = []
    write = App._display

    def display(app, screen, renderable) -> None:
        if renderable is not None and not app._batch_count:
            written.append("\n".join(screen_lines(app)))
        write(app, screen, renderable)

    monkeypatch.setattr(App, "_display", display)
    return written


async def test_the_first_question_is_written_once_until_a_key_is_pressed(make_app, monkeypatch):
    """Textual wrote the first screen three times in its first 25 ms (each widget again once it
    has its size, the whole screen again once shown): a browser drew the options twice."""
    written = frames_written(monkeypatch)
    app = make_app()
    app.open_log_after = 60  # what the database says (counts, notices) changes the screen: later
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "Sygdom og sygedagpenge" in text(app, "#options")
        await pilot.pause(0.3)
        assert len(written) == 1
        assert "Hvad drejer henvendelsen sig om?" in written[0]
        assert "1  Sygdom og sygedagpenge" in written[0]
        await pilot.press("1")
        await pilot.pause(0.1)
        assert len(written) >= 2  # a change is written at once
        assert text(app, "#question") in written[1]
        assert "Hvad drejer henvendelsen sig om?" not in written[1]


async def test_after_its_first_second_the_same_screen_is_written_again(make_app, monkeypatch):
    """Only the start's repeats are left out: later, a screen written again on purpose (e.g.
    after the app was suspended) is written, as Textual does."""
    monkeypatch.setattr(frames, "FIRST_FRAME_SECONDS", 0)
    written = frames_written(monkeypatch)
    app = make_app()
    app.open_log_after = 60
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        assert len(written) > 1
        assert set(written) == {written[0]}  # Textual's repeats: the same screen each time


async def test_the_clock_and_the_queue_shown_anew_unchanged_are_not_drawn_again(
    make_app, monkeypatch
):
    """The clock is shown anew every 15 s and the queue every 3 s: unchanged, nothing is drawn."""
    written = frames_written(monkeypatch)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.screen.post_message(QueueSeen([("A", 2, 300)]))
        await pilot.pause(0.1)
        assert "2 venter, længst 5 min" in text(app, "#queue")
        before = len(written)
        app.screen.show_today()
        app.screen.post_message(QueueSeen([("A", 2, 300)]))
        await pilot.pause(0.1)
        assert len(written) == before
        app.screen.post_message(QueueSeen([("A", 3, 300)]))
        await pilot.pause(0.1)
        assert len(written) > before and "3 venter, længst 5 min" in written[-1]


def test_a_real_terminal_gets_the_first_question_once(tmp_path):
    """The desk on a pseudo-terminal, as at a desk: the bytes written in the 0.2 s after the
    first question appears hold its options once (Textual's repeats came after 2 and 25 ms)."""
    fcntl = pytest.importorskip("fcntl")  # pseudo-terminals as Linux and macOS have them
    pty = pytest.importorskip("pty")
    termios = pytest.importorskip("termios")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("TRIAGE_DB_URL", "TRIAGE_DATA")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), TERM="xterm-256color")
    env.update(XDG_STATE_HOME=str(home / "state"), XDG_CONFIG_HOME=str(home / "config"))
    desk = subprocess.Popen(
        [installed_triage(), "desk"],
        cwd=tmp_path,
        env=env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    option = b"Sygdom og sygedagpenge"
    seen, shown_at = b"", None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if shown_at is not None and time.monotonic() > shown_at + 0.2:
                break
            ready, _, _ = select.select([leader], [], [], 0.05)
            if ready:
                seen += os.read(leader, 65536)
            if shown_at is None and option in seen:
                shown_at = time.monotonic()
        assert shown_at is not None, seen[-2000:]
        assert seen.count(option) == 1
    finally:
        os.write(leader, b"\x11")  # Ctrl+Q
        try:
            desk.wait(timeout=20)
        except subprocess.TimeoutExpired:
            desk.kill()
            desk.wait()
        os.close(leader)
