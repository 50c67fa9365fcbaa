"""The spool's file lock, on POSIX (fcntl.flock) and on Windows (msvcrt.locking).

The contract: while one process holds a spool file's lock, no other process gets it; it gets
it once the first lets go. Checked with real processes. Windows' branch runs here with a fake
msvcrt module put in place of the real one: the lock logic is spool.py's own, only the OS
call is played by flock, which fails like msvcrt.locking(LK_NBLCK) when the lock is held.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from triage import spool as spool_module
from triage.spool import LOCKED_BYTES, Spool, exclusive_lock

ROOT = Path(__file__).resolve().parent.parent


class FakeMsvcrt:
    """msvcrt.locking as Windows does it, on Linux: a lock on `nbytes` bytes from the file's
    position (read as the C runtime reads it), refused at once with EACCES while another
    handle holds it (LK_NBLCK); unlocking a range that is not locked fails too."""

    LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4  # Windows' values

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []  # (mode, position, nbytes)
        self.held: dict[int, tuple[int, int]] = {}  # fd: (position, nbytes)

    def locking(self, fd: int, mode: int, nbytes: int, /) -> None:
        position = os.lseek(fd, 0, os.SEEK_CUR)
        self.calls.append((mode, position, nbytes))
        if mode == self.LK_NBLCK:
            if fd in self.held:
                raise OSError(errno.EACCES, "Permission denied")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OSError(errno.EACCES, "Permission denied") from None
            self.held[fd] = (position, nbytes)
        elif mode == self.LK_UNLCK:
            if self.held.pop(fd, None) != (position, nbytes):
                raise OSError(errno.EACCES, "Permission denied")
            fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            raise AssertionError(f"mode {mode}: LK_LOCK gives up after 10 seconds on Windows")


@pytest.fixture
def windows(monkeypatch) -> FakeMsvcrt:
    """spool.py as on a Windows desk: no fcntl, an msvcrt module."""
    fake = FakeMsvcrt()
    monkeypatch.setattr(spool_module, "fcntl", None)
    monkeypatch.setattr(spool_module, "msvcrt", fake)
    return fake


# A process that takes the lock on PATH, says so, and holds it until told to let go. With
# WINDOWS set, spool.py runs its Windows branch (the fake msvcrt from this file).
HOLDER = """
import sys, time
from pathlib import Path
from triage import spool
if WINDOWS:
    from tests.test_spool_lock import FakeMsvcrt
    spool.fcntl, spool.msvcrt = None, FakeMsvcrt()
with spool._open_regular(Path(PATH), "ab+") as handle:
    print("trying", flush=True)
    with spool.exclusive_lock(handle):
        print("locked", time.monotonic(), flush=True)
        sys.stdin.readline()  # hold it until told
        print("letting go", time.monotonic(), flush=True)
"""


class Holder:
    """A HOLDER process, and the lines it prints as they come."""

    def __init__(self, path: Path, windows: bool) -> None:
        code = HOLDER.replace("PATH", repr(str(path))).replace("WINDOWS", repr(windows))
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def said_within(self, seconds: float) -> str:
        """The next line it prints within `seconds` ("" if none)."""
        try:
            return self.lines.get(timeout=seconds)
        except queue.Empty:
            return ""

    def let_go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()

    def end(self) -> int:
        with contextlib.suppress(OSError):  # it may have ended already
            self.let_go()
        return self.process.wait(timeout=30)


@pytest.mark.parametrize("windows", [False, True], ids=["posix-flock", "windows-msvcrt"])
def test_a_second_process_waits_until_the_first_lets_go(tmp_path, windows):
    path = tmp_path / "skranke-1.jsonl"
    first = Holder(path, windows)
    second = None
    try:
        assert first.said_within(30).startswith("trying")
        assert first.said_within(30).startswith("locked")
        second = Holder(path, windows)
        assert second.said_within(30).startswith("trying")
        assert second.said_within(1.0) == "", "the second process took a held lock"
        first.let_go()
        letting_go = first.said_within(30)
        assert letting_go.startswith("letting go")
        got = second.said_within(30)
        assert got.startswith("locked"), "the lock was never passed on"
        assert float(got.split()[1]) >= float(letting_go.split()[2])
    finally:
        codes = [holder.end() for holder in (first, second) if holder is not None]
    assert codes == [0, 0]


def test_windows_locks_and_unlocks_the_first_byte_and_keeps_the_position(tmp_path, windows):
    path = tmp_path / "skranke-1.jsonl"
    path.write_bytes(b'{"a": 1}\n')
    with open(path, "ab+") as handle:
        end = handle.tell()
        with exclusive_lock(handle):
            assert handle.tell() == end  # an append goes on where it would have
            handle.write(b'{"b": 2}\n')
    assert windows.calls == [
        (FakeMsvcrt.LK_NBLCK, 0, LOCKED_BYTES),
        (FakeMsvcrt.LK_UNLCK, 0, LOCKED_BYTES),
    ]
    assert path.read_bytes() == b'{"a": 1}\n{"b": 2}\n'


def test_windows_lock_waits_while_another_handle_holds_it(tmp_path, windows, monkeypatch):
    path = tmp_path / "skranke-1.jsonl"
    tries: list[float] = []
    monkeypatch.setattr(spool_module, "LOCK_RETRY_SECONDS", 0.001)
    real_sleep = time.sleep
    with open(path, "ab") as holder, open(path, "rb") as waiter, exclusive_lock(holder):

        def sleep(seconds: float) -> None:  # the holder lets go after the third try
            tries.append(seconds)
            if len(tries) == 3:
                windows.locking(holder.fileno(), FakeMsvcrt.LK_UNLCK, LOCKED_BYTES)
            real_sleep(seconds)

        monkeypatch.setattr(spool_module.time, "sleep", sleep)
        with exclusive_lock(waiter):
            assert windows.held == {waiter.fileno(): (0, LOCKED_BYTES)}
        monkeypatch.setattr(spool_module.time, "sleep", real_sleep)
        windows.locking(holder.fileno(), FakeMsvcrt.LK_NBLCK, LOCKED_BYTES)  # as it was
    assert tries == [0.001] * 3


def test_windows_lock_failure_that_is_no_held_lock_is_raised(tmp_path, windows, monkeypatch):
    def locking(fd: int, mode: int, nbytes: int) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(windows, "locking", locking)
    with (
        open(tmp_path / "x.jsonl", "ab") as handle,
        pytest.raises(OSError) as raised,
        exclusive_lock(handle),
    ):
        pass
    assert raised.value.errno == errno.EBADF


def test_a_windows_desk_spools_and_flushes_through_the_lock(tmp_path, windows):
    """The spool's own work (append, survey, drain, quarantine) with Windows' lock."""
    spool = Spool(tmp_path / "spool", desk="skranke-1", database="sqlite:///x.db")
    entries = [
        {"void": f"v{n}", "voided_desk": "skranke-1", "voided_utc": "2026-11-23T11:00:00+00:00"}
        for n in range(3)
    ]
    for entry in entries:
        spool.append(entry)
    with spool.path.open("ab") as handle:
        handle.write(b"not json\n")
    assert spool.waiting() == entries
    drained = spool.drain(lambda sent: spool_module.Sent(len(sent)))
    assert drained.sent == 3 and [r["reason"] for r in drained.set_aside] == ["unreadable"]
    assert spool.path.read_bytes() == b"" and json.loads(spool.quarantine.read_text())
    locks = [call for call in windows.calls if call[0] == FakeMsvcrt.LK_NBLCK]
    assert len(locks) == len(windows.calls) / 2 >= 6 and windows.held == {}
