"""Export the overview's period for planners: format, file, small counts; a progress bar while
it runs in a worker thread (a long range takes a moment), and what was written when done."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, ProgressBar, RadioButton, RadioSet, Static

from screens.keys import follow_language, ui_lang
from triage import export
from triage.i18n import t
from triage.stats import Filters

# (format, Danish Excel CSV?, file suffix); CSV writes a folder of files, one per table.
CHOICES = (
    ("xlsx", False, ".xlsx"),
    ("csv", True, ""),
    ("csv", False, ""),
    ("json", False, ".json"),
)
SMALL_COUNT = 5  # the usual limit for figures that leave the municipality


class ExportScreen(ModalScreen[None]):
    # A modal dialog hides the app's keys: F2 is offered here too, so the language switches
    # while the dialog is open.
    BINDINGS = [
        Binding("escape", "close", "key_close", id="key_close"),
        Binding("f2", "app.toggle_language", "key_language", id="key_language"),
    ]

    def __init__(self, store_getter, sites, start: date, end: date) -> None:
        super().__init__()
        self.store_getter = store_getter
        self.sites = sites
        self.start, self.end = start, end  # end excluded
        self.choice = 0
        self.running = False
        self.message: tuple[str, dict] = ("expd_hint", {})  # catalog key and params

    @property
    def lang(self) -> str:
        return ui_lang(self)

    def default_path(self, choice: int) -> str:
        last = self.end - timedelta(days=1)
        return str(
            Path.home() / f"triage-{self.start.isoformat()}-{last.isoformat()}{CHOICES[choice][2]}"
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Static(id="export-title")
            with RadioSet(id="export-format"):
                for i in range(len(CHOICES)):
                    yield RadioButton(value=i == 0)
            yield Checkbox(id="export-small")
            yield Input(self.default_path(0), id="export-path")
            yield ProgressBar(total=1.0, show_eta=False, id="export-progress")
            yield Static(id="export-message")

    def on_mount(self) -> None:
        follow_language(self, self.redraw)
        self.redraw()
        self.query_one("#export-path", Input).focus()

    def redraw(self) -> None:
        """Every text of the dialog in the app's language (F2 switches it while open)."""
        lang = self.lang
        last = self.end - timedelta(days=1)
        self.query_one("#export-title", Static).update(
            t("expd_title", lang, start=self.start.isoformat(), end=last.isoformat())
        )
        for i, button in enumerate(self.query(RadioButton)):
            button.label = t(f"expd_format_{i}", lang)
        self.query_one("#export-small", Checkbox).label = t("expd_small", lang, k=SMALL_COUNT)
        key, params = self.message
        self.query_one("#export-message", Static).update(t(key, lang, **params))

    def say(self, key: str, **params: object) -> None:
        self.message = (key, params)
        self.redraw()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        path = self.query_one("#export-path", Input)
        if path.value == self.default_path(self.choice):  # follow the format unless typed over
            path.value = self.default_path(event.index)
        self.choice = event.index

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.running:
            return
        target = Path(event.value.strip()).expanduser()
        if not event.value.strip():
            self.say("expd_no_path")
            return
        self.running = True
        self.say("expd_working")
        # The file is written in the language of the moment Enter was pressed.
        self.run_export(target, self.query_one("#export-small", Checkbox).value, self.lang)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def run_export(self, target: Path, small: bool, lang: str) -> None:
        fmt, excel_da, _ = CHOICES[self.choice]
        options = export.Options(
            self.start, self.end, lang, Filters(), min_count=SMALL_COUNT if small else 0
        )

        def progress(done: float) -> None:
            self.app.call_from_thread(self.show_progress, done * 0.9)

        try:
            built = export.build(self.store_getter(), self.sites, options, progress)
            written = export.write(built, fmt, target, excel_da)
        except export.ExportError as error:  # e.g. the name is a folder or a device
            said = (error.code, dict(error.params))
        except OSError as error:
            said = (
                "exp_disk",
                {"path": error.filename or target, "reason": error.strerror or error},
            )
        except Exception as error:  # the database went away: say so, keep the dialog open
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            said = ("expd_failed", {"reason": reason})
        else:
            self.app.call_from_thread(self.show_progress, 1.0)
            said = ("exp_done", {"files": written[0].parent if fmt == "csv" else written[0]})
        self.app.call_from_thread(self.finished, said)

    # The export goes on if the dialog is closed meanwhile; then there is nothing to update.
    def show_progress(self, done: float) -> None:
        if self.is_attached:
            self.query_one("#export-progress", ProgressBar).update(progress=done)

    def finished(self, said: tuple[str, dict]) -> None:
        self.running = False
        self.message = said
        if self.is_attached:
            self.redraw()

    def action_close(self) -> None:
        self.dismiss(None)
