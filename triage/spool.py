"""The local spool: visits (and voids) waiting for the database, one JSON line each, fsync'd.

Plain files and no database code, so a desk can always fall back to it, whatever is wrong with
the database or its driver.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:  # POSIX: several desk processes and `triage spool flush` share spool files safely
    import fcntl
except ImportError:  # pragma: no cover - Windows desks: one process per spool file
    fcntl = None  # type: ignore[assignment]


class Spool:
    """Append-only JSON lines, fsync'd: visits (and voids) waiting for the database."""

    def __init__(self, directory: Path, desk: str) -> None:
        self.directory = directory
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", desk) or "desk"
        self.path = directory / f"{safe}.jsonl"

    @contextmanager
    def _locked(self, path: Path, mode: str) -> Iterator:
        with open(path, mode, encoding="utf-8") as handle:
            if fcntl:
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                if fcntl:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, entry: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked(self.path, "a") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.jsonl")) if self.directory.is_dir() else []

    def waiting(self) -> list[dict]:
        entries: list[dict] = []
        for path in self.files():
            entries.extend(_read_lines(path))
        return entries

    def drain(self, apply) -> int:
        """Hand every waiting entry to apply(entries); empty each file only once apply succeeded."""
        done = 0
        for path in self.files():
            with self._locked(path, "r+") as handle:
                entries = _parse_lines(handle, path)
                if not entries:
                    continue
                apply(entries)
                handle.seek(0)
                handle.truncate()
                handle.flush()
                os.fsync(handle.fileno())
                done += len(entries)
        return done


def _read_lines(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return _parse_lines(handle, None)


def _parse_lines(handle, path: Path | None) -> list[dict]:
    """Entries of a spool file. A line torn by a crash mid-write was never confirmed to the desk;
    it is set aside in a .rejected file (when draining) rather than blocking the rest."""
    entries = []
    for line in handle:
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:
            if path is not None:
                with open(path.with_suffix(".rejected"), "a", encoding="utf-8") as rejected:
                    rejected.write(line if line.endswith("\n") else line + "\n")
    return entries
