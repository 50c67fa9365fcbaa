from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest

from tests.postgres import ThrowawayPostgres, server_bin
from triage import paths
from triage.flow import Flow
from triage.load import load_or_raise

SHIPPED = paths.default_data_dir()


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
