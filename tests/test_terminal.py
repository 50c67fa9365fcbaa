"""Output drawn with rich: colour and progress on a terminal, plain text in a pipe.

Each command runs as a real process, once with the stream in question on a pseudo-terminal
(as a person at a desk sees it) and once into a pipe or file (as a script or cron job reads it).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

# Pseudo-terminals as Linux and macOS have them.
fcntl = pytest.importorskip("fcntl")
pty = pytest.importorskip("pty")
termios = pytest.importorskip("termios")

ROOT = Path(__file__).resolve().parent.parent
END = ["--end", "2026-11-23"]
PERIOD = ["--from", "2026-11-01", "--to", "2026-11-23"]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    home = tmp_path / "home"
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        PYTHONPATH=str(ROOT),
        TERM="xterm-256color",
    )
    env.pop("TRIAGE_DATA", None)
    return env


def _triage(tmp_path: Path, *args: str, terminal: str | None = None) -> tuple[int, str, str]:
    """Run `python -m triage ARGS`; `terminal` ("stdout" or "stderr") goes to a pseudo-terminal
    120 columns wide, the other stream into a file. Returns exit code, stdout, stderr."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    other = tmp_path / "other.txt"
    with other.open("w+", encoding="utf-8") as plain:
        process = subprocess.Popen(
            [sys.executable, "-m", "triage", *args],
            cwd=tmp_path,
            env=_env(tmp_path),
            stdin=subprocess.DEVNULL,
            stdout=follower if terminal == "stdout" else plain,
            stderr=follower if terminal == "stderr" else plain,
        )
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process closed the terminal (EIO on Linux)
                break
            if not chunk:
                break
            seen += chunk
        os.close(leader)
        code = process.wait(timeout=120)
        plain.seek(0)
        piped = plain.read()
    shown = seen.decode("utf-8").replace("\r\n", "\n")
    return (code, shown, piped) if terminal == "stdout" else (code, piped, shown)


def test_demo_shows_progress_on_a_terminal_and_nothing_in_a_pipe(tmp_path):
    code, out, err = _triage(tmp_path, "demo", "--db", "a.db", "--days", "30", *END)
    assert code == 0 and "demobesøg over 30 dage skrevet" in out and err == ""
    code, out, err = _triage(
        tmp_path, "demo", "--db", "b.db", "--days", "30", *END, terminal="stderr"
    )
    assert code == 0 and "demobesøg over 30 dage skrevet" in out
    assert "Skriver demobesøg … 0 indtil nu" in err  # the spinner's line, then ...
    assert err.rstrip().endswith("\x1b[2K")  # ... wiped once the load is done


def test_export_shows_a_bar_on_a_terminal_only(tmp_path):
    assert _triage(tmp_path, "demo", "--db", "d.db", "--days", "30", *END)[0] == 0
    export = ["export", "--db", "d.db", *PERIOD, "--format", "json"]
    code, out, err = _triage(tmp_path, *export, "--out", "a.json")
    assert code == 0 and err == "" and out == "Skrev a.json.\n"
    code, out, err = _triage(tmp_path, *export, "--out", "b.json", terminal="stderr")
    assert code == 0 and out == "Skrev b.json.\n"
    assert "Eksporterer …" in err and "100 %" in err and err.rstrip().endswith("\x1b[2K")
    # The same file either way (the bar changes nothing in what is written).
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_summary_and_tree_are_coloured_on_a_terminal_and_plain_in_a_pipe(tmp_path):
    assert _triage(tmp_path, "demo", "--db", "d.db", "--days", "30", *END)[0] == 0
    for command in (["summary", "--db", "d.db", *PERIOD], ["validate", "--tree"]):
        code, piped, _ = _triage(tmp_path, *command)
        assert code == 0 and "\x1b" not in piped
        code, shown, _ = _triage(tmp_path, *command, terminal="stdout")
        assert code == 0 and "\x1b[1m" in shown  # bold: the table's header, the questions
        # The same words, once the colour codes are taken out (and lines wrapped at 120).
        bare = _strip_codes(shown)
        assert bare.split()[:20] == piped.split()[:20]
        drawn = bare.split("\nOK: ")[0]  # validate's own lines after the tree are plain print()s
        assert max(len(line) for line in drawn.splitlines()) <= 120
    tree = piped.split("\nOK: ")[0]
    assert max(len(line) for line in tree.splitlines()) > 120  # never wrapped in a pipe


def _strip_codes(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
