"""The settings file, triage.toml: where a desk (kiosk, board) stands and which database it uses,
so its command line stays short and holds no password.

Read from `--config FILE` or the user's config folder (platformdirs: $XDG_CONFIG_HOME/triage on
Linux, %APPDATA%\\triage on Windows, ~/Library/Application Support/triage on macOS). Command-line
options win over TRIAGE_DB_URL, which wins over the file, which wins over the built-in defaults.
A password never comes from the command line: TRIAGE_DB_URL, a password file only its owner can
read (db_password_file), or a URL in a settings file only its owner can read.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from triage.model import Problem

FILE_NAME = "triage.toml"
ENV_URL = "TRIAGE_DB_URL"  # the database URL, password included, from the environment
KEYS = ("site", "desk", "channel", "lang", "data", "db", "db_password_file", "spool_dir", "theme")
# Sections for the commands that stand somewhere: their keys replace the top level's, one by one.
# (The desk's settings are the top level itself: `desk` is also the desk's id.)
SECTIONS = ("kiosk", "board")
SECTION_KEYS = tuple(k for k in KEYS if k not in ("desk", "channel"))
PATH_KEYS = ("data", "spool_dir", "db_password_file")  # relative to the settings file's folder
CHOICES = {"channel": ("in_person", "phone"), "lang": ("da", "en")}
EXAMPLES = {
    "site": "jc-skelbaek",
    "desk": "skranke-3",
    "channel": "phone",
    "lang": "da",
    "data": "data",
    "db": "postgresql://skranke@server/triage",
    "db_password_file": "db-password",
    "spool_dir": "spool",
    "theme": "triage-hoj-kontrast",
}
HIDDEN = "***"

# Passwords this process knows of (from a password file, TRIAGE_DB_URL or a URL), so that no
# message, the database driver's own words included, ever shows one.
_secrets: set[str] = set()


def default_file() -> Path:
    from platformdirs import user_config_path  # only when a command starts

    return user_config_path("triage", appauthor=False, roaming=True) / FILE_NAME


def url_password(url: str) -> str | None:
    """The password a database URL holds (user:password@ or ?password=), or None."""
    if "://" not in url:
        return None
    try:
        parts = urlsplit(url)
        found = parts.password
    except ValueError:  # e.g. a port that is no number: the password may still be there
        found = None
        parts = None
    if found:
        return found
    query = parts.query if parts else url.partition("?")[2]
    given = parse_qs(query).get("password")
    return given[0] if given and given[0] else None


def remember_secret(password: str | None) -> None:
    # A password of a few characters would blot out those letters everywhere; URLs still
    # hide it (user:***@).
    if password and len(password) >= 4:
        _secrets.add(password)
        _secrets.add(quote(password, safe=""))


def hide_secrets(text: str) -> str:
    """`text` without any password: a URL's (user:***@, password=***) and every one known."""
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", rf"\1{HIDDEN}@", text)
    text = re.sub(r"(?i)\b(password=)[^&\s'\"]*", rf"\1{HIDDEN}", text)
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def with_password(url: str, password: str) -> str:
    """A server URL with `password` put in after its user name (quoted, as URLs need)."""
    scheme, rest = url.split("://", 1)
    if "@" in rest.split("/", 1)[0]:
        user, _, host = rest.partition("@")
        user = user.split(":", 1)[0]
    else:  # no user named: the server takes the system's user name
        user, host = "", rest
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}"


def others_can_open(path: Path) -> bool:
    """True when group or others have any right to the file. Windows has no such mode bits (its
    ACLs decide); there a file in the user's own profile is private and this says False."""
    if os.name != "posix":
        return False
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


@dataclass
class Settings:
    """One settings file, read: its tables (top level under ""), where each key stands, and what
    is wrong with it. `path` None: there is no file (the defaults apply)."""

    path: Path | None
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def values(self, command: str) -> dict[str, Any]:
        """The settings `command` takes: the top level, with its section's keys over it."""
        merged = dict(self.tables.get("", {}))
        merged.update(self.tables.get(command, {}) if command in SECTIONS else {})
        return merged

    def database(self, command: str) -> str | None:
        """The database URL `command` uses from this file, its password read from the
        password file when one is named; None: the file names no database."""
        values = self.values(command)
        db = values.get("db")
        if db is None or "db_password_file" not in values:
            return db
        password = Path(values["db_password_file"]).read_text(encoding="utf-8").strip()
        remember_secret(password)
        return with_password(db, password)

    def error(self, scope: str, setting: str | None, code: str, **params: Any) -> None:
        """A problem at `setting`'s line in the table `scope` ("" the top level)."""
        name = str(self.path)
        line = self.lines.get((scope, setting)) if setting else None
        node = f"{scope}" if scope else name
        problem = Problem("error", name, node, code, params, line)
        if problem not in self.problems:
            self.problems.append(problem)


