"""The Textual application: holds the flow, the desk's place and language, and does the desk's
writing in thread workers so the screen never waits on the database."""

from __future__ import annotations

import errno
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.message import Message
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES, Theme, ThemeProvider
from textual.worker import Worker, WorkerState

from screens.commands import DeskCommands
from screens.desk import DeskScreen
from screens.frames import FirstFrameOnce
from screens.keys import MultilingualApp, translate_bindings
from screens.messages import (
    LogReady,
    OverviewRequested,
    QueueSeen,
    TicketCalled,
    TicketRequested,
    UndoRequested,
    VisitConfirmed,
    VisitLogged,
    VisitVoided,
    failure_text,
)
from triage import paths, present
from triage.desklog import DeskLog
from triage.flow import Flow
from triage.i18n import t

if TYPE_CHECKING:  # the queue's code loads in workers, after the first question
    from textual import events

    from screens.board import BoardScreen
    from triage.db.store import Store
    from triage.queue import BoardView, Served, Tickets
    from triage.queue_data import Queue
    from triage.sites import Sites

REPLAY_SECONDS = 30
OPEN_LOG_AFTER = 0.5  # seconds after start-up
QUEUE_SECONDS = 3.0  # how often the desk reads the queue at its site again


# Textual ships no high-contrast theme: black, white and one strong accent, for desks by a window.
HIGH_CONTRAST = Theme(
    name="triage-hoj-kontrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FFFF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    success="#00FF00",
    warning="#FFA500",
    error="#FF4040",
    dark=True,
)


def theme_names() -> list[str]:
    return sorted([*BUILTIN_THEMES, HIGH_CONTRAST.name])


class NoTerminal(Exception):
    """The app was started without a terminal to draw on and read keys from."""


def has_terminal() -> bool:
    if paths.served_to_browser():
        return True  # served to a browser (triage serve): the pipes are the browser's screen
    return (
        sys.stdin is not None
        and sys.stdout is not None
        and sys.stdin.isatty()
        and sys.stdout.isatty()
    )


class TerminalApp(FirstFrameOnce, MultilingualApp):
    """What the desk, the board and the kiosk share: one stylesheet, a refusal to run without a
    terminal, no traceback on the screen, F2 between Danish and English, and a first screen
    written once (screens.frames)."""

    CSS_PATH = str(paths.stylesheet())

    async def run_async(self, *, headless: bool = False, **kwargs) -> object:
        # Without a terminal Textual's driver reads an endless end-of-file and keeps a core
        # busy; refuse instead (the CLI says so). Tests and benchmarks run it headless.
        if not headless and not has_terminal():
            raise NoTerminal()
        return await super().run_async(headless=headless, **kwargs)

    def _fatal_error(self) -> None:
        # Textual would print a traceback on the terminal when the app stops after an
        # unexpected error. Nobody at a desk, a kiosk or a board sees one: the app just stops
        # here, and the command writes the report to a file and says where it is (exit 70).
        self.bell()
        self._close_messages_no_wait()

    def action_toggle_language(self) -> None:
        self.lang = "en" if self.lang == "da" else "da"


