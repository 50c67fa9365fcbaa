"""The visit store on real SQLite and real PostgreSQL: same tests, same code paths."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from triage.db.errors import DbError
from triage.db.migrations import SCHEMA_VERSION
from triage.db.store import Store
from triage.visits import FIELDS, visit_from_result
from triage.walk import route

NOON_UTC = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 12:00 in Copenhagen


def make_visit(
    flow,
    answers=("2", "1", "2100"),
    site="jc-skelbaek",
    desk="skranke-1",
    at=NOON_UTC,
    channel="in_person",
) -> dict:
    return visit_from_result(route(flow, list(answers)), site, desk, channel, 42.0, at)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """A database URL or path on each engine."""
    if request.param == "sqlite":
        return str(tmp_path / "visits.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(db, tmp_path):
    opened = Store(db, spool_dir=tmp_path / "spool")
    opened.open()
    yield opened
    opened.dispose()


def test_a_visit_is_stored_as_given(store, flow):
    visit = make_visit(flow)
    assert store.record(visit) == "saved"
    (row,) = store.visits()
    for name in FIELDS:
        if name == "at_utc":
            assert row[name].astimezone(UTC) == NOON_UTC
        elif name == "local_date":
            assert row[name] == date(2026, 11, 23)
        else:
            assert row[name] == visit[name], name
    assert row["local_hour"] == 12 and row["local_weekday"] == 0
    assert row["voided_utc"] is None


def test_no_column_can_hold_who_the_citizen_is(store):
    with store.engine.connect() as conn:
        names = {c["name"] for c in store.engine.dialect.get_columns(conn, "visit")}
    assert names == set(FIELDS) | {"id", "voided_utc", "voided_desk", "wait_s", "service_s"}
    assert not names & {"cpr", "name", "navn", "note", "comment", "citizen"}


def test_same_visit_twice_is_counted_once(store, flow):
    visit = make_visit(flow)
    assert store.record(visit) == "saved"
    assert store.record(dict(visit)) == "saved"
    assert len(store.visits()) == 1


def test_a_desk_visit_is_stored_as_a_batch_stores_it(store, flow):
    """A desk's one visit goes straight to the driver; a batch (spool, imports) through
    SQLAlchemy's insert: the same row either way, NULLs, booleans and times included."""
    kinds = [
        make_visit(flow),  # postcode, handled elsewhere
        make_visit(flow, answers=("1", "1"), channel="phone"),  # no postcode
        {**make_visit(flow), "wait_s": 125, "service_s": 300},  # called from the queue
    ]
    for number, visit in enumerate(kinds):
        one = {**visit, "visit_id": f"one{number:029d}"}
        batch = [{**visit, "visit_id": f"batch{number}{k:026d}"} for k in range(2)]
        assert store.record(one) == "saved"
        assert store.insert_many(batch) == 2
    columns = "local_date, at_utc, local_hour, local_weekday, site_id, desk, channel, outcome_id, "
    columns += "destination_id, destinations, handled_here, path, postcode, postcode_site_id, "
    columns += "flow_version, duration_s, demo, voided_utc, voided_desk, wait_s, service_s"
    with store.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT visit_id, {columns} FROM visit ORDER BY id")).all()
        stored_as = conn.execute(
            text(f"SELECT COUNT(*) FROM (SELECT DISTINCT {columns} FROM visit) AS kinds")
        ).scalar()
    by_id = {row[0]: tuple(row[1:]) for row in rows}
    assert stored_as == len(kinds)
    for number in range(len(kinds)):
        one = by_id[f"one{number:029d}"]
        assert one == by_id[f"batch{number}{0:026d}"] == by_id[f"batch{number}{1:026d}"]
    assert [row[-2:] for row in by_id.values()][-1] == (125, 300)
    if store.dialect == "sqlite":  # the text SQLite keeps: as SQLAlchemy writes it
        with sqlite3.connect(store.engine.url.database) as raw:
            texts = raw.execute("SELECT DISTINCT at_utc, local_date FROM visit").fetchall()
        assert texts == [("2026-11-23 11:00:00.000000", "2026-11-23")]


