"""The settings file (triage.toml): real files, the real `triage` command in a subprocess.

Command-line options win over TRIAGE_DB_URL, which wins over the file, which wins over the
defaults; a password comes from the environment or a file only its owner can read, never shown;
`triage config check` names every problem by file and line; the desk names the file it uses.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import SHIPPED, edit
from tests.postgres import ThrowawayPostgres, server_bin
from tests.test_app import visible_text as text
from triage.app import TriageApp
from triage.desklog import DeskLog

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Hemm:lig/@kode%1"  # characters a URL must quote
QUOTED = quote(PASSWORD, safe="")
DEMO = ["demo", "--days", "1", "--per-day", "20", "--end", "2026-11-24"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TRIAGE_DATA", "TRIAGE_DB_URL")}
    home = tmp_path / "home"
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CONFIG_HOME=str(home / "config"),
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def triage(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "triage", *args],
        cwd=tmp_path,
        env=_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def visits(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM visit").fetchone()[0]


# --- where the file is, and what wins over what ---------------------------------------------


def test_the_file_in_the_users_config_folder_is_read_and_the_command_line_wins(tmp_path):
    own = write(tmp_path / "home" / "config" / "triage" / "triage.toml", 'lang = "en"\n')
    said = triage(tmp_path, "route", "1", "1")
    assert said.returncode == 0, said.stderr
    assert "Answers:" in said.stdout  # English, from the file
    said = triage(tmp_path, "route", "1", "1", "--lang", "da")
    assert "Svar:" in said.stdout and "Answers:" not in said.stdout
    shown = triage(tmp_path, "config", "show")
    assert str(own) in shown.stdout and "lang = en  (filen, linje 1)" in shown.stdout
    assert "channel = in_person  (standard)" in shown.stdout  # the value, not a dash
    assert f"db = {tmp_path / 'home' / 'data' / 'triage' / 'triage.db'}  (standard)" in shown.stdout
    own.write_bytes(b'site = "K\xf8ge"\n')  # Latin-1, as an old Windows editor saves it
    said = triage(tmp_path, "config", "check")
    assert said.returncode == 1 and f"{own}: Filen er ikke gemt som UTF-8" in said.stdout


def test_config_names_another_file_and_its_paths_are_read_from_its_folder(tmp_path):
    folder = tmp_path / "settings"
    shutil.copytree(SHIPPED, folder / "broken")
    edit(folder / "broken" / "sites.toml", 'kind = "sygedagpenge"', "kind = sygedagpenge")
    settings = write(folder / "desk.toml", 'data = "broken"\ndb = "visits.db"\n')
    said = triage(tmp_path, "route", "1", "1", "--config", str(settings))
    assert said.returncode == 1 and str(folder / "broken") in said.stderr
    said = triage(tmp_path, "route", "1", "1", "--config", str(settings), "--data", str(SHIPPED))
    assert said.returncode == 0, said.stderr  # --data wins over the file's data
    made = triage(tmp_path, *DEMO, "--config", str(settings), "--data", str(SHIPPED))
    assert made.returncode == 0, made.stderr
    assert visits(folder / "visits.db") > 0  # beside the file, not in the working folder
    assert not (tmp_path / "visits.db").exists()


def test_db_from_the_command_line_then_the_environment_then_the_file(tmp_path):
    settings = write(tmp_path / "t.toml", 'db = "from-file.db"\n')
    env = {"TRIAGE_DB_URL": f"sqlite:///{tmp_path / 'from-env.db'}"}
    said = triage(tmp_path, *DEMO, "--config", str(settings), **env)
    assert said.returncode == 0, said.stderr
    assert (tmp_path / "from-env.db").exists() and not (tmp_path / "from-file.db").exists()
    typed = tmp_path / "typed.db"
    said = triage(tmp_path, *DEMO, "--config", str(settings), "--db", str(typed), **env)
    assert said.returncode == 0, said.stderr
    assert visits(typed) > 0 and not (tmp_path / "from-file.db").exists()
    said = triage(tmp_path, *DEMO, "--config", str(settings))
    assert said.returncode == 0 and visits(tmp_path / "from-file.db") > 0


def test_sections_give_the_board_its_own_site_and_summary_filters_stay_unset(tmp_path):
    settings = write(
        tmp_path / "t.toml", 'site = "jc-nord"\ndb = "v.db"\n[board]\nsite = "jc-skelbaek"\n'
    )
    assert triage(tmp_path, *DEMO, "--config", str(settings)).returncode == 0
    # summary's --site is a filter: the desk's site in the file does not narrow it.
    said = triage(tmp_path, "summary", "--config", str(settings), "--format", "json")
    assert said.returncode == 0, said.stderr
    assert '"jc-skelbaek"' in said.stdout and '"jc-musvaage"' in said.stdout
    shown = triage(tmp_path, "config", "show", "--for", "board", "--config", str(settings))
    assert "site = jc-skelbaek  (filen, linje 4)" in shown.stdout
    shown = triage(tmp_path, "config", "show", "--config", str(settings))
    assert "site = jc-nord  (filen, linje 1)" in shown.stdout


def test_a_file_with_errors_stops_every_command_with_its_lines(tmp_path):
    settings = write(tmp_path / "t.toml", 'site = "jc-nord"\nchanel = "phone"\n')
    said = triage(tmp_path, "route", "1", "1", "--config", str(settings))
    assert said.returncode == 1
    assert f"{settings}:2: Ukendt indstilling 'chanel'. Mente du 'channel'?" in said.stderr
    assert f"triage config check --config {settings}" in said.stderr
    missing = tmp_path / "nowhere.toml"
    said = triage(tmp_path, "route", "1", "1", "--config", str(missing))
    assert said.returncode == 1 and f"Indstillingsfilen findes ikke: {missing}" in said.stderr


# --- triage config check ----------------------------------------------------------------------

CHECKS = [
    ("syntax", 'site = "jc-nord\n', 1, "Fejl i filens opbygning"),
    ("unknown key", 'sitte = "jc-nord"\n', 1, "Ukendt indstilling 'sitte'. Mente du 'site'?"),
    ("unknown far", 'colour = "red"\n', 1, "Ukendt indstilling 'colour'. Kendte indstillinger"),
    ("section", '[desks]\nsite = "jc-nord"\n', 1, "Ukendt afsnit [desks]"),
    ("type", "site = 3\n", 1, "'site' skal være en tekst i anførselstegn"),
    ("empty", 'desk = ""\n', 1, "'desk' skal være en tekst i anførselstegn"),
    ("channel", 'channel = "mail"\n', 1, "'channel' kan ikke være 'mail'. Vælg en af"),
    ("lang", 'lang = "de"\n', 1, "'lang' kan ikke være 'de'"),
    ("desk", 'desk = "anna 0101901234"\n', 1, "desk skal være skrankens korte id"),
    ("site", '\nsite = "jc-mars"\n', 2, "Stedet 'jc-mars' findes ikke i sites.toml"),
    ("board site", '[board]\nsite = "jc-mars"\n', 2, "[board]: Stedet 'jc-mars' findes ikke"),
    ("desk in a section", '[kiosk]\ndesk = "skranke-1"\n', 2, "Ukendt indstilling 'desk'"),
    ("data", 'data = "no-such-folder"\n', 1, "Datamappen"),
    ("theme", 'theme = "pink"\n', 1, "Farvetemaet 'pink' findes ikke"),
    ("db", 'db = "nosuch://x/y"\n', 1, "Databasen i db kan ikke bruges"),
    ("file without db", 'db_password_file = "pw"\n', 1, "db_password_file kræver"),
    ("file and sqlite", 'db = "v.db"\ndb_password_file = "pw"\n', 2, "db_password_file kræver"),
    ("file missing", 'db = "postgresql://u@h/d"\ndb_password_file = "x"\n', 2, "kan ikke læses"),
]


@pytest.mark.parametrize(
    ("source", "line", "says"), [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS]
)
def test_config_check_names_the_file_and_line_of_each_problem(tmp_path, source, line, says):
    settings = write(tmp_path / "t.toml", source)
    write(tmp_path / "pw", "x\n")
    said = triage(tmp_path, "config", "check", "--config", str(settings))
    assert said.returncode == 1, said.stdout + said.stderr
    assert f"{settings}:{line}" in said.stdout and says in said.stdout, said.stdout
    assert "Indstillingsfilen" in said.stderr and "Ret den" in said.stderr
    if "0101901234" in source:
        assert "0101901234" not in said.stdout + said.stderr  # maybe a person's CPR: not echoed


def test_config_check_passes_a_good_file_and_says_when_there_is_none(tmp_path):
    settings = write(
        tmp_path / "t.toml",
        'site = "jc-nord"\ndesk = "skranke-3"\nchannel = "phone"\nlang = "da"\n'
        'db = "v.db"\ntheme = "triage-hoj-kontrast"\n[board]\nsite = "jc-skelbaek"\n',
    )
    said = triage(tmp_path, "config", "check", "--config", str(settings))
    assert said.returncode == 0, said.stdout + said.stderr
    assert said.stdout.strip() == f"Indstillingsfilen {settings} er i orden."
    said = triage(tmp_path, "config", "check", "--lang", "en")
    assert said.returncode == 0 and "There is no settings file" in said.stdout
    assert str(tmp_path / "home" / "config" / "triage" / "triage.toml") in said.stdout


# --- passwords --------------------------------------------------------------------------------


def test_a_password_file_others_can_read_is_refused_with_the_chmod_to_run(tmp_path):
    secret = write(tmp_path / "pw", PASSWORD + "\n", mode=0o640)
    settings = write(
        tmp_path / "t.toml",
        'db = "postgresql+psycopg://clerk@127.0.0.1:1/triage"\ndb_password_file = "pw"\n',
    )
    for args in (["config", "check"], ["check"]):
        said = triage(tmp_path, *args, "--config", str(settings))
        assert said.returncode == 1
        output = said.stdout + said.stderr
        assert f"{settings}:2: Andre end ejeren kan læse adgangskodefilen {secret}" in output
        assert f"chmod 600 {secret}" in output and PASSWORD not in output
    secret.chmod(0o600)
    said = triage(tmp_path, "config", "check", "--config", str(settings))
    assert said.returncode == 0, said.stdout
    write(tmp_path / "pw", "\n")
    said = triage(tmp_path, "config", "check", "--config", str(settings))
    assert said.returncode == 1 and "er tom" in said.stdout


def test_a_password_in_the_file_itself_needs_a_private_file(tmp_path):
    source = f'db = "postgresql+psycopg://clerk:{QUOTED}@127.0.0.1:1/t"\n'
    settings = write(tmp_path / "t.toml", source, mode=0o644)
    said = triage(tmp_path, "config", "check", "--config", str(settings))
    assert said.returncode == 1
    assert f"{settings}:1: db indeholder en adgangskode" in said.stdout
    assert f"chmod 600 {settings}" in said.stdout and "Hemm" not in said.stdout + said.stderr
    settings.chmod(0o600)
    assert triage(tmp_path, "config", "check", "--config", str(settings)).returncode == 0
    shown = triage(tmp_path, "config", "show", "--config", str(settings))
    assert "db = postgresql+psycopg://clerk:***@127.0.0.1:1/t  (filen, linje 1)" in shown.stdout
    env = {"TRIAGE_DB_URL": "postgresql://desk:Skjult1234@server/triage"}
    shown = triage(tmp_path, "config", "show", "--config", str(settings), **env)
    assert (
        "db = postgresql://desk:***@server/triage  (miljøvariablen TRIAGE_DB_URL)" in shown.stdout
    )
    assert "Hemm" not in shown.stdout and "Skjult" not in shown.stdout
    both = write(tmp_path / "both.toml", source + 'db_password_file = "pw"\n')
    write(tmp_path / "pw", "x")
    said = triage(tmp_path, "config", "check", "--config", str(both))
    assert said.returncode == 1 and "db har allerede en adgangskode" in said.stdout


def test_a_password_typed_on_the_command_line_is_warned_of_and_a_desk_refused(tmp_path):
    url = f"postgresql+psycopg://clerk:{QUOTED}@127.0.0.1:1/triage"
    said = triage(tmp_path, "check", "--db", url)
    assert said.returncode == 1  # nothing answers at port 1
    assert "Advarsel: --db indeholder en adgangskode" in said.stderr
    assert "clerk:***@127.0.0.1" in said.stderr and "Hemm" not in said.stderr
    for command in ("desk", "board"):
        said = triage(tmp_path, command, "--db", url, "--lang", "en")
        assert said.returncode == 1
        assert said.stderr.startswith("--db holds a password. It would stay in the process list")
        assert "Hemm" not in said.stdout + said.stderr
    query = "postgresql+psycopg://clerk@127.0.0.1:1/triage?password=Hemmelig"
    said = triage(tmp_path, "summary", "--db", query)
    assert "Advarsel" in said.stderr and "Hemmelig" not in said.stderr


@pytest.fixture(scope="module")
def guarded():
    """A PostgreSQL server of its own that asks the clerk for a password (the session's
    server trusts everyone, so it could not tell whether the password arrived)."""
    bin_dir = server_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries not found; .ci/run should have installed them")
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql)")
    import psycopg

    server = ThrowawayPostgres(bin_dir)
    server.init()
    server.start()
    admin = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("CREATE ROLE clerk LOGIN PASSWORD {}").format(
                psycopg.sql.Literal(PASSWORD)
            )
        )
        conn.execute("CREATE DATABASE triage OWNER clerk")
    hba = server.data / "pg_hba.conf"
    hba.write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all clerk 127.0.0.1/32 scram-sha-256\n"
    )
    server._run("pg_ctl", "-D", str(server.data), "reload")
    yield server
    server.cleanup()


def _visits_on(server: ThrowawayPostgres) -> int:
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname=triage") as conn:
        row = conn.execute("SELECT COUNT(*) FROM visit").fetchone()
        return row[0] if row else 0


def test_the_password_file_and_the_environment_log_in_to_a_real_server(tmp_path, guarded):
    server_url = f"postgresql+psycopg://clerk@127.0.0.1:{guarded.port}/triage"
    write(tmp_path / "pw", PASSWORD + "\n")
    settings = write(tmp_path / "t.toml", f'db = "{server_url}"\ndb_password_file = "pw"\n')
    said = triage(tmp_path, *DEMO, "--config", str(settings))
    assert said.returncode == 0, said.stderr
    assert _visits_on(guarded) > 0
    assert "Hemm" not in said.stdout + said.stderr and "clerk:***@127.0.0.1" in said.stdout
    said = triage(tmp_path, "check", "--config", str(settings))
    assert said.returncode == 0, said.stdout + said.stderr
    # The same without the file: no password, and the server says no.
    said = triage(tmp_path, "check", "--db", server_url)
    assert said.returncode == 1 and "Advarsel" not in said.stderr
    env_url = server_url.replace("clerk@", f"clerk:{QUOTED}@")
    said = triage(tmp_path, "check", TRIAGE_DB_URL=env_url)
    assert said.returncode == 0, said.stdout + said.stderr
    assert "Hemm" not in said.stdout + said.stderr


def test_a_wrong_password_is_named_without_showing_it(tmp_path, guarded):
    server_url = f"postgresql+psycopg://clerk@127.0.0.1:{guarded.port}/triage"
    write(tmp_path / "pw", "Forkert:kode/1\n")
    settings = write(tmp_path / "t.toml", f'db = "{server_url}"\ndb_password_file = "pw"\n')
    said = triage(tmp_path, "check", "--config", str(settings))
    assert said.returncode == 1
    assert "clerk" in said.stderr and "Forkert" not in said.stdout + said.stderr


# --- the desk names its settings file -----------------------------------------------------------


async def test_the_desk_names_its_settings_file_until_the_first_key(flow, tmp_path):
    settings = tmp_path / "triage.toml"
    log = DeskLog(str(tmp_path / "v.db"), "jc-skelbaek", "skranke-1", spool_dir=tmp_path / "s")
    app = TriageApp(flow, "jc-skelbaek", log=log, settings_file=settings, open_log_after=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert f"Indstillinger: {settings}" in text(app, "#notice")
        await pilot.press("f2")
        assert f"Settings: {settings}" in text(app, "#notice")
        await pilot.press("1")
        await pilot.pause()
        assert "Settings:" not in text(app, "#notice")


DESK_STARTS = """
import sys
from textual.app import App
_run = App.run
def run(self, *args, **kwargs):  # headless, as the start-up benchmark runs it
    async def look(pilot):
        await pilot.pause()
        desk = self.screen
        print(desk.notice_text(), "|", desk.site, desk.desk, desk.channel)
        self.exit()
    return _run(self, headless=True, size=(80, 24), auto_pilot=look)
