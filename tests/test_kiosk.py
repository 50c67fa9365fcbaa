"""The kiosk (`triage kiosk`): citizens check in themselves. Driven with Pilot by touch (clicks)
and by keys, on real SQLite and PostgreSQL: a ticket in the site's queue, or a referral logged
as a kiosk visit; both languages; the idle reset; a question only staff ask; a database that
fails; the kiosk wording in flow.toml as `triage validate` checks it; the command itself."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from textual.widgets import Button, Static

from screens.bigtext import big_lines, big_width
from tests.conftest import SHIPPED, edit
from tests.test_cli import installed_triage, run
from triage.app import KioskApp
from triage.db.store import Store
from triage.desklog import DeskLog
from triage.load import load
from triage.queue import Tickets

SITE = "jc-skelbaek"  # queue A; sick pay (S) and benefits (Y) are handled elsewhere
IDLE = 1.5  # seconds: short for the tests, long enough for a loaded machine's clicks


@pytest.fixture(scope="module")
def loaded():
    found = load(SHIPPED, check_cases=False, queues=True)
    assert found.ok and found.queues is not None
    return found


def kiosk(loaded, db: str, tmp_path: Path, idle: float = 30.0, lang: str = "da") -> KioskApp:
    log = DeskLog(db, SITE, "kiosk", spool_dir=tmp_path / "spool")
    return KioskApp(loaded.flow, SITE, loaded.queues, log, lang=lang, idle_seconds=idle)


async def settle(pilot) -> None:
    """Until the workers (ticket, referral) are done and their answers shown."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def shown(app, selector: str) -> str:
    widget = app.screen.query_one(selector)
    if not all(node.display for node in widget.ancestors_with_self if node is not app):
        return ""  # hidden itself, or inside something hidden
    if isinstance(widget, Button):
        return str(widget.label)
    assert isinstance(widget, Static)
    return str(widget.render())


def query(db: str, tmp_path: Path, sql: str) -> list[dict]:
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()  # the kiosk may have ended before its own start-up opened it
    try:
        with store.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql))]
    finally:
        store.dispose()


def issue_before(db: str, tmp_path: Path, count: int) -> None:
    """Citizens who took a number in the same queue before (another kiosk, say)."""
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    tickets = Tickets(store)
    try:
        for _ in range(count):
            tickets.issue(SITE, "A", "job_search")
    finally:
        tickets.close()
        store.dispose()


# --- the ticket: the errand is handled here -------------------------------------------------


