"""The local spool: visits (and voids) waiting for the database, one JSON line each, fsync'd.

Plain files and no database code, so a desk can always fall back to it, whatever is wrong with
the database or its driver.

Each entry stands alone. A line that cannot be read, or an entry that can never be stored (a
field missing or of the wrong kind, a desk name that is not allowed, one the database refuses),
is set aside in the quarantine file beside the spool files, with its reason, when its spool file
is sent; the good entries around it are sent as usual. Nothing is dropped without a trace.

The spool is kept per database: a folder for each (see database_identity), with a file in it
saying which database it is for, so a visit waits for, and goes to, its own database only.
Entries spooled by earlier versions, directly in the spool folder with no database recorded,
are sent by `triage spool flush --db …` to the database it names (legacy=True).

Only regular files are ever opened (never through a symbolic link): anything else with a spool
file's name is left alone and named, never emptied or copied. The spool's files are made 0600.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import math
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from triage import paths
from triage.i18n import t
from triage.visits import CHANNELS, FIELDS, QUEUE_FIELDS, valid_desk_name

try:  # POSIX: several desk processes and `triage spool flush` share spool files safely
    import fcntl
except ImportError:  # Windows: msvcrt below
    fcntl = None  # type: ignore[assignment]
try:  # Windows desks (by name: elsewhere a type checker knows none of its names)
    msvcrt: Any = importlib.import_module("msvcrt")
except ImportError:
    msvcrt = None

# Windows locks a range of bytes from the file's position, not a file: every holder locks the
# same range, the first byte (it may lie past the end of an empty file), so it locks the file.
LOCKED_BYTES = 1
LOCK_RETRY_SECONDS = 0.01  # while another process holds a Windows lock, try again this often

JsonObject = dict[str, Any]  # one line of a spool file (a visit or a void), or a quarantine record

# Entries set aside for a person to look at. Not a desk's spool file: desk names have no "_".
QUARANTINE = "_quarantine.jsonl"

# The text fields of a visit and their longest value (the visit table's column sizes).
TEXT_FIELDS = {
    "visit_id": 32,
    "site_id": 64,
    "outcome_id": 64,
    "destination_id": 64,
    "destinations": 400,
    "path": 2000,
    "flow_version": 64,
}
MAY_BE_EMPTY = ("destinations", "path")
NULLABLE = ("postcode", "postcode_site_id")

Unfit = tuple[str, str]  # (reason, detail): why an entry can never be stored


# The file in a database's spool folder that says which database it is for (no password).
DATABASE_FILE = "database.txt"
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark, as Notepad puts at the start of a file

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a pipe with a spool file's name must not hang us
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_FLAGS = {
    "rb": os.O_RDONLY,
    "rb+": os.O_RDWR,
    "ab": os.O_WRONLY | os.O_APPEND | os.O_CREAT,
    "ab+": os.O_RDWR | os.O_APPEND | os.O_CREAT,
}


def why(unfit: Unfit, lang: str = "en") -> str:
    """Why an entry cannot be stored, in words (Danish or English)."""
    reason, detail = unfit
    return t(f"spool_why_{reason}", lang, detail=detail)


class NotASpoolFile(OSError):
    """A symbolic link, folder, pipe or device where a spool file was expected: left alone."""

    def __init__(self, path: Path) -> None:
        super().__init__(errno.EINVAL, "not a spool file, left alone", str(path))


def _open_regular(path: Path, mode: str) -> IO[bytes]:
    """Open a regular file, never through a symbolic link (checked with lstat, and O_NOFOLLOW
    where there is one); a file made here is 0600. Anything else raises NotASpoolFile."""
    flags = _FLAGS[mode]
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise NotASpoolFile(path)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
    try:
        fd = os.open(path, flags | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:  # a symbolic link put there after the lstat
            raise NotASpoolFile(path) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotASpoolFile(path)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


@contextmanager
def exclusive_lock(handle: Any) -> Iterator[None]:
    """Hold an exclusive lock on an open file, waiting as long as anyone else holds it: another
    process, or another handle on the file. fcntl.flock on POSIX; on Windows msvcrt.locking,
    tried again every LOCK_RETRY_SECONDS (its own waiting gives up after 10 seconds)."""
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_EX)
    elif msvcrt is not None:
        _windows_lock(handle)
    try:
        yield
    finally:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
        elif msvcrt is not None:
            handle.seek(0)  # the same range as locked (a buffered write is flushed first)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, LOCKED_BYTES)


def _windows_lock(handle: Any) -> None:
    """Lock the first LOCKED_BYTES bytes, leaving the file's position as it was."""
    position = handle.tell()
    handle.seek(0)
    while True:
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, LOCKED_BYTES)
            break
        except OSError as error:
            # EACCES (EDEADLOCK from LK_LOCK): another holds it. Anything else is a failure.
            if error.errno not in (errno.EACCES, errno.EDEADLOCK):
                raise
            time.sleep(LOCK_RETRY_SECONDS)
    handle.seek(position)


