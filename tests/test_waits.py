"""Wait and service time (triage.waits) on real SQLite and real PostgreSQL: every figure
against counting the ticket rows directly, the filters, who waits now, an empty period; and
the overview (Pilot), the committee's report and the exports showing them."""

from __future__ import annotations

import json
import random
import re
import statistics
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from triage.db.store import Store
from triage.model import LOCAL_ZONE
from triage.queue import Tickets
from triage.stats import Filters
from triage.visits import visit_from_result
from triage.waits import minutes, percentile, wait_times, waiting_now
from triage.walk import route

MONDAY = date(2026, 11, 23)
SITES = ("jc-skelbaek", "jc-musvaage", "ys")
ERRANDS = ("meeting", "job_search", "benefit_payment")


def local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=LOCAL_ZONE)


def serve(
    tickets: Tickets,
    site: str,
    issued: datetime,
    wait_s: int,
    service_s: int | None,
    errand: str = "meeting",
    queue: str = "A",
) -> None:
    """One citizen: a ticket issued, called after `wait_s`, then served for `service_s` (None:
    recalled and marked as not come)."""
    tickets.issue(site, queue, errand, issued)
    called = tickets.call_next(site, "d1", now=issued + timedelta(seconds=wait_s))
    assert called is not None
    done = issued + timedelta(seconds=wait_s + (service_s or 60))
    if service_s is None:
        tickets.recall(called.id, "d1", done - timedelta(seconds=30))
        tickets.no_show(called.id, "d1", done)
    else:
        tickets.finish(called.id, "d1", done)


def fill(tickets: Tickets, seed: int = 7) -> None:
    """Three weekdays at three sites, a few hours each: waits and services of many sizes (a
    long tail), some no-shows; then one ticket left at a desk and two still waiting (not done:
    in no figure of the period)."""
    rng = random.Random(seed)
    for day in (MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=3)):
        for site in SITES:
            for hour in (9, 10, 13):
                for i in range(rng.randint(1, 4)):
                    issued = local(day, hour, 5 * i, rng.randint(0, 59))
                    wait = int(rng.expovariate(1 / 600))
                    service = None if rng.random() < 0.15 else 60 + int(rng.expovariate(1 / 400))
                    serve(tickets, site, issued, wait, service, rng.choice(ERRANDS))
    last = MONDAY + timedelta(days=3)
    tickets.issue("jc-skelbaek", "A", "meeting", local(last, 15, 0))
    tickets.call_next("jc-skelbaek", "d2", now=local(last, 15, 3))  # at a desk, not done
    tickets.issue("jc-skelbaek", "A", "meeting", local(last, 15, 10))
    tickets.issue("ys", "Y", "benefit_payment", local(last, 15, 12))


@pytest.fixture
def tickets(store):
    found = Tickets(store)
    yield found
    found.close()


def ticket_rows(store: Store) -> list[tuple]:
    """Every ticket as the table holds it, read with plain SQL."""
    with store.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT site_id, local_weekday, local_hour, state, wait_s, service_s, "
                    "errand, local_date FROM visit_ticket"
                )
            )
        ]


def p90(values: list[int]) -> float:
    """The 90th percentile by the standard library (inclusive: Excel's PERCENTILE.INC)."""
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def expected(rows: list[tuple], key) -> dict:
    """Figures counted from the ticket rows directly: served and no-shows, and the median and
    90th percentile of their waits (both) and services (served) by the standard library."""
    cells: dict = {}
    for row in rows:
        site, weekday, hour, state, wait_s, service_s = row[:6]
        if state not in ("served", "no_show"):
            continue
        cell = cells.setdefault(key(site, weekday, hour), {"waits": [], "services": []})
        cell["waits"].append(wait_s)
        if state == "served":
            cell["services"].append(service_s)
    return {
        k: (
            len(c["services"]),
            len(c["waits"]) - len(c["services"]),
            statistics.median(c["waits"]),
            p90(c["waits"]),
            statistics.median(c["services"]) if c["services"] else None,
            p90(c["services"]) if c["services"] else None,
        )
        for k, c in cells.items()
    }


