"""The waiting-room board: the last numbers called and to which desk, large, and how many wait
per queue; nothing else (no errand, nothing about a citizen).

The app polls the database in a worker and sends what it read as messages (BoardUpdated,
BoardDown); this screen only draws. The numbers are drawn in a pixel font of half-block
characters, as large as the screen allows: at 80×24 three rows a number, on a TV's larger
terminal two or three times that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from screens.keys import follow_language, ui_lang
from triage.i18n import t

if TYPE_CHECKING:
    from triage.queue import BoardView
    from triage.queue_data import Queue
    from triage.sites import Sites


@dataclass
class BoardUpdated(Message):
    """What the board shows now, read by the app's worker (only sent when it changed)."""

    view: BoardView


@dataclass
class BoardDown(Message):
    """The database did not answer; the app tries again at its next poll."""

    reason: str
    day: date  # today: numbers of an earlier day are dropped from the screen


# --- the pixel font ---------------------------------------------------------------------------

# 3 × 5 pixels a character: capitals (desk ids are shown in capitals), digits and the hyphen.
_GLYPHS = {
    "A": ".#.|#.#|###|#.#|#.#",
    "B": "##.|#.#|##.|#.#|##.",
    "C": ".##|#..|#..|#..|.##",
    "D": "##.|#.#|#.#|#.#|##.",
    "E": "###|#..|##.|#..|###",
    "F": "###|#..|##.|#..|#..",
    "G": ".##|#..|#.#|#.#|.##",
    "H": "#.#|#.#|###|#.#|#.#",
    "I": "###|.#.|.#.|.#.|###",
    "J": "..#|..#|..#|#.#|.#.",
    "K": "#.#|#.#|##.|#.#|#.#",
    "L": "#..|#..|#..|#..|###",
    "M": "#.#|###|###|#.#|#.#",
    "N": "##.|#.#|#.#|#.#|#.#",
    "O": ".#.|#.#|#.#|#.#|.#.",
    "P": "##.|#.#|##.|#..|#..",
    "Q": ".#.|#.#|#.#|##.|.##",
    "R": "##.|#.#|##.|#.#|#.#",
    "S": ".##|#..|.#.|..#|##.",
    "T": "###|.#.|.#.|.#.|.#.",
    "U": "#.#|#.#|#.#|#.#|###",
    "V": "#.#|#.#|#.#|#.#|.#.",
    "W": "#.#|#.#|###|###|#.#",
    "X": "#.#|#.#|.#.|#.#|#.#",
    "Y": "#.#|#.#|.#.|.#.|.#.",
    "Z": "###|..#|.#.|#..|###",
    "0": "###|#.#|#.#|#.#|###",
    "1": ".#.|##.|.#.|.#.|###",
    "2": "###|..#|###|#..|###",
    "3": "###|..#|.##|..#|###",
    "4": "#.#|#.#|###|..#|..#",
    "5": "###|#..|###|..#|###",
    "6": "###|#..|###|#.#|###",
    "7": "###|..#|..#|.#.|.#.",
    "8": "###|#.#|###|#.#|###",
    "9": "###|#.#|###|..#|###",
    "-": "...|...|###|...|...",
    " ": "...|...|...|...|...",
}
GLYPH_WIDTH, GLYPH_HEIGHT = 3, 5
# Two text rows of pixels per character cell: upper, lower, both, neither.
_HALVES = {(True, False): "▀", (False, True): "▄", (True, True): "█", (False, False): " "}


def big_width(text: str, scale: int) -> int:
    """Columns `text` takes in the pixel font: each character 3 pixels and a pixel's gap."""
    return max(0, len(text) * (GLYPH_WIDTH + 1) - 1) * scale


