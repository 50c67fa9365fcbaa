"""The desk app driven through Textual's Pilot, keys only, as a receptionist uses it."""

from __future__ import annotations

from textual.widgets import Static

from triage.app import TriageApp

SIZE = (80, 24)


def visible_text(app, selector: str) -> str:
    widget = app.screen.query_one(selector, Static)
    return str(widget.render()) if widget.display else ""


async def test_first_question_is_shown(flow):
    app = TriageApp(flow, site="jc-skelbaek")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert visible_text(app, "#question") == "Hvad drejer henvendelsen sig om?"
        options = visible_text(app, "#options")
        assert "1  Sygdom og sygedagpenge" in options and "9  Andet" in options
        assert app.sub_title == "Jobcenter Skelbækgade · skranke-1"


async def test_keys_lead_to_the_outcome_card(flow):
    app = TriageApp(flow, site="jc-skelbaek")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "2")
        card = visible_text(app, "#card")
        assert "Lægeerklæring og papirer om sygdom" in card
        assert "HENVIS TIL" in card and "Jobcenter Sygedagpenge" in card
        assert "Lægeerklæringen eller papirerne" in card
        assert "1 Sygdom og sygedagpenge › 2 Aflevere" in visible_text(app, "#trail")


async def test_outcome_here_says_her(flow):
    app = TriageApp(flow, site="jc-musvaage")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6", "1")
        card = visible_text(app, "#card")
        assert " HER " in card and "Jobcenter København Musvågevej" in card


async def test_postcode_error_then_second_chance(flow):
    app = TriageApp(flow, site="jc-skelbaek")
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


async def test_fast_typing_loses_no_key(flow):
    """`2400⏎1` in one burst: the 1 must land on the question after the postcode."""
    app = TriageApp(flow, site="jc-skelbaek")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "2", "4", "0", "0", "enter", "1")
        assert app.screen.walk.node_id == "job_search"
        assert "Jobcenter København Musvågevej" in visible_text(app, "#card")


async def test_unknown_postcode_is_refused(flow):
    app = TriageApp(flow, site="jc-skelbaek")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "0", "9", "9", "9", "enter")
        assert "Postnummeret 0999 kendes ikke" in visible_text(app, "#message")
        assert app.screen.walk.node_id == "job_postcode"


async def test_declined_postcode_asks_district_for_social_errands(flow):
    app = TriageApp(flow, site="jc-skelbaek")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7", "minus")
        assert visible_text(app, "#question") == "Hvilken bydel bor borgeren i?"
        await pilot.press("4", "1")
        assert "Socialcenter Nørrebro" in visible_text(app, "#card")


async def test_back_and_restart(flow):
    app = TriageApp(flow, site="jc-skelbaek")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "4")
        assert app.screen.walk.node_id == "benefit_complaint"
        await pilot.press("escape")
        assert visible_text(app, "#question") == "Hvad drejer det sig om?"
        await pilot.press("backspace")
        assert visible_text(app, "#question") == "Hvad drejer henvendelsen sig om?"
        await pilot.press("3", "ctrl+n")
        assert app.screen.walk.steps == ()
        await pilot.press("9", "2", "enter")  # Enter on the card: next citizen
        assert app.screen.walk.steps == () and visible_text(app, "#trail") == "Ny borger"


async def test_language_switch_at_runtime(flow):
    app = TriageApp(flow, site="jc-skelbaek")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        assert visible_text(app, "#question") == "What is the visit about?"
        await pilot.press("1", "3")
        card = visible_text(app, "#card")
        assert "REFER TO" in card and "Bring:" in card
        await pilot.press("f2")
        assert "Medbring:" in visible_text(app, "#card")


async def test_key_bar_follows_the_step(flow):
    app = TriageApp(flow, site="jc-skelbaek")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        keys = visible_text(app, "#keys")
        assert "Tilbage" not in keys and "^Q  Afslut" in keys and "F2  English" in keys
        await pilot.press("4")
        keys = visible_text(app, "#keys")
        assert "Esc  Tilbage" in keys and "-  Vil ikke oplyse" in keys
        await pilot.press("minus", "1")
        keys = visible_text(app, "#keys")
        assert "Enter  Næste borger" in keys and "Vil ikke oplyse" not in keys
        await pilot.press("f2")
        assert "Enter  Next citizen" in visible_text(app, "#keys")
