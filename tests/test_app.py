"""The desk app driven through Textual's Pilot, keys only, as a receptionist uses it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from textual.widgets import Static

from triage.app import TriageApp
from triage.db.store import Store
from triage.desklog import DeskLog

SIZE = (80, 24)


@pytest.fixture
def make_app(flow, tmp_path):
    """The real app on its own SQLite file in tmp_path."""

    def make(site: str = "jc-skelbaek", desk: str = "skranke-1", lang: str = "da") -> TriageApp:
        log = DeskLog(str(tmp_path / "triage.db"), site, desk, spool_dir=tmp_path / "spool")
        return TriageApp(flow, site=site, desk=desk, lang=lang, log=log, open_log_after=0)

    return make


def rows(tmp_path) -> list[dict]:
    store = Store(tmp_path / "triage.db", spool_dir=tmp_path / "spool")
    try:
        return store.visits()
    finally:
        store.dispose()


async def settle(pilot, app) -> None:
    """Wait until the log's workers are done and their messages handled."""
    await pilot.pause()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def visible_text(app, selector: str) -> str:
    widget = app.screen.query_one(selector, Static)
    return str(widget.render()) if widget.display else ""


async def test_first_question_is_shown(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert visible_text(app, "#question") == "Hvad drejer henvendelsen sig om?"
        options = visible_text(app, "#options")
        assert "1  Sygdom og sygedagpenge" in options and "9  Andet" in options
        assert visible_text(app, "#where") == "Jobcenter Skelbækgade · skranke-1"
        assert visible_text(app, "#channel") == " FREMMØDE "


async def test_keys_lead_to_the_outcome_card(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "2")
        card = visible_text(app, "#card")
        assert "Lægeerklæring og papirer om sygdom" in card
        assert "HENVIS TIL" in card and "Jobcenter Sygedagpenge" in card
        assert "Lægeerklæringen eller papirerne" in card
        assert "1 Sygdom og sygedagpenge › 2 Aflevere" in visible_text(app, "#trail")


async def test_outcome_here_says_her(make_app):
    app = make_app(site="jc-musvaage")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6", "1")
        card = visible_text(app, "#card")
        assert " HER " in card and "Jobcenter København Musvågevej" in card


async def test_postcode_error_then_second_chance(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.press("2", "4", "enter")
        assert "'24' er ikke et postnummer" in visible_text(app, "#message")
        assert "24__" in visible_text(app, "#postcode")  # nothing typed is lost
        await pilot.press("0", "0", "9")  # a fifth digit is ignored
        assert "2400" in visible_text(app, "#postcode")
        await pilot.press("backspace", "backspace", "0", "0", "enter")
        assert visible_text(app, "#question") == "Hvad har borgeren brug for?"
        assert "Postnummer 2400" in visible_text(app, "#trail")
        await pilot.press("1")
        assert "Jobcenter København Musvågevej" in visible_text(app, "#card")


async def test_fast_typing_loses_no_key(make_app):
    """`2400⏎1` in one burst: the 1 must land on the question after the postcode."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "2", "4", "0", "0", "enter", "1")
        assert app.screen.walk.node_id == "job_search"
        assert "Jobcenter København Musvågevej" in visible_text(app, "#card")


async def test_unknown_postcode_is_refused(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "0", "9", "9", "9", "enter")
        assert "Postnummeret 0999 kendes ikke" in visible_text(app, "#message")
        assert app.screen.walk.node_id == "job_postcode"


async def test_declined_postcode_asks_district_for_social_errands(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7", "minus")
        assert visible_text(app, "#question") == "Hvilken bydel bor borgeren i?"
        await pilot.press("4", "1")
        assert "Socialcenter Nørrebro" in visible_text(app, "#card")


async def test_back_and_restart(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "4")
        assert app.screen.walk.node_id == "benefit_complaint"
        await pilot.press("escape")
        assert visible_text(app, "#question") == "Hvad drejer det sig om?"
        await pilot.press("backspace")
        assert visible_text(app, "#question") == "Hvad drejer henvendelsen sig om?"
        await pilot.press("3", "ctrl+n")
        assert app.screen.walk.steps == ()
        await pilot.press("9", "2", "enter")  # Enter on the card: register, then next citizen
        await settle(pilot, app)
        assert app.screen.walk.steps == () and visible_text(app, "#trail") == "Ny borger"


async def test_language_switch_at_runtime(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        assert visible_text(app, "#question") == "What is the visit about?"
        await pilot.press("1", "3")
        card = visible_text(app, "#card")
        assert "REFER TO" in card and "Bring:" in card
        await pilot.press("f2")
        assert "Medbring:" in visible_text(app, "#card")


async def test_key_bar_follows_the_step(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        keys = visible_text(app, "#keys")
        assert "Tilbage" not in keys and "F2 English" in keys and "^Q Afslut" in keys
        await pilot.press("4")
        keys = visible_text(app, "#keys")
        assert "Esc Tilbage" in keys and "- Vil ikke oplyse" in keys
        await pilot.press("minus", "1")
        keys = visible_text(app, "#keys")
        assert "Enter Registrér" in keys and "Vil ikke oplyse" not in keys
        await pilot.press("f2")
        assert "Enter Register" in visible_text(app, "#keys")


async def test_confirm_writes_exactly_one_row(make_app, tmp_path):
    app = make_app(site="jc-skelbaek", desk="skranke-2")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("2", "1", "2", "1", "0", "0", "enter")
        await pilot.press("enter")
        await settle(pilot, app)
        assert "Registreret: Søge kontanthjælp → Jobcenter København Nord." in visible_text(
            app, "#notice"
        )
        assert visible_text(app, "#today") == "I dag: 1 ved denne skranke, 1 på stedet"
    (row,) = rows(tmp_path)
    assert row["outcome_id"] == "apply_benefits" and row["destination_id"] == "jc-nord"
    assert row["destinations"] == "jc-nord,ys" and row["handled_here"] is False
    assert row["site_id"] == "jc-skelbaek" and row["desk"] == "skranke-2"
    assert row["channel"] == "in_person" and row["postcode"] == 2100
    assert row["postcode_site_id"] == "jc-nord"
    assert row["path"] == "errand:money money:apply_postcode apply_postcode:postcode"
    assert row["flow_version"] == app.flow.version and row["voided_utc"] is None
    assert 0 <= row["duration_s"] < 60 and len(row["visit_id"]) == 32


async def test_back_without_logging_writes_nothing(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "1", "escape", "ctrl+n")
        await settle(pilot, app)
    assert rows(tmp_path) == []


async def test_undo_voids_the_last_visit(make_app, tmp_path):
    app = make_app(site="jc-musvaage")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6", "1", "enter")
        await settle(pilot, app)
        await pilot.press("9", "1", "enter")
        await settle(pilot, app)
        await pilot.press("ctrl+z")
        await settle(pilot, app)
        assert "Sidste besøg er annulleret: Sundhedskort." in visible_text(app, "#notice")
        assert visible_text(app, "#today") == "I dag: 1 ved denne skranke, 1 på stedet"
        await pilot.press("ctrl+z")  # only the latest visit can be undone
        await settle(pilot, app)
        assert "intet besøg at fortryde" in visible_text(app, "#notice")
    first, second = rows(tmp_path)
    assert first["voided_utc"] is None and first["handled_here"] is True
    assert second["outcome_id"] == "health_card" and second["voided_utc"] is not None
    assert second["voided_desk"] == "skranke-1"


async def test_channel_key_switches_to_phone(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        assert visible_text(app, "#channel") == " TELEFON "
        await pilot.press("2", "2", "enter")
        await settle(pilot, app)
    (row,) = rows(tmp_path)
    assert row["channel"] == "phone"


async def search(pilot, word: str, *then: str) -> None:
    """Open the errand search, type a word, then press the given keys."""
    await pilot.press("slash")
    await pilot.pause()
    await pilot.press(*word, *then)
    await pilot.pause()


async def test_search_jumps_to_the_errand(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await search(pilot, "klage", "enter")
        assert app.screen.walk.node_id == "benefit_complaint"
        assert "Klage over afgørelse om ydelser" in visible_text(app, "#card")


async def test_search_then_postcode_goes_on_by_itself(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await search(pilot, "ledig", "enter")
        assert app.screen.walk.node_id == "job_postcode"
        await pilot.press("2", "2", "0", "0", "enter")
        assert app.screen.walk.node_id == "register_unemployed"
        assert "Jobcenter København Nord" in visible_text(app, "#card")


@pytest.mark.parametrize(
    "word,outcome,title",
    [
        ("krisecenter", "violence", "Vold og krisecenter"),
        ("alkohol", "addiction", "Alkohol og stoffer"),
    ],
)
async def test_search_then_declined_postcode_asks_the_district(make_app, word, outcome, title):
    """The declined postcode leads to the district question: the desk asks it and chooses
    nothing; once a district is chosen, the errand the search found goes on by itself."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await search(pilot, word, "enter")
        assert app.screen.walk.node_id == "social_postcode"
        await pilot.press("minus")
        await pilot.pause()
        assert app.screen.walk.node_id == "social_district"
        assert visible_text(app, "#question") == "Hvilken bydel bor borgeren i?"
        assert "Socialcenter" not in visible_text(app, "#trail")  # no district chosen
        assert visible_text(app, "#card") == ""
        assert f"Søgningen fandt '{title}'" in visible_text(app, "#message")
        await pilot.press("3")  # the receptionist chooses Østerbro
        await pilot.pause()
        assert app.screen.walk.node_id == outcome
        card = visible_text(app, "#card")
        assert title in card and "Socialcenter Østerbro" in card
        assert [s.question for s in app.screen.walk.steps] == [
            "errand",
            "social_postcode",
            "social_district",
            "social",
        ]
        assert visible_text(app, "#message") == ""


async def test_search_arrow_keys_and_escape(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await search(pilot, "syg")
        hits = [h.node_id for h in app.screen.hits]
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.screen.walk.node_id == hits[1]
        await pilot.press("ctrl+n")
        await search(pilot, "qwxz")
        assert "Ingen henvendelse passer" in str(
            app.screen.query_one("#search-hits").get_option_at_index(0).prompt
        )
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.walk.steps == ()


# One citizen per top-level errand: keys, then what the row must say.
ERRANDS = [
    (("1", "1"), "sick_followup", "jc-sdp", False, None),
    (("2", "1", "2", "7", "2", "0", "enter"), "apply_benefits", "jc-musvaage", False, 2720),
    (("3", "1"), "meeting", "jc-skelbaek", True, None),
    (("4", "1", "0", "5", "0", "enter", "1"), "job_search", "jc-skelbaek", True, 1050),
    (("5", "minus", "2"), "disability_pension", "jc-skelbaek", True, None),
    (("6", "2"), "danish_lessons", "jc-musvaage", False, None),
    (("7", "2", "3", "0", "0", "enter", "4"), "family", "sc-amager-oest", False, 2300),
    (("8", "2", "1", "0", "0", "enter"), "employer", "jc-nord", False, 2100),
    (("9", "3"), "housing_benefit", "udbetaling-danmark", False, None),
]


@pytest.mark.parametrize(
    "keys,outcome,destination,here,postcode", ERRANDS, ids=[e[1] for e in ERRANDS]
)
async def test_each_top_level_errand_is_logged(
    make_app, tmp_path, keys, outcome, destination, here, postcode
):
    app = make_app(site="jc-skelbaek")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press(*keys)
        assert app.screen.walk.node_id == outcome
        await pilot.press("enter")
        await settle(pilot, app)
        assert visible_text(app, "#notice").startswith("Registreret: ")
    (row,) = rows(tmp_path)
    assert (row["outcome_id"], row["destination_id"], row["handled_here"], row["postcode"]) == (
        outcome,
        destination,
        here,
        postcode,
    )
    assert row["site_id"] == "jc-skelbaek" and row["voided_utc"] is None


async def test_command_palette_offers_the_desk_actions(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"kanal")
        # The palette searches asynchronously: wait for its hit, not for a fixed time.
        from textual.widgets import OptionList

        for _ in range(100):
            await pilot.pause(0.05)
            lists = app.screen.query(OptionList)
            if lists and lists.first().option_count:
                break
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.channel == "phone"


@pytest.mark.parametrize(
    "db",
    ["postgresql+nosuchdriver://x@127.0.0.1/y", "not a url://at all", "/proc/no/such/dir/x.db"],
)
async def test_an_unusable_database_spools_and_says_why(flow, tmp_path, db):
    log = DeskLog(db, "jc-skelbaek", "skranke-1", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", log=log, open_log_after=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "Databasen svarer ikke" in visible_text(app, "#notice")
        await pilot.press("1", "1", "enter")
        await settle(pilot, app)
        assert visible_text(app, "#notice").startswith("Gemt lokalt – sendes senere: Opfølgning")
        assert app.screen.walk.steps == ()  # ready for the next citizen
    (waiting,) = log.spool.waiting()
    assert waiting["outcome_id"] == "sick_followup"


async def test_a_demo_database_is_shown_and_its_visits_stay_demo(make_app, tmp_path, flow):
    from datetime import date

    from triage.demo import DemoHistory
    from triage.present import local_now

    store = Store(tmp_path / "triage.db", spool_dir=tmp_path / "spool")
    store.open()
    demo_visits = store.load_demo(DemoHistory(flow, 10, 1, 100, date(2026, 11, 23)))
    store.dispose()
    app = make_app(site="jc-skelbaek", desk="skranke-2")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert visible_text(app, "#clock").startswith(" DEMODATA  ")
        await pilot.press("2", "1", "2", "1", "0", "0", "enter", "enter")
        await settle(pilot, app)
        assert "Registreret" in visible_text(app, "#notice")
    visits = rows(tmp_path)
    assert len(visits) == demo_visits + 1 and all(
        v["demo"] for v in visits
    )  # a try-out, never a real visit
    (mine,) = [v for v in visits if v["desk"] == "skranke-2"]
    assert mine["local_date"] == local_now().date()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_a_newer_database_spools_and_says_which_versions(flow, tmp_path, engine, request):
    """A database from a newer triage: the desk says which schema it found and which it knows,
    keeps every visit in the spool, and `triage spool status` lists them."""
    import subprocess
    import sys
    from pathlib import Path

    from sqlalchemy import text

    from triage.db.migrations import SCHEMA_VERSION
    from triage.spool import database_identity

    db = str(tmp_path / "newer.db") if engine == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    with store.engine.begin() as conn:
        # A newer schema that older code may not write into (its writable_from says so).
        conn.execute(
            text(
                "UPDATE triage_meta SET value = '99' "
                "WHERE key IN ('schema_version', 'writable_from')"
            )
        )
    store.dispose()
    log = DeskLog(db, "jc-skelbaek", "skranke-4", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", desk="skranke-4", log=log, open_log_after=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        notice = visible_text(app, "#notice")
        assert f"skema 99; denne udgave kender {SCHEMA_VERSION}" in notice and "{" not in notice
        await pilot.press("1", "1", "enter")
        await settle(pilot, app)
        assert visible_text(app, "#notice").startswith("Gemt lokalt – sendes senere: Opfølgning")
        assert app.screen.walk.steps == ()
        app.replay_spool()  # the desk's own retry leaves it waiting, and says nothing wrong
        await settle(pilot, app)
    (waiting,) = log.spool.waiting()
    assert waiting["outcome_id"] == "sick_followup" and waiting["desk"] == "skranke-4"
    assert rows_in(db, tmp_path) == 0
    status = subprocess.run(
        [sys.executable, "-m", "triage", "spool", "status", "--spool-dir", str(tmp_path / "spool")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert status.returncode == 0 and "1 besøg og 0 annulleringer venter" in status.stdout
    assert "skranke-4.jsonl: 1" in status.stdout and database_identity(db) in status.stdout


def rows_in(db: str, tmp_path) -> int:
    import sqlalchemy

    engine = sqlalchemy.create_engine(db if "://" in db else f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text("SELECT COUNT(*) FROM visit")).scalar_one()
    finally:
        engine.dispose()


async def test_entries_set_aside_at_start_are_shown_at_the_desk(make_app, tmp_path, flow):
    from triage.spool import Spool, database_identity

    # In the spool of the desk's own database (make_app's): only that one is replayed there.
    own = Spool(tmp_path / "spool", database=database_identity(str(tmp_path / "triage.db")))
    own.directory.mkdir(parents=True)
    (own.directory / "skranke-1.jsonl").write_text('42\n{"void": "x"}\n', encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        notice = visible_text(app, "#notice")
        assert notice.startswith("2 registreringer fra den lokale kø kunne ikke gemmes")
        assert "_quarantine.jsonl" in notice


async def test_an_undo_neither_database_nor_spool_can_take_says_so_and_can_be_retried(
    flow, tmp_path
):
    """Database gone and the spool folder unwritable: Ctrl+Z says the visit still counts, and a
    second Ctrl+Z once they are back voids it."""
    import shutil

    db_dir, spool_dir = tmp_path / "db", tmp_path / "spool"
    db_dir.mkdir()
    log = DeskLog(str(db_dir / "triage.db"), "jc-musvaage", "skranke-1", spool_dir=spool_dir)
    app = TriageApp(flow, site="jc-musvaage", desk="skranke-1", log=log, open_log_after=0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6", "1", "enter")
        await settle(pilot, app)
        log.store.engine.dispose()  # no open connection keeps the old file reachable
        db_dir.rename(tmp_path / "db-away")
        db_dir.write_text("not a folder")
        shutil.rmtree(spool_dir, ignore_errors=True)
        spool_dir.write_text("not a folder")
        await pilot.press("ctrl+z")
        await settle(pilot, app)
        assert "Fortrydelsen kunne ikke gemmes" in visible_text(app, "#notice")
        db_dir.unlink()
        spool_dir.unlink()
        (tmp_path / "db-away").rename(db_dir)
        pressed = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
        await pilot.press("ctrl+z")
        await settle(pilot, app)
        assert "Sidste besøg er annulleret: Integrationsprogram." in visible_text(app, "#notice")
        done = datetime.now(UTC).replace(tzinfo=None)
    store = Store(db_dir / "triage.db", spool_dir=spool_dir)
    try:
        (row,) = store.visits()
    finally:
        store.dispose()
    # Void at the second Ctrl+Z (the one that was saved), to the minute, by this desk.
    assert pressed <= row["voided_utc"].replace(tzinfo=None) <= done
    assert row["voided_utc"].second == 0 and row["voided_desk"] == "skranke-1"


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_a_worker_that_fails_at_start_says_so_and_visits_wait(
    flow, tmp_path, engine, request
):
    """The day rollup was replaced by a table without its columns: opening the log raises in
    its worker, an error nobody foresaw. The desk says the database does not answer and why,
    in the UI language, and the next visit waits in the spool; never a silent desk."""
    from sqlalchemy import text

    db = str(tmp_path / "damaged.db") if engine == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE visit_day"))
        conn.execute(text("CREATE TABLE visit_day (x INTEGER)"))
    store.dispose()
    log = DeskLog(db, "jc-skelbaek", "skranke-1", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site="jc-skelbaek", log=log, open_log_after=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        notice = visible_text(app, "#notice")
        assert notice.startswith("Databasen svarer ikke (") and "demo" in notice, notice
        await pilot.press("f2")
        assert visible_text(app, "#notice").startswith("The database does not answer (")
        await pilot.press("1", "1", "enter")
        await settle(pilot, app)
        assert visible_text(app, "#notice").startswith("Saved locally")
    (waiting,) = log.spool.waiting()
    assert waiting["outcome_id"] == "sick_followup"


def test_screens_reach_the_app_through_typed_messages_and_ui_lang():
    """No screen silences the type checker to call the app: requests are messages the app
    handles, and the language is read through screens.keys.ui_lang."""
    from pathlib import Path

    screens = Path(__file__).resolve().parent.parent / "screens"
    for source in sorted(screens.glob("*.py")):
        code = source.read_text(encoding="utf-8")
        assert "type: ignore" not in code, source.name
        assert "self.app.lang" not in code and 'getattr(self.app, "lang"' not in code, source.name