def shown(figures) -> tuple:
    return (
        figures.served,
        figures.no_shows,
        figures.wait_median_s,
        figures.wait_p90_s,
        figures.service_median_s,
        figures.service_p90_s,
    )


def same(found: dict, wanted: dict) -> None:
    assert set(found) == set(wanted)
    for key, figures in found.items():
        assert shown(figures) == pytest.approx(wanted[key]), key


# --- the figures ---------------------------------------------------------------------------------


def test_percentile_interpolates_between_the_nearest_ranks():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([1, 2, 3, 4], 0.9) == pytest.approx(3.7)
    assert percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 1000], 0.9) == 100
    values = sorted(random.Random(3).choices(range(5000), k=201))
    assert percentile(values, 0.5) == statistics.median(values)
    assert percentile(values, 0.9) == pytest.approx(p90(values))


def test_every_figure_against_counting_the_tickets(store, tickets):
    fill(tickets)
    rows = ticket_rows(store)
    assert {r[3] for r in rows} == {"served", "no_show", "called", "waiting"}
    found = wait_times(store, MONDAY, MONDAY + timedelta(days=7))
    same(found.by_slot, expected(rows, lambda s, w, h: (s, w, h)))
    same(found.by_hour, expected(rows, lambda s, w, h: (s, h)))
    same(found.by_site, expected(rows, lambda s, w, h: s))
    assert found.overall is not None
    assert shown(found.overall) == pytest.approx(expected(rows, lambda s, w, h: ())[()])
    # Weekday and hour are local: 09 in Copenhagen, Monday = 0, as the ticket was issued.
    assert ("jc-skelbaek", 0, 9) in found.by_slot and ("jc-skelbaek", 3, 13) in found.by_slot
    assert not found.empty


def test_the_period_counts_the_days_it_holds(store, tickets):
    fill(tickets)
    rows = [r for r in ticket_rows(store) if str(r[7])[:10] == str(MONDAY + timedelta(days=1))]
    found = wait_times(store, MONDAY + timedelta(days=1), MONDAY + timedelta(days=2))
    same(found.by_site, expected(rows, lambda s, w, h: s))
    assert {w for _, w, _ in found.by_slot} == {1}


def test_postgresql_percentile_cont_gives_the_same_figures(pg_url, tmp_path):
    """One definition on both engines: PostgreSQL's own percentile_cont agrees with ours."""
    opened = Store(pg_url, spool_dir=tmp_path / "spool")
    opened.open()
    found_tickets = Tickets(opened)
    try:
        fill(found_tickets, seed=11)
        with opened.engine.connect() as conn:
            by_sql = {
                site: (float(a), float(b), float(c), float(d))
                for site, a, b, c, d in conn.execute(
                    text(
                        "SELECT site_id,"
                        " percentile_cont(0.5) WITHIN GROUP (ORDER BY wait_s),"
                        " percentile_cont(0.9) WITHIN GROUP (ORDER BY wait_s),"
                        " percentile_cont(0.5) WITHIN GROUP (ORDER BY service_s),"
                        " percentile_cont(0.9) WITHIN GROUP (ORDER BY service_s)"
                        " FROM visit_ticket WHERE state IN ('served', 'no_show')"
                        " GROUP BY site_id"
                    )
                )
            }
        found = wait_times(opened, MONDAY, MONDAY + timedelta(days=7)).by_site
        # percentile_cont skips the no-shows' NULL service: served only, as ours.
        assert {s: shown(f)[2:] for s, f in found.items()} == pytest.approx(by_sql)
    finally:
        found_tickets.close()
        opened.dispose()


