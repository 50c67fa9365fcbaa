from __future__ import annotations

from datetime import datetime, time

import pytest

from triage.present import LOCAL_ZONE, card_for, card_text
from triage.sites import PostcodeError, parse_range, parse_window
from triage.walk import route


@pytest.mark.parametrize(
    "text,expected",
    [
        ("09:00-15:00", (time(9), time(15))),
        ("9.30 - 17.00", (time(9, 30), time(17))),
        ("00:00-24:00", (time(0), time(23, 59, 59))),
        ("15:00-09:00", None),
        ("9-15", None),
        ("25:00-26:00", None),
        ("09:60-10:00", None),
    ],
)
def test_parse_window(text, expected):
    assert parse_window(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2100", (2100, 2100)),
        ("1050-1473", (1050, 1473)),
        (2400, (2400, 2400)),
        ("1473-1050", None),
        ("21OO", None),
        ("210", None),
        (None, None),
    ],
)
def test_parse_range(text, expected):
    assert parse_range(text) == expected


@pytest.mark.parametrize(
    "postcode,group,site",
    [
        ("1050", "jobcenter", "jc-skelbaek"),
        ("1799", "jobcenter", "jc-skelbaek"),
        ("1800", "jobcenter", "frederiksberg"),
        ("2000", "jobcenter", "frederiksberg"),
        ("2150", "jobcenter", "jc-nord"),
        ("2720", "jobcenter", "jc-musvaage"),
        ("2610", "jobcenter", "anden-kommune"),
        ("2990", "jobcenter", "anden-kommune"),
        ("5000", "jobcenter", "anden-kommune"),
        ("1360", "social", "sc-indre-by"),
        ("1620", "social", "sc-vesterbro"),
        ("2450", "social", "sc-vesterbro"),
    ],
)
def test_postcode_resolves_to_serving_site(flow, postcode, group, site):
    number, found = flow.sites.resolve_postcode(group, postcode)
    assert number == int(postcode) and found.id == site


@pytest.mark.parametrize(
    "typed,code",
    [
        ("", "postcode_malformed"),
        ("240", "postcode_malformed"),
        ("24000", "postcode_malformed"),
        ("ab12", "postcode_malformed"),
        ("0800", "postcode_unknown"),
        ("0999", "postcode_unknown"),
    ],
)
def test_bad_postcodes(flow, typed, code):
    with pytest.raises(PostcodeError) as caught:
        flow.sites.resolve_postcode("jobcenter", typed)
    assert caught.value.code == code


def test_opening_hours_follow_the_local_weekday(flow):
    skelbaek = flow.sites["jc-skelbaek"]
    thursday_evening = datetime(2026, 11, 26, 16, 30, tzinfo=LOCAL_ZONE)
    friday_afternoon = datetime(2026, 11, 27, 14, 0, tzinfo=LOCAL_ZONE)
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=LOCAL_ZONE)
    assert skelbaek.is_open(thursday_evening)
    assert not skelbaek.is_open(friday_afternoon)
    assert not skelbaek.is_open(saturday) and skelbaek.windows_on(saturday.date()) == ()


def test_card_says_hours_and_both_stops(flow):
    monday_morning = datetime(2026, 11, 23, 10, 0, tzinfo=LOCAL_ZONE)
    card = card_for(route(flow, ["2", "1", "2400"]), "da", monday_morning)
    assert [s.site_id for s in card.stops] == ["jc-musvaage", "ys"]
    assert card.stops[0].open_now is True
    assert card.stops[0].hours_today == "Åbent i dag (mandag): 09:00–15:00"
    text = card_text(card, "da")
    assert "Henvis til: Jobcenter København Musvågevej" in text
    assert "Derefter henvis til: Ydelsesservice" in text
    sunday = datetime(2026, 11, 29, 10, 0, tzinfo=LOCAL_ZONE)
    card = card_for(route(flow, ["1", "1"]), "en", sunday)
    assert card.stops[0].hours_today == "Closed today (Sunday)" and card.stops[0].open_now is False


def test_place_without_counter(flow):
    card = card_for(route(flow, ["9", "3"]), "da")
    assert card.stops[0].open_now is None
    assert card.stops[0].hours_today.startswith("Ingen skranke")
