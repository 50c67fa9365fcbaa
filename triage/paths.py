"""Where the shipped data, the stylesheet and the user's database live.

In a source checkout data/ and triage.tcss sit beside the package; in an installed wheel they
are carried inside it (see pyproject.toml). Everything is looked up here, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    inside = PACKAGE_DIR / name
    return inside if inside.exists() else PACKAGE_DIR.parent / name


def default_data_dir() -> Path:
    """TRIAGE_DATA overrides the shipped default flow (handy for a site's own copy)."""
    override = os.environ.get("TRIAGE_DATA")
    return Path(override) if override else _shipped("data")


def stylesheet() -> Path:
    return _shipped("triage.tcss")


def user_data_dir() -> Path:
    from platformdirs import user_data_path  # imported here: only the desk needs it

    return user_data_path("triage", appauthor=False)


def default_db_path() -> Path:
    return user_data_dir() / "triage.db"


def training_db_path() -> Path:
    """The practice database of `triage --training`: its own file, never the real one."""
    return user_data_dir() / "training" / "triage-training.db"


def training_spool_dir() -> Path:
    return user_data_dir() / "training" / "spool"


def user_state_dir() -> Path:
    """Where reports of unforeseen failures go (~/.local/state/triage on Linux)."""
    from platformdirs import user_state_path

    return user_state_path("triage", appauthor=False)


def user_cache_dir() -> Path:
    """Where files made again from others are kept to save time (~/.cache/triage on Linux)."""
    from platformdirs import user_cache_path

    return user_cache_path("triage", appauthor=False)


MEMORY = "memory"  # what sqlite_file says of a database that lives in memory only


def sqlite_file(db: str | os.PathLike[str] | None) -> Path | str | None:
    """What --db names if it is SQLite: its file, or MEMORY; None for a database server.
    Read from the text alone, so the desk can ask before any database code loads."""
    if db is None:
        return default_db_path()
    db = str(db)
    if "://" not in db:
        return Path(db).expanduser()
    scheme, rest = db.split("://", 1)
    if not scheme.startswith("sqlite"):
        return None
    name, _, query = rest.partition("?")
    name = name[1:] if name.startswith("/") else name  # sqlite:///relative, sqlite:////absolute
    name = name.removeprefix("file:")  # a URI filename (uri=true); no one names a file "file:…"
    if name in ("", ":memory:") or "mode=memory" in query:
        return MEMORY
    return Path(name)


def served_to_browser() -> bool:
    """Whether this process runs for a page of `triage serve` (textual-serve's driver)."""
    return os.environ.get("TEXTUAL_DRIVER", "").endswith(":WebDriver")
