"""A period's footfall summary as text for people (table), JSON for programs, CSV for Excel."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import date, timedelta
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from triage.i18n import change, count, t
from triage.overview import (
    ALERT_OVER,
    busiest_params,
    latest_shares,
    marked_label,
    partial_buckets,
    partial_note,
    share_cell,
)
from triage.sites import Sites
from triage.stats import ShareInTime, Summary, is_misdirected, previous_period, share_unit
from triage.terminal import plain

if TYPE_CHECKING:
    from triage.waits import Waits


def summary_view(s: Summary, sites: Sites, lang: str = "da", include_demo: bool = True) -> Group:
    """The summary for people: a few lines of text around a rich table of the sites."""
    dates = period_dates(s)
    period = t(
        "sum_period_dated",
        lang,
        start=dates["start"],
        end=dates["end"],
        total=count(s.total, lang),
        previous_start=dates["previous_start"],
        previous_end=dates["previous_end"],
        previous=count(s.previous_total, lang),
        change=change(s.change),
    )
    period += " " + t(
        "sum_last_year",
        lang,
        start=dates["last_year_start"],
        end=dates["last_year_end"],
        total=count(s.last_year_total, lang),
        change=change(s.change_from_last_year),
    )
    period += " " + t("sum_demo_in" if include_demo else "sum_demo_out", lang)
    if previous_complete(s) is False:  # a comparison with days the log does not hold
        period += " " + t("sum_previous_partial", lang, log_start=s.log_start)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column(t("sum_site", lang))
    for key in ("sum_visits", "sum_share", "sum_target", "sum_imbalance"):
        table.add_column(t(key, lang), justify="right")
    for x in s.sites:
        # Marked on a terminal where the overview's alert line would name the site.
        high = x.imbalance is not None and x.imbalance > ALERT_OVER
        table.add_row(
            Text(sites.name_of(x.site_id, lang)),
            Text(count(x.visits, lang)),
            Text("–" if x.imbalance is None else f"{x.share * 100:.0f} %"),  # no one to share
            Text(f"{x.target * 100:.0f} %"),
            Text(change(x.imbalance), style="bold red" if high else ""),
        )
    if s.total == 0:  # nothing to divide: say so rather than "0 %" of no one
        return Group(Text(period), Text(""), table, Text(""), Text(t("sup_no_visits", lang)))
    out = [t("sum_overall", lang, value=f"{s.overall_imbalance * 100:.0f} %"), ""]
    out.append(
        t(
            "sum_misdirected",
            lang,
            misdirected=count(s.misdirected, lang),
            with_postcode=count(s.with_postcode, lang),
        )
    )
    pairs = [
        (n, home, site)
        for home, visited in s.misdirection.items()
        for site, n in visited.items()
        if is_misdirected(sites, home, site)
    ]
    for n, home, site in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):  # biggest first
        out.append(f"  {sites.name_of(home, lang)} → {sites.name_of(site, lang)}: {count(n, lang)}")
    kinds = ", ".join(
        f"{t('kind_' + k, lang)} {count(n, lang)}"
        for k, n in sorted(s.referred_by_kind.items(), key=lambda i: -i[1])
    )
    out.append(t("sum_referred", lang, referred=count(s.referred, lang), kinds=kinds or "–"))
    out.append(t("sum_busiest_avg", lang))
    for h in s.busiest_hours:
        site = sites.name_of(h["site_id"], lang)
        out.append("  " + t("sum_busiest_hour", lang, site=site, **busiest_params(h, lang)))
    over_time = SharesOverTime(s, sites, lang)
    return Group(Text(period), Text(""), table, Text(""), Text("\n".join(out)), over_time)


SHOWN_BUCKETS = 12  # the table's last months; JSON and CSV carry them all


class SharesOverTime:
    """A compact block: one line per jobcentre, its share per month (or week) in per cent,
    marked with * when more than ALERT_OVER above its target, and the target. Only the latest
    months that fit the width are shown (never a site name cut); a month the period cuts is
    marked and its days named below."""

    def __init__(self, s: Summary, sites: Sites, lang: str) -> None:
        self.s, self.sites, self.lang = s, sites, lang

    def view(self, most: int) -> list[Text | Table]:
        s, lang = self.s, self.lang
        unit = share_unit(date.fromisoformat(s.start), date.fromisoformat(s.end))
        buckets, per_site = latest_shares(s.shares_over_time, most)
        cut = partial_buckets(s.shares_over_time)
        key = "sum_shares_weeks" if unit == "week" else "sum_shares_months"
        heading = t(key, lang, over=f"{ALERT_OVER * 100:.0f}")
        every = len(dict.fromkeys(x.bucket for x in s.shares_over_time))
        if every > len(buckets):
            heading += " " + t("sum_shares_latest", lang, shown=len(buckets), total=every)
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
        table.add_column(t("sum_site", lang), no_wrap=True)
        for bucket in buckets:
            table.add_column(marked_label(bucket, cut, lang), justify="right")
        table.add_column(t("sum_target", lang), justify="right")
        for site, shares in per_site.items():
            table.add_row(
                Text(self.sites.name_of(site, lang)),
                *(_share_text(x) for x in shares),
                Text(f"{shares[0].target * 100:.0f}"),
            )
        note = partial_note(buckets, cut, lang)
        shown: list[Text | Table] = [Text(""), Text(heading), Text(""), table]
        return shown + ([Text(note)] if note else [])

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.s.shares_over_time:
            return
        most = SHOWN_BUCKETS
        while most > 1:  # as many of the latest months as fit the width
            table = self.view(most)[3]
            wide = options.update_width(10 * options.max_width)  # measured unclamped
            if Measurement.get(console, wide, table).maximum <= options.max_width:
                break
            most -= 1
        yield from self.view(most)


def _share_text(x: ShareInTime) -> Text:
    cell = share_cell(x)
    return Text(cell, style="bold red" if cell.endswith("*") else "")


def summary_table(s: Summary, sites: Sites, lang: str = "da", include_demo: bool = True) -> str:
    """The summary for people as plain text (for a file or a pipe)."""
    return plain(summary_view(s, sites, lang, include_demo))


def period_dates(s: Summary) -> dict[str, str]:
    """The period, the previous one (stats.previous_period) and the same period last year, both
    ends included (as the export)."""
    start, end = date.fromisoformat(s.start), date.fromisoformat(s.end)  # end excluded
    previous, previous_end = previous_period(start, end)
    return {
        "start": s.start,
        "end": (end - timedelta(days=1)).isoformat(),
        "previous_start": previous.isoformat(),
        "previous_end": (previous_end - timedelta(days=1)).isoformat(),
        "last_year_start": s.last_year_start,
        "last_year_end": (date.fromisoformat(s.last_year_end) - timedelta(days=1)).isoformat(),
    }


def previous_complete(s: Summary) -> bool | None:
    """Whether the log holds the whole previous period (it starts on or before the log's first
    day with visits); None for a log without visits."""
    if s.log_start is None:
        return None
    return period_dates(s)["previous_start"] >= s.log_start


def summary_json(
    s: Summary,
    sites: Sites,
    lang: str = "da",
    include_demo: bool = True,
    waits: Waits | None = None,
) -> str:
    """The summary for programs; with `waits`, the period's wait and service seconds per site
    (median and 90th percentile, served and no-shows), as the table shows them in minutes."""
    data = s.as_dict()
    data.update(period_dates(s))  # one meaning of end everywhere: the last day included
    data["previous_complete"] = previous_complete(s)
    data["include_demo"] = include_demo
    if no_share(s):  # no one came to the jobcentres: no share, no imbalance (not 0)
        data["overall_imbalance"] = None
        for site in data["sites"]:
            site["share"] = None
    data["site_names"] = {site.id: site.name(lang) for site in sites}
    if waits is not None:
        data["waits"] = {
            "by_site": {site: asdict(x) for site, x in waits.by_site.items()},
            "overall": asdict(waits.overall) if waits.overall is not None else None,
        }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def summary_csv(s: Summary, sites: Sites, lang: str = "da", include_demo: bool = True) -> str:
    """Long format, one figure a row: section, site, other, value. The period's rows first."""
    empty = no_share(s)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["section", "site", "other", "value"])
    dates = period_dates(s)
    for name, day in dates.items():
        if not name.startswith("last_year"):  # beside last year's figures below
            writer.writerow([name, "", "", day])
    writer.writerow(["include_demo", "", "", "yes" if include_demo else "no"])
    for section, key in (  # what the column `other` holds, said once in the file
        ("home_by_visited", "csv_other_home_by_visited"),
        ("referred", "csv_other_referred"),
        ("busiest_hour", "csv_other_busiest_hour"),
        ("share_over_time", "csv_other_share_over_time"),
    ):
        writer.writerow(["other_means", section, "", t(key, lang)])
    writer.writerow(["total", "", "", s.total])
    writer.writerow(["previous_total", "", "", s.previous_total])
    complete = previous_complete(s)
    writer.writerow(["previous_complete", "", "", {True: "yes", False: "no", None: ""}[complete]])
    writer.writerow(["log_start", "", "", s.log_start or ""])
    writer.writerow(["change", "", "", _rounded(s.change)])
    writer.writerow(["last_year_start", "", "", dates["last_year_start"]])
    writer.writerow(["last_year_end", "", "", dates["last_year_end"]])
    writer.writerow(["last_year_total", "", "", s.last_year_total])
    writer.writerow(["change_from_last_year", "", "", _rounded(s.change_from_last_year)])
    for x in s.sites:
        writer.writerow(["visits", x.site_id, "", x.visits])
        writer.writerow(["share", x.site_id, "", "" if empty else round(x.share, 4)])
        writer.writerow(["target", x.site_id, "", x.target])
        writer.writerow(
            ["imbalance", x.site_id, "", "" if x.imbalance is None else round(x.imbalance, 4)]
        )
    for site, value in sorted(s.change_by_site.items()):
        writer.writerow(["change", site, "", _rounded(value)])
    writer.writerow(["overall_imbalance", "", "", "" if empty else round(s.overall_imbalance, 4)])
    writer.writerow(["misdirected", "", "", s.misdirected])
    writer.writerow(["with_postcode", "", "", s.with_postcode])
    for home, visited in sorted(s.misdirection.items()):
        for site, n in sorted(visited.items()):
            writer.writerow(["home_by_visited", site, home, n])
    for kind, n in sorted(s.referred_by_kind.items()):
        writer.writerow(["referred", "", kind, n])
    for hour in s.busiest_hours:  # each figure of the hour a row
        when = f"{hour['weekday']} {hour['hour']:02d}"
        for section, figure in (
            ("busiest_hour", hour["visits"]),
            ("busiest_hour_days", hour["days"]),
            ("busiest_hour_average", round(hour["average"], 4)),
            ("busiest_hour_peak", hour["peak"]),
            ("busiest_hour_peak_date", hour["peak_date"]),
        ):
            writer.writerow([section, hour["site_id"], when, figure])
    for month in s.shares_over_time:  # a month cut by the period says which days it counts
        days = f"{month.first}/{month.last}"
        writer.writerow(["share_over_time", month.site_id, days, _rounded(month.share)])
    return buffer.getvalue()


def no_share(s: Summary) -> bool:
    """No visits at the jobcentres in the period: shares and imbalances say nothing."""
    return any(x.imbalance is None for x in s.sites) or (not s.sites and s.total == 0)


def _rounded(value: float | None) -> float | str:
    return "" if value is None else round(value, 4)
