"""A visit as the log keeps it: plain data, built from a finished walk, never about the person.

It holds when, where, what and how long — and nothing that identifies the citizen: no CPR
number, no name, no free text. This module imports no database code, so the desk can build a
visit without loading the ORM; the store (triage.db.store) writes it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from triage.model import LOCAL_ZONE
from triage.walk import Result

# A kiosk logs its referrals as visits of its own channel (a ticket becomes a visit at the desk).
CHANNELS = ("in_person", "phone", "kiosk")
KIOSK_DESK = "kiosk"  # the desk name on a kiosk's referrals and its spool

# Every field of a visit row, in order; the store's table and the spool use exactly these.
FIELDS = (
    "visit_id",
    "at_utc",
    "local_date",
    "local_hour",
    "local_weekday",
    "site_id",
    "desk",
    "channel",
    "outcome_id",
    "destination_id",
    "destinations",
    "handled_here",
    "path",
    "postcode",
    "postcode_site_id",
    "flow_version",
    "duration_s",
    "demo",
)
# Fields a visit may carry, absent (NULL) otherwise: a citizen called from the queue has the
# wait and service seconds its ticket measured (triage.queue.Served); a walk-in has none.
QUEUE_FIELDS = ("wait_s", "service_s")


def new_visit_id() -> str:
    """Made by the desk, so a visit replayed from the spool is recognised, never counted twice."""
    return uuid.uuid4().hex


def to_minute(at: datetime) -> datetime:
    """A moment in UTC to the whole minute: a visit row beside a postcode and an errand must not
    pin down the citizen to the second. Copenhagen is whole hours from UTC, so the local date,
    hour and weekday of the minute are those of the moment itself."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def local_parts(at_utc: datetime) -> dict[str, Any]:
    """Local date, hour and weekday, fixed at write time so statistics survive DST changes."""
    local = at_utc.astimezone(LOCAL_ZONE)
    return {
        "local_date": local.date().isoformat(),
        "local_hour": local.hour,
        "local_weekday": local.weekday(),
    }


def visit_from_result(
    result: Result,
    site: str,
    desk: str,
    channel: str,
    duration_s: float,
    at_utc: datetime | None = None,
) -> dict[str, Any]:
    """The row for one confirmed outcome, as JSON-safe values (it may go to the spool as is):
    the time to the minute, the duration in whole seconds."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    at_utc = to_minute(at_utc or datetime.now(UTC))
    return {
        "visit_id": new_visit_id(),
        "at_utc": at_utc.isoformat(),
        **local_parts(at_utc),
        "site_id": site,
        "desk": desk,
        "channel": channel,
        "outcome_id": result.outcome.id,
        "destination_id": result.destination.id,
        "destinations": ",".join(s.id for s in result.destinations),
        "handled_here": result.handled_here,
        "path": " ".join(result.path),
        "postcode": result.postcode,
        "postcode_site_id": result.answered_site.id
        if result.postcode and result.answered_site
        else None,
        "flow_version": result.flow_version,
        "duration_s": round(max(duration_s, 0.0)),
        "demo": False,
    }


# A desk's name is written into every visit row, spool line and export, and names the spool
# file: a short id such as skranke-3 that names the desk, never a person's name or CPR number.
# At most 4 digits in all, so no CPR number (10 digits) or birth date (6) fits, however split.
DESK_NAME_MAX = 32
DESK_NAME_MAX_DIGITS = 4
_DESK_NAME = re.compile(r"[a-z][a-z0-9-]*")


def valid_desk_name(name: object) -> bool:
    """True for a short desk id: starts with a letter a-z, then only a-z, digits and hyphens,
    at most 32 characters and at most 4 digits in all. Upper case is refused, not lowered."""
    return (
        isinstance(name, str)
        and len(name) <= DESK_NAME_MAX
        and _DESK_NAME.fullmatch(name) is not None
        and sum(c.isdigit() for c in name) <= DESK_NAME_MAX_DIGITS
    )
