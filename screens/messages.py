"""Messages between the screens and the app. Screens ask (VisitConfirmed, UndoRequested,
OverviewRequested, TicketRequested, posted to the app, which does the work); the app's workers
answer the desk (LogReady, VisitLogged, VisitVoided: what the visit log did; QueueSeen,
TicketCalled: the queue at the site and the ticket called to the desk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from triage.i18n import CATALOG, t
from triage.spool import one_line

# --- the desk asks the app ------------------------------------------------------------------


@dataclass
class VisitConfirmed(Message):
    """The receptionist confirmed the card: the app writes the visit off the UI thread."""

    visit: dict[str, Any]
    ticket_id: int | None = None  # the ticket called to this desk: finished with the visit


@dataclass
class UndoRequested(Message):
    """Ctrl+Z: the app voids this desk's last visit, if it is recent enough."""


@dataclass
class OverviewRequested(Message):
    """F5: the app opens the supervisor's overview over the desk."""


# --- the app's workers answer the desk ------------------------------------------------------


@dataclass
class LogReady(Message):
    """The database answered (or not) after start-up; counts are today's (desk, site)."""

    available: bool
    counts: tuple[int, int] | None
    error: str = ""  # an i18n key (e.g. db_newer)
    reason: str = ""  # why the database does not answer, as the driver said it
    demo: bool = False  # a demo database: the desk says so
    params: dict[str, Any] = field(default_factory=dict)  # the numbers and names in error's text
    first_start: bool = False  # a real database with no visit yet: say how to practise
    practice: bool = True  # `triage --training` is there to practise with (not when served)
    desk_taken: bool = False  # this desk runs in another tab or window on this machine too


@dataclass
class VisitLogged(Message):
    """A confirmed visit was written ('saved'), spooled ('spooled') or not kept ('failed')."""

    visit: dict[str, Any]
    status: str
    counts: tuple[int, int] | None
    error: str = ""  # why a failed visit was not kept
    reason: str = ""  # why a spooled visit did not reach the database
    ticket_served: bool = False  # the ticket called for it is served: wait and service on it
    ticket_reason: str = ""  # why that ticket could not be marked served (the visit is kept)


@dataclass
class VisitVoided(Message):
    """The last visit was voided ('saved'/'spooled'), there was none to undo, or 'failed'."""

    visit: dict[str, Any] | None
    status: str
    counts: tuple[int, int] | None
    reason: str = ""  # why a failed undo was not kept
    ticket: TicketCalled | None = None  # a served ticket called here again ('failed': not)


# --- the queue: the desk asks, the app's workers answer -------------------------------------


@dataclass
class TicketRequested(Message):
    """F6 call the next citizen, F7 call the ticket again, F8 the citizen did not come."""

    action: str  # "call_next", "recall" or "no_show"
    ticket_id: int | None = None  # the ticket called to this desk (recall, no_show)


@dataclass
class QueueSeen(Message):
    """The queue at the desk's site now: (letter, waiting, longest wait in seconds) per queue,
    in queues.toml's order; or, with reason, why it cannot be read (the app tries again)."""

    queues: list[tuple[str, int, int]]
    reason: str = ""


@dataclass
class TicketCalled(Message):
    """What a ticket request did: 'called', 'recalled', 'no_show', 'empty' (nobody waits) or
    'failed' (error: a catalog key with params, or reason: what the database said)."""

    status: str
    ticket_id: int | None = None
    label: str = ""  # A 042
    recalls: int = 0
    error: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def failure_text(error: BaseException | None, lang: str) -> str:
    """What a failed worker ran into, in one line for a notice: the catalog's sentence when
    the error names one (a store error's code and params), else the driver's own words."""
    code, params = getattr(error, "code", None), getattr(error, "params", None)
    if isinstance(code, str) and code in CATALOG["da"] and isinstance(params, dict):
        return t(code, lang, **params).rstrip(".")  # the notice around it ends the sentence
    return one_line(error)[:200] if error is not None else ""  # a driver may say a lot
