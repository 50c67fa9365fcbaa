"""The committee's monthly report: one month's footfall as a single self-contained HTML file.

For politicians and managers, not engineers: plain sentences, a few tables, and charts drawn here
as inline SVG. The file opens from a mail attachment and prints to A4: no script, no style sheet,
font or picture fetched from anywhere. Every figure comes from triage.stats (the rollups), with
the same definitions as the summary and the exports.

Plain Python; no Textual.
"""

from __future__ import annotations

import html
import math
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from triage.dates import EARLIEST, LATEST
from triage.errors import CodedError
from triage.i18n import change, count, t
from triage.sites import Sites
from triage.staffing import (
    DEFAULT_WAIT_MINUTES,
    DEFAULT_WAIT_SHARE,
    MEASURED_AT_LEAST,
    ServiceTime,
    counters_needed,
    service_times,
)
from triage.stats import (
    Filters,
    SiteShare,
    Summary,
    is_misdirected,
    same_period_last_year,
    shares_over_time,
    summarize,
    visit_counts,
)
from triage.waits import Waits, has_tickets, minutes, wait_times

if TYPE_CHECKING:  # the store's module loads SQLAlchemy
    from triage.db.store import Store

MONTHS_SHOWN = 12  # the share chart: this month and the eleven before it
BUSIEST_SHOWN = 5
FLOWS_SHOWN = 6
SHORT_HOURS_SHOWN = 12
LONG_WAITS_SHOWN = 8
LONG_WAIT_TICKETS = 5  # an hour's 90th percentile over fewer tickets says little
NEAR_TARGET = 0.02  # a share within 2 percentage points of its target is "on target"
# One colour, line pattern and marker per jobcentre, so the chart reads in black and white too.
PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#34495e")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2")


class ReportError(CodedError):
    """A month or an output file the report cannot use; `code` names the message."""


# --- months ---------------------------------------------------------------------------------


def parse_month(typed: str) -> date:
    """The first day of a month written as 2026-10 (ReportError when it cannot be read)."""
    match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", typed)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ReportError("rep_bad_month", value=typed)
    first = date(int(match.group(1)), int(match.group(2)), 1)
    if not EARLIEST <= first <= LATEST:
        raise ReportError(
            "rep_month_out_of_range", value=typed, first=EARLIEST.year, last=LATEST.year
        )
    return first


