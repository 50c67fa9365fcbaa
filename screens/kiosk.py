"""The kiosk: citizens check in themselves on a touch screen at the entrance.

Large buttons that answer to a touch and to keys (digits), the flow in the citizen's own words
(`kiosk` in flow.toml), Danish or English on a button. It ends in one of two ways: a ticket in
this site's queue for the errand, or where the errand is handled instead (a kiosk referral,
logged as a visit). After `idle_seconds` without a touch or key it returns to the start, so the
next citizen never sees the last one's answers. Nothing is ever typed that names a person; a
postcode only where the flow asks it.

The screen only shows and asks: the app issues the ticket and writes the referral, off the UI
thread (triage.app.KioskApp).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Static

from screens.keys import MultilingualApp, follow_language, ui_lang
from triage.flow import NO_ADDRESS_KEY, Flow, Question
from triage.i18n import t
from triage.present import Card, Help, Stop, card_for, hours_now_line
from triage.queue_data import Queues
from triage.visits import KIOSK_DESK, visit_from_result
from triage.walk import AnswerError, Result, Walk

IDLE_SECONDS = 30.0
CHANNEL = "kiosk"
POST_BOX = re.compile(r"\b(postboks|po box)\b", re.IGNORECASE)  # a postal address: not a place
OPTION_KEYS = (1, 2, 3, 4, 5, 6, 7, 8, 9, NO_ADDRESS_KEY)  # key 0 (no fixed address) last
POSTCODE_ERRORS = ("postcode_malformed", "postcode_unknown")


# --- what the kiosk asks the app, and what the app answers ----------------------------------


@dataclass
class TicketRequested(Message):
    """A citizen's errand is handled here: issue a ticket in this queue."""

    citizen: int  # which citizen asked (an idle reset starts a new one)
    queue: str
    errand: str


@dataclass
class TicketIssued(Message):
    """The ticket ("A 042", how many wait before it), or None when none could be issued."""

    citizen: int
    label: str | None
    ahead: int = 0


@dataclass
class ReferralConfirmed(Message):
    """A citizen's errand is handled elsewhere: the app logs the visit (channel kiosk)."""

    visit: dict


class KioskButton(Button, can_focus=False):
    """A large button for a finger; keys go to the screen, never to a focused button."""


def pad_key(label: str, name: str) -> KioskButton:
    """A key of the postcode pad. Every tap counts, also the second 2 of 2200 while the key
    still shows the first: a button ignores taps during its pressed look (0.2 s), which guards
    the answers against a double tap answering the next question too, so only the pad's keys
    go without it."""
    key = KioskButton(label, id=name)
    key.active_effect_duration = 0
    return key