async def test_keys_walk_to_a_ticket_in_the_sites_queue(loaded, db, tmp_path):
    """4 job, postcode 1717 (Skelbækgade's own), 2 register as unemployed: handled here, so a
    ticket in queue A after the two already waiting; no visit row (the desk makes that)."""
    issue_before(db, tmp_path, 2)
    app = kiosk(loaded, db, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert shown(app, "#kiosk-question") == "Hvad kommer du for i dag?"
        for key in ("4", "1", "7", "1", "7", "enter", "2"):
            await pilot.press(key)
        await settle(pilot)
        assert shown(app, "#kiosk-headline") == "Du er det rigtige sted."
        assert shown(app, "#kiosk-details") == ("Dit nummer er A 003 — sæt dig, der er 2 før dig.")
        assert shown(app, "#kiosk-ticket") == "\n".join(big_lines("A 003"))
    tickets = query(db, tmp_path, "SELECT site_id, queue, number, errand, state FROM visit_ticket")
    assert tickets[-1] == {
        "site_id": SITE,
        "queue": "A",
        "number": 3,
        "errand": "register_unemployed",
        "state": "waiting",
    }
    assert len(tickets) == 3
    assert query(db, tmp_path, "SELECT * FROM visit") == []


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (50, 24)], ids=str)
async def test_the_ticket_is_shown_in_big_letters_and_whole(loaded, tmp_path, size):
    """The citizen reads the ticket from a distance: its letter and number in big letters,
    every row whole on the screen, the sentence and the Done button below; on a screen too
    narrow for the usual letters (50 columns), narrower ones."""
    app = kiosk(loaded, str(tmp_path / "kiosk.db"), tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for key in ("4", "1", "7", "1", "7", "enter", "2"):
            await pilot.press(key)
        await settle(pilot)
        dot = 2 if big_width("A 001", 2) <= size[0] - 4 else 1
        assert (dot == 1) == (size[0] == 50)
        big = big_lines("A 001", dot)
        screen = [strip.text for strip in app.screen._compositor.render_strips()]
        top = next(y for y, line in enumerate(screen) if big[0].rstrip() in line)
        for y, row in enumerate(big):
            assert row.rstrip() in screen[top + y]
        below = screen[top + len(big) :]
        assert any("Dit nummer er A 001" in line for line in below)
        assert any("Færdig" in line for line in below)


async def test_a_digit_tapped_twice_quickly_counts_twice(loaded, tmp_path):
    """2200: the second 2 comes while the button still shows the first tap; a button's usual
    guard against a double tap would drop it (an answer button keeps that guard)."""
    db = str(tmp_path / "kiosk.db")
    app = kiosk(loaded, db, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.click("#kiosk-option-4")
        for digit in "2200":
            await pilot.click(f"#kiosk-digit-{digit}")
        assert "2 2 0 0" in shown(app, "#kiosk-typed")


async def test_clicks_walk_to_a_ticket_with_the_postcode_pad(loaded, tmp_path):
    """The same by touch: every answer and every postcode digit is a button."""
    db = str(tmp_path / "kiosk.db")
    app = kiosk(loaded, db, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.click("#kiosk-option-4")
        assert shown(app, "#kiosk-question") == "Hvilket postnummer bor du i?"
        assert app.screen.query_one("#kiosk-ok", Button).disabled  # four digits first
        for digit in "1717":
            await pilot.click(f"#kiosk-digit-{digit}")
        assert "1 7 1 7" in shown(app, "#kiosk-typed")
        await pilot.click("#kiosk-ok")
        assert shown(app, "#kiosk-question") == "Hvad har du brug for?"
        await pilot.click("#kiosk-option-1")
        await settle(pilot)
        assert shown(app, "#kiosk-details") == "Dit nummer er A 001 — sæt dig, du er den næste."
        assert not app.screen.query_one("#kiosk-back").display  # a ticket is not taken back
    assert query(db, tmp_path, "SELECT queue, number, errand FROM visit_ticket") == [
        {"queue": "A", "number": 1, "errand": "job_search"}
    ]


async def test_a_wrong_postcode_is_said_plainly_and_can_be_skipped(loaded, tmp_path):
    db = str(tmp_path / "kiosk.db")
    app = kiosk(loaded, db, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in ("4", "0", "0", "0", "1", "enter"):
            await pilot.press(key)
        assert shown(app, "#kiosk-message") == (
            "Vi kender ikke postnummeret 0001. Prøv igen, eller tryk »Jeg vil ikke sige det«."
        )
        assert shown(app, "#kiosk-question") == "Hvilket postnummer bor du i?"
        await pilot.press("backspace")  # on the pad, backspace deletes a digit, nothing more
        assert shown(app, "#kiosk-question") == "Hvilket postnummer bor du i?"
        await pilot.click("#kiosk-skip")
        assert shown(app, "#kiosk-question") == "Hvad har du brug for?"
        await pilot.press("1")
        await settle(pilot)
    # Declined: job search is then helped here (the walk's rule), in queue A.
    assert query(db, tmp_path, "SELECT errand FROM visit_ticket") == [{"errand": "job_search"}]


# --- the referral: the errand belongs elsewhere ---------------------------------------------


async def test_referral_shows_the_way_and_logs_a_kiosk_visit(loaded, db, tmp_path):
    """1 illness, 3 sick pay: Ydelsesservice, not here. The way there is shown and the
    referral is one visit, channel kiosk, with no ticket."""
    app = kiosk(loaded, db, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("1")
        await pilot.click("#kiosk-option-3")
        await settle(pilot)
        assert shown(app, "#kiosk-headline") == "Din henvendelse klares på Ydelsesservice."
        details = shown(app, "#kiosk-details")
        # A post box is no place to go: the citizen is told to call (fixq).
        assert "Ring på 82 56 40 00, så får du at vide, hvor du skal møde op." in details
        assert "Postboks" not in details and "Telefon:" not in details
        assert "Medbring:" in details
    visits = query(db, tmp_path, "SELECT * FROM visit")
    assert len(visits) == 1
    visit = visits[0]
    assert (visit["channel"], visit["desk"], visit["site_id"]) == ("kiosk", "kiosk", SITE)
    assert (visit["outcome_id"], visit["destination_id"]) == ("sick_payment", "ys")
    assert not visit["handled_here"] and visit["postcode"] is None
    assert visit["path"] == "errand:sick sick:sick_payment"
    assert query(db, tmp_path, "SELECT * FROM visit_ticket") == []


async def test_referral_says_how_to_get_there(loaded, tmp_path):
    """A postcode in Frederiksberg: that municipality, with the directions from sites.toml."""
    db = str(tmp_path / "kiosk.db")
    app = kiosk(loaded, db, tmp_path, lang="en")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in ("4", "2", "0", "0", "0", "enter", "1"):
            await pilot.press(key)
        await settle(pilot)
        assert (
            shown(app, "#kiosk-headline") == "Your errand is handled at Frederiksberg Municipality."
        )
        assert "How to get there: Close to Frederiksberg Station (metro)." in shown(
            app, "#kiosk-details"
        )
    [visit] = query(db, tmp_path, "SELECT channel, postcode, destination_id FROM visit")
    assert visit == {"channel": "kiosk", "postcode": 2000, "destination_id": "frederiksberg"}


# --- languages, idle, staff-only ------------------------------------------------------------


async def test_language_button_and_key_switch_every_text(loaded, tmp_path):
    app = kiosk(loaded, str(tmp_path / "kiosk.db"), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert shown(app, "#kiosk-lang") == "English"
        await pilot.click("#kiosk-lang")
        assert shown(app, "#kiosk-question") == "What have you come about today?"
        assert shown(app, "#kiosk-option-1").endswith("I am ill, or it is about sick pay")
        assert shown(app, "#kiosk-lang") == "Dansk"
        await pilot.press("1")
        assert shown(app, "#kiosk-question") == "What do you need?"
        assert shown(app, "#kiosk-back") == "Back"
        await pilot.press("f2")
        assert shown(app, "#kiosk-question") == "Hvad har du brug for?"
        assert shown(app, "#kiosk-option-1").endswith("Spørgsmål om min sygemelding")


async def test_english_ticket(loaded, tmp_path):
    db = str(tmp_path / "kiosk.db")
    issue_before(db, tmp_path, 1)
    app = kiosk(loaded, db, tmp_path, lang="en")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in ("9", "5"):  # something else entirely: helped here
            await pilot.press(key)
        await settle(pilot)
        assert shown(app, "#kiosk-headline") == "You are in the right place."
        assert shown(app, "#kiosk-details") == (
            "Your number is A 002 — please take a seat, 1 person is ahead of you."
        )
    assert query(db, tmp_path, "SELECT errand FROM visit_ticket WHERE number = 2") == [
        {"errand": "not_listed"}
    ]


async def test_idle_returns_to_the_start_in_the_kiosks_language(loaded, tmp_path):
    """Half-way through a walk in English, then nobody touches: the next citizen sees the first
    question in Danish. A touch in time keeps the walk."""
    app = kiosk(loaded, str(tmp_path / "kiosk.db"), tmp_path, idle=IDLE)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await pilot.press("2")
        for _ in range(3):  # touches within the idle time keep the citizen's answers
            await asyncio.sleep(IDLE / 3)
            await pilot.click("#kiosk-question")
        assert shown(app, "#kiosk-question") == "What is it about?"
        await asyncio.sleep(IDLE * 1.7)
        await pilot.pause()
        assert shown(app, "#kiosk-question") == "Hvad kommer du for i dag?"
        assert not app.screen.walk.steps
        assert not app.screen.query_one("#kiosk-back").display


async def test_idle_clears_an_ending(loaded, tmp_path):
    db = str(tmp_path / "kiosk.db")
    issue_before(db, tmp_path, 0)  # the tables exist: the ticket comes well within IDLE
    app = kiosk(loaded, db, tmp_path, idle=IDLE)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in ("9", "5"):
            await pilot.press(key)
        await settle(pilot)
        assert "A 001" in shown(app, "#kiosk-details")
        await asyncio.sleep(IDLE * 1.7)
        await pilot.pause()
        assert shown(app, "#kiosk-details") == ""
        assert shown(app, "#kiosk-question") == "Hvad kommer du for i dag?"


async def test_done_button_starts_again(loaded, tmp_path):
    app = kiosk(loaded, str(tmp_path / "kiosk.db"), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("1", "3")
        await settle(pilot)
        assert shown(app, "#kiosk-restart") == "Færdig"
        await pilot.click("#kiosk-restart")
        assert shown(app, "#kiosk-question") == "Hvad kommer du for i dag?"


@pytest.mark.parametrize("key", ["enter", "space"])
async def test_enter_or_space_presses_done_on_every_ending(loaded, tmp_path, key):
    """fixq: the "Færdig" button from the keyboard: a ticket, a referral, "go to the desk"."""
    app = kiosk(loaded, str(tmp_path / "kiosk.db"), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for keys, headline in (
            (("3", "1"), "Du er det rigtige sted."),
            (("1", "3"), "Din henvendelse klares på Ydelsesservice."),
            (("7",), "Gå til skranken"),
        ):
            await pilot.press(*keys)
            await settle(pilot)
            assert shown(app, "#kiosk-headline") == headline
            await pilot.press(key)
            await settle(pilot)
            assert shown(app, "#kiosk-question") == "Hvad kommer du for i dag?"
    assert len(query(str(tmp_path / "kiosk.db"), tmp_path, "SELECT * FROM visit_ticket")) == 1


async def test_a_question_only_staff_ask_sends_the_citizen_to_the_desk(loaded, tmp_path):
    """Housing, addiction, family, violence: social_postcode is staff_only in flow.toml."""
    assert loaded.flow.questions["social_postcode"].staff_only
    db = str(tmp_path / "kiosk.db")
    app = kiosk(loaded, db, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("7")
        await settle(pilot)
        assert shown(app, "#kiosk-headline") == "Gå til skranken"
        assert "Gå til skranken, så hjælper vi dig." in shown(app, "#kiosk-details")
        assert not app.screen.query_one("#kiosk-postcode").display
        await pilot.press("escape")  # back to the question before
        assert shown(app, "#kiosk-question") == "Hvad kommer du for i dag?"
    assert query(db, tmp_path, "SELECT * FROM visit") == []


# --- a database that fails ------------------------------------------------------------------


async def test_broken_database_sends_to_the_desk_and_spools_the_referral(loaded, tmp_path):
    """The --db file is not a database: no ticket can be issued (the citizen is sent to the
    desk, no traceback), and a referral waits in the spool, as a desk's visits do."""
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    app = kiosk(loaded, str(broken), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in ("9", "5"):
            await pilot.press(key)
        await settle(pilot)
        assert shown(app, "#kiosk-details") == (
            "Vi kan ikke give dig et nummer lige nu. Gå til skranken, så hjælper vi dig."
        )
        await pilot.press("ctrl+n", "1", "3")
        await settle(pilot)
        assert shown(app, "#kiosk-headline") == "Din henvendelse klares på Ydelsesservice."
    spooled = [
        json.loads(line)
        for path in (tmp_path / "spool").rglob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert [(v["channel"], v["outcome_id"]) for v in spooled] == [("kiosk", "sick_payment")]


# --- the data: kiosk wording as triage validate checks it -----------------------------------


def validate(data: Path) -> subprocess.CompletedProcess:
    return run("validate", "--warnings", "--data", str(data), cwd=data)


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_validate_names_bad_kiosk_fields_by_file_and_line(data_copy):
    flow = data_copy / "flow.toml"
    edit(
        flow,
        'kiosk = { da = "Hvad har du brug for?", en = "What do you need?" }',
        'kiosk = "Hvad har du brug for?"\nstaff_only = "ja"',
    )
    edit(
        flow,
        'kiosk = { da = "Pas eller kørekort", en = "Passport or driving licence" }',
        'kiosk = { da = "Pas eller kørekort", de = "Reisepass" }',
    )
    done = validate(data_copy)
    assert done.returncode == 1
    sick = line_of(flow, "[question.sick]")
    other = line_of(flow, "[question.other]")
    out = done.stdout
    assert f"flow.toml:{sick} [question sick]: Feltet 'kiosk' mangler tekst på 'en'." in out
    assert f"flow.toml:{sick} [question sick]: Feltet 'staff_only' skal være" in out
    assert f"flow.toml:{other} [question other]: Feltet 'option 2 kiosk' mangler tekst på 'en'" in (
        out
    )
    assert "option 2 kiosk" in out and "de" in out


def test_validate_warns_of_questions_without_kiosk_wording(data_copy):
    flow = data_copy / "flow.toml"
    edit(flow, 'kiosk = { da = "Hvad drejer det sig om?", en = "What is it about?" }\n', "")
    edit(
        flow,
        'kiosk = { da = "Fleksjob", en = "Flexible job" }, ',
        "",
    )
    done = validate(data_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    money = line_of(flow, "[question.money]")
    capacity = line_of(flow, "[question.capacity]")
    assert (
        f"flow.toml:{money} [question money]: Spørgsmålet har ingen tekst til borgeren på kiosken."
        in done.stdout
    )
    assert (
        f"flow.toml:{capacity} [question capacity]: "
        "1 svar har ingen tekst til borgeren på kiosken: tast 1." in done.stdout
    )
    # Past a question only staff ask, the kiosk never comes: no warning for those.
    assert "[question social]: Spørgsmålet har ingen tekst" not in done.stdout


def test_shipped_flow_has_kiosk_wording_for_every_question_the_kiosk_shows(loaded):
    from triage.flow import kiosk_questions

    flow = loaded.flow
    reached = kiosk_questions(flow)
    assert "errand" in reached and "social" not in reached  # social_postcode is staff-only
    for qid in reached:
        question = flow.questions[qid]
        if not question.staff_only:  # the kiosk shows it: in the citizen's own words
            assert question.kiosk is not None, qid
            assert "borger" not in question.citizen_text("da"), qid


# --- the command ----------------------------------------------------------------------------


def test_kiosk_command_refuses_a_site_without_queues(tmp_path):
    done = run("kiosk", "--site", "frederiksberg", "--db", str(tmp_path / "k.db"), cwd=tmp_path)
    assert done.returncode == 1
    assert "Stedet frederiksberg har ingen køer" in done.stderr
    assert "Traceback" not in done.stderr
    unknown = run("kiosk", "--site", "nowhere", cwd=tmp_path)
    assert unknown.returncode == 1 and "nowhere" in unknown.stderr


def test_kiosk_command_without_a_terminal_says_so(tmp_path):
    done = subprocess.run(
        [installed_triage(), "kiosk", "--db", str(tmp_path / "k.db")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ},
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip()


async def test_summary_and_export_name_the_kiosk_channel(loaded, tmp_path):
    """A kiosk referral counts under its own channel, by its Danish word too."""
    db = str(tmp_path / "kiosk.db")
    app = kiosk(loaded, db, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("1", "3")
        await settle(pilot)
    spool = ["--spool-dir", str(tmp_path / "spool")]
    by_word = run(
        "summary",
        "--db",
        db,
        *spool,
        "--channel",
        "selvbetjening",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert by_word.returncode == 0, by_word.stderr
    assert json.loads(by_word.stdout)["total"] == 1
    in_person = run(
        "summary", "--db", db, *spool, "--channel", "in_person", "--format", "json", cwd=tmp_path
    )
    assert json.loads(in_person.stdout)["total"] == 0
    out = tmp_path / "visits.xlsx"
    done = run(
        "export",
        "--db",
        db,
        *spool,
        "--visits",
        "--format",
        "xlsx",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    from openpyxl import load_workbook

    cells = [c.value for sheet in load_workbook(out) for row in sheet.iter_rows() for c in row]
    assert "Selvbetjening" in cells


@pytest.mark.parametrize(
    ("keys", "place", "phone"),
    [
        (("4", "2", "2", "0", "0", "enter", "1"), "Jobcenter København Nord", "33 66 33 66"),
        (("1", "1"), "Jobcenter Sygedagpenge", "82 56 56 82"),
    ],
)
async def test_referral_never_shows_staff_notes_to_citizens(loaded, tmp_path, keys, place, phone):
    """fixq: no "(ikke bekræftet)", "(ring først)" or a bare district on the citizen's screen:
    where the address is only an example, the citizen is told to call for the way."""
    app = kiosk(loaded, str(tmp_path / "kiosk.db"), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
        await settle(pilot)
        assert shown(app, "#kiosk-headline") == f"Din henvendelse klares på {place}."
        details = shown(app, "#kiosk-details")
        assert f"Ring på {phone}, så får du at vide, hvor du skal møde op." in details
        for note in ("ikke bekræftet", "ring først", "Adresse:", "Østerbro"):
            assert note not in details, details


def test_kiosk_command_refuses_an_empty_site_and_names_queues_toml(tmp_path):
    """fixq: --site "" is no site (not the default one); --data's help names queues.toml."""
    empty = run("kiosk", "--site", "", "--db", str(tmp_path / "k.db"), cwd=tmp_path)
    assert empty.returncode == 1 and "Traceback" not in empty.stderr
    assert not (tmp_path / "k.db").exists()
    helped = run("kiosk", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "queues.toml" in " ".join(helped.stdout.split())