def _sqlite_identity(path: Path) -> str:
    try:
        resolved = path.expanduser().resolve()
    except (OSError, RuntimeError):  # a loop of links: as written, made absolute
        resolved = path.expanduser().absolute()
    return f"sqlite:///{resolved}"


def database_identity(db: str | os.PathLike[str] | None) -> str:
    """Which database `--db` means, as stable text without a password: SQLite by its absolute,
    resolved path; a server by kind, user, host, port and database name (no driver, password or
    options, which may hold a password too). Never raises, however malformed `db` is."""
    found = paths.sqlite_file(db)
    if found == paths.MEMORY:
        return "sqlite://"
    if isinstance(found, Path):
        return _sqlite_identity(found)
    scheme, _, rest = str(db).partition("://")
    kind = scheme.split("+")[0].lower()
    netloc, _, name = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    user = userinfo.split(":")[0] + "@" if at else ""
    return f"{kind}://{user}{host.lower()}/{name.split('?')[0]}"


def database_folder(identity: str) -> str:
    """The spool folder's name for a database: a short key, stable across runs and machines."""
    return "db-" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:12]


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
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return moment.tzinfo is not None


def _is_date(value: object) -> bool:
    try:
        return isinstance(value, str) and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _queue_seconds(value: object) -> bool:
    """A wait or service time: absent, or whole seconds (less than a day)."""
    return value is None or _is_int(value, 0, 86_399)


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
        "postcode_site_id": (
            entry["postcode_site_id"] is None or _is_text(entry["postcode_site_id"], 64)
        ),
        "duration_s": (
            isinstance(duration, (int, float))
            and not isinstance(duration, bool)
            and math.isfinite(duration)
            and 0 <= duration < 10**9
        ),
        "demo": isinstance(entry["demo"], bool),
        **{name: _queue_seconds(entry.get(name)) for name in QUEUE_FIELDS},
    }
    for name, fine in checks.items():
        if not fine:
            return ("bad_field", name)
    return None


@dataclass
class SpoolFile:
    """What one spool file holds: entries that can be sent, and those that never can."""

    path: Path
    entries: list[JsonObject] = field(default_factory=list)
    unfit: list[JsonObject] = field(default_factory=list)  # quarantine records, see _set_aside
    unreadable: str = ""  # why the file itself cannot be read ("" when it can)
    left_alone: bool = False  # not a regular file (a link, a folder, …): never opened


@dataclass
class Drained:
    """What one flush did. `cause` says why something still waits ("" when nothing had to)."""

    sent: int = 0
    set_aside: list[JsonObject] = field(default_factory=list)  # quarantine records written now
    unreadable: list[SpoolFile] = field(default_factory=list)
    left_alone: list[Path] = field(default_factory=list)  # not spool files: never opened
    cause: str = ""


@dataclass
class Sent:
    """What the database did with a batch: how many entries it stored, which ones it refused
    for good (position → why), and `cause` when it stopped taking more."""

    stored: int
    refused: dict[int, Unfit] = field(default_factory=dict)
    cause: str = ""


