"""Errand search: type a few letters, pick with the arrow keys, Enter jumps the desk there."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from screens.keys import follow_language, ui_lang
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
        self.early: list[tuple[str, str | None]] = []  # keys typed before the field was there
        self.ready = False  # mounted: the field takes the keys
        self.chosen = False  # a hit was chosen (or the search left): later keys are the desk's
        self.after: list[tuple[str, str | None]] = []  # those keys, for the desk: (key, character)

    @property
    def lang(self) -> str:
        return ui_lang(self)

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
        self.ready = True
        for key, character in self.early:
            self.type_ahead(key, character)
        self.early = []

    def type_ahead(self, key: str, character: str | None) -> None:
        """A key typed before this dialog had the keyboard (the desk passes it on)."""
        if self.chosen:
            self.after.append((key, character))
        elif not self.ready:
            self.early.append((key, character))  # played once the field is there
        elif key == "escape":
            self.action_dismiss_search()
        elif key == "enter":
            self.choose(self.query_one("#search-hits", OptionList).highlighted or 0)
        elif key == "backspace" or (character is not None and character.isprintable()):
            field = self.query_one("#search-input", Input)
            if key == "backspace":
                field.action_delete_left()
            else:
                field.insert_text_at_cursor(character or "")
            self.show_hits(field.value)  # now, so that an Enter right after finds the hits

    def on_key(self, event: events.Key) -> None:
        # After the choice the field has no focus, so keys come here: they are the desk's.
        if self.chosen:
            self.after.append((event.key, event.character))
            event.stop()
            event.prevent_default()

    def choose(self, index: int | None) -> None:
        """Close with the hit at index (None: no hit); only once, whatever is typed after."""
        if self.chosen:
            return
        if index is not None and not 0 <= index < len(self.hits):
            return
        self.chosen = True
        self.set_focus(None)
        self.dismiss(None if index is None else self.hits[index])

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
        self.choose(self.query_one("#search-hits", OptionList).highlighted or 0)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.choose(event.option_index)

    def action_dismiss_search(self) -> None:
        self.choose(None)
