"""What the citizen is told: an outcome turned into plain facts for the card, the CLI and JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from triage.i18n import t
from triage.model import LOCAL_ZONE
from triage.sites import Site
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

    def as_dict(self) -> dict:
        return asdict(self)


def hours_line(site: Site, moment: datetime, lang: str) -> tuple[str, bool | None]:
    weekday = t(f"weekday_{moment.weekday()}", lang)
    if not site.has_hours:
        return t("no_counter", lang), None
    windows = site.windows_on(moment.date())
    if not windows:
        return t("closed_today", lang, weekday=weekday), False
    spans = ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in windows)
    return f"{t('hours_today', lang, weekday=weekday)}: {spans}", site.is_open(moment)


def stop_for(site: Site, here: Site, moment: datetime, lang: str) -> Stop:
    line, open_now = hours_line(site, moment, lang)
    return Stop(
        site_id=site.id,
        name=site.name(lang),
        kind=site.kind,
        here=site.id == here.id,
        address=site.address,
        phone=site.phone,
        note=site.note(lang) if site.note else "",
        hours_today=line,
        open_now=open_now,
        unconfirmed=sorted(site.unconfirmed),
    )


def card_for(result: Result, lang: str = "da", moment: datetime | None = None) -> Card:
    moment = (moment or local_now()).astimezone(LOCAL_ZONE)
    outcome = result.outcome
    return Card(
        outcome_id=outcome.id,
        title=outcome.title(lang),
        handled_here=result.handled_here,
        stops=[stop_for(site, result.here, moment, lang) for site in result.destinations],
        reason=outcome.reason(lang),
        bring=[item(lang) for item in outcome.bring],
        postcode=result.postcode,
        path=list(result.path),
        flow_version=result.flow_version,
    )


def stop_label(number: int, stop: Stop, lang: str) -> str:
    """'Her' / 'Henvis til' for the first stop, 'Derefter henvis til' for the next ones."""
    label = t("here", lang) if stop.here else t("refer_to", lang)
    return f"{t('then', lang)} {label.lower()}" if number else label


def address_line(stop: Stop, lang: str) -> str:
    unconfirmed = f" {t('unconfirmed_note', lang)}" if "address" in stop.unconfirmed else ""
    return f"{t('address', lang)}: {stop.address}{unconfirmed}"


def hours_now_line(stop: Stop, lang: str) -> str:
    if stop.open_now is None:
        return stop.hours_today
    return f"{stop.hours_today} — {t('open_now', lang) if stop.open_now else t('closed_now', lang)}"


def card_text(card: Card, lang: str = "da") -> str:
    """The card as plain text lines, for the terminal."""
    lines = [f"{t('outcome', lang)}: {card.title}"]
    for number, stop in enumerate(card.stops):
        lines.append(f"{stop_label(number, stop, lang)}: {stop.name}")
        lines.append(f"  {address_line(stop, lang)}")
        if stop.phone:
            lines.append(f"  {t('phone', lang)}: {stop.phone}")
        lines.append(f"  {hours_now_line(stop, lang)}")
        if stop.note:
            lines.append(f"  {stop.note}")
    lines.append(f"{t('reason', lang)}: {card.reason}")
    lines.append(f"{t('bring', lang)}:")
    lines.extend(f"  - {item}" for item in card.bring or [t("nothing_to_bring", lang)])
    return "\n".join(lines)