def _set_aside(
    source: str, unfit: Unfit, entry: object = None, line: str | None = None
) -> JsonObject:
    """A quarantine record: the entry (or the line that could not be read) and why."""
    record: JsonObject = {
        "set_aside_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "from": source,
        "reason": unfit[0],
        "detail": unfit[1],
        "why_da": why(unfit, "da"),
        "why_en": why(unfit, "en"),
    }
    if line is not None:
        record["line"] = line
    else:
        if unfit[0] == "bad_desk" and isinstance(entry, dict):
            # The name may be a person's (or a CPR number): it is not copied anywhere else.
            entry = {**entry, unfit[1]: ""}
        record["entry"] = entry
    return record


def _parse(raw: bytes, source: str) -> tuple[list[JsonObject], list[JsonObject]]:
    """(entries that can be sent, quarantine records for the rest) of a spool file's bytes. A
    last line without its newline was torn by a crash or a full disk mid-write: the desk was
    never told it was kept, so it is set aside, never sent."""
    *lines, tail = raw.split(b"\n")
    good: list[JsonObject] = []
    bad: list[JsonObject] = []
    for line in lines:
        line = line.removeprefix(BOM)  # a line fixed in Notepad and put back
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
    if tail.removeprefix(BOM).strip():
        bad.append(_set_aside(source, ("torn", ""), line=tail.decode("utf-8", "replace")))
    return good, bad


