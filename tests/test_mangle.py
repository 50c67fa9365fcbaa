"""Broken data folders: every one gives named problems, never a traceback, in process and from
the real `triage validate` and `triage desk` (which must refuse before Textual is imported)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SHIPPED
from tests.test_cli import installed_triage
from triage.i18n import problem_text
from triage.load import load

F, S, C = "flow.toml", "sites.toml", "cases.toml"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what would move a terminal's cursor
Change = Callable[[Path], None]


def edit(old: str, new: str) -> Change:
    def change(path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        assert old in text, f"fixture text not found in {path.name}: {old!r}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return change


def add(extra: str) -> Change:
    return lambda path: path.write_text(
        path.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8"
    )


def top(extra: str) -> Change:
    """Before the first table: a key at the top level of the file."""
    return lambda path: path.write_text(
        extra + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8"
    )


def whole(content: str | bytes) -> Change:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return lambda path: path.write_bytes(data)


def encoded(encoding: str) -> Change:
    def change(path: Path) -> None:
        path.write_bytes(path.read_text(encoding="utf-8").encode(encoding, "replace"))

    return change


def cut(after: str) -> Change:
    """The file truncated in the middle of a line, as a full disk or a broken copy leaves it."""

    def change(path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        path.write_text(text[: text.index(after) + len(after)], encoding="utf-8")

    return change


def gone(path: Path) -> None:
    path.unlink()


def folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def chain(length: int) -> str:
    """A flow of `length` questions in a row, each with one answer leading to the next."""
    parts = ['[flow]\nstart = "q0"\ntitle = { da = "Kæde", en = "Chain" }\n']
    for i in range(length):
        parts.append(
            f'[question.q{i}]\ntext = {{ da = "Spørgsmål {i}", en = "Question {i}" }}\n'
            f'options = [ {{ key = 1, da = "Videre", en = "On", next = "q{i + 1}" }} ]\n'
        )
    parts.append(
        f'[outcome.q{length}]\ntitle = {{ da = "Slut", en = "End" }}\n'
        'destination = "ys"\nreason = { da = "Slut", en = "End" }\n'
    )
    return "".join(parts)


def catchment_a_number(path: Path) -> None:
    top("catchment = 5")(path)
    edit("[catchment.jobcenter]", "[catchments.jobcenter]")(path)
    edit("[catchment.social]", "[catchments.social]")(path)


MINI_FLOW = '[flow]\nstart = "errand"\ntitle = { da = "Modtagelsen", en = "Reception" }\n'
EXTRA_QUESTION = '[question.extra]\ntext = { da = "Hvad?", en = "What?" }\n'
EXTRA_OUTCOME = '[outcome.extra]\ntitle = { da = "Ekstra", en = "Extra" }\ndestination = "ys"\n'
SICK_TEXT = 'text = { da = "Hvad har borgeren brug for?", en = "What does the citizen need?" }'
POSTCODE_Q = '[question.sick_benefits_postcode]\ntype = "postcode"\ncatchment = "jobcenter"\n'
YS_NAME = 'name = { da = "Ydelsesservice", en = "Ydelsesservice (benefits administration)" }'
YS = '[site.ys]\nkind = "ydelsesservice"\n'
FIRST_CASE = 'name = "Sygemeldt til opfølgning"\nanswers = [1, 1]\nexpect = "sick_followup"\n'
FIRST_CASE_NODE = "case Sygemeldt til opfølgning"
HERE_CASE_NODE = "case Søger kontanthjælp ved skranken på Musvågevej uden postnummer"


@dataclass(frozen=True)
class Variant:
    name: str
    file: str  # the file changed, and the one the problem must name
    change: Change
    code: str  # a problem that must be among those reported
    node: str | None = None  # the node it must name, where there is one to name


VARIANTS = [
    # --- flow.toml: the file itself
    Variant("flow missing", F, gone, "file_missing"),
    Variant("flow is a folder", F, folder, "file_unreadable"),
    Variant("flow empty", F, whole(""), "missing_field", "flow"),
    Variant("flow binary garbage", F, whole(bytes(range(256)) * 4), "file_not_utf8"),
    Variant("flow in UTF-16", F, encoded("utf-16"), "file_not_utf8"),
    Variant("flow in Latin-1", F, encoded("latin-1"), "file_not_utf8"),
    Variant(
        "flow with NUL bytes", F, edit('start = "errand"', 'start = "err\0and"'), "toml_syntax"
    ),
    Variant("flow cut mid-line", F, cut('{ key = 1, da = "Sygdom og syg'), "toml_syntax"),
    Variant(
        "flow raw escape character",
        F,
        edit('da = "Modtagelsen"', 'da = "\x1b[31mModtagelsen"'),
        "toml_syntax",
    ),
    Variant(
        "flow duplicate table",
        F,
        add('[question.sick]\ntext = { da = "a", en = "b" }\n'),
        "toml_syntax",
    ),
    Variant(
        "flow duplicate key",
        F,
        edit('{ key = 1, da = "Sygdom', '{ key = 1, key = 2, da = "Sygdom'),
        "toml_syntax",
    ),
    # --- flow.toml: top-level tables of the wrong kind
    Variant("question = 5", F, whole("question = 5\n" + MINI_FLOW), "wrong_type", F),
    Variant("outcome = [1, 2]", F, whole("outcome = [1, 2]\n" + MINI_FLOW), "wrong_type", F),
    Variant('outcome = "o"', F, whole('outcome = "o"\n' + MINI_FLOW), "wrong_type", F),
    Variant("flow = text", F, whole('flow = "errand"\n'), "wrong_type", F),
    Variant("[[flow]]", F, edit("[flow]", "[[flow]]"), "wrong_type", F),
    Variant("question not a table", F, top("question.extra = 5"), "not_table", "question extra"),
    Variant("outcome not a table", F, top('outcome.extra = "ys"'), "not_table", "outcome extra"),
    # --- flow.toml: [flow]
    Variant("start missing", F, edit('start = "errand"\n', ""), "missing_field", "flow"),
    Variant("start = 5", F, edit('start = "errand"', "start = 5"), "wrong_type", "flow"),
    Variant(
        "start = list", F, edit('start = "errand"', 'start = ["errand"]'), "wrong_type", "flow"
    ),
    Variant(
        "title = 5",
        F,
        edit('title = { da = "Modtagelsen", en = "Reception" }', "title = 5"),
        "wrong_type",
        "flow",
    ),
    Variant(
        "title.da a list",
        F,
        edit('da = "Modtagelsen"', 'da = ["Modtagelsen"]'),
        "wrong_type",
        "flow",
    ),
    # --- flow.toml: questions and their options
    Variant("question text = 5", F, edit(SICK_TEXT, "text = 5"), "wrong_type", "question sick"),
    Variant(
        "question help a list",
        F,
        edit(SICK_TEXT, SICK_TEXT + "\nhelp = [1]"),
        "wrong_type",
        "question sick",
    ),
    Variant(
        "question keywords = 5",
        F,
        edit(SICK_TEXT, SICK_TEXT + "\nkeywords = 5"),
        "bad_keywords",
        "question sick",
    ),
    Variant(
        "options a text",
        F,
        add(EXTRA_QUESTION + 'options = "1 Ja"\n'),
        "option_not_table",
        "question extra",
    ),
    Variant(
        "option a number",
        F,
        add(EXTRA_QUESTION + "options = [5]\n"),
        "option_not_table",
        "question extra",
    ),
    Variant(
        "key a text",
        F,
        edit('{ key = 1, da = "Sygdom', '{ key = "1", da = "Sygdom'),
        "wrong_type",
        "question errand",
    ),
    Variant(
        "key true",
        F,
        edit('{ key = 1, da = "Sygdom', '{ key = true, da = "Sygdom'),
        "wrong_type",
        "question errand",
    ),
    Variant(
        "key 1.0",
        F,
        edit('{ key = 1, da = "Sygdom', '{ key = 1.0, da = "Sygdom'),
        "wrong_type",
        "question errand",
    ),
    Variant(
        "key missing",
        F,
        edit('{ key = 1, da = "Sygdom', '{ da = "Sygdom'),
        "missing_field",
        "question errand",
    ),
    Variant(
        "option next a list",
        F,
        edit('next = "sick" }', 'next = ["sick"] }'),
        "wrong_type",
        "question errand",
    ),
    Variant(
        "option next missing",
        F,
        edit(', next = "sick" }', " }"),
        "option_no_next",
        "question errand",
    ),
    Variant(
        "option id = 5",
        F,
        edit('{ key = 1, da = "Sygdom', '{ key = 1, id = 5, da = "Sygdom'),
        "wrong_type",
        "question errand",
    ),
    Variant(
        "option label a number",
        F,
        edit('da = "Sygdom og sygedagpenge"', "da = 5"),
        "wrong_type",
        "question errand",
    ),
    Variant(
        "type = 5",
        F,
        edit('type = "postcode"\ncatchment', "type = 5\ncatchment"),
        "wrong_type",
        "question sick_benefits_postcode",
    ),
    Variant(
        "type unknown",
        F,
        edit('type = "postcode"\ncatchment', 'type = "postnummer"\ncatchment'),
        "bad_question_type",
        "question sick_benefits_postcode",
    ),
    Variant(
        "catchment a list",
        F,
        edit(POSTCODE_Q, POSTCODE_Q.replace('"jobcenter"', '["jobcenter"]')),
        "wrong_type",
        "question sick_benefits_postcode",
    ),
    Variant(
        "catchment missing",
        F,
        edit(POSTCODE_Q, POSTCODE_Q.replace('catchment = "jobcenter"\n', "")),
        "missing_field",
        "question sick_benefits_postcode",
    ),
    Variant(
        "postcode next = 5",
        F,
        edit('next = "sick_on_benefits"', "next = 5"),
        "wrong_type",
        "question sick_benefits_postcode",
    ),
    Variant(
        "declined = 5",
        F,
        edit('next = "sick_on_benefits"', 'next = "sick_on_benefits"\ndeclined = 5'),
        "wrong_type",
        "question sick_benefits_postcode",
    ),
    Variant(
        "sites a nested list",
        F,
        edit('sites = ["jc-skelbaek"', 'sites = [["jc-nord"], "jc-skelbaek"'),
        "wrong_type",
        "question meeting_site",
    ),
    Variant(
        "sites a text",
        F,
        edit(
            'sites = ["jc-skelbaek", "jc-musvaage", "jc-nord", "jc-sdp", "ys"]', 'sites = "jc-nord"'
        ),
        "wrong_type",
        "question meeting_site",
    ),
    Variant(
        "sites with a table",
        F,
        edit('sites = ["jc-skelbaek"', 'sites = [{ id = "jc-nord" }, "jc-skelbaek"'),
        "wrong_type",
        "question meeting_site",
    ),
    Variant(
        "site list empty",
        F,
        edit('sites = ["jc-skelbaek", "jc-musvaage", "jc-nord", "jc-sdp", "ys"]', "sites = []"),
        "missing_field",
        "question meeting_site",
    ),
    # --- flow.toml: outcomes
    Variant(
        "destination = 5",
        F,
        edit('destination = "jc-sdp"', "destination = 5"),
        "wrong_type",
        "outcome sick_followup",
    ),
    Variant(
        "destination a table",
        F,
        edit('destination = "jc-sdp"', "destination = { a = 1 }"),
        "wrong_type",
        "outcome sick_followup",
    ),
    Variant(
        "destination list with a number",
        F,
        edit('destination = "jc-sdp"', 'destination = ["jc-sdp", 5]'),
        "wrong_type",
        "outcome sick_followup",
    ),
    Variant(
        "destination empty list",
        F,
        edit('destination = "jc-sdp"', "destination = []"),
        "no_destination",
        "outcome sick_followup",
    ),
    Variant(
        "reason a list", F, add(EXTRA_OUTCOME + 'reason = ["x"]\n'), "wrong_type", "outcome extra"
    ),
    Variant(
        "bring a text",
        F,
        add(EXTRA_OUTCOME + 'reason = { da = "a", en = "b" }\nbring = "ID"\n'),
        "bring_not_list",
        "outcome extra",
    ),
    Variant(
        "bring item a number",
        F,
        add(EXTRA_OUTCOME + 'reason = { da = "a", en = "b" }\nbring = [5]\n'),
        "wrong_type",
        "outcome extra",
    ),
    Variant(
        "misspelt outcome field",
        F,
        edit(
            'title = { da = "Opfølgning på sygedagpenge"',
            'titel = { da = "Opfølgning på sygedagpenge"',
        ),
        "unknown_field",
        "outcome sick_followup",
    ),
    # --- flow.toml: references to nothing, and shapes no desk can walk
    Variant(
        "next to nothing",
        F,
        edit('next = "sick_followup" }', 'next = "nowhere" }'),
        "unknown_target",
        "question sick",
    ),
    Variant(
        "destination to nothing",
        F,
        edit('destination = "jc-sdp"', 'destination = "jc-nowhere"'),
        "unknown_destination",
        "outcome sick_followup",
    ),
    Variant(
        "catchment group to nothing",
        F,
        edit(POSTCODE_Q, POSTCODE_Q.replace('"jobcenter"', '"jobs"')),
        "unknown_catchment",
        "question sick_benefits_postcode",
    ),
    Variant(
        "start to nothing", F, edit('start = "errand"', 'start = "begin"'), "bad_start", "flow"
    ),
    Variant("3000-question chain", F, whole(chain(3000)), "walk_too_long", "flow"),
    Variant("deeply nested arrays", F, top("deep = " + "[" * 5000 + "]" * 5000), "too_deep"),
    Variant("nested arrays past the limit", F, top("deep = " + "[" * 20 + "]" * 20), "too_deep"),
    Variant("deeply nested header", F, add("[" + ".".join(["a"] * 200) + "]\n"), "too_deep"),
    # --- flow.toml: control characters
    Variant(
        "escape sequence in a title",
        F,
        edit('da = "Modtagelsen"', 'da = "\\u001b[31mModtagelsen"'),
        "control_character",
        "flow",
    ),
    Variant(
        "backspace in an option",
        F,
        edit('da = "Sygdom og sygedagpenge"', 'da = "Sygdom\\b\\bsyg"'),
        "control_character",
        "question errand",
    ),
    Variant(
        "escape in a question id",
        F,
        add('[question."err\\u001band"]\ntext = { da = "a", en = "b" }\n'),
        "control_character",
    ),
    Variant(
        "raw CSI in a reason",
        F,
        edit("Jobcenter Sygedagpenge følger op", "Jobcenter \u009b2J følger op"),
        "control_character",
        "outcome sick_followup",
    ),
    # --- sites.toml
    Variant("sites missing", S, gone, "file_missing"),
    Variant("sites empty", S, whole(""), "no_sites"),
    Variant("sites not UTF-8", S, encoded("latin-1"), "file_not_utf8"),
    Variant("site = 3", S, whole("site = 3\n"), "wrong_type", S),
    Variant("site not a table", S, top("site.extra = 5"), "not_table", "site extra"),
    Variant("area = 5", S, edit("[area]\n", "area = 5\n[area_was]\n"), "wrong_type", S),
    Variant("area missing", S, edit("[area]\n", "[areas]\n"), "missing_field", "area"),
    Variant(
        "postcodes a list",
        S,
        edit('postcodes = "1000-2990"', "postcodes = [1000, 2990]"),
        "bad_area",
        "area",
    ),
    Variant("postcodes missing", S, edit('postcodes = "1000-2990"\n', ""), "missing_field", "area"),
    Variant(
        "outside a list",
        S,
        edit('outside = "anden-kommune"', 'outside = ["anden-kommune"]'),
        "wrong_type",
        "area",
    ),
    Variant(
        "default_site a table",
        S,
        edit('default_site = "jc-skelbaek"', 'default_site = { id = "jc-nord" }'),
        "wrong_type",
        "area",
    ),
    Variant(
        "default_site missing",
        S,
        edit('default_site = "jc-skelbaek"\n', ""),
        "missing_field",
        "area",
    ),
    Variant(
        "default_site to nothing",
        S,
        edit('default_site = "jc-skelbaek"', 'default_site = "jc-x"'),
        "unknown_site_ref",
        "area",
    ),
    Variant(
        "kind a list", S, edit(YS, '[site.ys]\nkind = ["ydelsesservice"]\n'), "bad_kind", "site ys"
    ),
    Variant("kind missing", S, edit(YS, "[site.ys]\n"), "missing_field", "site ys"),
    Variant("name = 5", S, edit(YS_NAME, "name = 5"), "wrong_type", "site ys"),
    Variant(
        "name one language",
        S,
        edit(YS_NAME, 'name = "Ydelsesservice"'),
        "missing_translation",
        "site ys",
    ),
    Variant(
        "address = 5",
        S,
        edit(
            YS + YS_NAME + "\n# Kun postadressen er kendt; ring for at aftale et møde."
            '\naddress = { da = "Postboks 210, 1502 København V (postadresse)", '
            'en = "PO Box 210, 1502 København V (postal address)" }',
            YS + YS_NAME + "\naddress = 5",
        ),
        "wrong_type",
        "site ys",
    ),
    Variant(
        "phone a number",
        S,
        edit('phone = "82 56 40 00"', "phone = 82564000"),
        "wrong_type",
        "site ys",
    ),
    Variant(
        "note a list",
        S,
        edit('note = { da = "Særlig funktion', 'note = ["x"]\nnot = { da = "Særlig funktion'),
        "wrong_type",
        "site jc-musvaage",
    ),
    Variant(
        "hours a text",
        S,
        edit(
            'phone = "82 56 40 00"\nhours = {', 'phone = "82 56 40 00"\nhours = "09-15"\nhourz = {'
        ),
        "hours_not_table",
        "site ys",
    ),
    Variant(
        "hours a number",
        S,
        edit(
            'phone = "82 56 40 00"\nhours = { mon = "09:00-15:00"',
            'phone = "82 56 40 00"\nhours = { mon = 9',
        ),
        "hours_bad_window",
        "site ys",
    ),
    Variant(
        "hours in full-width digits",
        S,
        edit(
            'phone = "82 56 40 00"\nhours = { mon = "09:00-15:00"',
            'phone = "82 56 40 00"\nhours = { mon = "０９:００-15:00"',
        ),
        "hours_bad_window",
        "site ys",
    ),
    Variant(
        "target_share a text",
        S,
        edit("target_share = 0.40", 'target_share = "0.40"'),
        "bad_share",
        "site jc-skelbaek",
    ),
    Variant(
        "target_share true",
        S,
        edit("target_share = 0.40", "target_share = true"),
        "bad_share",
        "site jc-skelbaek",
    ),
    Variant(
        "capacity 6.5",
        S,
        edit("capacity = 6\nservice_minutes = 5", "capacity = 6.5\nservice_minutes = 5"),
        "bad_capacity",
        "site ys",
    ),
    Variant(
        "capacity true",
        S,
        edit("capacity = 6\nservice_minutes = 5", "capacity = true\nservice_minutes = 5"),
        "bad_capacity",
        "site ys",
    ),
    Variant(
        "service_minutes a text",
        S,
        edit("service_minutes = 5", 'service_minutes = "5"'),
        "bad_service_minutes",
        "site ys",
    ),
    Variant(
        "unconfirmed a text",
        S,
        edit(
            'service_minutes = 5\nunconfirmed = ["hours", "service_minutes"]',
            'service_minutes = 5\nunconfirmed = "hours"',
        ),
        "bad_unconfirmed",
        "site ys",
    ),
    Variant("catchment = 5", S, catchment_a_number, "wrong_type", S),
    Variant(
        "catchment group not a table",
        S,
        edit("[catchment.jobcenter]\n", "[catchment]\nextra = 5\n[catchment.jobcenter]\n"),
        "not_table",
        "catchment extra",
    ),
    Variant(
        "catchment range a float",
        S,
        edit('sc-valby = ["2500"]', "sc-valby = 2500.0"),
        "catchment_bad_range",
        "catchment social",
    ),
    Variant(
        "catchment range nested",
        S,
        edit('sc-valby = ["2500"]', 'sc-valby = [["2500"]]'),
        "catchment_bad_range",
        "catchment social",
    ),
    Variant(
        "catchment range true",
        S,
        edit('sc-valby = ["2500"]', "sc-valby = true"),
        "catchment_bad_range",
        "catchment social",
    ),
    Variant(
        "catchment in full-width digits",
        S,
        edit('sc-valby = ["2500"]', 'sc-valby = ["２５００"]'),
        "catchment_bad_range",
        "catchment social",
    ),
    Variant(
        "catchment in Arabic-Indic digits",
        S,
        edit('sc-valby = ["2500"]', 'sc-valby = ["٢٥٠٠"]'),
        "catchment_bad_range",
        "catchment social",
    ),
    Variant(
        "catchment to nothing",
        S,
        edit('sc-valby = ["2500"]', 'sc-valbi = ["2500"]'),
        "catchment_unknown_site",
        "catchment social",
    ),
    Variant(
        "escape sequence in an address",
        S,
        edit(
            'address = "Nørre Voldgade 15, København K"',
            'address = "Nørre \\u001b]0;x\\u0007Voldgade 15"',
        ),
        "control_character",
        "site sc-indre-by",
    ),
    Variant("site duplicate key", S, edit(YS, YS + 'kind = "social"\n'), "toml_syntax"),
    # --- cases.toml
    Variant("case = 5", C, whole("case = 5\n"), "wrong_type", "case"),
    Variant(
        "[case] one table",
        C,
        whole('[case]\nname = "x"\nanswers = [1, 1]\nexpect = "sick_followup"\n'),
        "wrong_type",
        "case",
    ),
    Variant("case = [[1]]", C, whole("case = [[1]]\n"), "wrong_type", "case #1"),
    Variant(
        "case name = 5",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace('"Sygemeldt til opfølgning"', "5")),
        "wrong_type",
        "case #1",
    ),
    Variant(
        "case answers a text",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace("[1, 1]", '"1 1"')),
        "wrong_type",
        FIRST_CASE_NODE,
    ),
    Variant(
        "case answers with a float",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace("[1, 1]", "[1.0, 1]")),
        "wrong_type",
        FIRST_CASE_NODE,
    ),
    Variant(
        "case answers with true",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace("[1, 1]", "[true, 1]")),
        "wrong_type",
        FIRST_CASE_NODE,
    ),
    Variant(
        "case answers nested",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace("[1, 1]", "[[1], 1]")),
        "wrong_type",
        FIRST_CASE_NODE,
    ),
    Variant(
        "case answers missing",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace("answers = [1, 1]\n", "")),
        "missing_field",
        FIRST_CASE_NODE,
    ),
    Variant(
        "case expect = 5",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace('"sick_followup"', "5")),
        "wrong_type",
        FIRST_CASE_NODE,
    ),
    Variant(
        "case expect missing",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace('expect = "sick_followup"\n', "")),
        "missing_field",
        FIRST_CASE_NODE,
    ),
    Variant(
        "case site = 5",
        C,
        edit(FIRST_CASE + 'site = "jc-sdp"', FIRST_CASE + "site = 5"),
        "wrong_type",
        FIRST_CASE_NODE,
    ),
    Variant(
        "case here a list",
        C,
        edit('here = "jc-musvaage"', 'here = ["jc-musvaage"]'),
        "wrong_type",
        HERE_CASE_NODE,
    ),
    Variant(
        "case here to nothing",
        C,
        edit('here = "jc-musvaage"', 'here = "jc-x"'),
        "unknown_site_ref",
        HERE_CASE_NODE,
    ),
    Variant(
        "case expects nothing",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace('"sick_followup"', '"nothing"')),
        "case_wrong_outcome",
        FIRST_CASE_NODE,
    ),
    Variant(
        "case full-width postcode",
        C,
        edit('answers = [1, 4, "2720"]', 'answers = [1, 4, "２７２０"]'),
        "case_failed_answer",
        "case Syg på kontanthjælp, bor i Vanløse",
    ),
    Variant(
        "case Arabic-Indic postcode",
        C,
        edit('answers = [1, 4, "2720"]', 'answers = [1, 4, "٢٧٢٠"]'),
        "case_failed_answer",
        "case Syg på kontanthjælp, bor i Vanløse",
    ),
    Variant(
        "case Arabic-Indic key",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace("[1, 1]", '["١", 1]')),
        "case_failed_answer",
        FIRST_CASE_NODE,
    ),
    Variant(
        "case superscript key",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace("[1, 1]", '["²", 1]')),
        "case_failed_answer",
        FIRST_CASE_NODE,
    ),
    Variant(
        "case misspelt field",
        C,
        edit(FIRST_CASE, FIRST_CASE.replace("expect", "expected")),
        "unknown_field",
        FIRST_CASE_NODE,
    ),
    Variant(
        "escape sequence in a case name",
        C,
        edit('"Sygemeldt til opfølgning"', '"Syg\\u001b[2Jmeldt"'),
        "control_character",
        "case #1",
    ),
    Variant("cases binary garbage", C, whole(b"\x00\xff\xfe" * 100), "file_not_utf8"),
    Variant("cases syntax error", C, edit("answers = [1, 1]", "answers = [1, 1"), "toml_syntax"),
]


def _make(tmp_path: Path, variant: Variant) -> Path:
    data = tmp_path / "data"
    shutil.copytree(SHIPPED, data)
    variant.change(data / variant.file)
    return data


def test_enough_variants_of_each_file():
    assert len(VARIANTS) >= 60
    assert len({v.name for v in VARIANTS}) == len(VARIANTS)
    assert all(sum(v.file == f for v in VARIANTS) >= 15 for f in (F, S, C))


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_load_names_the_problem(tmp_path, variant):
    loaded = load(_make(tmp_path, variant))  # never raises
    assert not loaded.ok
    found = [p for p in loaded.errors if p.code == variant.code and p.file == variant.file]
    got = [(p.file, p.code, p.node) for p in loaded.errors]
    assert found, f"expected {variant.code}, got {got}"
    if variant.node is not None:
        assert variant.node in [p.node for p in found], [p.node for p in found]
    for problem in loaded.problems:
        for lang in ("da", "en"):
            text = problem_text(problem, lang)
            assert problem.file in text
            assert not CONTROL.search(text)  # nothing from the file moves the terminal's cursor
            message = text.split(": ", 1)[1]
            # Every placeholder filled ("{ a = 1 }" is a value as the file wrote it).
            assert "{" not in message.replace("{ ", "").replace("{}", ""), text
            assert "None" not in message, text  # a missing value is named as missing


# Every variant runs as real commands too; the cheap checks above already passed for them.
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_validate_and_desk_refuse_with_named_problems(tmp_path, variant):
    data = _make(tmp_path, variant)
    lang = "en" if VARIANTS.index(variant) % 2 else "da"
    expected = [problem_text(p, lang) for p in load(data).errors if p.code == variant.code]
    # Both commands at once: the machine has two cores, and this file runs 256 commands.
    validate = _start(tmp_path, "validate", "--data", str(data), "--lang", lang)
    # The desk runs the same checks and refuses before Textual is even imported.
    desk = _start(
        tmp_path,
        "desk",
        "--data",
        str(data),
        "--lang",
        lang,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
    )
    validate_out, validate_err = validate.communicate(timeout=60)
    desk_out, desk_err = desk.communicate(timeout=60)
    assert validate.returncode == 1
    assert "Traceback" not in validate_out + validate_err
    assert any(line in validate_out for line in expected), validate_out
    imports = [line for line in desk_err.splitlines() if line.startswith("import time:")]
    said = "\n".join(line for line in desk_err.splitlines() if not line.startswith("import time:"))
    assert desk.returncode == 1
    assert "Traceback" not in said + desk_out
    assert any(line in said for line in expected), said
    assert imports and not any("textual" in line for line in imports)
    assert not CONTROL.search(validate_out + said)


def _start(cwd: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [installed_triage(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
        env=env,
    )


def test_byte_order_mark_is_accepted(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SHIPPED, data)
    for name in (F, S, C):
        path = data / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    loaded = load(data)
    assert loaded.ok, [problem_text(p) for p in loaded.errors]
    assert loaded.flow is not None and len(loaded.cases) == len(load(SHIPPED).cases)
    assert loaded.flow.version == load(SHIPPED).flow.version  # the same content
    done = subprocess.run(
        [installed_triage(), "validate", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0 and done.stdout.startswith("OK:"), done.stdout + done.stderr


def test_control_character_names_file_line_node_and_field(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SHIPPED, data)
    edit('da = "Sygdom og sygedagpenge"', 'da = "Sygdom \\u001b[31mog sygedagpenge"')(data / F)
    (problem,) = load(data).errors
    assert (problem.code, problem.file, problem.node) == ("control_character", F, "question errand")
    assert problem.params["field"] == "options[1].da" and problem.params["char"] == "U+001B"
    line = (data / F).read_text(encoding="utf-8").split("\n")[problem.line - 1]
    assert "\\u001b" in line
    text = problem_text(problem, "en")
    assert text.startswith(f"{F}:{problem.line} [question errand]: The field")


def test_postcode_in_other_digits_is_refused_by_route(tmp_path):
    """`triage route 2 1 ２１００`: a postcode is four ASCII digits, not digits that look like
    them."""
    for postcode in ("２１００", "٢١٠٠", "²¹⁰⁰"):
        done = subprocess.run(
            [installed_triage(), "route", "2", "1", postcode],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert f"'{postcode}' er ikke et postnummer" in done.stderr
    for key in ("٢", "２", "²"):
        done = subprocess.run(
            [installed_triage(), "route", key],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert f"'{key}' er ikke en tast" in done.stderr