def test_filters_choose_sites_and_errands_and_leave_out_phone(store, tickets):
    fill(tickets)
    rows = ticket_rows(store)
    week = (MONDAY, MONDAY + timedelta(days=7))
    only_ys = wait_times(store, *week, Filters(sites=("ys",)))
    assert set(only_ys.by_site) == {"ys"}
    same(only_ys.by_slot, expected([r for r in rows if r[0] == "ys"], lambda s, w, h: (s, w, h)))
    errands = ("meeting", "job_search")
    by_errand = wait_times(store, *week, Filters(outcomes=errands))
    same(by_errand.by_site, expected([r for r in rows if r[6] in errands], lambda s, w, h: s))
    # Tickets are citizens in person: by phone there are none; with in-person, all of them.
    assert wait_times(store, *week, Filters(channels=("phone",))).empty
    in_person = wait_times(store, *week, Filters(channels=("in_person", "phone")))
    same(in_person.by_site, expected(rows, lambda s, w, h: s))
    # A destination filter does not apply to tickets (they have none).
    every = wait_times(store, *week, Filters(destinations=("ys",)))
    same(every.by_site, expected(rows, lambda s, w, h: s))


def test_a_demo_database_s_tickets_are_left_out_with_demo(store, tickets, flow):
    fill(tickets)
    week = (MONDAY, MONDAY + timedelta(days=7))
    assert not wait_times(store, *week, Filters(include_demo=False)).empty  # a real log
    visit = visit_from_result(
        route(flow, ["2", "2"], "jc-nord"), "jc-nord", "d", "in_person", 5.0, local(MONDAY, 9)
    )
    store.record({**visit, "demo": True})
    assert store.holds_demo()
    assert wait_times(store, *week, Filters(include_demo=False)).empty
    assert not wait_times(store, *week).empty


def test_an_empty_period_says_so(store, tickets):
    fill(tickets)
    found = wait_times(store, MONDAY - timedelta(days=30), MONDAY)
    assert found.empty and found.overall is None
    assert found.by_site == found.by_hour == found.by_slot == {}


def test_waiting_now_per_site(store, tickets):
    fill(tickets)
    now = local(MONDAY + timedelta(days=3), 15, 20)
    found = waiting_now(store, now=now)
    assert set(found) == {"jc-skelbaek", "ys"}
    assert (found["jc-skelbaek"].waiting, found["jc-skelbaek"].longest_s) == (1, 600)
    assert found["jc-skelbaek"].desks == 1
    assert (found["ys"].waiting, found["ys"].longest_s, found["ys"].desks) == (1, 480, 0)
    # Counted against the rows: the tickets waiting today, per site.
    today = [r for r in ticket_rows(store) if str(r[7])[:10] == str(now.date())]
    assert {s: sum(1 for r in today if r[0] == s and r[3] == "waiting") for s in found} == {
        s: w.waiting for s, w in found.items()
    }
    assert waiting_now(store, ["ys"], now=now).keys() == {"ys"}
    assert waiting_now(store, now=now + timedelta(days=1)) == {}  # a new day: nobody yet


def test_minutes_for_people():
    assert minutes(None) == "–"
    assert minutes(30) == "0,5" and minutes(30, "en") == "0.5"
    assert minutes(750) == "13" and minutes(27) == "0,5"  # halves up, as people round
    assert minutes(492) == "8,2"
    assert minutes(1860) == "31"


def test_local_hours_follow_copenhagen_not_utc(store, tickets):
    """A ticket taken 08:59 UTC in winter is 09:59 in Copenhagen: hour 9."""
    serve(tickets, "jc-nord", datetime(2026, 11, 25, 8, 59, tzinfo=UTC), 120, 300)
    found = wait_times(store, MONDAY, MONDAY + timedelta(days=7))
    assert list(found.by_slot) == [("jc-nord", 2, 9)]
    assert shown(found.by_slot["jc-nord", 2, 9]) == (1, 0, 120, 120, 300, 300)


# --- the overview ---------------------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 10, 30, tzinfo=LOCAL_ZONE)  # a Monday