def test_void_keeps_the_row_and_says_when_and_where(store, flow):
    visit = make_visit(flow)
    store.record(visit)
    assert store.void(visit["visit_id"], "skranke-9", NOON_UTC + timedelta(minutes=2)) == "saved"
    (row,) = store.visits()
    assert row["voided_desk"] == "skranke-9"
    assert row["voided_utc"].astimezone(UTC) == NOON_UTC + timedelta(minutes=2)
    assert store.void(visit["visit_id"], "skranke-9") == "unknown"  # already void
    assert store.void("0" * 32, "skranke-9") == "unknown"


def test_counts_today_leave_out_void_visits(store, flow):
    for desk in ("a", "a", "b"):
        store.record(make_visit(flow, desk=desk))
    other_site = make_visit(flow, site="jc-nord")
    store.record(other_site)
    yesterday = make_visit(flow, at=NOON_UTC - timedelta(days=1))
    store.record(yesterday)
    assert store.counts_today("jc-skelbaek", "a", date(2026, 11, 23)) == (2, 3)
    last = make_visit(flow, desk="a")
    store.record(last)
    store.void(last["visit_id"], "a")
    assert store.counts_today("jc-skelbaek", "a", date(2026, 11, 23)) == (2, 3)


def test_schema_version_is_stored(store):
    assert store.schema_version() == SCHEMA_VERSION


def test_older_schema_is_upgraded_and_newer_refused(db, tmp_path):
    first = Store(db, spool_dir=tmp_path / "spool")
    first.open()
    with first.engine.begin() as conn:
        conn.execute(text("UPDATE triage_meta SET value = '3' WHERE key = 'schema_version'"))
    first.open()
    assert first.schema_version() == SCHEMA_VERSION
    with first.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE triage_meta SET value = '99' "
                "WHERE key IN ('schema_version', 'writable_from')"
            )
        )
    first.dispose()
    newer = Store(db, spool_dir=tmp_path / "spool")
    with pytest.raises(DbError) as caught:
        newer.open()
    assert caught.value.code == "db_newer" and caught.value.params["found"] == 99
    newer.dispose()


def test_check_reports_integrity_and_counts(store, flow):
    store.record(make_visit(flow))
    report = store.check()
    assert report["integrity"] == "ok" and report["visits"] == 1 and report["void"] == 0
    assert report["ok"] and report["days_checked"] == 1 and report["rollups"] == {}


def test_spooled_visits_are_replayed_once(db, tmp_path, flow):
    """A visit that could not be written waits in the spool; replay sends it exactly once."""
    from triage.db.connect import make_engine

    spool_dir = tmp_path / "spool"
    down = Store(db, desk="d1", spool_dir=spool_dir)
    down.engine = make_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")  # not answering
    visits = [make_visit(flow, desk="d1") for _ in range(3)]
    assert [down.record(v) for v in visits] == ["spooled"] * 3
    voided_at = datetime(2026, 11, 23, 10, 31, 42, tzinfo=UTC)
    assert down.void(visits[1]["visit_id"], "d1", voided_at) == "spooled"
    assert len(down.spool.waiting()) == 4
    up = Store(db, desk="d1", spool_dir=spool_dir)
    up.open()
    up.record(visits[0])  # already arrived some other way: must not be doubled
    assert up.replay_spool() == 4
    assert up.replay_spool() == 0
    rows = {r["visit_id"]: r for r in up.visits()}
    assert set(rows) == {v["visit_id"] for v in visits}
    voided = rows[visits[1]["visit_id"]]
    # The void's own moment, to the minute (not the replay's), and the desk that made it.
    assert (voided["voided_utc"].replace(tzinfo=None), voided["voided_desk"]) == (
        datetime(2026, 11, 23, 10, 31),
        "d1",
    )
    assert up.spool.waiting() == []
    up.dispose()


# --- SQLite's own faults ----------------------------------------------------------------


def test_sqlite_is_wal_with_full_sync(tmp_path):
    store = Store(tmp_path / "w.db", spool_dir=tmp_path / "spool")
    store.open()
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    store.dispose()


def test_locked_database_spools_instead_of_raising(tmp_path, flow):
    path = tmp_path / "locked.db"
    store = Store(path, spool_dir=tmp_path / "spool", busy_timeout_ms=200)
    store.open()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert store.record(make_visit(flow)) == "spooled"
    finally:
        holder.rollback()
        holder.close()
    assert store.replay_spool() == 1 and len(store.visits()) == 1
    store.dispose()


