"""Sites: where a citizen can be sent, their opening hours, and which postcodes each one serves."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from triage.model import Report, Text, check_fields, is_kind, read_text, shown, typed

SITES_FILE = "sites.toml"

KINDS = ("jobcenter", "ydelsesservice", "sygedagpenge", "social", "external")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UNCONFIRMABLE = ("address", "hours", "phone", "name", "service_minutes", "directions")
# Destinations that are not sites: resolved on the way through the flow.
SPECIAL_DESTINATIONS = ("from_answer", "here")
POSTCODE_MIN, POSTCODE_MAX = 1000, 9999  # Danish residential postcodes are four digits from 1000

NEXT_OPENING_DAYS = 14  # how far ahead the card looks for the next opening
# A street and house number in an address ("Matthæusgade 1", "Linde Allé 40-44"), not a postbox.
_STREET = re.compile(r"(?<!postboks)(?<!boks) \d{1,3}[A-Za-z]?(?:-\d{1,3})?(?:,|$| )", re.I)

# ASCII digits only: \d would also take "２１００" and "٢١٠٠", which are not postcodes.
_WINDOW = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*-\s*(\d{1,2})[:.](\d{2})\s*$", re.ASCII)
_RANGE = re.compile(r"^\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?$", re.ASCII)


class PostcodeError(ValueError):
    """A postcode the desk cannot use; `code` names the i18n message (malformed/unknown)."""

    def __init__(self, code: str, postcode: str) -> None:
        super().__init__(f"{code}: {postcode!r}")
        self.code = code
        self.postcode = postcode


@dataclass(frozen=True)
class Site:
    id: str
    kind: str
    name: Text
    address: str  # as written, or its Danish when the address is words in two languages
    phone: str = ""
    note: Text | None = None
    address_en: str = ""  # the address in English where it is words, not a street
    hours: dict[str, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    target_share: float | None = None
    capacity: int | None = None
    service_minutes: float | None = None  # mean time a counter spends on one citizen
    unconfirmed: frozenset[str] = frozenset()
    postcode: int | None = None  # the site's own postcode: its district for no fixed address
    note_for: tuple[str, ...] = ()  # outcome ids the note is shown on; empty: every outcome
    closed: frozenset[date] = frozenset()  # holidays and other days shut despite the weekday
    municipality: bool = False  # another municipality: its citizens do not belong here
    directions: Text | None = None  # how to get there (the kiosk shows it to the citizen)

    @property
    def has_hours(self) -> bool:
        return bool(self.hours)

    def address_in(self, lang: str) -> str:
        return self.address_en if lang == "en" and self.address_en else self.address

    @property
    def has_street(self) -> bool:
        """The address names a street and house number a citizen can walk to."""
        return bool(_STREET.search(self.address))

    def note_applies(self, outcome_id: str) -> bool:
        return self.note is not None and (not self.note_for or outcome_id in self.note_for)

    def next_opening(self, moment: datetime) -> datetime | None:
        """When the site next opens after moment (None when open now or not within two weeks)."""
        if not self.has_hours or self.is_open(moment):
            return None
        for offset in range(NEXT_OPENING_DAYS + 1):
            day = moment.date() + timedelta(days=offset)
            for start, _ in self.hours_on(day):
                opening = datetime.combine(day, start, tzinfo=moment.tzinfo)
                if opening > moment:
                    return opening
        return None

    def windows_on(self, day: date) -> tuple[tuple[time, time], ...]:
        return self.hours.get(WEEKDAYS[day.weekday()], ())

    def hours_on(self, day: date) -> tuple[tuple[time, time], ...]:
        """The windows the site is open on that date: none on a closed day (a holiday)."""
        return () if day in self.closed else self.windows_on(day)

    def is_open(self, moment: datetime) -> bool:
        now = moment.time()
        return any(start <= now < end for start, end in self.hours_on(moment.date()))


@dataclass(frozen=True)
class AfterHours:
    """Help for an errand that cannot wait, when the place the citizen is sent to is closed."""

    id: str
    name: Text
    phone: str = ""
    address: str = ""
    note: Text | None = None  # e.g. "open day and night"
    unconfirmed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Catchment:
    """One group of catchments (e.g. jobcentres or social centres): postcode ranges → site."""

    group: str
    ranges: tuple[tuple[int, int, str], ...]  # (low, high, site id), sorted by low

    def site_for(self, postcode: int) -> str | None:
        lows = [low for low, _, _ in self.ranges]
        i = bisect.bisect_right(lows, postcode) - 1
        if i >= 0 and self.ranges[i][0] <= postcode <= self.ranges[i][1]:
            return self.ranges[i][2]
        return None


@dataclass(frozen=True)
class Sites:
    sites: dict[str, Site]
    area: tuple[int, int]
    outside: str | None
    default_site: str
    catchments: dict[str, Catchment]
    after_hours: dict[str, AfterHours] = field(default_factory=dict)

    def __getitem__(self, site_id: str) -> Site:
        return self.sites[site_id]

    def __contains__(self, site_id: object) -> bool:
        return site_id in self.sites

    def __iter__(self) -> Iterator[Site]:
        return iter(self.sites.values())

    def name_of(self, site_id: str, lang: str) -> str:
        """A site's name for people; an id the file does not know (old visits) as it is."""
        return self.sites[site_id].name(lang) if site_id in self.sites else site_id

    def district_of(self, desk_site: Site, group: str) -> Site | None:
        """The site of catchment `group` that covers a desk's own postcode (the default site's
        when the desk's site has none): where a citizen without a fixed address belongs."""
        for site in (desk_site, self.sites.get(self.default_site)):
            if site is not None and site.postcode is not None and group in self.catchments:
                site_id = self.catchments[group].site_for(site.postcode)
                if site_id is not None:
                    return self.sites[site_id]
        return None

    def resolve_postcode(self, group: str, answer: str) -> tuple[int, Site]:
        """The site serving a postcode, or PostcodeError saying why there is none."""
        text = answer.strip()
        if not (len(text) == 4 and text.isascii() and text.isdigit()):
            raise PostcodeError("postcode_malformed", text)
        postcode = int(text)
        if not POSTCODE_MIN <= postcode <= POSTCODE_MAX:
            raise PostcodeError("postcode_unknown", text)
        low, high = self.area
        if low <= postcode <= high:
            site_id = self.catchments[group].site_for(postcode)
        else:
            site_id = self.outside
        if site_id is None:
            raise PostcodeError("postcode_unknown", text)
        return postcode, self.sites[site_id]


