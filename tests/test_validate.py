"""Every kind of problem the validator knows has a broken copy of data/ that triggers it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHIPPED, append, edit
from triage.i18n import problem_text
from triage.load import FlowInvalid, load, load_or_raise

F, S, C = "flow.toml", "sites.toml", "cases.toml"


def _break(data: Path, file: str, old: str | None, new: str) -> None:
    if old is None:
        append(data / file, new)
    else:
        edit(data / file, old, new)


# (id, file, old text or None to append, new text, expected code, expected node, file reported)
BROKEN = [
    (
        "unknown target",
        F,
        'next = "sick_followup" }',
        'next = "sick_folowup" }',
        "unknown_target",
        "question sick",
        F,
    ),
    (
        "unreachable question",
        F,
        None,
        '[question.orphan]\ntext = { da = "Hvem?", en = "Who?" }\n'
        'options = [ { key = 1, da = "Her", en = "Here", next = "not_listed" } ]\n',
        "unreachable",
        "question orphan",
        F,
    ),
    (
        "unreachable outcome",
        F,
        None,
        '[outcome.lonely]\ntitle = { da = "Alene", en = "Alone" }\ndestination = "ys"\n'
        'reason = { da = "Ingen", en = "None" }\n',
        "unreachable",
        "outcome lonely",
        F,
    ),
    (
        "dead end",
        F,
        None,
        '[question.stuck]\ntext = { da = "Hvad?", en = "What?" }\noptions = []\n',
        "dead_end",
        "question stuck",
        F,
    ),
    (
        "duplicate key",
        F,
        '{ key = 2, da = "Aflevere lægeerklæring',
        '{ key = 1, da = "Aflevere lægeerklæring',
        "duplicate_key",
        "question sick",
        F,
    ),
    (
        "key out of range",
        F,
        '{ key = 9, da = "Andet',
        '{ key = 10, da = "Andet',
        "key_out_of_range",
        "question errand",
        F,
    ),
    (
        "key zero",
        F,
        '{ key = 1, da = "Sygdom',
        '{ key = 0, da = "Sygdom',
        "key_out_of_range",
        "question errand",
        F,
    ),
    (
        "missing english",
        F,
        'en = "What does the citizen need?" }',
        'en = "" }',
        "missing_translation",
        "question sick",
        F,
    ),
    (
        "missing danish option",
        F,
        '{ key = 2, da = "Danskundervisning", en = "Danish lessons",',
        '{ key = 2, en = "Danish lessons",',
        "missing_translation",
        "question integration",
        F,
    ),
    (
        "missing bring translation",
        F,
        '{ da = "Pasfoto", en = "Passport photo" }',
        '{ da = "Pasfoto" }',
        "missing_translation",
        "outcome passport",
        F,
    ),
    (
        "destination not a site",
        F,
        'destination = "borgerservice"\nreason = { da = "Pas',
        'destination = "politiet"\nreason = { da = "Pas',
        "unknown_destination",
        "outcome passport",
        F,
    ),
    (
        "unknown catchment group",
        F,
        'catchment = "social"',
        'catchment = "sociale"',
        "unknown_catchment",
        "question social_postcode",
        F,
    ),
    (
        "from_answer without postcode",
        F,
        'next = "integration" }',
        'next = "job" }',
        "from_answer_unanswered",
        "outcome job_search",
        F,
    ),
    (
        "id used twice",
        F,
        None,
        '[outcome.sick]\ntitle = { da = "X", en = "X" }\ndestination = "ys"\n'
        'reason = { da = "X", en = "X" }\n',
        "duplicate_id",
        "outcome sick",
        F,
    ),
    ("bad start", F, 'start = "errand"', 'start = "begin"', "bad_start", "flow", F),
    (
        "misspelt field",
        F,
        'options = [\n  { key = 1, da = "Opfølgning',
        'optoins = [\n  { key = 1, da = "Opfølgning',
        "unknown_field",
        "question sick",
        F,
    ),
    (
        "site list names unknown site",
        F,
        'sites = ["jc-skelbaek", "jc-musvaage"',
        'sites = ["jc-skelbak", "jc-musvaage"',
        "unknown_destination",
        "question meeting_site",
        F,
    ),
    (
        "catchment overlap",
        S,
        'jc-musvaage = ["2400", "2700", "2720"]',
        'jc-musvaage = ["2400", "2700", "2720", "2100"]',
        "catchment_overlap",
        "catchment jobcenter",
        S,
    ),
    (
        "catchment gap",
        S,
        'jc-nord = ["2100", "2150", "2200"]',
        'jc-nord = ["2100", "2200"]',
        "catchment_gap",
        "catchment jobcenter",
        S,
    ),
    (
        "catchment unknown site",
        S,
        'sc-valby = ["2500"]',
        'sc-valbi = ["2500"]',
        "catchment_unknown_site",
        "catchment social",
        S,
    ),
    (
        "catchment bad range",
        S,
        'sc-valby = ["2500"]',
        'sc-valby = ["25OO"]',
        "catchment_bad_range",
        "catchment social",
        S,
    ),
    (
        "malformed hours",
        S,
        'address = "Spaniensgade 25, København S"\nhours = { mon = "09:00-15:00"',
        'address = "Spaniensgade 25, København S"\nhours = { mon = "9-15"',
        "hours_bad_window",
        "site sc-amager-oest",
        S,
    ),
    (
        "hours end before start",
        S,
        'address = "Ørnevej 55, København NV"\nhours = { mon = "09:00-15:00"',
        'address = "Ørnevej 55, København NV"\nhours = { mon = "15:00-09:00"',
        "hours_bad_window",
        "site sc-bispebjerg",
        S,
    ),
    (
        "unknown weekday",
        S,
        'address = "Ørnevej 55, København NV"\nhours = { mon =',
        'address = "Ørnevej 55, København NV"\nhours = { man =',
        "hours_bad_day",
        "site sc-bispebjerg",
        S,
    ),
    ("bad kind", S, 'kind = "sygedagpenge"', 'kind = "sick"', "bad_kind", "site jc-sdp", S),
    (
        "site without address",
        S,
        'address = "Matthæusgade 1, København V"\n',
        "\n",
        "missing_address",
        "site sc-vesterbro",
        S,
    ),
    (
        "outside names unknown site",
        S,
        'outside = "anden-kommune"',
        'outside = "andre"',
        "unknown_site_ref",
        "area",
        S,
    ),
    (
        "case with wrong outcome",
        C,
        'expect = "sick_documents"',
        'expect = "sick_followup"',
        "case_wrong_outcome",
        "case Afleverer lægeerklæring",
        C,
    ),
    (
        "case with wrong site",
        C,
        'site = "jc-nord"\n\n[[case]]\nname = "Søger kontanthjælp, vil',
        'site = "jc-musvaage"\n\n[[case]]\nname = "Søger kontanthjælp, vil',
        "case_wrong_site",
        "case Søger kontanthjælp, bor på Østerbro: jobcenter først",
        C,
    ),
    (
        "case with impossible answers",
        C,
        "answers = [9, 5]",
        "answers = [9, 7]",
        "case_failed_answer",
        "case Noget helt andet",
        C,
    ),
    (
        "case with bad postcode",
        C,
        'answers = [1, 4, "2720"]',
        'answers = [1, 4, "27"]',
        "case_failed_answer",
        "case Syg på kontanthjælp, bor i Vanløse",
        C,
    ),
]


@pytest.mark.parametrize(
    "file,old,new,code,node,reported", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_each_problem_is_found_and_named(data_copy, file, old, new, code, node, reported):
    _break(data_copy, file, old, new)
    loaded = load(data_copy)
    assert not loaded.ok
    matching = [p for p in loaded.errors if p.code == code]
    assert matching, f"expected {code}, got {[(p.code, p.node) for p in loaded.errors]}"
    problem = matching[0]
    assert problem.node == node
    assert problem.file == reported
    for lang in ("da", "en"):
        text = problem_text(problem, lang)
        assert node in text and reported in text
        assert "{" not in text.split("]: ", 1)[-1] or "da =" in text  # every placeholder was filled


def test_shipped_data_is_valid():
    loaded = load(SHIPPED)
    assert loaded.ok, [problem_text(p) for p in loaded.errors]
    assert len(loaded.cases) >= 30


def test_cycle_is_named_in_order(data_copy):
    # capacity → (3) → capacity_postcode → capacity: a loop back to an earlier question.
    edit(data_copy / F, 'next = "rehabilitation" }', 'next = "capacity_postcode" }')
    loaded = load(data_copy)
    cycles = [p for p in loaded.errors if p.code == "cycle"]
    assert len(cycles) == 1
    assert cycles[0].params["path"] == "capacity_postcode → capacity → capacity_postcode"
    assert "capacity_postcode → capacity → capacity_postcode" in problem_text(cycles[0])


def test_toml_syntax_error_gives_line_and_column(data_copy):
    edit(data_copy / F, 'start = "errand"', 'start = "errand')
    line = (data_copy / F).read_text(encoding="utf-8").split("\n").index('start = "errand') + 1
    loaded = load(data_copy)
    (problem,) = loaded.errors
    assert problem.code == "toml_syntax"
    assert problem.file == F
    assert problem.line == line and problem.column == len('start = "errand') + 1  # at the end
    assert problem_text(problem).startswith(f"{F}:{line}:")


def test_duplicate_table_is_a_syntax_error_with_line(data_copy):
    append(data_copy / S, '[site.ys]\nkind = "ydelsesservice"\n')
    lines = (data_copy / S).read_text(encoding="utf-8").split("\n")
    second = len(lines) - lines[::-1].index("[site.ys]")  # the line of the table given again
    (problem,) = load(data_copy).errors
    assert problem.code == "toml_syntax" and problem.file == S
    assert (problem.line, problem.column) == (second, len("[site.ys]"))


def test_missing_file_is_named(data_copy):
    (data_copy / S).unlink()
    (problem,) = load(data_copy).errors
    assert problem.code == "file_missing" and S in problem_text(problem)


def test_unconfirmed_details_are_warnings_not_errors():
    loaded = load(SHIPPED)
    unconfirmed = [p for p in loaded.problems if p.code == "unconfirmed"]
    assert unconfirmed and all(p.severity == "warning" for p in unconfirmed)
    assert any(p.node == "site jc-nord" and "name" in p.params["fields"] for p in unconfirmed)


def test_warnings_name_every_unconfirmed_detail_in_words():
    """No catalogue key (field_service_minutes) leaks into a warning, in either language."""
    from triage.i18n import problem_text

    unconfirmed = [p for p in load(SHIPPED).problems if p.code == "unconfirmed"]
    assert any("service_minutes" in p.params["fields"] for p in unconfirmed)
    for problem in unconfirmed:
        for lang in ("da", "en"):
            assert "field_" not in problem_text(problem, lang)


def test_every_problem_is_reported_at_once(data_copy):
    edit(data_copy / F, 'next = "sick_followup" }', 'next = "nowhere" }')
    edit(data_copy / S, 'kind = "sygedagpenge"', 'kind = "sick"')
    # Both faults, and what the first one causes (sick_followup no longer reached), all at once.
    assert sorted((p.code, p.node) for p in load(data_copy).errors) == [
        ("bad_kind", "site jc-sdp"),
        ("unknown_target", "question sick"),
        ("unreachable", "outcome sick_followup"),
    ]


def test_load_or_raise_refuses_an_invalid_flow(data_copy):
    edit(data_copy / F, 'next = "sick_followup" }', 'next = "nowhere" }')
    with pytest.raises(FlowInvalid) as caught:
        load_or_raise(data_copy)
    assert sorted((p.code, p.node) for p in caught.value.problems) == [
        ("unknown_target", "question sick"),
        ("unreachable", "outcome sick_followup"),
    ]


def test_translator_cannot_break_routing(data_copy, flow):
    """Relabelling every option changes texts but not where the answers lead."""
    text = (data_copy / F).read_text(encoding="utf-8")
    (data_copy / F).write_text(
        text.replace('da = "Sygdom og sygedagpenge"', 'da = "Syg"'), encoding="utf-8"
    )
    relabelled = load_or_raise(data_copy)
    assert relabelled.questions["errand"].option(1).next == flow.questions["errand"].option(1).next
    assert relabelled.version != flow.version  # content changed, so does the version


def test_version_ignores_comments_and_layout(data_copy, flow):
    append(data_copy / F, "# en kommentar ændrer ikke versionen\n\n\n")
    assert load_or_raise(data_copy).version == flow.version


def test_a_walk_of_fifty_questions_is_allowed_not_more(data_copy):
    from tests.test_mangle import chain

    (data_copy / C).unlink()  # the shipped cases walk the shipped flow
    (data_copy / F).write_text(chain(50), encoding="utf-8")
    assert load(data_copy).ok
    (data_copy / F).write_text(chain(51), encoding="utf-8")
    (problem,) = load(data_copy).errors
    assert problem.code == "walk_too_long" and problem.params == {"length": 51, "max": 50}


def line_of(path, text: str) -> int:
    """The line a text starts on: the data files' comments grow, the tests need not follow."""
    return path.read_text(encoding="utf-8").split("\n").index(text) + 1


def test_a_missing_value_is_named_missing_not_none(data_copy):
    edit(data_copy / F, 'start = "errand"\n', "")
    edit(data_copy / S, 'default_site = "jc-skelbaek"\n', "")
    area, flow = line_of(data_copy / S, "[area]"), line_of(data_copy / F, "[flow]")
    texts = [problem_text(p) for p in load(data_copy).errors]
    assert texts == [
        f"sites.toml:{area} [area]: Feltet 'default_site' mangler.",
        f"flow.toml:{flow} [flow]: Feltet 'start' mangler.",
    ]


def test_a_value_of_the_wrong_kind_is_shown_as_written(data_copy):
    edit(data_copy / S, 'outside = "anden-kommune"', 'outside = ["anden-kommune", 2]')
    (problem,) = load(data_copy).errors
    assert problem_text(problem, "en") == (
        f"sites.toml:{line_of(data_copy / S, '[area]')} [area]: "
        "The field 'outside' must be a text in quotes, e.g. \"jc-nord\", "
        'but it says ["anden-kommune", 2].'
    )
