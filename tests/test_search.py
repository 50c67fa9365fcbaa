"""Errand search: the receptionist's words, Danish synonyms and slips of the keyboard."""

from __future__ import annotations

import pytest

from triage.search import ASK, ErrandIndex, distance, fold


@pytest.fixture(scope="module")
def index(flow):
    return ErrandIndex(flow)


@pytest.mark.parametrize("typed,expected", [
    ("syg", "sick_followup"),
    ("kontant", "apply_benefits"),
    ("bolig", "housing_benefit"),
    ("cv", "job_search"),
    ("pension", "disability_pension"),
    ("lægeerklæring", "sick_documents"),
    ("klage", "benefit_complaint"),
    ("fleksjob", "flexjob"),
    ("krisecenter", "violence"),
    ("sundhedskort", "health_card"),
    ("arbejdsgiver", "employer"),
    ("dansk", "danish_lessons"),
    ("møde", "meeting"),
])
def test_common_words_find_the_errand_in_the_top_three(index, typed, expected):
    hits = [h.node_id for h in index.search(typed)[:3]]
    assert expected in hits, hits


@pytest.mark.parametrize("typed,expected", [
    ("kontanthjelp", "apply_benefits"),   # a wrong vowel
    ("boligstotte", "housing_benefit"),   # ø typed as o
    ("boligstoette", "housing_benefit"),  # ø typed as oe
    ("hjemlos", "homeless"),
    ("laegeerklaering", "sick_documents"),
    ("sygedagpeng", "sick_followup"),     # not finished typing
    ("førtidspensoin", "disability_pension"),  # two letters swapped
    ("alkohl", "addiction"),
])
def test_misspellings_are_forgiven(index, typed, expected):
    hits = [h.node_id for h in index.search(typed)[:3]]
    assert expected in hits, hits


def test_several_words_must_all_match(index):
    (hit,) = index.search("klage afgørelse")
    assert hit.node_id == "benefit_complaint" and hit.answers == ("2", "4")


def test_best_hit_first_and_nothing_for_nonsense(index):
    assert index.search("vold")[0].node_id == "violence"
    assert index.search("qwxz") == []
    assert index.search("   ") == []


def test_answers_stop_where_the_desk_must_ask(index, flow):
    (hit,) = [h for h in index.search("cv") if h.node_id == "job_search"]
    assert hit.answers == ("4", ASK, "1")
    (meeting,) = [h for h in index.search("møde") if h.node_id == "meeting"]
    assert meeting.answers == ("3", ASK)


def test_english_titles(index):
    assert index.search("health card", "en")[0].title == "Health card"


def test_fold_and_distance():
    assert fold("Ærø Å") == "aeroe aa"
    assert distance("kontant", "kontant") == 0
    assert distance("ab", "ba") == 1
    assert distance("kitten", "sittin") == 2
    assert distance("kitten", "sitting") > 2  # past the limit it stops counting