def parse_window(text: str) -> tuple[time, time] | None:
    match = _WINDOW.match(text)
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 != 0):
        return None
    end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
    start = time(h1, m1)
    return (start, end) if start < end else None


def parse_range(text: Any) -> tuple[int, int] | None:
    """`"2100"` or `"1050-1473"` (an int is accepted too) → (low, high)."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = f"{text:04d}"
    if not isinstance(text, str):
        return None
    match = _RANGE.match(text)
    if not match:
        return None
    low = int(match.group(1))
    high = int(match.group(2) or match.group(1))
    return (low, high) if low <= high else None


def _as_written(value: Any) -> str:
    """A text as it is (it goes in quotes in the message); any other value as TOML writes it."""
    return value if isinstance(value, str) else shown(value)


def parse_closed(raw: Any, report: Report, node: str, line: int | None) -> frozenset[date]:
    """`closed = [2026-12-24, "2026-12-31"]`: dates (TOML dates or texts) the site is shut."""
    if raw is None:
        return frozenset()
    days: set[date] = set()
    for value in raw if isinstance(raw, list) else [raw]:
        day = _as_date(value)
        if day is None:
            report.error(SITES_FILE, node, "bad_closed_day", line, value=_as_written(value))
        else:
            days.add(day)
    return frozenset(days)


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None  # a moment, not a day
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def parse_hours(
    raw: Any, report: Report, node: str, line: int | None
) -> dict[str, tuple[tuple[time, time], ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        report.error(SITES_FILE, node, "hours_not_table", line)
        return {}
    hours: dict[str, tuple[tuple[time, time], ...]] = {}
    for day, value in raw.items():
        if day not in WEEKDAYS:
            report.error(SITES_FILE, node, "hours_bad_day", line, day=day, days=", ".join(WEEKDAYS))
            continue
        if isinstance(value, str) and value.strip().lower() in ("closed", "lukket", ""):
            continue
        if not isinstance(value, str):
            report.error(
                SITES_FILE, node, "hours_bad_window", line, day=day, value=_as_written(value)
            )
            continue
        windows = []
        for part in value.split(","):
            window = parse_window(part)
            if window is None:
                report.error(
                    SITES_FILE, node, "hours_bad_window", line, day=day, value=part.strip()
                )
            else:
                windows.append(window)
        windows.sort()
        if any(a[1] > b[0] for a, b in pairwise(windows)):
            report.error(SITES_FILE, node, "hours_overlap", line, day=day, value=value)
        hours[day] = tuple(windows)
    return hours


SITE_FIELDS = {
    "kind",
    "name",
    "address",
    "phone",
    "note",
    "hours",
    "target_share",
    "capacity",
    "unconfirmed",
    "service_minutes",
    "postcode",
    "note_for",
    "closed",
    "municipality",
    "directions",
}
AFTER_HOURS_FIELDS = {"name", "phone", "address", "note", "unconfirmed"}


def parse_site(site_id: str, raw: Any, report: Report, line: int | None) -> Site | None:
    node = f"site {site_id}"
    if not isinstance(raw, dict):
        report.error(SITES_FILE, node, "not_table", line)
        return None
    check_fields(raw, SITE_FIELDS, report, SITES_FILE, node, line)
    if site_id in SPECIAL_DESTINATIONS:
        report.error(SITES_FILE, node, "reserved_id", line, id=site_id)
    kind = raw.get("kind")
    if kind is None:
        report.error(SITES_FILE, node, "missing_field", line, field="kind")
    elif not isinstance(kind, str) or kind not in KINDS:
        report.error(
            SITES_FILE, node, "bad_kind", line, kind=_as_written(kind), kinds=", ".join(KINDS)
        )
    address = raw.get("address")
    address_en = ""
    if isinstance(address, dict):
        # Words rather than a street ("Borgerens egen a-kasse") need both languages.
        both = read_text(address, report, SITES_FILE, node, "address", line)
        address, address_en = both.da, both.en
    if address is not None and not isinstance(address, str):
        report.error(
            SITES_FILE,
            node,
            "wrong_type",
            line,
            field="address",
            expected="text",
            value=shown(address),
        )
        address = ""
    elif not isinstance(address, str) or not address.strip():
        report.error(SITES_FILE, node, "missing_address", line)
        address = ""
    phone = typed(raw, "phone", "text", report, SITES_FILE, node, line) or ""
    note = raw.get("note")
    unconfirmed = raw.get("unconfirmed", [])
    if not is_kind(unconfirmed, "id_list") or any(u not in UNCONFIRMABLE for u in unconfirmed):
        report.error(SITES_FILE, node, "bad_unconfirmed", line, allowed=", ".join(UNCONFIRMABLE))
        unconfirmed = []
    if unconfirmed:
        report.warning(SITES_FILE, node, "unconfirmed", line, fields=list(unconfirmed))
    share = raw.get("target_share")
    if share is not None and (not is_kind(share, "number") or not 0 <= share <= 1):
        report.error(SITES_FILE, node, "bad_share", line, value=shown(share))
        share = None
    capacity = raw.get("capacity")
    if capacity is not None and (not is_kind(capacity, "int") or capacity < 0):
        report.error(SITES_FILE, node, "bad_capacity", line, value=shown(capacity))
        capacity = None
    service = raw.get("service_minutes")
    if service is not None and (
        isinstance(service, bool) or not isinstance(service, (int, float)) or not 0 < service <= 240
    ):
        report.error(SITES_FILE, node, "bad_service_minutes", line, value=shown(service))
        service = None
    postcode = raw.get("postcode")
    own = parse_range(postcode)
    if postcode is not None and (own is None or own[0] != own[1]):
        report.error(SITES_FILE, node, "bad_site_postcode", line, value=_as_written(postcode))
        own = None
    note_for = typed(raw, "note_for", "id_list", report, SITES_FILE, node, line) or []
    if note_for and note is None:
        report.error(SITES_FILE, node, "note_for_without_note", line)
    municipality = typed(raw, "municipality", "bool", report, SITES_FILE, node, line) or False
    hours = parse_hours(raw.get("hours"), report, node, line)
    if kind in ("jobcenter", "ydelsesservice", "sygedagpenge", "social") and not hours:
        report.warning(SITES_FILE, node, "no_hours", line)
    return Site(
        id=site_id,
        kind=kind if kind in KINDS else "external",
        name=read_text(raw.get("name"), report, SITES_FILE, node, "name", line),
        address=address.strip(),
        address_en=address_en,
        phone=phone,
        note=read_text(note, report, SITES_FILE, node, "note", line) if note is not None else None,
        hours=hours,
        target_share=float(share) if share is not None else None,
        capacity=capacity,
        service_minutes=float(service) if service is not None else None,
        unconfirmed=frozenset(unconfirmed),
        postcode=own[0] if own else None,
        note_for=tuple(n.strip() for n in note_for),
        closed=parse_closed(raw.get("closed"), report, node, line),
        municipality=municipality,
        directions=read_text(raw["directions"], report, SITES_FILE, node, "directions", line)
        if "directions" in raw
        else None,
    )


def parse_after_hours(
    help_id: str, raw: Any, report: Report, line: int | None
) -> AfterHours | None:
    node = f"after_hours {help_id}"
    if not isinstance(raw, dict):
        report.error(SITES_FILE, node, "not_table", line)
        return None
    check_fields(raw, AFTER_HOURS_FIELDS, report, SITES_FILE, node, line)
    phone = typed(raw, "phone", "text", report, SITES_FILE, node, line) or ""
    address = typed(raw, "address", "text", report, SITES_FILE, node, line) or ""
    if not phone.strip() and not address.strip():
        report.error(SITES_FILE, node, "after_hours_no_contact", line)
    unconfirmed = raw.get("unconfirmed", [])
    if not is_kind(unconfirmed, "id_list") or any(u not in UNCONFIRMABLE for u in unconfirmed):
        report.error(SITES_FILE, node, "bad_unconfirmed", line, allowed=", ".join(UNCONFIRMABLE))
        unconfirmed = []
    if unconfirmed:
        report.warning(SITES_FILE, node, "unconfirmed", line, fields=list(unconfirmed))
    note = raw.get("note")
    return AfterHours(
        id=help_id,
        name=read_text(raw.get("name"), report, SITES_FILE, node, "name", line),
        phone=phone.strip(),
        address=address.strip(),
        note=read_text(note, report, SITES_FILE, node, "note", line) if note is not None else None,
        unconfirmed=frozenset(unconfirmed),
    )


def parse_catchment(
    group: str,
    raw: Any,
    sites: dict[str, Site],
    area: tuple[int, int],
    report: Report,
    line: int | None,
) -> Catchment:
    node = f"catchment {group}"
    ranges: list[tuple[int, int, str]] = []
    if not isinstance(raw, dict):
        report.error(SITES_FILE, node, "not_table", line)
        return Catchment(group, ())
    for site_id, values in raw.items():
        if site_id not in sites:
            report.error(SITES_FILE, node, "catchment_unknown_site", line, site=site_id)
            continue
        if not isinstance(values, list):
            values = [values]
        for value in values:
            parsed = parse_range(value)
            if parsed is None:
                report.error(
                    SITES_FILE,
                    node,
                    "catchment_bad_range",
                    line,
                    site=site_id,
                    value=_as_written(value),
                )
                continue
            ranges.append((*parsed, site_id))
    ranges.sort()
    # Overlaps: two sites (or one site twice) claim the same postcodes.
    for (_, hi1, s1), (lo2, hi2, s2) in pairwise(ranges):
        if lo2 <= hi1:
            report.error(
                SITES_FILE,
                node,
                "catchment_overlap",
                line,
                a=s1,
                b=s2,
                range=_fmt_range(lo2, min(hi1, hi2)),
            )
    # Gaps: postcodes of the area that no site serves.
    low, high = area
    expected = low
    for lo, hi, _ in ranges:
        if hi < low or lo > high:
            continue
        if lo > expected:
            report.error(
                SITES_FILE, node, "catchment_gap", line, range=_fmt_range(expected, lo - 1)
            )
        expected = max(expected, hi + 1)
    if expected <= high:
        report.error(SITES_FILE, node, "catchment_gap", line, range=_fmt_range(expected, high))
    for lo, hi, site_id in ranges:
        if lo < low or hi > high:
            report.error(
                SITES_FILE,
                node,
                "catchment_outside_area",
                line,
                site=site_id,
                range=_fmt_range(lo, hi),
                area=_fmt_range(*area),
            )
    return Catchment(group, tuple(ranges))


def _fmt_range(low: int, high: int) -> str:
    return f"{low:04d}" if low == high else f"{low:04d}-{high:04d}"


AREA_FIELDS = {"postcodes", "outside", "default_site", "closed"}


def parse_sites(raw: dict[str, Any], report: Report, lines: dict[str, int]) -> Sites:
    """Read sites.toml (already parsed TOML) into Sites, reporting every problem found."""
    check_fields(
        raw,
        {"area", "site", "catchment", "after_hours"},
        report,
        SITES_FILE,
        "sites.toml",
        None,
        lines,
    )
    sites: dict[str, Site] = {}
    raw_sites = typed(raw, "site", "table", report, SITES_FILE, "sites.toml", lines.get("site"))
    if not raw_sites:
        report.error(SITES_FILE, "site", "no_sites", None)
        raw_sites = {}
    for site_id, body in raw_sites.items():
        site = parse_site(site_id, body, report, lines.get(f"site.{site_id}"))
        if site is not None:
            sites[site_id] = site

    area_line = lines.get("area")
    area_raw = typed(raw, "area", "table", report, SITES_FILE, "sites.toml", area_line) or {}
    check_fields(area_raw, AREA_FIELDS, report, SITES_FILE, "area", area_line)
    postcodes = area_raw.get("postcodes")
    area = parse_range(postcodes)
    if postcodes is None:
        report.error(SITES_FILE, "area", "missing_field", area_line, field="postcodes")
    elif area is None:
        report.error(SITES_FILE, "area", "bad_area", area_line, value=shown(postcodes))
    area = area or (1000, 2990)
    outside = typed(area_raw, "outside", "id", report, SITES_FILE, "area", area_line)
    if outside is not None and outside not in sites:
        report.error(
            SITES_FILE, "area", "unknown_site_ref", area_line, field="outside", site=outside
        )
        outside = None
    default_site = typed(
        area_raw, "default_site", "id", report, SITES_FILE, "area", area_line, required=True
    )
    if default_site is not None and default_site not in sites:
        report.error(
            SITES_FILE,
            "area",
            "unknown_site_ref",
            area_line,
            field="default_site",
            site=default_site,
        )
    if default_site not in sites:
        default_site = next(iter(sites), "")

    # Days every site is shut (public holidays): added to each site's own closed days.
    shut = parse_closed(area_raw.get("closed"), report, "area", area_line)
    if shut:
        sites = {sid: replace(site, closed=site.closed | shut) for sid, site in sites.items()}

    catchments: dict[str, Catchment] = {}
    raw_catchments = (
        typed(raw, "catchment", "table", report, SITES_FILE, "sites.toml", lines.get("catchment"))
        or {}
    )
    for group, body in raw_catchments.items():
        catchments[group] = parse_catchment(
            group, body, sites, area, report, lines.get(f"catchment.{group}")
        )

    after_hours: dict[str, AfterHours] = {}
    raw_help = (
        typed(
            raw, "after_hours", "table", report, SITES_FILE, "sites.toml", lines.get("after_hours")
        )
        or {}
    )
    for help_id, body in raw_help.items():
        entry = parse_after_hours(help_id, body, report, lines.get(f"after_hours.{help_id}"))
        if entry is not None:
            after_hours[help_id] = entry

    jobcentres = [s for s in sites.values() if s.kind == "jobcenter" and s.target_share is not None]
    total = sum(s.target_share or 0 for s in jobcentres)
    if jobcentres and abs(total - 1) > 0.005:
        report.warning(SITES_FILE, "site", "shares_sum", None, total=f"{total:.2f}")
    return Sites(sites, area, outside, default_site, catchments, after_hours)