def add_months(first: date, months: int) -> date:
    """The first day of the month `months` after (or before) the month of `first`."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_name(first: date, lang: str, short: bool = False) -> str:
    """ "oktober 2026" (or "okt 26" for a chart's axis)."""
    name = t("rep_month_names", lang).split(",")[first.month - 1].strip()
    return f"{name[:3]} {first.year % 100:02d}" if short else f"{name} {first.year}"


# --- the figures ----------------------------------------------------------------------------


def shares_by_month(
    store: Store, sites: Sites, first: date, months: int, filters: Filters
) -> list[tuple[date, list[SiteShare]]]:
    """Each jobcentre's share of each month against its target, oldest month first, from the
    one definition of shares over time (stats.shares_over_time); a month without visits at the
    jobcentres has shares of 0 and no imbalance, and is drawn as a gap."""
    rows = shares_over_time(store, sites, first, add_months(first, months), filters)
    by_month: dict[str, list[SiteShare]] = {}
    for x in rows:
        imbalance = None if x.share is None else x.share / x.target - 1
        by_month.setdefault(x.bucket, []).append(
            SiteShare(x.site_id, x.visits, x.share or 0.0, x.target, imbalance)
        )
    starts = [add_months(first, i) for i in range(months)]
    return [(start, by_month.get(start.strftime("%Y-%m"), [])) for start in starts]


@dataclass(frozen=True)
class BusyHour:
    site_id: str
    weekday: int
    hour: int
    average: float  # visits in that hour on an ordinary such weekday (days with visits)
    days: int


@dataclass(frozen=True)
class ShortHour:
    """A weekday hour at a site where the counters needed exceed those that exist."""

    site_id: str
    weekday: int
    hour: int
    arrivals: float  # citizens in person per hour, on average
    needed: int
    counters: int


@dataclass
class MonthReport:
    month: date  # its first day
    end: date  # the first day of the next month (excluded)
    last_day: date  # the last day counted: the month's last, or today for a month not over
    made: datetime  # local time
    include_demo: bool
    demo_visits: int
    summary: Summary
    previous: Summary  # the month before
    last_year: Summary  # the same dates a year before (stats.same_period_last_year)
    shares: list[tuple[date, list[SiteShare]]]  # the last MONTHS_SHOWN months, oldest first
    heat: dict[tuple[int, int], float]  # (weekday, hour) → visits on an average such day
    busiest: list[BusyHour]
    peak: tuple[str, date, int, int] | None  # site, day, hour, visits of the busiest hour
    short: list[ShortHour]  # most short first
    staffed: bool = True  # whether any site has counters and service times to compare
    wait_minutes: float = DEFAULT_WAIT_MINUTES
    wait_share: float = DEFAULT_WAIT_SHARE
    # The time per citizen each site's staffing used: measured in the month, or estimated.
    service: dict[str, ServiceTime] = field(default_factory=dict)
    waits: Waits | None = None  # the queue's wait and service time in the month
    queue_used: bool = False  # whether the log holds tickets at all (else no queue section)

    @property
    def last_year_month(self) -> date:
        return add_months(self.month, -12)


def _per_weekday_day(cells: dict[tuple, int]) -> dict[tuple[str, int], int]:
    """(site, weekday) → days of that weekday on which the site had visits."""
    days: dict[tuple[str, int], set[date]] = {}
    for site, day, _ in cells:
        days.setdefault((site, day.weekday()), set()).add(day)
    return {key: len(found) for key, found in days.items()}


def _by_weekday_hour(cells: dict[tuple, int]) -> dict[tuple[str, int, int], int]:
    summed: dict[tuple[str, int, int], int] = {}
    for (site, day, hour), visits in cells.items():
        key = (site, day.weekday(), int(hour))
        summed[key] = summed.get(key, 0) + visits
    return summed


def _heat(cells: dict[tuple, int]) -> dict[tuple[int, int], float]:
    """All sites together: visits in each weekday hour on an average such day with visits."""
    days: dict[int, set[date]] = {}
    summed: dict[tuple[int, int], int] = {}
    for (_, day, hour), visits in cells.items():
        local = day
        days.setdefault(local.weekday(), set()).add(local)
        key = (local.weekday(), int(hour))
        summed[key] = summed.get(key, 0) + visits
    return {key: visits / len(days[key[0]]) for key, visits in summed.items()}


def _short(
    cells: dict[tuple, int],
    sites: Sites,
    service: dict[str, ServiceTime],
    wait_minutes: float,
    wait_share: float,
) -> list[ShortHour]:
    """Hours where the counters needed (Erlang C, as the export's staffing table: citizens in
    person on an average such weekday with visits) exceed the site's counters."""
    days = _per_weekday_day(cells)
    short = []
    for (site, weekday, hour), visits in _by_weekday_hour(cells).items():
        if site not in sites:
            continue
        time, counters = service.get(site), sites[site].capacity
        if time is None or counters is None:
            continue
        arrivals = visits / days[(site, weekday)]
        need = counters_needed(arrivals, time.minutes, wait_minutes, wait_share)
        if need.counters > counters:
            short.append(ShortHour(site, weekday, hour, arrivals, need.counters, counters))
    short.sort(key=lambda s: (s.counters - s.needed, s.site_id, s.weekday, s.hour))
    return short


def build(
    store: Store, sites: Sites, month: date, now: datetime, include_demo: bool = True
) -> MonthReport:
    """The month's figures (`month` is its first day; `now` local time, for 'made')."""
    end = add_months(month, 1)
    filters = Filters(include_demo=include_demo)
    summary = summarize(store, sites, month, end, filters)
    previous = summarize(store, sites, add_months(month, -1), month, filters)
    # The same dates a year earlier, as the summary and the overview compare (one definition).
    last_year = summarize(store, sites, *same_period_last_year(month, end), filters)
    shares = shares_by_month(
        store, sites, add_months(month, 1 - MONTHS_SHOWN), MONTHS_SHOWN, filters
    )
    hourly = ("site_id", "local_date", "local_hour")
    cells = visit_counts(store, month, end, hourly, filters=filters)
    in_person = Filters(channels=("in_person",), include_demo=include_demo)
    peak = max(cells.items(), key=lambda item: (item[1], item[0]), default=None)
    demo = visit_counts(store, month, end, ("demo",), filters=filters)
    service = service_times(store, sites, month, end, in_person)
    waits = wait_times(store, month, end, filters)
    return MonthReport(
        month=month,
        end=end,
        last_day=min(end, now.date() + timedelta(days=1)) - timedelta(days=1),
        made=now,
        include_demo=include_demo,
        demo_visits=sum(n for (is_demo,), n in demo.items() if is_demo),
        summary=summary,
        previous=previous,
        last_year=last_year,
        shares=shares,
        heat=_heat(cells),
        busiest=[  # the summary's busiest hours: one definition (stats.busiest_hours)
            BusyHour(h["site_id"], h["weekday"], h["hour"], h["average"], h["days"])
            for h in summary.busiest_hours[:BUSIEST_SHOWN]
        ],
        peak=None if peak is None else (peak[0][0], peak[0][1], peak[0][2], peak[1]),
        short=_short(
            visit_counts(store, month, end, hourly, filters=in_person),
            sites,
            service,
            DEFAULT_WAIT_MINUTES,
            DEFAULT_WAIT_SHARE,
        ),
        staffed=any(s.capacity is not None and s.id in service for s in sites),
        service=service,
        waits=waits,
        queue_used=not waits.empty or has_tickets(store),
    )


# --- numbers and words ----------------------------------------------------------------------


def percent(value: float) -> str:
    return f"{round(value * 100)} %"


def decimal(value: float, lang: str, digits: int = 1) -> str:
    shown = f"{value:,.{digits}f}"
    if lang == "da":  # 1.234,5
        shown = shown.replace(",", "_").replace(".", ",").replace("_", ".")
    return shown


def _against(now: int, before: int, month: date, lang: str) -> str | None:
    """ "en stigning på 5 % fra september 2026 (32.870)"; None when there is nothing before."""
    if before == 0:
        return None
    change = round((now / before - 1) * 100)
    key = "rep_as_many" if change == 0 else "rep_more" if change > 0 else "rep_fewer"
    return t(
        key, lang, percent=abs(change), month=month_name(month, lang), total=count(before, lang)
    )


def _share_of(summary: Summary, site_id: str) -> SiteShare | None:
    found = [s for s in summary.sites if s.site_id == site_id]
    return found[0] if found and summary_has_jobcentre_visits(summary) else None


def summary_has_jobcentre_visits(summary: Summary) -> bool:
    return any(s.visits for s in summary.sites)


def _misdirection_rate(summary: Summary) -> float | None:
    return summary.misdirected / summary.with_postcode if summary.with_postcode else None


def _hour_span(hour: int) -> str:
    return f"{hour:02d}-{hour + 1:02d}"


def running(report: MonthReport) -> bool:
    """Whether the month was not over when the report was made: its figures run to then."""
    return report.made.date() < report.end


def changes(report: MonthReport, sites: Sites, lang: str) -> list[str]:
    """The month's main changes in a few plain sentences, each one a figure of the report; for
    a month that is not over, the first says so and the figures say "so far"."""
    s, before, year_ago = report.summary, report.previous, report.last_year
    this, prev = month_name(report.month, lang), month_name(add_months(report.month, -1), lang)
    so_far = running(report)
    first = [t("rep_not_over", lang, day=report.made.date().isoformat())] if so_far else []
    if s.total == 0:
        return [*first, t("rep_no_visits", lang, month=this)]
    total = t(
        "rep_total_so_far" if so_far else "rep_total", lang, month=this, total=count(s.total, lang)
    )
    against = [
        found
        for other, first in (
            (before, add_months(report.month, -1)),
            (year_ago, report.last_year_month),
        )
        if (found := _against(s.total, other.total, first, lang))
    ]
    if against:
        that_is = "rep_that_is_so_far" if so_far else "rep_that_is"
        total += " " + t(that_is, lang, against=t("rep_and", lang).join(against))
    said = [*first, total + "."]
    if summary_has_jobcentre_visits(s):
        far = sorted(s.sites, key=lambda x: -abs(x.share - x.target))
        off = [x for x in far if abs(x.share - x.target) >= NEAR_TARGET][:3]
        for x in off:
            sentence = t(
                "rep_share_so_far" if so_far else "rep_share_against",
                lang,
                site=sites.name_of(x.site_id, lang),
                share=percent(x.share),
                target=percent(x.target),
            )
            earlier = _share_of(before, x.site_id)
            if earlier is not None:
                sentence += " " + t(
                    "rep_share_before", lang, month=prev, share=percent(earlier.share)
                )
            said.append(sentence)
        if not off:
            said.append(t("rep_all_on_target", lang, points=round(NEAR_TARGET * 100)))
        else:
            said.append(
                t("rep_overall", lang, overall=percent(s.overall_imbalance))
                + (
                    " "
                    + t(
                        "rep_overall_before",
                        lang,
                        month=prev,
                        overall=percent(before.overall_imbalance),
                    )
                    if summary_has_jobcentre_visits(before)
                    else ""
                )
            )
    rate = _misdirection_rate(s)
    if rate is not None:
        sentence = t(
            "rep_misdirected",
            lang,
            rate=percent(rate),
            misdirected=count(s.misdirected, lang),
            with_postcode=count(s.with_postcode, lang),
        )
        earlier_rate = _misdirection_rate(before)
        if earlier_rate is not None:
            sentence += " " + t(
                "rep_misdirected_before", lang, month=prev, rate=percent(earlier_rate)
            )
        said.append(sentence)
    if report.busiest:
        top = report.busiest[0]
        said.append(
            t(
                "rep_busiest",
                lang,
                site=sites.name_of(top.site_id, lang),
                weekday=t(f"weekday_{top.weekday}", lang),
                hours=_hour_span(top.hour),
                average=decimal(top.average, lang, 0),
            )
        )
    if report.short:
        worst = report.short[0]
        said.append(
            t(
                "rep_short",
                lang,
                hours=len(report.short),
                site=sites.name_of(worst.site_id, lang),
                weekday=t(f"weekday_{worst.weekday}", lang),
                span=_hour_span(worst.hour),
                needed=worst.needed,
                counters=worst.counters,
            )
        )
    elif report.staffed:
        said.append(t("rep_no_short", lang))
    return said


# --- the HTML -------------------------------------------------------------------------------

STYLE = """
@page { size: A4; margin: 16mm 15mm 18mm 15mm; }
* { box-sizing: border-box; }
html { font-family: "Segoe UI", "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; }
body { margin: 0 auto; max-width: 180mm; font-size: 10.5pt; line-height: 1.4; }
h1 { font-size: 19pt; margin: 0 0 2mm; }
h2 { font-size: 14pt; margin: 0 0 3mm; border-bottom: 1.5pt solid #1f5fa8; padding-bottom: 1mm; }
h3 { font-size: 11.5pt; margin: 5mm 0 2mm; }
p { margin: 0 0 2.5mm; }
.meta { color: #444; font-size: 9.5pt; margin-bottom: 5mm; }
.meta dt { float: left; clear: left; width: 32mm; font-weight: 600; }
.meta dd { margin: 0 0 0 33mm; }
section { margin-bottom: 7mm; }
section.page { break-before: page; page-break-before: always; }
.changes li { margin-bottom: 1.5mm; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 3mm; font-size: 9.5pt; }
th, td { padding: 1.2mm 2mm; border-bottom: 0.5pt solid #bbb; vertical-align: top; }
th { text-align: left; background: #eef3f9; font-weight: 600; }
td.n, th.n { text-align: right; white-space: nowrap; }
.over { color: #a61b1b; font-weight: 600; }
.note { color: #555; font-size: 8.5pt; }
figure { margin: 2mm 0 4mm; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: 9pt; color: #444; margin-top: 1mm; }
svg { display: block; width: 100%; height: auto; }
table, tr, .keep { break-inside: avoid; page-break-inside: avoid; }
@media screen { body { padding: 10mm 0; } section.page { border-top: 1pt dashed #bbb;
  padding-top: 8mm; } }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _p(text: str, css: str = "") -> str:
    """A paragraph of plain text (escaped)."""
    return f'<p class="{css}">{_e(text)}</p>' if css else f"<p>{_e(text)}</p>"


def _svg_text(x: float, y: float, text: str, **attributes: object) -> str:
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{_e(v)}"' for k, v in attributes.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{_e(text)}</text>'


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(label)}" font-family="Arial, sans-serif" font-size="12">'
        + "".join(body)
        + "</svg>"
    )


def share_bars(shares: list[SiteShare], sites: Sites, lang: str) -> str:
    """Each jobcentre's share as a bar, its target as a black mark across it."""
    row, left, width = 34, 230, 400
    top = max([0.5, *(max(s.share, s.target) for s in shares)])
    scale = math.ceil(top * 10) / 10
    height = row * len(shares) + 30
    body = []
    for i, s in enumerate(shares):
        y = 8 + i * row
        bar = width * s.share / scale
        mark = left + width * s.target / scale
        body.append(_svg_text(0, y + 15, sites.name_of(s.site_id, lang)))
        body.append(
            f'<rect x="{left}" y="{y}" width="{bar:.1f}" height="20" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
        )
        body.append(
            f'<line x1="{mark:.1f}" x2="{mark:.1f}" y1="{y - 4}" y2="{y + 24}" '
            'stroke="#000" stroke-width="3"/>'
        )
        body.append(_svg_text(left + bar + 8, y + 15, percent(s.share), font_weight="bold"))
    axis_y = 8 + len(shares) * row
    for step in range(round(scale * 10) + 1):
        x = left + width * step / 10 / scale
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{axis_y - 6}" y2="{axis_y}" stroke="#888"/>'
        )
        body.append(_svg_text(x, axis_y + 14, f"{step * 10} %", text_anchor="middle", fill="#555"))
    return _svg(700, height, t("rep_bars_label", lang), body)


