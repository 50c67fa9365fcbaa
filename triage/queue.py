"""The ticket queue: issue a ticket, call the next citizen (exactly once, however many desks
call at the same moment), recall, mark a no-show, finish; and what waits now.

Plain Python on the store's engine. A desk's call is one short write transaction: on SQLite an
immediate one (the one writer; the others wait their turn), on PostgreSQL a row lock taken with
FOR UPDATE SKIP LOCKED (two desks take the two oldest tickets, never the same one).

Privacy: a ticket holds no visit id and nothing about the citizen. Times are kept to the
minute; the start of the span running now (the wait, then the service) is kept to the second
in `clock_utc` only until that span ends. A day's ticket numbers are dropped when a later day's
first ticket is issued (or by `triage purge`); the rows, numberless, stay for the statistics
until `triage purge` deletes them with the visit detail.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, bindparam, cast, extract, func, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import ReturningUpdate

from triage.db.models import Meta, VisitTicket, set_meta, table_of
from triage.db.schema import recorded_date
from triage.errors import CodedError
from triage.queue_data import label
from triage.visits import local_parts, to_minute

if TYPE_CHECKING:
    from triage.db.store import Store

try:
    import fcntl
except ImportError:  # Windows: no flock; SQLite's own locking suffices, only slower
    fcntl = None  # type: ignore[assignment]

# The date from which ticket numbers are kept (those of earlier days are dropped).
NUMBERS_FROM = "ticket_numbers_from"
# PostgreSQL advisory locks: (this namespace, a key) serialises issuing within one site's queue.
_LOCK_NAMESPACE = 0x7471  # "tq"
_DAY_CHANGE_KEY = 0


class QueueError(CodedError):
    """A ticket that cannot do what was asked (e.g. finish one this desk has not called)."""


@dataclass(frozen=True)
class Ticket:
    id: int
    site_id: str
    queue: str
    number: int | None
    errand: str
    state: str
    desk: str | None
    recalls: int
    wait_s: int | None
    service_s: int | None

    @property
    def label(self) -> str:
        """A 042, or "" once the day's numbers are dropped."""
        return label(self.queue, self.number) if self.number is not None else ""


@dataclass(frozen=True)
class Issued:
    ticket_id: int
    label: str  # A 042
    ahead: int  # tickets waiting before it in its queue


@dataclass(frozen=True)
class Served:
    """What a finished ticket gives the visit row: whole seconds."""

    wait_s: int
    service_s: int

    def on(self, visit: dict[str, Any]) -> dict[str, Any]:
        """The visit (from triage.visits.visit_from_result) with this ticket's times."""
        return {**visit, "wait_s": self.wait_s, "service_s": self.service_s}


@dataclass(frozen=True)
class Waiting:
    waiting: int
    longest_s: int  # how long the first in line has waited; 0 when nobody waits


@dataclass
class SiteStatus:
    site_id: str
    queues: dict[str, Waiting] = field(default_factory=dict)  # by letter, only queues with tickets
    desks: list[str] = field(default_factory=list)  # desks serving a called ticket now


_T = table_of(VisitTicket)
_COLUMNS = (
    _T.c.id,
    _T.c.site_id,
    _T.c.queue,
    _T.c.number,
    _T.c.errand,
    _T.c.state,
    _T.c.desk,
    _T.c.recalls,
    _T.c.wait_s,
    _T.c.service_s,
)


# The statements of the two frequent writes, built once (a desk's call and a kiosk's ticket
# spend their time in the database, not in building SQL).
def _oldest(of_queues: bool) -> Select:
    """The oldest ticket waiting today at a site (in the given queues)."""
    conditions = [
        _T.c.site_id == bindparam("site"),
        _T.c.local_date == bindparam("day"),
        _T.c.state == "waiting",
    ]
    if of_queues:
        conditions.append(_T.c.queue.in_(bindparam("queues", expanding=True)))
    return select(_T.c.id).where(*conditions).order_by(_T.c.id).limit(1)


