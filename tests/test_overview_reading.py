"""The overview reads through one connection at one moment, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import event

from triage.db.store import Store
from triage.visits import visit_from_result
from triage.walk import route

PERIOD = (date(2026, 10, 1), date(2026, 11, 1))
NOW = datetime(2026, 10, 31, 12, tzinfo=UTC)


def add(store: Store, flow, site: str, day: int, hour: int) -> None:
    at = datetime(2026, 10, day, hour, 5, tzinfo=UTC)
    visit = visit_from_result(route(flow, ["1", "1"], here=site), site, "d", "in_person", 10.0, at)
    assert store.record(visit) == "saved"


def test_the_overview_takes_one_connection_for_all_its_queries(store, flow):
    """One checkout from the pool for the whole overview (on PostgreSQL each costs the pool's
    ping and a transaction of its own), and the pool's connections come back usable."""
    from triage.overview import overview

    for day, site in ((1, "jc-nord"), (2, "jc-skelbaek"), (8, "jc-nord")):
        add(store, flow, site, day, 9)
    checkouts = []
    event.listen(store.engine, "checkout", lambda *args: checkouts.append(1))
    result = overview(store, flow.sites, *PERIOD, NOW)
    assert result.summary.total == 3
    assert len(checkouts) == 1
    add(store, flow, "jc-nord", 9, 9)  # a write after it, through the same pool, commits
    assert overview(store, flow.sites, *PERIOD, NOW).summary.total == 4
    assert len(store.visits()) == 4


def test_the_overview_counts_at_one_moment_while_a_desk_writes(store, flow, monkeypatch, tmp_path):
    """A visit another desk commits while the overview is between its queries is in none of
    its figures: the total (from the hourly counts, read first) and the day chart (read after
    the write) agree."""
    import triage.overview as overview_module

    add(store, flow, "jc-nord", 1, 9)
    url = store.engine.url.render_as_string(hide_password=False)
    desk = Store(url, desk="other", spool_dir=tmp_path / "other-spool")
    desk.open()
    day_figures = overview_module.day_figures

    def written_first(*args, **kwargs):
        add(desk, flow, "jc-skelbaek", 2, 10)
        return day_figures(*args, **kwargs)

    monkeypatch.setattr(overview_module, "day_figures", written_first)
    try:
        result = overview_module.overview(store, flow.sites, *PERIOD, NOW)
    finally:
        desk.dispose()
    assert result.summary.total == sum(n for _, n in result.trend) == 1
    monkeypatch.undo()
    after = overview_module.overview(store, flow.sites, *PERIOD, NOW)
    assert after.summary.total == sum(n for _, n in after.trend) == 2


def test_a_failed_overview_leaves_the_connection_fit_for_the_next(store, flow, monkeypatch):
    """A query that fails inside the overview's reading ends its transaction: the next
    overview and the next write on the same pool work."""
    import pytest

    import triage.db.queries as queries
    from triage.overview import overview

    add(store, flow, "jc-nord", 1, 9)
    first_day = queries.first_day

    def broken(*args, **kwargs):
        queries._fetched(store, "SELECT no_such_column FROM visit_day", {})

    monkeypatch.setattr("triage.stats.first_day", broken)
    with pytest.raises(Exception, match="no_such_column"):
        overview(store, flow.sites, *PERIOD, NOW)
    monkeypatch.setattr("triage.stats.first_day", first_day)
    assert overview(store, flow.sites, *PERIOD, NOW).summary.total == 1
    add(store, flow, "jc-nord", 2, 9)
    assert overview(store, flow.sites, *PERIOD, NOW).summary.total == 2


def test_a_refresh_counts_what_changed_since_the_one_before(store, flow):
    """A refresh sends the queries of the one before ahead (PostgreSQL): after visits that
    move the busiest hours, add a site and a day, it shows exactly what an overview that
    remembers nothing shows."""
    import triage.db.queries as queries
    from triage.overview import overview

    for day, site in ((1, "jc-nord"), (2, "jc-skelbaek")):
        add(store, flow, site, day, 9)
    before = overview(store, flow.sites, *PERIOD, NOW)
    for hour in (11, 11, 11):
        add(store, flow, "jc-musvaage", 14, hour)
    add(store, flow, "jc-nord", 1, 12)
    refreshed = overview(store, flow.sites, *PERIOD, NOW)
    queries._ASKED_BEFORE.clear()
    fresh = overview(store, flow.sites, *PERIOD, NOW)
    assert refreshed == fresh
    assert (before.summary.total, refreshed.summary.total) == (2, 6)
    assert refreshed.busiest_by_site["jc-musvaage"]["visits"] == 3
