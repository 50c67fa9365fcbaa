"""Export the overview's period for planners: format, file, small counts; a progress bar while
it runs in a worker thread (a long range takes a moment), and what was written when done."""

from __future__ import annotations

import errno
import io
import re
import shutil
import tempfile
import zipfile
from datetime import date, timedelta
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, ProgressBar, RadioButton, RadioSet, Static

from screens.keys import follow_language, ui_lang
from triage import export, paths
from triage.i18n import t
from triage.stats import Filters

# (format, Danish Excel CSV?, file suffix); CSV writes a folder of files, one per table.
CHOICES = (
    ("xlsx", False, ".xlsx"),
    ("csv", True, ""),
    ("csv", False, ""),
    ("json", False, ".json"),
)
SUFFIXES = {suffix for _, _, suffix in CHOICES if suffix} | {".csv"}
SMALL_COUNT = 5  # the usual limit for figures that leave the municipality
# The export's own messages that name command-line options: said without them in the dialog.
IN_DIALOG = {"out_link": "expd_out_link", "exp_too_many_rows": "expd_too_many_rows"}
FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def documents_folder() -> Path:
    """The user's documents folder (Dokumenter), or the home folder where there is none."""
    from platformdirs import user_documents_path

    folder = user_documents_path()
    return folder if folder.is_dir() else Path.home()


def served_name(value: str) -> str:
    """A typed file name as the browser gets it: the name alone (a folder would be the
    server's), in letters a browser keeps in any download header."""
    name = Path(value.strip()).name
    for letter, spelled in (("æ", "ae"), ("ø", "oe"), ("å", "aa"), ("Æ", "Ae"), ("Ø", "Oe")):
        name = name.replace(letter, spelled)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name.replace("Å", "Aa")).strip("-.")


def zipped(folder: Path, name: str) -> io.BytesIO:
    """A folder of CSV files as one zip file (a browser downloads files, not folders)."""
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.glob("*.csv")):
            archive.write(file, f"{name}/{file.name}")
    packed.seek(0)
    return packed


def with_format(value: str, choice: int) -> str:
    """The typed name with the chosen format's ending: a known ending is swapped, none added;
    a folder of CSV files has none."""
    path = Path(value)
    if path.suffix.lower() in SUFFIXES:
        path = path.with_suffix("")
    return str(path) + CHOICES[choice][2] if value.strip() else value


def said_for(error: BaseException, target: Path) -> tuple[str, dict]:
    """Why the export failed, as a catalog key and its params, with advice for that cause."""
    if isinstance(error, export.ExportError):
        return IN_DIALOG.get(error.code, error.code), dict(error.params)
    if isinstance(error, OSError):
        params = {"path": error.filename or target, "reason": error.strerror or error}
        if error.errno in FULL:
            return "expd_full", params
        if error.errno in DENIED:
            return "expd_denied", params
        return "expd_not_written", params
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return "expd_no_figures", {"reason": reason}  # e.g. the database went away


