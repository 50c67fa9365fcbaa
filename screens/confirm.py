"""A yes-or-no question before something that cannot be undone (quit the overview, replace a
file): Enter does it, Esc leaves things as they are. Returns True or False."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from screens.keys import follow_language, ui_lang
from triage.i18n import t


class ConfirmScreen(ModalScreen[bool]):
    # A modal dialog hides the app's keys: F2 is offered here too.
    BINDINGS = [
        Binding("enter", "answer(True)", show=False),
        Binding("escape", "answer(False)", show=False),
        Binding("f2", "app.toggle_language", show=False),
    ]

    def __init__(self, question: str, yes: str, **params: object) -> None:
        super().__init__()
        self.question = question  # catalog keys: the question, and what Enter does
        self.yes = yes
        self.params = params

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(id="confirm-question")
            yield Static(id="confirm-keys")

    def on_mount(self) -> None:
        follow_language(self, self.redraw)
        self.redraw()

    def redraw(self) -> None:
        lang = ui_lang(self)
        self.query_one("#confirm-question", Static).update(t(self.question, lang, **self.params))
        self.query_one("#confirm-keys", Static).update(
            t("confirm_keys", lang, yes=t(self.yes, lang))
        )

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
