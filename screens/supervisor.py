"""The supervisor's overview: footfall per site against target, alerts, heat map, trend and
misdirection. It refreshes by itself every 30 seconds in a worker thread, so desks keep
writing and nothing freezes. The figures come from triage.overview; no SQL here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from screens.keys import follow_language, key_bar, ui_lang
from screens.messages import failure_text
from triage import present
from triage.i18n import change, count, t
from triage.overview import Overview, busiest_params, day_chart, overview, period_dates
from triage.stats import is_misdirected

REFRESH_SECONDS = 30
SHADES = " ░▒▓█"


@dataclass
class OverviewReady(Message):
    """The overview's worker counted: the figures for the period on screen."""

    result: Overview


class SupervisorScreen(Screen):
    BINDINGS = [
        Binding("1", "period('today')", "period_today", id="period_today"),
        Binding("2", "period('week')", "period_week", id="period_week"),
        Binding("3", "period('30days')", "period_30days", id="period_30days"),
        Binding("4", "period('year')", "period_year", id="period_year"),
        Binding("5", "custom_period", "period_custom", id="period_custom"),
        Binding("e", "export", "sup_export", id="sup_export"),
        # Off the key bar for room at 80 columns: the heat map's title names Tab, and the view
        # refreshes itself every 30 seconds.
        Binding("tab", "next_site", "sup_next_site", show=False, id="sup_next_site"),
        Binding("r", "refresh", "sup_refresh", show=False, id="sup_refresh"),
        Binding("escape", "leave", "sup_leave", id="sup_leave"),
        Binding("pagedown", "scroll(1)", show=False),
        Binding("pageup", "scroll(-1)", show=False),
    ]

    def __init__(self, store_getter, sites, can_leave: bool = True) -> None:
        super().__init__()
        self.store_getter = store_getter  # called in the worker: opening the store may block
        self.sites = sites
        self.can_leave = can_leave
        self.period = "today"
        self.custom: tuple = ()  # (first day, day after the last) when period is "custom"
        self.heat_site = 0
        self.result: Overview | None = None
        self.failure: BaseException | None = None  # why the latest count failed, if it did

    @property
    def lang(self) -> str:
        return ui_lang(self)

    def compose(self) -> ComposeResult:
        yield Static(id="sup-title")
        yield Static(id="sup-alert")
        with VerticalScroll(id="sup-body"):
            yield DataTable(id="sup-sites", cursor_type="none", zebra_stripes=True)
            yield Static(id="sup-summary")
            yield Static(id="sup-heat")
            yield Static(id="sup-trend-label")
            yield Static(id="sup-trend")
            yield Static(id="sup-matrix")
        yield Static(id="keys")

    def on_mount(self) -> None:
        follow_language(self, self.redraw)
        self.query_one("#sup-sites", DataTable).loading = True
        self.redraw()
        self.action_refresh()
        self.set_interval(REFRESH_SECONDS, self.action_refresh)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave":
            return self.can_leave
        return True

    # --- actions -------------------------------------------------------------------------

    def action_period(self, period: str) -> None:
        self.period = period
        self.query_one("#sup-sites", DataTable).loading = True  # a long range may take a moment
        self.action_refresh()

    def action_custom_period(self) -> None:
        from screens.period import PeriodScreen

        def chosen(period) -> None:
            if period is not None:
                self.custom = period
                self.action_period("custom")

        today = present.local_now().date()
        start, last = self.custom or (today - timedelta(days=29), today + timedelta(days=1))
        self.app.push_screen(PeriodScreen(start, last - timedelta(days=1)), chosen)

    def period_bounds(self) -> tuple:
        """(first day, day after the last) of the period on screen."""
        return (
            self.custom
            if self.period == "custom"
            else period_dates(self.period, present.local_now().date())
        )

    def action_export(self) -> None:
        from screens.export import ExportScreen

        self.app.push_screen(ExportScreen(self.store_getter, self.sites, *self.period_bounds()))

    def action_next_site(self) -> None:
        if self.result and self.result.heat:
            self.heat_site = (self.heat_site + 1) % len(self.result.heat)
            self.redraw()

    def action_refresh(self) -> None:
        self.compute(self.period)

    def action_scroll(self, pages: int) -> None:
        body = self.query_one("#sup-body", VerticalScroll)
        if pages > 0:
            body.scroll_page_down()
        else:
            body.scroll_page_up()

    def action_leave(self) -> None:
        self.dismiss()

    @work(thread=True, exclusive=True, group="overview", exit_on_error=False)
    def compute(self, period: str) -> None:
        now = present.local_now()
        start, end = self.custom if period == "custom" else period_dates(period, now.date())
        result = overview(self.store_getter(), self.sites, start, end, now)
        self.post_message(OverviewReady(result))

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
        if self.result is None:  # nothing to show yet: the title says why, not "fetching"
            self.redraw()
        self.notify(self.failure_said(), severity="error", timeout=10)

    def failure_said(self) -> str:
        return t("sup_failed", self.lang, reason=failure_text(self.failure, self.lang))

    # --- drawing -------------------------------------------------------------------------

    def site_name(self, site_id: str) -> str:
        return self.sites.name_of(site_id, self.lang)

    def redraw(self) -> None:
        lang = self.lang
        self.query_one("#keys", Static).update(key_bar(self, lang))
        title = self.query_one("#sup-title", Static)
        result = self.result
        if result is None:  # still counting, or the count failed (in the language of now)
            title.update(self.failure_said() if self.failure else t("sup_loading", lang))
            return
        last = result.end.toordinal() - 1
        from datetime import date

        demo = (
            f"  {t('sup_demo', lang, n=count(result.demo_visits, lang))}"
            if result.demo_visits
            else ""
        )
        title.update(
            Content.assemble(
                (t("sup_title", lang), "bold"),
                "  ",
                t(f"period_{self.period}", lang),
                f" ({result.start} – {date.fromordinal(last)})",
                "  ",
                (t("sup_refreshed", lang, time=f"{result.refreshed:%H:%M:%S}"), "dim"),
                (demo, "bold"),
            )
        )
        alert = self.query_one("#sup-alert", Static)
        alert.display = bool(result.alerts)
        alert.update(
            "\n".join(
                t(
                    f"sup_alert_{a.window}",
                    lang,
                    site=self.site_name(a.site_id),
                    share=f"{a.share * 100:.0f}",
                    target=f"{a.target * 100:.0f}",
                    visits=count(a.visits, lang),
                )
                for a in result.alerts
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
        self.query_one("#sup-summary", Static).update(
            t("sup_totals_empty", lang, previous_dates=previous_dates, previous=previous)
            if s.total == 0  # no visits: no imbalance to state
            else t(
                "sup_totals_dated",
                lang,
                total=count(s.total, lang),
                previous_dates=previous_dates,
                previous=previous,
                change=change(s.change),
                overall=f"{s.overall_imbalance * 100:.0f}",
                referred=count(s.referred, lang),
                kinds=referred,
            )
        )
        self.draw_heat(result)
        self.draw_trend(result)
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
        for x in result.summary.sites:
            width = 12  # the whole table fits in 80 columns
            filled = round(x.share * width)
            mark = min(width - 1, round(x.target * width))
            bar = "".join("│" if i == mark else ("█" if i < filled else "·") for i in range(width))
            table.add_row(
                self.site_name(x.site_id),
                count(x.visits, lang),
                f"{x.share * 100:.0f} %",
                f"{x.target * 100:.0f} %",
                change(x.imbalance),
                bar,
            )

    def draw_heat(self, result: Overview) -> None:
        lang = self.lang
        heat = self.query_one("#sup-heat", Static)
        if not result.heat:
            heat.update(t("sup_no_visits", lang))
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
        """The previous period of the same length: one date, or its first and last."""
        first = result.start - (result.end - result.start)
        last = result.start - timedelta(days=1)
        return str(last) if first == last else f"{first} – {last}"

    def on_resize(self) -> None:
        if self.result is not None:  # the chart is drawn to the width of the screen
            self.draw_trend(self.result)

    def draw_trend(self, result: Overview) -> None:
        lang = self.lang
        label, chart = (
            self.query_one("#sup-trend-label", Static),
            self.query_one("#sup-trend", Static),
        )
        # A chart needs two days or more; one bar would say nothing a number does not.
        label.display = chart.display = (result.end - result.start).days >= 2
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
        for n, home, site in sorted(pairs, key=lambda p: (-p[0], p[1], p[2]))[:8]:  # biggest first
            lines.append(f"  {self.site_name(home)} → {self.site_name(site)}: {count(n, lang)}")
        self.query_one("#sup-matrix", Static).update("\n".join(lines))
