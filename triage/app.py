"""The Textual application: holds the flow, the desk's place and language, and does the desk's
writing in thread workers so the screen never waits on the database."""

from __future__ import annotations

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message

from screens.messages import LogReady, VisitLogged, VisitVoided
from screens.desk import DeskScreen
from screens.keys import translate_bindings
from triage import paths
from triage.desklog import DeskLog
from triage.flow import Flow
from triage import present

REPLAY_SECONDS = 30


class TriageApp(App):
    CSS_PATH = str(paths.stylesheet())
    BINDINGS = [
        # Quit stays off the key bar (room is short at 80 columns); README and palette list it.
        Binding("ctrl+q", "quit", "key_quit", priority=True, show=False, id="key_quit"),
        Binding("f2", "toggle_language", "key_language", id="key_language"),
    ]

    def __init__(self, flow: Flow, site: str, desk: str = "skranke-1", lang: str = "da",
                 log: DeskLog | None = None) -> None:
        super().__init__()
        self.flow = flow
        self.site = site
        self.desk = desk
        self.lang = lang
        self.visit_log = log or DeskLog(None, site, desk)

    def on_mount(self) -> None:
        translate_bindings(self, self.lang)
        self.push_screen(DeskScreen(self.flow, self.site, self.desk))
        # The database is opened once the first question is on screen, not before.
        self.call_after_refresh(self.open_log)
        self.set_interval(REPLAY_SECONDS, self.replay_spool)

    def action_toggle_language(self) -> None:
        self.lang = "en" if self.lang == "da" else "da"
        translate_bindings(self, self.lang)
        translate_bindings(self.screen, self.lang)
        if isinstance(self.screen, DeskScreen):
            self.screen.show()

    def today(self):
        return present.local_now().date()

    # --- work off the UI thread; results come back as messages to the screen ----------------

    def _tell_screen(self, message: Message) -> None:
        # post_message is thread-safe; the desk screen handles these messages.
        for screen in self.screen_stack:
            if isinstance(screen, DeskScreen):
                screen.post_message(message)

    @work(thread=True, exclusive=True, group="log-open", exit_on_error=False)
    def open_log(self) -> None:
        from triage.store import StoreError

        try:
            available = self.visit_log.open()
        except StoreError as error:
            self._tell_screen(LogReady(False, None, error.code))
            return
        counts = self.visit_log.counts_today(self.today()) if available else None
        self._tell_screen(LogReady(available, counts))

    @work(thread=True, group="log-write", exit_on_error=False)
    def write_visit(self, visit: dict) -> None:
        from triage.store import StoreError

        try:
            status = self.visit_log.record(visit)
        except StoreError as error:
            self._tell_screen(VisitLogged(visit, "failed", None, error.params.get("reason", "")))
            return
        self._tell_screen(VisitLogged(visit, status, self.visit_log.counts_today(self.today())))

    @work(thread=True, group="log-write", exit_on_error=False)
    def void_last(self) -> None:
        status, visit = self.visit_log.undo_last()
        self._tell_screen(VisitVoided(visit, status, self.visit_log.counts_today(self.today())))

    @work(thread=True, exclusive=True, group="log-replay", exit_on_error=False)
    def replay_spool(self) -> None:
        if self.visit_log.replay():
            self._tell_screen(LogReady(True, self.visit_log.counts_today(self.today())))
