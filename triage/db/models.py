"""The tables of the visit log. There is deliberately no column for who the citizen is."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, Table
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel, col

# A rollup on SQLite is one b-tree ordered by its key (WITHOUT ROWID): not a table beside an
# index of that key, so each count written touches half the pages.
ROLLUP_TABLE_ARGS = {"sqlite_with_rowid": False}


class Visit(SQLModel, table=True):
    """One confirmed outcome. There is deliberately no field for who the citizen is.
    Statistics read the rollups; the one index here serves today's counts and purge."""

    __tablename__ = "visit"
    __table_args__ = (Index("ix_visit_date_site", "local_date", "site_id"),)

    id: int | None = Field(default=None, primary_key=True)
    visit_id: str = Field(max_length=32, unique=True)
    at_utc: datetime
    local_date: date
    local_hour: int
    local_weekday: int
    site_id: str = Field(max_length=64)
    desk: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    outcome_id: str = Field(max_length=64)
    destination_id: str = Field(max_length=64)
    destinations: str = Field(max_length=400)
    handled_here: bool
    path: str = Field(max_length=2000)
    postcode: int | None = None
    postcode_site_id: str | None = Field(default=None, max_length=64)
    flow_version: str = Field(max_length=64)
    duration_s: float
    demo: bool = False
    voided_utc: datetime | None = None
    voided_desk: str | None = Field(default=None, max_length=64)
    # A citizen called from the queue: the wait (ticket to first call) and the service (last
    # call to done), whole seconds. None for a walk-in at the desk.
    wait_s: int | None = None
    service_s: int | None = None


class VisitDaily(SQLModel, table=True):
    """Counts per day, hour and kind of visit, kept by a trigger in the same transaction as
    every insert and void, so it is always exact. Statistics read this, never the visit table;
    `triage purge` deletes detail only, and no figure changes.
    Empty strings, not NULL, stand for "none": they must take part in the key."""

    __tablename__ = "visit_daily"
    __table_args__ = ROLLUP_TABLE_ARGS

    local_date: date = Field(primary_key=True)
    local_hour: int = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    destination_id: str = Field(primary_key=True, max_length=64)
    outcome_id: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=16)
    handled_here: bool = Field(primary_key=True)
    postcode_site_id: str = Field(primary_key=True, max_length=64)
    demo: bool = Field(primary_key=True)
    local_weekday: int
    visits: int


class VisitHourly(SQLModel, table=True):
    """Footfall per site, day and hour: the small table the supervisor's views read."""

    __tablename__ = "visit_hourly"
    # The busiest hour's peak: one slot's days (a weekday and hour at a site) without reading
    # every hour of the period.
    __table_args__ = (
        Index("ix_visit_hourly_slot", "site_id", "local_weekday", "local_hour", "local_date"),
        ROLLUP_TABLE_ARGS,
    )

    # Date first in the key: a day or a month is a range scan, not a pass over every site.
    local_date: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    local_hour: int = Field(primary_key=True)
    demo: bool = Field(primary_key=True)
    local_weekday: int
    visits: int


class VisitRoute(SQLModel, table=True):
    """Per day and site: where citizens live (their postcode's site) and where they were sent.
    Small enough for misdirection and referral figures over long periods."""

    __tablename__ = "visit_route"
    __table_args__ = ROLLUP_TABLE_ARGS

    local_date: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    postcode_site_id: str = Field(primary_key=True, max_length=64)
    destination_id: str = Field(primary_key=True, max_length=64)
    handled_here: bool = Field(primary_key=True)
    demo: bool = Field(primary_key=True)
    local_weekday: int
    visits: int


class VisitPostcode(SQLModel, table=True):
    """Per day and site, the visits that gave a postcode: where citizens live, finer than
    their catchment. Serves the planners' exports and the catchment proposal."""

    __tablename__ = "visit_postcode"
    __table_args__ = ROLLUP_TABLE_ARGS

    local_date: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    postcode: int = Field(primary_key=True)
    postcode_site_id: str = Field(primary_key=True, max_length=64)
    demo: bool = Field(primary_key=True)
    local_weekday: int
    visits: int