def share_lines(months: list[tuple[date, list[SiteShare]]], sites: Sites, lang: str) -> str:
    """Each jobcentre's monthly share as a line, its target as a dashed line of the same colour;
    a month without visits at the jobcentres is a gap."""
    left, top, plot_w, plot_h, row = 48, 12, 630, 250, 20
    ids = [s.site_id for s in months[-1][1]] if months else []
    values = [s.share for _, shares in months for s in shares if any(x.visits for x in shares)]
    targets = [s.target for s in months[-1][1]] if months else []
    scale = max(0.1, math.ceil(max([*values, *targets, 0.0]) * 10 + 0.001) / 10)
    step = plot_w / max(1, len(months) - 1)

    def x(i: int) -> float:
        return left + i * step

    def y(share: float) -> float:
        return top + plot_h * (1 - share / scale)

    body = []
    for tick in range(round(scale * 10) + 1):
        value = tick / 10
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="{"#888" if tick == 0 else "#e2e2e2"}"/>'
        )
        body.append(_svg_text(left - 6, y(value) + 4, f"{tick * 10} %", text_anchor="end"))
    for i, (first, _) in enumerate(months):
        body.append(
            _svg_text(
                x(i),
                top + plot_h + 16,
                month_name(first, lang, short=True),
                text_anchor="middle",
                font_size="10.5",
            )
        )
    for n, site in enumerate(ids):
        colour, dash = PALETTE[n % len(PALETTE)], DASHES[n % len(DASHES)]
        target = next(s.target for s in months[-1][1] if s.site_id == site)
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
            f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="3 4" opacity="0.8"/>'
        )
        runs: list[list[tuple[float, float]]] = [[]]
        for i, (_, shares) in enumerate(months):
            found = [s for s in shares if s.site_id == site]
            if found and any(s.visits for s in shares):
                runs[-1].append((x(i), y(found[0].share)))
            elif runs[-1]:
                runs.append([])
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
                body.append(
                    f'<polyline points="{points}" fill="none" stroke="{colour}" '
                    f'stroke-width="2.5" stroke-dasharray="{dash}"/>'
                )
            for px, py in run:
                body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{colour}"/>')
        # The legend under the plot: the site's line and name, then its target's line.
        ly = top + plot_h + 42 + n * row
        for lx, width, pattern in ((left, 2.5, dash), (left + 400, 1.5, "3 4")):
            body.append(
                f'<line x1="{lx}" x2="{lx + 30}" y1="{ly}" y2="{ly}" stroke="{colour}" '
                f'stroke-width="{width}" stroke-dasharray="{pattern}"/>'
            )
        body.append(_svg_text(left + 38, ly + 4, sites.name_of(site, lang)))
        target_text = t("rep_target_line", lang, target=percent(target))
        body.append(_svg_text(left + 438, ly + 4, target_text, fill="#444"))
    height = top + plot_h + 42 + len(ids) * row
    return _svg(left + plot_w + 30, height, t("rep_lines_label", lang), body)


