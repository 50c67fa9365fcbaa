"""The card fits the hour and the answers: closed now, after-hours help, no fixed address,
reasons and notes that fit, and a street or a phone for every place a citizen is sent to."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest

from tests.conftest import append, edit
from triage.load import load
from triage.present import LOCAL_ZONE, card_for, card_text
from triage.walk import Walk, route

S, F, C = "sites.toml", "flow.toml", "cases.toml"
MONDAY_EVENING = datetime(2026, 11, 30, 16, 30, tzinfo=LOCAL_ZONE)
MONDAY_MORNING = datetime(2026, 11, 30, 10, 0, tzinfo=LOCAL_ZONE)
MONDAY_EARLY = datetime(2026, 11, 30, 7, 30, tzinfo=LOCAL_ZONE)
FRIDAY_AFTERNOON = datetime(2026, 11, 27, 14, 0, tzinfo=LOCAL_ZONE)
SATURDAY = datetime(2026, 11, 28, 11, 0, tzinfo=LOCAL_ZONE)
HOMELESS_NO_ADDRESS = ["7", "-", "0", "1"]


def test_closed_now_says_when_it_opens(flow):
    cases = [
        (MONDAY_EVENING, "da", "Lukket nu — åbner i morgen, tirsdag, kl. 9.00"),
        (MONDAY_EVENING, "en", "Closed now — opens tomorrow, Tuesday, at 9:00"),
        (FRIDAY_AFTERNOON, "da", "Lukket nu — åbner mandag kl. 9.00"),
        (SATURDAY, "da", "Lukket nu — åbner mandag kl. 9.00"),
        (MONDAY_EARLY, "da", "Lukket nu — åbner kl. 9.00"),
    ]
    for moment, lang, expected in cases:
        card = card_for(route(flow, ["1", "1"]), lang, moment)
        assert card.stops[0].open_now is False
        assert card.stops[0].closed_line == expected
        assert expected in card_text(card, lang)
    card = card_for(route(flow, ["1", "1"]), "da", FRIDAY_AFTERNOON)
    assert card.stops[0].next_opening == "2026-11-30T09:00:00+01:00"


def test_closed_over_lunch_opens_later_today(data_copy):
    edit(
        data_copy / S,
        'address = "Matthæusgade 1, København V"\nhours = { mon = "09:00-15:00"',
        'address = "Matthæusgade 1, København V"\nhours = { mon = "09:00-12:00, 12:30-15:00"',
    )
    flow = load(data_copy).flow
    lunch = datetime(2026, 11, 30, 12, 10, tzinfo=LOCAL_ZONE)
    card = card_for(route(flow, ["7", "2450", "2"]), "da", lunch)
    assert card.stops[0].closed_line == "Lukket nu — åbner kl. 12.30"


def test_open_now_has_no_closed_line(flow):
    card = card_for(route(flow, ["1", "1"]), "da", MONDAY_MORNING)
    assert card.stops[0].open_now is True and card.stops[0].closed_line == ""
    assert card.stops[0].next_opening is None
    assert "Lukket nu" not in card_text(card, "da")


def every_walk(flow):
    """One walk to each outcome, with a postcode where asked (given, then declined)."""
    finished = []
    for postcode in ("2400", "-"):
        pending = [Walk.start(flow)]
        while pending:
            walk = pending.pop()
            if walk.finished:
                finished.append(walk)
                continue
            question = walk.question
            if question.asks_postcode:
                pending.append(walk.answer(postcode))
            else:
                pending.extend(walk.choose(o.key) for o in question.options)
    return finished


def test_go_today_never_stands_beside_closed_now(flow):
    """The homeless outcome's reason said "Gå derhen i dag" at every hour: now it is a line the
    card adds only while the place is open."""
    for walk in every_walk(flow):
        result = walk.result()
        for moment in (MONDAY_MORNING, MONDAY_EVENING, SATURDAY):
            for lang, go, closed in (
                ("da", "Gå derhen i dag", "Lukket nu"),
                ("en", "Go there today", "Closed now"),
            ):
                text = card_text(card_for(result, lang, moment), lang).lower()
                assert not (go.lower() in text and closed.lower() in text), (walk.node_id, text)


def test_urgent_outcome_open_says_go_today_and_names_help(flow):
    card = card_for(route(flow, ["7", "2450", "1"]), "da", MONDAY_MORNING)
    assert card.urgent and card.stops[0].open_now
    assert card.go_today == "Gå derhen i dag: der er åbent til kl. 15.00."
    names = [entry.name for entry in card.after_hours]
    assert names == ["Den Sociale Døgnvagt", "Alarm 112"]
    text = card_text(card, "da")
    assert "Hjælp, når der er lukket:" in text
    assert "Den Sociale Døgnvagt: tlf. 33 17 33 33 (ikke bekræftet), Åboulevard 38" in text


def test_urgent_outcome_closed_names_help_not_go_today(flow):
    card = card_for(route(flow, ["7", "2400", "5"]), "en", MONDAY_EVENING)
    assert card.go_today == ""
    assert [entry.phone for entry in card.after_hours] == ["1888", "112", "33 17 33 33"]
    assert "Closed now — opens tomorrow, Tuesday, at 9:00" in card_text(card, "en")


def test_help_of_an_errand_that_can_wait_shows_only_when_closed(flow):
    open_card = card_for(route(flow, ["7", "2400", "3"]), "da", MONDAY_MORNING)
    closed_card = card_for(route(flow, ["7", "2400", "3"]), "da", MONDAY_EVENING)
    assert not open_card.urgent and open_card.after_hours == [] and open_card.go_today == ""
    assert [entry.phone for entry in closed_card.after_hours] == ["33 17 33 33", "1813"]
    # An errand without any after-hours help in the data shows none, open or closed.
    assert card_for(route(flow, ["4", "2400", "1"]), "da", MONDAY_EVENING).after_hours == []


def test_urgent_outcome_without_after_hours_help_fails_validation(data_copy):
    edit(
        data_copy / F,
        'urgent = true\nafter_hours = ["doegnvagten", "alarm-112"]\n',
        "urgent = true\n",
    )
    errors = load(data_copy).errors
    assert [(p.node, p.code) for p in errors] == [
        ("outcome homeless", "urgent_without_after_hours")
    ]
    done = subprocess.run(
        [sys.executable, "-m", "triage", "validate", "--data", str(data_copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert "[outcome homeless]: Udfaldet er markeret urgent = true" in done.stdout


def test_after_hours_must_exist_and_have_a_contact(data_copy):
    edit(
        data_copy / F,
        'after_hours = ["doegnvagten", "alarm-112"]',
        'after_hours = ["doegnvagten", "socialvagt"]',
    )
    edit(data_copy / S, 'phone = "1888"\n', "")
    codes = {(p.node, p.code) for p in load(data_copy).errors}
    assert codes == {
        ("outcome homeless", "unknown_after_hours"),
        ("after_hours lev-uden-vold", "after_hours_no_contact"),
    }


def test_no_fixed_address_goes_to_the_desk_district(flow):
    assert route(flow, HOMELESS_NO_ADDRESS).destination.id == "sc-vesterbro"
    assert route(flow, HOMELESS_NO_ADDRESS, "jc-musvaage").destination.id == "sc-bispebjerg"
    assert route(flow, HOMELESS_NO_ADDRESS, "jc-nord").destination.id == "sc-oesterbro"
    # A desk at a site without a postcode of its own: the default site's district.
    assert route(flow, HOMELESS_NO_ADDRESS, "ys").destination.id == "sc-vesterbro"
    result = route(flow, HOMELESS_NO_ADDRESS)
    assert result.path[-2] == "social_district:no_fixed_address"
    card = card_for(result, "da", MONDAY_MORNING)
    assert card.basis == "Valgt, fordi du ikke har fast bopæl."
    district = flow.questions["social_district"]
    assert (district.options[-1].key, district.options[-1].label("da")) == (0, "Uden fast bopæl")


def test_no_fixed_address_can_name_one_site(data_copy):
    edit(
        data_copy / F,
        'en = "No fixed address", catchment = "social" }',
        'en = "No fixed address", site = "sc-indre-by" }',
    )
    flow = load(data_copy).flow
    assert route(flow, HOMELESS_NO_ADDRESS, "jc-musvaage").destination.id == "sc-indre-by"


@pytest.mark.parametrize(
    "old,new,code",
    [
        (
            'en = "No fixed address", catchment = "social" }',
            'en = "No fixed address", catchment = "social", site = "sc-valby" }',
            "no_address_site_or_catchment",
        ),
        (
            'en = "No fixed address", catchment = "social" }',
            'en = "No fixed address", catchment = "sociale" }',
            "unknown_catchment",
        ),
        (
            'address = "Skelbækgade, 1717 København V"\npostcode = "1717"\n',
            'address = "Skelbækgade, 1717 København V"\n',
            "no_address_no_district",
        ),
        ('postcode = "2400"\n', 'postcode = "24000"\n', "bad_site_postcode"),
    ],
)
def test_no_fixed_address_answer_is_checked(data_copy, old, new, code):
    edit(data_copy / (S if "postcode =" in old else F), old, new)
    (data_copy / C).unlink()  # the cases would fail too; the data error is what is tested
    assert code in [p.code for p in load(data_copy).errors]


def test_no_fixed_address_only_on_a_site_question(data_copy):
    edit(
        data_copy / F,
        'next = "sick_on_benefits"\n',
        'next = "sick_on_benefits"\n'
        'no_fixed_address = { da = "U", en = "N", catchment = "social" }\n',
    )
    assert "no_address_only_site" in [p.code for p in load(data_copy).errors]


def test_reasons_fit_a_declined_postcode(flow):
    """Declined: the citizen is helped here; the card must not speak of where they live."""
    for walk in every_walk(flow):
        if "from_answer" not in walk.current.destinations:
            continue
        result = walk.result()
        for lang in ("da", "en"):
            text = card_text(card_for(result, lang, MONDAY_MORNING), lang)
            for words in (
                "dækker din bopæl",
                "i din bydel",
                "covers your address",
                "in your district",
                "company's address",
                "virksomhedens adresse",
            ):
                assert words not in text, (walk.node_id, text)
    declined = card_for(route(flow, ["4", "-", "1"]), "da", MONDAY_MORNING)
    assert declined.basis == "Postnummeret er ikke oplyst, så du får hjælp her."
    assert declined.stops[0].here
    given = card_for(route(flow, ["4", "2100", "1"]), "en", MONDAY_MORNING)
    assert given.basis == "Chosen from postcode 2100."
    # A place the errand always goes to needs no reason from the answers.
    assert card_for(route(flow, ["1", "1"]), "da", MONDAY_MORNING).basis == ""


def test_site_note_only_on_the_errands_it_names(flow):
    flexjob = card_for(route(flow, ["5", "2400", "1"]), "da", MONDAY_MORNING)
    assert flexjob.stops[0].site_id == "jc-musvaage" and flexjob.stops[0].note == ""
    assert "sprog og integration" not in card_text(flexjob, "da")
    integration = card_for(route(flow, ["6", "1"]), "da", MONDAY_MORNING)
    assert "sprog og integration" in integration.stops[0].note
    # A note without note_for shows on every errand that sends the citizen there (for a place
    # in another municipality, as the card's reason).
    outside = card_for(route(flow, ["4", "2000", "1"]), "da", MONDAY_MORNING)
    assert "Frederiksbergs eget jobcenter" in outside.reason
    assert "Frederiksbergs eget jobcenter" not in outside.stops[0].note


def test_note_for_an_unknown_outcome_is_a_warning(data_copy):
    edit(
        data_copy / S,
        'note_for = ["integration_programme", "danish_lessons"]',
        'note_for = ["integration", "danish_lessons"]',
    )
    loaded = load(data_copy)
    assert loaded.ok
    (problem,) = [p for p in loaded.warnings if p.code == "note_for_unknown"]
    assert problem.node == "site jc-musvaage" and problem.params == {"outcomes": "integration"}


def test_named_places_have_a_street_or_a_phone(flow):
    for site_id in (
        "ys",
        "jc-sdp",
        "jc-nord",
        "borgerservice",
        "udbetaling-danmark",
        "frederiksberg",
    ):
        site = flow.sites[site_id]
        assert site.has_street or site.phone, site_id
    assert flow.sites["sc-valby"].has_street  # "Gammel Køge Landevej 3, Valby"
    assert not flow.sites["ys"].has_street  # a postbox is not a street: it has a phone
    assert not flow.sites["jc-nord"].has_street


def test_validate_warnings_list_places_without_street_or_phone(data_copy):
    def without_contact(data) -> set[str]:
        done = subprocess.run(
            [sys.executable, "-m", "triage", "validate", "--warnings", "--data", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return {
            line.split("[site ")[1].split("]")[0]
            for line in done.stdout.splitlines()
            if "hverken gade og husnummer" in line
        }

    assert without_contact(data_copy) == {"jc-skelbaek", "jc-musvaage", "a-kasse", "anden-kommune"}
    edit(data_copy / S, 'phone = "82 56 40 00"\n', "")
    assert "ys" in without_contact(data_copy)


def test_route_json_has_the_new_fields(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "triage",
            "route",
            *HOMELESS_NO_ADDRESS,
            "--json",
            "--at",
            "2026-11-30T16:30",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert card["urgent"] is True and card["go_today"] == ""
    assert card["stops"][0]["next_opening"] == "2026-12-01T09:00:00+01:00"
    assert card["after_hours"][1] == {
        "name": "Alarm 112",
        "phone": "112",
        "address": "",
        "note": "ved fare for liv eller helbred",
        "unconfirmed": [],
    }


def test_cases_cover_no_fixed_address(data_copy):
    append(
        data_copy / C,
        '[[case]]\nname = "Uden fast bopæl, forkert sted"\n'
        'answers = [7, "-", 0, 1]\nexpect = "homeless"\nsite = "sc-valby"\n',
    )
    (problem,) = load(data_copy).errors
    assert problem.code == "case_wrong_site" and problem.params["got"] == "sc-vesterbro"


def test_holidays_are_skipped_when_saying_when_it_opens(flow):
    before_christmas = datetime(2026, 12, 23, 16, 0, tzinfo=LOCAL_ZONE)  # a Wednesday
    card = card_for(route(flow, ["7", "2450", "1"]), "da", before_christmas)
    assert card.stops[0].closed_line == "Lukket nu — åbner mandag kl. 9.00"
    christmas_eve = datetime(2026, 12, 24, 10, 0, tzinfo=LOCAL_ZONE)  # a Thursday, shut
    card = card_for(route(flow, ["7", "2450", "1"]), "da", christmas_eve)
    assert card.stops[0].hours_today == "Lukket i dag (torsdag)"
    assert card.stops[0].open_now is False and card.go_today == ""
    assert card.after_hours  # urgent: the help for a closed day is on the card


def test_a_closed_day_far_ahead_is_written_as_a_date(data_copy):
    edit(data_copy / S, "closed = [\n", "closed = [\n  2026-12-28, 2026-12-29, 2026-12-30,\n")
    flow = load(data_copy).flow
    card = card_for(route(flow, ["1", "1"]), "da", datetime(2026, 12, 23, 16, 0, tzinfo=LOCAL_ZONE))
    assert card.stops[0].closed_line == "Lukket nu — åbner mandag d. 4/1 kl. 9.00"


def test_a_closed_day_must_be_a_date(data_copy):
    edit(data_copy / S, "closed = [\n", 'closed = [\n  "24. december",\n')
    (problem,) = load(data_copy).errors
    assert (problem.node, problem.code) == ("area", "bad_closed_day")
    assert problem.params == {"value": "24. december"}


def test_declined_postcode_at_a_desk_of_another_kind_goes_to_the_default_jobcentre(flow):
    """A desk at Ydelsesservice cannot help with job search: no postcode → the default
    jobcentre, and the card does not say "helped here"."""
    result = route(flow, ["4", "-", "1"], "ys")
    assert result.destination.id == "jc-skelbaek" and not result.handled_here
    card = card_for(result, "da", MONDAY_MORNING)
    assert card.basis == "Postnummeret er ikke oplyst." and card.basis_stop == 0
    both = route(flow, ["2", "1", "-"], "ys")
    assert [s.id for s in both.destinations] == ["jc-skelbaek", "ys"]
    text = card_text(card_for(both, "en", MONDAY_MORNING), "en")
    assert "No postcode was given.\nThen here: Ydelsesservice" in text
    # At a jobcentre desk the citizen is still helped at that desk.
    assert route(flow, ["4", "-", "1"], "jc-nord").destination.id == "jc-nord"


def test_an_address_in_words_follows_the_language(flow):
    """'Borgerens egen a-kasse' is words, not a street: the English card says it in English."""
    from triage.present import card_for
    from triage.walk import route

    result = route(flow, ["2", "6"], "jc-skelbaek")
    stops = {lang: card_for(result, lang).stops for lang in ("da", "en")}
    assert [s.site_id for s in stops["da"]] == ["a-kasse"]
    assert stops["da"][0].address == "Borgerens egen a-kasse"
    assert "unemployment insurance fund" in stops["en"][0].address


def test_a_postcode_of_another_municipality_gets_its_reason_not_the_errands(flow):
    """Kontanthjælp for 4000 Roskilde: the card must not tell the citizen to apply at this
    municipality's Ydelsesservice; the reason is why their own municipality helps."""
    from triage.present import card_for
    from triage.walk import route

    card = card_for(route(flow, ["2", "1", "4000"], "jc-skelbaek"), "da")
    assert [s.site_id for s in card.stops] == ["anden-kommune"]
    assert "Ydelsesservice" not in card.reason
    assert "egen kommune" in card.reason
    assert card.stops[0].note == ""  # said once, as the reason


def test_hours_line_says_what_is_true_for_a_place_without_hours(flow):
    """A town hall with a street is not 'no counter'; a place with neither street nor phone
    gets no hours line at all."""
    from triage.present import card_for, stop_lines
    from triage.walk import route

    town_hall = card_for(route(flow, ["4", "2000", "1"], "jc-skelbaek"), "da").stops[0]
    assert town_hall.site_id == "frederiksberg"
    assert "Ingen skranke" not in "\n".join(stop_lines(town_hall, "da"))
    assert "Åbningstiderne er ikke oplyst" in town_hall.hours_today
    a_kasse = card_for(route(flow, ["2", "6"], "jc-skelbaek"), "da").stops[0]
    assert a_kasse.site_id == "a-kasse" and a_kasse.hours_today == ""
    assert all(line.strip() for line in stop_lines(a_kasse, "da"))
