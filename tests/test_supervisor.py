"""The supervisor's overview, driven through Pilot on a real SQLite file."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from triage import present
from triage.app import TriageApp
from triage.db.store import Store
from triage.desklog import DeskLog
from triage.model import LOCAL_ZONE
from triage.visits import visit_from_result
from triage.walk import route

NOW = datetime(2026, 11, 23, 10, 30, tzinfo=LOCAL_ZONE)


@pytest.fixture
def db(tmp_path, flow):
    """Today: 12 visits at Skelbækgade, 4 at each other jobcentre (60 % vs a 40 % target)."""
    path = tmp_path / "overview.db"
    store = Store(path, spool_dir=tmp_path / "spool")
    store.open()
    at = NOW.astimezone(UTC) - timedelta(minutes=20)
    for site, n in (("jc-skelbaek", 12), ("jc-musvaage", 4), ("jc-nord", 4)):
        for _ in range(n):
            store.record(
                visit_from_result(route(flow, ["2", "2"], site), site, "d", "in_person", 5.0, at)
            )
    last_month = at - timedelta(days=20)
    store.record(
        visit_from_result(
            route(flow, ["1", "1"], "jc-nord"), "jc-nord", "d", "in_person", 5.0, last_month
        )
    )
    store.dispose()
    return path


@pytest.fixture
def overview_app(flow, db, tmp_path, monkeypatch):
    monkeypatch.setattr(present, "local_now", lambda: NOW)
    log = DeskLog(str(db), "jc-skelbaek", "overblik", spool_dir=tmp_path / "spool")
    return TriageApp(flow, site="jc-skelbaek", log=log, start="overview", open_log_after=0)


async def ready(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def table_rows(app) -> list[list[str]]:
    table = app.screen.query_one("#sup-sites", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def text(app, selector: str) -> str:
    widget = app.screen.query_one(selector, Static)
    return str(widget.render()) if widget.display else ""


async def test_today_with_alert_and_period_switch(overview_app):
    async with overview_app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        rows = table_rows(overview_app)
        assert rows[0][:5] == ["Jobcenter Skelbækgade", "12", "60 %", "40 %", "+50 %"]
        assert (
            "⚠ Jobcenter Skelbækgade: 60 % af dagens besøg på jobcentrene (12); målet er 40 %."
            in text(overview_app, "#sup-alert")
        )
        assert "I dag (2026-11-23 – 2026-11-23)" in text(overview_app, "#sup-title")
        await pilot.press("3")
        await ready(pilot)
        assert "30 dage (2026-10-25 – 2026-11-23)" in text(overview_app, "#sup-title")
        assert table_rows(overview_app)[2][:2] == ["Jobcenter København Nord", "5"]
        assert "I alt 21 besøg" in text(overview_app, "#sup-summary")
        # Skelbækgade: 12 visits today 10-11, none on other days: 12 on average over 1 day.
        assert (
            "Travleste time i gennemsnit: 12,0 besøg (mandag kl. 10-11); "
            "flest på én time: 12 (mandag 2026-11-23 kl. 10)." in text(overview_app, "#sup-heat")
        )


async def test_refresh_picks_up_a_visit_written_by_another_process(overview_app, db, tmp_path):
    async with overview_app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert table_rows(overview_app)[1][1] == "4"
        writer = (
            "import sys; from datetime import datetime, timezone\n"
            "from triage import paths; from triage.load import load_or_raise\n"
            "from triage.db.store import Store; from triage.visits import visit_from_result\n"
            "from triage.walk import route\n"
            "flow = load_or_raise(paths.default_data_dir())\n"
            f"store = Store({str(db)!r}, "
            f"spool_dir=__import__('pathlib').Path({str(tmp_path / 'sp2')!r}))\n"
            "store.open()\n"
            "at = datetime(2026, 11, 23, 9, 15, tzinfo=timezone.utc)\n"
            "answers = route(flow, ['6', '1'], 'jc-musvaage')\n"
            "visit = visit_from_result(answers, 'jc-musvaage', 'x', 'in_person', 1.0, at)\n"
            "print(store.record(visit))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", writer],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
            timeout=60,
        )
        assert done.stdout.strip() == "saved", done.stderr
        await pilot.press("r")  # the same as the 30-second timer
        await ready(pilot)
        assert table_rows(overview_app)[1][:2] == ["Jobcenter København Musvågevej", "5"]


async def test_no_alert_when_balanced_and_language(flow, tmp_path, monkeypatch):
    monkeypatch.setattr(present, "local_now", lambda: NOW)
    log = DeskLog(str(tmp_path / "empty.db"), "jc-skelbaek", "o", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", log=log, start="overview", open_log_after=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert text(app, "#sup-alert") == ""
        assert text(app, "#sup-heat") == ""  # said once, in the totals below
        summary = text(app, "#sup-summary")  # no "Samlet ubalance 0 %" for a period without visits
        assert summary.startswith("Ingen besøg i perioden") and "ubalance" not in summary
        await pilot.press("f2")
        assert text(app, "#sup-title").startswith("Overview  Today")


async def test_f5_opens_the_overview_from_the_desk_and_esc_returns(flow, db, tmp_path, monkeypatch):
    monkeypatch.setattr(present, "local_now", lambda: NOW)
    log = DeskLog(str(db), "jc-skelbaek", "skranke-1", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", log=log, open_log_after=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f5")
        await ready(pilot)
        assert type(app.screen).__name__ == "SupervisorScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "DeskScreen"


async def test_custom_period(overview_app):
    from textual.widgets import Input

    async with overview_app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("5")
        await pilot.pause()
        start, last = (overview_app.screen.query_one(f"#period-{w}", Input) for w in ("from", "to"))
        start.value, last.value = "2026-11-30", "2026-11-01"
        await pilot.press("enter", "enter")
        await pilot.pause()
        assert "begynder" in str(overview_app.screen.query_one("#period-message").render())
        start.value, last.value = "2026-10-01", "2026-11-22"
        await pilot.press("enter")
        await ready(pilot)
        assert "Periode (2026-10-01 – 2026-11-22)" in text(overview_app, "#sup-title")
        assert "I alt 1 besøg" in text(overview_app, "#sup-summary")  # only last month's visit


async def test_export_dialog_writes_the_period_with_progress(overview_app, tmp_path):
    import openpyxl
    from textual.widgets import Input, ProgressBar, RadioSet

    async with overview_app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("3")  # the last 30 days
        await ready(pilot)
        await pilot.press("e")
        await pilot.pause()
        dialog = overview_app.screen
        assert "Eksportér 2026-10-25 til og med 2026-11-23" in str(
            dialog.query_one("#export-title", Static).render()
        )
        path = dialog.query_one("#export-path", Input)
        assert path.value.endswith("triage-2026-10-25-2026-11-23.xlsx")
        formats = dialog.query_one(RadioSet)
        formats.focus()
        await pilot.press("down", "enter")  # CSV for Danish Excel: the suggestion becomes a folder
        await pilot.pause()
        assert formats.pressed_index == 1 and path.value.endswith("triage-2026-10-25-2026-11-23")
        await pilot.press("up", "enter")
        await pilot.pause()
        assert formats.pressed_index == 0 and path.value.endswith(".xlsx")
        path.focus()
        target = tmp_path / "ud" / "overblik.xlsx"
        path.value = str(target)
        await pilot.press("enter")
        await ready(pilot)  # the folder does not exist: said, and not made
        assert "Mappen" in str(dialog.query_one("#export-message", Static).render())
        assert not target.parent.exists()
        target.parent.mkdir()
        await pilot.press("enter")
        await ready(pilot)
        assert dialog.query_one("#export-progress", ProgressBar).percentage == 1.0
        assert f"Skrev {target}." in str(dialog.query_one("#export-message", Static).render())
        book = openpyxl.load_workbook(target)
        shares = {row[0].value: row[2].value for row in book["Andel og mål"].iter_rows(min_row=2)}
        assert shares == {"jc-skelbaek": 12, "jc-musvaage": 4, "jc-nord": 5}

        formats.focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        path.value = str(tmp_path / "csv")
        path.focus()
        await pilot.press("enter")
        await ready(pilot)
        assert (
            (tmp_path / "csv" / "andel_og_maal.csv")
            .read_text(encoding="utf-8-sig")
            .startswith("Sted-id;Sted;")
        )
        await pilot.press("escape")
        await pilot.pause()
        assert overview_app.screen.__class__.__name__ == "SupervisorScreen"


async def test_a_count_that_fails_says_so_and_stops_the_spinner(overview_app, db):
    """The database file is damaged after the overview opened: the refresh fails for real in
    the worker; the overview says why in a notice and stops loading, never spins for ever."""
    async with overview_app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert table_rows(overview_app)[0][1] == "12"
        overview_app.visit_log.store.dispose()  # no connection keeps the old pages cached
        size = db.stat().st_size
        db.write_bytes(b"this is no longer a database " * (size // 29 + 1))
        for leftover in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            leftover.unlink(missing_ok=True)
        await pilot.press("3")  # a new period: the loading indicator shows while it counts
        await ready(pilot)
        table = overview_app.screen.query_one("#sup-sites", DataTable)
        assert table.loading is False
        said = text(overview_app, "#sup-alert")
        assert said.startswith("Tallene kunne ikke hentes: databasefilen er beskadiget"), said
        assert "sikkerhedskopi" in said and "prøves igen" not in said and "database" in said
        assert "not a database" not in said
        assert not overview_app._notifications  # nothing covers the key bar
        assert type(overview_app.screen).__name__ == "SupervisorScreen"
        assert table_rows(overview_app)[0][1] == "12"  # the figures shown stay


async def test_a_damaged_file_at_80x24_says_restore_a_backup_in_full(
    flow, db, tmp_path, monkeypatch
):
    """Pages in the middle of the file overwritten ("database disk image is malformed"): the
    overview opened on it says, wrapped under the title in Danish, that a backup must be put
    back; no SQLite English, no promise of a retry, and the key bar stays uncovered."""
    raw = bytearray(db.read_bytes())
    page = 4096
    for at in range(page, len(raw) - page, page):  # every page but the header's
        raw[at + 8 : at + page] = b"\xa5" * (page - 8)
    db.write_bytes(bytes(raw))
    monkeypatch.setattr(present, "local_now", lambda: NOW)
    log = DeskLog(str(db), "jc-skelbaek", "overblik", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", log=log, start="overview", open_log_after=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert text(app, "#sup-title").startswith("Overblik  I dag")
        said = text(app, "#sup-alert")
        assert said.startswith("Tallene kunne ikke hentes: databasefilen er beskadiget"), said
        assert "sikkerhedskopi af databasen tilbage" in said
        assert "malformed" not in said and "prøves igen" not in said
        alert = app.screen.query_one("#sup-alert", Static)
        assert alert.size.height >= 3 and alert.size.width <= 80  # wrapped, not cut
        assert not app._notifications
        await pilot.press("f2")
        assert "restore the latest backup" in text(app, "#sup-alert").lower()


async def test_custom_period_out_of_range_stays_open(overview_app):
    from textual.widgets import Input

    async with overview_app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("5")
        await pilot.pause()
        start, last = (overview_app.screen.query_one(f"#period-{w}", Input) for w in ("from", "to"))
        for first, final in (("2026-11-01", "9999-12-31"), ("0001-01-01", "2026-11-01")):
            start.value, last.value = first, final
            last.focus()
            await pilot.press("enter")
            await ready(pilot)
            assert type(overview_app.screen).__name__ == "PeriodScreen"
            message = str(overview_app.screen.query_one("#period-message").render())
            assert "ligger uden for" in message and "2999-12-31" in message
        start.value, last.value = "2026-10-01", "2026-11-22"
        await pilot.press("enter", "enter")  # the cursor was on the first day, the bad one
        await ready(pilot)
        assert "Periode (2026-10-01 – 2026-11-22)" in text(overview_app, "#sup-title")


async def test_an_overview_on_a_newer_database_says_so_in_words(flow, db, tmp_path, monkeypatch):
    """Opening the store in the overview's worker raises the store's own error (a database
    from a newer triage): the line under the title says it as a sentence, in the UI language,
    never as an error code with its parameters."""
    import sqlite3

    from triage.db.migrations import SCHEMA_VERSION

    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE triage_meta SET value = '99' WHERE key IN ('schema_version', 'writable_from')"
        )
    conn.close()
    monkeypatch.setattr(present, "local_now", lambda: NOW)
    log = DeskLog(str(db), "jc-skelbaek", "overblik", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", log=log, start="overview", open_log_after=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        said = f"skema 99; denne udgave kender {SCHEMA_VERSION}"
        title = text(app, "#sup-alert")
        assert (
            title.startswith("Tallene kunne ikke hentes: Databasen er fra en nyere")
            and said in title
        )
        assert "db_newer" not in title and "{" not in title
        assert app.screen.query_one("#sup-sites", DataTable).loading is False
        assert not app._notifications  # said under the title, where it wraps
        await pilot.press("f2")  # the text follows the language, still saying why
        assert text(app, "#sup-alert").startswith("The figures could not be fetched: The database")


@pytest.mark.parametrize("width", [80, 100])
async def test_day_chart_scales_from_zero_with_gaps_and_labels(overview_app, db, flow, width):
    """30 days: Friday's 2 visits still draw a bar beside today's 20, the weekend is a gap,
    the days are labelled, and the chart fits the screen without scrolling sideways."""
    store = Store(db, spool_dir=db.parent / "spool")
    store.open()
    for day, n in ((16, 6), (20, 2)):  # Monday 16 and Friday 20 November
        at = datetime(2026, 11, day, 11, 0, tzinfo=LOCAL_ZONE).astimezone(UTC)
        for _ in range(n):
            result = route(flow, ["2", "2"], "jc-nord")
            store.record(visit_from_result(result, "jc-nord", "d", "in_person", 5.0, at))
    store.dispose()
    async with overview_app.run_test(size=(width, 30)) as pilot:
        await ready(pilot)
        await pilot.press("3")  # 25 October – 23 November
        await ready(pilot)
        lines = text(overview_app, "#sup-trend").splitlines()
        assert "Besøg pr. dag" in text(overview_app, "#sup-trend-label")
        assert "forrige periode, 2026-09-25 – 2026-10-24: 0, –" in text(
            overview_app, "#sup-summary"
        )
        assert all(len(line) <= width - 4 for line in lines)
        bars, labels = lines[:4], lines[4:]
        assert bars[0].startswith("20 ") and bars[3].startswith(" 0 ")
        gutter, step = 3, (width - 4 - 3) // 30
        column = {day: gutter + (day - 25 if day >= 25 else day + 6) * step for day in range(1, 32)}
        bottom = bars[3].ljust(width)
        assert bottom[column[20]] == "▃"  # 2 of 20: a low bar, not an empty block
        assert bottom[column[16]] == "█" and bars[2].ljust(width)[column[16]] == "▂"  # 6 of 20
        assert bottom[column[21]] == bottom[column[22]] == " "  # the weekend: a gap
        assert bottom[column[23]] == "█" and bars[0][column[23]] == "█"
        if step >= 3:  # room for each day's weekday and date
            assert labels[0][column[20] : column[20] + 2] == "fr"
            assert labels[1][column[20] : column[20] + 2] == "20"
        else:  # the date under each Monday
            assert labels[0][column[16] : column[16] + 5] == "16/11"
        body = overview_app.screen.query_one("#sup-body")
        assert body.max_scroll_x == 0


def test_a_year_is_drawn_a_bar_a_week_within_the_width():
    """Too many days for a column each: one bar a week, scaled to the busiest week, still a gap
    for a week without visits, and never wider than the room given."""
    from datetime import date

    from triage.overview import day_chart

    start, end = date(2026, 1, 1), date(2026, 11, 24)
    trend = [
        (str(start + timedelta(days=i)), 10)
        for i in range((end - start).days)
        if (start + timedelta(days=i)).weekday() < 5 and not 200 <= i < 207  # a closed week
    ]
    names = ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"]
    unit, lines = day_chart(start, end, trend, 76, names)
    assert unit == "week" and all(len(line) <= 76 for line in lines)
    assert lines[0].startswith("50 ") and lines[3].startswith(" 0 ")  # five days of 10
    bottom = lines[3][3:]
    assert len(bottom) == 48 and bottom.count(" ") == 1  # 48 weeks, the closed one a gap
    assert lines[4].startswith("   29/12")


def key_bar_text(app) -> str:
    return str(app.screen.query_one("#keys", Static).render())


async def test_r_and_e_work_with_and_without_shift(overview_app, db, tmp_path):
    async with overview_app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert table_rows(overview_app)[2][1] == "4"
        for key, site in (("R", "jc-nord"), ("r", "jc-nord")):
            store = Store(db, spool_dir=tmp_path / "spool2")  # another desk writes a visit
            store.open()
            at = NOW.astimezone(UTC) - timedelta(minutes=5)
            store.record(
                visit_from_result(
                    route(overview_app.flow, ["2", "2"], site), site, "d", "in_person", 5.0, at
                )
            )
            store.dispose()
            before = int(table_rows(overview_app)[2][1])
            await pilot.press(key)
            await ready(pilot)
            assert int(table_rows(overview_app)[2][1]) == before + 1, key
        for key in ("E", "e"):
            await pilot.press(key)
            await pilot.pause()
            assert type(overview_app.screen).__name__ == "ExportScreen", key
            await pilot.press("escape")
            await pilot.pause()
            assert type(overview_app.screen).__name__ == "SupervisorScreen"


async def test_esc_on_an_overview_started_by_itself_asks_to_quit(overview_app):
    async with overview_app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        bar = key_bar_text(overview_app)
        for shown in ("Esc Afslut", "Tab Næste sted", "PgUp/PgDn Rul", "^Q Afslut"):
            assert shown in bar, bar
        assert all(len(line) <= 79 for line in bar.splitlines())  # 80 columns, its padding
        await pilot.press("escape")
        await pilot.pause()
        assert type(overview_app.screen).__name__ == "ConfirmScreen"
        question = str(overview_app.screen.query_one("#confirm-question", Static).render())
        assert question == "Afslut overblikket?"
        await pilot.press("escape")  # no: the overview stays
        await pilot.pause()
        assert type(overview_app.screen).__name__ == "SupervisorScreen"
        assert overview_app.is_running
        await pilot.press("f2")
        bar = key_bar_text(overview_app)
        assert "Esc Quit" in bar and "Tab Next site" in bar and "PgUp/PgDn Scroll" in bar
        assert all(len(line) <= 79 for line in bar.splitlines())
        await pilot.press("escape", "enter")  # yes: the app ends
        await pilot.pause()
        assert not overview_app.is_running


async def test_esc_from_the_desk_goes_back_and_says_so(flow, db, tmp_path, monkeypatch):
    monkeypatch.setattr(present, "local_now", lambda: NOW)
    log = DeskLog(str(db), "jc-skelbaek", "skranke-1", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", log=log, open_log_after=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f5")
        await ready(pilot)
        bar = key_bar_text(app)
        assert "Esc Tilbage" in bar and "Esc Afslut" not in bar
        assert all(len(line) <= 79 for line in bar.splitlines())


@pytest.fixture
def demo_db(flow, tmp_path):
    """A demo history of 40 days up to today (its visits are counted in the title)."""
    from datetime import date

    from triage.demo import DemoHistory

    path = tmp_path / "demo.db"
    store = Store(path, spool_dir=tmp_path / "spool")
    store.open()
    store.load_demo(DemoHistory(flow, 40, 3, 1500, date(2026, 11, 24)))
    store.dispose()
    return path


@pytest.fixture
def months_db(tmp_path, flow) -> Path:
    """Visits from June to November 2026: Skelbækgade draws 60 % until September, then 40 %;
    Musvågevej has none in August; demo visits at Nord in October."""
    path = tmp_path / "months.db"
    store = Store(path, spool_dir=tmp_path / "spool")
    store.open()
    plan = {
        6: {"jc-skelbaek": 6, "jc-musvaage": 2, "jc-nord": 2},
        7: {"jc-skelbaek": 6, "jc-musvaage": 2, "jc-nord": 2},
        8: {"jc-skelbaek": 6, "jc-nord": 4},
        9: {"jc-skelbaek": 4, "jc-musvaage": 3, "jc-nord": 3},
        10: {"jc-skelbaek": 4, "jc-musvaage": 3, "jc-nord": 3},
        11: {"jc-skelbaek": 2, "jc-musvaage": 1, "jc-nord": 2},
    }
    for month, per_site in plan.items():
        for site, n in per_site.items():
            for i in range(n):
                at = datetime(2026, month, 3 + i, 9, 0, tzinfo=UTC)
                answered = route(flow, ["2", "2"], site)
                visit = visit_from_result(answered, site, "d", "in_person", 5.0, at)
                visit["demo"] = month == 10 and site == "jc-nord"
                store.record(visit)
    store.dispose()
    return path


@pytest.mark.parametrize("lang", ["da", "en"])
async def test_at_80x24_the_title_keeps_its_count_and_the_table_fits(
    flow, demo_db, tmp_path, monkeypatch, lang
):
    monkeypatch.setattr(present, "local_now", lambda: NOW)
    log = DeskLog(str(demo_db), "jc-skelbaek", "o", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", log=log, start="overview", open_log_after=0)
    app.lang = lang
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        for period in ("1", "3", "5"):
            await pilot.press(period)
            await ready(pilot)
            if period == "5":  # the period dialog: the 30 days on screen, as they are
                await pilot.press("enter", "enter")
                await ready(pilot)
            title = app.screen.query_one("#sup-title", Static)
            said = str(title.render())
            demo = "DEMODATA" if lang == "da" else "DEMO DATA"
            assert demo in said and len(said) <= title.content_region.width, said
            rows = table_rows(app)
            assert int(rows[0][1].replace(".", "").replace(",", "")) > 10_000 or period == "1"
            table = app.screen.query_one("#sup-sites", DataTable)
            body = app.screen.query_one("#sup-body")
            assert table.max_scroll_x == 0 and body.max_scroll_x == 0, (period, rows)
            assert table.virtual_size.width <= body.content_region.width


async def test_the_misdirection_list_says_how_many_more_when_cut(overview_app, db, flow):
    """Citizens from 11 postcodes at all three jobcentres: more misdirected pairs than the
    eight listed, and the list says how many it leaves out."""
    store = Store(db, spool_dir=db.parent / "spool")
    store.open()
    at = NOW.astimezone(UTC) - timedelta(minutes=30)
    codes = ["2000", "2400", "2300", "2200", "2100", "2500", "1620", "2700", "2720", "2610", "2450"]
    for site in ("jc-skelbaek", "jc-musvaage", "jc-nord"):
        for i, postcode in enumerate(codes):
            for _ in range(i + 1):
                result = route(flow, ["4", postcode, "1"], site)
                store.record(visit_from_result(result, site, "d", "in_person", 5.0, at))
    store.dispose()
    async with overview_app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        result = overview_app.screen.result
        from triage.stats import is_misdirected

        pairs = [
            (home, site)
            for home, visited in result.summary.misdirection.items()
            for site in visited
            if is_misdirected(flow.sites, home, site)
        ]
        assert len(pairs) > 8
        lines = text(overview_app, "#sup-matrix").splitlines()
        assert len(lines) == 1 + 8 + 1
        assert lines[-1] == f"  +{len(pairs) - 8} flere"
        await pilot.press("f2")
        assert text(overview_app, "#sup-matrix").splitlines()[-1] == f"  +{len(pairs) - 8} more"


async def test_the_period_dialog_starts_from_the_period_on_screen(overview_app):
    from textual.widgets import Input

    async with overview_app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        for key, first, last in (
            ("4", "2026-01-01", "2026-11-23"),
            ("2", "2026-11-23", "2026-11-23"),
        ):
            await pilot.press(key)
            await ready(pilot)
            await pilot.press("5")
            await pilot.pause()
            start, end = (
                overview_app.screen.query_one(f"#period-{w}", Input) for w in ("from", "to")
            )
            assert (start.value, end.value) == (first, last)
            await pilot.press("escape")
            await pilot.pause()


async def open_export(pilot, app):
    from textual.widgets import Input

    await ready(pilot)
    await pilot.press("e")
    await pilot.pause()
    return app.screen, app.screen.query_one("#export-path", Input)


async def choose_format(pilot, dialog, index: int) -> None:
    from textual.widgets import RadioSet

    formats = dialog.query_one(RadioSet)
    formats.focus()
    while formats.pressed_index != index:
        await pilot.press("down" if formats.pressed_index < index else "up", "enter")
        await pilot.pause()
    dialog.query_one("#export-path").focus()
    await pilot.pause()


async def test_export_name_follows_the_format_even_when_typed(overview_app, tmp_path):
    async with overview_app.run_test(size=(100, 30)) as pilot:
        dialog, path = await open_export(pilot, overview_app)
        path.value = str(tmp_path / "overblik.xlsx")
        for index, name in ((3, "overblik.json"), (1, "overblik"), (0, "overblik.xlsx")):
            await choose_format(pilot, dialog, index)
            assert path.value == str(tmp_path / name)


async def test_export_default_folder_is_the_documents_folder(flow, db, tmp_path, monkeypatch):
    monkeypatch.setattr(present, "local_now", lambda: NOW)
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (home / "Documents").mkdir(parents=True)
    # With a documents folder, and then without one (the home folder instead).
    for folder in (home / "Documents", home):
        log = DeskLog(str(db), "jc-skelbaek", "o", spool_dir=tmp_path / "spool")
        app = TriageApp(flow, site="jc-skelbaek", log=log, start="overview", open_log_after=0)
        async with app.run_test(size=(100, 30)) as pilot:
            _, path = await open_export(pilot, app)
            assert path.value == str(folder / "triage-2026-11-23-2026-11-23.xlsx")
        if folder != home:
            (home / "Documents").rmdir()


def message(dialog) -> str:
    return str(dialog.query_one("#export-message", Static).render())


async def test_export_asks_before_replacing_a_file(overview_app, tmp_path):
    from textual.widgets import ProgressBar

    async with overview_app.run_test(size=(100, 30)) as pilot:
        dialog, path = await open_export(pilot, overview_app)
        await choose_format(pilot, dialog, 3)
        target = tmp_path / "overblik.json"
        path.value = str(target)
        await pilot.press("enter")
        await ready(pilot)
        assert target.exists() and message(dialog) == f"Skrev {target}."
        assert dialog.query_one(ProgressBar).percentage == 1.0
        target.write_text(target.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        written = target.read_bytes()
        await pilot.press("enter")  # the same name again: asked, and Esc keeps the file
        await pilot.pause()
        assert type(overview_app.screen).__name__ == "ConfirmScreen"
        question = str(overview_app.screen.query_one("#confirm-question", Static).render())
        assert question == f"{target} findes allerede. Vil du erstatte den?"
        await pilot.press("escape")
        await ready(pilot)
        assert overview_app.screen is dialog and target.read_bytes() == written
        assert message(dialog).startswith(f"{target} er ikke ændret.")
        await pilot.press("enter")  # asked again; Enter replaces it
        await pilot.pause()
        await pilot.press("enter")
        await ready(pilot)
        assert overview_app.screen is dialog and message(dialog) == f"Skrev {target}."
        assert target.read_bytes() != written and target.read_bytes() == written[:-1]

        await choose_format(pilot, dialog, 1)  # a folder of CSV files: asked too
        folder = tmp_path / "csv"
        path.value = str(folder)
        await pilot.press("enter")
        await ready(pilot)
        assert (folder / "andel_og_maal.csv").exists()
        await pilot.press("enter")
        await pilot.pause()
        question = str(overview_app.screen.query_one("#confirm-question", Static).render())
        assert question == f"Mappen {folder} har allerede CSV-filer. Vil du erstatte dem?"


async def test_export_failures_say_so_with_advice_for_the_cause(overview_app, tmp_path):
    from textual.widgets import ProgressBar

    async with overview_app.run_test(size=(100, 30)) as pilot:
        dialog, path = await open_export(pilot, overview_app)
        bar = dialog.query_one(ProgressBar)
        # A file of the same name that triage did not write: refused at once, never asked
        # about ("Vil du erstatte den?" for a file that will not be replaced), not replaced.
        other = tmp_path / "budget.xlsx"
        other.write_bytes(b"someone's own workbook")
        path.value = str(other)
        await pilot.press("enter")
        await ready(pilot)
        assert overview_app.screen is dialog  # no question
        said = message(dialog)
        assert said.startswith("Eksporten mislykkedes. ") and "ikke en tidligere" in said
        assert "plads" not in said and "--" not in said
        assert other.read_bytes() == b"someone's own workbook"
        assert bar.has_class("-failed") and not bar.display  # no figure left at 90 %
        # A folder that does not exist: the bar is gone, the message says it failed.
        path.value = str(tmp_path / "mangler" / "a.xlsx")
        await pilot.press("enter")
        await ready(pilot)
        assert message(dialog).startswith("Eksporten mislykkedes. ") and not bar.display
        # A link: refused in words without command-line options.
        link = tmp_path / "link.xlsx"
        link.symlink_to(tmp_path / "elsewhere.xlsx")
        path.value = str(link)
        await pilot.press("enter")
        await ready(pilot)
        said = message(dialog)
        assert said.startswith("Eksporten mislykkedes. ") and "link" in said and "--" not in said
        assert not (tmp_path / "elsewhere.xlsx").exists()
        # Then one that works: the bar reaches 100 % and is no longer red.
        path.value = str(tmp_path / "ok.xlsx")
        await pilot.press("enter")
        await ready(pilot)
        assert bar.percentage == 1.0 and not bar.has_class("-failed") and bar.display
        await pilot.press("f2")
        assert message(dialog) == f"Wrote {tmp_path / 'ok.xlsx'}."


async def test_export_on_a_full_disk_says_free_some_space(overview_app, tmp_path):
    """A real full disk for the export's file: the file size limit (RLIMIT_FSIZE) makes the
    write fail with EFBIG, as a full disk would, while the database is only read."""
    import resource
    import signal

    from textual.widgets import ProgressBar

    async with overview_app.run_test(size=(100, 30)) as pilot:
        dialog, path = await open_export(pilot, overview_app)
        await choose_format(pilot, dialog, 3)  # JSON, written by triage itself
        target = tmp_path / "fuld.json"
        path.value = str(target)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, hard))
        try:
            await pilot.press("enter")
            await ready(pilot)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, old)
        said = message(dialog)
        assert said.startswith("Eksporten mislykkedes. Der er ikke plads på disken"), said
        assert "Frigør plads" in said and "--" not in said
        assert dialog.query_one(ProgressBar).has_class("-failed")
        assert not dialog.query_one(ProgressBar).display  # not left at 90 %


async def test_the_site_table_follows_a_resized_terminal(flow, demo_db, tmp_path, monkeypatch):
    """From 120 columns to 80 and back: the bar gives way, the names and figures stay whole."""
    monkeypatch.setattr(present, "local_now", lambda: NOW)
    log = DeskLog(str(demo_db), "jc-skelbaek", "o", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", log=log, start="overview", open_log_after=0)
    async with app.run_test(size=(120, 40)) as pilot:
        for size in ((120, 40), (80, 24), (120, 40)):
            if size != app.size:
                await pilot.resize_terminal(*size)
            await ready(pilot)
            rows = table_rows(app)
            assert rows[1][0] == "Jobcenter København Musvågevej" and rows[0][3] == "40 %"
            table = app.screen.query_one("#sup-sites", DataTable)
            assert table.max_scroll_x == 0 and app.screen.query_one("#sup-body").max_scroll_x == 0
            assert [c.get_render_width(table) for c in table.columns.values()][0] >= 32
            assert len(rows[0][5]) == (12 if size[0] == 120 else len(rows[0][5])) > 0


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_shares_over_time_fit_the_width_with_the_target(
    flow, months_db, tmp_path, monkeypatch, size
):
    from tests.test_stats import _direct_shares

    monkeypatch.setattr(present, "local_now", lambda: NOW)
    log = DeskLog(str(months_db), "jc-skelbaek", "o", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", log=log, start="overview", open_log_after=0)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        assert text(app, "#sup-shares") == ""  # one day: the table above says it all
        await pilot.press("4")  # this year: January to 23 November, a column a month
        await ready(pilot)
        lines = text(app, "#sup-shares").splitlines()
    assert lines[0].startswith("Andel pr. måned i % mod målet")
    assert all(len(line) <= size[0] - 4 for line in lines)
    months = lines[1].split()[:-1:2]  # "jun 26 jul 26 … Mål" → jun, jul, …
    assert months[-1] == "nov" and lines[1].split()[-1] == "Mål"
    shown = len(months)
    assert shown == (5 if size[0] == 80 else 10)  # as many of the latest as fit
    # November is cut at today: marked, and its days named under the table.
    assert lines[1].split()[-2] == "26°" and lines[-1].endswith("nov 26 2026-11-01 – 2026-11-23.")
    store = Store(months_db, spool_dir=tmp_path / "spool2")
    store.open()
    expected = _direct_shares(store, flow, date(2026, 1, 1), date(2026, 11, 24), "month")
    store.dispose()
    names = {"jc-skelbaek": "Skelbækgade", "jc-musvaage": "Musvågevej", "jc-nord": "Nord"}
    for line, (site, name) in zip(lines[2:-1], names.items(), strict=True):
        assert name in line
        cells = line.split()[-shown - 1 : -1]
        for cell, month in zip(cells, range(12 - shown, 12), strict=True):
            share = expected[(site, f"2026-{month:02d}")][3]
            target = {"jc-skelbaek": 0.4}.get(site, 0.3)
            high = share is not None and share > target * 1.25
            assert cell == ("–" if share is None else f"{share * 100:.0f}" + "*" * high)
        assert line.split()[-1] == f"{target * 100:.0f}"


async def test_a_period_switch_scrolls_back_to_the_site_table(overview_app):
    """At 80×24 the body scrolls; a new period (keys 1–5) starts at its top again, so the
    site table is not left scrolled away."""
    from textual.containers import VerticalScroll

    async with overview_app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await ready(pilot)
        body = overview_app.screen.query_one("#sup-body", VerticalScroll)
        await pilot.press("pagedown")
        await pilot.pause()
        assert body.scroll_y > 0
        await pilot.press("2")
        await ready(pilot)
        assert body.scroll_y == 0


async def test_the_period_dialog_labels_its_fields_and_names_the_bad_one(overview_app):
    from textual.widgets import Input

    async with overview_app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("5")
        await pilot.pause()
        dialog = overview_app.screen
        labels = [text(overview_app, f"#period-{w}-label") for w in ("from", "to")]
        assert labels == ["Første dag", "Sidste dag"]
        start, last = (dialog.query_one(f"#period-{w}", Input) for w in ("from", "to"))
        start.value, last.value = "2026-10-01", "2026-13-01"
        last.focus()
        await pilot.press("enter")
        await pilot.pause()
        said = str(dialog.query_one("#period-message").render())
        assert said == "Sidste dag kan ikke læses ('2026-13-01'). Skriv datoen som 2026-01-31."
        start.value, last.value = "1-10-2026", "2026-11-01"
        await pilot.press("enter")
        await pilot.pause()
        said = str(dialog.query_one("#period-message").render())
        assert said.startswith("Første dag kan ikke læses ('1-10-2026')")
        assert dialog.focused is start  # the cursor goes to the field to correct


async def test_an_empty_period_says_no_visits_once_without_share_or_chart(overview_app):
    from textual.widgets import Input

    async with overview_app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("5")
        await pilot.pause()
        start, last = (overview_app.screen.query_one(f"#period-{w}", Input) for w in ("from", "to"))
        start.value, last.value = "2026-12-01", "2026-12-31"
        last.focus()
        await pilot.press("enter")
        await ready(pilot)
        said = [text(overview_app, f"#sup-{part}") for part in ("summary", "heat", "trend")]
        assert said[0].startswith("Ingen besøg i perioden") and said[1:] == ["", ""]
        assert not overview_app.screen.query_one("#sup-trend-label", Static).display
        assert [row[2] for row in table_rows(overview_app)] == ["–"] * 3  # no share, not 0 %


async def test_cut_weeks_are_marked_and_their_days_named(overview_app):
    async with overview_app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")  # 2026-10-25 (a Sunday) to 2026-11-23 (a Monday)
        await ready(pilot)
        shares = text(overview_app, "#sup-shares")
        assert "u43°" in shares and "u48°" in shares and "u45 " in shares
        assert shares.splitlines()[-1] == (
            "° delvis, kun disse dage er talt med: u43 2026-10-25; u48 2026-11-23."
        )


# --- polish16: a figure and its "%" on one line ----------------------------------------------


@pytest.mark.parametrize(
    ("size", "lang"),
    [((80, 24), "da"), ((100, 30), "da"), ((100, 30), "en"), ((120, 40), "en")],
    ids=str,
)
async def test_a_figure_is_never_parted_from_its_percent_sign(overview_app, size, lang):
    """ "målet er 40" at the end of a line and "%." on the next (the alert at 80 columns; the
    totals line, wherever its wrap falls): Textual breaks at any space, so the overview wraps
    these lines itself, each figure with its "%"; every word is still there, in order."""
    overview_app.lang = lang
    async with overview_app.run_test(size=size) as pilot:
        await ready(pilot)
        for period in ("1", "3"):  # today (the alerts), then 30 days (the totals line)
            await pilot.press(period)
            await ready(pilot)
            lines = [s.text.rstrip() for s in overview_app.screen._compositor.render_strips()]
            for line, below in zip(lines, lines[1:], strict=False):
                assert not (line[-1:].isdigit() and below.lstrip().startswith("%")), lines
            words = {"da": "af dagens besøg", "en": "of today's visits"}[lang]
            alerts = text(overview_app, "#sup-alert")
            assert words in " ".join(alerts.split())
            assert all(len(line) <= size[0] - 2 for line in alerts.splitlines())


def parted(lines: list[str]) -> bool:
    """A line ends in a figure and the next begins with its "%"."""
    return any(
        a.rstrip()[-1:].isdigit() and b.lstrip().startswith("%")
        for a, b in zip(lines, lines[1:], strict=False)
    )


def test_whole_percent_keeps_each_figure_with_its_percent_at_every_width():
    """Where Textual's own wrap parts a figure from its "%" (some widths from 20 to 100
    columns), whole_percent's does not, and keeps every word, in order, within the width."""
    from textual.content import Content

    from screens.supervisor import whole_percent

    line = (
        "⚠ Jobcentre Copenhagen Musvågevej: 60 % of today's visits to the jobcentres (1,234); "
        "the target is 30 %. Overall imbalance 12 %, change -10 % (2026-10-01 – 2026-10-31)."
    )
    widths = range(20, 101)
    assert any(parted([c.plain for c in Content(line).wrap(width)]) for width in widths)
    for width in widths:
        lines = whole_percent(width, [line]).splitlines()
        assert not parted(lines)
        assert all(len(x) <= width for x in lines) and " ".join(lines) == line