def heat_map(heat: dict[tuple[int, int], float], lang: str) -> str:
    """Weekday × hour: visits on an average such day, darker for more, the number in the cell."""
    weekdays = [d for d in range(7) if d < 5 or any(w == d for w, _ in heat)]
    hours_seen = [h for _, h in heat] or [9, 15]
    hours = list(range(min(hours_seen), max(hours_seen) + 1))
    cell_w = min(60, 600 / len(hours))
    cell_h, left, top = 30, 84, 22
    most = max(heat.values(), default=0.0) or 1.0
    body = []
    for j, hour in enumerate(hours):
        body.append(
            _svg_text(
                left + j * cell_w + cell_w / 2,
                top - 7,
                _hour_span(hour),
                text_anchor="middle",
                font_size="10.5",
            )
        )
    for i, weekday in enumerate(weekdays):
        y = top + i * cell_h
        body.append(_svg_text(0, y + cell_h / 2 + 4, t(f"weekday_{weekday}", lang)))
        for j, hour in enumerate(hours):
            value = heat.get((weekday, hour), 0.0)
            level = value / most
            fill = _blend("#ffffff", "#0b3d7a", level) if value else "#f4f4f4"
            x = left + j * cell_w
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 2:.1f}" height="{cell_h - 2}" '
                f'fill="{fill}"/>'
            )
            if value:
                body.append(
                    _svg_text(
                        x + (cell_w - 2) / 2,
                        y + cell_h / 2 + 3,
                        decimal(value, lang, 0),
                        text_anchor="middle",
                        font_size="11",
                        fill="#ffffff" if level > 0.5 else "#1a1a1a",
                    )
                )
    width = left + len(hours) * cell_w
    return _svg(round(width), top + len(weekdays) * cell_h + 4, t("rep_heat_label", lang), body)