class ExportScreen(ModalScreen[None]):
    # A modal dialog hides the app's keys: F2 is offered here too, so the language switches
    # while the dialog is open.
    BINDINGS = [
        Binding("escape", "close", "key_close", id="key_close"),
        Binding("f2", "app.toggle_language", "key_language", id="key_language"),
    ]

    def __init__(
        self,
        store_getter,
        sites,
        start: date,
        end: date,
        filters: Filters | None = None,
        groups: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.store_getter = store_getter
        self.sites = sites
        self.start, self.end = start, end  # end excluded
        self.filters = filters or Filters()  # the channel and errand group on the overview
        self.groups = groups  # that group's name, for the file's about table
        self.choice = 0
        self.running = False
        # In a browser (triage serve) the file is downloaded there: the server's folders are
        # out of the person's reach, and may be readable by the server's other users.
        self.served = paths.served_to_browser()
        hint = "expd_served_hint" if self.served else "expd_hint"
        self.message: tuple[str, dict] = (hint, {})  # catalog key and params
        self.failed = False  # the message says why the latest export failed
        self.delivery: tuple[str, str] | None = None  # the file on its way: (key, name)

    @property
    def lang(self) -> str:
        return ui_lang(self)

    def default_path(self, choice: int) -> str:
        last = self.end - timedelta(days=1)
        name = f"triage-{self.start.isoformat()}-{last.isoformat()}{CHOICES[choice][2]}"
        return name if self.served else str(documents_folder() / name)

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
        said = t(key, lang, **params)
        if self.failed:  # says that it failed before why
            said = t("expd_export_failed", lang, why=said)
        self.query_one("#export-message", Static).update(said)

    def say(self, key: str, **params: object) -> None:
        self.message, self.failed = (key, params), False
        self.redraw()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        path = self.query_one("#export-path", Input)
        path.value = with_format(path.value, event.index)  # the name's ending follows the format
        self.choice = event.index

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.running:
            return
        target = Path(event.value.strip()).expanduser()
        if not event.value.strip() or (self.served and not served_name(event.value)):
            self.say("expd_no_path")
            return
        if self.served:  # written in a folder of its own (the owner's alone), then sent
            folder = Path(tempfile.mkdtemp(prefix="triage-export-"))
            target = folder / served_name(event.value)
        fmt = CHOICES[self.choice][0]
        try:  # a name the export will refuse is said at once, not asked about first
            export.check_target(target, fmt, folder=fmt == "csv")
        except export.ExportError as error:
            if self.served:
                shutil.rmtree(folder, ignore_errors=True)
            self.finished(said_for(error, target), True)
            return
        question = None if self.served else self.replaces(target)
        if question is None:
            self.start_export(target)
            return
        from screens.confirm import ConfirmScreen

        def answered(replace: bool | None) -> None:
            if replace:
                self.start_export(target)
            else:
                self.say("expd_kept", path=target)

        self.app.push_screen(ConfirmScreen(question, "expd_replace", path=target), answered)

    def replaces(self, target: Path) -> str | None:
        """The question to ask when the export would replace what is there: a file, or for
        CSV the files in a folder; None when nothing is replaced."""
        if CHOICES[self.choice][0] == "csv":
            if target.is_dir() and any(target.glob("*.csv")):
                return "expd_replace_folder_question"
            return None
        return "expd_replace_question" if target.is_file() else None

    def start_export(self, target: Path) -> None:
        self.running = True
        bar = self.query_one("#export-progress", ProgressBar)
        bar.remove_class("-failed")
        bar.display = True
        self.show_progress(0.0)
        self.say("expd_working")
        # The file is written in the language of the moment Enter was pressed.
        self.run_export(target, self.query_one("#export-small", Checkbox).value, self.lang)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def run_export(self, target: Path, small: bool, lang: str) -> None:
        fmt, excel_da, _ = CHOICES[self.choice]
        options = export.Options(
            self.start,
            self.end,
            lang,
            self.filters,
            min_count=SMALL_COUNT if small else 0,
            groups=self.groups,
        )

        def progress(done: float) -> None:
            self.app.call_from_thread(self.show_progress, done * 0.9)

        try:
            built = export.build(self.store_getter(), self.sites, options, progress)
            written = export.write(built, fmt, target, excel_da)
            if self.served:  # read, and the server's copy removed before it is sent
                if fmt == "csv":
                    payload, name = zipped(target, target.name), f"{target.name}.zip"
                else:
                    payload, name = io.BytesIO(target.read_bytes()), target.name
        except Exception as error:  # said in the dialog, which stays open
            self.app.call_from_thread(self.finished, said_for(error, target), True)
        else:
            if self.served:
                self.app.call_from_thread(self.deliver, payload, name)
                return
            self.app.call_from_thread(self.show_progress, 1.0)
            said = ("exp_done", {"files": written[0].parent if fmt == "csv" else written[0]})
            self.app.call_from_thread(self.finished, said)
        finally:
            if self.served:
                shutil.rmtree(target.parent, ignore_errors=True)

    def deliver(self, payload: io.BytesIO, name: str) -> None:
        """The export to the browser, as a download (textual-serve fetches it from this app)."""
        key = self.app.deliver_binary(payload, save_filename=name)
        self.delivery = (key, name) if key is not None else None
        self.show_progress(1.0)
        self.finished(("expd_served_sending", {"name": name}))

    def delivered(self, key: str, failed: bool) -> None:
        """The browser has fetched the file (or it could not be sent): said in the dialog."""
        if self.delivery is None or self.delivery[0] != key:
            return
        name, self.delivery = self.delivery[1], None
        self.finished(("expd_served_failed" if failed else "expd_served_done", {"name": name}))

    # The export goes on if the dialog is closed meanwhile; then there is nothing to update.
    def show_progress(self, done: float) -> None:
        if self.is_attached:
            self.query_one("#export-progress", ProgressBar).update(progress=done)

    def finished(self, said: tuple[str, dict], failed: bool = False) -> None:
        self.running = False
        self.message, self.failed = said, failed
        if self.is_attached:
            bar = self.query_one("#export-progress", ProgressBar)
            bar.set_class(failed, "-failed")
            # A failure hides the bar: a figure short of 100 % would read as still running,
            # and the message says that it failed.
            bar.display = not failed
            self.redraw()

    def action_close(self) -> None:
        self.dismiss(None)
