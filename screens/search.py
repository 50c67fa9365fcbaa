"""Errand search: type a few letters, pick with the arrow keys, Enter jumps the desk there."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from triage.i18n import t
from triage.search import ErrandIndex, Hit


class SearchScreen(ModalScreen[Hit | None]):
    """Returns the chosen hit, or None when the receptionist leaves with Esc."""

    BINDINGS = [
        Binding("escape", "dismiss_search", "key_close", id="key_close"),
        Binding("down", "move(1)", show=False, priority=True),
        Binding("up", "move(-1)", show=False, priority=True),
    ]

    def __init__(self, index: ErrandIndex, lang: str) -> None:
        super().__init__()
        self.index = index
        self.lang = lang
        self.hits: list[Hit] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Static(t("search_title", self.lang), id="search-title")
            yield Input(placeholder=t("search_placeholder", self.lang), id="search-input")
            yield OptionList(id="search-hits")
            yield Static(t("search_hint", self.lang), id="search-hint")

    def on_mount(self) -> None:
        self.query_one("#search-input", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.hits = self.index.search(event.value, self.lang)
        hits = self.query_one("#search-hits", OptionList)
        hits.clear_options()
        for hit in self.hits:
            kind = t(f"search_{hit.kind}", self.lang)
            hits.add_option(Option(Content.assemble((hit.title, "bold"), f"  {kind}")))
        if self.hits:
            hits.highlighted = 0
        elif event.value.strip():
            hits.add_option(Option(t("search_nothing", self.lang), disabled=True))

    def action_move(self, step: int) -> None:
        hits = self.query_one("#search-hits", OptionList)
        if self.hits:
            current = hits.highlighted or 0
            hits.highlighted = max(0, min(len(self.hits) - 1, current + step))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        highlighted = self.query_one("#search-hits", OptionList).highlighted
        if self.hits:
            self.dismiss(self.hits[highlighted or 0])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_index < len(self.hits):
            self.dismiss(self.hits[event.option_index])

    def action_dismiss_search(self) -> None:
        self.dismiss(None)
