"""The first screen is written once.

Textual writes an app's first screen, then writes it again, unchanged, twice: about 2 ms later
each widget repaints because it has just been given its size (its `virtual_size` changed), and
one refresh tick (about 25 ms) later the whole screen repaints because it has just been shown
(`Screen._on_screen_resume` asks for a full repaint after its own first layout). In a browser,
or a terminal without synchronized output, a person sees the question and its options drawn a
second time. Until something on the screen changes (at most for FIRST_FRAME_SECONDS), a frame
that only repeats the first one is not written.

This reads Textual's compositor updates (a private part, pinned with Textual in pyproject.toml).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import cast

from rich.console import RenderableType
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.app import App
from textual.screen import Screen
from textual.strip import Strip

Chops = Mapping[int, Strip | None]  # a row as the compositor cut it: its pieces by column

# Textual's own repaints come within one refresh tick; after this, frames go out as Textual
# makes them (a frame written again on purpose, e.g. after the app was suspended, is written).
FIRST_FRAME_SECONDS = 1.0


def repeats(update: RenderableType, first: list[Chops]) -> bool:
    """Whether the update would write only what the first frame wrote at the same cells."""
    if isinstance(update, LayoutUpdate):
        return chops_of(update) == first
    if not isinstance(update, ChopsUpdate):
        return False
    # The pieces ChopsUpdate.render_segments writes: each chop a span touches. Compared whole,
    # with no new objects made (a garbage collection on the start path costs ~17 ms).
    for y, x1, x2 in update.spans:
        if y >= len(first):
            return False
        shown = first[y]
        for end, (x, strip) in zip(update.chop_ends[y], update.chops[y].items(), strict=False):
            if strip is not None and x <= x2 and end > x1 and shown.get(x) != strip:
                return False
    return True


def chops_of(update: LayoutUpdate) -> list[Chops] | None:
    """The full frame's rows, each as the compositor cut it: {x: strip}."""
    rows = [getattr(line, "mapping", None) for line in update.strips]  # dict.values() views
    return None if None in rows else cast("list[Chops]", rows)


class FirstFrameOnce(App[object]):
    """An app whose first screen is written once (see the module's docstring)."""

    _first_frame: list[Chops] | None = None  # the first screen written, row by row
    _first_frame_at = 0.0  # when it was written (monotonic); 0: not yet
    _first_frame_over = False  # something changed: frames go out as Textual makes them

    def _display(self, screen: Screen, renderable: RenderableType | None) -> None:
        if renderable is not None and not self._first_frame_over and not self._batch_count:
            rows = self._first_frame
            if rows is None and isinstance(renderable, LayoutUpdate):
                self._first_frame = chops_of(renderable)
                self._first_frame_at = time.monotonic()
                self._first_frame_over = self._first_frame is None
            elif (
                rows is not None
                and time.monotonic() - self._first_frame_at < FIRST_FRAME_SECONDS
                and repeats(renderable, rows)
            ):
                return  # the first screen again, unchanged
            else:
                self._first_frame_over = True
                self._first_frame = None
        super()._display(screen, renderable)
