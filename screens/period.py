"""Choose a custom period for the overview: two dates, checked before the dialog closes (a
date that cannot be read, or lies outside the years triage counts with, is named and the
dialog stays open)."""

from __future__ import annotations

from datetime import date, timedelta

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from screens.keys import follow_language, ui_lang
from triage.dates import DayError, parse_day
from triage.i18n import t

# Each field's label, which also names it when its date cannot be read.
FIELD_LABELS = {"from": "period_from_label", "to": "period_to_label"}


class PeriodScreen(ModalScreen[tuple[date, date] | str | None]):
    """Returns (first day, day after the last), a ready period's name (F6 "last_week", F7
    "last_month": digits go into the fields here), or None on Esc."""

    # A modal dialog hides the app's keys: F2 is offered here too, so the language switches
    # while the dialog is open.
    BINDINGS = [
        Binding("escape", "cancel", "key_close", id="key_close"),
        Binding("f2", "app.toggle_language", "key_language", id="key_language"),
        Binding("f6", "ready('last_week')", "period_last_week", id="period_last_week"),
        Binding("f7", "ready('last_month')", "period_last_month", id="period_last_month"),
    ]

    def __init__(self, start: date, last: date) -> None:
        super().__init__()
        self.start = start
        self.last = last
        self.message: tuple[str, dict] = ("period_hint", {})  # catalog key and params

    @property
    def lang(self) -> str:
        return ui_lang(self)

    def compose(self) -> ComposeResult:
        with Vertical(id="period-box"):
            yield Static(id="period-title")
            yield Static(id="period-from-label")  # each field says which day it is
            yield Input(self.start.isoformat(), placeholder="2026-01-01", id="period-from")
            yield Static(id="period-to-label")
            yield Input(self.last.isoformat(), placeholder="2026-03-31", id="period-to")
            yield Static(id="period-message")
            yield Static(id="period-presets")

    def on_mount(self) -> None:
        follow_language(self, self.redraw)
        self.redraw()
        self.query_one("#period-from", Input).focus()

    def redraw(self) -> None:
        """The dialog's texts in the app's language (F2 switches it while open)."""
        self.query_one("#period-title", Static).update(t("period_title", self.lang))
        self.query_one("#period-presets", Static).update(t("period_presets", self.lang))
        for which in ("from", "to"):
            label = t(FIELD_LABELS[which], self.lang)
            self.query_one(f"#period-{which}-label", Static).update(label)
        self.query_one("#period-message", Static).update(
            t(self.message[0], self.lang, **self.message[1])
        )

    def say(self, key: str, **params: object) -> None:
        self.message = (key, params)
        self.redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "period-from":
            self.query_one("#period-to", Input).focus()
            return
        days = []
        for which in ("from", "to"):
            try:
                days.append(parse_day(self.query_one(f"#period-{which}", Input).value.strip()))
            except DayError as error:  # named by its field: which of the two to correct
                key = "period_bad_date_in" if error.code == "bad_date" else error.code
                field = t(FIELD_LABELS[which], self.lang)
                self.say(key, field=field, **error.params)
                self.query_one(f"#period-{which}", Input).focus()
                return
        first, last = days
        if first > last:
            self.say("bad_period", start=first, end=last)
            return
        self.dismiss((first, last + timedelta(days=1)))

    def action_ready(self, period: str) -> None:
        self.dismiss(period)

    def action_cancel(self) -> None:
        self.dismiss(None)
