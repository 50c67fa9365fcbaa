"""Errand search: type a few letters, pick with the arrow keys, Enter jumps the desk there."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from screens.keys import follow_language
from triage.i18n import t
from triage.search import ErrandIndex, Hit


class SearchScreen(ModalScreen[Hit | None]):
    """Returns the chosen hit, or None when the receptionist leaves with Esc."""

    BINDINGS = [
        Binding("escape", "dismiss_search", "key_close", id="key_close"),
        # A modal dialog hides the app's keys: F2 is offered here too.
        Binding("f2", "app.toggle_language", "key_language", id="key_language"),
        Binding("down", "move(1)", show=False, priority=True),
        Binding("up", "move(-1)", show=False, priority=True),
    ]

    def __init__(self, index: ErrandIndex) -> None:
        super().__init__()
        self.index = index
        self.hits: list[Hit] = []

    @property
    def lang(self) -> str:
        return self.app.lang  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Static(id="search-title")
            yield Input(id="search-input")
            yield OptionList(id="search-hits")
            yield Static(id="search-hint")

    def on_mount(self) -> None:
        follow_language(self, self.redraw)
        self.redraw()
        self.query_one("#search-input", Input).focus()

    def redraw(self) -> None:
        """Every text of the dialog in the app's language (F2 switches it while open)."""
        self.query_one("#search-title", Static).update(t("search_title", self.lang))
        self.query_one("#search-input", Input).placeholder = t("search_placeholder", self.lang)
        self.query_one("#search-hint", Static).update(t("search_hint", self.lang))
        self.show_hits(self.query_one("#search-input", Input).value)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.show_hits(event.value)

    def show_hits(self, value: str) -> None:
        self.hits = self.index.search(value, self.lang)
        hits = self.query_one("#search-hits", OptionList)
        hits.clear_options()
        for hit in self.hits:
            kind = t(f"search_{hit.kind}", self.lang)
            hits.add_option(Option(Content.assemble((hit.title, "bold"), f"  {kind}")))
        if self.hits:
            hits.highlighted = 0
        elif value.strip():
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
