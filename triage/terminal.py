"""Output for people, drawn with rich: tables, trees and progress bars.

Colour, wrapping and live progress only where the stream is a terminal. Scripts, cron jobs and
tests that read the output get plain text (no escape codes, no wrapping) and no progress at all.
Text from the data files is passed as `Text`, never as markup: a node id like `[sick]` is text.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

# Wide enough that no line of a tree or report is ever wrapped in plain output.
PLAIN_WIDTH = 10_000


def plain(renderable: RenderableType) -> str:
    """The renderable as plain text, each line without trailing spaces."""
    console = Console(
        file=io.StringIO(), width=PLAIN_WIDTH, color_system=None, highlight=False, emoji=False
    )
    with console.capture() as captured:
        console.print(renderable)
    return "".join(line.rstrip() + "\n" for line in captured.get().splitlines())


def show(renderable: RenderableType, stream: TextIO) -> None:
    """Print to `stream`: in colour and wrapped to its width on a terminal, plain otherwise."""
    if stream.isatty():
        Console(file=stream, highlight=False, emoji=False).print(renderable)
    else:
        stream.write(plain(renderable))


class Bar:
    """What a long command reports its progress to; does nothing when nobody watches."""

    def __init__(self, progress: Progress | None = None) -> None:
        self._progress = progress

    def __call__(self, done: float | None = None, text: str | None = None) -> None:
        """`done`: the part finished, 0 to 1; `text`: a new description."""
        if self._progress is not None:
            task = self._progress.task_ids[0]
            self._progress.update(task, completed=done, description=text)

    @property
    def shown(self) -> bool:
        return self._progress is not None


@contextmanager
def progress_bar(text: str, stream: TextIO, measured: bool = True) -> Iterator[Bar]:
    """A progress bar on `stream` while the block runs, gone when it ends; only on a terminal.

    `measured`: the work reports the part done (a bar); otherwise only a description that
    changes (a spinner)."""
    if not stream.isatty():
        yield Bar()
        return
    columns = (
        [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f} %")]
        if measured
        else [SpinnerColumn(), TextColumn("{task.description}")]
    )
    console = Console(file=stream, highlight=False, emoji=False)
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        progress.add_task(text, total=1.0 if measured else None)
        yield Bar(progress)
