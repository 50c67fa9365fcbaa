"""The supervisor's overview, driven through Pilot on a real SQLite file."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
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
        assert "Ingen besøg i perioden." in text(app, "#sup-heat")
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
        notices = [n.message for n in overview_app._notifications]
        assert any("Tallene kunne ikke hentes" in n and "not a database" in n for n in notices), (
            notices
        )
        assert type(overview_app.screen).__name__ == "SupervisorScreen"
        assert table_rows(overview_app)[0][1] == "12"  # the figures shown stay


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
        await pilot.press("enter")
        await ready(pilot)
        assert "Periode (2026-10-01 – 2026-11-22)" in text(overview_app, "#sup-title")


async def test_an_overview_on_a_newer_database_says_so_in_words(flow, db, tmp_path, monkeypatch):
    """Opening the store in the overview's worker raises the store's own error (a database
    from a newer triage): the notice and the title say it as a sentence, in the UI language,
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
        title = text(app, "#sup-title")
        assert (
            title.startswith("Tallene kunne ikke hentes: Databasen er fra en nyere")
            and said in title
        )
        assert "db_newer" not in title and "{" not in title
        assert app.screen.query_one("#sup-sites", DataTable).loading is False
        (notice,) = [n.message for n in app._notifications]
        assert notice == title
        await pilot.press("f2")  # the title follows the language, still saying why
        assert text(app, "#sup-title").startswith("The figures could not be fetched: The database")


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
