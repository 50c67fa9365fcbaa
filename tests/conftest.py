from __future__ import annotations

import itertools
import json
import os
import shutil
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

from tests.postgres import ThrowawayPostgres, server_bin
from triage import paths
from triage.flow import Flow
from triage.load import load_or_raise

SHIPPED = paths.default_data_dir()
ROOT = Path(__file__).resolve().parent.parent


def _installed_differs() -> str | None:
    """Why the installed `triage` (the console script, `python -m triage` outside this folder)
    would run other code than the tests import in-process; None when both run this tree.

    An editable install (README: pip install -e '.[test]') always runs this tree; a plain
    install (CI: pip install '.[test]') does until a file is edited, so its copy is compared."""
    try:
        dist = distribution("triage")
    except PackageNotFoundError:
        return None  # nothing installed: the tests that run the script say so themselves
    origin = json.loads(dist.read_text("direct_url.json") or "{}")
    if origin.get("dir_info", {}).get("editable"):
        source = Path(url2pathname(urlparse(origin["url"]).path)).resolve()
        return None if source == ROOT else f"it is an editable install of {source}"
    installed = {
        str(f): f for f in dist.files or () if f.parts[0] in ("triage", "screens") and f.suffix
    }

    # The wheel carries data/ and the stylesheet inside the package (pyproject.toml).
    def source_of(name: str) -> Path:
        if name.startswith("triage/data/"):
            return ROOT / name.removeprefix("triage/")
        return ROOT / ("triage.tcss" if name == "triage/triage.tcss" else name)

    for name, file in installed.items():
        if file.suffix == ".pyc":
            continue
        if not source_of(name).is_file():
            return f"this tree has no {name}"
        if source_of(name).read_bytes() != Path(str(dist.locate_file(file))).read_bytes():
            return f"its {name} differs from this tree's"
    for folder in ("triage", "screens"):
        for path in (ROOT / folder).rglob("*"):
            name = path.relative_to(ROOT).as_posix()
            if path.suffix in (".py", ".toml") and name not in installed:
                return f"it has no {name}"
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    """In-process tests and the installed script must test the same code, or stop here."""
    why = _installed_differs()
    if why is not None:
        pytest.exit(
            f"The installed triage is not this tree's code ({why}). Install it editable, "
            "once: pip install -e '.[test]' (README, Developing); then run the tests again.",
            returncode=4,
        )


@pytest.fixture(scope="session")
def flow() -> Flow:
    return load_or_raise(SHIPPED)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's data folder, or picks up a TRIAGE_DATA override."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("TRIAGE_DATA", raising=False)
    # Nor the real user's settings file (triage.toml) or database URL (config16).
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.delenv("TRIAGE_DB_URL", raising=False)


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A private copy of the shipped data/ that a test may break."""
    target = tmp_path / "data"
    shutil.copytree(SHIPPED, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of a data file; fail loudly if the fixture no longer matches."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {path.name}: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append(path: Path, extra: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session. In CI it must exist (.ci/run installs it)."""
    bin_dir = server_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries not found; .ci/run should have installed them")
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql); CI runs these")
    server = ThrowawayPostgres(bin_dir)
    server.init()
    server.start()
    yield server
    server.cleanup()


_names = itertools.count()


@pytest.fixture
def pg_url(postgres) -> str:
    """A fresh, empty database on the session's server."""
    return postgres.create_database(f"t{os.getpid()}_{next(_names)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """An opened store on each engine (statistics and exports; test_store has its own)."""
    from triage.db.store import Store

    db = (
        str(tmp_path / "visits.db")
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    opened = Store(db, spool_dir=tmp_path / "spool")
    opened.open()
    yield opened
    opened.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> str:
    """A database file path or URL on each engine, not yet opened (files may define their own)."""
    if request.param == "sqlite":
        return str(tmp_path / "visits.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def tickets(db, tmp_path):
    """The ticket queue on an opened store of `db`."""
    from triage.db.store import Store
    from triage.queue import Tickets

    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    found = Tickets(store)
    yield found
    found.close()
    store.dispose()
