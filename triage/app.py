"""The Textual application: holds the flow, the desk's place and the language; screens do the rest."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from screens.desk import DeskScreen
from screens.keys import translate_bindings
from triage import paths
from triage.flow import Flow


class TriageApp(App):
    CSS_PATH = str(paths.stylesheet())
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("ctrl+q", "quit", "key_quit", priority=True, id="key_quit"),
        Binding("f2", "toggle_language", "key_language", id="key_language"),
    ]

    def __init__(self, flow: Flow, site: str, desk: str = "skranke-1", lang: str = "da") -> None:
        super().__init__()
        self.flow = flow
        self.site = site
        self.desk = desk
        self.lang = lang

    def on_mount(self) -> None:
        translate_bindings(self, self.lang)
        self.push_screen(DeskScreen(self.flow, self.site, self.desk))

    def action_toggle_language(self) -> None:
        self.lang = "en" if self.lang == "da" else "da"
        translate_bindings(self, self.lang)
        translate_bindings(self.screen, self.lang)
        if isinstance(self.screen, DeskScreen):
            self.screen.show()
