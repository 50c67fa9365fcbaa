"""The engine: every path of the default flow, answers that do not fit, back, and determinism."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.flow import Flow, longest_path
from triage.i18n import t
from triage.walk import AnswerError, Walk, route

# One postcode per kind of place a postcode can lead to, plus a declined one.
POSTCODES = [
    "1050",
    "1620",
    "2000",
    "2100",
    "2200",
    "2300",
    "2400",
    "2450",
    "2500",
    "2720",
    "2820",
    "8000",
    None,
]


def all_walks(flow: Flow) -> list[Walk]:
    """Every finished walk: each key of each question, each sample postcode."""
    finished: list[Walk] = []
    pending = [Walk.start(flow)]
    while pending:
        walk = pending.pop()
        if walk.finished:
            finished.append(walk)
            continue
        question = walk.question
        assert question is not None
        if question.asks_postcode:
            pending.extend(walk.give_postcode(p) for p in POSTCODES)
        else:
            pending.extend(walk.choose(o.key) for o in question.options)
    return finished


def test_every_path_ends_in_an_outcome_with_real_places(flow):
    walks = all_walks(flow)
    reached = {w.node_id for w in walks}
    assert reached == set(flow.outcomes)  # every outcome is reachable and nothing else ends a walk
    for walk in walks:
        result = walk.result()
        assert result.destinations, walk.steps
        assert all(site.id in flow.sites for site in result.destinations)
        assert len(result.path) == len(walk.steps)


def test_common_errands_need_at_most_three_keys(flow):
    """Fewest option keys (postcode digits aside) to reach each outcome."""
    fewest: dict[str, int] = {}
    for walk in all_walks(flow):
        keys = walk.keys_pressed
        fewest[walk.node_id] = min(keys, fewest.get(walk.node_id, keys))
    assert max(fewest.values()) <= 3, fewest
    assert Counter(fewest.values())[2] >= len(fewest) * 0.8  # most take two keys


def test_longest_path_is_bounded(flow):
    assert longest_path(flow) == max(len(w.steps) for w in all_walks(flow))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_valid_answers_end_in_an_outcome_within_bound(flow, data):
    bound = longest_path(flow)
    walk = Walk.start(flow)
    for _ in range(bound):
        if walk.finished:
            break
        question = walk.question
        if question.asks_postcode:
            answer = data.draw(
                st.one_of(
                    st.none(),
                    st.integers(1000, 9999).map(lambda n: f"{n:04d}"),
                )
            )
            walk = walk.give_postcode(answer)
        else:
            walk = walk.choose(data.draw(st.sampled_from([o.key for o in question.options])))
    assert walk.finished
    assert walk.result().outcome.id == walk.node_id


# Every reason a list of answers can be refused (triage/walk.py and the postcode lookup).
ANSWER_ERRORS = {
    "walk_finished",
    "walk_not_finished",
    "expects_postcode",
    "expects_choice",
    "expects_choice_key",
    "no_such_key",
    "postcode_malformed",
    "postcode_unknown",
}


@settings(max_examples=200, deadline=None)
@given(
    answers=st.lists(
        st.sampled_from(["1", "2", "3", "4", "5", "6", "7", "8", "9", "2400", "-", "x"]), max_size=8
    )
)
def test_arbitrary_answers_either_route_or_say_why(flow, answers):
    """Nothing a person types makes the engine crash: an outcome, or an AnswerError with a code."""
    try:
        result = route(flow, answers)
    except AnswerError as error:
        assert error.code in ANSWER_ERRORS, error.code
        for lang in ("da", "en"):  # a sentence for the person, every placeholder filled in
            assert "{" not in t(error.code, lang, **error.params)
    else:
        assert result.outcome.id in flow.outcomes


def test_same_answers_same_outcome(flow):
    first = route(flow, ["2", "1", "2100"])
    again = route(flow, ["2", "1", "2100"])
    assert first == again
    assert [s.id for s in first.destinations] == ["jc-nord", "ys"]  # both places, in order


def test_back_undoes_one_step(flow):
    walk = Walk.start(flow).choose(1).choose(2)
    assert walk.finished and walk.node_id == "sick_documents"
    walk = walk.back()
    assert walk.node_id == "sick" and len(walk.steps) == 1
    walk = walk.back().back()  # back at the start stays there
    assert walk.node_id == flow.start and walk.steps == ()


def test_postcode_errors_leave_the_walk_where_it_was(flow):
    walk = Walk.start(flow).choose(4)
    for typed, code in [
        ("24", "postcode_malformed"),
        ("24a0", "postcode_malformed"),
        ("0999", "postcode_unknown"),
    ]:
        with pytest.raises(AnswerError) as caught:
            walk.give_postcode(typed)
        assert caught.value.code == code
    assert walk.node_id == "job_postcode"
    assert walk.give_postcode("2400").node_id == "job"


def test_wrong_kind_of_answer(flow):
    with pytest.raises(AnswerError) as caught:
        Walk.start(flow).choose(7).choose(1)
    assert caught.value.code == "expects_postcode"
    with pytest.raises(AnswerError) as caught:
        Walk.start(flow).give_postcode("2400")
    assert caught.value.code == "expects_choice"
    with pytest.raises(AnswerError) as caught:
        Walk.start(flow).choose(9).choose(8)
    assert caught.value.code == "no_such_key" and caught.value.params["keys"] == "1, 2, 3, 4, 5"
    with pytest.raises(AnswerError):
        route(flow, ["1", "1", "1"])


def test_declined_postcode_means_here(flow):
    result = route(flow, ["4", "-", "1"], here="jc-musvaage")
    assert result.destination.id == "jc-musvaage" and result.handled_here
    assert result.postcode is None
    assert result.path == ("errand:job_postcode", "job_postcode:declined", "job:job_search")


def test_postcode_sends_to_the_serving_site(flow):
    result = route(flow, ["4", "2200", "2"], here="jc-skelbaek")
    assert result.destination.id == "jc-nord" and not result.handled_here
    assert result.postcode == 2200 and result.answered_site.id == "jc-nord"


def test_another_municipality_takes_every_municipal_stop(flow):
    result = route(flow, ["2", "1", "2000"])
    assert [s.id for s in result.destinations] == ["frederiksberg"]


def test_path_holds_ids_never_labels(flow):
    result = route(flow, ["7", "-", "7", "5"])
    assert result.path == (
        "errand:social_postcode",
        "social_postcode:declined",
        "social_district:sc-amager-vest",
        "social:violence",
    )
