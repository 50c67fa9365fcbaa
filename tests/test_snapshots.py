"""What the receptionist sees, pixel for pixel (SVG), at 80×24 and 120×40.

The clock is pinned to Monday 23 November 2026, 10:30 in Copenhagen, so the top bar and the
card's "open now" never change between runs. Review a changed picture in snapshot_report.html
before running `pytest --snapshot-update`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from triage import paths, present
from triage.app import TriageApp
from triage.desklog import DeskLog
from triage.model import LOCAL_ZONE

MONDAY_MORNING = datetime(2026, 11, 23, 10, 30, tzinfo=LOCAL_ZONE)
SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def desk(flow, tmp_path, monkeypatch):
    monkeypatch.setattr(present, "local_now", lambda: MONDAY_MORNING)
    log = DeskLog(
        str(tmp_path / "snap.db"), "jc-skelbaek", "skranke-1", spool_dir=tmp_path / "spool"
    )
    return TriageApp(flow, site="jc-skelbaek", desk="skranke-1", log=log, open_log_after=0)


def steps(*keys: str):
    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()  # today's counts are in the top bar
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_question(snap_compare, desk, size):
    assert snap_compare(desk, terminal_size=size, run_before=steps())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_postcode_with_error(snap_compare, desk, size):
    assert snap_compare(desk, terminal_size=size, run_before=steps("4", "2", "4", "enter"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_outcome_with_two_stops(snap_compare, desk, size):
    assert snap_compare(
        desk, terminal_size=size, run_before=steps("2", "1", "2", "4", "0", "0", "enter")
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_search(snap_compare, desk, size):
    assert snap_compare(desk, terminal_size=size, run_before=steps("slash", "s", "y", "g"))


def test_outcome_in_high_contrast(snap_compare, flow, tmp_path, monkeypatch):
    monkeypatch.setattr(present, "local_now", lambda: MONDAY_MORNING)
    log = DeskLog(
        str(tmp_path / "snap.db"), "jc-skelbaek", "skranke-1", spool_dir=tmp_path / "spool"
    )
    app = TriageApp(
        flow,
        site="jc-skelbaek",
        desk="skranke-1",
        log=log,
        theme="triage-hoj-kontrast",
        open_log_after=0,
    )
    assert snap_compare(
        app, terminal_size=(80, 24), run_before=steps("7", "2", "2", "0", "0", "enter", "3")
    )


@pytest.fixture
def overview_desk(flow, tmp_path, monkeypatch):
    from datetime import timedelta

    from triage.db.store import Store
    from triage.visits import visit_from_result
    from triage.walk import route

    monkeypatch.setattr(present, "local_now", lambda: MONDAY_MORNING)
    store = Store(tmp_path / "over.db", spool_dir=tmp_path / "spool")
    store.open()
    at = MONDAY_MORNING.astimezone(UTC) - timedelta(minutes=20)
    for site, n, answers in (
        ("jc-skelbaek", 12, ["2", "2"]),
        ("jc-musvaage", 4, ["4", "2400", "1"]),
        ("jc-nord", 4, ["4", "2400", "1"]),
    ):
        for i in range(n):
            store.record(
                visit_from_result(
                    route(flow, answers, site),
                    site,
                    "d",
                    "in_person",
                    5.0,
                    at - timedelta(hours=i % 2),
                )
            )
    store.dispose()
    log = DeskLog(str(tmp_path / "over.db"), "jc-skelbaek", "o", spool_dir=tmp_path / "spool")
    return TriageApp(flow, site="jc-skelbaek", log=log, start="overview", open_log_after=0)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_supervisor_overview(snap_compare, overview_desk, size):
    assert snap_compare(overview_desk, terminal_size=size, run_before=steps())


@pytest.mark.parametrize("size", [(80, 24), (100, 30)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_supervisor_overview_30_days_chart(snap_compare, overview_desk, size):
    """The 30 days' chart (PgDn to it): the day labels fit beside the gaps of closed days."""
    assert snap_compare(overview_desk, terminal_size=size, run_before=steps("3", "pagedown"))


def test_export_dialog(snap_compare, overview_desk, monkeypatch):
    monkeypatch.setenv("HOME", "/home/skranke")  # the suggested file name shows the home folder
    assert snap_compare(overview_desk, terminal_size=(80, 24), run_before=steps("e"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_overview_asks_before_it_quits(snap_compare, overview_desk, size):
    """Esc on an overview started by itself (`triage summary --tui`): asked, not ignored."""
    assert snap_compare(overview_desk, terminal_size=size, run_before=steps("escape"))


def test_urgent_outcome_closed_now(snap_compare, flow, tmp_path, monkeypatch):
    """Monday evening, no fixed address: when it opens, and who helps tonight."""
    evening = datetime(2026, 11, 23, 16, 30, tzinfo=LOCAL_ZONE)
    monkeypatch.setattr(present, "local_now", lambda: evening)
    log = DeskLog(
        str(tmp_path / "snap.db"), "jc-skelbaek", "skranke-1", spool_dir=tmp_path / "spool"
    )
    app = TriageApp(flow, site="jc-skelbaek", desk="skranke-1", log=log, open_log_after=0)
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps("7", "minus", "0", "1"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_supervisor_overview_shares_over_time(snap_compare, overview_desk, size):
    """This year's shares per month against target (scrolled to the end of the overview)."""
    assert snap_compare(overview_desk, terminal_size=size, run_before=steps("4", "end"))


# --- kiosk15: the citizens' check-in screen, at a touch screen's size ------------------------

KIOSK_SIZE = (120, 40)


@pytest.fixture
def kiosk(flow, tmp_path, monkeypatch):
    from triage.app import KioskApp
    from triage.load import load

    monkeypatch.setattr(present, "local_now", lambda: MONDAY_MORNING)
    queues = load(paths.default_data_dir(), check_cases=False, queues=True).queues
    log = DeskLog(str(tmp_path / "snap.db"), "jc-skelbaek", "kiosk", spool_dir=tmp_path / "spool")
    return KioskApp(flow, "jc-skelbaek", queues, log)


def test_kiosk_question(snap_compare, kiosk):
    assert snap_compare(kiosk, terminal_size=KIOSK_SIZE, run_before=steps())


def test_kiosk_postcode_pad(snap_compare, kiosk):
    assert snap_compare(kiosk, terminal_size=KIOSK_SIZE, run_before=steps("4", "2", "4"))


def test_kiosk_ticket(snap_compare, kiosk):
    """Job, postcode 1717, job search: handled here, the first number in queue A."""
    keys = ("4", "1", "7", "1", "7", "enter", "1")
    assert snap_compare(kiosk, terminal_size=KIOSK_SIZE, run_before=kiosk_steps(*keys))


def test_kiosk_referral(snap_compare, kiosk):
    """Sick pay: Ydelsesservice, with its address and today's hours; in English."""
    keys = ("f2", "1", "3")
    assert snap_compare(kiosk, terminal_size=KIOSK_SIZE, run_before=kiosk_steps(*keys))


def kiosk_steps(*keys: str):
    """The keys, then until the ticket (or the referral) is written and shown."""

    async def run_before(pilot) -> None:
        await steps(*keys)(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()

    return run_before