App.run = run
from triage.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_desk_started_from_a_settings_file_says_so(tmp_path):
    settings = write(
        tmp_path / "t.toml",
        'site = "jc-nord"\ndesk = "skranke-7"\nchannel = "phone"\ndb = "v.db"\n',
    )
    said = subprocess.run(
        [sys.executable, "-c", DESK_STARTS, "--config", str(settings)],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert said.returncode == 0, said.stderr
    assert f"Indstillinger: {settings} | jc-nord skranke-7 phone" in said.stdout
    said = subprocess.run(
        [sys.executable, "-c", DESK_STARTS, "--config", str(settings), "--desk", "skranke-2"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "| jc-nord skranke-2 phone" in said.stdout, said.stderr


def test_every_command_takes_config_after_its_name():
    import argparse

    from triage.cli import COMMANDS, _with_config_option, build_parser

    parser = build_parser()
    _with_config_option(parser)
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) == set(COMMANDS)
    for name, command in commands.choices.items():
        for action in command._actions:  # `db roles`: after the subcommand's name
            if isinstance(action, argparse._SubParsersAction):
                (command,) = action.choices.values()
        assert "--config" in command._option_string_actions, name


def test_a_known_password_is_masked_in_the_drivers_own_words():
    from triage.config import remember_secret
    from triage.spool import one_line

    remember_secret(PASSWORD)
    said = one_line(
        RuntimeError(f"could not connect with {PASSWORD} (postgresql://u:{QUOTED}@h/db?x=1)")
    )
    assert said == "could not connect with *** (postgresql://u:***@h/db?x=1)"
    said = one_line(RuntimeError("bad option in host=h password=Andet user=u"))
    assert "Andet" not in said and "password=***" in said


@pytest.mark.parametrize("command", ["desk", "kiosk"])
def test_the_desk_and_kiosk_spool_where_the_file_says(tmp_path, command, monkeypatch):
    """spool_dir in the file is the desk's and the kiosk's spool (as `spool status` reads it),
    not the default folder; --spool-dir wins."""
    from triage import cli

    monkeypatch.delenv("TRIAGE_DB_URL", raising=False)
    settings = write(tmp_path / "settings" / "triage.toml", 'spool_dir = "spool-here"\n')

    def settled(*extra: str):
        parser = cli.build_parser(only=command)
        cli._with_config_option(parser)
        argv = [command, "--config", str(settings), *extra]
        return cli._settled(parser, argv, parser.parse_args(argv))

    assert settled().spool_dir == tmp_path / "settings" / "spool-here"
    assert settled("--spool-dir", str(tmp_path / "mine")).spool_dir == tmp_path / "mine"


def test_config_check_names_an_unusable_database_url_in_the_environment(tmp_path):
    """TRIAGE_DB_URL wins over the file's db, so a desk would fail on it: check says so (exit
    1), with or without a settings file, and never shows its password."""
    bad = "mysql://skranke:Hemmelig1@server/triage"
    said = triage(tmp_path, "config", "check", TRIAGE_DB_URL=bad)
    assert said.returncode == 1 and "Miljøvariablen TRIAGE_DB_URL kan ikke bruges" in said.stdout
    assert "Hemmelig1" not in said.stdout + said.stderr
    write(tmp_path / "home" / "config" / "triage" / "triage.toml", 'lang = "da"\n')
    said = triage(tmp_path, "config", "check", TRIAGE_DB_URL=bad)
    assert said.returncode == 1 and "TRIAGE_DB_URL" in said.stdout
    fine = triage(tmp_path, "config", "check", TRIAGE_DB_URL=str(tmp_path / "visits.db"))
    assert fine.returncode == 0, fine.stdout + fine.stderr


def test_config_show_without_a_file_shows_the_standards(tmp_path):
    shown = triage(tmp_path, "config", "show")
    assert shown.returncode == 0 and "Der er ingen indstillingsfil" in shown.stdout
    assert "desk = skranke-1  (standard)" in shown.stdout
    assert f"spool_dir = {tmp_path / 'home' / 'data' / 'triage' / 'spool'}  (standard)" in (
        shown.stdout
    )


@pytest.mark.parametrize("command", [["check"], ["summary"], ["queue", "status"]])
def test_a_server_that_says_no_is_named_with_where_its_url_came_from(tmp_path, guarded, command):
    """A wrong password from TRIAGE_DB_URL, or from the settings file's password file: the
    message names that source (the file by path and line), not --db, and no password."""
    server_url = f"postgresql+psycopg://clerk@127.0.0.1:{guarded.port}/triage"
    wrong = "Forkert:kode/1"
    said = triage(tmp_path, *command, TRIAGE_DB_URL=server_url.replace("clerk@", "clerk:x1@"))
    assert said.returncode == 1, said.stdout + said.stderr
    assert "Den er angivet i miljøvariablen TRIAGE_DB_URL" in said.stderr, said.stderr
    assert "--db" not in said.stderr and "x1@" not in said.stderr
    write(tmp_path / "pw", wrong + "\n")
    settings = write(
        tmp_path / "t.toml", f'lang = "en"\ndb = "{server_url}"\ndb_password_file = "pw"\n'
    )
    said = triage(tmp_path, *command, "--config", str(settings))
    assert said.returncode == 1, said.stdout + said.stderr
    assert f"It is given as db in the settings file {settings}, line 2." in said.stderr
    assert "--db" not in said.stderr and "Forkert" not in said.stdout + said.stderr


def test_a_role_refused_by_the_server_is_named_with_the_environment(pg_url, tmp_path):
    """A desk's login in TRIAGE_DB_URL asked for statistics: refused by PostgreSQL itself, and
    the message says the login came from the environment."""
    import psycopg

    prefix = f"src{os.getpid()}"  # role names are the whole server's
    done = triage(tmp_path, "db", "roles", "--apply", "--prefix", prefix, "--db", pg_url)
    assert done.returncode == 0, done.stderr
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {prefix}_a LOGIN IN ROLE {prefix}_desk")
    desk_url = pg_url.replace("://postgres@", f"://{prefix}_a@", 1)
    said = triage(tmp_path, "summary", TRIAGE_DB_URL=desk_url)
    assert said.returncode == 1, said.stdout + said.stderr
    assert said.stderr.startswith("Databasebrugeren har ikke adgang"), said.stderr
    assert "Den er angivet i miljøvariablen TRIAGE_DB_URL" in said.stderr
