"""The supervisor's overview: footfall per site against target, alerts, heat map, trend and
misdirection. It refreshes by itself every 30 seconds in a worker thread, so desks keep
writing and nothing freezes. The figures come from triage.overview; no SQL here."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, replace
from datetime import date, timedelta

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState, get_current_worker

from screens.keys import follow_language, key_bar, ui_lang
from screens.messages import failure_text
from triage import present
from triage.i18n import change, count, t
from triage.overview import (
    ALERT_OVER,
    Overview,
    QueueOverview,
    above_target,
    busiest_params,
    day_chart,
    failure_kind,
    latest_shares,
    marked_label,
    overview,
    partial_buckets,
    partial_note,
    period_dates,
    queue_overview,
    queue_sites,
    share_cell,
)
from triage.stats import (
    ErrandGroup,
    Filters,
    errand_groups,
    is_misdirected,
    previous_period,
    share_unit,
)
from triage.waits import WaitingNow, minutes, waiting_now

CHANNELS = ("in_person", "phone", "kiosk")  # the channels, in the order K steps through them

REFRESH_SECONDS = 30
WAITING_SECONDS = 10  # who waits now: read more often than the rest, and cheaply


SHADES = " ░▒▓█"


@dataclass
class OverviewReady(Message):
    """The overview's worker counted: the figures for the period on screen."""

    result: Overview


@dataclass
class QueueReady(Message):
    """The queue's worker counted: wait and service time for the period, who waits now."""

    result: QueueOverview


@dataclass
class WaitingReady(Message):
    """Who waits now at each site (the live part of the queue's table)."""

    now: dict[str, WaitingNow]


