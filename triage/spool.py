"""The local spool: visits (and voids) waiting for the database, one JSON line each, fsync'd.

Plain files and no database code, so a desk can always fall back to it, whatever is wrong with
the database or its driver.

Each entry stands alone. A line that cannot be read, or an entry that can never be stored (a
field missing or of the wrong kind, a desk name that is not allowed, one the database refuses),
is set aside in the quarantine file beside the spool files, with its reason, when its spool file
is sent; the good entries around it are sent as usual. Nothing is dropped without a trace.
"""

from __future__ import annotations

import json
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from triage.visits import CHANNELS, FIELDS, valid_desk_name

try:  # POSIX: several desk processes and `triage spool flush` share spool files safely
    import fcntl
except ImportError:  # pragma: no cover - Windows desks: one process per spool file
    fcntl = None  # type: ignore[assignment]

# Entries set aside for a person to look at. Not a desk's spool file: desk names have no "_".
QUARANTINE = "_quarantine.jsonl"

# The text fields of a visit and their longest value (the visit table's column sizes).
TEXT_FIELDS = {"visit_id": 32, "site_id": 64, "outcome_id": 64, "destination_id": 64,
               "destinations": 400, "path": 2000, "flow_version": 64}
MAY_BE_EMPTY = ("destinations", "path")
NULLABLE = ("postcode", "postcode_site_id")

# Why an entry cannot be stored, in English for the quarantine file (the CLI says it in Danish).
WHY = {
    "torn": "written only in part (the program stopped mid-write); it was never confirmed",
    "unreadable": "not readable as an entry (not JSON text)",
    "not_an_entry": "neither a visit nor a cancellation",
    "missing_field": "the field {detail!r} is missing",
    "bad_field": "the field {detail!r} has a value it cannot have",
    "bad_desk": "the desk name is not allowed (a short id such as skranke-3); it was removed here",
    "refused": "the database refused it: {detail}",
    "void_unknown": "it cancels a visit that is not in the database",
}

Unfit = tuple[str, str]  # (reason, detail): why an entry can never be stored


def why(unfit: Unfit) -> str:
    reason, detail = unfit
    return WHY.get(reason, reason).format(detail=detail)


def _is_text(value: object, longest: int, may_be_empty: bool = False) -> bool:
    return isinstance(value, str) and (may_be_empty or value != "") and len(value) <= longest


