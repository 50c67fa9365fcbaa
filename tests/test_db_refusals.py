"""What a person sees when the database refuses or does not answer, on a real PostgreSQL: a
refused login (a wrong or missing password, an unknown user) is not "svarer ikke"; the board
never shows the driver's English, the server's address or a user; a desk whose login can never
write says so at once, in the warning colour, and keeps its visits; two pages as one desk; the
overview on a desk's login; `config check` tries the login; `check` names the login it needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from textual.content import Content
from textual.widgets import Static

from tests.postgres import free_port
from tests.test_app import settle
from tests.test_app import visible_text as text
from tests.test_board import SIZE as BOARD_SIZE
from tests.test_board import board, shown, until
from tests.test_desk_queue import desk_app, issue
from tests.test_roles import SITE, roles  # noqa: F401 - the fixture: tests ask for it by name
from triage.app import TriageApp
from triage.db.errors import db_cause
from triage.db.store import Store
from triage.desklog import DeskLog

SIZE = (100, 30)
PASSWORD = "rigtig-kode"


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "TRIAGE_DB_URL"}
    environment.update(env, PGPASSFILE=str(cwd / "no-pgpass"))
    return subprocess.run(
        [sys.executable, "-m", "triage", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


@pytest.fixture(scope="module")
def password_login(postgres) -> str:
    """A login the session's server asks a password of (the others log in on trust): the
    name, its password PASSWORD. Its pg_hba.conf line goes first; the server reads it again."""
    name = f"pw{os.getpid()}"
    hba = postgres.data / "pg_hba.conf"
    before = hba.read_text()
    hba.write_text(f"host all {name} 127.0.0.1/32 scram-sha-256\n{before}")
    admin = f"host=127.0.0.1 port={postgres.port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
        conn.execute("SELECT pg_reload_conf()")
    yield name
    hba.write_text(before)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")


def as_login(url: str, login: str, password: str | None = None) -> str:
    who = f"{login}:{password}" if password is not None else login
    return url.replace("://postgres@", f"://{who}@", 1)


def nobody_listens(url: str) -> str:
    """The same database at a port where no server listens."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(port=free_port()).render_as_string(hide_password=False)


def opening_fails(url: str, tmp_path: Path) -> BaseException:
    store = Store(url, spool_dir=tmp_path / "spool")
    try:
        store.open()
    except Exception as error:  # noqa: BLE001 - what the driver raised is what is tested
        return error
    finally:
        store.dispose()
    raise AssertionError("the database opened")


def warned(app, selector: str = "#notice") -> str:
    """The notice's text drawn in the warning colour."""
    content = app.screen.query_one(selector, Static).render()
    assert isinstance(content, Content)
    return "".join(
        content.plain[span.start : span.end]
        for span in content.spans
        if "$text-warning" in str(span.style)
    )


# --- the causes, from the driver's real errors --------------------------------------------


def test_a_refused_login_and_a_silent_server_are_told_apart(pg_url, password_login, tmp_path):
    wrong = as_login(pg_url, password_login, "forkert")
    missing = as_login(pg_url, password_login)
    unknown = as_login(pg_url, "ingen_saadan_bruger")
    assert db_cause(opening_fails(wrong, tmp_path)) == "login"
    assert db_cause(opening_fails(missing, tmp_path)) == "login"
    assert db_cause(opening_fails(unknown, tmp_path)) == "login"
    assert db_cause(opening_fails(pg_url + "_findes_ikke", tmp_path)) == "no_database"
    assert db_cause(opening_fails(nobody_listens(pg_url), tmp_path)) == "down"


# --- the board faces the waiting room -------------------------------------------------------


@pytest.mark.parametrize("how", ["down", "refused"])
async def test_the_board_says_it_plainly_without_address_or_driver_words(pg_url, how):
    url = nobody_listens(pg_url) if how == "down" else as_login(pg_url, "ingen_saadan_bruger")
    app = board(url)
    async with app.run_test(size=BOARD_SIZE) as pilot:
        assert await until(pilot, lambda: "Tavlen kan ikke hente" in shown(app)), shown(app)
        said = shown(app)
    wanted = "databaseserveren kører ikke" if how == "down" else "databasen afviser brugeren"
    assert wanted in said, said
    port = url.split("@", 1)[1].split("/")[0].split(":")[1]
    for leak in ("127.0.0.1", port, "connection", "FATAL", "ingen_saadan_bruger", "failed"):
        assert leak not in said, (leak, said)


# --- a desk whose login can never write -----------------------------------------------------