class KioskScreen(Screen):
    """One citizen at a time: a question, the postcode pad, or one of the endings."""

    def __init__(
        self,
        flow: Flow,
        site: str,
        queues: Queues,
        idle_seconds: float = IDLE_SECONDS,
        start_lang: str = "da",
    ) -> None:
        super().__init__()
        self.flow = flow
        self.site = site
        self.queues = queues
        self.idle_seconds = idle_seconds
        self.start_lang = start_lang  # each citizen starts in this language
        self.walk = Walk.start(flow)
        self.typed = ""  # postcode digits so far
        self.message: tuple[str, dict] | None = None  # what is wrong with the last answer
        # None while asking; else the ending: "staff", "ticket", "no_queue", "referral".
        self.ending: str | None = None
        self.ticket: tuple[str, int] | None = None  # (label, ahead) once issued
        self.ticket_failed = False
        self.result: Result | None = None
        self.citizen = 0  # counts citizens, so a late answer never reaches the next one
        self.started: float | None = None
        self.idle_timer: Timer | None = None

    @property
    def lang(self) -> str:
        return ui_lang(self)

    def compose(self) -> ComposeResult:
        with Horizontal(id="kiosk-top"):
            yield Static(id="kiosk-where")
            yield KioskButton("", id="kiosk-lang")
        with Vertical(id="kiosk-body"):
            yield Static(id="kiosk-question")
            yield Static(id="kiosk-message")
            with Vertical(id="kiosk-options"):
                for key in OPTION_KEYS:
                    yield KioskButton("", id=f"kiosk-option-{key}", classes="kiosk-option")
            with Vertical(id="kiosk-postcode"):
                yield Static(id="kiosk-typed")
                with Grid(id="kiosk-pad"):
                    for key in (1, 2, 3, 4, 5, 6, 7, 8, 9):
                        yield pad_key(str(key), f"kiosk-digit-{key}")
                    yield pad_key("", "kiosk-delete")
                    yield pad_key("0", "kiosk-digit-0")
                    yield KioskButton("", id="kiosk-ok", variant="primary")
                yield KioskButton("", id="kiosk-skip")
            with Vertical(id="kiosk-ending"):
                yield Static(id="kiosk-headline")
                yield Static(id="kiosk-ticket")  # the number in big letters (screens.bigtext)
                yield Static(id="kiosk-details")
        with Horizontal(id="kiosk-nav"):
            yield KioskButton("", id="kiosk-back")
            yield KioskButton("", id="kiosk-restart")

    def on_mount(self) -> None:
        follow_language(self, self.redraw)
        self.redraw()
        self.touched()

    # --- a touch or a key -----------------------------------------------------------

    def touched(self) -> None:
        """Someone is here: the idle time starts again."""
        if self.idle_timer is not None:
            self.idle_timer.stop()
        self.idle_timer = self.set_timer(self.idle_seconds, self.idle_reset)

    def idle_reset(self) -> None:
        """Nobody touched the screen for a while: the next citizen sees the start, in the
        kiosk's own language."""
        self.idle_timer = None
        self.restart()
        self.set_language(self.start_lang)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self.touched()

    async def on_key(self, event: events.Key) -> None:
        self.touched()
        if self.kiosk_key(event.key, event.character):
            event.stop()
            event.prevent_default()

    def kiosk_key(self, key: str, character: str | None) -> bool:
        question = self.walk.question if self.ending is None else None
        if key == "f2":
            self.toggle_language()
        elif key in ("escape", "backspace") and (question is None or not question.asks_postcode):
            self.back()
        elif key == "ctrl+n":
            self.restart()
        elif question is None:
            return key in ("enter", "space") and self.press_done()
        elif question.asks_postcode:
            return self.postcode_key(key, character)
        elif character is not None and len(character) == 1 and character in "0123456789":
            self.choose(int(character))
        else:
            return False
        return True

    def press_done(self) -> bool:
        """Enter or Space press "Færdig" on an ending (a keypad has no touch); not while the
        ticket is still being issued, so the citizen sees the number they asked for."""
        if self.ending == "ticket" and self.ticket is None and not self.ticket_failed:
            return False
        self.restart()
        return True

    def postcode_key(self, key: str, character: str | None) -> bool:
        # ASCII digits only: "٢" or "２" are digits to Python but never a Danish postcode.
        if character is not None and len(character) == 1 and character in "0123456789":
            self.type_digit(character)
        elif key == "backspace":
            self.delete_digit()
        elif key == "enter":
            self.submit_postcode()
        elif key == "minus":
            self.decline_postcode()
        elif key == "escape":
            self.back()
        else:
            return False
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.touched()
        name = event.button.id or ""
        if name == "kiosk-lang":
            self.toggle_language()
        elif name == "kiosk-back":
            self.back()
        elif name == "kiosk-restart":
            self.restart()
        elif name.startswith("kiosk-option-"):
            self.choose(int(name.removeprefix("kiosk-option-")))
        elif name.startswith("kiosk-digit-"):
            self.type_digit(name.removeprefix("kiosk-digit-"))
        elif name == "kiosk-delete":
            self.delete_digit()
        elif name == "kiosk-ok":
            self.submit_postcode()
        elif name == "kiosk-skip":
            self.decline_postcode()

    # --- walking the flow -----------------------------------------------------------

    def toggle_language(self) -> None:
        self.set_language("en" if self.lang == "da" else "da")

    def set_language(self, lang: str) -> None:
        app = self.app
        if isinstance(app, MultilingualApp) and app.lang != lang:
            app.lang = lang  # every screen follows (screens.keys.follow_language)

    def restart(self) -> None:
        self.citizen += 1
        self.started = None
        self.ending = None
        self.ticket = None
        self.ticket_failed = False
        self.result = None
        self.step(Walk.start(self.flow))

    def back(self) -> None:
        if self.ending in ("ticket", "referral"):
            return  # a ticket issued or a referral logged is not taken back; start again
        self.ending = None  # from the desk's message: back to the answer that led there
        self.step(self.walk.back())

    def choose(self, key: int) -> None:
        question = self.walk.question
        if self.ending is not None or question is None or question.option(key) is None:
            return  # a key with no answer on the screen does nothing
        try:
            self.step(self.walk.choose(key))
        except AnswerError as error:
            self.step(self.walk, message=(error.code, error.params))

    def type_digit(self, digit: str) -> None:
        if len(self.typed) < 4:
            self.typed += digit
            self.message = None
            self.redraw()

    def delete_digit(self) -> None:
        self.typed = self.typed[:-1]
        self.redraw()

    def submit_postcode(self) -> None:
        try:
            self.step(self.walk.give_postcode(self.typed))
        except AnswerError as error:
            code = "kiosk_postcode_wrong" if error.code in POSTCODE_ERRORS else error.code
            self.typed = ""
            self.step(self.walk, message=(code, {"postcode": self.typed_shown(error)}))

    @staticmethod
    def typed_shown(error: AnswerError) -> str:
        return str(error.params.get("postcode", ""))

    def decline_postcode(self) -> None:
        self.step(self.walk.give_postcode(None))

    def step(self, walk: Walk, message: tuple[str, dict] | None = None) -> None:
        if self.started is None and walk.steps:
            self.started = time.monotonic()
        self.walk = walk
        self.message = message
        if message is None:
            self.typed = ""
        question = walk.question
        if question is not None and question.staff_only:
            self.ending = "staff"  # a question only staff ask: the desk asks it
        elif walk.finished and self.ending is None:
            self.finish()
        self.redraw()

    def finish(self) -> None:
        """The errand is known: a ticket here, or where to go instead (logged as a visit)."""
        result = self.walk.result(self.site)
        self.result = result
        if result.handled_here:
            queue = self.queues.for_errand(self.site, result.outcome.id)
            if queue is None:
                self.ending = "no_queue"  # this site has no queue for it: the desk helps
                return
            self.ending = "ticket"
            self.app.post_message(TicketRequested(self.citizen, queue.letter, result.outcome.id))
            return
        self.ending = "referral"
        seconds = time.monotonic() - self.started if self.started is not None else 0.0
        visit = visit_from_result(result, self.site, KIOSK_DESK, CHANNEL, seconds)
        self.app.post_message(ReferralConfirmed(visit))

    def on_ticket_issued(self, message: TicketIssued) -> None:
        if message.citizen != self.citizen or self.ending != "ticket":
            return  # the citizen who asked has gone (an idle reset, or Start again)
        if message.label is None:
            self.ticket_failed = True
        else:
            self.ticket = (message.label, message.ahead)
        self.redraw()

    # --- what the citizen sees -----------------------------------------------------

    def redraw(self) -> None:
        lang = self.lang
        site = self.flow.sites[self.site]
        self.query_one("#kiosk-where", Static).update(site.name(lang))
        self.query_one("#kiosk-lang", Button).label = t("kiosk_language", lang)
        question = self.walk.question if self.ending is None else None
        asks_postcode = question is not None and question.asks_postcode
        self.query_one("#kiosk-question").display = question is not None
        self.query_one("#kiosk-options").display = question is not None and not asks_postcode
        self.query_one("#kiosk-postcode").display = asks_postcode
        self.query_one("#kiosk-ending").display = self.ending is not None
        message = self.query_one("#kiosk-message", Static)
        message.display = self.message is not None and question is not None
        if self.message is not None:
            message.update(t(self.message[0], lang, **self.message[1]))
        if question is not None:
            self.query_one("#kiosk-question", Static).update(question.citizen_text(lang))
            if asks_postcode:
                self.show_postcode(lang)
            else:
                self.show_options(question, lang)
        else:
            self.show_ending(lang)
        back = self.query_one("#kiosk-back", Button)
        back.label = t("kiosk_back", lang)
        back.display = bool(self.walk.steps) and self.ending not in ("ticket", "referral")
        restart = self.query_one("#kiosk-restart", Button)
        restart.label = t("kiosk_restart" if self.ending is None else "kiosk_done", lang)
        restart.display = bool(self.walk.steps) or self.ending is not None

    def show_options(self, question: Question, lang: str) -> None:
        for key in OPTION_KEYS:
            button = self.query_one(f"#kiosk-option-{key}", Button)
            option = question.option(key)
            button.display = option is not None
            if option is not None:
                button.label = Content.assemble(
                    (f" {key} ", "bold reverse"), "  ", option.citizen_label(lang)
                )

    def show_postcode(self, lang: str) -> None:
        shown = " ".join(self.typed.ljust(4, "_"))
        self.query_one("#kiosk-typed", Static).update(
            Content.assemble((f" {shown} ", "bold reverse"), "   ", t("kiosk_postcode_hint", lang))
        )
        self.query_one("#kiosk-delete", Button).label = t("kiosk_delete", lang)
        self.query_one("#kiosk-ok", Button).label = t("kiosk_ok", lang)
        self.query_one("#kiosk-skip", Button).label = t("kiosk_skip_postcode", lang)
        self.query_one("#kiosk-ok", Button).disabled = len(self.typed) != 4

    def show_ending(self, lang: str) -> None:
        headline = self.query_one("#kiosk-headline", Static)
        details = self.query_one("#kiosk-details", Static)
        ticket = self.query_one("#kiosk-ticket")
        ticket.display = self.ending == "ticket" and self.ticket is not None
        if self.ending == "staff":
            headline.update(t("kiosk_go_to_desk", lang))
            details.update(t("kiosk_staff_only", lang))
        elif self.ending == "no_queue":
            headline.update(t("kiosk_right_place", lang))
            details.update(t("kiosk_no_queue", lang))
        elif self.ending == "ticket":
            headline.update(t("kiosk_right_place", lang))
            details.update(self.ticket_text(lang))
        elif self.ending == "referral" and self.result is not None:
            card = card_for(self.result, lang)
            headline.update(t("kiosk_elsewhere", lang, place=card.stops[0].name))
            details.update(self.referral_content(card, lang))

    def ticket_text(self, lang: str) -> str:
        if self.ticket_failed:
            return t("kiosk_ticket_failed", lang)
        if self.ticket is None:
            return t("kiosk_ticket_wait", lang)
        label, ahead = self.ticket
        self.show_ticket(label)
        key = "kiosk_ticket_next" if ahead == 0 else "kiosk_ticket"
        return t(key, lang, ticket=label, n=ahead)

    def show_ticket(self, label: str) -> None:
        """The ticket, letter and number, in big letters across the screen; with narrower dots
        where the screen is too narrow for the usual ones."""
        from screens.bigtext import big_lines, big_width  # not on the kiosk's start path

        room = self.size.width - 4  # the body's padding
        dot = 2 if big_width(label, 2) <= room else 1
        self.query_one("#kiosk-ticket", Static).update(
            Content.styled("\n".join(big_lines(label, dot)), "bold")
        )

    def can_walk_to(self, stop: Stop) -> bool:
        """The address is one a citizen can go to: a street and number, or a confirmed address
        that is no post box (not "Østerbro" as an example, not "Postboks 210")."""
        site = self.flow.sites[stop.site_id]
        if site.has_street:
            return True
        return "address" not in stop.unconfirmed and not POST_BOX.search(stop.address)

    def referral_content(self, card: Card, lang: str) -> Content:
        """Each place to go: its address, today's hours, how to get there; then why, and what
        to bring. Nothing about the citizen."""
        pieces: list[Content] = []
        for number, stop in enumerate(card.stops):
            if number:
                pieces.append(Content.styled(t("kiosk_then", lang, place=stop.name), "bold"))
            call_for_the_way = stop.phone and not self.can_walk_to(stop)
            if call_for_the_way:
                pieces.append(Content(t("kiosk_call_for_the_way", lang, phone=stop.phone)))
            else:  # citizens never see staff notes such as "(ikke bekræftet)"
                pieces.append(Content(f"{t('address', lang)}: {stop.address}"))
            directions = self.flow.sites[stop.site_id].directions
            if directions is not None:
                pieces.append(Content(f"{t('kiosk_directions', lang)}: {directions(lang)}"))
            if stop.hours_today:
                pieces.append(Content(hours_now_line(stop, lang)))
            if stop.closed_line:
                pieces.append(Content(stop.closed_line))
            if stop.note:
                pieces.append(Content(stop.note))
            if stop.phone and not call_for_the_way:
                pieces.append(Content(f"{t('phone', lang)}: {stop.phone}"))
        if card.after_hours:  # closed now, or it cannot wait: who helps meanwhile
            pieces.append(Content.styled(t("after_hours_heading", lang), "bold"))
            pieces.extend(
                Content(f" • {help_for_citizens(entry, lang)}") for entry in card.after_hours
            )
        pieces.append(Content(""))
        pieces.append(Content.styled(card.reason, "italic"))
        if card.bring:
            pieces.append(Content.styled(f"{t('bring', lang)}:", "bold"))
            pieces.extend(Content(f" • {item}") for item in card.bring)
        return Content("\n").join(pieces)


def help_for_citizens(entry: Help, lang: str) -> str:
    """'Den Sociale Døgnvagt: tlf. 33 17 33 33, Åboulevard 38 — hele døgnet': as the desk's
    help line, without the staff's "(ikke bekræftet)"."""
    parts = [f"{t('phone_short', lang)} {entry.phone}"] if entry.phone else []
    if entry.address:
        parts.append(entry.address)
    note = f" — {entry.note}" if entry.note else ""
    return f"{entry.name}: {', '.join(parts)}{note}"