@pytest.fixture
def queue_db(tmp_path, flow):
    """Today at 10:30: visits at the jobcentres, and tickets: served and no-shows at two sites
    since 08:00, one citizen at a desk and two waiting (the first since 10:16)."""
    path = tmp_path / "queue.db"
    opened = Store(path, spool_dir=tmp_path / "spool")
    opened.open()
    for site in ("jc-skelbaek", "jc-musvaage"):
        visit = visit_from_result(
            route(flow, ["2", "2"], site), site, "d", "in_person", 5.0, local(MONDAY, 9)
        )
        opened.record(visit)
    found = Tickets(opened)
    for i, (wait, service) in enumerate([(300, 600), (900, 300), (1500, None), (600, 420)]):
        serve(found, "jc-skelbaek", local(MONDAY, 8, 10 * i), wait, service)
    for i, (wait, service) in enumerate([(60, 240), (120, 360)]):
        serve(found, "jc-musvaage", local(MONDAY, 9, 10 * i), wait, service)
    found.issue("jc-skelbaek", "A", "meeting", local(MONDAY, 10, 10))
    found.call_next("jc-skelbaek", "d3", now=local(MONDAY, 10, 12))
    found.issue("jc-skelbaek", "A", "meeting", local(MONDAY, 10, 16))
    found.issue("jc-skelbaek", "A", "meeting", local(MONDAY, 10, 25))
    found.close()
    opened.dispose()
    return path