class TriageApp(TerminalApp):
    COMMANDS = App.COMMANDS | {DeskCommands}
    BINDINGS = [
        # The app's keys sit on the key bar's second line, on every screen (see screens.keys).
        Binding("ctrl+p", "command_palette", "key_palette", id="key_palette"),
        Binding("f2", "toggle_language", "key_language", id="key_language"),
        Binding("ctrl+q", "quit", "key_quit", priority=True, id="key_quit"),
    ]
    # `lang` (from MultilingualApp) is the one source of truth for the UI language: every
    # screen reads it through screens.keys.ui_lang and watches it to redraw.

    def __init__(
        self,
        flow: Flow,
        site: str,
        desk: str = "skranke-1",
        lang: str = "da",
        log: DeskLog | None = None,
        theme: str | None = None,
        open_log_after: float = OPEN_LOG_AFTER,
        start: str = "desk",
        channel: str = "in_person",
        training: bool = False,
        data_dir: Path | None = None,
        queue_every: float = QUEUE_SECONDS,
        overview: dict | None = None,
        settings_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings_file = settings_file  # the triage.toml read, if any: the desk names it
        # The queue (queues.toml in data_dir; None: no queue at this desk), read in a worker.
        self.data_dir = data_dir
        self.queue_every = queue_every
        self.queue_letters: tuple[str, ...] | None = None  # the site's queues, once read
        self._tickets: Tickets | None = None
        self._tickets_made = threading.Lock()
        self._served: dict[int, Served] = {}  # tickets finished whose visit is not kept yet
        # Tickets served here while the database was down, with the moment: the line's reader
        # closes them when it can, so none stays "called" all day.
        self._unfinished: dict[int, datetime] = {}
        self._resumed = False  # the ticket called here before a restart has been looked for
        # The last visit's served ticket (visit id, ticket id), in memory only (the database
        # never links them): Ctrl+Z on that visit calls the ticket here again.
        self._last_served: tuple[str, int] | None = None
        self.default_channel = channel  # "phone" for a phone desk; each citizen starts here
        self.training = training  # a practice database of its own: the desk says so
        self.start = start  # "desk", or "overview" for `triage summary --tui`
        self.overview_start = overview or {}  # its period and filters (SupervisorScreen's)
        self.open_log_after = open_log_after
        self.register_theme(HIGH_CONTRAST)
        if theme:
            self.theme = theme
        self.flow = flow
        self.site = site
        self.desk = desk
        self.lang = lang
        self.visit_log = log or DeskLog(None, site, desk)
        self.desk_taken = False  # this desk is open somewhere else too: F6 does not call here

    def get_default_screen(self) -> Screen:
        # The desk is the app's first screen itself, not pushed over an empty default one:
        # the first question is painted a frame or two sooner.
        if self.start == "overview":
            return super().get_default_screen()
        return DeskScreen(
            self.flow,
            self.site,
            self.desk,
            self.default_channel,
            training=self.training,
            settings_file=self.settings_file,
        )

    def on_mount(self) -> None:
        translate_bindings(self, self.lang)
        if self.start == "overview":
            self.show_overview(can_leave=False, **self.overview_start)
            return
        # The database (and the ORM) load just after the first question is on screen, not
        # before, and not while the receptionist's first keys are being handled.
        if self.open_log_after > 0:
            self.set_timer(self.open_log_after, self.open_log)
        else:
            self.call_after_refresh(self.open_log)
        self.set_interval(REPLAY_SECONDS, self.replay_spool)

    # --- what the desk asks for ---------------------------------------------------------------

    def on_visit_confirmed(self, message: VisitConfirmed) -> None:
        if message.ticket_id is not None:
            self.serve_visit(message.visit, message.ticket_id)
        else:
            self.write_visit(message.visit)

    def on_undo_requested(self, message: UndoRequested) -> None:
        self.void_last()

    def on_overview_requested(self, message: OverviewRequested) -> None:
        self.show_overview()

    # A file given to the browser (the served overview's export) was fetched, or could not be:
    # the dialog that sent it says so.
    def on_delivery_complete(self, event: events.DeliveryComplete) -> None:
        self.tell_delivered(event.key, failed=False)

    def on_delivery_failed(self, event: events.DeliveryFailed) -> None:
        self.tell_delivered(event.key, failed=True)

    def tell_delivered(self, key: str, failed: bool) -> None:
        for screen in self.screen_stack:
            delivered = getattr(screen, "delivered", None)
            if delivered is not None:
                delivered(key, failed)

    def show_overview(self, can_leave: bool = True, **start) -> None:
        from screens.supervisor import SupervisorScreen  # not on the desk's start path

        self.push_screen(
            SupervisorScreen(self.overview_store, self.flow.sites, can_leave=can_leave, **start)
        )

    def overview_store(self):
        """The desk's store, opened; called from the overview's worker thread. A refused login
        is said as such: no retry can help it."""
        from triage.db.errors import DbError, db_cause

        store = self.visit_log.store
        if not store.opened:
            try:
                store.open()
            except Exception as error:
                if db_cause(error) == "login":
                    user = store.engine.url.username or ""
                    raise DbError("sup_failed_login", user=user) from error
                raise
        return store

    def watch_lang(self, lang: str) -> None:
        translate_bindings(self, lang)  # screens watch lang themselves (see screens.keys)

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(
                CommandPalette(
                    placeholder=t("palette_placeholder", self.lang), id="--command-palette"
                )
            )

    def search_themes(self) -> None:
        self.push_screen(
            CommandPalette(providers=[ThemeProvider], placeholder=t("palette_themes", self.lang))
        )

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own palette entries, in the UI language."""
        lang = self.lang
        yield SystemCommand(
            t("sys_theme", lang), t("sys_theme_help", lang), self.action_change_theme
        )
        yield SystemCommand(t("key_quit", lang), t("sys_quit_help", lang), self.action_quit)
        # No "Keys" entry: Textual's key panel is English only and lists its own widgets' keys;
        # the key bar at the bottom shows the keys that work, in the UI language.
        if screen.maximized is not None:
            yield SystemCommand(
                t("sys_minimize", lang), t("sys_minimize_help", lang), screen.action_minimize
            )
        elif screen.focused is not None and screen.focused.allow_maximize:
            yield SystemCommand(
                t("sys_maximize", lang), t("sys_maximize_help", lang), screen.action_maximize
            )
        yield SystemCommand(
            t("sys_screenshot", lang),
            t("sys_screenshot_help", lang),
            lambda: self.set_timer(0.1, self.deliver_screenshot),
        )

    def today(self):
        return present.local_now().date()

    # --- work off the UI thread; results come back as messages to the screen ----------------

    def _tell_screen(self, message: Message) -> None:
        # post_message is thread-safe; the desk screen handles these messages.
        for screen in self.screen_stack:
            if isinstance(screen, DeskScreen):
                screen.post_message(message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A log worker that raised (a fault nobody foresaw) says so at the desk, in the UI
        language, rather than leaving it silent or saving for ever. The overview's own workers
        are its business (screens.supervisor)."""
        worker = event.worker
        if worker.node is not self:
            return
        if worker.name == "open_log" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self.watch_queue()  # after the log: the queue reads through the same store
        if event.state != WorkerState.ERROR:
            return
        reason = plain_reason(worker.error, self.lang)
        if worker.name in ("write_visit", "serve_visit"):  # the desk stays on the card
            self._tell_screen(VisitLogged({}, "failed", None, reason))
        elif worker.name == "void_last":  # the visit still counts; Ctrl+Z may try again
            self._tell_screen(VisitVoided(None, "failed", None, reason))
        elif worker.name == "open_log":  # visits go to the spool when the database fails
            self._tell_screen(LogReady(False, None, reason=reason))
        elif worker.name == "replay_spool":  # what waits stays in the spool for the next try
            self.notify(t("desk_replay_failed", self.lang, reason=reason), severity="error")
        elif worker.name == "ask_ticket":
            self._tell_screen(TicketCalled("failed", reason=reason))
        elif worker.name == "read_queue":  # tried again at the next turn
            self._tell_screen(QueueSeen([], reason=reason))

    @work(thread=True, exclusive=True, group="log-open", name="open_log", exit_on_error=False)
    def open_log(self) -> None:
        from triage.db.errors import DbError

        desk_taken = not self.visit_log.claim_desk()
        self.desk_taken = desk_taken
        try:
            available = self.visit_log.open()
        except DbError as error:  # e.g. a newer schema: visits wait in the spool
            self._tell_screen(LogReady(False, None, error.code, params=error.params))
            return
        refusal = self._login_refusal() if available or self.visit_log.cause == "login" else None
        if refusal is not None:  # every visit would wait in the spool: say what to fix, now
            counts = self.visit_log.counts_today(self.today()) if available else None
            key, params = refusal
            demo = self.visit_log.demo
            self._tell_screen(
                LogReady(available, counts, key, demo=demo, params=params, desk_taken=desk_taken)
            )
            return
        counts = self.visit_log.counts_today(self.today()) if available else None
        # A fresh install logs real visits from the first key: say how to practise instead.
        first_start = available and not self.visit_log.demo and self.visit_log.holds_nothing()
        self._tell_screen(
            LogReady(
                available,
                counts,
                reason=self._log_problem(),
                demo=self.visit_log.demo,
                first_start=first_start,
                practice=not paths.served_to_browser(),
                desk_taken=desk_taken,
                **self._set_aside_notice(),
            )
        )

    def _login_refusal(self) -> tuple[str, dict] | None:
        """Why the database will take no visit of this desk, whatever is tried again: it refuses
        the login, or the login may not register for this desk (a message key and params)."""
        if self.visit_log.cause == "login":
            return "desk_db_login_refused", {"user": self.visit_log.store.engine.url.username}
        from triage.db.access import write_refusal

        return write_refusal(self.visit_log.store, self.site, self.desk)

    def _log_problem(self) -> str:
        """Why the database cannot be used, in the UI language where the cause is known."""
        cause = self.visit_log.cause
        return t(f"why_db_{cause}", self.lang) if cause else self.visit_log.problem

    def _set_aside_notice(self) -> dict:
        """A notice for entries the latest replay set aside (they can never be stored)."""
        set_aside = self.visit_log.replayed.set_aside
        if not set_aside:
            return {}
        return {
            "error": "spool_desk_set_aside",
            "params": {"count": len(set_aside), "path": self.visit_log.spool.quarantine},
        }

    @work(thread=True, group="log-write", name="write_visit", exit_on_error=False)
    def write_visit(self, visit: dict) -> None:
        self._record_visit(visit)

    def _record_visit(self, visit: dict, **ticket: Any) -> str:
        """Write the visit (or spool it) and tell the desk; `ticket`: what became of the
        ticket called for it (VisitLogged's ticket fields)."""
        from triage.db.errors import DbError

        try:
            status = self.visit_log.record(visit)
        except DbError as error:
            reason = error.params.get("reason", "")
            self._tell_screen(VisitLogged(visit, "failed", None, reason, **ticket))
            return "failed"
        counts = self.visit_log.counts_today(self.today())
        self._tell_screen(VisitLogged(visit, status, counts, reason=self._log_problem(), **ticket))
        if status == "spooled" and self.visit_log.cause in ("denied", "login"):
            refusal = self._login_refusal()  # what the desk's login may not do, and the fix
            if refusal is not None:
                key, params = refusal
                demo = self.visit_log.demo
                self._tell_screen(LogReady(False, counts, key, demo=demo, params=params))
        return status

    @work(thread=True, group="log-write", name="void_last", exit_on_error=False)
    def void_last(self) -> None:
        from triage.db.errors import DbError

        try:
            status, visit = self.visit_log.undo_last()
        except DbError as error:  # the visit still counts; the desk may try again
            self._tell_screen(VisitVoided(None, "failed", None, error.params.get("reason", "")))
            return
        ticket = self._reopen_ticket_of(visit) if visit is not None else None
        counts = self.visit_log.counts_today(self.today())
        self._tell_screen(VisitVoided(visit, status, counts, ticket=ticket))

    def _reopen_ticket_of(self, visit: dict) -> TicketCalled | None:
        """The voided visit was a called citizen's: their ticket is called here again, so the
        visit registered anew has the wait and service. None when it was a walk-in, or the
        ticket cannot be reopened now (the database is down: it stays served)."""
        last, self._last_served = self._last_served, None
        if last is None or last[0] != visit["visit_id"]:
            return None
        try:
            ticket = self._queue_tickets().reopen(last[1], self.desk)
        except Exception:  # noqa: BLE001 - the undo itself is done; the desk says what is left
            return TicketCalled("failed", last[1])
        return TicketCalled("called", ticket.id, ticket.label, ticket.recalls)

    @work(thread=True, exclusive=True, group="log-replay", name="replay_spool", exit_on_error=False)
    def replay_spool(self) -> None:
        replayed = self.visit_log.replay()
        if replayed.sent or replayed.set_aside:
            counts = self.visit_log.counts_today(self.today())
            self._tell_screen(
                LogReady(True, counts, demo=self.visit_log.demo, **self._set_aside_notice())
            )

    # --- the queue at the desk's site: read every few seconds, call, recall, no-show -------

    def watch_queue(self) -> None:
        """Start reading the queue (once the log has opened: after the first question)."""
        if self.data_dir is None:
            return
        self.read_queue()
        self.set_interval(self.queue_every, self.read_queue)

    def _site_queue_letters(self) -> tuple[str, ...] | None:
        """The site's queues in queues.toml (none: the desk shows no queue); None when the
        file has errors. Read once, in a worker."""
        if self.queue_letters is None:
            from triage.model import Report
            from triage.queue_data import read_queues

            assert self.data_dir is not None  # watch_queue starts only with a data folder
            report = Report()
            queues = read_queues(self.data_dir, self.flow, report)
            if report.errors:
                return None
            self.queue_letters = tuple(queue.letter for queue in queues.at(self.site))
        return self.queue_letters

    def _queue_tickets(self) -> Tickets:
        """The queue on the desk's store, opened (again, after the database was down)."""
        from triage.queue import Tickets

        store = self.visit_log.store
        if not store.opened:
            store.open()
        with self._tickets_made:  # the line's reader and a call may both come first
            if self._tickets is None:
                self._tickets = Tickets(store)
            return self._tickets

    @work(thread=True, exclusive=True, group="queue-read", name="read_queue", exit_on_error=False)
    def read_queue(self) -> None:
        from triage.queue import Waiting
        from triage.spool import one_line

        try:
            letters = self._site_queue_letters()
        except Exception as error:  # noqa: BLE001 - the desk works on without a queue line
            self._tell_screen(QueueSeen([], reason=one_line(error)))
            return
        if letters is None:
            self._tell_screen(QueueSeen([], reason=t("desk_queue_file_bad", self.lang)))
            return
        if not letters:
            return  # the site has no queue: nothing to show
        try:
            self._close_unfinished()
            if not self._resumed:  # once: the citizen this desk had called before it stopped
                called = self._queue_tickets().called_to(self.site, self.desk)
                self._resumed = True
                if called is not None:
                    self._tell_screen(
                        TicketCalled("resumed", called.id, called.label, called.recalls)
                    )
            status = self._queue_tickets().status([self.site]).get(self.site)
        except Exception as error:  # noqa: BLE001 - the database is down: say so, try again
            self._tell_screen(QueueSeen([], reason=plain_reason(error, self.lang)))
            return
        found = status.queues if status is not None else {}
        shown = [*letters, *sorted(set(found) - set(letters))]  # a queue taken out of the file
        nobody = Waiting(0, 0)
        self._tell_screen(
            QueueSeen(
                [(q, found.get(q, nobody).waiting, found.get(q, nobody).longest_s) for q in shown]
            )
        )

    def on_unmount(self) -> None:
        self.visit_log.release_desk()  # another window of this desk may start now

    def _close_unfinished(self) -> None:
        """Close the tickets served here while the database was down, as of the moment each
        was served (so its service time is right); one that is no longer this desk's is let
        go. Raises while the database is still down: the next read tries again."""
        from triage.queue import QueueError

        for ticket_id, moment in list(self._unfinished.items()):
            with suppress(QueueError):
                self._queue_tickets().finish(ticket_id, self.desk, now=moment)
            self._unfinished.pop(ticket_id, None)

    def on_ticket_requested(self, message: TicketRequested) -> None:
        self.ask_ticket(message.action, message.ticket_id)

    @work(thread=True, group="queue-call", name="ask_ticket", exit_on_error=False)
    def ask_ticket(self, action: str, ticket_id: int | None) -> None:
        """Call the next ticket to this desk, call it again, or mark that the citizen did not
        come; the desk's line is read again at once."""
        from triage.queue import QueueError

        if action == "call_next" and self.desk_taken:
            # Two pages as one desk would both call citizens to it: the first one open calls.
            self.desk_taken = not self.visit_log.claim_desk()
            if self.desk_taken:
                params = {"desk": self.desk}
                said = TicketCalled("failed", error="desk_open_elsewhere_no_call", params=params)
                self._tell_screen(said)
                return
        try:
            tickets = self._queue_tickets()
            if action == "call_next":
                ticket = tickets.call_next(self.site, self.desk)
            elif ticket_id is None:
                raise QueueError("ticket_unknown")
            elif action == "recall":
                ticket = tickets.recall(ticket_id, self.desk)
            else:
                ticket = tickets.no_show(ticket_id, self.desk)
        except QueueError as error:
            said = TicketCalled("failed", ticket_id, error=error.code, params=error.params)
        except Exception as error:  # noqa: BLE001 - the database is down: the desk says so
            said = TicketCalled("failed", ticket_id, reason=plain_reason(error, self.lang))
        else:
            done = {"call_next": "called", "recall": "recalled", "no_show": "no_show"}[action]
            said = (
                TicketCalled("empty")
                if ticket is None
                else TicketCalled(done, ticket.id, ticket.label, ticket.recalls)
            )
        self._tell_screen(said)
        self.call_from_thread(self._read_queue_now)

    def _read_queue_now(self) -> None:
        self.read_queue()

    @work(thread=True, group="log-write", name="serve_visit", exit_on_error=False)
    def serve_visit(self, visit: dict, ticket_id: int) -> None:
        """The called citizen's visit: first the ticket is served, and its wait and service
        go on the visit; then the visit is written. A ticket that cannot be finished (the
        database is down) does not stop the visit: it is kept (spooled) without the times."""
        from triage.queue import QueueError

        reason = ""
        served: Served | None
        moment = datetime.now(UTC)
        try:
            served = self._queue_tickets().finish(ticket_id, self.desk, now=moment)
            self._served[ticket_id] = served
            self._unfinished.pop(ticket_id, None)
        except Exception as error:  # noqa: BLE001 - the visit is written all the same
            served = self._served.get(ticket_id)  # finished before, the write failed: again
            if served is None:
                reason = plain_reason(error, self.lang)
                if not isinstance(error, QueueError):  # the database is down, not the ticket
                    self._unfinished[ticket_id] = moment
        if served is not None:
            visit = served.on(visit)
        status = self._record_visit(visit, ticket_served=served is not None, ticket_reason=reason)
        if status != "failed":
            self._served.pop(ticket_id, None)
            if served is not None:
                self._last_served = (visit["visit_id"], ticket_id)


# --- board15: the waiting-room board (`triage board`) -------------------------------------------

BOARD_POLL_SECONDS = 0.4  # a call is on the board well within a second of its commit
BOARD_CALLS = 5  # the last numbers called that the board shows


class BoardApp(TerminalApp):
    """The waiting-room board of one site. A worker reads the queue every BOARD_POLL_SECONDS
    (one indexed read of today's tickets at the site) and tells the screen when something
    changed; a database that does not answer is said on the board and tried again at the
    next poll, never a traceback."""

    BINDINGS = [
        Binding("f2", "toggle_language", "key_language", id="key_language", show=False),
        Binding("ctrl+q", "quit", "key_quit", priority=True, id="key_quit", show=False),
    ]

    def __init__(
        self,
        store: Store,
        sites: Sites,
        site: str,
        queues: Sequence[Queue],
        lang: str = "da",
        poll_seconds: float = BOARD_POLL_SECONDS,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.site = site
        self.lang = lang
        self.poll_seconds = poll_seconds
        self.now = now or present.local_now
        from screens.board import BoardScreen  # not on the desk's start path

        self.board: BoardScreen = BoardScreen(sites, site, queues)
        self._tickets: Tickets | None = None
        self._polling = False  # a read is under way: the next tick does not start another
        self._shown: BoardView | None = None  # what the screen was last told
        self._down: tuple[str, date] | None = None  # what the screen was last told of a failure

    def get_default_screen(self) -> Screen:
        return self.board

    def on_mount(self) -> None:
        translate_bindings(self, self.lang)
        self.poll()
        self.set_interval(self.poll_seconds, self.poll)

    def poll(self) -> None:
        if not self._polling:
            self._polling = True
            self.read_board()

    @work(thread=True, group="board", name="read_board", exit_on_error=False)
    def read_board(self) -> None:
        try:
            self._read_board()
        finally:
            self._polling = False

    def _read_board(self) -> None:
        from screens.board import BoardDown, BoardUpdated
        from triage.queue import Tickets, board_view

        now = self.now()
        try:
            database = self.store.engine.url.database
            if self.store.dialect == "sqlite" and database and not Path(database).exists():
                # SQLite would make a new, empty file: the board only reads.
                raise FileNotFoundError(errno.ENOENT, t("board_db_missing", self.lang), database)
            if not self.store.opened:
                self.store.open()
            if self._tickets is None:
                self._tickets = Tickets(self.store)
            view = board_view(self._tickets, self.site, BOARD_CALLS, now)
        except Exception as error:  # noqa: BLE001 - whatever it is, the board says so and retries
            # Pooled connections may hold a file that was replaced: the next try opens anew.
            self.store.engine.dispose()
            reason = board_failure(error, self.lang, self.store.describe())
            down = (reason, now.date())  # a new day drops the numbers
            if down != self._down or self._shown is not None:
                self._down, self._shown = down, None
                self.board.post_message(BoardDown(*down))
            return
        if view != self._shown or self._down:
            self._shown, self._down = view, None
            self.board.post_message(BoardUpdated(view))


def board_failure(error: BaseException, lang: str, db: str) -> str:
    """Why the board could not read the queue, in one line of the UI language (a store's
    refusal, e.g. a newer schema, in its own sentence). The board faces the waiting room: never
    the driver's English, a server's address or a user name; an unknown cause is said plainly."""
    from triage.db.errors import DbError, db_cause

    if isinstance(error, FileNotFoundError) and error.strerror:
        return error.strerror
    if isinstance(error, DbError) and error.code == "db_newer":  # the desk's text speaks of visits
        error = DbError("db_newer_command", **{"db": db, **error.params})
    if isinstance(error, DbError) or db_cause(error) is not None:
        return plain_reason(error, lang)
    return t("board_db_other", lang)


def plain_reason(error: BaseException | None, lang: str) -> str:
    """Why the database failed, in the UI language where the cause is known ("et andet program
    har låst databasen"), never SQLite's English; else failure_text."""
    from triage.db.errors import db_cause

    cause = db_cause(error) if error is not None else None
    return t(f"why_db_{cause}", lang) if cause else failure_text(error, lang)


# --- the kiosk: citizens check in themselves (`triage kiosk`) --------------------------------


class KioskApp(TerminalApp):
    """The citizens' own check-in screen: one KioskScreen, and the writing it asks for (a
    ticket, a referral) in thread workers, so a touch never waits on the database."""

    BINDINGS = [Binding("ctrl+q", "quit", "key_quit", priority=True, id="key_quit")]

    def __init__(
        self,
        flow: Flow,
        site: str,
        queues,  # triage.queue_data.Queues
        log: DeskLog,
        lang: str = "da",
        idle_seconds: float | None = None,
    ) -> None:
        super().__init__()
        self.flow = flow
        self.site = site
        self.queues = queues
        self.visit_log = log  # the kiosk's referrals, and the store its tickets go in
        self.start_lang = lang
        self.lang = lang
        self.idle_seconds = idle_seconds
        self._tickets: Tickets | None = None  # made on first use
        self.log_open = False  # the database answered (else referrals go to the spool)

    def get_default_screen(self) -> Screen:
        from screens.kiosk import IDLE_SECONDS, KioskScreen  # not on the desk's start path

        idle = self.idle_seconds if self.idle_seconds is not None else IDLE_SECONDS
        return KioskScreen(self.flow, self.site, self.queues, idle, start_lang=self.start_lang)

    def on_mount(self) -> None:
        # As the desk: the database (and the ORM) load just after the first question is shown.
        self.set_timer(OPEN_LOG_AFTER, self.open_log)
        self.set_interval(REPLAY_SECONDS, self.replay_spool)

    def on_ticket_requested(self, message) -> None:  # screens.kiosk.TicketRequested
        self.issue_ticket(message.citizen, message.queue, message.errand)

    def on_referral_confirmed(self, message) -> None:  # screens.kiosk.ReferralConfirmed
        self.write_referral(message.visit)

    def _tell_screen(self, message: Message) -> None:
        self.screen.post_message(message)  # thread-safe

    @work(thread=True, exclusive=True, group="log-open", name="open_log", exit_on_error=False)
    def open_log(self) -> None:
        self._open_log()

    def _open_log(self) -> None:
        """Open the database once it answers. A newer schema (DbError): tickets fail (the
        citizen goes to the desk) and referrals wait in the spool, as when it does not answer."""
        from triage.db.errors import DbError

        with suppress(DbError):
            self.log_open = self.visit_log.open()

    def _ticket_store(self) -> Tickets:
        """The Tickets of the kiosk's database, opening it first if start-up could not."""
        if self._tickets is None:
            from triage.queue import Tickets

            store = self.visit_log.store
            if not store.opened:
                store.open()
            self._tickets = Tickets(store)
        return self._tickets

    @work(thread=True, group="kiosk-ticket", name="issue_ticket", exit_on_error=False)
    def issue_ticket(self, citizen: int, queue: str, errand: str) -> None:
        from screens.kiosk import TicketIssued

        try:
            issued = self._ticket_store().issue(self.site, queue, errand)
        except Exception:  # noqa: BLE001 - any failure: the citizen is told to go to the desk
            self._tickets = None  # try the database afresh for the next citizen
            self._tell_screen(TicketIssued(citizen, None))
            return
        self._tell_screen(TicketIssued(citizen, issued.label, issued.ahead))

    @work(thread=True, group="log-write", name="write_referral", exit_on_error=False)
    def write_referral(self, visit: dict) -> None:
        from triage.db.errors import DbError

        if not self.log_open:  # a citizen quicker than start-up: open it first (or spool)
            self._open_log()
        # DbError: neither database nor spool took it; the citizen still has the way on screen.
        with suppress(DbError):
            self.visit_log.record(visit)  # the spool keeps it while the database fails

    @work(thread=True, exclusive=True, group="log-replay", name="replay_spool", exit_on_error=False)
    def replay_spool(self) -> None:
        self.visit_log.replay()


# --- a served page whose command could not start (`triage serve`) ------------------------------


class ServedFailureApp(TerminalApp):
    """In a served page, what the command said when it could not start (an unknown site, a
    database that does not exist yet, …): without it the page would wait on its splash for
    good, and only the server's terminal would say why."""

    BINDINGS = [Binding("ctrl+q", "quit", "key_quit", priority=True, id="key_quit")]

    def __init__(self, said: str, lang: str = "da") -> None:
        super().__init__()
        self.said = said.strip()
        self.lang = lang

    def compose(self):
        from textual.widgets import Static

        lang = self.lang
        text = "\n\n".join([t("served_failed", lang), self.said, t("served_failed_hint", lang)])
        said = Static(text, id="served-failure", markup=False)
        # Set here, not in triage.tcss: a rule there, for this screen alone, measurably slowed
        # every kiosk's start (about 17 ms of CPU, in benchmarks/startup.py).
        said.styles.padding = (1, 2)
        yield said
