"""What the citizen is told: an outcome turned into plain facts for the card, the CLI and JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, time
from typing import Any

from triage.i18n import t
from triage.model import LOCAL_ZONE as LOCAL_ZONE  # re-exported: callers take the zone from here
from triage.sites import AfterHours, Site
from triage.walk import Result


def local_now() -> datetime:
    return datetime.now(LOCAL_ZONE)


@dataclass(frozen=True)
class Stop:
    """One place the citizen must go, with what they need to know to get there."""

    site_id: str
    name: str
    kind: str
    here: bool
    address: str
    phone: str
    note: str
    hours_today: str  # e.g. "Åbent i dag (mandag): 09:00–15:00"
    open_now: bool | None  # None: a place without a counter (digital, phone)
    unconfirmed: list[str]
    closed_line: str = ""  # when closed now: "Lukket nu — åbner i morgen, tirsdag, kl. 9.00"
    next_opening: str | None = None  # the same moment for machines (ISO 8601)


@dataclass(frozen=True)
class Help:
    """Someone to call or go to when the place is closed and the errand cannot wait."""

    name: str
    phone: str
    address: str
    note: str
    unconfirmed: list[str]


@dataclass(frozen=True)
class Card:
    outcome_id: str
    title: str
    handled_here: bool
    stops: list[Stop]
    reason: str
    bring: list[str]
    postcode: int | None
    path: list[str]
    flow_version: str
    urgent: bool = False
    basis: str = ""  # why this place, from the answers: "Valgt ud fra postnummer 2400."
    basis_stop: int = 0  # the stop the answers chose: the basis is written under it
    go_today: str = ""  # urgent and open now: "Gå derhen i dag: der er åbent til kl. 15.00."
    after_hours: list[Help] = field(default_factory=list)  # shown: urgent, or closed now

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def hours_line(site: Site, moment: datetime, lang: str) -> tuple[str, bool | None]:
    weekday = t(f"weekday_{moment.weekday()}", lang)
    if not site.has_hours:
        if site.has_street:  # a place to go whose hours the data does not know
            return t("hours_not_given", lang), None
        return (t("no_counter", lang) if site.phone else ""), None
    windows = site.hours_on(moment.date())
    if not windows:
        return t("closed_today", lang, weekday=weekday), False
    spans = ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in windows)
    return f"{t('hours_today', lang, weekday=weekday)}: {spans}", site.is_open(moment)


def clock(at: time, lang: str) -> str:
    """A time as people write it: 9.00 in Danish, 9:00 in English."""
    return f"{at.hour}{'.' if lang == 'da' else ':'}{at.minute:02d}"


def closed_now_line(site: Site, moment: datetime, lang: str) -> tuple[str, datetime | None]:
    """'Lukket nu — åbner …' for a site with hours that is closed at moment ('' when open)."""
    if not site.has_hours or site.is_open(moment):
        return "", None
    opening = site.next_opening(moment)
    if opening is None:
        return t("closed_now_line", lang), None
    days = (opening.date() - moment.date()).days
    params = {
        "time": clock(opening.time(), lang),
        "weekday": t(f"weekday_{opening.weekday()}", lang),
        "date": f"{opening.day}/{opening.month}",
    }
    key = (
        ("closed_opens_today", "closed_opens_tomorrow")[days]
        if days < 2
        else ("closed_opens_weekday" if days < 7 else "closed_opens_date")
    )
    return t(key, lang, **params), opening


def open_until(site: Site, moment: datetime) -> time | None:
    now = moment.time()
    return next((end for start, end in site.hours_on(moment.date()) if start <= now < end), None)


def stop_for(site: Site, here: Site, moment: datetime, lang: str, outcome_id: str = "") -> Stop:
    line, open_now = hours_line(site, moment, lang)
    closed, opening = closed_now_line(site, moment, lang)
    return Stop(
        site_id=site.id,
        name=site.name(lang),
        kind=site.kind,
        here=site.id == here.id,
        address=site.address_in(lang),
        phone=site.phone,
        note=site.note(lang) if site.note and site.note_applies(outcome_id) else "",
        hours_today=line,
        open_now=open_now,
        unconfirmed=sorted(site.unconfirmed),
        closed_line=closed,
        next_opening=opening.isoformat() if opening else None,
    )


def help_for(entry: AfterHours, lang: str) -> Help:
    return Help(
        name=entry.name(lang),
        phone=entry.phone,
        address=entry.address,
        note=entry.note(lang) if entry.note else "",
        unconfirmed=sorted(entry.unconfirmed),
    )


def basis_line(result: Result, lang: str) -> str:
    """Why the citizen goes to this place, when the answers chose it (not for fixed places)."""
    if "from_answer" not in result.outcome.destinations or result.basis in (None, "chosen"):
        return ""
    if result.basis == "postcode" and result.postcode is not None:
        return t("basis_postcode", lang, postcode=f"{result.postcode:04d}")
    if result.basis == "no_address" and result.answered_site is not None:
        return t("basis_no_address", lang)
    if result.basis in ("declined", "no_address"):
        here = result.from_answer is not None and result.from_answer.id == result.here.id
        return t("basis_declined" if here else "basis_declined_elsewhere", lang)
    return ""


def _answered_stop(result: Result) -> int:
    ids = [site.id for site in result.destinations]
    chosen = result.from_answer
    return ids.index(chosen.id) if chosen is not None and chosen.id in ids else 0


def card_for(result: Result, lang: str = "da", moment: datetime | None = None) -> Card:
    moment = (moment or local_now()).astimezone(LOCAL_ZONE)
    outcome = result.outcome
    stops = [stop_for(site, result.here, moment, lang, outcome.id) for site in result.destinations]
    reason = outcome.reason(lang)
    destination = result.destination
    if (
        destination.kind == "external"
        and destination.note is not None
        and result.answered_site is not None
        and result.answered_site.id == destination.id
    ):
        # The postcode belongs to another municipality: the errand's reason, written for this
        # municipality's own places, would send the citizen wrong. The place's note says why.
        reason = destination.note(lang)
        stops[0] = replace(stops[0], note="")
    closing = open_until(result.destination, moment) if outcome.urgent else None
    # Urgent errands name the help for tonight even while the place is open: the citizen may
    # not get there before it closes. Other errands name it only when the place is closed.
    show_help = outcome.urgent or stops[0].open_now is False
    return Card(
        outcome_id=outcome.id,
        title=outcome.title(lang),
        handled_here=result.handled_here,
        stops=stops,
        reason=reason,
        bring=[item(lang) for item in outcome.bring],
        postcode=result.postcode,
        path=list(result.path),
        flow_version=result.flow_version,
        urgent=outcome.urgent,
        basis=basis_line(result, lang),
        basis_stop=_answered_stop(result),
        go_today=t("go_today", lang, time=clock(closing, lang)) if closing else "",
        after_hours=[help_for(entry, lang) for entry in result.after_hours] if show_help else [],
    )


def stop_label(number: int, stop: Stop, lang: str) -> str:
    """'Her' / 'Henvis til' for the first stop, 'Derefter henvis til' for the next ones."""
    label = t("here", lang) if stop.here else t("refer_to", lang)
    return f"{t('then', lang)} {label.lower()}" if number else label


def address_line(stop: Stop, lang: str) -> str:
    unconfirmed = f" {t('unconfirmed_note', lang)}" if "address" in stop.unconfirmed else ""
    return f"{t('address', lang)}: {stop.address}{unconfirmed}"


def hours_now_line(stop: Stop, lang: str) -> str:
    """Today's hours; '— åbent nu' while open (when closed, closed_line says when it opens)."""
    if stop.open_now:
        return f"{stop.hours_today} — {t('open_now', lang)}"
    return stop.hours_today