def _blend(low: str, high: str, level: float) -> str:
    a = [int(low[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(high[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(x + (y - x) * max(0.0, min(1.0, level))) for x, y in zip(a, b, strict=True)]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def kind_bars(referred: dict[str, int], lang: str) -> str:
    """Referrals by the kind of place, biggest first, as bars with their counts."""
    rows = sorted(referred.items(), key=lambda item: (-item[1], item[0]))
    most = max(referred.values(), default=0) or 1
    row, left, width = 28, 200, 390
    body = []
    for i, (kind, n) in enumerate(rows):
        y = 4 + i * row
        bar = width * n / most
        body.append(_svg_text(0, y + 14, t(f"kind_{kind}", lang)))
        body.append(f'<rect x="{left}" y="{y}" width="{bar:.1f}" height="18" fill="#1f5fa8"/>')
        body.append(_svg_text(left + bar + 6, y + 14, count(n, lang)))
    return _svg(700, 8 + row * len(rows), t("rep_kinds_label", lang), body)


def _table(head: list[tuple[str, bool]], rows: list[list[tuple[str, str]]]) -> str:
    """A table: headings (text, is a number), rows of (text, css class) cells."""
    cells = "".join(f'<th class="n">{_e(h)}</th>' if n else f"<th>{_e(h)}</th>" for h, n in head)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{c}">{_e(v)}</td>' if c else f"<td>{_e(v)}</td>" for v, c in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _imbalance(s: SiteShare | None) -> str:
    """share ÷ target − 1, as the summary shows it: +30 % is 30 % more than its target."""
    return "–" if s is None else change(s.imbalance)


def _sites_section(report: MonthReport, sites: Sites, lang: str) -> str:
    s = report.summary
    this = month_name(report.month, lang)
    prev = month_name(add_months(report.month, -1), lang)
    year_ago = month_name(report.last_year_month, lang)
    parts = [f"<h2>{_e(t('rep_sites_heading', lang))}</h2>"]
    if not summary_has_jobcentre_visits(s):
        parts.append(f"<p>{_e(t('rep_no_jobcentre_visits', lang, month=this))}</p>")
        return "<section>" + "".join(parts) + "</section>"
    head = [
        (t("rep_col_site", lang), False),
        (t("rep_col_visits", lang), True),
        (t("rep_col_share", lang), True),
        (t("rep_col_target", lang), True),
        (t("rep_col_off", lang), True),
        (t("rep_col_share_in", lang, month=prev), True),
        (t("rep_col_share_in", lang, month=year_ago), True),
    ]
    rows = []
    for x in s.sites:
        before, year = _share_of(report.previous, x.site_id), _share_of(report.last_year, x.site_id)
        high = abs(x.share - x.target) >= NEAR_TARGET and x.share > x.target
        rows.append(
            [
                (sites.name_of(x.site_id, lang), ""),
                (count(x.visits, lang), "n"),
                (percent(x.share), "n over" if high else "n"),
                (percent(x.target), "n"),
                (_imbalance(x), "n over" if high else "n"),
                (percent(before.share) if before else "–", "n"),
                (percent(year.share) if year else "–", "n"),
            ]
        )
    rows.append(
        [
            (t("rep_all_jobcentres", lang), ""),
            (count(sum(x.visits for x in s.sites), lang), "n"),
            ("100 %", "n"),
            ("", "n"),
            ("", "n"),
            ("", "n"),
            ("", "n"),
        ]
    )
    parts.append(_table(head, rows))
    parts.append(
        "<figure>"
        + share_bars(s.sites, sites, lang)
        + f"<figcaption>{_e(t('rep_bars_caption', lang))}</figcaption></figure>"
    )
    parts.append(f'<p class="note">{_e(t("rep_sites_note", lang, total=count(s.total, lang)))}</p>')
    return "<section>" + "".join(parts) + "</section>"


def _trend_section(report: MonthReport, sites: Sites, lang: str) -> str:
    first, last = report.shares[0][0], report.shares[-1][0]
    parts = [
        f"<h2>{_e(t('rep_trend_heading', lang))}</h2>",
        _p(t("rep_trend_intro", lang, first=month_name(first, lang), last=month_name(last, lang))),
    ]
    if not any(any(s.visits for s in shares) for _, shares in report.shares):
        parts.append(f"<p>{_e(t('rep_trend_empty', lang))}</p>")
    else:
        parts.append(
            "<figure>"
            + share_lines(report.shares, sites, lang)
            + f"<figcaption>{_e(t('rep_trend_caption', lang))}</figcaption></figure>"
        )
        head = [(t("rep_col_month", lang), False)] + [
            (sites.name_of(s.site_id, lang), True) for s in report.shares[-1][1]
        ]
        rows = []
        for first_day, shares in report.shares:
            seen = any(s.visits for s in shares)
            rows.append(
                [(month_name(first_day, lang), "")]
                + [(percent(s.share) if seen else "–", "n") for s in shares]
            )
        parts.append(_table(head, rows))
    return '<section class="page">' + "".join(parts) + "</section>"


def _hours_section(report: MonthReport, sites: Sites, lang: str) -> str:
    parts = [f"<h2>{_e(t('rep_hours_heading', lang))}</h2>"]
    if not report.heat:
        parts.append(f"<p>{_e(t('rep_no_visits', lang, month=month_name(report.month, lang)))}</p>")
        return '<section class="page">' + "".join(parts) + "</section>"
    parts.append(
        "<figure>"
        + heat_map(report.heat, lang)
        + f"<figcaption>{_e(t('rep_heat_caption', lang))}</figcaption></figure>"
    )
    parts.append(f"<h3>{_e(t('rep_busiest_heading', lang))}</h3>")
    head = [
        (t("rep_col_site", lang), False),
        (t("rep_col_when", lang), False),
        (t("rep_col_average", lang), True),
        (t("rep_col_days", lang), True),
    ]
    rows = [
        [
            (sites.name_of(h.site_id, lang), ""),
            (f"{t(f'weekday_{h.weekday}', lang)} {_hour_span(h.hour)}", ""),
            (decimal(h.average, lang), "n"),
            (str(h.days), "n"),
        ]
        for h in report.busiest
    ]
    parts.append(_table(head, rows))
    if report.peak is not None:
        site, day, hour, visits = report.peak
        parts.append(
            "<p>"
            + _e(
                t(
                    "rep_peak",
                    lang,
                    site=sites.name_of(site, lang),
                    weekday=t(f"weekday_{day.weekday()}", lang),
                    day=day.isoformat(),
                    span=_hour_span(hour),
                    visits=count(visits, lang),
                )
            )
            + "</p>"
        )
    return '<section class="page">' + "".join(parts) + "</section>"


def _misdirection_section(report: MonthReport, sites: Sites, lang: str) -> str:
    s = report.summary
    parts = [f"<h2>{_e(t('rep_misdirection_heading', lang))}</h2>"]
    rate = _misdirection_rate(s)
    if rate is None:
        parts.append(f"<p>{_e(t('rep_no_postcodes', lang))}</p>")
    else:
        parts.append(
            "<p>"
            + _e(
                t(
                    "rep_misdirection_rate",
                    lang,
                    rate=percent(rate),
                    misdirected=count(s.misdirected, lang),
                    with_postcode=count(s.with_postcode, lang),
                )
            )
            + "</p>"
        )
        flows = sorted(
            (
                (n, home, visited)
                for home, row in s.misdirection.items()
                for visited, n in row.items()
                if is_misdirected(sites, home, visited)
            ),
            key=lambda f: (-f[0], f[1], f[2]),
        )
        if flows:
            head = [
                (t("rep_col_home", lang), False),
                (t("rep_col_came_to", lang), False),
                (t("rep_col_visits", lang), True),
                (t("rep_col_of_misdirected", lang), True),
            ]
            rows = [
                [
                    (sites.name_of(home, lang), ""),
                    (sites.name_of(visited, lang), ""),
                    (count(n, lang), "n"),
                    (percent(n / s.misdirected), "n"),
                ]
                for n, home, visited in flows[:FLOWS_SHOWN]
            ]
            parts.append(f"<h3>{_e(t('rep_flows_heading', lang))}</h3>" + _table(head, rows))
            if len(flows) > FLOWS_SHOWN:
                rest = sum(n for n, _, _ in flows[FLOWS_SHOWN:])
                parts.append(
                    _p(
                        t(
                            "rep_flows_more",
                            lang,
                            flows=len(flows) - FLOWS_SHOWN,
                            visits=count(rest, lang),
                        ),
                        "note",
                    )
                )
    parts.append(f'<p class="note">{_e(t("rep_misdirection_note", lang))}</p>')
    parts.append(f"<h3>{_e(t('rep_kinds_heading', lang))}</h3>")
    if s.referred:
        parts.append(
            "<p>"
            + _e(
                t(
                    "rep_referred",
                    lang,
                    referred=count(s.referred, lang),
                    total=count(s.total, lang),
                    share=percent(s.referred / s.total),
                )
            )
            + "</p>"
        )
        parts.append("<figure>" + kind_bars(s.referred_by_kind, lang) + "</figure>")
    else:
        parts.append(f"<p>{_e(t('rep_none_referred', lang))}</p>")
    return '<section class="page">' + "".join(parts) + "</section>"


def _staffing_section(report: MonthReport, sites: Sites, lang: str) -> str:
    parts = [
        f"<h2>{_e(t('rep_staffing_heading', lang))}</h2>",
        "<p>"
        + _e(
            t(
                "rep_staffing_intro",
                lang,
                share=round(report.wait_share * 100),
                minutes=f"{report.wait_minutes:g}",
            )
        )
        + "</p>",
    ]
    if not report.short:
        parts.append(f"<p>{_e(t('rep_no_short', lang))}</p>")
    else:
        per_site: dict[str, int] = {}
        for h in report.short:
            per_site[h.site_id] = per_site.get(h.site_id, 0) + 1
        parts.append(
            "<ul>"
            + "".join(
                f"<li>{_e(t('rep_short_site', lang, site=sites.name_of(site, lang), hours=n))}</li>"
                for site, n in sorted(per_site.items(), key=lambda item: (-item[1], item[0]))
            )
            + "</ul>"
        )
        head = [
            (t("rep_col_site", lang), False),
            (t("rep_col_when", lang), False),
            (t("rep_col_arrivals", lang), True),
            (t("rep_col_needed", lang), True),
            (t("rep_col_counters", lang), True),
        ]
        rows = [
            [
                (sites.name_of(h.site_id, lang), ""),
                (f"{t(f'weekday_{h.weekday}', lang)} {_hour_span(h.hour)}", ""),
                (decimal(h.arrivals, lang), "n"),
                (str(h.needed), "n over"),
                (str(h.counters), "n"),
            ]
            for h in report.short[:SHORT_HOURS_SHOWN]
        ]
        parts.append(f"<h3>{_e(t('rep_short_heading', lang))}</h3>" + _table(head, rows))
        if len(report.short) > SHORT_HOURS_SHOWN:
            parts.append(
                _p(t("rep_short_more", lang, hours=len(report.short) - SHORT_HOURS_SHOWN), "note")
            )
    staffed = [site for site in sites if site.capacity is not None and site.id in report.service]
    if staffed:  # which time per citizen each site's counters were worked out with
        parts.append(f"<h3>{_e(t('rep_service_heading', lang))}</h3>")
        parts.append(
            "<ul>"
            + "".join(
                "<li>"
                + _e(
                    t(
                        "rep_service_site",
                        lang,
                        site=sites.name_of(site.id, lang),
                        says=report.service[site.id].says(lang),
                    )
                )
                + "</li>"
                for site in staffed
            )
            + "</ul>"
        )
    parts.append(_p(t("rep_service_note", lang, least=MEASURED_AT_LEAST), "note"))
    return '<section class="page">' + "".join(parts) + "</section>"


def _waits_section(report: MonthReport, sites: Sites, lang: str) -> str:
    """The queue: each site's wait and service time in minutes (median and 90th percentile,
    triage.waits), served and no-shows, and the weekday hours with the longest waits."""
    this = month_name(report.month, lang)
    parts = [
        f"<h2>{_e(t('rep_waits_heading', lang))}</h2>",
        _p(t("rep_waits_intro", lang, month=this)),
    ]
    waits = report.waits
    if waits is None or waits.overall is None:
        parts.append(_p(t("rep_waits_none", lang, month=this)))
        return '<section class="page">' + "".join(parts) + "</section>"

    def times(x) -> list[tuple[str, str]]:
        return [
            (count(x.served, lang), "n"),
            (count(x.no_shows, lang), "n"),
            (minutes(x.wait_median_s, lang), "n"),
            (minutes(x.wait_p90_s, lang), "n"),
            (minutes(x.service_median_s, lang), "n"),
            (minutes(x.service_p90_s, lang), "n"),
        ]

    head = [
        (t("rep_col_site", lang), False),
        (t("rep_col_served", lang), True),
        (t("rep_col_no_shows", lang), True),
        (t("rep_col_wait_median", lang), True),
        (t("rep_col_wait_p90", lang), True),
        (t("rep_col_service_median", lang), True),
        (t("rep_col_service_p90", lang), True),
    ]
    rows = [[(sites.name_of(site, lang), "")] + times(x) for site, x in waits.by_site.items()]
    rows.append([(t("rep_all_sites", lang), "")] + times(waits.overall))
    parts.append(_table(head, rows))
    longest = sorted(
        (
            (x.wait_p90_s or 0, site, weekday, hour, x)
            for (site, weekday, hour), x in waits.by_slot.items()
            if x.tickets >= LONG_WAIT_TICKETS
        ),
        key=lambda item: (-item[0], item[1], item[2], item[3]),
    )[:LONG_WAITS_SHOWN]
    if longest:
        head = [
            (t("rep_col_site", lang), False),
            (t("rep_col_when", lang), False),
            (t("rep_col_tickets", lang), True),
            (t("rep_col_wait_median", lang), True),
            (t("rep_col_wait_p90", lang), True),
        ]
        rows = [
            [
                (sites.name_of(site, lang), ""),
                (f"{t(f'weekday_{weekday}', lang)} {_hour_span(hour)}", ""),
                (count(x.tickets, lang), "n"),
                (minutes(x.wait_median_s, lang), "n"),
                (minutes(x.wait_p90_s, lang), "n"),
            ]
            for _, site, weekday, hour, x in longest
        ]
        heading = t("rep_long_waits_heading", lang, tickets=LONG_WAIT_TICKETS)
        parts.append(f"<h3>{_e(heading)}</h3>" + _table(head, rows))
    parts.append(f'<p class="note">{_e(t("rep_waits_note", lang))}</p>')
    return '<section class="page">' + "".join(parts) + "</section>"


def render(report: MonthReport, sites: Sites, lang: str = "da") -> str:
    """The report as one HTML document: no script, nothing fetched, charts as inline SVG."""
    this = month_name(report.month, lang)
    title = t("rep_title", lang, month=this)
    last = report.end - timedelta(days=1)
    period = t("rep_period_value", lang, start=report.month.isoformat(), end=last.isoformat())
    if running(report):  # today too is not over, even on the month's last day
        day, time = report.made.date().isoformat(), report.made.strftime("%H:%M")
        period += " " + t("rep_period_running", lang, day=day, time=time)
    if not report.include_demo:
        demo = t("rep_demo_out", lang)
    elif report.demo_visits:
        demo = t(
            "rep_demo_in",
            lang,
            demo=count(report.demo_visits, lang),
            total=count(report.summary.total, lang),
        )
    else:
        demo = t("rep_demo_none", lang)
    meta = [
        (t("rep_meta_period", lang), period),
        (
            t("rep_meta_made", lang),
            t("rep_made_value", lang, when=report.made.strftime("%Y-%m-%d %H:%M")),
        ),
        (t("rep_meta_demo", lang), demo),
    ]
    changes_html = "".join(f"<li>{_e(line)}</li>" for line in changes(report, sites, lang))
    # A month without visits has only the months before it to show.
    sections = (
        [_sites_section, _trend_section, _hours_section, _misdirection_section, _staffing_section]
        if report.summary.total
        else [_trend_section]
    )
    if report.queue_used:
        sections.append(_waits_section)
    return (
        f'<!DOCTYPE html>\n<html lang="{_e(lang)}">\n<head>\n<meta charset="utf-8">\n{GENERATOR}\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>{_e(title)}</h1>"
        '<dl class="meta">'
        + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta)
        + "</dl></header>\n"
        f'<section class="changes"><h2>{_e(t("rep_changes_heading", lang))}</h2>'
        f"<ul>{changes_html}</ul></section>\n"
        + "\n".join(section(report, sites, lang) for section in sections)
        + "\n</body>\n</html>\n"
    )


# --- the file -------------------------------------------------------------------------------


def check_out(out: Path, force: bool) -> None:
    """Refuse, before any counting, a place the report must not be written (ReportError says
    why): a link, a folder that does not exist, a folder, a device, or an existing file without
    `force`."""
    if out.is_symlink():
        raise ReportError("out_link", path=out)
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise ReportError("out_no_folder", path=out, folder=folder)
    try:
        found = out.stat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(found.st_mode):
        raise ReportError("out_folder", path=out, example=out / "rapport.html")
    if not stat.S_ISREG(found.st_mode):
        raise ReportError("out_special", path=out)
    if not force:
        raise ReportError("rep_exists", path=out)
    if not is_report(out):  # --force replaces an earlier report, never any other file
        raise ReportError("rep_not_a_report", path=out)


GENERATOR = '<meta name="generator" content="triage report">'


def is_report(path: Path) -> bool:
    """Whether `path` holds a report triage wrote: its generator line near the top, or (written
    before that line was added) the report's own opening and its main-figures section."""
    try:
        with open(path, "rb") as file:
            head = file.read(65_536).decode("utf-8", errors="replace")
    except OSError:
        return False
    if GENERATOR in head[:1000]:
        return True
    return head.startswith('<!DOCTYPE html>\n<html lang="') and '<section class="changes">' in head


def write(text: str, out: Path) -> None:
    """Write the report under a temporary name beside `out`, then put it in place: a full disk
    or a refused write leaves no half report (and an earlier one as it was)."""
    handle, name = tempfile.mkstemp(prefix=".triage-report-", suffix=".part", dir=out.parent)
    part = Path(name)
    try:
        with open(handle, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        part.chmod(0o644)  # mkstemp makes it private; a report is meant to be passed on
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
