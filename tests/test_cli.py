"""The command line, run as a person runs it: the installed `triage`, in a directory of its own."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import edit
from triage.cli import main


def installed_triage() -> str:
    """The console script of the environment running the tests (README: pip install '.[test]')."""
    script = Path(sys.executable).parent / "triage"
    found = str(script) if script.exists() else shutil.which("triage")
    assert found, "the triage command is not installed: run pip install '.[test]' first"
    return found


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [installed_triage(), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_installed_triage_finds_its_data_from_anywhere(tmp_path):
    """Packaging: the wheel carries data/ and the stylesheet, whatever the working directory."""
    done = run("validate", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    line, searched = done.stdout.splitlines()[:2]  # OK, then the searches in search.toml
    assert line.startswith("OK: 16 spørgsmål, 30 udfald, 39 cases, 23 advarsler")
    assert searched.startswith("Søgning: ")
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from triage import paths; print(paths.stylesheet().is_file(), "
            "(paths.default_data_dir() / 'flow.toml').is_file())",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.split() == ["True", "True"]


def test_validate_broken_copy_exits_1_with_named_problems(tmp_path, data_copy):
    edit(data_copy / "flow.toml", 'next = "sick_followup" }', 'next = "sick_folowup" }')
    done = run("validate", "--data", str(data_copy), cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "flow.toml:" in done.stdout and "[question sick]" in done.stdout
    assert "sick_folowup" in done.stdout


def test_validate_toml_error_never_a_traceback(tmp_path, data_copy):
    edit(data_copy / "sites.toml", 'kind = "sygedagpenge"', "kind = sygedagpenge")
    done = run("validate", "--data", str(data_copy), "--lang", "en", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "sites.toml:" in done.stdout and "The file is malformed" in done.stdout


def test_warnings_listed_on_request(capsys):
    assert main(["validate", "--warnings"]) == 0
    out = capsys.readouterr().out
    assert "Advarsler:" in out and "[site jc-nord]" in out
    assert "navn, adresse, telefonnummer, åbningstider" in out


def test_desk_refuses_a_failing_case(tmp_path, data_copy):
    edit(data_copy / "cases.toml", 'expect = "sick_documents"', 'expect = "sick_followup"')
    done = run("--data", str(data_copy), cwd=tmp_path)
    assert done.returncode == 1
    assert "[case Afleverer lægeerklæring]" in done.stderr and "sick_documents" in done.stderr


def test_desk_refuses_invalid_flow_and_says_why(tmp_path, data_copy):
    edit(data_copy / "flow.toml", 'start = "errand"', 'start = "begin"')
    done = run("--data", str(data_copy), cwd=tmp_path)
    assert done.returncode == 1
    assert "[flow]" in done.stderr and "begin" in done.stderr
    assert "triage validate" in done.stderr


def test_usage_error_exits_2(capsys):
    assert main(["validate", "--frobnicate"]) == 2
    assert "triage validate kender ikke '--frobnicate'" in capsys.readouterr().err


def test_tree_shows_every_outcome(flow, capsys):
    assert main(["validate", "--tree"]) == 0
    out = capsys.readouterr().out
    for outcome_id in flow.outcomes:
        assert f"[{outcome_id}]" in out
    tree = out.split("\nOK: ")[0].splitlines()
    assert tree[:3] == [
        "? Hvad drejer henvendelsen sig om? [errand]",
        "├── 1 Sygdom og sygedagpenge → ? Hvad har borgeren brug for? [sick]",
        "│   ├── 1 Opfølgning eller spørgsmål om sygemeldingen → ◆ Opfølgning på sygedagpenge "
        "[sick_followup] → Jobcenter Sygedagpenge",
    ]
    # One line per branch however long (never wrapped in a pipe), and no colour codes.
    assert all(line[:1] in "│├└ " for line in tree[1:]) and "\x1b" not in out
    branches = [
        len(q.options) if q.postcode is None else 1 + (q.postcode.declined != q.postcode.next)
        for q in flow.questions.values()
    ]
    assert len(tree) == 1 + sum(branches)  # each question's branches once, under the root


def test_tree_to_a_file_holds_the_tree_alone(tmp_path):
    """`validate --tree > file`: the verdict and the search check go to stderr, not the file."""
    done = run("validate", "--tree", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("? Hvad drejer henvendelsen sig om? [errand]")
    assert all(line[:1] in "?│├└ " for line in done.stdout.splitlines())
    assert "OK: " in done.stderr and "Søgning: " in done.stderr


def test_validate_warnings_show_no_catalogue_key(tmp_path):
    """Every word in `validate --warnings` is a text, never a raw key such as field_…"""
    import tomllib

    import triage

    for lang in ("da", "en"):
        done = run("validate", "--warnings", "--lang", lang, cwd=tmp_path)
        assert done.returncode == 0 and "service_minutes" in done.stdout
        catalogue = Path(triage.__file__).parent / "locale" / f"{lang}.toml"
        keys = {k for k in tomllib.loads(catalogue.read_text(encoding="utf-8")) if "_" in k}
        assert "field_service_minutes" in keys
        words = set(re.findall(r"[a-z][a-z0-9_]*", done.stdout + done.stderr))
        assert not keys & words


def test_mermaid_file_connects_every_node(flow, tmp_path, capsys):
    target = tmp_path / "flow.mmd"
    assert main(["validate", "--mermaid", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert text.startswith("flowchart TD")
    for question in flow.questions.values():
        for option in question.options:
            assert f'q_{question.id} -- "{option.key} ' in text
    for outcome_id in flow.outcomes:
        assert f"o_{outcome_id}[" in text


def test_mermaid_unwritable_path(tmp_path, capsys):
    assert main(["validate", "--mermaid", str(tmp_path / "no" / "such" / "dir.mmd")]) == 1
    assert "Kan ikke skrive" in capsys.readouterr().err


def test_route_prints_the_card(capsys):
    assert main(["route", "1", "2", "--at", "2026-11-26T16:30"]) == 0
    out = capsys.readouterr().out
    assert "Udfald: Lægeerklæring og papirer om sygdom" in out
    assert "Henvis til: Jobcenter Sygedagpenge" in out
    assert "Åbent i dag (torsdag): 09:00–17:00 — åbent nu" in out
    assert "Medbring:\n  - Lægeerklæringen eller papirerne" in out


def test_route_here_and_english(capsys):
    assert main(["route", "4", "2400", "1", "--site", "jc-musvaage", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Here: Jobcentre Copenhagen Musvågevej" in out


def test_route_json(capsys):
    assert main(["route", "2", "1", "2100", "--json", "--at", "2026-11-23T10:00"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["outcome_id"] == "apply_benefits"
    assert [s["site_id"] for s in card["stops"]] == ["jc-nord", "ys"]
    assert card["postcode"] == 2100 and card["handled_here"] is False
    assert card["path"] == ["errand:money", "money:apply_postcode", "apply_postcode:postcode"]
    assert len(card["flow_version"]) == 64


@pytest.mark.parametrize(
    "answers,expected",
    [
        (["4"], "Hvilket postnummer bor borgeren i?"),
        (["1"], "Næste svar kan være: 1 Opfølgning"),
        (["4", "24"], "'24' er ikke et postnummer"),
        (["9", "8"], "Tasten 8 findes ikke her"),
        (["1", "1", "1"], "Der er ikke flere spørgsmål"),
    ],
)
def test_route_explains_unfinished_or_wrong_answers(answers, expected, capsys):
    assert main(["route", *answers]) == 1
    assert expected in capsys.readouterr().err


def test_route_unknown_site(capsys):
    assert main(["route", "1", "1", "--site", "jc-amager"]) == 1
    assert "jc-amager" in capsys.readouterr().err


def test_store_commands_on_a_real_database(tmp_path, capsys, flow):
    from datetime import datetime

    from triage.db.store import Store
    from triage.visits import visit_from_result
    from triage.walk import route

    db = str(tmp_path / "later" / "cli.db")  # its folder is made once a visit has spooled
    spool = str(tmp_path / "spool")
    down = Store(db, desk="d1", spool_dir=tmp_path / "spool")
    old = visit_from_result(
        route(flow, ["1", "1"]),
        "jc-skelbaek",
        "d1",
        "in_person",
        3.0,
        datetime(2025, 6, 2, 9, 0, tzinfo=UTC),
    )
    assert down.record(old) == "spooled"

    assert main(["spool", "status", "--spool-dir", spool]) == 0
    assert "1 besøg og 0 annulleringer venter" in capsys.readouterr().out
    (tmp_path / "later").mkdir()
    assert main(["spool", "flush", "--db", db, "--spool-dir", spool]) == 0
    assert "Sendt: 1. Venter stadig: 0." in capsys.readouterr().out
    assert main(["check", "--db", db, "--spool-dir", spool]) == 0
    assert "integritet ok; 1 besøg, heraf 0 annulleret" in capsys.readouterr().out

    assert (
        main(["purge", "--before", "2026-01-01", "--dry-run", "--db", db, "--spool-dir", spool])
        == 0
    )
    assert (
        "Prøvekørsel: detaljerne om 1 besøg og 0 annullerede besøg før 2026-01-01 (antal dage: 1)"
        in capsys.readouterr().out
    )
    assert main(["purge", "--before", "2026-01-01", "--db", db, "--spool-dir", spool]) == 0
    assert "statistikken er uændret" in capsys.readouterr().out
    assert main(["purge", "--before", "2999-01-01", "--db", db]) == 1
    assert "ligger efter i dag" in capsys.readouterr().err
    assert main(["purge", "--before", "1/1/2025", "--db", db]) == 1
    assert "kan ikke læses" in capsys.readouterr().err


def test_check_on_a_database_that_cannot_be_opened(tmp_path, capsys):
    assert main(["check", "--db", str(tmp_path / "no" / "dir" / "x.db")]) == 1
    err = capsys.readouterr().err
    assert "findes ikke" in err and "Traceback" not in err  # check never creates a database
    (tmp_path / "folder.db").mkdir()
    assert main(["check", "--db", str(tmp_path / "folder.db")]) == 1
    err = capsys.readouterr().err
    assert "kan ikke bruges" in err and "Traceback" not in err


@pytest.fixture
def small_db(tmp_path) -> Path:
    db = tmp_path / "small.db"
    assert (
        main(["demo", "--db", str(db), "--days", "5", "--per-day", "40", "--end", "2026-11-23"])
        == 0
    )
    return db


@pytest.mark.parametrize(
    "fmt,visits", [("json", False), ("xlsx", False), ("json", True), ("xlsx", True), ("csv", True)]
)
def test_export_replaces_an_earlier_export_and_nothing_else(
    small_db, tmp_path, capsys, fmt, visits
):
    export = [
        "export",
        "--db",
        str(small_db),
        "--from",
        "2026-11-17",
        "--to",
        "2026-11-22",
        "--format",
        fmt,
        *(["--visits"] if visits else []),
    ]
    earlier = tmp_path / f"earlier.{fmt}"
    assert main([*export, "--out", str(earlier)]) == 0
    first = earlier.read_bytes()
    assert main([*export, "--out", str(earlier), "--lang", "en"]) == 0  # its own earlier export
    assert earlier.read_bytes() != first
    capsys.readouterr()

    # A file of the same name ending that triage did not write is the person's own: kept.
    notes = tmp_path / f"notes.{fmt}"
    notes.write_text("the planner's own notes")
    assert main([*export, "--out", str(notes)]) == 1
    err = capsys.readouterr().err
    assert str(notes) in err and "slet filen først" in err
    assert notes.read_text() == "the planner's own notes"

    # A link is refused, whatever it points at: nothing is written through it.
    for target in (earlier, notes):
        before = target.read_bytes()
        link = tmp_path / f"link-to-{target.stem}.{fmt}"
        link.symlink_to(target)
        assert main([*export, "--out", str(link)]) == 1
        assert "--out er et link; skriv stien til selve filen" in capsys.readouterr().err
        assert link.is_symlink() and target.read_bytes() == before

    pipe = tmp_path / f"pipe.{fmt}"
    os.mkfifo(pipe)
    assert main([*export, "--out", str(pipe)]) == 1
    assert "ikke en almindelig fil" in capsys.readouterr().err
    assert stat.S_ISFIFO(pipe.stat().st_mode)

    # A folder that does not exist is named, and not made.
    deep = tmp_path / "deep" / "a" / f"c.{fmt}"
    assert main([*export, "--out", str(deep)]) == 1
    assert f"Mappen {deep.parent} findes ikke" in capsys.readouterr().err
    assert not (tmp_path / "deep").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no .part left


def test_export_csv_tables_replace_only_their_own_files(small_db, tmp_path, capsys):
    export = [
        "export",
        "--db",
        str(small_db),
        "--format",
        "csv",
        "--from",
        "2026-11-17",
        "--to",
        "2026-11-22",
    ]
    folder = tmp_path / "tables"
    assert main([*export, "--out", str(folder)]) == 0
    files = sorted(folder.iterdir())
    assert main([*export, "--out", str(folder)]) == 0  # again: its own files are replaced
    assert sorted(folder.iterdir()) == files
    own = files[0]
    own.write_text("Ikke triages tal\n")
    assert main([*export, "--out", str(folder)]) == 1
    assert str(own) in capsys.readouterr().err and own.read_text() == "Ikke triages tal\n"
    link = tmp_path / "link-to-tables"
    link.symlink_to(folder)
    assert main([*export, "--out", str(link)]) == 1
    assert "--out er et link" in capsys.readouterr().err
    assert main([*export, "--out", str(tmp_path / "missing" / "tables")]) == 1
    assert "findes ikke" in capsys.readouterr().err and not (tmp_path / "missing").exists()


def test_read_only_commands_never_create_a_database(tmp_path, capsys):
    missing = tmp_path / "typo.db"
    for command in (
        ["summary"],
        ["check"],
        ["export", "--out", str(tmp_path / "x.xlsx")],
        ["rebalance", "--out", str(tmp_path / "p")],
        ["purge", "--before", "2020-01-01"],
    ):
        assert main([*command, "--db", str(missing)]) == 1
        assert f"Databasen {missing} findes ikke" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_is_memory_database():
    from argparse import Namespace

    from triage.cli import refuse_memory_db

    memory = (
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+pysqlite://",
        "sqlite:///file::memory:?uri=true",
        "sqlite:///file:x?mode=memory&uri=true",
    )
    files = (
        None,
        "triage.db",
        ":memory:",
        "sqlite:///triage.db",
        "sqlite:////tmp/x.db",
        "postgresql+psycopg://u@h/triage",
    )
    for db in memory:
        assert refuse_memory_db(Namespace(db=db, lang="en")), db
    for db in files:
        assert not refuse_memory_db(Namespace(db=db, lang="en")), db


# --- README's command synopsis and the parser ---------------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_synopsis() -> dict[str, str]:
    """README's synopsis (the first code block under "## Command line"), one entry per command
    ("" for options of `triage` itself), continuation lines joined to their command."""
    section = README.read_text(encoding="utf-8").split("\n## Command line\n", 1)[1]
    block = section.split("```\n", 2)[1]
    lines: list[str] = []
    for line in block.splitlines():
        if line.startswith(" "):
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    synopsis = {}
    for line in lines:
        words = line.split()
        assert words[0] == "triage", line
        second = words[1] if len(words) > 1 else ""
        command = "desk" if second == "[desk]" else "" if second.startswith("-") else second
        assert command not in synopsis, f"{command or 'triage'} is listed twice"
        synopsis[command] = line
    return synopsis


def parser_commands() -> dict[str, argparse.ArgumentParser]:
    """The parser's commands ("" for `triage` itself)."""
    from triage.cli import build_parser

    parser = build_parser()
    found = {"": parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    for name, command in list(found.items()):
        for action in command._actions:
            if name and isinstance(action, argparse._SubParsersAction):
                (found[name],) = action.choices.values()  # `db roles`: roles' own parser
    return found


def test_readme_synopsis_lists_every_command_and_option_the_parser_has_and_no_other():
    from triage.cli import COMMANDS

    synopsis, commands = readme_synopsis(), parser_commands()
    assert set(synopsis) == set(commands) == {"", *COMMANDS}
    for name, parser in commands.items():
        line = synopsis[name]
        # "[--site ID]": optional; "--out PATH": required ("triage --version": a form of its own);
        # "--lang da|en": its choices.
        listed = {
            m[1]: m for m in re.findall(r"(\[?)(--[a-z][a-z-]*)(?: ([\w-]+(?:\|[\w-]+)+))?", line)
        }
        options = {o: a for a in parser._actions for o in a.option_strings if o.startswith("--")}
        options.pop("--help")
        assert set(listed) == set(options), f"triage {name}: README and parser differ"
        for option, (bracket, _, choices) in listed.items():
            action = options[option]
            if name:
                assert action.required == (bracket == ""), f"triage {name} {option}: required?"
            if action.choices:
                assert set(choices.split("|")) == set(action.choices), f"triage {name} {option}"
        for action in parser._actions:
            if (
                not action.option_strings
                and action.choices
                and not isinstance(action, argparse._SubParsersAction)
            ):
                assert f" {'|'.join(action.choices)} " in line, f"triage {name} {action.dest}"


def test_the_desks_own_parser_reads_the_desk_as_the_whole_parser_does():
    """`triage desk` builds only its own parser (a quicker start): the same options, defaults
    and usage as the desk's part of the whole parser."""
    from triage.cli import build_parser

    own_commands = parser_commands_of(build_parser(only="desk"))
    assert set(own_commands) == {"desk"}
    whole, own = parser_commands_of(build_parser())["desk"], own_commands["desk"]

    def described(parser: argparse.ArgumentParser) -> list[tuple]:
        return [(a.option_strings, a.dest, a.default, a.choices, a.help) for a in parser._actions]

    assert described(own) == described(whole)
    assert own.format_help() == whole.format_help()
    words = ["desk", "--site", "ys", "--channel", "phone", "--training", "--lang", "en"]
    assert vars(build_parser(only="desk").parse_args(words)) == vars(
        build_parser().parse_args(words)
    )


def parser_commands_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_version_is_the_installed_package_metadata(tmp_path, monkeypatch, capsys):
    import importlib.metadata
    import tomllib

    declared = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"]["version"]
    done = run("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, f"triage {declared}\n")
    # Read from the metadata when asked, not written into the code a second time.
    monkeypatch.setattr(importlib.metadata, "version", lambda name: f"{name}-7.7.7")
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0 and capsys.readouterr().out == "triage triage-7.7.7\n"


@pytest.mark.parametrize(
    "lang,words,said",
    [
        (
            "da",
            ["--from", "2026-11-01", "--to", "2026-13-01"],
            "Datoen '2026-13-01' efter --to kan ikke læses",
        ),
        (
            "en",
            ["--from", "2026-13-01", "--to", "2026-11-30"],
            "The date '2026-13-01' after --from cannot be read",
        ),
        ("en", ["--to", "9999-12-31"], "The date '9999-12-31' after --to lies outside the years"),
    ],
)
def test_a_wrong_date_is_named_with_its_option(tmp_path, lang, words, said):
    done = run("summary", *words, "--lang", lang, "--db", str(tmp_path / "none.db"), cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(said) and len(done.stderr.splitlines()) == 1, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_every_wrong_date_option_is_named_once(tmp_path):
    done = run(
        "export",
        "--from",
        "2026-02-30",
        "--to",
        "31/12/2026",
        "--out",
        str(tmp_path / "x.xlsx"),
        "--lang",
        "en",
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert [line.split("'")[1:3] for line in done.stderr.splitlines()] == [
        ["2026-02-30", " after --from cannot be read. Write it as 2025-01-01."],
        ["31/12/2026", " after --to cannot be read. Write it as 2025-01-01."],
    ]
    # The last of a repeated option counts, as for any option.
    done = run(
        "purge",
        "--before",
        "2026-13-01",
        "--before",
        "2020-01-01",
        "--db",
        str(tmp_path / "none.db"),
        cwd=tmp_path,
    )
    assert done.returncode == 1 and "findes ikke" in done.stderr and "Datoen" not in done.stderr


def test_summary_and_export_share_one_inclusive_period(tmp_path, flow):
    """`--to 2026-10-31` is the last day in every format, as in the export's JSON; each format
    says the previous period's dates and whether demo visits are counted."""
    import csv
    import io

    from triage.db.store import Store
    from triage.visits import visit_from_result
    from triage.walk import route

    db = tmp_path / "period.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    at = datetime(2026, 10, 31, 10, 0, tzinfo=UTC)  # the period's last day
    result = route(flow, ["2", "2"], "jc-nord")
    store.record(visit_from_result(result, "jc-nord", "d", "in_person", 5.0, at))
    store.dispose()
    period = ("--from", "2026-10-01", "--to", "2026-10-31", "--db", str(db))

    done = run("summary", *period, "--format", "json", cwd=tmp_path)
    data = json.loads(done.stdout)
    assert (data["start"], data["end"]) == ("2026-10-01", "2026-10-31")
    assert (data["previous_start"], data["previous_end"]) == ("2026-09-01", "2026-09-30")
    assert data["include_demo"] is True and data["total"] == 1
    exported = tmp_path / "export.json"
    done = run("export", *period, "--format", "json", "--out", str(exported), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert (document["start"], document["end"]) == (data["start"], data["end"])

    done = run("summary", *period, "--format", "csv", "--no-demo", cwd=tmp_path)
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[1:6] == [
        ["start", "", "", "2026-10-01"],
        ["end", "", "", "2026-10-31"],
        ["previous_start", "", "", "2026-09-01"],
        ["previous_end", "", "", "2026-09-30"],
        ["include_demo", "", "", "no"],
    ]
    assert [row[1] for row in rows if row[0] == "other_means"] == [
        "home_by_visited",
        "referred",
        "busiest_hour",
        "share_over_time",
    ]
    assert (
        "postnummer" in dict((r[1], r[3]) for r in rows if r[0] == "other_means")["home_by_visited"]
    )
    assert ["change", "", "", ""] in rows and ["change", "jc-nord", "", ""] in rows  # none before
    assert ["misdirected", "", "", "0"] in rows and ["with_postcode", "", "", "0"] in rows
    assert ["busiest_hour", "jc-nord", "5 11", "1"] in rows  # Saturday 31 October, 11-12 local

    table = run("summary", *period, cwd=tmp_path).stdout
    assert table.startswith("Periode 2026-10-01 til og med 2026-10-31: 1 besøg; forrige periode")
    assert "(2026-09-01 til og med 2026-09-30)" in table and "Demobesøg er talt med" in table
    english = run("summary", *period, "--no-demo", "--lang", "en", cwd=tmp_path).stdout
    assert "(2026-09-01 to 2026-09-30 inclusive)" in english
    assert "Demo visits are left out." in english