def read(path: Path | None = None) -> Settings:
    """The settings file `path` (--config), or the user's own if it exists, read and checked
    (everything that needs no data folder or database)."""
    explicit = path is not None
    path = Path(path).expanduser() if path is not None else default_file()
    if not explicit and not path.exists():
        return Settings(None)
    settings = Settings(path)
    name = str(path)
    try:
        source = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except FileNotFoundError:
        settings.problems.append(Problem("error", name, name, "cfg_file_missing", {"path": name}))
        return settings
    except UnicodeDecodeError as error:
        settings.problems.append(
            Problem("error", name, name, "file_not_utf8", {"position": error.start})
        )
        return settings
    except OSError as error:
        reason = error.strerror or str(error)
        settings.problems.append(
            Problem("error", name, name, "file_unreadable", {"path": name, "reason": reason})
        )
        return settings
    import tomllib  # only when a settings file exists: the desk's start stays without it

    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        detail = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error)).strip()
        line, column = (int(found.group(1)), int(found.group(2))) if found else (None, None)
        settings.problems.append(
            Problem("error", name, name, "toml_syntax", {"detail": detail}, line, column)
        )
        return settings
    settings.lines = _key_lines(source)
    _take(settings, data, path.parent)
    return settings


def _key_lines(source: str) -> dict[tuple[str, str], int]:
    """(section, key) → its line, for messages; a section's own line under (section, "")."""
    lines: dict[tuple[str, str], int] = {}
    scope = ""
    for number, text in enumerate(source.splitlines(), 1):
        header = re.match(r"\s*\[\s*([^\]\s]+)\s*\]", text)
        if header:
            scope = header.group(1).strip("\"'")
            lines.setdefault(("", scope), number)
            continue
        key = re.match(r"\s*[\"']?([A-Za-z0-9_-]+)[\"']?\s*=", text)
        if key:
            lines.setdefault((scope, key.group(1)), number)
    return lines


def _take(settings: Settings, data: dict[str, Any], folder: Path) -> None:
    """Check each table and keep its values (paths made absolute); problems are collected."""
    top: dict[str, Any] = {}
    settings.tables[""] = top
    for key, value in data.items():
        if isinstance(value, dict) and key in SECTIONS:
            settings.tables[key] = _table(settings, key, value, SECTION_KEYS, folder)
        elif isinstance(value, dict):
            settings.error("", key, "cfg_unknown_section", name=key, sections=_listed(SECTIONS))
        else:
            top.update(_table(settings, "", {key: value}, KEYS, folder))
    for scope in ("", *(s for s in SECTIONS if s in settings.tables)):
        _check_database(settings, scope)


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(names)


def _table(
    settings: Settings, scope: str, table: dict[str, Any], known: tuple[str, ...], folder: Path
) -> dict[str, Any]:
    from triage.visits import valid_desk_name

    kept: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            import difflib  # only for a key that is wrong

            near = difflib.get_close_matches(key, known, n=1)
            if near:
                settings.error(scope, key, "cfg_unknown_key_near", key=key, near=near[0])
            else:
                settings.error(scope, key, "cfg_unknown_key", key=key, known=_listed(known))
            continue
        if not isinstance(value, str) or not value.strip():
            example = EXAMPLES[key]
            settings.error(scope, key, "cfg_wrong_type", key=key, example=example)
            continue
        if key in CHOICES and value not in CHOICES[key]:
            settings.error(
                scope, key, "cfg_bad_choice", key=key, value=value, choices=_listed(CHOICES[key])
            )
            continue
        if key == "desk" and not valid_desk_name(value):
            settings.error(scope, key, "cfg_bad_desk")  # not repeated: it may name a person
            continue
        if key in PATH_KEYS or (key == "db" and "://" not in value):
            value = str(folder / Path(value).expanduser())
        kept[key] = value
    return kept


def _check_database(settings: Settings, scope: str) -> None:
    """A password in the file only if no one else can read it; a password file only beside a
    server URL without one, readable, not empty, and its owner's alone."""
    values = settings.values(scope) if scope else settings.tables[""]
    db, password_file = values.get("db"), values.get("db_password_file")
    where = scope if scope in settings.tables and "db" in settings.tables[scope] else ""
    assert settings.path is not None
    if db is not None and url_password(db):
        remember_secret(url_password(db))
        if password_file is not None:
            settings.error(where, "db", "cfg_password_twice")
        elif others_can_open(settings.path):
            settings.error(where, "db", "cfg_password_in_open_file", path=settings.path)
    if password_file is None:
        return
    file_scope = scope if "db_password_file" in settings.tables.get(scope, {}) else ""
    if db is None or "://" not in db or db.startswith("sqlite"):
        settings.error(file_scope, "db_password_file", "cfg_password_file_without_server")
        return
    path = Path(password_file)
    try:
        password = path.read_text(encoding="utf-8").strip()
        private = not others_can_open(path)
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        settings.error(
            file_scope, "db_password_file", "cfg_password_file_unreadable", path=path, reason=reason
        )
        return
    remember_secret(password)
    if not private:
        settings.error(file_scope, "db_password_file", "cfg_password_file_open", path=path)
    elif not password:
        settings.error(file_scope, "db_password_file", "cfg_password_file_empty", path=path)


# How long `triage config check` waits for a database server that does not answer (seconds).
LOGIN_TIMEOUT = 5


def try_login(url: str) -> tuple[str, Exception | None]:
    """Log in to the database server at `url` once, as a desk would: "ok", or why not: "login"
    (refused: a wrong or missing password, an unknown user), "no_database", "down" (no
    answer), "other" (with the error). Only for a server URL: a SQLite file is not tried."""
    from sqlalchemy import create_engine, text

    from triage.db.errors import db_cause

    engine = create_engine(url, connect_args={"connect_timeout": LOGIN_TIMEOUT})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - whatever it is, config check says it
        cause = db_cause(error)
        return (cause if cause in ("login", "no_database", "down") else "other"), error
    finally:
        engine.dispose()
    return "ok", None