def test_read_only_database_spools(tmp_path, flow):
    path = tmp_path / "ro.db"
    writable = Store(path, spool_dir=tmp_path / "spool")
    writable.open()
    writable.dispose()
    # SQLite's own read-only mode: the same refusal a read-only file gives (root ignores chmod).
    read_only = Store(f"sqlite:///file:{path}?mode=ro&uri=true", spool_dir=tmp_path / "spool")
    visit = make_visit(flow)
    assert read_only.record(visit) == "spooled"
    read_only.dispose()
    again = Store(path, spool_dir=tmp_path / "spool")
    again.open()
    assert again.replay_spool() == 1
    assert [r["visit_id"] for r in again.visits()] == [visit["visit_id"]]
    again.dispose()


def test_torn_spool_line_is_set_aside(tmp_path, flow):
    store = Store(tmp_path / "t.db", desk="d1", spool_dir=tmp_path / "spool")
    store.spool.append(make_visit(flow))
    with open(store.spool.path, "a", encoding="utf-8") as handle:
        handle.write('{"visit_id": "torn')  # a crash in the middle of a write
    store.open()
    assert store.replay_spool() == 1
    (torn,) = store.spool.set_aside()  # with its reason, for a person to look at
    assert torn["reason"] == "torn" and torn["line"] == '{"visit_id": "torn'
    store.dispose()


def test_full_disk_and_no_database_is_said_plainly(tmp_path, flow, monkeypatch):
    store = Store(tmp_path / "missing" / "x.db", spool_dir=tmp_path / "spool")

    def disk_full(entry):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.spool, "append", disk_full)
    with pytest.raises(DbError) as caught:
        store.record(make_visit(flow))
    assert caught.value.code == "not_saved" and "No space left" in caught.value.params["reason"]


# --- PostgreSQL going away ------------------------------------------------------------------


def test_postgres_stopped_mid_run(postgres, pg_url, tmp_path, flow):
    store = Store(pg_url, desk="d1", spool_dir=tmp_path / "spool")
    store.open()
    before = make_visit(flow, desk="d1")
    assert store.record(before) == "saved"
    postgres.stop()
    try:
        during = [make_visit(flow, desk="d1") for _ in range(3)]
        assert [store.record(v) for v in during] == ["spooled"] * 3
        assert store.replay_spool() == 0  # still down: nothing lost, nothing raised
    finally:
        postgres.start()
    assert store.replay_spool() == 3
    ids = [r["visit_id"] for r in store.visits()]
    assert sorted(ids) == sorted([before["visit_id"]] + [v["visit_id"] for v in during])
    store.dispose()


# --- retention --------------------------------------------------------------------------


def _history(flow) -> list[dict]:
    """Visits over five days, several sites, hours, channels; some void, some demo."""
    visits = []
    answers = [("1", "1"), ("2", "1", "2400"), ("4", "2200", "2"), ("9", "3"), ("7", "-", "2", "1")]
    for day in range(5):
        for hour in (8, 9, 13):
            for n, answer in enumerate(answers):
                at = datetime(2026, 3, 26 + day, hour, 15 * (n % 4), tzinfo=UTC)
                site = ("jc-skelbaek", "jc-musvaage", "jc-nord")[(day + n) % 3]
                visit = make_visit(
                    flow, answer, site=site, at=at, channel=("in_person", "phone")[n % 2]
                )
                visit["demo"] = n == 4
                visits.append(visit)
    return visits


GROUPINGS = [
    ("site_id",),
    ("site_id", "local_hour"),
    ("local_date", "destination_id"),
    ("outcome_id", "channel", "handled_here"),
    ("postcode_site_id", "site_id"),
    ("local_weekday",),
]


