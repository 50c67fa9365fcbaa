"""Erlang C against published table values, and the counters it asks for."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from triage import committee, export
from triage.db.queries import Filters
from triage.model import LOCAL_ZONE
from triage.staffing import (
    MEASURED_AT_LEAST,
    ServiceTime,
    counters_needed,
    erlang_b,
    erlang_c,
    measured_service,
    served_within,
    service_times,
)
from triage.visits import visit_from_result
from triage.walk import route


@pytest.mark.parametrize(
    "counters, load, waits",
    [
        # Erlang C tables (probability of waiting) for 10 erlangs, as printed in call-centre
        # planning tables: 11 → 68.2 %, 12 → 44.9 %, 13 → 28.5 %, 14 → 17.4 %.
        (11, 10.0, 0.6821),
        (12, 10.0, 0.4494),
        (13, 10.0, 0.2853),
        (14, 10.0, 0.1741),
        # Small systems with exact values: M/M/2 at 1 erlang waits 1/3, M/M/3 at 2 erlangs 4/9.
        (2, 1.0, 1 / 3),
        (3, 2.0, 4 / 9),
    ],
)
def test_erlang_c_matches_published_tables(counters, load, waits):
    assert erlang_c(counters, load) == pytest.approx(waits, abs=5e-5)


def test_erlang_b_and_the_edges():
    assert erlang_b(1, 1.0) == pytest.approx(0.5)  # one server, one erlang: blocked half the time
    assert erlang_b(5, 3.0) == pytest.approx(0.1101, abs=5e-5)  # Erlang B table, 3 E, 5 lines
    assert erlang_c(5, 5.0) == 1.0 and erlang_c(4, 6.0) == 1.0  # the queue never empties
    assert erlang_c(3, 0.0) == 0.0
    assert erlang_c(300, 250.0) < 0.01  # large systems stay finite (no factorial overflow)


def test_service_level_formula():
    # 10 erlangs, 14 counters, 3-minute service, target 20 seconds:
    # 1 - C · e^(-(N-A)·t/s) = 1 - 0.1741 · e^(-4/9) = 0.888.
    assert served_within(14, 10.0, 20 / 60, 3.0) == pytest.approx(
        1 - 0.17413 * math.exp(-4 / 9), abs=1e-4
    )
    assert served_within(10, 10.0, 1.0, 3.0) == 0.0


def test_counters_needed_is_the_fewest_that_reach_the_target():
    # 200 citizens an hour at 3 minutes each = 10 erlangs; 80 % within 20 seconds needs 14
    # counters (13 reach 79.6 %), as the call-centre tables say.
    need = counters_needed(200, 3.0, wait_minutes=20 / 60, wait_share=0.8)
    assert need.counters == 14 and need.served_within >= 0.8
    assert served_within(13, 10.0, 20 / 60, 3.0) < 0.8
    assert counters_needed(0, 6.0).counters == 0
    # One citizen an hour at 6 minutes: 0.1 erlang; one counter; a tenth of citizens wait at
    # all, 1 - 0.1 · e^(-0.9 · 10/6) wait under 10 minutes, 0.1 · 6 / 0.9 minutes on average.
    quiet = counters_needed(1, 6.0)
    assert quiet.counters == 1
    assert quiet.served_within == pytest.approx(1 - 0.1 * math.exp(-1.5))
    assert quiet.mean_wait_minutes == pytest.approx(2 / 3)


# --- the time per citizen: measured where the queue measured enough, estimated otherwise ------

NOVEMBER_START, NOVEMBER_END = date(2026, 11, 1), date(2026, 12, 1)


def _served(flow, site: str, day: date, hour: int, service_s: int | None, channel="in_person"):
    """A visit at `site` (Copenhagen time); with `service_s`, one called from the queue."""
    at = datetime(day.year, day.month, day.day, hour, tzinfo=LOCAL_ZONE).astimezone(UTC)
    visit = visit_from_result(route(flow, ["4", "2100", "1"], here=site), site, "d", channel, 9, at)
    if service_s is None:
        return visit  # a walk-in: no times
    return {**visit, "wait_s": 60, "service_s": service_s}


def _fill(store, flow) -> None:
    """Skelbækgade: MEASURED_AT_LEAST + 10 visits from the queue in November (and walk-ins and
    a phone call without times); Nord: one visit too few; and times outside the period."""
    rnd = random.Random(15)
    visits = []
    for i in range(MEASURED_AT_LEAST + 10):
        day = date(2026, 11, 2 + i % 20)
        visits.append(_served(flow, "jc-skelbaek", day, 9 + i % 6, rnd.randint(60, 1800)))
        visits.append(_served(flow, "jc-skelbaek", day, 10, None))
    visits.append(_served(flow, "jc-skelbaek", date(2026, 11, 3), 11, None, "phone"))
    for i in range(MEASURED_AT_LEAST - 1):
        visits.append(_served(flow, "jc-nord", date(2026, 11, 2 + i % 20), 10, 300 + i))
    visits.append(_served(flow, "jc-skelbaek", date(2026, 10, 30), 10, 9999))  # October
    visits.append(_served(flow, "jc-skelbaek", date(2026, 12, 1), 10, 9999))  # December
    assert store.insert_many(visits) == len(visits)


def _means_from_rows(store) -> dict[str, tuple[int, float]]:
    """Per site: November's visits with a service time and their mean, from the rows."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT site_id, local_date, service_s FROM visit WHERE voided_utc IS NULL")
        ).all()
    times: dict[str, list[int]] = {}
    for site, day, service_s in rows:
        day = day if isinstance(day, date) else date.fromisoformat(day)
        if service_s is not None and NOVEMBER_START <= day < NOVEMBER_END:
            times.setdefault(site, []).append(service_s)
    return {site: (len(found), sum(found) / len(found)) for site, found in times.items()}


