"""The card at the desk, keys only at 80x24, at a fixed hour: closed now, after-hours help, no
fixed address, and words that fit the answers."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.test_app import SIZE, make_app, visible_text  # noqa: F401  (make_app is a fixture)
from triage import present
from triage.present import LOCAL_ZONE

MONDAY_EVENING = datetime(2026, 11, 30, 16, 30, tzinfo=LOCAL_ZONE)
MONDAY_MORNING = datetime(2026, 11, 30, 10, 0, tzinfo=LOCAL_ZONE)


@pytest.fixture
def at(monkeypatch):
    """Set the desk's clock (the card reads the hour from present.local_now)."""

    def set_clock(moment: datetime) -> None:
        monkeypatch.setattr(present, "local_now", lambda: moment)

    return set_clock


async def test_homeless_without_fixed_address_in_the_evening(make_app, at):
    at(MONDAY_EVENING)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7", "minus")
        assert " 0  Uden fast bopæl" in visible_text(app, "#options")
        await pilot.press("0")
        assert "0 Uden fast bopæl" in visible_text(app, "#trail")
        await pilot.press("1")
        card = visible_text(app, "#card")
        assert "Socialcenter Vesterbro/Kongens Enghave" in card
        assert "Lukket nu — åbner i morgen, tirsdag, kl. 9.00" in card
        assert "Hjælp, når der er lukket:" in card and "Den Sociale Døgnvagt" in card
        assert "Alarm 112: tlf. 112" in card
        assert "Gå derhen i dag" not in card
        assert "Valgt, fordi du ikke har fast bopæl." in card


async def test_homeless_in_the_morning_goes_today(make_app, at):
    at(MONDAY_MORNING)
    app = make_app(site="jc-musvaage")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7", "minus", "0", "1")
        card = visible_text(app, "#card")
        assert "Socialcenter Bispebjerg" in card  # the district of the desk on Musvågevej
        assert "Gå derhen i dag: der er åbent til kl. 15.00." in card
        assert "Lukket nu" not in card
        assert "Den Sociale Døgnvagt" in card  # urgent: the help for tonight is named anyway


async def test_violence_in_english_on_saturday(make_app, at):
    at(datetime(2026, 11, 28, 11, 0, tzinfo=LOCAL_ZONE))
    app = make_app(lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7", "2", "4", "0", "0", "enter", "5")
        card = visible_text(app, "#card")
        assert "Closed now — opens Monday at 9:00" in card
        assert "Lev Uden Vold hotline: tel. 1888" in card
        assert "Chosen from postcode 2400." in card


async def test_declined_postcode_card_speaks_of_here(make_app, at):
    at(MONDAY_MORNING)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "minus", "1")
        card = visible_text(app, "#card")
        assert " HER " in card
        assert "Postnummeret er ikke oplyst, så du får hjælp her." in card
        assert "dækker din bopæl" not in card


async def test_fleksjob_on_musvaagevej_has_no_integration_note(make_app, at):
    at(MONDAY_MORNING)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5", "2", "4", "0", "0", "enter", "1")
        card = visible_text(app, "#card")
        assert "Jobcenter København Musvågevej" in card
        assert "sprog og integration" not in card
        await pilot.press("ctrl+n", "6", "1")
        assert "sprog og integration" in visible_text(app, "#card")


async def test_zero_on_a_question_without_it_says_which_keys(make_app, at):
    at(MONDAY_MORNING)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "0")
        assert "Tasten 0 findes ikke her. Vælg mellem 1, 2, 3, 4, 5, 6." in visible_text(
            app, "#message"
        )
        assert app.screen.walk.node_id == "money"