def big_height(scale: int) -> int:
    return -(-GLYPH_HEIGHT * scale // 2)  # rows: two pixels a row, rounded up


def big_lines(text: str, scale: int) -> list[str]:
    """`text` in the pixel font, each pixel `scale` columns wide and `scale` pixels tall.
    A character it has no glyph for is drawn blank."""
    pixels: list[list[bool]] = [[] for _ in range(GLYPH_HEIGHT * scale)]
    for index, char in enumerate(text.upper()):
        rows = _GLYPHS.get(char, _GLYPHS[" "]).split("|")
        for y, row in enumerate(rows):
            line = [c == "#" for c in row] + ([False] if index < len(text) - 1 else [])
            wide = [on for on in line for _ in range(scale)]
            for repeat in range(scale):
                pixels[y * scale + repeat].extend(wide)
    if len(pixels) % 2:
        pixels.append([False] * len(pixels[0]))
    return [
        "".join(_HALVES[pair] for pair in zip(upper, lower, strict=True))
        for upper, lower in zip(pixels[::2], pixels[1::2], strict=True)
    ]


# --- what the board draws ---------------------------------------------------------------------

GAP = 2  # characters of the pixel font between the number and its desk


@dataclass(frozen=True)
class Layout:
    newest: int  # the newest call's scale
    older: int  # the other calls' scale
    shown: int  # how many calls fit


def fit(rows: Sequence[str], width: int, height: int) -> Layout:
    """The largest scales at which the calls fit the space, all of them if they can: the
    newest call one step larger than the others where there is room (emphasis), every call
    at least at scale 1 (the ones that do not fit below are left off)."""
    if not rows:
        return Layout(1, 1, 0)

    def fits(newest: int, older: int, count: int) -> bool:
        wide = all(
            big_width(row, newest if i == 0 else older) <= width for i, row in enumerate(rows)
        )
        tall = big_height(newest) + (count - 1) * (big_height(older) + 1)
        return wide and tall <= height

    for count in range(len(rows), 0, -1):
        for older in range(8, 0, -1):
            for newest in (older + 1, older):
                if fits(newest, older, count):
                    return Layout(newest, older, count)
    # Too small for even one in the pixel font (which would wrap into unreadable lines):
    # plain text, a call a row.
    return Layout(0, 0, max(1, min(len(rows), height)))


class Calls(Widget):
    """The last numbers called, newest first, each with its desk, as large as fits."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # (A 042, desk) newest first; None until the database has answered once
        self.calls: tuple[tuple[str, str], ...] | None = None

    def show(self, calls: tuple[tuple[str, str], ...] | None) -> None:
        self.calls = calls
        self.refresh()

    def render(self) -> Content:
        lang = ui_lang(self)
        if self.calls is None:
            return Content("")
        if not self.calls:
            return Content(t("board_none_called", lang))
        width = max(len(label) for label, _ in self.calls)  # A 042; A 1042 on a long day
        rows = [f"{label:<{width}}{' ' * GAP}{desk.upper()}" for label, desk in self.calls]
        layout = fit(rows, self.size.width, self.size.height - 1)  # 1: the heading
        if layout.newest == 0:  # plain text: "A 003 → SKRANKE-2", the newest in the accent
            return Content("\n").join(
                Content.styled(f"{label} → {desk.upper()}", "bold $accent" if i == 0 else "$text")
                for i, (label, desk) in enumerate(self.calls[: layout.shown])
            )
        desk_at = big_width(" " * (width + GAP), layout.newest) + layout.newest
        number = t("board_number", lang)
        heading = f"{number:<{max(desk_at, len(number) + 1)}}{t('board_desk', lang)}"
        parts: list[Content] = [Content.styled(heading, "$text-muted")]
        for index, row in enumerate(rows[: layout.shown]):
            scale = layout.newest if index == 0 else layout.older
            style = "bold $accent" if index == 0 else "$text"
            if index:
                parts.append(Content(""))  # a blank row between calls
            parts.extend(Content.styled(line, style) for line in big_lines(row, scale))
        return Content("\n").join(parts)


class BoardScreen(Screen):
    """The waiting-room board of one site."""

    def __init__(self, sites: Sites, site: str, queues: Sequence[Queue]) -> None:
        super().__init__()
        self.sites = sites
        self.site = site
        self.queues = tuple(queues)
        self.view: BoardView | None = None
        self.down = ""  # why the database does not answer now; "" when it does

    def compose(self) -> ComposeResult:
        yield Static(id="board-title")
        yield Static(id="board-message")
        yield Calls(id="board-calls")
        yield Static(id="board-waiting")

    def on_mount(self) -> None:
        follow_language(self, self.redraw)
        self.redraw()

    def on_board_updated(self, message: BoardUpdated) -> None:
        self.view, self.down = message.view, ""
        self.redraw()

    def on_board_down(self, message: BoardDown) -> None:
        self.down = message.reason
        if self.view is not None and self.view.day != message.day:
            self.view = None  # a number never outlives its day, on the screen either
        self.redraw()

    def waiting_text(self, lang: str) -> str:
        counts = self.view.waiting if self.view else {}
        parts = []
        for queue in self.queues:
            n = counts.get(queue.letter, 0)
            key = "board_waiting" if n else "board_nobody_waits"
            parts.append(t(key, lang, name=queue.name(lang), queue=queue.letter, n=n))
        return "   ".join(parts)

    def redraw(self) -> None:
        lang = ui_lang(self)
        self.query_one("#board-title", Static).update(
            t("board_title", lang, site=self.sites.name_of(self.site, lang))
        )
        message = self.query_one("#board-message", Static)
        message.display = bool(self.down)
        message.update(t("board_down", lang, reason=self.down) if self.down else "")
        calls = self.view.calls if self.view else None
        self.query_one(Calls).show(
            None if calls is None else tuple((call.label, call.desk) for call in calls)
        )
        waiting = self.query_one("#board-waiting", Static)
        waiting.display = self.view is not None
        waiting.update(self.waiting_text(lang) if self.view is not None else "")