def _claim(postgres: bool, of_queues: bool) -> ReturningUpdate:
    """Call-next as one statement: the oldest waiting ticket, called to this desk, with its
    wait in whole seconds counted by the database. On SQLite the statement takes the write
    lock before it reads, so no other writer comes between; on PostgreSQL FOR UPDATE SKIP
    LOCKED lets two desks take the two oldest tickets, never the same one."""
    now = bindparam("now", type_=_T.c.clock_utc.type)
    if postgres:
        waited: Any = func.greatest(0, func.round(extract("epoch", now - _T.c.clock_utc)))
        oldest = _oldest(of_queues).with_for_update(skip_locked=True)
    else:
        days = func.julianday(now) - func.julianday(_T.c.clock_utc)
        waited = func.max(0, func.round(days * 86400))
        oldest = _oldest(of_queues)
    return (
        update(_T)
        .where(_T.c.id == oldest.scalar_subquery(), _T.c.state == "waiting")
        .values(
            state="called",
            desk=bindparam("to_desk"),
            called_utc=bindparam("called", type_=_T.c.called_utc.type),
            wait_s=cast(func.coalesce(waited, 0), Integer),
            clock_utc=now,  # the service starts now
        )
        .returning(*_COLUMNS)
    )


_OLDEST = {of_queues: _oldest(of_queues) for of_queues in (False, True)}
_CLAIM = {
    (pg, of_queues): _claim(pg, of_queues) for pg in (False, True) for of_queues in (False, True)
}
# A new ticket's number (the queue's last today + 1) and how many wait before it. `queue || ''`
# keeps the count off the number index (it would read every ticket of the day) and on the
# waiting index, which holds only the line.
_OF_QUEUE = (
    _T.c.local_date == bindparam("day"),
    _T.c.site_id == bindparam("site"),
)
_LAST_AND_AHEAD = select(
    select(func.max(_T.c.number))
    .where(*_OF_QUEUE, _T.c.queue == bindparam("queue"))
    .scalar_subquery(),
    select(func.count())
    .where(*_OF_QUEUE, _T.c.state == "waiting", _T.c.queue + "" == bindparam("queue"))
    .scalar_subquery(),
)