def phone_line(phone: str, unconfirmed: list[str], lang: str) -> str:
    note = f" {t('unconfirmed_note', lang)}" if "phone" in unconfirmed else ""
    return f"{t('phone', lang)}: {phone}{note}"


def stop_lines(stop: Stop, lang: str) -> list[str]:
    """What the citizen needs to find the place, one line each, under the stop's name."""
    lines = [address_line(stop, lang)]
    if stop.phone:
        lines.append(phone_line(stop.phone, stop.unconfirmed, lang))
    if stop.hours_today:
        lines.append(hours_now_line(stop, lang))
    if stop.closed_line:
        lines.append(stop.closed_line)
    if stop.note:
        lines.append(stop.note)
    return lines


def help_line(entry: Help, lang: str) -> str:
    """'Den Sociale Døgnvagt: tlf. 33 17 33 33 (ikke bekræftet), Åboulevard 38 — hele døgnet'."""

    def marked(text: str, field_name: str) -> str:
        return f"{text} {t('unconfirmed_note', lang)}" if field_name in entry.unconfirmed else text

    parts = []
    if entry.phone:
        parts.append(marked(f"{t('phone_short', lang)} {entry.phone}", "phone"))
    if entry.address:
        parts.append(marked(entry.address, "address"))
    note = f" — {entry.note}" if entry.note else ""
    return f"{entry.name}: {', '.join(parts)}{note}"


def card_text(card: Card, lang: str = "da") -> str:
    """The card as plain text lines, for the terminal."""
    lines = [f"{t('outcome', lang)}: {card.title}"]
    for number, stop in enumerate(card.stops):
        lines.append(f"{stop_label(number, stop, lang)}: {stop.name}")
        lines.extend(f"  {line}" for line in stop_lines(stop, lang))
        if card.basis and number == card.basis_stop:
            lines.append(f"  {card.basis}")
    if card.go_today:
        lines.append(card.go_today)
    if card.after_hours:
        lines.append(t("after_hours_heading", lang))
        lines.extend(f"  - {help_line(entry, lang)}" for entry in card.after_hours)
    lines.append(f"{t('reason', lang)}: {card.reason}")
    lines.append(f"{t('bring', lang)}:")
    lines.extend(f"  - {item}" for item in card.bring or [t("nothing_to_bring", lang)])
    return "\n".join(lines)