def test_staffing_uses_the_measured_mean_where_enough_visits_else_the_estimate(store, flow):
    _fill(store, flow)
    direct = _means_from_rows(store)
    assert direct["jc-skelbaek"][0] == MEASURED_AT_LEAST + 10
    assert direct["jc-nord"][0] == MEASURED_AT_LEAST - 1

    times = service_times(store, flow.sites, NOVEMBER_START, NOVEMBER_END)
    skelbaek = times["jc-skelbaek"]
    assert skelbaek.measured and skelbaek.visits == direct["jc-skelbaek"][0]
    assert skelbaek.minutes == pytest.approx(direct["jc-skelbaek"][1] / 60)
    # Nord has one visit too few: the estimate in sites.toml, as for a site with none.
    for site in ("jc-nord", "ys"):
        assert not times[site].measured
        assert times[site].minutes == flow.sites[site].service_minutes
    # With a higher bar Skelbækgade falls back too; without demo visits nothing changes here.
    higher = service_times(store, flow.sites, NOVEMBER_START, NOVEMBER_END, at_least=1000)
    assert higher["jc-skelbaek"] == ServiceTime(flow.sites["jc-skelbaek"].service_minutes, 0)
    only_nord = Filters(sites=("jc-nord",))
    assert measured_service(store, NOVEMBER_START, NOVEMBER_END, only_nord) == {
        "jc-nord": (direct["jc-nord"][0], pytest.approx(direct["jc-nord"][1]))
    }


def test_the_export_and_the_report_say_which_time_they_used(store, flow):
    _fill(store, flow)
    mean = _means_from_rows(store)["jc-skelbaek"][1] / 60
    built = export.build(store, flow.sites, export.Options(NOVEMBER_START, NOVEMBER_END))
    staffing = next(table for table in built.tables if table.key == "staffing")
    at = {column.key: i for i, column in enumerate(staffing.columns)}
    said = {row[0]: (row[at["service_minutes"]], row[at["service_basis"]]) for row in staffing.rows}
    shown = f"{round(mean, 1):.1f}".removesuffix(".0").replace(".", ",")
    assert said["jc-skelbaek"] == (
        round(mean, 1),
        f"målt: {shown} min på {MEASURED_AT_LEAST + 10} besøg",
    )
    assert said["jc-nord"] == (6, "anslået: 6 min")
    # The counters needed are Erlang C's at the measured time.
    row = next(r for r in staffing.rows if r[0] == "jc-skelbaek")
    need = counters_needed(row[at["arrivals_per_hour"]], round(mean, 1))
    assert row[at["counters_needed"]] == need.counters
    # A count below --min-count is never said: then the estimate.
    small = export.Options(NOVEMBER_START, NOVEMBER_END, min_count=MEASURED_AT_LEAST + 11)
    built = export.build(store, flow.sites, small)
    staffing = next(table for table in built.tables if table.key == "staffing")
    assert {r[-1] for r in staffing.rows if r[0] == "jc-skelbaek"} == {"anslået: 6 min"}

    report = committee.build(
        store, flow.sites, NOVEMBER_START, datetime(2026, 12, 2, 9, tzinfo=LOCAL_ZONE)
    )
    assert report.service["jc-skelbaek"].visits == MEASURED_AT_LEAST + 10
    page = committee.render(report, flow.sites, "en")
    assert f"Jobcentre Skelbækgade: measured: {shown.replace(',', '.')} min over 40 visits" in (
        page.replace("&#x27;", "'")
    )
    assert "Jobcentre Copenhagen North: estimated: 6 min" in page


def test_service_time_in_words():
    assert ServiceTime(11.5, 240).says("da") == "målt: 11,5 min på 240 besøg"
    assert ServiceTime(5.71, 2382).says("da") == "målt: 5,7 min på 2.382 besøg"
    assert ServiceTime(5.71, 2382).says("en") == "measured: 5.7 min over 2,382 visits"
    assert ServiceTime(11.5, 1).says("en") == "measured: 11.5 min over 1 visit"
    assert ServiceTime(12.0, 0).says("da") == "anslået: 12 min"
    assert ServiceTime(12.0, 0).says("en") == "estimated: 12 min"
