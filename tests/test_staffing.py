"""Erlang C against published table values, and the counters it asks for."""

from __future__ import annotations

import math

import pytest

from triage.staffing import counters_needed, erlang_b, erlang_c, served_within


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