def one_line(error: BaseException) -> str:
    """What went wrong, in one line (a driver's own words when it has them)."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    from triage.config import hide_secrets  # a driver's words may hold a password

    said = str(getattr(error, "orig", None) or error).strip()
    return hide_secrets(said.splitlines()[0]) if said else type(error).__name__


class Spool:
    """Append-only JSON lines, fsync'd: visits (and voids) waiting for the database. `root` is
    the spool folder; `database` (see database_identity) picks that database's own folder in it
    (without it: the spool folder itself, where earlier versions kept every database's entries).
    `desk` names this desk's own file; without it the spool can be read and sent, not appended
    to."""

    def __init__(
        self,
        root: Path,
        desk: str | None = None,
        database: str | None = None,
        folder: str | None = None,
    ) -> None:
        if desk is not None and not valid_desk_name(desk):
            raise ValueError("a desk name is a short id: letters a-z, digits, hyphens, at most 32")
        self.root = root
        self.database = database
        if folder is None and database is not None:
            folder = database_folder(database)
        self.directory = root / folder if folder else root
        self.path = self.directory / f"{desk or '-'}.jsonl"
        self.quarantine = self.directory / QUARANTINE
        self.last = Drained()  # what the latest drain did

    @contextmanager
    def _locked(self, path: Path, mode: str) -> Iterator[IO[bytes]]:
        with _open_regular(path, mode) as handle, exclusive_lock(handle):
            yield handle

    def _make_folder(self) -> None:
        """The folder, and in a database's folder the file that says which database it is for."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.database is None or self.directory == self.root:
            return
        marker = self.directory / DATABASE_FILE
        if os.path.lexists(marker):
            return
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        except FileExistsError:
            return  # another desk made it meanwhile
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.database + "\n")

    def append(self, entry: JsonObject) -> None:
        """Add one entry, on disk when this returns. A torn line left by an earlier crash is
        set aside first, so it can never swallow this one; if this write fails part way (a
        full disk), the file is cut back to where it was."""
        self._make_folder()
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
                # Never leave half an entry behind; if even that fails, the next append (or
                # flush) sets the torn line aside.
                with suppress(OSError):
                    os.ftruncate(fd, size)
                raise

    def _repair_tail(self, handle: IO[bytes], size: int) -> int:
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
        self._quarantine([_set_aside(self._source(self.path), ("torn", ""), line=torn)])
        os.ftruncate(handle.fileno(), start)
        return start

    def _source(self, path: Path) -> str:
        """A spool file's name for the quarantine file (its folder too when not this one's)."""
        return path.name if path.parent == self.directory else str(path.relative_to(self.root))

    def _quarantine(self, records: list[JsonObject]) -> None:
        self._make_folder()
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        with self._locked(self.quarantine, "ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def _listing(self, legacy: bool = False) -> tuple[list[Path], list[Path]]:
        """(regular spool files, other things with a spool file's name). `legacy` adds those
        an earlier version left directly in the spool folder, with no database recorded."""
        folders = [self.directory]
        if legacy and self.directory != self.root:
            folders.append(self.root)
        regular: list[Path] = []
        others: list[Path] = []
        for folder in folders:
            if not folder.is_dir():  # a folder may be a link (a spool kept on another disk)
                continue
            for path in sorted(folder.glob("*.jsonl")):
                if path.name == QUARANTINE:
                    continue
                try:
                    is_file = stat.S_ISREG(os.lstat(path).st_mode)
                except OSError:
                    continue  # gone meanwhile
                (regular if is_file else others).append(path)
        return regular, others

    def files(self, legacy: bool = False) -> list[Path]:
        return self._listing(legacy)[0]

    def survey(self, legacy: bool = False) -> list[SpoolFile]:
        """Every spool file and what it holds, read without changing anything."""
        regular, others = self._listing(legacy)
        found = []
        for path in regular:
            try:
                with self._locked(path, "rb") as handle:
                    found.append(SpoolFile(path, *_parse(handle.read(), self._source(path))))
            except NotASpoolFile:
                found.append(SpoolFile(path, left_alone=True))
            except OSError as error:
                found.append(SpoolFile(path, unreadable=error.strerror or one_line(error)))
        return found + [SpoolFile(path, left_alone=True) for path in others]

    def waiting(self, legacy: bool = False) -> list[JsonObject]:
        """The entries that wait to be sent (not those that never can be)."""
        return [entry for spool_file in self.survey(legacy) for entry in spool_file.entries]

    def set_aside(self) -> list[JsonObject]:
        """The quarantine file's records (a line that is not one is shown as it is)."""
        try:
            with self._locked(self.quarantine, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return []
        records = []
        for line in raw.splitlines():
            try:
                record = json.loads(line.removeprefix(BOM).decode("utf-8"))
            except (ValueError, RecursionError):
                record = None
            if not isinstance(record, dict):
                text = line.decode("utf-8", "replace")
                record = {"reason": "unreadable", "detail": "", "line": text}
            records.append(record)
        return records

    def drain(self, send: Callable[[list[JsonObject]], Sent], legacy: bool = False) -> Drained:
        """Send every spool file's entries with send(entries). A file is emptied only once all
        its entries are stored or set aside; when the database stops taking them, the rest
        wait (a replay never counts a visit twice) and `cause` says why. `legacy`: also the
        files an earlier version left with no database recorded (see _listing)."""
        report = Drained()
        self.last = report
        regular, others = self._listing(legacy)
        report.left_alone += others
        for path in regular:
            try:
                with self._locked(path, "rb+") as handle:
                    going_on = self._drain_file(path, handle, send, report)
            except NotASpoolFile:  # swapped for a link or the like since it was listed
                report.left_alone.append(path)
                continue
            except OSError as error:  # the file cannot be opened or read: say so, send the rest
                why_not = error.strerror or one_line(error)
                report.unreadable.append(SpoolFile(path, unreadable=why_not))
                continue
            if not going_on:
                break
        return report

    def _drain_file(
        self,
        path: Path,
        handle: IO[bytes],
        send: Callable[[list[JsonObject]], Sent],
        report: Drained,
    ) -> bool:
        """Send one locked spool file; False when the rest must wait (see report.cause)."""
        source = self._source(path)
        good, bad = _parse(handle.read(), source)
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
        bad += [_set_aside(source, unfit, good[i]) for i, unfit in sorted(sent.refused.items())]
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


def database_spools(root: Path) -> list[Spool]:
    """The spool of every database that has a folder in `root`, named by its database file
    (or by the folder, when that file is missing or unreadable)."""
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.glob("db-*")):
        if not folder.is_dir():
            continue
        try:
            with _open_regular(folder / DATABASE_FILE, "rb") as handle:
                said = handle.read(4096).removeprefix(BOM).decode("utf-8", "replace").strip()
        except OSError:
            said = ""
        found.append(Spool(root, database=said or f"? ({folder.name})", folder=folder.name))
    return found