class VisitDay(SQLModel, table=True):
    """Visits per day and site: the trend and the totals of long periods read this."""

    __tablename__ = "visit_day"
    __table_args__ = ROLLUP_TABLE_ARGS

    local_date: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    demo: bool = Field(primary_key=True)
    local_weekday: int
    visits: int


class VisitMonthHourly(SQLModel, table=True):
    """visit_hourly summed over whole months (`month` is its first day): a year's heat map is
    twelve rows per cell instead of some 250."""

    __tablename__ = "visit_month_hourly"
    __table_args__ = ROLLUP_TABLE_ARGS

    month: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    local_weekday: int = Field(primary_key=True)
    local_hour: int = Field(primary_key=True)
    demo: bool = Field(primary_key=True)
    visits: int


class VisitMonthRoute(SQLModel, table=True):
    """visit_route summed over whole months: misdirection and referrals of long periods."""

    __tablename__ = "visit_month_route"
    __table_args__ = ROLLUP_TABLE_ARGS

    month: date = Field(primary_key=True)
    site_id: str = Field(primary_key=True, max_length=64)
    postcode_site_id: str = Field(primary_key=True, max_length=64)
    destination_id: str = Field(primary_key=True, max_length=64)
    handled_here: bool = Field(primary_key=True)
    demo: bool = Field(primary_key=True)
    visits: int


TICKET_STATES = ("waiting", "called", "served", "no_show")


class VisitTicket(SQLModel, table=True):
    """One queue ticket ("A 042"), beside the visits and never linked to one: no visit id, and
    nothing about the citizen. Numbers restart each day per site and queue; a day's numbers are
    dropped when the next day's first ticket is issued (triage.queue), the rows themselves by
    `triage purge`. Times to the minute; `clock_utc` is the start of the span running now (the
    wait, then the service) to the second, and is cleared when that span ends."""

    __tablename__ = "visit_ticket"
    __table_args__ = (
        # A day's numbers, and the next one (NULLs, the dropped numbers, never clash).
        Index("ux_visit_ticket_number", "local_date", "site_id", "queue", "number", unique=True),
        # Call-next: the oldest ticket waiting today at a site, read in order.
        Index("ix_visit_ticket_waiting", "site_id", "local_date", "state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    local_date: date
    local_hour: int
    local_weekday: int
    site_id: str = Field(max_length=64)
    queue: str = Field(max_length=8)
    number: int | None = None
    errand: str = Field(max_length=64)  # the outcome (or answer) id it was issued for
    state: str = Field(max_length=16)  # one of TICKET_STATES
    desk: str | None = Field(default=None, max_length=64)
    recalls: int = 0
    issued_utc: datetime
    called_utc: datetime | None = None
    done_utc: datetime | None = None
    wait_s: int | None = None
    service_s: int | None = None
    clock_utc: datetime | None = None


class Meta(SQLModel, table=True):
    __tablename__ = "triage_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=400)


# Every table of SCHEMA_VERSION: what a database of this version holds.
TABLES = (
    Visit,
    VisitDaily,
    VisitHourly,
    VisitRoute,
    VisitPostcode,
    VisitDay,
    VisitMonthHourly,
    VisitMonthRoute,
    VisitTicket,
    Meta,
)
# The rollups the triggers keep (each made with ROLLUP_TABLE_ARGS).
ROLLUP_MODELS = (
    VisitDaily,
    VisitHourly,
    VisitRoute,
    VisitPostcode,
    VisitDay,
    VisitMonthHourly,
    VisitMonthRoute,
)
TABLE_NAMES = frozenset(model.__tablename__ for model in TABLES)


def table_of(model: type[SQLModel]) -> Table:
    """The table behind a table model: SQLModel makes `__table__` but declares no type for it."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def set_meta(conn: Connection, key: str, value: str | None) -> None:
    """Write (or, with None, remove) one triage_meta row."""
    conn.execute(table_of(Meta).delete().where(col(Meta.key) == key))
    if value is not None:
        conn.execute(table_of(Meta).insert().values(key=key, value=value))