def overview_app(flow, db, tmp_path, monkeypatch, lang: str = "da"):
    from triage import present
    from triage.app import TriageApp
    from triage.desklog import DeskLog

    monkeypatch.setattr(present, "local_now", lambda: NOW)
    log = DeskLog(str(db), "jc-skelbaek", "overblik", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", log=log, start="overview", open_log_after=0)
    app.lang = lang
    return app


async def ready(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def queue_text(app) -> str:
    from textual.widgets import Static

    widget = app.screen.query_one("#sup-queue", Static)
    return str(widget.render()) if widget.display else ""


def row_of(said: str, name: str) -> list[str]:
    """The cells after a site's name in the queue's table (name as shown, maybe cut)."""
    line = next(line for line in said.splitlines() if line.startswith(name))
    return re.findall(r"\S+ / \S+|\S+", line[len(name) :])


def expected_cells(db, site: str, lang: str = "da") -> list[str]:
    """The table's figures for a site today, counted from its ticket rows directly."""
    opened = Store(db, spool_dir=db.parent / "spool")
    rows = [r for r in ticket_rows(opened) if r[0] == site]
    opened.dispose()
    waits = [r[4] for r in rows if r[3] in ("served", "no_show")]
    services = [r[5] for r in rows if r[3] == "served"]
    return [
        f"{minutes(statistics.median(waits), lang)} / {minutes(p90(waits), lang)}",
        f"{minutes(statistics.median(services), lang)} / {minutes(p90(services), lang)}",
        str(len(services)),
        str(len(waits) - len(services)),
    ]


async def test_the_overview_shows_who_waits_and_the_wait_and_service_times(
    flow, queue_db, tmp_path, monkeypatch
):
    app = overview_app(flow, queue_db, tmp_path, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        said = queue_text(app)
        assert said.startswith("Kø: ventetid og betjening i minutter (median / 90 %)")
        # Skelbækgade: two wait now, the first since 10:16 (14 minutes at 10:30).
        cells = row_of(said, "Jobcenter Skelbækgade")
        assert cells == ["2", "14", *expected_cells(queue_db, "jc-skelbaek")]
        musvaage = next(line for line in said.splitlines() if "Musvågevej" in line)
        assert musvaage.startswith("…")  # too long: its beginning goes, not its end
        assert row_of(said, musvaage[: musvaage.index("Musvågevej") + 10]) == [
            "0",
            "–",
            *expected_cells(queue_db, "jc-musvaage"),
        ]
        assert "Ventetid pr. time på dagen" in said
        # 80×24: the table fits the body (the last line, the note, wraps as text).
        width = app.screen.query_one("#sup-body").content_region.width
        assert all(len(line) <= width for line in said.splitlines()[:-1]), said
        assert app.screen.query_one("#sup-body").max_scroll_x == 0

        # Live: a citizen takes a ticket at Musvågevej; the next read of who waits shows it.
        opened = Store(queue_db, spool_dir=tmp_path / "spool")
        more = Tickets(opened)
        more.issue("jc-musvaage", "A", "meeting", local(MONDAY, 10, 27))
        more.close()
        opened.dispose()
        app.screen.refresh_waiting()
        await ready(pilot)
        musvaage = next(line for line in queue_text(app).splitlines() if "Musvågevej" in line)
        assert row_of(queue_text(app), musvaage[: musvaage.index("Musvågevej") + 10])[:2] == [
            "1",
            "3,0",
        ]

        # Last week: no ticket done then; who waits now stays.
        await pilot.press("6")
        await ready(pilot)
        said = queue_text(app)
        assert "Ingen numre afsluttet i perioden" in said
        assert row_of(said, "Jobcenter Skelbækgade") == ["2", "14", "–", "–", "0", "0"]
        assert "Ventetid pr. time" not in said


async def test_the_overview_in_english(flow, queue_db, tmp_path, monkeypatch):
    app = overview_app(flow, queue_db, tmp_path, monkeypatch, lang="en")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        said = queue_text(app)
        assert said.startswith("Queue: wait and service in minutes (median / 90 %)")
        cells = row_of(said, "Jobcentre Skelbækgade")
        assert cells == ["2", "14", *expected_cells(queue_db, "jc-skelbaek", "en")]
        assert "Wait per hour of the day" in said


async def test_no_queue_section_without_tickets(flow, tmp_path, monkeypatch):
    path = tmp_path / "visits.db"
    opened = Store(path, spool_dir=tmp_path / "spool")
    opened.open()
    visit = visit_from_result(
        route(flow, ["2", "2"], "jc-nord"), "jc-nord", "d", "in_person", 5.0, local(MONDAY, 9)
    )
    opened.record(visit)
    opened.dispose()
    app = overview_app(flow, path, tmp_path, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert app.screen.queue is not None and not app.screen.queue.used
        assert queue_text(app) == ""


# --- the exports ----------------------------------------------------------------------------------

WEEK = (MONDAY, MONDAY + timedelta(days=7))


def exported_rows(store: Store) -> dict:
    """The waits table as expected from the ticket rows: per (site, weekday name, hour) the
    tickets, served, no-shows and the four times in minutes (two decimals)."""
    from triage.i18n import t

    def in_minutes(seconds):
        return None if seconds is None else round(seconds / 60, 2)

    wanted = expected(ticket_rows(store), lambda s, w, h: (s, t(f"weekday_{w}", "da"), h))
    return {
        key: [served + no_shows, served, no_shows, *map(in_minutes, times)]
        for key, (served, no_shows, *times) in wanted.items()
    }


def test_the_export_has_wait_and_service_per_site_weekday_and_hour(store, tickets, flow, tmp_path):
    import csv
    import json

    import jsonschema
    import openpyxl

    from triage import export, paths

    fill(tickets)
    built = export.build(store, flow.sites, export.Options(*WEEK))
    table = next(x for x in built.tables if x.key == "waits")
    wanted = exported_rows(store)
    found = {(r[0], r[2], r[3]): r[4:] for r in table.rows}
    assert found.keys() == wanted.keys()
    for key, row in found.items():  # two decimals: a figure on a .005 may round either way
        assert row == pytest.approx(wanted[key], abs=0.0101), key

    # Written and read back: JSON (valid by the published schema), CSV and Excel.
    (tmp_path / "out").mkdir()
    document = json.loads(export.write(built, "json", tmp_path / "out" / "x.json")[0].read_text())
    schema = json.loads((paths.default_data_dir() / "export.schema.json").read_text())
    jsonschema.validate(document, schema)
    waits = document["tables"]["waits"]
    assert [c["key"] for c in waits["columns"]][4:] == [
        "tickets",
        "served",
        "no_shows",
        "wait_median_min",
        "wait_ninetieth_min",
        "service_median_min",
        "service_ninetieth_min",
    ]
    assert {(r[0], r[2], r[3]): r[4:] for r in waits["rows"]} == found

    files = export.write(built, "csv", tmp_path / "csv", excel_da=True)
    path = next(p for p in files if p.name == "ventetid_og_betjening.csv")
    lines = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert lines[0][4:8] == ["Numre afsluttet", "Betjent", "Udeblevet", "Ventetid median (min.)"]
    assert len(lines) == len(found) + 1
    first = lines[1]
    row = found[(first[0], first[2], int(first[3]))]
    assert first[7] == ("" if row[3] is None else f"{row[3]:g}".replace(".", ","))

    book = openpyxl.load_workbook(export.write(built, "xlsx", tmp_path / "out" / "x.xlsx")[0])
    sheet = book["Ventetid og betjening"]
    cells = list(sheet.iter_rows(values_only=True))
    assert {(r[0], r[2], r[3]): list(r[4:]) for r in cells[1:]} == found


def test_the_export_leaves_small_counts_of_tickets_out(store, tickets, flow):
    from triage import export

    fill(tickets)
    k = 3
    built = export.build(store, flow.sites, export.Options(*WEEK, min_count=k))
    table = next(x for x in built.tables if x.key == "waits")
    wanted = exported_rows(store)
    assert any(0 < w[0] < k for w in wanted.values())  # the fixture has small cells
    for site, _, weekday, hour, tickets_done, served, no_shows, *times in table.rows:
        full = wanted[(site, weekday, hour)]
        if full[0] < k:  # too few tickets: nothing of the row is shown
            assert [tickets_done, served, no_shows, *times] == [None] * 7
            continue
        assert tickets_done == full[0]
        small = any(0 < n < k for n in full[1:3])
        assert (served, no_shows) == ((None, None) if small else tuple(full[1:3]))
        assert times[:2] == pytest.approx(full[3:5], abs=0.0101)  # over enough tickets
        if 0 < full[1] < k:
            assert times[2:] == [None, None]
        else:
            assert times[2:] == pytest.approx(full[5:], abs=0.0101)
    assert built.suppressed > 0


# --- the committee's report -----------------------------------------------------------------------


def test_the_committee_report_has_the_wait_and_service_tables(store, tickets, flow, monkeypatch):
    from tests.test_committee import Page
    from triage import committee
    from triage.i18n import t

    monkeypatch.setattr(committee, "LONG_WAIT_TICKETS", 3)  # the fixture's hours are small
    fill(tickets)
    made = datetime(2026, 12, 1, 9, 0, tzinfo=LOCAL_ZONE)
    report = committee.build(store, flow.sites, date(2026, 11, 1), made)
    page = Page(committee.render(report, flow.sites))
    rows = ticket_rows(store)
    per_site = expected(rows, lambda s, w, h: s)
    table = next(x for x in page.tables if x[0][0] == "Sted" and "Ventetid, median" in x[0])
    assert table[0] == [
        "Sted",
        "Betjent",
        "Udeblevet",
        "Ventetid, median",
        "Ventetid, 90 %",
        "Betjening, median",
        "Betjening, 90 %",
    ]

    def cells(served, no_shows, *times) -> list[str]:
        return [str(served), str(no_shows), *(minutes(x) for x in times)]

    assert table[1:-1] == [
        [flow.sites.name_of(site, "da"), *cells(*per_site[site])] for site in sorted(per_site)
    ]
    assert table[-1] == ["Alle steder", *cells(*expected(rows, lambda s, w, h: ())[()])]
    # The hours with the longest waits: each with enough tickets, longest 90 % first.
    hours = next(x for x in page.tables if x[0][:3] == ["Sted", "Ugedag og time", "Numre"])
    by_slot = expected(rows, lambda s, w, h: (s, w, h))
    enough = [k for k, v in by_slot.items() if v[0] + v[1] >= committee.LONG_WAIT_TICKETS]
    top = min(enough, key=lambda k: (-by_slot[k][3], k))
    site, weekday, hour = top
    assert hours[1] == [
        flow.sites.name_of(site, "da"),
        f"{t(f'weekday_{weekday}', 'da')} {hour:02d}-{hour + 1:02d}",
        str(sum(by_slot[top][:2])),
        *map(minutes, by_slot[top][2:4]),
    ]
    assert len(hours) - 1 == min(len(enough), committee.LONG_WAITS_SHOWN)


def test_a_month_without_tickets_says_so_and_a_log_without_any_shows_no_queue(store, tickets, flow):
    from tests.test_committee import Page
    from triage import committee

    made = datetime(2026, 12, 1, 9, 0, tzinfo=LOCAL_ZONE)
    html = committee.render(committee.build(store, flow.sites, date(2026, 11, 1), made), flow.sites)
    assert "Ventetid og betjening i køen" not in html  # no queue at all: nothing about it
    fill(tickets)
    october = committee.build(store, flow.sites, date(2026, 10, 1), made)
    page = Page(committee.render(october, flow.sites))
    assert "Ingen numre fra køen blev afsluttet i oktober 2026." in page.paragraphs
    english = Page(committee.render(october, flow.sites, "en"))
    assert "No ticket from the queue was done in October 2026." in english.paragraphs


# --- triage summary -------------------------------------------------------------------------------


def test_summary_prints_a_short_block_of_wait_and_service(tmp_path, flow):
    from tests.test_cli import run

    path = tmp_path / "queue.db"
    opened = Store(path, spool_dir=tmp_path / "spool")
    opened.open()
    found = Tickets(opened)
    fill(found)
    found.close()
    per_site = expected(ticket_rows(opened), lambda s, w, h: s)
    opened.dispose()
    week = ("--from", "2026-11-23", "--to", "2026-11-29", "--db", str(path))
    done = run("summary", *week, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    block = done.stdout.split("Kø: ventetid og betjening i minutter (median / 90 %)")[1]
    for site, (served, no_shows, *times) in per_site.items():
        wait, service = (f"{minutes(a)} / {minutes(b)}" for a, b in (times[:2], times[2:]))
        line = f"  {flow.sites.name_of(site, 'da')}: ventetid {wait}, betjening {service}; "
        assert line + f"{served} betjent" in block
        assert f"{no_shows} udeblev" in block.split(line)[1].splitlines()[0]
    english = run("summary", *week, "--lang", "en", cwd=tmp_path)
    assert "Queue: wait and service in minutes (median / 90 %)" in english.stdout
    # The same figures for programs, in seconds, counted from the ticket rows directly.
    as_json = run("summary", *week, "--format", "json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    waits = json.loads(as_json.stdout)["waits"]
    assert set(waits["by_site"]) == set(per_site) and waits["overall"] is not None
    for site, figures in per_site.items():
        got = waits["by_site"][site]
        names = ("served", "no_shows", "wait_median_s", "wait_p90_s")
        assert tuple(got[n] for n in (*names, "service_median_s", "service_p90_s")) == (
            pytest.approx(figures)
        )
    # A period without tickets: no block (a place without the queue never sees one).
    before = run(
        "summary", "--from", "2026-10-01", "--to", "2026-10-31", "--db", str(path), cwd=tmp_path
    )
    assert before.returncode == 0 and "Kø:" not in before.stdout


# --- what the supervisor sees (snapshots) --------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_overview_with_a_queue_snapshot(snap_compare, flow, queue_db, tmp_path, monkeypatch, size):
    """The queue's section under the totals (scrolled a page down at 80×24, where it begins
    below the first screen)."""
    from tests.test_snapshots import steps

    app = overview_app(flow, queue_db, tmp_path, monkeypatch)
    keys = ("pagedown",) if size == (80, 24) else ()
    assert snap_compare(app, terminal_size=size, run_before=steps(*keys))