def _desk(installation, login: str, desk: str) -> TriageApp:
    log = DeskLog(
        installation.login_url(login), SITE, desk, spool_dir=installation.tmp_path / f"sp-{desk}"
    )
    return TriageApp(roles_flow(), site=SITE, desk=desk, log=log, open_log_after=0)


def roles_flow():
    from triage.load import load_or_raise

    return load_or_raise(Path(__file__).resolve().parent.parent / "data")


@pytest.mark.parametrize(
    ("login", "desk", "wanted"),
    [
        ("boss", "skranke-5", "må kun læse"),  # a supervisor's login
        ("a", "skranke-3", "må ikke registrere for skranke-3 på jc-skelbaek (ingen række i"),
    ],
)
async def test_a_desk_on_a_login_that_cannot_write_says_so_and_keeps_the_visits(
    roles,  # noqa: F811 - the fixture imported above
    login,
    desk,
    wanted,
):
    user = f"{roles.prefix}_{login}"
    app = _desk(roles, user, desk)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            said = warned(app)
            assert said.startswith(f"Databasebrugeren {user} "), said
            assert wanted in said and "den, der passer databasen" in said, said
            await pilot.press("2", "2", "enter")  # a visit, registered
            await settle(pilot, app)
            notice = text(app, "#notice")
            assert "Gemt lokalt – sendes senere" in notice
            assert wanted in warned(app), notice  # still said, in the warning colour
            assert "Gemt lokalt" not in warned(app)
            assert len(app.visit_log.spool.waiting()) == 1  # kept, not lost
            await pilot.press("1")  # the next citizen's first key: the warning stays
            await settle(pilot, app)
            assert wanted in warned(app)
    finally:
        if app.visit_log._store is not None:
            app.visit_log._store.dispose()
    assert roles.all_visits() == []


async def test_a_desk_that_may_write_shows_no_warning(roles):  # noqa: F811 - the fixture
    app = _desk(roles, f"{roles.prefix}_a", "skranke-1")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            assert warned(app) == ""
            await pilot.press("2", "2", "enter")
            await settle(pilot, app)
            assert text(app, "#notice").startswith("Registreret")
    finally:
        if app.visit_log._store is not None:
            app.visit_log._store.dispose()
    assert len(roles.all_visits()) == 1