class SupervisorScreen(Screen):
    # The periods fill the key bar's first line; the app's keys get a line of their own.
    APP_KEYS_OWN_LINE = True
    BINDINGS = [
        Binding("1", "period('today')", "period_today", id="period_today"),
        Binding("2", "period('week')", "period_week", id="period_week"),
        Binding("3", "period('30days')", "period_30days", id="period_30days"),
        Binding("4", "period('year')", "period_year", id="period_year"),
        Binding("5", "custom_period", "period_custom", id="period_custom"),
        Binding("6", "period('last_week')", "period_last_week", id="period_last_week"),
        Binding("7", "period('last_month')", "period_last_month", id="period_last_month"),
        # With or without Shift (Caps Lock, or a habit from other programs).
        Binding("e,E", "export", "sup_export", key_display="E", id="sup_export"),
        Binding("escape", "leave", "sup_leave", id="sup_leave"),
        # Started by itself (`triage summary --tui`) there is nothing to go back to: Esc asks.
        Binding("escape", "ask_quit", "sup_quit", id="sup_quit"),
        # The key bar's second line (screens.keys.SECOND_LINE): the view refreshes itself every
        # 30 seconds, so R stays off the bar.
        Binding("tab", "next_site", "sup_next_site", id="sup_next_site"),
        Binding("pagedown", "scroll(1)", "sup_scroll", key_display="PgUp/PgDn", id="sup_scroll"),
        Binding("pageup", "scroll(-1)", show=False),
        Binding("k,K", "next_channel", "sup_channel", key_display="K", id="sup_channel"),
        Binding("g,G", "next_group", "sup_group", key_display="G", id="sup_group"),
        Binding("r,R", "refresh", "sup_refresh", show=False, id="sup_refresh"),
    ]

    def __init__(
        self,
        store_getter,
        sites,
        can_leave: bool = True,
        period: str = "today",
        custom: tuple = (),
        chosen: Filters | None = None,
        groups: tuple[int, ...] = (),
    ) -> None:
        """`period`, `custom`, `chosen` and `groups` (indexes in errand_groups) are where the
        overview starts: `triage summary --tui` opens on the command's period and filters.
        Its sites and whether demo visits count stay; K and G change channel and group."""
        super().__init__()
        self.store_getter = store_getter  # called in the worker: opening the store may block
        self.sites = sites
        self.can_leave = can_leave
        self.period = period
        self.custom: tuple = custom  # (first day, day after the last) when period is "custom"
        self.heat_site = 0
        self.chosen = chosen or Filters()
        channels = self.chosen.channels or ()
        self.channel: str | None = channels[0] if len(channels) == 1 else None  # or every one
        self.group: int | None = groups[0] if len(groups) == 1 else None  # its index, or all
        self.start_groups = groups if len(groups) > 1 else ()  # several, until G is pressed
        self.result: Overview | None = None
        self.failure: BaseException | None = None  # why the latest count failed, if it did
        self.queue: QueueOverview | None = None  # the queue's figures, counted apart
        self.waiting: dict[str, WaitingNow] | None = None  # who waits now, read since

    @property
    def lang(self) -> str:
        return ui_lang(self)

    def compose(self) -> ComposeResult:
        yield Static(id="sup-title")
        yield Static(id="sup-alert")
        with VerticalScroll(id="sup-body"):
            yield DataTable(id="sup-sites", cursor_type="none", zebra_stripes=True)
            yield Static(id="sup-summary")
            yield Static(id="sup-queue")
            yield Static(id="sup-heat")
            yield Static(id="sup-trend-label")
            yield Static(id="sup-trend")
            yield Static(id="sup-shares")
            yield Static(id="sup-matrix")
        yield Static(id="keys")

    def on_mount(self) -> None:
        self.query_one("#keys", Static).styles.height = 3  # the key bar's three lines
        follow_language(self, self.redraw)
        self.query_one("#sup-sites", DataTable).loading = True
        self.redraw()
        self.action_refresh()
        self.set_interval(REFRESH_SECONDS, self.action_refresh)
        self.set_interval(WAITING_SECONDS, self.refresh_waiting)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave":
            return self.can_leave
        if action == "ask_quit":
            return not self.can_leave
        if action == "export":  # a desk's login may read no figures: nothing to export
            return not self.denied
        return True

    @property
    def denied(self) -> bool:
        """The login may not read the figures (a desk's): no retry or export can help."""
        return self.failure is not None and failure_kind(self.failure) == "denied"

    # --- actions -------------------------------------------------------------------------

    def action_period(self, period: str) -> None:
        self.period = period
        self.query_one("#sup-sites", DataTable).loading = True  # a long range may take a moment
        # A new period starts from its site table, not where the old one was scrolled to.
        self.query_one("#sup-body", VerticalScroll).scroll_home(animate=False)
        self.action_refresh()

    def action_custom_period(self) -> None:
        from screens.period import PeriodScreen

        def chosen(period) -> None:
            if isinstance(period, str):  # a ready period (F6, F7)
                self.action_period(period)
            elif period is not None:
                self.custom = period
                self.action_period("custom")

        start, end = self.period_bounds()  # the period on screen, to adjust
        self.app.push_screen(PeriodScreen(start, end - timedelta(days=1)), chosen)

    def period_bounds(self) -> tuple:
        """(first day, day after the last) of the period on screen."""
        return (
            self.custom
            if self.period == "custom"
            else period_dates(self.period, present.local_now().date())
        )

    def action_export(self) -> None:
        from screens.export import ExportScreen

        start, end = self.period_bounds()
        chosen = self.filters()  # the export counts what the overview shows
        named = tuple(f"{group.key} {group.label(self.lang)}" for group in self.chosen_groups())
        self.app.push_screen(ExportScreen(self.store_getter, self.sites, start, end, chosen, named))

    @property
    def groups(self) -> list[ErrandGroup]:
        flow = getattr(self.app, "flow", None)  # the desk's flow; a bare screen has none
        return errand_groups(flow) if flow is not None else []

    def chosen_groups(self) -> list[ErrandGroup]:
        """The errand group chosen with G, or the ones the overview started with."""
        groups = self.groups
        picked = (self.group,) if self.group is not None else self.start_groups
        return [groups[i] for i in picked if i < len(groups)]

    def filters(self) -> Filters:
        """The channel and errand group chosen with K and G, within the sites (and with or
        without demo visits) the overview started with."""
        chosen = self.chosen_groups()
        outcomes = tuple(dict.fromkeys(o for group in chosen for o in group.outcomes))
        return replace(
            self.chosen,
            channels=(self.channel,) if self.channel else None,
            outcomes=outcomes if chosen else None,
        )

    def filter_said(self) -> str:
        """The filters chosen, as "Kun: Telefon, Sygdom og sygedagpenge.", or nothing."""
        lang = self.lang
        parts = [self.site_name(site) for site in self.chosen.sites or ()]
        parts += [t(f"channel_{self.channel}", lang)] if self.channel else []
        parts += [group.label(lang) for group in self.chosen_groups()]
        said = t("sup_filter", lang, what=", ".join(parts)) if parts else ""
        if not self.chosen.include_demo:
            said = f"{said} {t('sum_demo_out', lang)}".strip()
        return said

    def action_next_channel(self) -> None:
        """Every channel, then in person only, phone only, kiosk only, then every one again."""
        order: list[str | None] = [None, *CHANNELS]
        self.channel = order[(order.index(self.channel) + 1) % len(order)]
        self.action_period(self.period)

    def action_next_group(self) -> None:
        """Every errand group, then each group of the first question in turn, then all again."""
        groups = len(self.groups)
        self.start_groups = ()  # G steps from every group on
        if self.group is None:
            self.group = 0 if groups else None
        else:
            self.group = self.group + 1 if self.group + 1 < groups else None
        self.action_period(self.period)

    def action_next_site(self) -> None:
        if self.result and self.result.heat:
            self.heat_site = (self.heat_site + 1) % len(self.result.heat)
            self.redraw()

    def action_refresh(self) -> None:
        self.compute(self.period)
        self.compute_queue(self.period)

    def refresh_waiting(self) -> None:
        if self.queue is not None and self.queue.used:  # a log without tickets: nothing to ask
            self.compute_waiting()

    def action_scroll(self, pages: int) -> None:
        body = self.query_one("#sup-body", VerticalScroll)
        if pages > 0:
            body.scroll_page_down()
        else:
            body.scroll_page_up()

    def action_leave(self) -> None:
        self.dismiss()

    def action_ask_quit(self) -> None:
        from screens.confirm import ConfirmScreen

        def answered(quit: bool | None) -> None:
            if quit:
                self.app.exit()

        self.app.push_screen(ConfirmScreen("sup_quit_question", "sup_quit_yes"), answered)

    @work(thread=True, exclusive=True, group="overview", exit_on_error=False)
    def compute(self, period: str) -> None:
        now = present.local_now()
        start, end = self.custom if period == "custom" else period_dates(period, now.date())
        result = overview(self.store_getter(), self.sites, start, end, now, self.filters())
        # A count for a period or filter since replaced (a key pressed while it ran) is dropped:
        # a thread cannot be stopped, and its late answer would overwrite the newer one.
        if not get_current_worker().is_cancelled:
            self.post_message(OverviewReady(result))

    @work(thread=True, exclusive=True, group="queue", exit_on_error=False)
    def compute_queue(self, period: str) -> None:
        """The queue's figures, apart from the rest: a long period's tickets take longer than
        its rollups. A failure keeps the figures shown; the overview's own count says why."""
        now = present.local_now()
        start, end = self.custom if period == "custom" else period_dates(period, now.date())
        result = queue_overview(self.store_getter(), start, end, now, self.filters())
        if not get_current_worker().is_cancelled:
            self.post_message(QueueReady(result))

    @work(thread=True, exclusive=True, group="waiting", exit_on_error=False)
    def compute_waiting(self) -> None:
        self.post_message(WaitingReady(waiting_now(self.store_getter(), now=present.local_now())))

    def on_queue_ready(self, message: QueueReady) -> None:
        self.queue, self.waiting = message.result, None
        self.draw_queue()

    def on_waiting_ready(self, message: WaitingReady) -> None:
        self.waiting = message.now
        self.draw_queue()

    def on_overview_ready(self, message: OverviewReady) -> None:
        self.result = message.result
        self.failure = None
        self.query_one("#sup-sites", DataTable).loading = False
        self.redraw()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A count that failed (the database locked, gone or damaged) stops the loading
        indicator and says why; the figures shown stay, and the next refresh tries again."""
        if event.worker.group != "overview" or event.state != WorkerState.ERROR:
            return
        self.failure = event.worker.error
        self.query_one("#sup-sites", DataTable).loading = False
        # Said on its own lines under the title, where it wraps: a notice would cover the key
        # bar at 80×24, and a title line would cut it.
        self.redraw()
        if self.denied:  # the queue's figures are the site's tickets, not the overview's
            self.draw_queue()

    def failure_said(self) -> str:
        """Why the figures could not be fetched, by cause: a damaged file needs a backup (a
        retry cannot help); a locked or unreachable database is tried again."""
        if self.failure is None:
            return ""
        code, params = getattr(self.failure, "code", ""), getattr(self.failure, "params", {})
        if code == "sup_failed_login":  # a whole sentence: the password must be put right
            return t(code, self.lang, **params)
        kind = failure_kind(self.failure)
        if kind == "damaged":
            return t("sup_failed_damaged", self.lang)
        if kind == "unavailable":
            return t("sup_failed_unavailable", self.lang)
        if kind == "denied":  # a desk's database role: no retry will help
            return f"{t('sup_failed_denied', self.lang)} {t('sup_denied_sees', self.lang)}"
        return t("sup_failed", self.lang, reason=failure_text(self.failure, self.lang))

    # --- drawing -------------------------------------------------------------------------

    def site_name(self, site_id: str) -> str:
        return self.sites.name_of(site_id, self.lang)

    def redraw(self) -> None:
        lang = self.lang
        self.query_one("#keys", Static).update(key_bar(self, lang))
        title = self.query_one("#sup-title", Static)
        result = self.result
        alert = self.query_one("#sup-alert", Static)
        if result is None:  # still counting, or the count failed (in the language of now)
            title.update(
                Content.assemble(
                    (t("sup_title", lang), "bold"), "  ", t(f"period_{self.period}", lang)
                )
                if self.failure
                else t("sup_loading", lang)
            )
            alert.display = self.failure is not None
            alert.update(self.failure_said())
            return
        last = result.end.toordinal() - 1
        demo = (
            f"  {t('sup_demo', lang, n=count(result.demo_visits, lang))}"
            if result.demo_visits
            else ""
        )
        period = Content.assemble(
            (t("sup_title", lang), "bold"),
            "  ",
            t(f"period_{self.period}", lang),
            f" ({result.start} – {date.fromordinal(last)})",
            (demo, "bold"),
        )
        # The count of demo visits never falls off the edge: at 80 columns the time of the
        # refresh goes first ("opdateret" and then the time itself).
        room = self.size.width - 2 or 78  # the title's padding; no size yet before the first paint
        refreshed = f"{result.refreshed:%H:%M:%S}"
        said = t("sup_refreshed", lang, time=refreshed)
        title.update(
            next(
                (
                    Content.assemble(period, "  ", (when, "dim"))
                    for when in (said, refreshed)
                    if period.cell_length + 2 + len(when) <= room
                ),
                period,
            )
        )
        alert.display = bool(result.alerts) or self.failure is not None
        alert.update(
            whole_percent(
                room,
                [self.failure_said()] if self.failure else [],
                [
                    t(
                        f"sup_alert_{a.window}",
                        lang,
                        site=self.site_name(a.site_id),
                        share=f"{a.share * 100:.0f}",
                        target=f"{a.target * 100:.0f}",
                        visits=count(a.visits, lang),
                    )
                    for a in result.alerts
                ],
            )
        )
        self.draw_sites(result)
        s = result.summary
        referred = (
            ", ".join(
                f"{t('kind_' + k, lang)} {count(n, lang)}"
                for k, n in sorted(s.referred_by_kind.items(), key=lambda i: -i[1])
            )
            or "–"
        )
        previous, previous_dates = count(s.previous_total, lang), self.previous_dates(result)
        filtered = self.filter_said()
        totals = (
            (filtered + " " if filtered else "")
            + t("sup_totals_empty", lang, previous_dates=previous_dates, previous=previous)
            if s.total == 0  # no visits: no imbalance to state
            else (filtered + " " if filtered else "")
            + t(
                "sup_totals_dated",
                lang,
                total=count(s.total, lang),
                previous_dates=previous_dates,
                previous=previous,
                change=change(s.change),
                overall=f"{s.overall_imbalance * 100:.0f}",
                referred=count(s.referred, lang),
                kinds=referred,
                last_year_dates=self.dates(date.fromisoformat(s.last_year_start), s.last_year_end),
                last_year=count(s.last_year_total, lang),
                last_year_change=change(s.change_from_last_year),
            )
        )
        # The body's padding and scrollbar take 4 columns.
        self.query_one("#sup-summary", Static).update(whole_percent(room - 2, [totals]))
        self.draw_queue()
        self.draw_heat(result)
        self.draw_trend(result)
        self.draw_shares(result)
        self.draw_matrix(result)

    def draw_sites(self, result: Overview) -> None:
        lang = self.lang
        table = self.query_one("#sup-sites", DataTable)
        table.clear(columns=True)
        table.add_columns(
            t("sum_site", lang),
            t("sum_visits", lang),
            t("sum_share", lang),
            t("sum_target", lang),
            t("sum_imbalance", lang),
            "",
        )
        rows = [
            [
                self.site_name(x.site_id),
                count(x.visits, lang),
                "–" if x.imbalance is None else f"{x.share * 100:.0f} %",  # no one to share
                f"{x.target * 100:.0f} %",
                change(x.imbalance),
            ]
            for x in result.summary.sites
        ]
        # The bar takes the room the figures leave, so the table never scrolls sideways (a
        # year's counts are wide): each column's widest cell and its padding of 1 either side,
        # the body's padding and scrollbar (4), and the table's own scrollbar past 11 rows.
        headers = [str(c.label) for c in table.columns.values()]
        used = sum(
            max(len(text) for text in column) + 2 for column in zip(headers, *rows, strict=False)
        )
        width = min(12, self.size.width - 4 - used - 2 - (2 if len(rows) > 11 else 0))
        for x, row in zip(result.summary.sites, rows, strict=True):
            if width >= 5:  # narrower says nothing the share does not
                filled = round(x.share * width)
                mark = min(width - 1, round(x.target * width))
                row.append(
                    "".join(
                        "│" if i == mark else ("█" if i < filled else "·") for i in range(width)
                    )
                )
            else:
                row.append("")
            table.add_row(*row)

    def draw_queue(self) -> None:
        """The queue, where the log holds tickets: per site who waits now and the longest wait
        so far, the period's wait and service time in minutes (median / 90th percentile), its
        served tickets and no-shows; below, each site's median wait per hour of the day when
        the hours fit the width."""
        widget = self.query_one("#sup-queue", Static)
        queue = None if self.denied else self.queue
        widget.display = queue is not None and queue.used
        if queue is None or not queue.used:
            return
        lang = self.lang
        waits = queue.waits
        now = queue.now if self.waiting is None else self.waiting
        listed = [x.site_id for x in self.result.summary.sites] if self.result else []
        sites = queue_sites(waits, now, listed)
        lines = [Content.assemble((t("sup_queue_heading", lang), "bold"))]
        if not sites:
            lines.append(Content(t("sup_queue_none", lang)))
            widget.update(Content("\n").join(lines))
            return
        heads = [
            t("sup_queue_waiting", lang),
            t("sup_queue_longest", lang),
            t("sup_queue_wait", lang),
            t("sup_queue_service", lang),
            t("sup_queue_served", lang),
            t("sup_queue_no_shows", lang),
        ]
        rows = []
        for site in sites:
            live, found = now.get(site), waits.by_site.get(site)
            rows.append(
                [
                    count(live.waiting if live else 0, lang),
                    minutes(live.longest_s, lang) if live and live.waiting else "–",
                    f"{minutes(found.wait_median_s, lang)} / {minutes(found.wait_p90_s, lang)}"
                    if found
                    else "–",
                    f"{minutes(found.service_median_s, lang)} / "
                    f"{minutes(found.service_p90_s, lang)}"
                    if found
                    else "–",
                    count(found.served if found else 0, lang),
                    count(found.no_shows if found else 0, lang),
                ]
            )
        widths = [max(len(h), *(len(row[i]) for row in rows)) + 1 for i, h in enumerate(heads)]
        room = self.size.width - 4 or 76  # the body's padding and scrollbar
        longest_name = max(len(self.site_name(site)) for site in sites) + 1
        name_width = max(8, min(longest_name, room - sum(widths)))
        lines.append(
            Content(
                " " * name_width + "".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))
            )
        )
        for site, row in zip(sites, rows, strict=True):
            cells = "".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
            lines.append(Content(self.name_in(site, name_width) + cells))
        if waits.empty:
            lines.append(Content(t("sup_queue_empty", lang)))
        else:
            lines.extend(self.queue_hours(queue, [s for s in sites if s in waits.by_site], room))
        lines.append(Content(t("sup_queue_note", lang)).stylize("dim"))
        widget.update(Content("\n").join(lines))

    def queue_hours(self, queue: QueueOverview, sites: list[str], room: int) -> list[Content]:
        """Each site's median wait per hour of the day (all weekdays of the period), or
        nothing when the hours and a readable name do not fit the width."""
        lang = self.lang
        by_hour = queue.waits.by_hour
        found = sorted({hour for site, hour in by_hour if site in sites})
        if not found:
            return []
        hours = range(found[0], found[-1] + 1)
        cell = 5
        longest_name = max(len(self.site_name(site)) for site in sites) + 1
        name_width = min(longest_name, room - cell * len(hours))
        if name_width < 8:
            return []
        lines = [
            Content.assemble((t("sup_queue_hours", lang), "bold")),
            Content(" " * name_width + "".join(f"{hour:02d}".rjust(cell) for hour in hours)),
        ]
        for site in sites:
            cells = "".join(
                minutes(by_hour[site, hour].wait_median_s, lang).rjust(cell)
                if (site, hour) in by_hour
                else "–".rjust(cell)
                for hour in hours
            )
            lines.append(Content(self.name_in(site, name_width) + cells))
        return lines

    def name_in(self, site: str, width: int) -> str:
        """The site's name in `width` columns (a space after it); a longer one loses its
        beginning, not its end: "…København Musvågevej" (the sites' names begin alike)."""
        name = self.site_name(site)
        return name.ljust(width) if len(name) < width else "…" + name[-(width - 2) :] + " "

    def draw_heat(self, result: Overview) -> None:
        lang = self.lang
        heat = self.query_one("#sup-heat", Static)
        heat.display = bool(result.heat)  # no visits: the totals line says so, once
        if not result.heat:
            return
        listed = [x.site_id for x in result.summary.sites]
        order = sorted(
            result.heat, key=lambda s: (listed.index(s) if s in listed else len(listed), s)
        )
        site = order[self.heat_site % len(order)]
        cells = result.heat[site]
        hours = range(min(h for _, h in cells), max(h for _, h in cells) + 1)
        days = sorted({d for d, _ in cells} | set(range(5)))
        top = max(cells.values())
        lines = [Content.assemble((t("sup_heat", lang, site=self.site_name(site)), "bold"))]
        lines.append(Content("     " + "".join(f"{h:02d}  " for h in hours)))
        for day in days:
            row = []
            for hour in hours:
                n = cells.get((day, hour), 0)
                level = 0 if n == 0 else 1 + round((len(SHADES) - 2) * n / top)
                row.append(SHADES[level] * 3 + " ")
            lines.append(Content(f"{t('weekday_' + str(day), lang)[:3]:<5}" + "".join(row)))
        busiest = result.busiest_by_site[site]
        legend = t("sup_heat_legend_avg", lang, **busiest_params(busiest, lang))
        lines.append(Content(legend).stylize("dim"))
        heat.update(Content("\n").join(lines))

    @staticmethod
    def previous_dates(result: Overview) -> str:
        """The previous period (stats.previous_period): one date, or its first and last."""
        first, end = previous_period(result.start, result.end)
        last = end - timedelta(days=1)
        return str(last) if first == last else f"{first} – {last}"

    @staticmethod
    def dates(first: date, end: str) -> str:
        """A period given by its first day and the day after: one date, or its first and last."""
        last = date.fromisoformat(end) - timedelta(days=1)
        return str(last) if first == last else f"{first} – {last}"

    def on_resize(self) -> None:
        # The title, table and chart are drawn to the screen's width. After the resize is
        # done: a table filled while it is being resized keeps only its headers' widths.
        if self.result is not None:
            self.call_after_refresh(self.redraw)

    def draw_trend(self, result: Overview) -> None:
        lang = self.lang
        label, chart = (
            self.query_one("#sup-trend-label", Static),
            self.query_one("#sup-trend", Static),
        )
        # A chart needs two days or more; one bar would say nothing a number does not.
        # No visits at all: no chart with an axis from 0 to 0 (the totals line says so).
        label.display = chart.display = (
            result.end - result.start
        ).days >= 2 and result.summary.total > 0
        # The body's padding (2) and its scrollbar (2) take room beside the chart.
        unit, lines = day_chart(
            result.start,
            result.end,
            result.trend,
            self.size.width - 4,
            [t(f"weekday_{d}", lang) for d in range(7)],
            lambda n: count(n, lang),
        )
        label.update(t("sup_trend" if unit == "day" else "sup_trend_weeks", lang))
        chart.update("\n".join(lines))

    def draw_shares(self, result: Overview) -> None:
        """Each jobcentre's share in the last months (or weeks) that fit the width, with its
        target: one row per jobcentre, a share more than ALERT_OVER above target marked."""
        lang = self.lang
        shares = self.query_one("#sup-shares", Static)
        rows = result.summary.shares_over_time
        # Two months (or weeks) or more: one would only repeat the table above.
        shares.display = len({x.bucket for x in rows}) >= 2
        if not shares.display:
            return
        names = {x.site_id: self.site_name(x.site_id) for x in rows}
        name_width = max(len(n) for n in names.values()) + 1
        target_width = max(len(t("sum_target", lang)), 3) + 2
        cut = partial_buckets(rows)  # months (weeks) the period cuts: marked, and said below
        cell = 8 if cut else 7  # "sep 26" (and its mark) and a space
        # The body's padding (2) and its scrollbar (2) take room beside the rows.
        room = self.size.width - 4 - name_width - target_width
        buckets, per_site = latest_shares(rows, max(1, min(12, room // cell)))
        unit = share_unit(result.start, result.end)
        key = "sup_shares_weeks" if unit == "week" else "sup_shares_months"
        lines = [Content.assemble((t(key, lang, over=f"{ALERT_OVER * 100:.0f}"), "bold"))]
        lines.append(
            Content(
                " " * name_width
                + "".join(marked_label(b, cut, lang).rjust(cell) for b in buckets)
                + t("sum_target", lang).rjust(target_width)
            )
        )
        for site, in_time in per_site.items():
            parts: list = [names[site].ljust(name_width)]
            for x in in_time:
                parts.append((share_cell(x).rjust(cell), "bold red" if above_target(x) else ""))
            parts.append(f"{in_time[0].target * 100:.0f}".rjust(target_width))
            lines.append(Content.assemble(*parts))
        note = partial_note(buckets, cut, lang)
        if note:
            lines.append(Content(note).stylize("dim"))
        shares.update(Content("\n").join(lines))

    def draw_matrix(self, result: Overview) -> None:
        lang = self.lang
        s = result.summary
        lines = [
            t(
                "sum_misdirected",
                lang,
                misdirected=count(s.misdirected, lang),
                with_postcode=count(s.with_postcode, lang),
            )
        ]
        pairs = [
            (n, home, site)
            for home, visited in s.misdirection.items()
            for site, n in visited.items()
            if is_misdirected(self.sites, home, site)
        ]
        shown = 8
        for n, home, site in sorted(pairs, key=lambda p: (-p[0], p[1], p[2]))[:shown]:  # biggest
            lines.append(f"  {self.site_name(home)} → {self.site_name(site)}: {count(n, lang)}")
        if len(pairs) > shown:  # say that the list is cut, and by how much
            lines.append("  " + t("sup_more", lang, n=count(len(pairs) - shown, lang)))
        self.query_one("#sup-matrix", Static).update("\n".join(lines))


def whole_percent(width: int, *paragraphs: list[str]) -> str:
    """The paragraphs' lines wrapped to width, a figure never parted from its "%" ("målet er
    40 %." whole on the next line): Textual would break at the space between them, even a
    no-break one."""
    glued = (PERCENT.sub("\\1\u00a0%", line) for lines in paragraphs for line in lines)
    # textwrap breaks at ASCII spaces only; not at a date's hyphens either.
    wrapped = (
        textwrap.fill(line, max(width, 20), break_long_words=False, break_on_hyphens=False)
        for line in glued
    )
    return "\n".join(wrapped).replace("\u00a0", " ")


PERCENT = re.compile(r"(\d) %")