def _utc(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _seconds(start: datetime | None, end: datetime) -> int:
    return max(0, round((end - start).total_seconds())) if start is not None else 0


def _today(now: datetime) -> date:
    return date.fromisoformat(str(local_parts(now)["local_date"]))


class Tickets:
    """The queue's tickets in the store's database (opened: its tables exist)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        self.postgres = store.dialect == "postgresql"
        self._turns: Turns | None = None  # the writers' turns, opened on first write
        self._numbers_kept_from: date | None = None  # the day-change mark as last seen
        database = store.engine.url.database
        self._turns_path = (
            lock_file(database)
            if not self.postgres and fcntl is not None and database and database != ":memory:"
            else None
        )

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction; on SQLite an immediate one, so its reads see what it writes
        on (no other writer between a read and the write it decides). Queue writers on one
        SQLite file first take turns on a lock file beside it (Turns): the kernel hands the
        turn on at once, where SQLite's busy handler sleeps up to 100 ms between tries (a
        desk's call would wait seconds behind the kiosks). Correctness rests on the immediate
        transaction alone; without the lock file (Windows, a folder that cannot hold it)
        calls just wait longer."""
        with self._turn(), self.engine.begin() as conn:
            if not self.postgres:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    def _turn(self) -> AbstractContextManager[None]:
        if self._turns is None and self._turns_path is not None:
            self._turns = Turns.of(self._turns_path)
            if self._turns is None:
                self._turns_path = None  # a read-only folder: the busy handler alone
        return self._turns.turn() if self._turns is not None else nullcontext()

    def close(self) -> None:
        self._turns = None  # the lock file stays open for the process's other users

    # --- the kiosk -------------------------------------------------------------------

    def issue(self, site: str, queue: str, errand: str, now: datetime | None = None) -> Issued:
        """A new ticket in a site's queue for an errand (an outcome or answer id): its label,
        and how many wait before it."""
        moment = _utc(now)
        parts = local_parts(moment)
        today = date.fromisoformat(str(parts["local_date"]))
        with self._writing() as conn:
            if self.postgres:  # issuers of one site's queue take turns: each its own number
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
                    {"space": _LOCK_NAMESPACE, "key": f"{site}\n{queue}"},
                )
            self._forget_earlier_numbers(conn, today)
            last, ahead = conn.execute(
                _LAST_AND_AHEAD, {"day": today, "site": site, "queue": queue}
            ).one()
            number = (last or 0) + 1
            ticket_id = conn.execute(
                _T.insert()
                .values(
                    local_date=today,
                    local_hour=parts["local_hour"],
                    local_weekday=parts["local_weekday"],
                    site_id=site,
                    queue=queue,
                    number=number,
                    errand=errand,
                    state="waiting",
                    recalls=0,
                    issued_utc=to_minute(moment),
                    clock_utc=moment,
                )
                .returning(_T.c.id)
            ).scalar_one()
        return Issued(ticket_id, label(queue, number), ahead)

    def _forget_earlier_numbers(self, conn: Connection, today: date) -> None:
        """The first ticket of a day drops the numbers of the days before (data minimisation:
        a number must not outlive its day). Read first: on other days this costs one lookup, and
        none once this process has seen today's mark (the mark only ever moves forward)."""
        if self._numbers_kept_from is not None and self._numbers_kept_from >= today:
            return
        meta = table_of(Meta)
        stored = select(meta.c.value).where(meta.c.key == NUMBERS_FROM)
        kept_from = recorded_date(conn.execute(stored).scalar())
        if kept_from is not None and kept_from >= today:
            self._numbers_kept_from = kept_from
            return
        if self.postgres:  # one issuer does it; the others wait, then find it done
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:space, :key)"),
                {"space": _LOCK_NAMESPACE, "key": _DAY_CHANGE_KEY},
            )
            kept_from = recorded_date(conn.execute(stored).scalar())
            if kept_from is not None and kept_from >= today:
                return
        forget_numbers_before(conn, today)
        set_meta(conn, NUMBERS_FROM, today.isoformat())

    # --- the desk --------------------------------------------------------------------

    def call_next(
        self,
        site: str,
        desk: str,
        queues: Sequence[str] | None = None,
        now: datetime | None = None,
    ) -> Ticket | None:
        """The oldest ticket waiting today in the site's queues (or only in `queues`), now
        called to this desk; None when nobody waits. Two desks never get the same ticket."""
        moment = _utc(now)
        params: dict[str, Any] = {"site": site, "day": _today(moment)}
        if queues is not None:
            params["queues"] = list(queues)
        if not self.postgres:
            # A look without the write lock first: an empty queue, which desks ask about
            # often, never makes the kiosks wait for SQLite's one writer.
            with self.engine.connect() as conn:
                if conn.execute(_OLDEST[queues is not None], params).first() is None:
                    return None
        claim = _CLAIM[self.postgres, queues is not None]
        params.update(to_desk=desk, called=to_minute(moment), now=moment)
        with self._writing() as conn:
            called = conn.execute(claim, params).first()
        return Ticket(**called._mapping) if called is not None else None

    def recall(self, ticket_id: int, desk: str, now: datetime | None = None) -> Ticket:
        """Call the ticket this desk called once more (the citizen did not come); the service
        is counted from this call."""
        moment = _utc(now)
        with self._writing() as conn:
            changed = conn.execute(
                update(_T)
                .where(*self._called_by(ticket_id, desk))
                .values(
                    recalls=_T.c.recalls + 1,
                    called_utc=to_minute(moment),
                    clock_utc=moment,
                )
            ).rowcount
            if not changed:
                raise QueueError("ticket_not_called", ticket=self._label_of(conn, ticket_id))
            return self._read(conn, ticket_id)

    def no_show(self, ticket_id: int, desk: str, now: datetime | None = None) -> Ticket:
        """The citizen did not come after a recall: the ticket is done, as a no-show."""
        moment = _utc(now)
        with self._writing() as conn:
            changed = conn.execute(
                update(_T)
                .where(*self._called_by(ticket_id, desk), _T.c.recalls >= 1)
                .values(
                    state="no_show",
                    done_utc=to_minute(moment),
                    clock_utc=None,
                )
            ).rowcount
            if not changed:
                ticket = self._read(conn, ticket_id)
                code = (
                    "ticket_recall_first"
                    if ticket.state == "called" and ticket.desk == desk
                    else "ticket_not_called"
                )
                raise QueueError(code, ticket=ticket.label)
            return self._read(conn, ticket_id)

    def finish(self, ticket_id: int, desk: str, now: datetime | None = None) -> Served:
        """The citizen has been served: the ticket is done, and its wait and service seconds
        go on the visit the desk registers (Served.on)."""
        moment = _utc(now)
        with self._writing() as conn:
            started = conn.execute(
                select(_T.c.clock_utc, _T.c.wait_s).where(*self._called_by(ticket_id, desk))
            ).first()
            if started is None:
                raise QueueError("ticket_not_called", ticket=self._label_of(conn, ticket_id))
            service_s = _seconds(started.clock_utc, moment)
            conn.execute(
                update(_T)
                .where(*self._called_by(ticket_id, desk))
                .values(
                    state="served",
                    done_utc=to_minute(moment),
                    service_s=service_s,
                    clock_utc=None,
                )
            )
        return Served(started.wait_s or 0, service_s)

    def reopen(self, ticket_id: int, desk: str, now: datetime | None = None) -> Ticket:
        """Undo `finish` (the desk voided the served citizen's visit, Ctrl+Z): the ticket is
        called at this desk again, its service running on from where it stopped, so the visit
        registered anew carries the wait and the whole service."""
        moment = _utc(now)
        served_here = (_T.c.id == ticket_id, _T.c.state == "served", _T.c.desk == desk)
        with self._writing() as conn:
            service_s = conn.execute(select(_T.c.service_s).where(*served_here)).scalar()
            changed = conn.execute(
                update(_T)
                .where(*served_here)
                .values(
                    state="called",
                    done_utc=None,
                    service_s=None,
                    clock_utc=moment - timedelta(seconds=service_s or 0),
                )
            ).rowcount
            if not changed:
                raise QueueError("ticket_not_called", ticket=self._label_of(conn, ticket_id))
            return self._read(conn, ticket_id)

    @staticmethod
    def _called_by(ticket_id: int, desk: str) -> tuple[Any, ...]:
        return (_T.c.id == ticket_id, _T.c.state == "called", _T.c.desk == desk)

    def _read(self, conn: Connection, ticket_id: int) -> Ticket:
        row = conn.execute(select(*_COLUMNS).where(_T.c.id == ticket_id)).first()
        if row is None:
            raise QueueError("ticket_unknown")
        return Ticket(**row._mapping)

    def _label_of(self, conn: Connection, ticket_id: int) -> str:
        return self._read(conn, ticket_id).label

    def ticket(self, ticket_id: int) -> Ticket:
        with self.engine.connect() as conn:
            return self._read(conn, ticket_id)

    def called_to(self, site: str, desk: str, now: datetime | None = None) -> Ticket | None:
        """The ticket called to this desk today and not closed, the latest if several: a desk
        started again (a page reloaded, a crash) takes up the citizen it had called."""
        found = (
            select(*_COLUMNS)
            .where(
                _T.c.site_id == site,
                _T.c.local_date == _today(_utc(now)),
                _T.c.state == "called",
                _T.c.desk == desk,
            )
            .order_by(_T.c.clock_utc.desc(), _T.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(found).first()
        return Ticket(**row._mapping) if row is not None else None

    # --- what waits now ----------------------------------------------------------------

    def status(self, sites: Sequence[str] | None = None, now: datetime | None = None) -> dict:
        """Per site (today): waiting and longest wait per queue, and the desks serving."""
        moment = _utc(now)
        today = _today(moment)
        where = [_T.c.local_date == today]
        if sites is not None:
            where.append(_T.c.site_id.in_(list(sites)))
        found: dict[str, SiteStatus] = {}
        with self.engine.connect() as conn:
            waiting = conn.execute(
                select(_T.c.site_id, _T.c.queue, func.count(), func.min(_T.c.clock_utc))
                .where(*where, _T.c.state == "waiting")
                .group_by(_T.c.site_id, _T.c.queue)
            )
            for site, queue, count, since in waiting:
                status = found.setdefault(site, SiteStatus(site))
                status.queues[queue] = Waiting(count, _seconds(since, moment))
            serving = conn.execute(
                select(_T.c.site_id, _T.c.desk)
                .where(*where, _T.c.state == "called")
                .group_by(_T.c.site_id, _T.c.desk)
                .order_by(_T.c.site_id, _T.c.desk)
            )
            for site, desk in serving:
                found.setdefault(site, SiteStatus(site)).desks.append(desk)
        return found

    def waiting(self, site: str, now: datetime | None = None) -> Waiting:
        """All of a site's queues together: what a desk shows ("6 venter, længst 14 min")."""
        status = self.status([site], now).get(site)
        if status is None or not status.queues:
            return Waiting(0, 0)
        return Waiting(
            sum(w.waiting for w in status.queues.values()),
            max(w.longest_s for w in status.queues.values()),
        )


def lock_file(database: str) -> Path:
    """The lock file the queue's writers of one SQLite file take turns on."""
    return Path(f"{Path(database).absolute()}.queue-lock")


class Turns:
    """The turns the queue's writers of one SQLite file take, on a lock file beside it (flock):
    the kernel hands the turn on as soon as it is let go, where SQLite's busy handler sleeps
    up to 100 ms between tries. One per file and process, its threads one at a time (a flock
    belongs to the open file, which they share)."""

    _open: dict[Path, Turns] = {}
    _opening = threading.Lock()

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._in_process = threading.Lock()

    @classmethod
    def of(cls, path: Path) -> Turns | None:
        """The turns of a lock file, opened once per process; None where it cannot be made."""
        if fcntl is None:
            return None
        with cls._opening:
            if path not in cls._open:
                try:
                    cls._open[path] = cls(os.open(path, os.O_RDWR | os.O_CREAT, 0o644))
                except OSError:
                    return None
            return cls._open[path]

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._in_process:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


def forget_numbers_before(conn: Connection, day: date) -> int:
    """Drop the ticket numbers (and any running clock) of the days before `day`: the rows
    stay, numberless and to the minute, for the statistics."""
    result = conn.execute(
        update(_T)
        .where(
            _T.c.local_date < day,
            or_(_T.c.number.is_not(None), _T.c.clock_utc.is_not(None)),
        )
        .values(number=None, clock_utc=None)
    )
    return int(result.rowcount or 0)


def today_of(now: datetime | None = None) -> date:
    """The local day a moment falls on (tickets are numbered per local day)."""
    return _today(_utc(now))


# --- board15: what the waiting-room board shows ----------------------------------------------


@dataclass(frozen=True)
class BoardCall:
    label: str  # A 042
    desk: str  # the desk it is called to


@dataclass(frozen=True)
class BoardView:
    """A site's board today: the last numbers called, newest first, and the waiting per queue
    (by letter, only queues with someone waiting)."""

    day: date
    calls: tuple[BoardCall, ...]
    waiting: dict[str, int]


def board_view(tickets: Tickets, site: str, limit: int, now: datetime | None = None) -> BoardView:
    """The last `limit` tickets called today at the site, newest call first, and how many wait
    per queue. Both read today's rows of one site by the (site, day, …) index: cheap enough to
    ask several times a second. A no-show leaves the board (nobody is going to that desk).
    A recall counts as a new call (the number is shown again);
    within one minute a ticket still being served (its call's second in clock_utc) is taken
    as newer than one already done."""
    today = _today(_utc(now))
    of_today = (_T.c.site_id == site, _T.c.local_date == today)
    with tickets.engine.connect() as conn:
        called = conn.execute(
            select(_T.c.queue, _T.c.number, _T.c.desk)
            .where(
                *of_today,
                _T.c.called_utc.is_not(None),
                _T.c.number.is_not(None),
                _T.c.state != "no_show",  # a citizen who did not come leaves the board
            )
            .order_by(
                _T.c.called_utc.desc(),
                _T.c.clock_utc.is_(None),
                _T.c.clock_utc.desc(),
                _T.c.id.desc(),
            )
            .limit(limit)
        )
        calls = tuple(BoardCall(label(queue, number), desk or "") for queue, number, desk in called)
        waiting = conn.execute(
            select(_T.c.queue, func.count())
            .where(*of_today, _T.c.state == "waiting")
            .group_by(_T.c.queue)
        )
        counts = {queue: int(count) for queue, count in waiting}
    return BoardView(today, calls, counts)