def _is_int(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_moment(value: object) -> bool:
    """An ISO time with its offset, as the desk writes it."""
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.fromisoformat(value)
        moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return False
    return moment.tzinfo is not None


def _is_date(value: object) -> bool:
    try:
        return isinstance(value, str) and bool(date.fromisoformat(value))
    except ValueError:
        return False


def entry_problem(entry: object) -> Unfit | None:
    """Why this spool entry can never be stored as it is, or None when it can. Checked before
    anything is sent, so one bad entry is set aside instead of stopping the rest."""
    if not isinstance(entry, dict):
        return ("not_an_entry", "")
    if "void" in entry:
        for name in ("void", "voided_desk", "voided_utc"):
            if entry.get(name) is None:
                return ("missing_field", name)
        if not valid_desk_name(entry["voided_desk"]):
            return ("bad_desk", "voided_desk")
        if not _is_text(entry["void"], TEXT_FIELDS["visit_id"]):
            return ("bad_field", "void")
        if not _is_moment(entry["voided_utc"]):
            return ("bad_field", "voided_utc")
        return None
    for name in FIELDS:
        if entry.get(name) is None and not (name in NULLABLE and name in entry):
            return ("missing_field", name)
    if not valid_desk_name(entry["desk"]):
        return ("bad_desk", "desk")
    for name, longest in TEXT_FIELDS.items():
        if not _is_text(entry[name], longest, name in MAY_BE_EMPTY):
            return ("bad_field", name)
    duration = entry["duration_s"]
    checks = {
        "at_utc": _is_moment(entry["at_utc"]),
        "local_date": _is_date(entry["local_date"]),
        "local_hour": _is_int(entry["local_hour"], 0, 23),
        "local_weekday": _is_int(entry["local_weekday"], 0, 6),
        "channel": entry["channel"] in CHANNELS,
        "handled_here": isinstance(entry["handled_here"], bool),
        "postcode": entry["postcode"] is None or _is_int(entry["postcode"], 0, 9999),
        "postcode_site_id": (entry["postcode_site_id"] is None
                             or _is_text(entry["postcode_site_id"], 64)),
        "duration_s": (isinstance(duration, (int, float)) and not isinstance(duration, bool)
                       and math.isfinite(duration) and 0 <= duration < 10**9),
        "demo": isinstance(entry["demo"], bool),
    }
    for name, fine in checks.items():
        if not fine:
            return ("bad_field", name)
    return None


@dataclass
class SpoolFile:
    """What one spool file holds: entries that can be sent, and those that never can."""

    path: Path
    entries: list[dict] = field(default_factory=list)
    unfit: list[dict] = field(default_factory=list)  # quarantine records, see _set_aside
    unreadable: str = ""  # why the file itself cannot be read ("" when it can)


@dataclass
class Drained:
    """What one flush did. `cause` says why something still waits ("" when nothing had to)."""

    sent: int = 0
    set_aside: list[dict] = field(default_factory=list)  # quarantine records written now
    unreadable: list[SpoolFile] = field(default_factory=list)
    cause: str = ""


@dataclass
class Sent:
    """What the database did with a batch: how many entries it stored, which ones it refused
    for good (position → why), and `cause` when it stopped taking more."""

    stored: int
    refused: dict[int, Unfit] = field(default_factory=dict)
    cause: str = ""


def _set_aside(source: str, unfit: Unfit, entry: object = None, line: str | None = None) -> dict:
    """A quarantine record: the entry (or the line that could not be read) and why."""
    record: dict = {"set_aside_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "from": source, "reason": unfit[0], "detail": unfit[1], "why": why(unfit)}
    if line is not None:
        record["line"] = line
    else:
        if unfit[0] == "bad_desk" and isinstance(entry, dict):
            # The name may be a person's (or a CPR number): it is not copied anywhere else.
            entry = {**entry, unfit[1]: ""}
        record["entry"] = entry
    return record


def _parse(raw: bytes, source: str) -> tuple[list[dict], list[dict]]:
    """(entries that can be sent, quarantine records for the rest) of a spool file's bytes. A
    last line without its newline was torn by a crash or a full disk mid-write: the desk was
    never told it was kept, so it is set aside, never sent."""
    *lines, tail = raw.split(b"\n")
    good: list[dict] = []
    bad: list[dict] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):
            bad.append(_set_aside(source, ("unreadable", ""), line=line.decode("utf-8", "replace")))
            continue
        problem = entry_problem(entry)
        if problem:
            bad.append(_set_aside(source, problem, entry))
        else:
            good.append(entry)
    if tail.strip():
        bad.append(_set_aside(source, ("torn", ""), line=tail.decode("utf-8", "replace")))
    return good, bad


def one_line(error: BaseException) -> str:
    """What went wrong, in one line (a driver's own words when it has them)."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    said = str(getattr(error, "orig", None) or error).strip()
    return said.splitlines()[0] if said else type(error).__name__


class Spool:
    """Append-only JSON lines, fsync'd: visits (and voids) waiting for the database. `desk`
    names this desk's own file; without it the spool can be read and sent, not appended to."""

    def __init__(self, directory: Path, desk: str | None = None) -> None:
        self.directory = directory
        if desk is not None and not valid_desk_name(desk):
            raise ValueError("a desk name is a short id: letters a-z, digits, hyphens, at most 32")
        self.path = directory / f"{desk or '-'}.jsonl"
        self.quarantine = directory / QUARANTINE
        self.last = Drained()  # what the latest drain did

    @contextmanager
    def _locked(self, path: Path, mode: str) -> Iterator:
        with open(path, mode) as handle:
            if fcntl:
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                if fcntl:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, entry: dict) -> None:
        """Add one entry, on disk when this returns. A torn line left by an earlier crash is
        set aside first, so it can never swallow this one; if this write fails part way (a
        full disk), the file is cut back to where it was."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        with self._locked(self.path, "ab+") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            if size:
                size = self._repair_tail(handle, size)
            fd = handle.fileno()
            try:
                written = 0
                while written < len(data):
                    written += os.write(fd, data[written:])
                os.fsync(fd)
            except OSError:
                try:
                    os.ftruncate(fd, size)  # never leave half an entry behind
                except OSError:
                    pass  # then the next append (or flush) sets the torn line aside
                raise

    def _repair_tail(self, handle, size: int) -> int:
        """Set aside a last line without its newline and cut it off; returns the file's size."""
        start = size
        while start > 0:  # back to just after the last newline (or to the start)
            step = min(start, 65536)
            handle.seek(start - step)
            chunk = handle.read(step)
            if start == size and chunk.endswith(b"\n"):
                return size
            if b"\n" in chunk:
                start = start - step + chunk.rfind(b"\n") + 1
                break
            start -= step
        handle.seek(start)
        torn = handle.read().decode("utf-8", "replace")
        self._quarantine([_set_aside(self.path.name, ("torn", ""), line=torn)])
        os.ftruncate(handle.fileno(), start)
        return start

    def _quarantine(self, records: list[dict]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        with self._locked(self.quarantine, "ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob("*.jsonl") if p.name != QUARANTINE)

    def survey(self) -> list[SpoolFile]:
        """Every spool file and what it holds, read without changing anything."""
        found = []
        for path in self.files():
            try:
                with self._locked(path, "rb") as handle:
                    found.append(SpoolFile(path, *_parse(handle.read(), path.name)))
            except OSError as error:
                found.append(SpoolFile(path, unreadable=error.strerror or one_line(error)))
        return found

    def waiting(self) -> list[dict]:
        """The entries that wait to be sent (not those that never can be)."""
        return [entry for spool_file in self.survey() for entry in spool_file.entries]

    def set_aside(self) -> list[dict]:
        """The quarantine file's records (a line that is not one is shown as it is)."""
        try:
            with self._locked(self.quarantine, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return []
        records = []
        for line in raw.splitlines():
            try:
                record = json.loads(line.decode("utf-8"))
            except (ValueError, RecursionError):
                record = None
            if not isinstance(record, dict):
                text = line.decode("utf-8", "replace")
                record = {"reason": "unreadable", "detail": "", "line": text}
            records.append(record)
        return records

    def drain(self, send: Callable[[list[dict]], Sent]) -> Drained:
        """Send every spool file's entries with send(entries). A file is emptied only once all
        its entries are stored or set aside; when the database stops taking them, the rest
        wait (a replay never counts a visit twice) and `cause` says why."""
        report = Drained()
        self.last = report
        for path in self.files():
            try:
                with self._locked(path, "rb+") as handle:
                    going_on = self._drain_file(path, handle, send, report)
            except OSError as error:  # the file cannot be opened or read: say so, send the rest
                why_not = error.strerror or one_line(error)
                report.unreadable.append(SpoolFile(path, unreadable=why_not))
                continue
            if not going_on:
                break
        return report

    def _drain_file(self, path: Path, handle, send, report: Drained) -> bool:
        """Send one locked spool file; False when the rest must wait (see report.cause)."""
        good, bad = _parse(handle.read(), path.name)
        if not good and not bad:
            return True
        try:
            sent = send(good) if good else Sent(0)
        except Exception as error:  # noqa: BLE001 - whatever it is, the entries keep waiting
            sent = Sent(0, cause=one_line(error))
        report.sent += sent.stored
        if sent.cause:
            report.cause = sent.cause
            return False
        bad += [_set_aside(path.name, unfit, good[i]) for i, unfit in sorted(sent.refused.items())]
        try:
            if bad:
                self._quarantine(bad)
            handle.seek(0)
            handle.truncate()
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as error:
            # What was sent is in the database; the file is sent again later (nothing counts twice).
            report.cause = one_line(error)
            return False
        report.set_aside += bad
        return True
