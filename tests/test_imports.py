"""Import hygiene: what a command loads decides how fast it starts, so it is checked.

The desk starts without the ORM (SQLAlchemy, SQLModel): the database opens in a worker thread
once the first question is on screen. The commands for flow editors never load Textual. Each
check runs the real command in a fresh Python process and reads its sys.modules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORM = ("sqlalchemy", "sqlmodel")


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DATA"}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        PYTHONPATH=str(ROOT),
    )
    return env


def _python(code: str, tmp_path: Path) -> dict:
    """Run `code` in a fresh process; it writes its findings as JSON to the file REPORT."""
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-c", code.replace("REPORT", repr(str(report)))],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0 and report.exists(), done.stdout + done.stderr
    return json.loads(report.read_text())


# The desk run as `triage desk` runs it, headless, until its first screen has been painted.
# A finder at the front of sys.meta_path notes which thread asked for each ORM module: the
# desk's own thread (the start path) must ask for none; the worker that opens the database
# afterwards does, which shows the finder sees them.
DESK = """
import json, sys, threading
from textual.app import App

ORM = ORM_NAMES
asked = []

class Noter:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ORM:
            asked.append((name, threading.current_thread() is threading.main_thread()))
        return None  # the usual finders load it

sys.meta_path.insert(0, Noter())
loaded = lambda: sorted(m for m in sys.modules if m.split(".")[0] in ORM)
report = {}
_run = App.run

def run(self, *args, **kwargs):
    report["loaded_at_run"] = loaded()  # everything `triage desk` did before its first screen
    report["tomllib_at_run"] = "tomllib" in sys.modules

    async def auto_pilot(pilot):
        await pilot.pause()
        report["screen"] = type(pilot.app.screen).__name__
        report["main_thread_asked"] = sorted({name for name, main in asked if main})
        report["search_loaded"] = sorted(m for m in sys.modules if m.endswith(".search"))
        report["ours"] = sorted(m for m in sys.modules if m.split(".")[0] in ("triage", "screens"))
        for _ in range(600):  # the database opens just after the first screen: wait for it
            if any(not main for _, main in asked):
                break
            await pilot.pause(0.05)
        await pilot.app.workers.wait_for_complete()
        report["worker_asked"] = sorted({name for name, main in asked if not main})
        pilot.app.exit()

    return _run(self, *args, **{**kwargs, "headless": True, "size": (80, 24),
                                "auto_pilot": auto_pilot})

App.run = run
from triage.cli import main
code = main(["desk", "--db", "desk.db"])
report["exit"] = code
open(REPORT, "w").write(json.dumps(report))
""".replace("ORM_NAMES", repr(ORM))


def test_the_desk_reaches_its_first_screen_without_the_orm(tmp_path):
    report = _python(DESK, tmp_path)
    assert report["exit"] == 0 and report["screen"] == "DeskScreen"
    assert report["loaded_at_run"] == [], "`triage desk` loads the ORM before the app runs"
    assert report["main_thread_asked"] == [], "the desk loads the ORM before its first screen"
    assert "sqlalchemy" in report["worker_asked"]  # the database opened after the first screen
    assert (tmp_path / "desk.db").is_file()
    # The errand search (module, dialog, index) loads when `/` is first pressed.
    assert report["search_loaded"] == [], "the desk loads the search before its first screen"


def test_the_desk_parses_no_toml_on_its_second_start(tmp_path):
    """The first start keeps the data files' parse in the user's cache; the next one reads
    that back and never loads tomllib (nor parses the files again)."""
    first = _python(DESK, tmp_path)
    assert first["exit"] == 0 and first["tomllib_at_run"]
    second = _python(DESK, tmp_path)
    assert second["exit"] == 0 and not second["tomllib_at_run"]
    assert len(list((tmp_path / "home" / "cache" / "triage" / "parsed").glob("*.json"))) == 3


# What the desk's first question needs, and all `triage desk` may load before it is on screen.
# A new screen, command or figure (kiosk, board, queue, overview, exports) is imported inside
# the function that needs it, never at the top of triage/cli.py, triage/app.py or screens/desk.py.
DESK_START = {
    *("triage", "triage.app", "triage.cli", "triage.dates", "triage.desklog", "triage.errors"),
    "triage.config",  # the settings file (triage.toml) the desk starts from
    *("triage.flow", "triage.i18n", "triage.load", "triage.model", "triage.paths"),
    *("triage.present", "triage.sites", "triage.spool", "triage.visits", "triage.walk"),
    *("screens", "screens.commands", "screens.desk", "screens.keys", "screens.messages"),
    "screens.frames",  # the app's first screen written once
}


def test_the_desk_loads_only_what_its_first_question_needs(tmp_path):
    """Start-up (benchmarks/startup.py): each module on the start path costs time before the
    first question is on screen."""
    report = _python(DESK, tmp_path)
    extra = sorted(set(report["ours"]) - DESK_START)
    assert not extra, f"load these where they are used, not at the top of a module: {extra}"


# A command for flow editors, run through main() as `triage` runs it.
COMMAND = """
import contextlib, io, json, sys
from triage.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(ARGV)
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "textual")
open(REPORT, "w").write(json.dumps({"exit": code, "textual": loaded}))
"""


@pytest.mark.parametrize(
    "argv", [["validate"], ["validate", "--tree"], ["route", "1", "1"]], ids=" ".join
)
def test_flow_commands_never_load_textual(tmp_path, argv):
    report = _python(COMMAND.replace("ARGV", repr(argv)), tmp_path)
    assert report == {"exit": 0, "textual": []}


def test_the_database_error_loads_without_the_orm(tmp_path):
    """The desk names DbError where the database could not be used; that costs no ORM."""
    found = _python(
        "import json, sys\n"
        "from triage.db.errors import DbError\n"
        "error = DbError('db_newer', found=5, supported=4)\n"
        "json.dump({'modules': sorted(sys.modules), 'code': error.code,"
        " 'params': error.params}, open(REPORT, 'w'))\n",
        tmp_path,
    )
    assert found["code"] == "db_newer" and found["params"] == {"found": 5, "supported": 4}
    assert not [m for m in found["modules"] if m.split(".")[0] in ORM]
