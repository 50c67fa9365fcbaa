"""The desk: one question at a time, numbered keys, a postcode when needed, then the outcome card.

The screen only shows and forwards keys; walking the flow and describing the outcome happen in
the core (triage.walk, triage.present).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from screens.keys import follow_language, key_bar, ui_lang
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
)
from triage import present
from triage.desklog import UNDO_MINUTES
from triage.flow import Flow
from triage.i18n import t
from triage.present import Card, card_for, help_line, stop_label, stop_lines
from triage.visits import visit_from_result
from triage.walk import AnswerError, Walk

if TYPE_CHECKING:  # the search loads when `/` is first pressed: not on the start path
    from pathlib import Path

    from screens.search import SearchScreen
    from triage.search import ErrandIndex, Hit

# The database will take no visit from this desk until someone puts its login right.
DB_WARNINGS = frozenset({"desk_db_login_refused", "desk_login_read_only", "desk_login_no_desk"})
# Notices that are a refusal, not a done thing: in the warning colour.
WARNING_NOTICES = frozenset({"desk_open_elsewhere_no_call"})


class DeskScreen(Screen):
    """Where the receptionist spends the day."""

    BINDINGS = [
        *(Binding(str(n), f"choose({n})", str(n), show=False, id=f"choose-{n}") for n in range(10)),
        Binding("escape", "back", "key_back", id="key_back"),
        Binding("backspace", "back", "key_back", show=False, id="key_back_alt"),
        Binding("enter", "confirm", "key_confirm", id="key_confirm"),
        Binding("minus", "decline_postcode", "key_decline", id="key_decline"),
        Binding("ctrl+n", "restart", "key_restart", id="key_restart"),
        Binding("f3", "toggle_channel", "key_channel", id="key_channel"),
        Binding("ctrl+z", "undo", "key_undo", id="key_undo"),
        Binding("slash", "search", "key_search", key_display="/", id="key_search"),
        # Shown only while the card runs below the screen (two stops at 80x24).
        Binding("pagedown", "more", "key_more", key_display="PgDn", id="key_more"),
        Binding("pageup", "less", "key_more", show=False, id="key_less"),
        Binding("f5", "overview", "key_overview", id="key_overview"),
        # The queue, where the site has one (not F10/F11: terminals keep those for themselves).
        Binding("f6", "call_next", "key_call_next", id="key_call_next"),
        Binding("f7", "recall", "key_recall", id="key_recall"),
        Binding("f8", "no_show", "key_no_show", id="key_no_show"),
    ]
    # Keys typed while a visit is being saved wait and are applied in order once it is saved.
    HELD_KEYS = frozenset(b.key for b in BINDINGS if isinstance(b, Binding))

    def __init__(
        self,
        flow: Flow,
        site: str,
        desk: str,
        channel: str = "in_person",
        training: bool = False,
        settings_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings_file = settings_file  # named until the first citizen's first key
        self.flow = flow
        self.site = site
        self.desk = desk
        self.walk = Walk.start(flow)
        self.typed = ""  # postcode digits typed so far
        self.pending: Hit | None = None  # the errand a search found, kept while the desk asks
        self.index: ErrandIndex | None = None  # built when the search is first used
        self.default_channel = channel  # each citizen starts here; F3 changes it for one citizen
        self.channel = channel
        self.training = training  # a practice database: the desk says so
        self.started: float | None = None  # monotonic time of this citizen's first key
        self.saving = False  # a confirmed visit is being written
        self.counts: tuple[int, int] | None = None
        self.demo = False  # the log is a demo database
        # The last thing logged, shown until the next citizen's first key: catalog keys and
        # their params, so the line follows the language (see notice_text).
        self.notice: list[tuple[str, dict]] = []
        # What stays said, in the warning colour, until it is put right: "db" (the database
        # will take no visit from this desk: why, and who fixes what), "desk" (open elsewhere).
        self.warnings: dict[str, tuple[str, dict]] = {}
        self.message: tuple[str, dict] | str = ""  # what is wrong with the last answer
        self.held: list[tuple[str, str | None]] = []  # keys typed while saving: (key, character)
        # The search dialog while it opens and closes: keys typed in a burst right after `/`
        # still reach this screen and belong in the search, not in the question behind it.
        self.searching: SearchScreen | None = None
        self.more_offered = False  # the key bar offers PgDn (the card runs below the screen)
        # F5 asked the app for the overview, which it has not pushed yet: keys held meanwhile
        # go to the app after that request, so they reach the overview, as typed.
        self.overview_asked = False
        # The queue at the site (from the app's worker): (letter, waiting, longest wait in
        # seconds) per queue; None while unknown or the site has none (no line shown).
        self.queues: list[tuple[str, int, int]] | None = None
        self.queue_problem = ""  # why the queue cannot be read now (the app tries again)
        self.ticket: TicketCalled | None = None  # the ticket called to this desk now
        self.asking_ticket = False  # a call, recall or no-show is on its way

    @property
    def lang(self) -> str:
        return ui_lang(self)

    def compose(self) -> ComposeResult:
        # Two lines, so site, desk, channel, counts and clock all fit 80 columns.
        # One grid and one scrolling column: every container costs start-up time.
        with Container(id="top"):
            yield Static(id="where")
            yield Static(id="channel")
            yield Static(id="today")
            yield Static(id="clock")
        yield Static(id="queue")
        yield Static(id="trail")
        with Container(id="body"):
            yield Static(id="question")
            yield Static(id="options")
            yield Static(id="postcode")
            yield Static(id="postcode-hint")
            yield Static(id="message")
            yield Static(id="card")
        yield Static(id="notice")
        yield Static(id="keys")

    def on_mount(self) -> None:
        # PgDn is offered only while the card runs below the screen: known once laid out.
        body = self.query_one("#body")
        self.watch(body, "virtual_size", lambda _: self.keys_after_layout(), init=False)
        self.watch(body, "scroll_y", lambda _: self.keys_after_layout(), init=False)
        follow_language(self, lambda: self.redraw(keep_message=True))
        if self.training:
            self.notice = [("training_notice", {})]
        self.redraw()
        self.set_interval(15, self.show_today)

    # --- what the keys do -------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        question = self.walk.question
        if action == "choose":
            return question is not None and not question.asks_postcode
        if action in ("decline_postcode",):
            return question is not None and question.asks_postcode
        if action == "confirm":
            return self.walk.finished and not self.saving
        if action == "back":
            return bool(self.walk.steps)
        if action == "more":
            body = self.query_one("#body")
            return body.scroll_y < body.max_scroll_y
        if action in ("call_next", "recall", "no_show"):
            return self.can_ask_ticket(action)
        return True

    def can_ask_ticket(self, action: str) -> bool:
        """One step at a time, so one key on the bar: F6 while no ticket is called here, F7
        once the ticket is called, F8 after F7 (a citizen is marked as not come only after
        being called twice); one request at a time."""
        has_queue = self.queues is not None or bool(self.queue_problem)
        if not has_queue or self.asking_ticket or self.saving:
            return False
        if action == "call_next":
            return self.ticket is None
        recalled = self.ticket is not None and self.ticket.recalls >= 1
        if action == "recall":
            return self.ticket is not None and not recalled
        return recalled

    def action_more(self) -> None:
        self.query_one("#body", Container).scroll_page_down(animate=False)

    def action_less(self) -> None:
        self.query_one("#body", Container).scroll_page_up(animate=False)

    def show_keys(self) -> None:
        keys = key_bar(self, self.lang)
        self.more_offered = self.check_action("more", ()) is True
        shown = self.query_one("#keys", Static)
        if keys != shown.content:
            shown.update(keys)

    def keys_after_layout(self) -> None:
        """Check PgDn again once the layout has settled, where it can change: a card may run
        below the screen, or PgDn is offered from the layout before. A question fits, so the
        first question costs no extra pass at start-up."""
        if self.walk.question is None or self.more_offered:
            self.call_after_refresh(self.show_keys)

    def step(self, walk: Walk, keep_pending: bool = False, typed: str = "") -> None:
        if self.started is None and walk.steps:
            self.started = time.monotonic()
            self.notice = []
            self.settings_file = None
        if not keep_pending:
            self.pending = None
        self.walk = walk
        self.typed = typed
        self.redraw()

    def action_search(self) -> None:
        from screens.search import SearchScreen
        from triage.search import ErrandIndex

        if self.index is None:
            self.index = ErrandIndex(self.flow)
        search = SearchScreen(self.index)

        async def jump(hit: Hit | None) -> None:
            self.searching = None
            if hit is not None:
                self.pending = hit  # a jump starts the errand from the top
                self.after_asking(Walk.start(self.flow))
            # Keys typed after the choice, before the dialog closed, are this desk's.
            self.held.extend(search.after)
            await self.apply_held_keys()

        self.searching = search
        self.app.push_screen(search, jump)

    def action_choose(self, key: int) -> None:
        try:
            # After a question the search could not answer (a site, a district), the search's
            # errand goes on by itself; the search never presses a key where it was not asked.
            self.after_asking(self.walk.choose(key))
        except AnswerError as error:
            self.redraw((error.code, error.params))

    def action_back(self) -> None:
        # Back onto a postcode question: the postcode given stays typed, Enter re-uses it.
        last = self.walk.steps[-1] if self.walk.steps else None
        typed = f"{last.postcode:04d}" if last is not None and last.postcode is not None else ""
        self.step(self.walk.back(), typed=typed)

    def action_restart(self) -> None:
        self.started = None
        self.channel = self.default_channel  # F3 was for the citizen just served
        self.step(Walk.start(self.flow))

    def action_confirm(self) -> None:
        """Log the visit; the desk is ready for the next citizen once the write is done."""
        result = self.walk.result(self.site)
        seconds = time.monotonic() - self.started if self.started is not None else 0.0
        visit = visit_from_result(result, self.site, self.desk, self.channel, seconds)
        self.saving = True
        ticket_id = self.ticket.ticket_id if self.ticket is not None else None
        self.app.post_message(VisitConfirmed(visit, ticket_id))
        self.redraw()

    def action_toggle_channel(self) -> None:
        self.channel = "phone" if self.channel == "in_person" else "in_person"
        self.redraw()

    # Requests go to the app's own queue, not up from this screen: the app sees them in the
    # order the keys were typed, before any key re-posted to it after them (apply_held_keys).
    def action_undo(self) -> None:
        self.app.post_message(UndoRequested())

    def action_overview(self) -> None:
        self.overview_asked = True
        self.app.post_message(OverviewRequested())

    def action_call_next(self) -> None:
        self.ask_ticket(TicketRequested("call_next"))

    def action_recall(self) -> None:
        if self.ticket is not None:
            self.ask_ticket(TicketRequested("recall", self.ticket.ticket_id))

    def action_no_show(self) -> None:
        if self.ticket is not None:
            self.ask_ticket(TicketRequested("no_show", self.ticket.ticket_id))

    def ask_ticket(self, request: TicketRequested) -> None:
        self.asking_ticket = True
        # Said at once: a locked database may keep the answer for seconds.
        asking = {
            "call_next": "desk_asking_call_next",
            "recall": "desk_asking_recall",
            "no_show": "desk_asking_no_show",
        }
        self.notice = [(asking[request.action], {})]
        self.app.post_message(request)
        self.redraw(keep_message=True)

    def on_screen_resume(self) -> None:
        self.overview_asked = False

    def action_decline_postcode(self) -> None:
        self.after_asking(self.walk.give_postcode(None))

    def after_asking(self, walk: Walk) -> None:
        """An answer was given: go on along the route of the errand a search found, if any."""
        hit = self.pending
        if hit:
            from triage.search import follow  # loaded already: a search found the hit

            walk = follow(walk, hit.route)
        self.step(walk, keep_pending=True)

    # --- what the log says back (from the app's workers) -----------------------------

    def on_log_ready(self, message: LogReady) -> None:
        self.demo = message.demo
        if message.counts is not None:
            self.counts = message.counts
        warned = message.error in DB_WARNINGS
        if warned:
            self.warnings["db"] = (message.error, message.params)
        elif message.available and not message.error:  # visits are sent: nothing to put right
            self.warnings.pop("db", None)
        if message.desk_taken:
            self.warnings["desk"] = ("desk_open_elsewhere", {"desk": self.desk})
        if warned or message.desk_taken:
            pass
        elif message.error:
            self.notice = [(message.error, message.params)]
        elif not message.available:
            self.notice = [("db_unavailable", {"reason": message.reason})]
        elif message.first_start and self.started is None:
            self.notice = [("first_start_training" if message.practice else "first_start", {})]
        self.redraw()

    async def on_visit_logged(self, message: VisitLogged) -> None:
        self.saving = False
        if message.counts is not None:
            self.counts = message.counts
        if message.status == "failed":
            # Not in the database and not on disk: stay on the card so nothing is lost. Keys
            # typed meanwhile were meant for the next citizen: they are not applied to this one.
            self.held = []
            self.redraw(("not_saved", {"reason": message.error}))
            return
        visit = {"outcome": message.visit["outcome_id"], "place": message.visit["destination_id"]}
        key = "visit_saved" if message.status == "saved" else "visit_spooled"
        self.notice = [(key, visit)]
        if message.status == "spooled" and message.reason and "db" not in self.warnings:
            self.notice.append(("db_reason", {"reason": message.reason}))
        if self.ticket is not None:  # the called citizen is registered: the desk is free
            if message.ticket_reason:
                ticket = {"ticket": self.ticket.label, "reason": message.ticket_reason}
                self.notice.append(("desk_ticket_not_closed", ticket))
            self.ticket = None
        self.action_restart()
        await self.apply_held_keys()

    def on_visit_voided(self, message: VisitVoided) -> None:
        if message.counts is not None:
            self.counts = message.counts
        if message.status == "failed":
            self.notice = [("undo_failed", {"reason": message.reason})]
        elif message.visit is None:
            self.notice = [("undo_nothing", {"minutes": UNDO_MINUTES})]
        else:
            self.notice = [("undo_done", {"outcome": message.visit["outcome_id"]})]
            if message.ticket is not None and message.ticket.status == "called":
                self.ticket = message.ticket  # register the citizen again: it is served then
                self.notice.append(("undo_ticket_called_again", {"ticket": message.ticket.label}))
            elif message.ticket is not None:
                self.notice.append(("undo_ticket_stays_served", {}))
        self.redraw()

    # --- the queue (from the app's workers) ----------------------------------------------

    def on_queue_seen(self, message: QueueSeen) -> None:
        self.queue_problem = message.reason
        if not message.reason:
            self.queues = message.queues
        self.show_queue()
        self.show_keys()

    def on_ticket_called(self, message: TicketCalled) -> None:
        self.asking_ticket = False
        ticket = {"ticket": message.label}
        if message.status in ("called", "recalled"):
            self.warnings.pop("desk", None)  # it called: the desk is this page's now
            self.ticket = message
            self.notice = [("desk_ticket_called_hint", ticket)]
        elif message.status == "resumed":  # called here before the desk started again
            if self.ticket is None:
                self.ticket = message
                self.notice = [("desk_ticket_resumed", ticket)]
        elif message.status == "no_show":
            self.ticket = None
            self.notice = [("desk_ticket_no_show", ticket)]
        elif message.status == "empty":
            self.notice = [("desk_queue_empty", {})]
        elif message.error:
            if message.error in ("ticket_not_called", "ticket_unknown"):
                self.ticket = None  # no longer this desk's: the desk is free
            self.notice = [(message.error, message.params)]
        else:
            self.notice = [("desk_ticket_failed", {"reason": message.reason})]
        self.redraw(keep_message=True)

    def queue_text(self) -> Content:
        """The called ticket, large, then how many wait: "6 venter, længst 14 min", or per
        queue where the site has several."""
        lang = self.lang
        pieces: list[str | tuple[str, str]] = []
        if self.ticket is not None:
            called = "desk_ticket_recalled" if self.ticket.recalls else "desk_ticket_called"
            label = f" {t(called, lang, ticket=self.ticket.label).upper()} "
            pieces += [(label, "bold reverse $warning"), "  "]
        if self.queue_problem:
            pieces.append(t("desk_queue_unreadable", lang, reason=self.queue_problem))
        elif self.queues is not None and len(self.queues) == 1:
            _, n, longest = self.queues[0]
            waiting = t("desk_queue_waiting", lang, n=n, minutes=longest // 60)
            pieces.append(waiting if n else t("desk_queue_empty", lang))
        elif self.queues is not None:
            each = [
                t("desk_queue_one", lang, queue=letter, n=n, minutes=longest // 60)
                if n
                else t("desk_queue_one_empty", lang, queue=letter)
                for letter, n, longest in self.queues
            ]
            pieces.append(t("desk_queue_several", lang, queues=" · ".join(each)))
        return Content.assemble(*pieces)

    def show_queue(self) -> None:
        shown = self.query_one("#queue", Static)
        shown.display = bool(self.queues) or bool(self.queue_problem) or self.ticket is not None
        if shown.display:
            show(shown, self.queue_text())

    def notice_text(self) -> str:
        """The notice in the current language; outcome and place ids become their names."""
        lang = self.lang
        texts = []
        for key, params in self.notice:
            params = dict(params)
            if "outcome" in params:
                params["title"] = self.flow.outcomes[params.pop("outcome")].title(lang)
            if "place" in params:
                params["place"] = self.flow.sites[params["place"]].name(lang)
            texts.append(t(key, lang, **params))
        if self.settings_file is not None:
            texts.append(t("desk_settings", lang, path=self.settings_file))
        return " ".join(texts)

    def notice_content(self) -> Content:
        """The warnings that stay, each on its line in the warning colour, then the notice."""
        lang = self.lang
        said = t("saving", lang) if self.saving else self.notice_text()
        alarm = bool(self.notice) and self.notice[0][0] in WARNING_NOTICES
        lines: list[str | tuple[str, str]] = [
            (t(key, lang, **params), "bold $text-warning") for key, params in self.warnings.values()
        ]
        if said:
            lines.append((said, "bold $text-warning") if alarm else said)
        return Content("\n").join(Content.assemble(line) for line in lines)

    def submit_postcode(self) -> None:
        try:
            self.after_asking(self.walk.give_postcode(self.typed))
        except AnswerError as error:
            # Keep what was typed so it can be corrected, and say what to do.
            self.redraw((error.code, error.params))

    async def on_key(self, event: events.Key) -> None:
        """Every desk key is handled here, in the order typed. Textual would run bindings later,
        from the app's queue, so a fast burst like `4 2400⏎1` could lose keys in between."""
        if self.searching is not None:
            self.searching.type_ahead(event.key, event.character)
            handled = True
        elif self.saving and (
            event.key in self.HELD_KEYS or event.character in tuple("0123456789")
        ):
            self.held.append((event.key, event.character))  # for the next citizen: kept
            handled = True
        else:
            handled = await self.handle_key(event)
        if handled:
            event.stop()
            event.prevent_default()

    async def handle_key(self, event: events.Key) -> bool:
        return self.type_postcode(event) or await self.run_own_binding(event.key)

    async def apply_held_keys(self) -> None:
        """The keys typed while the visit was being saved, in order, now that it is saved."""
        while self.held and not self.saving:
            # A held key opened the search, or asked for the overview: the rest are not ours.
            if self.app.screen is not self or self.overview_asked:
                for key, character in self.held:
                    self.app.post_message(events.Key(key, character))
                self.held = []
                return
            key, character = self.held.pop(0)
            await self.handle_key(events.Key(key, character))

    def type_postcode(self, event: events.Key) -> bool:
        question = self.walk.question
        if question is None or not question.asks_postcode:
            return False
        # ASCII digits only: "٢" or "２" are digits to Python but never a Danish postcode.
        if event.character is not None and event.character in "0123456789":
            if len(self.typed) < 4:
                self.typed += event.character
                self.redraw()
        elif event.key == "enter":
            self.submit_postcode()
        elif event.key == "backspace" and self.typed:
            self.typed = self.typed[:-1]
            self.redraw()
        else:
            return False
        return True

    async def run_own_binding(self, key: str) -> bool:
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding):  # all of ours are; Textual also allows tuples
                continue
            if binding.key == key and self.check_action(binding.action.split("(")[0], ()):
                await self.run_action(binding.action)
                return True
        return False

    # --- what the receptionist sees -----------------------------------------------

    def redraw(self, message: tuple[str, dict] | str = "", keep_message: bool = False) -> None:
        """Redraw everything from the walk: the top bar, the trail, then the question or the
        card. A message (catalog key and params) says what is wrong with the last answer until
        the next redraw; keep_message keeps it (a change of language)."""
        if not keep_message:
            self.message = message
        lang = self.lang
        site = self.flow.sites[self.site]
        self.query_one("#where", Static).update(f"{site.name(lang)} · {self.desk}")
        self.show_today()
        notice = self.query_one("#notice", Static)
        notice.update(self.notice_content())
        notice.display = (
            self.saving or bool(self.notice or self.warnings) or self.settings_file is not None
        )
        self.query_one("#trail", Static).update(self.trail_text())
        self.show_queue()
        self.show_step()
        self.query_one("#keys", Static).update(key_bar(self, lang))
        self.more_offered = self.check_action("more", ()) is True
        self.keys_after_layout()

    def message_text(self) -> str:
        """What is wrong with the last answer; else, while a search's errand waits for an
        answer here, which errand it goes on to."""
        lang = self.lang
        if isinstance(self.message, tuple):
            return t(self.message[0], lang, **self.message[1])
        hit = self.pending
        if (
            not self.message
            and hit
            and self.walk.question is not None
            and self.walk.node_id != hit.node_id
        ):
            from triage.search import node_title

            return t("search_goes_on", lang, title=node_title(self.flow, hit.node_id, lang))
        return self.message

    def show_step(self) -> None:
        """The body: the question with its options or the postcode field, or the card."""
        lang = self.lang
        question = self.walk.question
        asks_postcode = question is not None and question.asks_postcode
        self.query_one("#question").display = question is not None
        self.query_one("#options").display = question is not None and not asks_postcode
        self.query_one("#postcode").display = asks_postcode
        self.query_one("#postcode-hint").display = asks_postcode
        self.query_one("#card").display = question is None
        message = self.message_text()
        message_box = self.query_one("#message", Static)
        message_box.update(message)
        message_box.display = bool(message)
        if question is not None:
            self.query_one("#question", Static).update(Content(question.text(lang)))
        if question is not None and not asks_postcode:
            lines = [
                Content.assemble((f" {o.key} ", "bold reverse"), " ", o.label(lang))
                for o in question.options
            ]
            self.query_one("#options", Static).update(Content("\n").join(lines))
        if asks_postcode:
            field = self.typed.ljust(4, "_")
            self.query_one("#postcode", Static).update(
                Content.assemble((f" {field} ", "bold"), "  ", (t("postcode_prompt", lang), "dim"))
            )
            self.query_one("#postcode-hint", Static).update(t("postcode_decline_hint", lang))
        if question is None:
            self.query_one("#card", Static).update(
                self.card_content(card_for(self.walk.result(self.site), lang))
            )

    def show_today(self) -> None:
        """The channel at the top right; below, today's visits at this desk and at the site,
        whether the log is demo or practice, and the clock."""
        lang = self.lang
        channel = f" {t(f'channel_{self.channel}', lang).upper()} "
        style = "bold reverse" if self.channel == self.default_channel else "bold reverse $warning"
        # Every 15 s: only what changed is drawn again.
        show(self.query_one("#channel", Static), Content.styled(channel, style))
        counts = ""
        if self.counts is not None:
            counts = t("desk_counts", lang, desk=self.counts[0], site=self.counts[1])
        show(self.query_one("#today", Static), counts)
        marks: list[str | tuple[str, str]] = []
        if self.training:
            marks += [(t("desk_training", lang), "bold reverse $warning"), " "]
        if self.demo:
            marks += [(t("desk_demo", lang), "bold reverse"), " "]
        clock = present.local_now().strftime("%H:%M")
        show(self.query_one("#clock", Static), Content.assemble(*marks, clock))

    def trail_text(self) -> Content:
        lang = self.lang
        parts: list[str] = []
        for step in self.walk.steps:
            question = self.flow.questions[step.question]
            if step.key is not None:
                option = question.option(step.key)
                parts.append(f"{step.key} {option.label(lang) if option else step.option}")
            elif step.postcode is not None:
                parts.append(f"{t('postcode', lang)} {step.postcode:04d}")
            else:
                parts.append(f"{t('postcode', lang)}: {t('postcode_declined', lang)}")
        return Content(" › ".join(parts) if parts else t("trail_empty", lang))

    def card_content(self, card: Card) -> Content:
        lang = self.lang
        pieces: list[Content] = [Content.styled(card.title, "bold")]
        for number, stop in enumerate(card.stops):
            pieces.append(
                Content.assemble(
                    (f" {stop_label(number, stop, lang).upper()} ", "bold reverse"),
                    " ",
                    (stop.name, "bold"),
                )
            )
            pieces.extend(Content(f"   {line}") for line in stop_lines(stop, lang))
            if card.basis and number == card.basis_stop:
                pieces.append(Content(f"   {card.basis}"))
        if card.go_today:
            pieces.append(Content.styled(card.go_today, "bold"))
        if card.after_hours:
            pieces.append(Content.styled(t("after_hours_heading", lang), "bold"))
            pieces.extend(Content(f" • {help_line(entry, lang)}") for entry in card.after_hours)
        pieces.append(Content.styled(card.reason, "italic"))
        pieces.append(Content.styled(f"{t('bring', lang)}:", "bold"))
        for item in card.bring or [t("nothing_to_bring", lang)]:
            pieces.append(Content(f" • {item}"))
        return Content("\n").join(pieces)


def show(shown: Static, content: Content | str) -> None:
    """Update shown unless it shows content already: Static.update draws even the same text
    again, and the queue and the clock are shown anew every few seconds."""
    before = shown.content
    if isinstance(content, Content) and isinstance(before, Content):
        unchanged = content.is_same(before)
    else:
        unchanged = type(content) is type(before) and content == before
    if not unchanged:
        shown.update(content)
