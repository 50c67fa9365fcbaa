"""The desk: one question at a time, numbered keys, a postcode when needed, then the outcome card.

The screen only shows and forwards keys; walking the flow and describing the outcome happen in
the core (triage.walk, triage.present).
"""

from __future__ import annotations

import time

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from screens.keys import key_bar, translate_bindings
from screens.messages import LogReady, VisitLogged, VisitVoided
from screens.search import SearchScreen
from triage.flow import Flow
from triage.i18n import t
from triage.desklog import UNDO_MINUTES
from triage import present
from triage.present import Card, card_for, help_line, stop_label, stop_lines
from triage.search import ASK, ErrandIndex, Hit
from triage.visits import visit_from_result
from triage.walk import AnswerError, Walk


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
        Binding("f5", "overview", "key_overview", show=False, id="key_overview"),
    ]

    def __init__(self, flow: Flow, site: str, desk: str) -> None:
        super().__init__()
        self.flow = flow
        self.site = site
        self.desk = desk
        self.walk = Walk.start(flow)
        self.typed = ""  # postcode digits typed so far
        self.pending: tuple[str, ...] = ()  # keys a search jump will press once the desk has asked
        self.index = ErrandIndex(flow)
        self.channel = "in_person"
        self.started: float | None = None  # monotonic time of this citizen's first key
        self.saving = False  # a confirmed visit is being written
        self.counts: tuple[int, int] | None = None
        self.demo = False  # the log is a demo database
        self.notice = ""  # the last thing logged, shown until the next citizen's first key

    @property
    def lang(self) -> str:
        return self.app.lang  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield Static(id="where")
            yield Static(id="today")
        yield Static(id="trail")
        with VerticalScroll(id="body"):
            yield Static(id="question")
            yield Static(id="options")
            with Vertical(id="postcode-box"):
                yield Static(id="postcode")
                yield Static(id="postcode-hint")
            yield Static(id="message")
            yield Static(id="card")
        yield Static(id="notice")
        yield Static(id="keys")

    def on_mount(self) -> None:
        translate_bindings(self, self.lang)
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
        return True

    def step(self, walk: Walk, keep_pending: bool = False) -> None:
        if self.started is None and walk.steps:
            self.started = time.monotonic()
            self.notice = ""
        if not keep_pending:
            self.pending = ()
        self.walk = walk
        self.typed = ""
        self.redraw()

    def press_keys(self, keys: tuple[str, ...]) -> None:
        """Walk the given keys until the desk must ask (ASK); keep the rest for after."""
        walk = self.walk
        for number, key in enumerate(keys):
            if key == ASK:
                self.pending = keys[number + 1:]
                break
            walk = walk.choose(int(key))
        else:
            self.pending = ()
        self.step(walk, keep_pending=True)

    def action_search(self) -> None:
        def jump(hit: Hit | None) -> None:
            if hit is not None:
                self.walk = Walk.start(self.flow)  # a jump starts the errand from the top
                self.press_keys(hit.answers)

        self.app.push_screen(SearchScreen(self.index, self.lang), jump)

    def action_choose(self, key: int) -> None:
        question = self.walk.question
        try:
            walk = self.walk.choose(key)
            if question and question.picks_site:
                self.after_asking(walk)  # a chosen site may let a search jump go on
            else:
                self.step(walk)
        except AnswerError as error:
            self.redraw(t(error.code, self.lang, **error.params))

    def action_back(self) -> None:
        self.step(self.walk.back())

    def action_restart(self) -> None:
        self.started = None
        self.step(Walk.start(self.flow))

    def action_confirm(self) -> None:
        """Log the visit; the desk is ready for the next citizen once the write is done."""
        result = self.walk.result(self.site)
        seconds = time.monotonic() - self.started if self.started is not None else 0.0
        visit = visit_from_result(result, self.site, self.desk, self.channel, seconds)
        self.saving = True
        self.app.write_visit(visit)  # type: ignore[attr-defined]
        self.redraw()

    def action_toggle_channel(self) -> None:
        self.channel = "phone" if self.channel == "in_person" else "in_person"
        self.redraw()

    def action_undo(self) -> None:
        self.app.void_last()  # type: ignore[attr-defined]

    def action_overview(self) -> None:
        self.app.show_overview()  # type: ignore[attr-defined]

    def action_decline_postcode(self) -> None:
        self.after_asking(self.walk.give_postcode(None))

    def after_asking(self, walk: Walk) -> None:
        """A postcode or site was given: go on with the keys a search jump left pending."""
        pending, self.walk = self.pending, walk
        if pending:
            self.press_keys(pending)
        else:
            self.step(walk)

    # --- what the log says back (from the app's workers) -----------------------------

    def on_log_ready(self, message: LogReady) -> None:
        self.demo = message.demo
        if message.counts is not None:
            self.counts = message.counts
        if message.error:
            self.notice = t(message.error, self.lang, **message.params)
        elif not message.available:
            self.notice = t("db_unavailable", self.lang, reason=message.reason)
        self.redraw()

    def on_visit_logged(self, message: VisitLogged) -> None:
        self.saving = False
        lang = self.lang
        if message.counts is not None:
            self.counts = message.counts
        if message.status == "failed":
            # Not in the database and not on disk: stay on the card so nothing is lost.
            self.redraw(t("not_saved", lang, reason=message.error))
            return
        outcome = self.flow.outcomes[message.visit["outcome_id"]]
        place = self.flow.sites[message.visit["destination_id"]].name(lang)
        key = "visit_saved" if message.status == "saved" else "visit_spooled"
        self.notice = t(key, lang, title=outcome.title(lang), place=place)
        if message.status == "spooled" and message.reason:
            self.notice += " " + t("db_reason", lang, reason=message.reason)
        self.action_restart()

    def on_visit_voided(self, message: VisitVoided) -> None:
        lang = self.lang
        if message.counts is not None:
            self.counts = message.counts
        if message.status == "failed":
            self.notice = t("undo_failed", lang, reason=message.reason)
        elif message.visit is None:
            self.notice = t("undo_nothing", lang, minutes=UNDO_MINUTES)
        else:
            title = self.flow.outcomes[message.visit["outcome_id"]].title(lang)
            self.notice = t("undo_done", lang, title=title)
        self.redraw()

    def submit_postcode(self) -> None:
        try:
            self.after_asking(self.walk.give_postcode(self.typed))
        except AnswerError as error:
            # Keep what was typed so it can be corrected, and say what to do.
            self.redraw(t(error.code, self.lang, **error.params))

    async def on_key(self, event: events.Key) -> None:
        """Every desk key is handled here, in the order typed. Textual would run bindings later,
        from the app's queue, so a fast burst like `4 2400⏎1` could lose keys in between."""
        if self.type_postcode(event) or await self.run_own_binding(event.key):
            event.stop()
            event.prevent_default()

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
            if binding.key == key and self.check_action(binding.action.split("(")[0], ()):
                await self.run_action(binding.action)
                return True
        return False

    # --- what the receptionist sees -----------------------------------------------

    def redraw(self, message: str = "") -> None:
        """Redraw everything from the walk: the trail, then the question or the card."""
        lang = self.lang
        site = self.flow.sites[self.site]
        self.query_one("#where", Static).update(f"{site.name(lang)} · {self.desk}")
        self.show_today()
        notice = self.query_one("#notice", Static)
        notice.update(t("saving", lang) if self.saving else self.notice)
        notice.display = self.saving or bool(self.notice)
        self.query_one("#trail", Static).update(self.trail_text())
        question = self.walk.question
        asks_postcode = question is not None and question.asks_postcode
        self.query_one("#question").display = question is not None
        self.query_one("#options").display = question is not None and not asks_postcode
        self.query_one("#postcode-box").display = asks_postcode
        self.query_one("#card").display = question is None
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
            self.query_one("#card", Static).update(self.card_content(card_for(self.walk.result(self.site), lang)))
        self.query_one("#keys", Static).update(key_bar(self, lang))

    def show_today(self) -> None:
        """Channel, today's count at this desk and site, and the clock, at the top right."""
        lang = self.lang
        clock = present.local_now().strftime("%H:%M")
        parts = [t(f"channel_{self.channel}", lang)]
        if self.counts is not None:
            parts.append(t("counts", lang, desk=self.counts[0], site=self.counts[1]))
        line = Content(" · ".join([*parts, clock]))
        if self.demo:
            line = Content.assemble((t("desk_demo", lang), "bold reverse"), " ", line)
        self.query_one("#today", Static).update(line)

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
            pieces.append(Content.assemble((f" {stop_label(number, stop, lang).upper()} ", "bold reverse"),
                                           " ", (stop.name, "bold")))
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
