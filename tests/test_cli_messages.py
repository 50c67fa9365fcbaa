"""What the command line says when a file, the database or a period cannot be used: real
faults (a folder the user may not write in, a file where a folder should be, a database file
with damaged pages, a period after today), each command run as a person runs it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from triage.present import local_now

ROOT = Path(__file__).resolve().parent.parent
# What the system and SQLite say in English: never inside a Danish message.
ENGLISH = ("Operation not permitted", "Permission denied", "Not a directory", "malformed")


def _triage(*args: str, cwd: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "triage", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(cwd)},
    )


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("db")
    end = (local_now().date() + timedelta(days=1)).isoformat()
    done = _triage(
        "demo", "--db", "small.db", "--days", "20", "--per-day", "40", "--end", end, cwd=folder
    )
    assert done.returncode == 0, done.stderr
    return folder / "small.db"


def _no_right_to_write() -> tuple[str, ...]:
    """A prefix that takes root's right to write anywhere from the command, so a folder's mode
    counts for it as for anyone else."""
    if os.geteuid() != 0:
        return ()
    if not shutil.which("setpriv"):
        pytest.skip("root without setpriv writes anywhere")
    return ("setpriv", "--bounding-set=-dac_override,-dac_read_search")


WRITERS = {
    "export-xlsx": ["export", "--out", "{out}.xlsx"],
    "export-csv-folder": ["export", "--format", "csv", "--out", "{out}"],
    "export-visits": ["export", "--visits", "--format", "csv", "--out", "{out}.csv"],
    "report": ["report", "--month", "{month}", "--out", "{out}.html"],
    "rebalance": ["rebalance", "--out", "{out}"],
}


def _words(command: str, out: str, db: Path) -> list[str]:
    month = (local_now().date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    words = [w.format(out=out, month=month) for w in WRITERS[command]]
    return [*words, "--db", str(db)]


@pytest.mark.parametrize("command", WRITERS)
def test_a_folder_the_user_may_not_write_in_is_said_as_such(tmp_path, small_db, command):
    prefix = _no_right_to_write()
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    try:
        done = _triage(*_words(command, "ro/ud", small_db), cwd=tmp_path, prefix=prefix)
    finally:
        (tmp_path / "ro").chmod(0o755)
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("Kunne ikke skrive ro/ud"), line  # as typed, not a hidden .part
    assert ".part" not in line and "du har ikke lov til at skrive der" in line
    assert "en mappe, du må skrive i" in line and "frigør plads" not in line
    assert not any(english in line for english in ENGLISH), line
    assert list((tmp_path / "ro").iterdir()) == []


@pytest.mark.parametrize("command", WRITERS)
def test_a_file_where_a_folder_should_be_is_named(tmp_path, small_db, command):
    (tmp_path / "notes.xlsx").write_text("the planner's own notes\n")
    done = _triage(*_words(command, "notes.xlsx/ud", small_db), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "notes.xlsx er en fil, ikke en mappe" in line, line
    assert "ret --out" in line and "frigør plads" not in line and ".part" not in line
    assert not any(english in line for english in ENGLISH), line
    assert (tmp_path / "notes.xlsx").read_text() == "the planner's own notes\n"


def test_english_write_failure_says_the_cause_in_english(tmp_path, small_db):
    (tmp_path / "notes.xlsx").write_text("notes\n")
    done = _triage(*_words("export-xlsx", "notes.xlsx/ud", small_db), "--lang", "en", cwd=tmp_path)
    assert "Could not write notes.xlsx/ud.xlsx: notes.xlsx is a file, not a folder" in done.stderr
    assert "Nothing was written; correct --out" in done.stderr


@pytest.fixture(scope="module")
def damaged_db(small_db, tmp_path_factory) -> Path:
    """A copy whose pages after the first (the header and the schema) are overwritten."""
    damaged = tmp_path_factory.mktemp("damaged") / "dmg.db"
    shutil.copy(small_db, damaged)
    with open(damaged, "r+b") as file:
        file.seek(4096)
        file.write(b"\xff" * (damaged.stat().st_size - 4096))
    return damaged


@pytest.mark.parametrize("lang", ["da", "en"])
@pytest.mark.parametrize(
    "words",
    [
        ["summary"],
        ["export", "--out", "ud.xlsx"],
        ["export", "--visits", "--out", "ud.csv", "--format", "csv"],
    ],
    ids=["summary", "export", "export-visits"],
)
@pytest.mark.parametrize("as_url", [False, True], ids=["path", "url"])
def test_a_damaged_database_is_named_by_its_path_and_told_to_restore(
    tmp_path, damaged_db, words, as_url, lang
):
    db = f"sqlite:///{damaged_db}" if as_url else str(damaged_db)
    done = _triage(*words, "--db", db, "--lang", lang, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f" {damaged_db} " in line and "sqlite:" not in line, line
    said = {
        "da": ("er beskadiget: dele af filen kan ikke læses", "Læg den seneste sikkerhedskopi"),
        "en": ("is damaged: parts of the file cannot be read", "Restore the latest backup"),
    }[lang]
    assert all(piece in line for piece in said), line
    assert not any(english in line for english in ENGLISH), line
    assert not (tmp_path / "ud.xlsx").exists() and not (tmp_path / "ud.csv").exists()


@pytest.mark.parametrize(
    "words",
    [
        ["summary"],
        ["summary", "--format", "json"],
        ["export", "--out", "fut.xlsx"],
        ["rebalance", "--out", "forslag"],
    ],
    ids=["summary", "summary-json", "export", "rebalance"],
)
def test_a_period_that_begins_after_today_is_refused(tmp_path, small_db, words):
    today = local_now().date()
    start, end = today + timedelta(days=32), today + timedelta(days=62)
    done = _triage(
        *words, "--db", str(small_db), "--from", str(start), "--to", str(end), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert f"Perioden begynder {start}, efter i dag ({today})" in done.stderr
    assert done.stdout == "" and list(tmp_path.iterdir()) == []


def test_a_period_that_ends_after_today_is_cut_at_today_and_says_so(tmp_path, small_db):
    today = local_now().date()
    start, end = today - timedelta(days=6), today + timedelta(days=10)
    done = _triage(
        "summary",
        "--format",
        "json",
        "--db",
        str(small_db),
        "--lang",
        "en",
        "--from",
        str(start),
        "--to",
        str(end),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"The period ends {end}, after today" in done.stderr and str(today) in done.stderr
    summary = json.loads(done.stdout)
    assert (summary["start"], summary["end"]) == (str(start), str(today))
    done = _triage(
        "export",
        "--format",
        "json",
        "--out",
        "ud.json",
        "--db",
        str(small_db),
        "--from",
        str(start),
        "--to",
        str(end),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"Perioden slutter {end}, efter i dag" in done.stderr
    assert str(end) not in (tmp_path / "ud.json").read_text()


def test_only_from_after_today_says_the_end_is_today(tmp_path, small_db):
    today = local_now().date()
    start = today + timedelta(days=1)
    done = _triage("summary", "--db", str(small_db), "--from", str(start), cwd=tmp_path)
    assert done.returncode == 1
    assert f"({start}) efter den slutter ({today}): uden --to slutter den i dag" in done.stderr


@pytest.mark.parametrize("option", ["--wait-minutes", "--wait-share"])
def test_a_number_is_echoed_as_typed(tmp_path, small_db, option):
    done = _triage("export", "--out", "ud.xlsx", "--db", str(small_db), option, "-1", cwd=tmp_path)
    assert done.returncode == 1
    assert "ikke -1" in done.stderr and "-1.0" not in done.stderr, done.stderr


def _add_visit(store, flow, day: date, demo: bool) -> None:
    from triage.visits import visit_from_result
    from triage.walk import route

    at = datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)
    visit = visit_from_result(
        route(flow, ["2", "2"], here="jc-nord"), "jc-nord", "d", "in_person", 10.0, at
    )
    visit["demo"] = demo
    assert store.record(visit) == "saved"


def test_a_previous_period_before_the_log_begins_is_said(store, flow):
    """The log's first day counted on each engine (demo visits only when they are counted):
    a previous period that begins before it is marked, one inside it is not."""
    from triage.report import previous_complete, summary_csv, summary_json, summary_table
    from triage.stats import Filters, summarize

    _add_visit(store, flow, date(2026, 9, 10), demo=True)
    _add_visit(store, flow, date(2026, 10, 5), demo=False)
    _add_visit(store, flow, date(2026, 11, 2), demo=False)
    start, end = date(2026, 10, 20), date(2026, 11, 20)  # previous: 2026-09-18 … 10-19
    for include_demo, first, complete in ((True, "2026-09-10", True), (False, "2026-10-05", False)):
        summary = summarize(store, flow.sites, start, end, Filters(include_demo=include_demo))
        assert summary.log_start == first and previous_complete(summary) is complete
        data = json.loads(summary_json(summary, flow.sites, "da", include_demo))
        assert (data["previous_complete"], data["log_start"]) == (complete, first)
        rows = summary_csv(summary, flow.sites, "da", include_demo).splitlines()
        assert f"previous_complete,,,{'yes' if complete else 'no'}" in rows
        assert f"log_start,,,{first}" in rows
        table = summary_table(summary, flow.sites, "en", include_demo)
        partial = f"The log only begins {first}: the previous period is counted from that day"
        assert (partial in " ".join(table.split())) is not complete


def test_an_empty_log_has_no_start_and_no_verdict_on_the_previous_period(store, flow):
    from triage.report import previous_complete, summary_json
    from triage.stats import summarize

    summary = summarize(store, flow.sites, date(2026, 10, 1), date(2026, 11, 1))
    assert summary.log_start is None and previous_complete(summary) is None
    assert json.loads(summary_json(summary, flow.sites))["previous_complete"] is None


def test_readme_names_this_schema_version():
    from triage.db.migrations import SCHEMA_VERSION, WRITABLE_FROM

    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    said = f"This version is schema {SCHEMA_VERSION}, writable from {WRITABLE_FROM}."
    assert said in readme


# --- where the database came from: --db, TRIAGE_DB_URL or the settings file ---------------

SERVER_PASSWORD = "Hemmelig7kode"
# Each bad database value, and the command that fails on it with what it says (Danish).
BAD_DATABASES = {
    "missing": ("{tmp}/nowhere/triage.db", ["summary"], "findes ikke"),
    "folder-export": ("{tmp}/a-folder", ["export", "--out", "ud.xlsx"], "kan ikke bruges"),
    "not-sqlite": ("{tmp}/notes.txt", ["check"], "er ikke en triage-database"),
    "server-down": (
        f"postgresql+psycopg://skranke:{SERVER_PASSWORD}@127.0.0.1:1/triage",
        ["queue", "status"],
        "kan ikke bruges: ",
    ),
    "unknown-kind": ("bogus://server/triage", ["spool", "flush"], "kan ikke bruges som database"),
    "in-memory": ("sqlite://", ["export", "--out", "ud.csv", "--format", "csv"], "i hukommelsen"),
    "folder-board": ("{tmp}/a-folder", ["board"], "er en mappe, ikke en databasefil"),
    "folder-desk": ("{tmp}/a-folder", ["desk"], "er en mappe, ikke en databasefil"),
    "folder-kiosk": ("{tmp}/a-folder", ["kiosk"], "er en mappe, ikke en databasefil"),
    "roles-sqlite": ("{tmp}/notes.txt", ["db", "roles", "--apply"], "Roller findes kun på"),
    "serve-in-memory": (
        "sqlite://",
        ["serve", "--role", "desk", "--port", "{port}"],
        "hukommelsen",
    ),
}
SAID_SOURCE = {
    "option": "Den er angivet med --db.",
    "environment": "Den er angivet i miljøvariablen TRIAGE_DB_URL",
    "file": "Den er angivet som db i indstillingsfilen {settings}, linje 2.",
}


def _run_isolated(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """triage with its own home, config and data folders (no settings file unless written)."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("TRIAGE_DATA", "TRIAGE_DB_URL")}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CONFIG_HOME=str(home / "config"),
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return subprocess.run(
        [sys.executable, "-m", "triage", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
    )


@pytest.mark.parametrize(
    ("case", "source"),
    [
        (case, source)
        for case in BAD_DATABASES
        for source in ("option", "environment", "file")
        # serve leaves the file's db to each page's command (test_serve has that page)
        if not (case.startswith("serve") and source == "file")
    ],
)
def test_a_database_that_cannot_be_used_is_named_by_where_it_was_given(tmp_path, case, source):
    """The same bad value from --db, from TRIAGE_DB_URL or from triage.toml's db: the message
    names that source (the file with its path and line), never --db when it came from elsewhere,
    and never the password; exit 1."""
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "notes.txt").write_text("not a database\n", encoding="utf-8")
    value, words, says = BAD_DATABASES[case]
    value = value.format(tmp=tmp_path)
    with socket.socket() as free:  # a port no one listens on, should serve start after all
        free.bind(("127.0.0.1", 0))
        words = [word.format(port=free.getsockname()[1]) for word in words]
    settings = tmp_path / "home" / "config" / "triage" / "triage.toml"
    settings.parent.mkdir(parents=True)
    extra: dict[str, str] = {}
    if source == "option":
        words = [*words, "--db", value]
        settings.write_text('lang = "da"\n', encoding="utf-8")
    elif source == "environment":
        extra["TRIAGE_DB_URL"] = value
        settings.write_text(f'lang = "da"\ndb = "{tmp_path}/other.db"\n', encoding="utf-8")
    else:
        settings.write_text(f'lang = "da"\ndb = "{value}"\n', encoding="utf-8")
    settings.chmod(0o600)  # a password in it is the owner's alone
    done = _run_isolated(tmp_path, *words, **extra)
    assert done.returncode == 1, done.stdout + done.stderr
    said = done.stderr
    assert says in said and "Traceback" not in said, said
    assert SAID_SOURCE[source].format(settings=settings) in said, said
    if source != "option":
        assert "--db." not in said and "--db eller" not in said, said
    assert SERVER_PASSWORD not in said + done.stdout


def test_the_default_database_is_said_to_be_the_default_in_english(tmp_path):
    done = _run_isolated(tmp_path, "summary", "--lang", "en")
    assert done.returncode == 1
    default = tmp_path / "home" / "data" / "triage" / "triage.db"
    assert f"The database {default} does not exist. It is the default database" in done.stderr


def test_the_environment_and_the_file_are_named_in_english_too(tmp_path):
    done = _run_isolated(tmp_path, "board", "--lang", "en", TRIAGE_DB_URL=str(tmp_path / "gone.db"))
    assert done.returncode == 1
    assert "It is given in the environment variable TRIAGE_DB_URL" in done.stderr
    settings = tmp_path / "mine.toml"
    settings.write_text(f'site = "jc-skelbaek"\n\n[board]\ndb = "{tmp_path}"\n', encoding="utf-8")
    done = _run_isolated(tmp_path, "board", "--config", str(settings), "--lang", "en")
    assert done.returncode == 1 and "is a folder, not a database file" in done.stderr
    assert f"It is given as db in the settings file {settings}, line 4." in done.stderr