async def test_a_desk_whose_login_is_refused_says_so_not_that_the_server_is_silent(
    pg_url, password_login, flow, tmp_path
):
    url = as_login(pg_url, password_login, "forkert")
    log = DeskLog(url, SITE, "skranke-1", spool_dir=tmp_path / "spool")
    app = TriageApp(flow, site=SITE, desk="skranke-1", log=log, open_log_after=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        said = warned(app)
        assert said.startswith(f"Databasen afviser brugeren {password_login}: forkert"), said
        notice = text(app, "#notice")
        assert "svarer ikke" not in notice and "FATAL" not in notice and "forkert@" not in notice
        await pilot.press("f5")  # the overview on the same login: no retry can help
        await settle(pilot, app)
        await pilot.pause()
        alert = text(app, "#sup-alert")
        assert alert.startswith("Tallene kunne ikke hentes: databasen afviser brugeren"), alert
        assert "prøves igen om lidt" not in alert and "password" not in alert


# --- the overview on a desk's login ---------------------------------------------------------


async def test_the_overview_on_a_desk_login_offers_no_export_and_shows_no_figures(
    roles,  # noqa: F811 - the fixture imported above
):
    issue(roles.login_url(f"{roles.prefix}_a"), roles.tmp_path, 2)  # the site's line: readable
    app = _desk(roles, f"{roles.prefix}_a", "skranke-1")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await pilot.press("f5")
            await settle(pilot, app)
            await pilot.pause()
            await settle(pilot, app)
            assert type(app.screen).__name__ == "SupervisorScreen"
            alert = text(app, "#sup-alert")
            assert alert.startswith("Denne skranke har ikke adgang til oversigten"), alert
            assert "ingen tal" in alert and "permission" not in alert
            assert "Eksport" not in text(app, "#keys")
            assert not app.screen.query_one("#sup-queue").display
            await pilot.press("e")
            await settle(pilot, app)
            assert type(app.screen).__name__ == "SupervisorScreen"  # no export dialog
    finally:
        if app.visit_log._store is not None:
            app.visit_log._store.dispose()


# --- two pages as one desk ------------------------------------------------------------------


async def test_a_desk_open_twice_warns_until_the_first_closes_and_only_the_first_calls(
    flow, tmp_path, pg_url
):
    issue(pg_url, tmp_path, 3)
    first = desk_app(flow, tmp_path, pg_url)
    second = desk_app(flow, tmp_path, pg_url)
    async with first.run_test(size=SIZE) as pilot:
        await settle(pilot, first)
        async with second.run_test(size=SIZE) as other:
            await settle(other, second)
            said = warned(second)
            assert said.startswith("skranke-1 er også åben et andet sted"), said
            assert "på denne maskine" not in said
            await other.press("2")  # a key: the warning stays
            await settle(other, second)
            assert warned(second).startswith("skranke-1 er også åben et andet sted")
            await other.press("f6")
            await settle(other, second)
            assert "F6 kaldte ikke: skranke-1 er stadig åben et andet sted" in warned(second)
            assert second.screen.ticket is None
            await pilot.press("f6")  # the first one calls
            await settle(pilot, first)
            assert first.screen.ticket is not None and first.screen.ticket.label == "A 001"
            first.visit_log.release_desk()  # the first page is closed
            await other.press("f6")
            await settle(other, second)
            assert second.screen.ticket is not None and second.screen.ticket.label == "A 002"
            assert "åben et andet sted" not in text(second, "#notice")


# --- the command line -----------------------------------------------------------------------


def _settings(tmp_path: Path, url: str, password: str) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir(exist_ok=True)
    secret = folder / "pw"
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    file = folder / "triage.toml"
    file.write_text(f'db = "{url}"\ndb_password_file = "pw"\n')
    file.chmod(0o600)
    return file


def test_config_check_tries_the_login(pg_url, password_login, tmp_path):
    url = as_login(pg_url, password_login)
    file = _settings(tmp_path, url, "forkert")
    done = cli("config", "check", "--config", str(file), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert f"afviser brugeren {password_login}" in said and str(file.parent / "pw") in said
    assert f"{file}:2:" in said and "forkert" not in said.replace("forkert eller", "")
    file = _settings(tmp_path, url, PASSWORD)
    done = cli("config", "check", "--config", str(file), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"tager imod brugeren {password_login}" in done.stdout, done.stdout
    assert PASSWORD not in done.stdout + done.stderr


def test_config_check_on_a_silent_server_warns_and_passes(pg_url, password_login, tmp_path):
    file = _settings(tmp_path, nobody_listens(as_login(pg_url, password_login)), PASSWORD)
    done = cli("config", "check", "--config", str(file), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "svarer ikke lige nu" in done.stdout and "Connection refused" not in done.stdout


def test_config_show_says_the_password_file_is_unused_under_triage_db_url(pg_url, tmp_path):
    file = _settings(tmp_path, as_login(pg_url, "skranke"), "kode")
    done = cli("config", "show", "--config", str(file), cwd=tmp_path, TRIAGE_DB_URL=pg_url)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if "db_password_file" in x)
    assert "bruges ikke" in line and "TRIAGE_DB_URL" in line, line


def test_a_command_on_a_refused_login_says_so(pg_url, password_login, tmp_path):
    url = as_login(pg_url, password_login, "forkert")
    done = cli("summary", "--db", url, cwd=tmp_path)
    assert done.returncode == 1
    assert "afviser brugeren" in done.stderr and "Tjek stien" not in done.stderr
    assert "FATAL" not in done.stderr


@pytest.mark.parametrize(
    ("login", "repair", "wanted"),
    [("a", False, "triage check kræver en leders"), ("boss", True, "kræver ejerens")],
)
def test_check_without_the_rights_names_the_login_it_needs(
    roles,  # noqa: F811 - the fixture imported above
    login,
    repair,
    wanted,
):
    url = roles.login_url(f"{roles.prefix}_{login}")
    done = cli("check", "--db", url, *(["--repair"] if repair else []), cwd=roles.tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert wanted in done.stderr, done.stderr
    assert "Tjek stien" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("how", ["settings", "environment"])
def test_serve_refuses_a_login_every_page_would_be_refused_with(
    pg_url, password_login, tmp_path, how
):
    """triage serve logs in once before it gives out any address: a wrong password (in the
    settings file's password file or in TRIAGE_DB_URL) stops it with the reason, exit 1."""
    if how == "settings":
        file = _settings(tmp_path, as_login(pg_url, password_login), "forkert")
        done = cli("serve", "--config", str(file), "--port", str(free_port()), cwd=tmp_path)
    else:
        url = as_login(pg_url, password_login, "forkert")
        done = cli("serve", "--port", str(free_port()), cwd=tmp_path, TRIAGE_DB_URL=url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"afviser brugeren {password_login}" in done.stderr
    assert "starter ikke" in done.stderr and "http://" not in done.stdout
    assert "forkert" not in done.stderr.replace("forkert eller", "")
