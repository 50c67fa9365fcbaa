"""The data files' parsed TOML, kept as JSON between starts: the same data, never stale.

The desk reads flow.toml, sites.toml and cases.toml on every start; parsing TOML is the costly
part, so what tomllib gave is kept in the user's cache folder, named by a hash of the text.
"""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import SHIPPED, edit
from triage import load as load_module
from triage.load import PARSED_CACHE_ENTRIES, _parse_toml, load


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """The folder the parsed files go to, inside this test's own cache folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "triage" / "parsed"


@pytest.fixture
def data(tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(SHIPPED, target)
    return target


def test_the_second_start_reads_the_cache_and_gets_the_same_flow(cache, data, monkeypatch):
    first = load(data, check_cases=True, keep_parsed=True)
    assert first.ok
    assert len(list(cache.glob("*.json"))) == 3  # flow, sites (with its dates) and cases
    # tomllib cannot be imported now: the second load reads JSON only.
    monkeypatch.setitem(sys.modules, "tomllib", None)
    second = load(data, check_cases=True, keep_parsed=True)
    assert second.ok and second.flow == first.flow and second.cases == first.cases


@pytest.mark.parametrize("name", ["flow.toml", "sites.toml", "cases.toml"])
def test_a_cached_file_gives_what_tomllib_gives(cache, name):
    text = (SHIPPED / name).read_text(encoding="utf-8")
    expected = tomllib.loads(text)
    assert _parse_toml(text) == expected  # parsed, and kept
    assert len(list(cache.glob("*.json"))) == 1
    again = _parse_toml(text)  # read back from the cache
    assert again == expected
    assert [type(v) for v in again.values()] == [type(v) for v in expected.values()]


def test_an_edited_file_is_read_again_even_with_its_old_time(cache, data):
    flow = data / "flow.toml"
    before = load(data, check_cases=False, keep_parsed=True).flow
    assert before is not None
    stamp = flow.stat()
    question = before.questions[before.start]
    old_text = question.text("da")
    edit(flow, f'"{old_text}"', '"Hvad drejer henvendelsen sig om i dag?"')
    os.utime(flow, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same time as before the edit
    after = load(data, check_cases=False, keep_parsed=True).flow
    assert after is not None
    assert after.questions[after.start].text("da") == "Hvad drejer henvendelsen sig om i dag?"


def test_dates_and_times_come_back_as_they_were(cache):
    text = (
        "day = 2026-12-24\nat = 07:30:00\nlocal = 2026-12-24T07:30:00\n"
        'aware = 2026-12-24T07:30:00+01:00\nlist = [2026-01-01, "2026-01-01"]\n'
    )
    expected = {
        "day": date(2026, 12, 24),
        "at": time(7, 30),
        "local": datetime(2026, 12, 24, 7, 30),
        "aware": datetime(2026, 12, 24, 7, 30, tzinfo=timezone(timedelta(hours=1))),
        "list": [date(2026, 1, 1), "2026-01-01"],
    }
    assert _parse_toml(text) == expected
    again = _parse_toml(text)
    assert again == expected and type(again["local"]) is datetime and type(again["day"]) is date
    assert again["aware"].utcoffset() == timedelta(hours=1)


def test_what_json_cannot_give_back_is_not_kept(cache):
    # NaN is not equal to itself, and a table shaped like a kept date must stay a table.
    for text in ("x = nan\n", 'x = { "\\u0000toml" = ["date", "2026-01-01"] }\n'):
        expected = tomllib.loads(text)
        assert str(_parse_toml(text)) == str(expected)
        assert str(_parse_toml(text)) == str(expected)
    assert list(cache.glob("*.json")) == []


def test_a_damaged_entry_is_parsed_again(cache, data):
    first = load(data, check_cases=True, keep_parsed=True)
    for entry in cache.glob("*.json"):
        entry.write_text('{"question": ', encoding="utf-8")  # cut short
    again = load(data, check_cases=True, keep_parsed=True)
    assert again.ok and again.flow == first.flow


def test_a_cache_that_cannot_be_written_only_costs_time(cache, data):
    cache.parent.mkdir(parents=True)
    cache.write_text("a file where the folder would be", encoding="utf-8")
    first = load(data, check_cases=True, keep_parsed=True)
    second = load(data, check_cases=True, keep_parsed=True)
    assert first.ok and second.ok and second.flow == first.flow


def test_syntax_errors_are_still_said_with_their_line(cache, data):
    (data / "flow.toml").write_text('start = "a"\n[question.a\n', encoding="utf-8")
    loaded = load(data, check_cases=False, keep_parsed=True)
    problems = [p for p in loaded.problems if p.code == "toml_syntax"]
    assert problems and problems[0].line == 2
    assert list(cache.glob("*.json")) == [] or all(
        "question" not in p.read_text(encoding="utf-8") for p in cache.glob("*.json")
    )


def test_the_cache_keeps_a_bounded_number_of_entries(cache):
    for number in range(PARSED_CACHE_ENTRIES + 5):
        _parse_toml(f"n = {number}\n")
    assert len(list(cache.glob("*.json"))) == PARSED_CACHE_ENTRIES
    assert load_module._parse_toml(f"n = {PARSED_CACHE_ENTRIES + 4}\n") == {
        "n": PARSED_CACHE_ENTRIES + 4
    }


def test_only_the_desk_and_the_kiosk_keep_the_parse(cache, data):
    # `triage validate` and the supervisors' commands read the files once: nothing is kept.
    assert load(data, check_cases=True).ok
    assert not cache.exists()