def test_purge_keeps_every_figure(store, flow):
    from triage.stats import visit_counts

    visits = _history(flow)
    for v in visits:
        store.record(v)
    for v in visits[::7]:
        store.void(v["visit_id"], "d")
    whole = (date(2026, 3, 1), date(2026, 4, 30))
    before = {g: visit_counts(store, *whole, by=g) for g in GROUPINGS}
    early = {g: visit_counts(store, date(2026, 3, 26), date(2026, 3, 28), by=g) for g in GROUPINGS}
    assert sum(before[("site_id",)].values()) == len(visits) - len(visits[::7])

    dry = store.purge(date(2026, 3, 28), dry_run=True)
    assert dry["visits"] > 0 and len(store.visits()) == len(visits)

    done = store.purge(date(2026, 3, 28))
    assert done == {**dry, "dry_run": False} and done["days"] == 2
    assert all(r["local_date"] >= date(2026, 3, 28) for r in store.visits())
    for g in GROUPINGS:
        assert visit_counts(store, *whole, by=g) == before[g], g
        assert visit_counts(store, date(2026, 3, 26), date(2026, 3, 28), by=g) == early[g], g

    again = store.purge(date(2026, 3, 28))
    assert again["visits"] == 0
    store.purge(date(2026, 3, 31))  # a second purge adds to the same rollup
    for g in GROUPINGS:
        assert visit_counts(store, *whole, by=g) == before[g], g
    assert visit_counts(store, *whole, include_demo=False) != before[("site_id",)]


def _rollup_totals(store) -> tuple[int, int]:
    with store.engine.connect() as conn:
        daily = conn.execute(text("SELECT COALESCE(SUM(visits), 0) FROM visit_daily")).scalar()
        hourly = conn.execute(text("SELECT COALESCE(SUM(visits), 0) FROM visit_hourly")).scalar()
        route_ = conn.execute(text("SELECT COALESCE(SUM(visits), 0) FROM visit_route")).scalar()
        by_postcode = conn.execute(
            text("SELECT COALESCE(SUM(visits), 0) FROM visit_postcode")
        ).scalar()
        with_postcode = conn.execute(
            text("SELECT COUNT(*) FROM visit WHERE postcode IS NOT NULL AND voided_utc IS NULL")
        ).scalar()
    assert int(route_) == int(daily)  # every rollup counts every visit
    assert int(by_postcode) == int(with_postcode)  # and the postcode rollup those with one
    return int(daily), int(hourly)


def test_rollups_follow_inserts_duplicates_and_voids(store, flow):
    visits = [make_visit(flow, at=NOON_UTC + timedelta(hours=h)) for h in range(4)]
    for v in visits:
        store.record(v)
    store.record(dict(visits[0]))  # a replayed duplicate inserts nothing, so counts nothing
    assert _rollup_totals(store) == (4, 4)
    store.void(visits[1]["visit_id"], "d")
    store.void(visits[1]["visit_id"], "d")  # voiding twice subtracts once
    assert _rollup_totals(store) == (3, 3)
    store.insert_many([make_visit(flow) for _ in range(5)])
    assert _rollup_totals(store) == (8, 8)


def test_version_1_database_is_upgraded_with_exact_rollups(db, tmp_path, flow):
    from triage.stats import visit_counts

    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    for h in range(3):
        store.record(make_visit(flow, at=NOON_UTC + timedelta(hours=h)))
    # Make it look like version 1: no hourly table contents, no triggers, and visit_daily
    # holding only a day that had been purged.
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("DROP TRIGGER visit_rollup ON visit")
        else:
            conn.exec_driver_sql("DROP TRIGGER visit_rollup_insert")
            conn.exec_driver_sql("DROP TRIGGER visit_rollup_void")
        conn.exec_driver_sql("DELETE FROM visit_hourly")
        conn.exec_driver_sql("DELETE FROM visit_daily")
        conn.exec_driver_sql(
            "INSERT INTO visit_daily (local_date, local_hour, site_id, destination_id, outcome_id, "
            "channel, handled_here, postcode_site_id, demo, local_weekday, visits) VALUES "
            "('2025-01-06', 10, 'jc-nord', 'ys', 'benefit_payment', 'in_person', "
            "false, '', false, 0, 7)"
        )
        conn.exec_driver_sql("UPDATE triage_meta SET value = '1' WHERE key = 'schema_version'")
    store.dispose()
    upgraded = Store(db, spool_dir=tmp_path / "spool")
    upgraded.open()
    assert upgraded.schema_version() == SCHEMA_VERSION
    assert _rollup_totals(upgraded) == (10, 10)
    counts = visit_counts(upgraded, date(2025, 1, 1), date(2027, 1, 1), by=("site_id",))
    assert counts == {("jc-nord",): 7, ("jc-skelbaek",): 3}
    upgraded.record(make_visit(flow))  # and the triggers are back
    assert _rollup_totals(upgraded) == (11, 11)
    upgraded.dispose()
