"""Keys for the receptionist: a two-line key bar, and labels that follow the UI language.

Each binding's id is its catalog key, so its label is looked up when shown. A plain key bar
rather than Textual's Footer: the footer rebuilds its widgets on every binding refresh, which
cost a third of the desk's start-up, and this bar is one line of text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from textual.app import App
from textual.binding import Binding
from textual.content import Content
from textual.dom import DOMNode
from textual.reactive import var
from textual.screen import Screen

from triage.i18n import CATALOG, t

DEFAULT_LANG = "da"


class MultilingualApp(App[object]):
    """An app with one UI language, which every screen reads (ui_lang) and follows
    (follow_language). The triage app is one; a screen in another app shows Danish."""

    lang = var(DEFAULT_LANG, init=False)


def ui_lang(node: DOMNode) -> str:
    """The app's UI language, for any screen or widget of it."""
    app = node.app
    return app.lang if isinstance(app, MultilingualApp) else DEFAULT_LANG


KEY_NAMES = {"escape": "Esc", "enter": "Enter", "minus": "-", "backspace": "⌫", "tab": "Tab"}


def key_name(key: str) -> str:
    if key in KEY_NAMES:
        return KEY_NAMES[key]
    if key.startswith("ctrl+"):
        return "^" + key.removeprefix("ctrl+").upper()
    return key.upper() if len(key) <= 3 else key.capitalize()


def translate_bindings(node: DOMNode, lang: str) -> None:
    """Give bindings their label in lang, for the command palette's list of keys."""
    # Textual keeps a node's bindings in `_bindings` and has no public setter for a
    # binding's description; the palette must change language at runtime.
    for key, bindings in node._bindings.key_to_bindings.items():
        node._bindings.key_to_bindings[key] = [
            replace(b, description=t(b.id, lang)) if b.id in CATALOG["da"] else b for b in bindings
        ]


# Keys that work on every step go on the key bar's second line with the app's own keys, so the
# step's keys keep the first line to themselves and the bar fits 80 columns in both languages.
SECOND_LINE = {"key_more", "key_overview", "sup_next_site", "sup_scroll"}
SECOND_LINE |= {"key_call_next", "key_recall", "key_no_show"}  # the queue: one at a time
# A screen with APP_KEYS_OWN_LINE (the overview: seven periods fill its first line) puts its
# other keys on the second line and the app's keys on a third.
OWN_SECOND_LINE = {"sup_export", "sup_leave", "sup_quit", "sup_channel", "sup_group"}


def key_bar(screen: Screen, lang: str) -> Content:
    """The keys that work right now: the step's keys on the first line (` Esc Tilbage  Enter
    Registrér …`), then the keys that always work (` F5 Overblik  F2 English  ^Q Afslut`)."""
    lines: list[list[Content]] = [[], [], []]
    own_line = getattr(screen, "APP_KEYS_OWN_LINE", False)
    for node in (screen, screen.app):
        for b in node.BINDINGS:
            if not isinstance(b, Binding) or not b.show or not b.id:
                continue
            if node.check_action(b.action.split("(")[0], ()) is not True:
                continue
            if node is screen.app:
                line = lines[2 if own_line else 1]
            elif b.id in SECOND_LINE or (own_line and b.id in OWN_SECOND_LINE):
                line = lines[1]
            else:
                line = lines[0]
            line.append(
                Content.assemble(
                    (b.key_display or key_name(b.key), "bold $accent"), f" {t(b.id, lang)}"
                )
            )
    # One space between entries: all keys of the busiest step fit in 80 columns, in both languages.
    return Content("\n").join(Content(" ").join(line) for line in lines[: 3 if own_line else 2])


def follow_language(screen: Screen, redraw: Callable[[], None]) -> None:
    """Translate screen's key labels and call redraw whenever the app's language changes (the
    app holds the one language; a screen below the top one follows too, so going back finds
    it in the new language)."""

    def changed(lang: str) -> None:
        translate_bindings(screen, lang)
        if screen.is_attached:
            redraw()

    translate_bindings(screen, ui_lang(screen))
    if isinstance(screen.app, MultilingualApp):
        screen.watch(screen.app, "lang", changed, init=False)
