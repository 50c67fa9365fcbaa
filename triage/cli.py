"""The `triage` command: the desk app by default, plus validate and route for flow editors.

Exit codes: 0 ok, 1 bad input or failed validation, 2 usage, 70 an unforeseen failure (its
full report goes to a file in the user's state folder; the person sees one line). The UI
(Textual) is imported only when the desk starts, so the other commands stay quick.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TextIO

from triage import paths
from triage.dates import EARLIEST, DayError, parse_day, parse_moment
from triage.i18n import count, problem_text, t
from triage.load import Loaded, load
from triage.model import Problem

COMMANDS = (
    "desk",
    "validate",
    "route",
    "spool",
    "check",
    "purge",
    "summary",
    "export",
    "rebalance",
    "demo",
    "report",
    "queue",
    "board",
    "kiosk",
    "config",
    "db",
    "serve",
)
# Commands that only read (or delete) what a database holds: they never create one.
READS_EXISTING = ("check", "purge", "summary", "export", "rebalance", "report", "queue")
# `triage demo` at most: a century of days, a large country's footfall, and some 10 minutes.
DEMO_MAX_DAYS = 36_500
DEMO_MAX_PER_DAY = 100_000
DEMO_MAX_TOTAL = 50_000_000
CRASH_EXIT = 70  # EX_SOFTWARE: a fault in triage itself, not in what it was given
SQLITE_HEADER = b"SQLite format 3\0"  # the first 16 bytes of every SQLite database file
# --period's names (as triage.overview.PERIOD_OPTIONS, which is not loaded to parse) and the
# desk's channels.
PERIOD_NAMES = ("today", "this-week", "30-days", "this-year", "last-week", "last-month")
CHANNELS = ("in_person", "phone", "kiosk")
USAGE_EXIT = 2
# Commands that keep running all day: a password on their command line would stay in the
# process list, readable by every user of the machine, for hours.
LONG_RUNNING = ("desk", "kiosk", "board", "serve")


class DateOption(argparse.Action):
    """The one type of every date option: --from, --to, --before, --end (a day) and --at (a
    time, `read=parse_moment`). Read as the option is read, so a command gets a date. One that
    cannot be read is kept with the option's name and said, in --lang's language, before the
    command runs: bad input (exit 1), not a usage error, so argparse's own error is not used."""

    def __init__(
        self,
        option_strings: list[str],
        dest: str,
        read: Callable[[str], date] = parse_day,
        **kwargs: Any,
    ) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.read = read

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        wrong = dict(getattr(namespace, "wrong_dates", None) or {})  # by option: the last counts
        wrong.pop(self.dest, None)
        try:
            setattr(namespace, self.dest, self.read(values))
        except DayError as error:
            setattr(namespace, self.dest, None)
            wrong[self.dest] = DayError(
                f"{error.code}_option", option=option_string, **error.params
            )
        namespace.wrong_dates = wrong


def _dates_readable(args: argparse.Namespace) -> bool:
    """False (after saying which option holds what) when a date option could not be read."""
    wrong = (getattr(args, "wrong_dates", None) or {}).values()
    for error in wrong:
        print(t(error.code, args.lang, **error.params), file=sys.stderr)
    return not wrong


class _Version(argparse.Action):
    """--version, from the installed package's metadata (looked up only when asked for)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings,
            dest=argparse.SUPPRESS,
            default=argparse.SUPPRESS,
            nargs=0,
            help="print triage's version and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"triage {package_version()}")
        parser.exit()


def package_version() -> str:
    """The installed package's version (pyproject.toml's, as pip installed it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("triage")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


class UsageError(Exception):
    """A command line argparse could not read: its English message and the parser's name, said
    in the person's language by `_usage_text` (exit 2)."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.message = message
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse, whose errors are raised (as UsageError) instead of printed in English: `main`
    says them in Danish or English. Sub-commands' parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)


# argparse's messages (Python 3.11 and later), read back into a text key and its parameters.
_USAGE_PATTERNS = (
    ("use_invalid_int", r"argument (?P<option>\S+): invalid int value: (?P<value>.*)"),
    ("use_invalid_float", r"argument (?P<option>\S+): invalid float value: (?P<value>.*)"),
    (
        "use_command",
        r"argument COMMAND: invalid choice: (?P<value>.*?) \(choose from (?P<choices>.*)\)",
    ),
    (
        "use_invalid_choice",
        r"argument (?P<option>\S+): invalid choice: (?P<value>.*?) \(choose from (?P<choices>.*)\)",
    ),
    ("use_needs_value", r"argument (?P<option>\S+): expected one argument"),
    ("use_no_value", r"argument (?P<option>\S+): ignored explicit argument (?P<value>.*)"),
    ("use_required", r"the following arguments are required: (?P<options>.*)"),
    ("use_unknown", r"unrecognized arguments: (?P<words>.*)"),
    ("use_ambiguous", r"ambiguous option: (?P<option>\S+) could match (?P<choices>.*)"),
)


def _usage_text(
    error: UsageError, lang: str, parser: argparse.ArgumentParser, argv: list[str]
) -> str:
    """A usage error as a sentence that says what is wrong and what to do, in `lang`."""
    import difflib

    prog = error.prog
    for code, pattern in _USAGE_PATTERNS:
        found = re.fullmatch(pattern, error.message)
        if found is None:
            continue
        params = {k: v.replace("'", "") for k, v in found.groupdict().items()}
        if code == "use_unknown":
            # Told by the top parser: name the command typed, and the option meant, if close.
            command = _subparser(parser, argv[0] if argv else "")
            if command is not None:
                prog = command.prog
                known = [o for a in command._actions for o in a.option_strings]
                words = params["words"].split()
                if words[0].startswith("-"):  # the option, not the value typed after it
                    params["words"] = words[0].split("=")[0]
                near = difflib.get_close_matches(words[0].split("=")[0], known, n=1)
                if near:
                    code, params["near"] = "use_unknown_near", near[0]
        return t(code, lang, prog=prog, **params)
    return t("use_other", lang, prog=prog, message=error.message)


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    """The parser of the command `name`, or None."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


def _parent(name: str, **keywords: Any) -> _Parser:
    """A parser holding one option, for other parsers' `parents`."""
    parent = _Parser(add_help=False)
    parent.add_argument(name, **keywords)
    return parent


def _data(help_text: str) -> _Parser:
    """--data: the folder of data files (flow, sites, cases)."""
    return _parent("--data", type=Path, default=None, help=help_text)


def _period_options(example: str, default: str) -> _Parser:
    """--from and --to: the first and last day of a period, both included."""
    period = _parent(
        "--from",
        dest="start",
        action=DateOption,
        help=f"first day, e.g. {example} (default: {default})",
    )
    period.add_argument(
        "--to", dest="end", action=DateOption, help="last day, included (default: today)"
    )
    return period


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; `only="desk"`: of the desk alone (it starts quicker)."""
    parser = _Parser(
        prog="triage",
        description="Reception desk triage for a jobcentre. Without a command: start the desk app.",
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # The option blocks several commands share, as parent parsers.
    lang = _parent("--lang", choices=("da", "en"), default="da", help="language (default: da)")
    flow = [
        _data(
            "folder with flow.toml, sites.toml and cases.toml (default: the shipped "
            "Copenhagen flow)"
        ),
        lang,
    ]
    db = _parent(
        "--db", help="SQLite file or database URL (default: triage.db in the user's data folder)"
    )
    desk = sub.add_parser("desk", parents=[*flow, db], help="start the desk app (the default)")
    desk.set_defaults(func=cmd_desk)
    desk.add_argument("--site", help="the site this desk is at (an id from sites.toml)")
    desk.add_argument(
        "--desk",
        default="skranke-1",
        help="this desk's short id: letters a-z, digits, hyphens, at most 32 (default: skranke-1)",
    )
    desk.add_argument(
        "--theme", help="colour theme, e.g. triage-hoj-kontrast (high contrast), textual-light"
    )
    desk.add_argument(
        "--channel",
        choices=("in_person", "phone"),
        default="in_person",
        help="each citizen's channel unless F3 changes it (default: in_person; "
        "phone for a phone desk)",
    )
    desk.add_argument(
        "--training",
        action="store_true",
        help="practise on a demo database of its own in the user's data folder "
        "(never the real one); its visits are marked demo",
    )
    spool_dir = "spool folder (default: spool/ in the user's data folder)"
    desk.add_argument("--spool-dir", type=Path, help=spool_dir)
    if only == "desk":  # the desk starts sooner without the other commands' parsers
        return parser

    # Every command that works on the visit log: the database, its spool, the language.
    store = [
        db,
        _parent(
            "--spool-dir",
            type=Path,
            help="spool folder (default: spool/ in the user's data folder)",
        ),
        lang,
    ]
    sites = _parent("--site", action="append", help="only this site (repeat for more)")
    no_demo = _parent("--no-demo", action="store_true", help="leave demo visits out")
    last_30_days = _period_options("2026-11-01", "30 days ago")
    # What summary and export count: a named period instead of --from/--to, and filters.
    chosen = _parent(
        "--period",
        metavar="NAME",
        help="a named period instead of --from/--to: " + "|".join(PERIOD_NAMES),
    )
    chosen.add_argument(
        "--channel",
        action="append",
        metavar="CHANNEL",
        help="only visits by this channel: " + "|".join(CHANNELS) + " (repeat for more)",
    )
    chosen.add_argument(
        "--group",
        action="append",
        metavar="NAME",
        help="only this errand group: the first question's answer, by its number or the start "
        "of its text, e.g. 1 or sygdom (repeat for more)",
    )

    validate = sub.add_parser(
        "validate", parents=flow, help="check the flow, sites and cases; exit 1 on errors"
    )
    validate.set_defaults(func=cmd_validate)
    validate.add_argument(
        "--warnings", action="store_true", help="list the warnings too (always counted)"
    )
    validate.add_argument("--tree", action="store_true", help="print the whole flow as a tree")
    validate.add_argument(
        "--mermaid", type=Path, metavar="FILE", help="write the flow as a Mermaid flowchart"
    )

    route = sub.add_parser(
        "route", parents=flow, help="print the outcome for answers given on the command line"
    )
    route.set_defaults(func=cmd_route)
    route.add_argument(
        "answers", nargs="*", help="keys (1-9), postcodes (2400) or - for a declined postcode"
    )
    route.add_argument("--site", help="the desk's own site, for 'here' (default: from sites.toml)")
    route.add_argument(
        "--at",
        action=DateOption,
        read=parse_moment,
        help="pretend it is this local time, e.g. 2026-11-23T10:30 (for hours)",
    )
    route.add_argument("--json", action="store_true", help="print JSON for machines")

    spool = sub.add_parser(
        "spool", parents=store, help="visits saved locally because the database did not answer"
    )
    spool.set_defaults(func=cmd_spool)
    spool.add_argument(
        "action", choices=("status", "flush"), help="status: what waits; flush: send it now"
    )

    check = sub.add_parser(
        "check",
        parents=store,
        help="check the database, its triggers and every rollup "
        "against the visits; exit 1 on a problem",
    )
    check.set_defaults(func=cmd_check)
    check.add_argument(
        "--repair",
        action="store_true",
        help="rebuild wrong rollups from the visit detail (purged days keep their "
        "figures), put back missing triggers and a lost schema version, and "
        "say what changed",
    )

    summary = sub.add_parser(
        "summary",
        parents=[
            last_30_days,
            chosen,
            sites,
            no_demo,
            _data("data folder (for site names and targets)"),
            *store,
        ],
        help="footfall figures for a period: table, JSON or CSV",
    )
    summary.set_defaults(func=cmd_summary)
    summary.add_argument("--format", choices=("table", "json", "csv"), default="table")
    summary.add_argument(
        "--tui", action="store_true", help="open the supervisor's overview in the terminal"
    )

    export = sub.add_parser(
        "export",
        parents=[
            last_30_days,
            chosen,
            sites,
            no_demo,
            _data("data folder (for site names, targets, service times)"),
            *store,
        ],
        help="files for planners: footfall tables or visit rows as CSV, Excel or JSON",
    )
    export.set_defaults(func=cmd_export)
    export.add_argument(
        "--format", choices=("csv", "xlsx", "json"), default="xlsx", help="default: xlsx"
    )
    export.add_argument(
        "--out",
        required=True,
        help="the file to write (a folder for the tables as CSV: one file per table)",
    )
    export.add_argument(
        "--visits", action="store_true", help="one row per visit instead of the tables"
    )
    export.add_argument(
        "--excel-da", action="store_true", help="CSV for Danish Excel: semicolons, decimal commas"
    )
    export.add_argument(
        "--min-count",
        type=int,
        default=0,
        metavar="K",
        help="leave counts below K empty (for files leaving the organisation)",
    )
    export.add_argument(
        "--wait-minutes", type=float, default=10.0, help="staffing: target wait (default 10)"
    )
    export.add_argument(
        "--wait-share",
        type=float,
        default=0.8,
        help="staffing: share of citizens who must wait less than that (default 0.8)",
    )

    rebalance = sub.add_parser(
        "rebalance",
        parents=[
            _period_options("2026-01-01", "a year ago"),
            no_demo,
            _data("data folder to start from"),
            *store,
        ],
        help="propose moving postcodes between jobcentres to even out their load",
    )
    rebalance.set_defaults(func=cmd_rebalance)
    rebalance.add_argument(
        "--out",
        required=True,
        help="folder for the changed copy of the data files (check it with triage validate --data)",
    )
    rebalance.add_argument(
        "--max-moves", type=int, default=10, help="at most this many postcodes (default 10)"
    )
    rebalance.add_argument(
        "--force", action="store_true", help="replace an earlier proposal in the --out folder"
    )

    demo = sub.add_parser(
        "demo",
        parents=[_data("data folder (default: the shipped flow)"), *store],
        help="fill a database with synthetic demo visits (marked demo)",
    )
    demo.set_defaults(func=cmd_demo)
    demo.add_argument(
        "--days", type=int, default=365, help="how many days back from --end (default 365)"
    )
    demo.add_argument(
        "--per-day",
        type=int,
        default=1500,
        help="visits on an ordinary Tuesday, all sites (default 1500)",
    )
    demo.add_argument("--seed", type=int, default=2006, help="the same seed gives the same visits")
    demo.add_argument(
        "--end",
        action=DateOption,
        help="day after the last demo day (default: tomorrow: the history ends today, with the "
        "hours gone by)",
    )

    purge = sub.add_parser(
        "purge",
        parents=store,
        help="delete visit detail before a date; its counts stay in the rollups",
    )
    purge.set_defaults(func=cmd_purge)
    purge.add_argument(
        "--before", required=True, action=DateOption, help="first day to keep, e.g. 2025-01-01"
    )
    purge.add_argument("--dry-run", action="store_true", help="only say what would happen")

    report = sub.add_parser(
        "report",
        parents=[no_demo, _data("data folder (for site names, targets, counters)"), *store],
        help="the committee's monthly report: one HTML file to mail and print on A4",
    )
    report.set_defaults(func=cmd_report)
    report.add_argument("--month", help="the month, e.g. 2026-10 (default: last month)")
    report.add_argument("--out", required=True, help="the HTML file to write")
    report.add_argument("--force", action="store_true", help="replace an existing file")

    queue = sub.add_parser(
        "queue",
        parents=[sites, _data("data folder (for the queues and site names)"), db, lang],
        help="the ticket queue: who waits now, per queue, the longest wait, the desks serving",
        # `queue status --help` lands here: status is its one action, so this is status's help.
        description="triage queue status: for each site with queues (or --site), how many wait "
        "in each queue and the longest wait, and the desks serving now; --format json for "
        "other programs. It only reads the database.",
    )
    queue.set_defaults(func=cmd_queue_status, spool_dir=None)
    queue.add_argument("action", choices=("status",), help="status: who waits now")
    queue.add_argument("--format", choices=("table", "json"), default="table")

    board = sub.add_parser(
        "board",
        parents=[_data("data folder (for the queues and site names)"), db, lang],
        help="the waiting-room board: the last numbers called and to which desk, full screen",
    )
    board.set_defaults(func=cmd_board, spool_dir=None)
    board.add_argument("--site", help="the site whose waiting room it is (default: the area's)")
    # --- kiosk15: the citizens' own check-in screen
    kiosk_data = _data(
        "folder with flow.toml, sites.toml, cases.toml and queues.toml (default: the shipped "
        "Copenhagen flow)"
    )
    kiosk = sub.add_parser(
        "kiosk",
        parents=[kiosk_data, lang, db],
        help="the citizens' check-in screen: touch (or keys), a ticket here or the way elsewhere",
    )
    kiosk.set_defaults(func=cmd_kiosk)
    kiosk.add_argument("--site", help="the site the kiosk is at (an id from sites.toml)")
    kiosk.add_argument("--spool-dir", type=Path, help=spool_dir)

    # --- config16: the settings file
    config = sub.add_parser(
        "config",
        parents=[lang],
        help="check the settings file (triage.toml), or show the settings in effect",
    )
    config.set_defaults(func=cmd_config)
    config.add_argument(
        "action", choices=("check", "show"), help="check: find what is wrong; show: what applies"
    )
    config.add_argument(
        "--for",
        dest="role",
        choices=("desk", "kiosk", "board"),
        default="desk",
        help="show: the settings this command takes (default: desk)",
    )

    # --- serve16: the roles in a browser
    serve = sub.add_parser(
        "serve",
        parents=[lang],
        help="serve the desk, kiosk, board and overview to a browser, each on its own port",
        description="Serve the desk, the kiosk, the board and the supervisor's overview to "
        "browsers, each role on its own port (the desk on --port, then the kiosk, the board and "
        "the overview), until Ctrl+C. A page may choose its site and desk: ?site=…&desk=….",
    )
    serve.set_defaults(func=cmd_serve, spool_dir=None)
    serve.add_argument(
        "--role",
        action="append",
        choices=("desk", "kiosk", "board", "overview"),
        help="a role to serve (repeat for more; default: all four)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=8000,
        help="the desk's port; the kiosk, board and overview get the next three (default: 8000)",
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the address browsers use via the reverse proxy, e.g. https://triage.example.dk "
        "(each role at URL/ROLE)",
    )
    # Own names, so the settings file does not fill them: the served commands read it themselves.
    serve.add_argument(
        "--data",
        dest="serve_data",
        type=Path,
        metavar="DIR",
        help="the data folder (default: the settings')",
    )
    serve.add_argument(
        "--site", dest="serve_site", metavar="ID", help="the site (default: the settings')"
    )
    serve.add_argument(
        "--desk", dest="serve_desk", metavar="NAME", help="the desk's id (default: the settings')"
    )
    serve.add_argument(
        "--db", dest="serve_db", metavar="PATH|URL", help="SQLite file or database URL, no password"
    )

    database = sub.add_parser(
        "db",
        help="roles: the PostgreSQL roles for desks, kiosks, supervisors and the owner (least "
        "privilege)",
        description="The database on PostgreSQL. triage db roles prints the SQL for four roles "
        "(desks, kiosks, supervisors, the owner who migrates), each with no more rights than it "
        "needs; with --apply it runs it.",
    )
    database.set_defaults(spool_dir=None)
    # A subcommand of its own, so that `triage db roles --help` says what roles takes.
    actions = database.add_subparsers(dest="action", required=True)
    roles = actions.add_parser(
        "roles",
        parents=[db, lang],
        help="print (or --apply) the SQL for the roles",
        description="Print the SQL for the PostgreSQL roles of desks, supervisors and the owner "
        "(least privilege), or run it on --db with --apply (as the database's owner).",
    )
    roles.set_defaults(func=cmd_db_roles, spool_dir=None)
    roles.add_argument(
        "--prefix", default="triage", help="the roles' names begin with it (default: triage)"
    )
    roles.add_argument(
        "--apply", action="store_true", help="run the SQL on --db now (as its owner)"
    )
    return parser


def _with_config_option(parser: argparse.ArgumentParser) -> None:
    """--config FILE on every command, after the command's name like its other options."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                if any(isinstance(a, argparse._SubParsersAction) for a in command._actions):
                    _with_config_option(command)  # on `db roles`, not on `db`
                    continue
                command.add_argument(
                    "--config",
                    type=Path,
                    metavar="FILE",
                    help="settings file (default: triage.toml in the user's config folder)",
                )


def _reason(error: Exception) -> str:
    """What the database driver (or the OS) said went wrong, in one line."""
    from triage.spool import one_line

    return one_line(error)


def _why(error: Exception, lang: str) -> str:
    """Why the database or a file failed, said in `lang` where the cause is known (a damaged
    file, no right to write, a full disk, …); else the driver's or the system's own words."""
    from triage.db.errors import db_cause
    from triage.errors import os_cause

    inner = getattr(error, "orig", None) or error
    if isinstance(inner, OSError):  # a file's error number says it; its words are English
        found = os_cause(inner)
        return _reason(error) if found == "other" else t(f"why_os_{found}", lang)
    cause = db_cause(error)
    return _reason(error) if cause is None else t(f"why_db_{cause}", lang)


def _say_write_failed(error: OSError, typed: Path | str, lang: str) -> int:
    """A file (or folder) the person named with --out that could not be written: named as
    typed (not a hidden temporary file beside it), why in plain words, advice for that cause."""
    from triage.errors import os_cause

    cause = os_cause(error)
    reason = _why(error, lang)
    if cause == "not_folder":  # name the part of the path that is a file
        part = next((p for p in Path(typed).parents if p.exists()), None)
        if part is not None and not part.is_dir():
            reason = t("why_file_in_path", lang, part=part)
    advice = t(f"write_advice_{cause}", lang)
    print(t("write_failed", lang, path=typed, reason=reason, advice=advice), file=sys.stderr)
    return 1


def _unreachable_key(error: Exception) -> str:
    """A locked database needs the other program closed, not the path checked; a refused
    login needs its password put right."""
    from triage.db.errors import db_cause

    cause = db_cause(error)
    if cause == "login":
        return "db_login_refused"
    return "db_locked_command" if cause == "locked" else "db_unreachable"


def _about_db(key: str, args: argparse.Namespace, **params: Any) -> str:
    """A message about the command's database in args.lang: the database named as a person may
    see it (no password) unless `db` is given, and where it was given (--db, TRIAGE_DB_URL,
    the settings file or the default)."""
    params.setdefault("db", _db_label(args))
    return t(key, args.lang, source=_db_source(args), **params)


def _said_damaged(error: Exception, args: argparse.Namespace) -> str:
    """A database file that is no database, or one with damaged pages: the latter told plainly
    to restore a backup (nothing else brings the lost pages back)."""
    from triage.db.errors import db_cause

    key = "db_corrupt" if db_cause(error) == "corrupt" else "db_damaged"
    return _about_db(key, args, reason=_why(error, args.lang))


def _hide_password(text: str) -> str:
    """A --db URL (or anything holding one) for messages and reports, without its password."""
    from triage.config import hide_secrets

    return hide_secrets(text)


def refuse_memory_db(args: argparse.Namespace) -> bool:
    """True (after saying why) when --db is a database in memory: everything written there
    (a visit the desk confirmed, a flushed spool, a demo) would vanish when triage exits."""
    if paths.sqlite_file(args.db) != paths.MEMORY:
        return False
    said = t("db_in_memory", args.lang, db=args.db, source=_db_source(args))
    print(said, file=sys.stderr)
    return True


def _server_url_usable(args: argparse.Namespace) -> bool:
    """False (after saying why) when --db is a URL that can never work: not a URL, an unknown
    kind of database, a port that is no number, or a driver that is not installed. The desk
    would otherwise start and keep every visit in the spool for ever. Only URLs pay for the
    check (it loads SQLAlchemy); a plain file path is checked when the desk opens it."""
    if not args.db or "://" not in args.db or args.db.startswith("sqlite"):
        return True
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(args.db)
        url.port  # noqa: B018 - a port that is no number raises here
        url.get_dialect().import_dbapi()
    except (ArgumentError, ImportError, ValueError) as error:
        print(
            _about_db("db_bad_url", args, reason=_url_reason(error, args)),
            file=sys.stderr,
        )
        return False
    return True


def _url_reason(error: Exception, args: argparse.Namespace) -> str:
    """Why a --db URL can never work, in the person's language (not the driver's English)."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    lang, db = args.lang, str(args.db or "")
    scheme = db.split("://", 1)[0] if "://" in db else ""
    if isinstance(error, NoSuchModuleError):
        return t("url_unknown_kind", lang, kind=scheme or db)
    if isinstance(error, ImportError):
        kind = scheme.split("+")[0]
        if kind.startswith("postgres") and (error.name or "").startswith("psycopg"):
            return t("url_no_postgres_driver", lang)
        return t("url_no_driver", lang, driver=error.name or scheme, kind=kind)
    if isinstance(error, ArgumentError):
        return t("url_not_a_url", lang)
    port = re.search(r"invalid literal for int\(\) with base 10: '(.*)'", str(error))
    if port:
        return t("url_port", lang, port=port.group(1))
    return _reason(error)


def _not_a_database(args: argparse.Namespace, must_hold_one: bool) -> bool:
    """True (after saying why) when --db is an existing file that is no SQLite database, read
    from its first 16 bytes before any database code loads; with `must_hold_one` (commands
    that only read) an empty file too, which opening would turn into an empty database."""
    target = paths.sqlite_file(args.db)
    if not isinstance(target, Path) or not target.is_file():
        return False
    try:
        with open(target, "rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except OSError:
        return False  # opening it says why
    if head == SQLITE_HEADER or (not head and not must_hold_one):
        return False
    reason = t("db_empty_file" if not head else "db_not_sqlite", args.lang)
    print(
        t(
            "db_damaged",
            args.lang,
            db=_hide_password(str(args.db or target)),
            source=_db_source(args),
            reason=reason,
        ),
        file=sys.stderr,
    )
    return True


def _refuse_folder(args: argparse.Namespace) -> bool:
    """True (after saying why) when the database path is a folder: a desk or kiosk would
    start, and keep every visit in the spool for ever."""
    target = paths.sqlite_file(args.db)
    if not isinstance(target, Path) or not target.is_dir():
        return False
    print(t("db_is_folder", args.lang, path=target, source=_db_source(args)), file=sys.stderr)
    return True


def _disk_full(error: BaseException, args: argparse.Namespace) -> bool:
    """A database write that failed because the disk (or the file size limit) is full. SQLite
    often reports that as a plain I/O error: then the free space of the file's folder tells."""
    import errno
    import shutil

    cause = getattr(error, "orig", None) or error
    if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    name = getattr(cause, "sqlite_errorname", "")
    if name == "SQLITE_FULL":
        return True
    target = paths.sqlite_file(args.db)
    if not name.startswith("SQLITE_IOERR") or not isinstance(target, Path):
        return False
    try:
        return shutil.disk_usage(target.absolute().parent).free < 1024 * 1024
    except OSError:
        return False


def _read_only(target: Path) -> bool:
    """A database file, or the folder a new one would be made in (with SQLite's journal
    beside it), that this user may not write."""
    folder = target.absolute().parent
    if target.exists() and not os.access(target, os.W_OK):
        return True
    return folder.is_dir() and not os.access(folder, os.W_OK)


def _demo_failure(error: BaseException, args: argparse.Namespace) -> str:
    """The message for a demo load that failed, with advice for its cause."""
    import errno

    if _disk_full(error, args):
        return "demo_failed_full"
    cause = getattr(error, "orig", None) or error
    name, said = getattr(cause, "sqlite_errorname", ""), str(cause).lower()
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in said:
        return "demo_failed_locked"
    if (
        name.startswith("SQLITE_READONLY")
        or "readonly" in said
        or getattr(cause, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS)
    ):
        return "demo_failed_read_only"
    return "demo_failed"


def _remove_database_files(path: Path) -> None:
    """Remove a database file this command made (and SQLite's files beside it)."""
    for name in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm", "-journal"))):
        with contextlib.suppress(OSError):
            name.unlink(missing_ok=True)


def _db_label(args: argparse.Namespace) -> str:
    """The database a command works on, for messages (no password)."""
    label = getattr(args, "store_label", None) or getattr(args, "db", None)
    return _hide_password(str(label or paths.default_db_path()))


def _db_source(args: argparse.Namespace) -> str:
    """Where the database a command uses was named, as a sentence for its messages: the option,
    TRIAGE_DB_URL, the settings file (with its line) or the default. A person fixes it there."""
    origin = getattr(args, "db_origin", None) or ("option" if getattr(args, "db", None) else "")
    if origin == "file":
        line = args.db_line or "?"
        return t("db_from_file", args.lang, path=args.settings_file, line=line)
    if origin == "environment":
        return t("db_from_environment", args.lang)
    if origin == "option":
        return t("db_from_option", args.lang)
    return t("db_from_default", args.lang)


def _store_label(args: argparse.Namespace, store) -> str:
    """A SQLite database by its file, as typed (a URL's path, not sqlite:////…); a server by
    its URL without the password."""
    target = paths.sqlite_file(args.db)
    if isinstance(target, Path):
        return str(args.db if args.db and "://" not in args.db else target)
    return store.describe()


def _open_store(args: argparse.Namespace):
    """The store named by --db, opened; None (after saying why) when it cannot be used."""
    if refuse_memory_db(args):
        return None
    target = paths.sqlite_file(args.db)
    if args.command in READS_EXISTING and isinstance(target, Path) and not target.exists():
        # Opening it would create an empty database and report 0 visits: say what is wrong.
        print(t("db_missing", args.lang, path=target, source=_db_source(args)), file=sys.stderr)
        return None
    if _not_a_database(args, must_hold_one=args.command in READS_EXISTING):
        return None
    return _opened(args)


def _opened(args: argparse.Namespace):
    from sqlalchemy.exc import ArgumentError, DatabaseError

    from triage.db.connect import UNAVAILABLE
    from triage.db.errors import DbError
    from triage.db.store import Store

    lang = args.lang
    try:
        store = Store(args.db, spool_dir=args.spool_dir)
    except (ArgumentError, ImportError, ValueError) as error:  # not a URL, or no such driver
        print(
            _about_db("db_bad_url", args, reason=_url_reason(error, args)),
            file=sys.stderr,
        )
        return None
    except OSError as error:  # the default folder cannot be made
        reason = _why(error, lang)
        print(
            _about_db("db_unreachable", args, reason=reason),
            file=sys.stderr,
        )
        return None
    args.store_label = _store_label(args, store)
    if args.command == "check":
        return store  # check reads what is there, as it is: opening could put triggers back
    try:
        store.open()
    except DbError as error:
        code = "db_newer_command" if error.code == "db_newer" else error.code  # not the desk's
        params = {"db": store.describe(), "source": _db_source(args), **error.params}
        print(t(code, lang, **params), file=sys.stderr)
    except UNAVAILABLE as error:
        key = "db_disk_full" if _disk_full(error, args) else _unreachable_key(error)
        print(
            _about_db(key, args, reason=_why(error, lang)),
            file=sys.stderr,
        )
    except DatabaseError as error:  # not a database at all, or a damaged one
        if _database_trouble(error) == "db_denied":  # or a role that may not read it
            print(_about_db("db_denied", args), file=sys.stderr)
        else:
            print(_said_damaged(error, args), file=sys.stderr)
    else:
        return store
    store.dispose()
    return None


def _print_problems(
    problems: list[Problem], lang: str, stream=None, with_warnings: bool = True
) -> None:
    stream = stream or sys.stdout
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"] if with_warnings else []
    for heading, group in (("heading_errors", errors), ("heading_warnings", warnings)):
        if group:
            print(f"{t(heading, lang)}:", file=stream)
            # In file order, so an editor can work down the file (checks run in passes).
            in_order = sorted(group, key=lambda p: (p.file, p.line is None, p.line or 0))
            for problem in in_order:
                print(f"  {problem_text(problem, lang)}", file=stream)


def _load_usable(
    data: Path, lang: str, check_cases: bool = False, keep_parsed: bool = False
) -> Loaded | None:
    """Load data; on errors print them and the way forward, and return None."""
    loaded = load(data, check_cases=check_cases, keep_parsed=keep_parsed)
    if not loaded.ok:
        _print_problems(loaded.errors, lang, sys.stderr)
        print(t("flow_invalid", lang, data=data), file=sys.stderr)
        return None
    return loaded


def _usable_flow(args: argparse.Namespace, check_cases: bool = False, keep_parsed: bool = False):
    """The flow from --data (or the shipped one), or None after listing why it cannot be used.
    keep_parsed: the files' parse is kept in the user's cache (the desk: on every start)."""
    data = args.data or paths.default_data_dir()
    loaded = _load_usable(data, args.lang, check_cases, keep_parsed)
    return loaded.flow if loaded is not None else None


def _site_known(flow, site: str, lang: str) -> bool:
    if site in flow.sites:
        return True
    print(t("unknown_site", lang, site=site, sites=", ".join(flow.sites.sites)), file=sys.stderr)
    return False


def cmd_validate(args: argparse.Namespace) -> int:
    data = args.data or paths.default_data_dir()
    loaded = load(data, check_searches=True, queues=True)
    lang = args.lang
    _print_problems(loaded.problems, lang, with_warnings=args.warnings)
    if not loaded.ok:  # the problems above are the report; what it means goes to stderr
        _print_search_check(loaded, lang)
        print(
            t(
                "validate_failed",
                lang,
                errors=len(loaded.errors),
                warnings=len(loaded.warnings),
                data=data,
            ),
            file=sys.stderr,
        )
        return 1
    flow = loaded.flow
    assert flow is not None
    if args.tree:
        from triage.diagram import tree
        from triage.terminal import show

        show(tree(flow, lang), sys.stdout)
    if args.mermaid:
        from triage.diagram import mermaid

        try:
            args.mermaid.write_text(mermaid(flow, lang), encoding="utf-8")
        except OSError as error:
            print(
                t("mermaid_unwritable", lang, path=args.mermaid, reason=error.strerror or error),
                file=sys.stderr,
            )
            return 1
        print(t("mermaid_written", lang, path=args.mermaid))
    # With --tree, stdout is the tree alone (`--tree > file`); the verdict goes beside it.
    verdict = sys.stderr if args.tree else sys.stdout
    print(
        t(
            "validate_ok",
            lang,
            questions=len(flow.questions),
            outcomes=len(flow.outcomes),
            cases=len(loaded.cases),
            warnings=len(loaded.warnings),
            version=flow.short_version,
        ),
        file=verdict,
    )
    _print_search_check(loaded, lang, verdict)
    return 0


def cmd_queue_status(args: argparse.Namespace) -> int:
    lang = args.lang
    data = args.data or paths.default_data_dir()
    loaded = load(data, check_cases=False, queues=True)
    if not loaded.ok or loaded.flow is None or loaded.queues is None:
        _print_problems(loaded.errors, lang, sys.stderr)
        print(t("flow_invalid", lang, data=data), file=sys.stderr)
        return 1
    flow, queues = loaded.flow, loaded.queues
    for site in args.site or ():
        if not _site_known(flow, site, lang):
            return 1
    sites = list(args.site or queues.sites)
    if not sites:
        print(t("queue_none", lang, data=data), file=sys.stderr)
        return 1
    store = _open_store(args)
    if store is None:
        return 1
    from triage.present import local_now
    from triage.queue import Tickets

    now = local_now()
    try:
        found = Tickets(store).status(sites, now)
    finally:
        store.dispose()
    rows = []
    for site in sites:
        status = found.get(site)
        letters = [q.letter for q in queues.at(site)]
        letters += sorted(set(status.queues) - set(letters)) if status else []
        rows.append(
            {
                "site_id": site,
                "site": flow.sites.name_of(site, lang),
                "queues": [
                    {
                        "queue": letter,
                        "name": queues.queues[letter].name(lang) if letter in queues.queues else "",
                        "waiting": status.queues[letter].waiting
                        if status and letter in status.queues
                        else 0,
                        "longest_wait_s": status.queues[letter].longest_s
                        if status and letter in status.queues
                        else 0,
                    }
                    for letter in letters
                ],
                "desks_serving": status.desks if status else [],
            }
        )
    if args.format == "json":
        at = now.isoformat(timespec="minutes")
        print(json.dumps({"at": at, "sites": rows}, ensure_ascii=False, indent=2))
        return 0
    print(t("queue_heading", lang, date=f"{now:%Y-%m-%d}", time=f"{now:%H:%M}"))
    for row in rows:
        print(f"\n{row['site']} ({row['site_id']})")
        if not row["queues"]:
            print(f"  {t('queue_site_has_none', lang)}")
        width = max((len(q["name"]) for q in row["queues"]), default=0)
        for q in row["queues"]:
            waiting = (
                t("queue_waiting", lang, n=q["waiting"], minutes=q["longest_wait_s"] // 60)
                if q["waiting"]
                else t("queue_nobody_waits", lang)
            )
            print(f"  {q['queue']}  {q['name']:<{width}}  {waiting}")
        desks = row["desks_serving"]
        print(
            "  "
            + (
                t("queue_desks", lang, n=len(desks), desks=", ".join(desks))
                if desks
                else t("queue_no_desks", lang)
            )
        )
    return 0


def _print_search_check(loaded: Loaded, lang: str, stream: TextIO | None = None) -> None:
    """The share of searches in search.toml that find the right node first, and the misses."""
    check, flow = loaded.search, loaded.flow
    if check is None or flow is None:
        return
    from triage.load import SEARCH_FILE
    from triage.model import shown
    from triage.search import node_title

    def named(node_id: str) -> str:
        return f"{node_id} ({node_title(flow, node_id, lang)})"

    stream = stream or sys.stdout
    print(
        t("search_share", lang, right=check.right, total=check.total, percent=check.percent),
        file=stream,
    )
    for miss in check.misses:
        where = f"{SEARCH_FILE}:{miss.case.line}" if miss.case.line else SEARCH_FILE
        got = named(miss.got.node_id) if miss.got else t("search_missed_all", lang)
        print(
            t(
                "search_miss",
                lang,
                where=where,
                query=shown(miss.case.query),
                expect=named(miss.case.expect),
                got=got,
            ),
            file=stream,
        )


def cmd_route(args: argparse.Namespace) -> int:
    from triage.present import LOCAL_ZONE, card_for, card_text
    from triage.walk import AnswerError, Walk

    lang = args.lang
    flow = _usable_flow(args)
    if flow is None or (args.site and not _site_known(flow, args.site, lang)):
        return 1
    moment = args.at
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_ZONE)
    walk = Walk.start(flow)
    for answer in args.answers:
        try:
            walk = walk.answer(answer)
        except AnswerError as error:
            print(t(error.code, lang, **error.params), file=sys.stderr)
            return 1
    if not walk.finished:
        question = walk.question
        assert question is not None
        print(t("route_incomplete", lang, question=question.text(lang)), file=sys.stderr)
        if question.asks_postcode:
            print(t("route_postcode_hint", lang), file=sys.stderr)
        else:
            options = "; ".join(f"{o.key} {o.label(lang)}" for o in question.options)
            print(t("route_next_options", lang, options=options), file=sys.stderr)
        return 1
    card = card_for(walk.result(args.site), lang, moment)
    if args.json:
        print(json.dumps(card.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(card_text(card, lang))
        print(f"{t('answers', lang)}: {' → '.join(card.path)}")
        print(f"{t('version', lang)}: {flow.short_version}")
    return 0


# Flush and status stay short: at most this many lines of reasons or files; the quarantine file
# holds every entry with its reason.
SAY_AT_MOST = 10


def _say_set_aside(records: list[dict], lang: str, path: Path | None = None) -> None:
    """Entries that can never be stored, grouped by reason with counts, the commonest first;
    `path`: the quarantine file they were set aside in (None: not yet)."""
    from collections import Counter

    reasons = Counter(
        t(f"spool_why_{record.get('reason')}", lang, detail=record.get("detail", ""))
        for record in records
    )
    shown = reasons.most_common(SAY_AT_MOST)
    for reason, times in shown:
        print(t("spool2_reason_count", lang, count=times, reason=reason))
    more = len(records) - sum(times for _, times in shown)
    if more:
        print(
            t("spool2_more", lang, count=more, path=path)
            if path
            else t("spool2_more_waiting", lang, count=more)
        )


def _say_files(files, lang: str) -> None:
    """Spool files that cannot be read, and things with a spool file's name that are not one."""
    for spool_file in files[:SAY_AT_MOST]:
        if spool_file.left_alone:
            print(t("spool2_left_alone", lang, path=spool_file.path), file=sys.stderr)
        else:
            print(
                t(
                    "spool_file_unreadable",
                    lang,
                    path=spool_file.path,
                    reason=spool_file.unreadable,
                ),
                file=sys.stderr,
            )
    if len(files) > SAY_AT_MOST:
        print(t("spool2_more_files", lang, count=len(files) - SAY_AT_MOST), file=sys.stderr)


def _counts(entries: list[dict]) -> dict[str, int]:
    visits = sum(1 for entry in entries if "void" not in entry)
    return {"visits": visits, "voids": len(entries) - visits}


def _spool_status(args: argparse.Namespace, root: Path) -> int:
    """What waits, per database (only --db's when given), and what earlier versions left with
    no database recorded; what can never be stored; what was set aside."""
    from triage.spool import Spool, database_identity, database_spools

    lang = args.lang
    if args.db:
        spools = [Spool(root, database=database_identity(args.db))]
    else:
        spools = database_spools(root)
    legacy = Spool(root)
    surveys = [(spool, spool.survey()) for spool in [*spools, legacy]]
    every_file = [f for _, files in surveys for f in files]
    waiting = [e for f in every_file for e in f.entries]
    print(t("spool_status", lang, folder=root, **_counts(waiting)))
    for spool, files in surveys:
        entries = [e for f in files for e in f.entries]
        if not entries:
            continue
        if spool is legacy:
            print(t("spool2_status_legacy", lang, **_counts(entries)))
        else:
            print(t("spool2_status_db", lang, db=spool.database, **_counts(entries)))
        for spool_file in files:
            if spool_file.entries:
                print(f"    {spool_file.path.name}: {len(spool_file.entries)}")
    for _spool, files in surveys:
        unfit = [record for f in files for record in f.unfit]
        if unfit:
            print(t("spool_unfit", lang, count=len(unfit)))
            _say_set_aside(unfit, lang)
    for spool, _ in surveys:
        set_aside = spool.set_aside()
        if set_aside:
            print(t("spool_quarantine", lang, count=len(set_aside), path=spool.quarantine))
    troubled = [f for f in every_file if f.unreadable or f.left_alone]
    _say_files(troubled, lang)
    return 1 if troubled else 0


def cmd_spool(args: argparse.Namespace) -> int:
    """status: what waits, what can never be stored, what was set aside; flush: send what waits
    for --db's database (and what earlier versions spooled with no database recorded) to it.
    Flush exits 0 only when everything that waited for it is in the database."""
    from triage.spool import Spool, SpoolFile, database_identity

    lang = args.lang
    root = args.spool_dir or paths.user_data_dir() / "spool"
    if args.action == "status":
        return _spool_status(args, root)
    store = _open_store(args)
    if store is None:
        spool = Spool(root, database=database_identity(args.db))
        left = sum(len(f.entries) + len(f.unfit) for f in spool.survey(legacy=True))
        print(t("spool_nothing_sent", lang, left=left, folder=spool.directory), file=sys.stderr)
        return 1
    store.replay_spool(legacy=True)
    spool = store.spool
    done = spool.last
    left = sum(len(f.entries) + len(f.unfit) for f in spool.survey(legacy=True))
    print(t("spool_flushed", lang, sent=done.sent, left=left, db=store.describe()))
    if done.set_aside:
        print(t("spool_set_aside", lang, count=len(done.set_aside), path=spool.quarantine))
        _say_set_aside(done.set_aside, lang, spool.quarantine)
    if done.cause:
        print(t("spool_cut_off", lang, cause=done.cause), file=sys.stderr)
    troubled = done.unreadable + [SpoolFile(path, left_alone=True) for path in done.left_alone]
    _say_files(troubled, lang)
    store.dispose()
    return 0 if not (left or done.set_aside or troubled or done.cause) else 1


def cmd_check(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DatabaseError

    from triage.db.connect import UNAVAILABLE
    from triage.db.errors import DbError

    lang = args.lang
    store = _open_store(args)  # not opened: only --repair changes anything
    if store is None:
        return 1
    try:
        if args.repair:
            for line in _repair_lines(store.repair(), lang):
                print(line)
        report = store.check()
    except DbError as error:
        print(t(error.code, lang, source=_db_source(args), **error.params), file=sys.stderr)
        return 1
    except (*UNAVAILABLE, DatabaseError) as error:  # DatabaseError: a damaged file, read half-way
        trouble = _database_trouble(error)
        if trouble == "db_damaged":
            print(_said_damaged(error, args), file=sys.stderr)
        elif trouble == "db_denied":  # name the login it needs, as summary does
            key = "check_repair_denied" if args.repair else "check_denied"
            print(_about_db(key, args), file=sys.stderr)
        else:
            print(
                _about_db(_unreachable_key(error), args, reason=_why(error, lang)),
                file=sys.stderr,
            )
        return 1
    finally:
        store.dispose()
    for line in _check_lines(report, store.describe(), store.dialect, lang):
        print(line)
    return 0 if report["ok"] else 1


def _check_lines(report: dict, db: str, dialect: str, lang: str) -> list[str]:
    """What `triage check` found, one sentence a line: counts, what was checked, each problem,
    and what to do about it."""
    if dialect == "postgresql":
        indexes = t("check_amcheck_used" if report["amcheck"] else "check_amcheck_unused", lang)
        integrity = t("check_integrity_pg", lang, result=report["integrity"], indexes=indexes)
    else:
        integrity = t("check_integrity_sqlite", lang, result=report["integrity"])
    if report["integrity"] != "ok":  # nothing else was read: a damaged file's counts prove nothing
        return [integrity, t("check_integrity_bad", lang)]
    figures = {k: count(report[k], lang) for k in ("visits", "void", "demo", "spooled")}
    lines = [
        t(
            "check_report",
            lang,
            db=db,
            integrity=report["integrity"],
            schema_version=report["schema_version"],
            **figures,
        ),
        integrity,
    ]
    lines.append(t("check_counted", lang, days=count(report["days_checked"], lang)))
    if report["days_without_detail"]:
        days = count(report["days_without_detail"], lang)
        purged_before = report["purged_before"]
        lines.append(
            t("check_purged", lang, days=days, date=purged_before)
            if purged_before
            else t("check_figures_only", lang, days=days)
        )
    for table, wrong in report["rollups"].items():
        source = _source_name(wrong["source"], lang)
        lines.append(
            t(
                "check_rollup_wrong",
                lang,
                table=table,
                source=source,
                rows=count(wrong["rows"], lang),
                found=count(wrong["found"], lang),
                expected=count(wrong["expected"], lang),
            )
        )
    lines += [t("check_index_missing", lang, name=name) for name in report["indexes_missing"]]
    lines += [t("check_trigger_missing", lang, name=name) for name in report["triggers_missing"]]
    lines += [t("check_trigger_changed", lang, name=name) for name in report["triggers_changed"]]
    if report["triggers_restored"]:
        lines.append(t("check_triggers_restored", lang, when=_minute(report["triggers_restored"])))
    lines.append(t("check_ok" if report["ok"] else "check_run_repair", lang))
    return lines


def _minute(stored: str) -> str:
    """2026-11-30T04:12:00+00:00 as 2026-11-30 04:12."""
    return stored[:16].replace("T", " ")


def _source_name(source: str, lang: str) -> str:
    """What a rollup is counted from: the visits, or the rollup it sums."""
    return t("check_source_visits", lang) if source == "visit" else source


def _repair_lines(changes: dict, lang: str) -> list[str]:
    """What `triage check --repair` changed, one line per change."""
    lines = [t("repair_version", lang, version=changes["version"])] if changes["version"] else []
    lines += [t("repair_table", lang, table=table) for table in changes["tables"]]
    lines += [t("repair_trigger", lang, name=name) for name in changes["triggers"]]
    lines += [t("repair_index", lang, name=name) for name in changes["indexes"]]
    for table, wrong in changes["rollups"].items():
        lines.append(
            t(
                "repair_rollup",
                lang,
                table=table,
                rows=count(wrong["rows"], lang),
                source=_source_name(wrong["source"], lang),
            )
        )
    if changes["restored_note"]:
        lines.append(t("repair_restored_note", lang, when=_minute(changes["restored_note"])))
    return lines or [t("repair_nothing", lang)]


def cmd_purge(args: argparse.Namespace) -> int:
    from triage.present import local_now

    lang = args.lang
    before = args.before
    if before > local_now().date():
        # A typo such as 2062 would otherwise wipe every detail row.
        print(t("purge_future", lang, date=before), file=sys.stderr)
        return 1
    store = _open_store(args)
    if store is None:
        return 1
    done = store.purge(before, dry_run=args.dry_run)
    key = "purge_dry_run" if args.dry_run else "purge_done"
    print(t(key, lang, date=before, visits=done["visits"], void=done["void"], days=done["days"]))
    return 0


def _period(args: argparse.Namespace, days: int = 30):
    """(first, last) day from --from/--to, both included: the last `days` days unless given."""
    from datetime import timedelta

    from triage.present import local_now

    if getattr(args, "period", None):
        from triage.overview import PERIOD_OPTIONS, period_dates

        first, after = period_dates(PERIOD_OPTIONS[args.period], local_now().date())
        return first, after - timedelta(days=1)
    last = args.end or local_now().date()
    first = args.start or max(last - timedelta(days=days - 1), EARLIEST)
    return period_usable(first, last, args, local_now().date())


def period_usable(first: date, last: date, args: argparse.Namespace, today: date):
    """(first, last) when the period can be counted: a period that begins after today is
    refused (there is nothing to count), one that ends after today is cut at today, and says
    so; None after saying what is wrong. Every command's --from/--to (and presets) end here."""
    lang = args.lang
    if first > last:
        key = "bad_period" if args.end is not None else "bad_period_to_today"
        print(t(key, lang, start=first, end=last), file=sys.stderr)
        return None
    if first > today:
        print(t("period_future", lang, start=first, today=today), file=sys.stderr)
        return None
    if last > today:
        print(t("period_cut", lang, end=last, today=today), file=sys.stderr)
        last = today
    return first, last


def _period_refused(args: argparse.Namespace) -> bool:
    """True (after saying why) when --period names no period or comes with --from or --to."""
    if args.period is None:
        return False
    if args.period not in PERIOD_NAMES:
        print(
            t("cmp_bad_period", args.lang, value=args.period, names=", ".join(PERIOD_NAMES)),
            file=sys.stderr,
        )
        return True
    if args.start is not None or args.end is not None:
        print(t("cmp_period_and_dates", args.lang, period=args.period), file=sys.stderr)
        return True
    return False


def _chosen_filters(args: argparse.Namespace, flow):
    """Filters from --site, --channel, --group and --no-demo, and the groups' names (for the
    export's about table); None after saying what is wrong."""
    from triage.stats import Filters, errand_groups, find_group

    lang = args.lang
    words = {t(f"channel_{c}", "da").casefold(): c for c in CHANNELS}
    channels = []
    for typed in args.channel or []:
        channel = words.get(typed.strip().casefold(), typed.strip())
        if channel not in CHANNELS:
            known = ", ".join(f"{c} ({t(f'channel_{c}', lang).lower()})" for c in CHANNELS)
            print(t("cmp_bad_channel", lang, value=typed, known=known), file=sys.stderr)
            return None
        channels.append(channel)
    groups = errand_groups(flow)
    outcomes: list[str] = []
    names: list[str] = []
    for typed in args.group or []:
        group = find_group(groups, typed)
        if group is None:
            known = "; ".join(f"{g.key} {g.label(lang)}" for g in groups)
            print(t("cmp_bad_group", lang, value=typed, known=known), file=sys.stderr)
            return None
        outcomes += group.outcomes
        names.append(f"{group.key} {group.label(lang)}")
    filters = Filters(
        sites=tuple(args.site) if args.site else None,
        channels=tuple(dict.fromkeys(channels)) if channels else None,
        outcomes=tuple(dict.fromkeys(outcomes)) if args.group else None,
        include_demo=not args.no_demo,
    )
    return filters, tuple(dict.fromkeys(names))


def _flow_and_period(args: argparse.Namespace, days: int = 30):
    """The usable flow (checking any --site) and the period, or None after saying what is wrong."""
    flow = _usable_flow(args)
    if flow is None or not all(
        _site_known(flow, site, args.lang) for site in getattr(args, "site", None) or []
    ):
        return None
    period = _period(args, days)
    return None if period is None else (flow, *period)


def _out_path(args: argparse.Namespace) -> Path | None:
    """--out as a path; None (after saying so) when it is empty: "" would mean this folder."""
    if not args.out.strip():
        print(t("out_empty", args.lang, option="--out"), file=sys.stderr)
        return None
    out = Path(args.out).expanduser()
    part = next((p for p in out.parents if p.exists()), None)
    if part is not None and not part.is_dir():  # --out notes.xlsx/a.xlsx: said before any work
        print(t("out_parent_is_file", args.lang, part=part, path=out), file=sys.stderr)
        return None
    return out


def _as_typed(number: float) -> str:
    """A number option's value as it was typed: -1, not -1.0."""
    return format(number, "g")


def cmd_export(args: argparse.Namespace) -> int:
    from datetime import timedelta

    lang = args.lang
    if _period_refused(args):
        return USAGE_EXIT
    chosen = _flow_and_period(args)
    if chosen is None:
        return 1
    flow, *period = chosen
    filtered = _chosen_filters(args, flow)
    if filtered is None:
        return 1
    filters, groups = filtered
    for option, value, ok in (
        ("--wait-minutes", args.wait_minutes, args.wait_minutes > 0),
        ("--wait-share", args.wait_share, 0 < args.wait_share < 1),
        ("--min-count", args.min_count, args.min_count >= 0),
    ):
        if not ok:
            key = "exp_bad_share" if option == "--wait-share" else "exp_bad_number"
            print(t(key, lang, option=option, value=_as_typed(value)), file=sys.stderr)
            return 1
    if args.wait_minutes > 24 * 60:  # inf too: a wait of a whole day is the most that means much
        print(
            t(
                "number_between",
                lang,
                option="--wait-minutes",
                low=0,
                high=24 * 60,
                value=_as_typed(args.wait_minutes),
            ),
            file=sys.stderr,
        )
        return 1
    if args.visits and args.min_count > 1:
        print(t("exp_min_count_visits", lang), file=sys.stderr)
        return 1
    out = _out_path(args)
    if out is None:
        return 1
    from triage import export  # the database code loads only now, when the input is usable

    try:
        export.check_target(out, args.format, folder=args.format == "csv" and not args.visits)
    except export.ExportError as error:
        print(t(error.code, lang, **error.params), file=sys.stderr)
        return 1
    store = _open_store(args)
    if store is None:
        return 1
    options = export.Options(
        start=period[0],
        end=period[1] + timedelta(days=1),
        lang=lang,
        filters=filters,
        min_count=args.min_count,
        wait_minutes=args.wait_minutes,
        wait_share=args.wait_share,
        groups=groups,
    )
    from triage.terminal import progress_bar

    try:
        # A bar on a terminal only; without one nothing is counted ahead just to show it.
        with progress_bar(t("expd_working", lang), sys.stderr) as bar:
            shown = bar if bar.shown else None
            if args.visits:
                rows = export.write_visits(
                    store, options, args.format, out, args.excel_da, shown, sites=flow.sites
                )
            else:
                built = export.build(store, flow.sites, options, shown)
                written = export.write(built, args.format, out, args.excel_da)
        if args.visits:
            print(t("exp_done_visits", lang, rows=rows, path=out))
        else:
            print(t("exp_done", lang, files=", ".join(str(p) for p in written)))
    except export.ExportError as error:
        print(t(error.code, lang, **error.params), file=sys.stderr)
        return 1
    except OSError as error:
        return _say_write_failed(error, out, lang)
    finally:
        store.dispose()
    return 0


def cmd_rebalance(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from triage.i18n import count
    from triage.load import load
    from triage.present import local_now
    from triage.rebalance import (
        Context,
        RebalanceError,
        jobcentre_group,
        max_text,
        propose,
        too_few_text,
        write_proposal,
    )

    lang = args.lang
    chosen = _flow_and_period(args, days=365)
    if chosen is None:
        return 1
    flow, *period = chosen
    try:
        jobcentre_group(flow.sites)
    except RebalanceError as error:
        print(t(error.code, lang, **error.params), file=sys.stderr)
        return 1
    if args.max_moves < 1:
        print(
            t("exp_bad_number", lang, option="--max-moves", value=args.max_moves), file=sys.stderr
        )
        return 1
    out = _out_path(args)
    if out is None or not _proposal_folder_usable(out, args.data or paths.default_data_dir(), lang):
        return 1
    if (out.exists() or out.is_symlink()) and not args.force:  # before the database is read
        print(t("reb_out_exists", lang, out=out), file=sys.stderr)
        return 1
    from triage.stats import Filters, postcode_counts, visit_counts  # database code: only now

    store = _open_store(args)
    if store is None:
        return 1
    start, end = period[0], period[1] + timedelta(days=1)
    filters = Filters(include_demo=not args.no_demo)
    try:
        per_postcode = postcode_counts(store, start, end, filters)
        per_site = {k[0]: v for k, v in visit_counts(store, start, end, filters=filters).items()}
        by_hour = ("site_id", "postcode_site_id", "local_hour")
        per_hour = visit_counts(store, start, end, by_hour, filters=filters)
    finally:
        store.dispose()
    proposal = propose(flow.sites, per_postcode, per_site, max_moves=args.max_moves)
    dates = {"start": period[0], "end": period[1]}
    if not any(per_site.get(site) for site in proposal.capacity):  # nothing to propose from
        demo = t("reb_no_visits_demo", lang) if args.no_demo else ""
        print(t("reb_no_visits", lang, demo=demo, **dates), file=sys.stderr)
        return 1
    if not proposal.movable and proposal.too_few:  # a proposal would rest on a few visits
        minimum = proposal.min_visits
        print(t("reb_too_few_refused", lang, minimum=minimum, **dates), file=sys.stderr)
        return 1
    data = args.data or paths.default_data_dir()
    context = Context(period[0], period[1], not args.no_demo, local_now().date(), lang)
    try:  # written before anything is printed: a closed pipe (| head) cannot stop the writing
        cases = write_proposal(data, out, flow.sites, proposal, context, per_hour, force=args.force)
    except RebalanceError as error:
        print(t(error.code, lang, **error.params), file=sys.stderr)
        return 1
    except OSError as error:
        return _say_write_failed(error, out, lang)
    checked = load(out)
    if not checked.ok:
        _print_problems(checked.problems, lang, sys.stderr, with_warnings=False)
        print(t("reb_invalid", lang, out=out), file=sys.stderr)
        return 1
    name = lambda s: flow.sites.name_of(s, lang)  # noqa: E731
    number = lambda n: count(round(n), lang)  # noqa: E731
    print(t("reb_period", lang, start=period[0], end=period[1]))
    if not proposal.moves:
        print(t("reb_no_moves", lang))
    else:
        print(
            f"{t('exp_col_postcode', lang):<12}{t('reb_from', lang):<34}{t('reb_to', lang):<34}"
            f"{t('reb_visits', lang):>10}"
        )
        for m in proposal.moves:
            print(f"{m.postcode:<12}{name(m.source):<34}{name(m.target):<34}{number(m.visits):>10}")
    if proposal.too_few:
        print(too_few_text(proposal, lang))
    print()
    print(
        f"{t('exp_col_site_name', lang):<34}{t('reb_capacity', lang):>10}"
        f"{t('reb_now_per_counter', lang):>18}{t('reb_after_per_counter', lang):>18}"
    )
    before, after = proposal.ratio(proposal.before), proposal.ratio(proposal.after)
    for site in proposal.capacity:
        print(
            f"{name(site):<34}{number(proposal.capacity[site]):>10}"
            f"{number(before[site]):>18}{number(after[site]):>18}"
        )
    print(max_text(proposal, lang))
    if cases:
        print(t("reb_cases", lang, cases=", ".join(cases)))
    print(t("reb_written", lang, out=out))
    print(t("reb_proposal_written", lang, path=out / "forslag.md"))
    return 0


def _proposal_folder_usable(out: Path, data: Path, lang: str) -> bool:
    """The proposal is a folder of data files beside the real ones, never over them."""
    if out.exists() and not out.is_dir():
        print(t("out_file_for_folder", lang, path=out), file=sys.stderr)
        return False
    if out.exists() and data.exists() and out.samefile(data):
        print(t("out_is_data", lang, path=out), file=sys.stderr)
        return False
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():  # --out notes.txt/forslag
        print(t("reb_parent_not_folder", lang, parent=parent, out=out), file=sys.stderr)
        return False
    if parent is not None:  # a folder that cannot be written in: said before the long count
        import tempfile

        try:
            handle, probe = tempfile.mkstemp(prefix=".triage-probe-", dir=parent)
            os.close(handle)
            os.unlink(probe)
        except OSError as error:
            _say_write_failed(error, out, lang)
            return False
    return True


def cmd_summary(args: argparse.Namespace) -> int:
    from datetime import timedelta

    lang = args.lang
    if _period_refused(args):
        return USAGE_EXIT
    chosen = _flow_and_period(args)
    if chosen is None:
        return 1
    flow, first, last = chosen
    filtered = _chosen_filters(args, flow)
    if filtered is None:
        return 1
    filters = filtered[0]
    store = _open_store(args)
    if store is None:
        return 1
    from triage.report import summary_csv, summary_json, summary_view
    from triage.stats import summarize
    from triage.terminal import show

    if args.tui:
        from triage.app import TriageApp
        from triage.desklog import DeskLog
        from triage.overview import PERIOD_OPTIONS
        from triage.stats import errand_groups, find_group

        store.dispose()
        site = flow.sites.default_site
        # The overview opens on the command's period and filters; with neither --period nor
        # dates that is the command's own default, the last 30 days.
        period = "custom"
        custom: tuple = (first, last + timedelta(days=1))
        if args.period:  # a ready period: its dates follow the day the overview refreshes on
            period, custom = PERIOD_OPTIONS[args.period], ()
        elif args.start is None and args.end is None:
            period, custom = "30days", ()
        groups = errand_groups(flow)
        chosen = [find_group(groups, typed) for typed in args.group or []]
        start = {
            "period": period,
            "custom": custom,
            "chosen": filters,
            "groups": tuple(i for i, group in enumerate(groups) if group in chosen),
        }
        return _run_app(
            TriageApp(
                flow,
                site=site,
                lang=lang,
                start="overview",
                log=DeskLog(args.db, site, "overblik", spool_dir=args.spool_dir),
                overview=start,
            ),
            lang,
        )
    summary = summarize(store, flow.sites, first, last + timedelta(days=1), filters)
    if args.format in ("table", "json"):
        from triage.waits import summary_lines, wait_times

        waits = wait_times(store, first, last + timedelta(days=1), filters)
    if args.format == "table":  # in colour on a terminal, plain text for a script
        show(summary_view(summary, flow.sites, lang, filters.include_demo), sys.stdout)
        lines = summary_lines(waits, flow.sites, lang)
        if lines:  # where the queue is used: its wait and service time too
            sys.stdout.write("\n" + "\n".join(lines) + "\n")
    elif args.format == "json":
        said = summary_json(summary, flow.sites, lang, filters.include_demo, waits=waits)
        sys.stdout.write(said)
    else:
        sys.stdout.write(summary_csv(summary, flow.sites, lang, filters.include_demo))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from triage.committee import ReportError, add_months, check_out, month_name, parse_month
    from triage.present import local_now

    lang = args.lang
    now = local_now()
    this_month = now.date().replace(day=1)
    try:
        month = parse_month(args.month) if args.month else add_months(this_month, -1)
        if month > this_month:
            raise ReportError(
                "rep_future_month",
                month=month_name(month, lang),
                example=add_months(this_month, -1).strftime("%Y-%m"),
            )
        out = _out_path(args)
        if out is None:
            return 1
        check_out(out, args.force)
    except ReportError as error:
        print(t(error.code, lang, **error.params), file=sys.stderr)
        return 1
    flow = _usable_flow(args)
    if flow is None:
        return 1
    store = _open_store(args)
    if store is None:
        return 1
    from triage import committee  # the database code loads only now, when the input is usable

    try:
        built = committee.build(store, flow.sites, month, now, include_demo=not args.no_demo)
    finally:
        store.dispose()
    try:
        committee.write(committee.render(built, flow.sites, lang), out)
    except OSError as error:
        return _say_write_failed(error, out, lang)
    print(t("rep_done", lang, month=month_name(month, lang), path=out))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import sqlite3
    import time
    from datetime import timedelta

    from triage.demo import DemoHistory
    from triage.present import local_now

    lang = args.lang
    flow = _usable_flow(args)
    if flow is None:
        return 1
    now = local_now()
    # By default the history ends today, up to the hour just gone: "I dag" shows something.
    end = args.end or now.date() + timedelta(days=1)
    if not (
        1 <= args.days <= DEMO_MAX_DAYS
        and 1 <= args.per_day <= DEMO_MAX_PER_DAY
        and args.days * args.per_day <= DEMO_MAX_TOTAL
    ):
        print(
            t(
                "demo_limits",
                lang,
                days=count(DEMO_MAX_DAYS, lang),
                per_day=count(DEMO_MAX_PER_DAY, lang),
                total=count(DEMO_MAX_TOTAL, lang),
            ),
            file=sys.stderr,
        )
        return 1
    if end - timedelta(days=args.days) < EARLIEST:
        print(
            t("demo_too_early", lang, first=end - timedelta(days=args.days), earliest=EARLIEST),
            file=sys.stderr,
        )
        return 1
    from triage.db.connect import UNAVAILABLE  # the database code loads only now

    target = paths.sqlite_file(args.db)
    if isinstance(target, Path) and _read_only(target):
        folder = target.absolute().parent
        print(
            t("demo_read_only", lang, db=target, folder=folder, source=_db_source(args)),
            file=sys.stderr,
        )
        return 1
    made = target if isinstance(target, Path) and not target.exists() else None
    store = _open_store(args)
    if store is None:
        if made is not None:  # e.g. a full disk: no empty database file left behind
            _remove_database_files(made)
        return 1
    if store.has_real_visits():
        # Demo rows beside real ones would be too easy to mistake for each other in a report.
        print(
            t("demo_real_visits", lang, db=store.describe(), source=_db_source(args)),
            file=sys.stderr,
        )
        return 1
    if not store.is_empty():
        # Demo visits are made from the seed: a second load would repeat their ids.
        print(
            t("demo_not_empty", lang, db=store.describe(), source=_db_source(args)), file=sys.stderr
        )
        return 1
    from triage.model import Report
    from triage.queue_data import read_queues

    # The sites with queues get tickets, waits and service times (validate reports the file).
    queues = read_queues(args.data or paths.default_data_dir(), flow, Report())
    history = DemoHistory(
        flow,
        args.days,
        args.seed,
        args.per_day,
        end,
        until=None if args.end else now,
        queues=queues,
    )
    started = time.perf_counter()
    from triage.terminal import progress_bar

    def say(visits: int) -> str:
        return t("demo_progress", lang, visits=count(visits, lang))

    try:
        # A long load shows how far it has come, on a terminal only (not in a cron job's mail).
        with progress_bar(say(0), sys.stderr, measured=False) as bar:
            if store.dialect == "sqlite":
                shown = (lambda visits: bar(text=say(visits))) if bar.shown else None
                written = store.load_demo(history, shown)
            else:
                from triage.db.bulk import insert_demo_tickets

                written = store.insert_many(history.visits())
                insert_demo_tickets(store, history)
    except KeyboardInterrupt:
        print(t("demo_interrupted", lang, db=store.describe()), file=sys.stderr)
        return 1
    except (*UNAVAILABLE, sqlite3.Error) as error:
        # Both loads are all or nothing: what was written so far has been taken out again.
        said = t(_demo_failure(error, args), lang, db=store.describe(), reason=_reason(error))
        print(said, file=sys.stderr)
        if made is not None:
            store.dispose()
            _remove_database_files(made)
        return 1
    seconds = time.perf_counter() - started
    print(
        t(
            "demo_done",
            lang,
            visits=count(written, lang),
            days=args.days,
            seconds=f"{seconds:.1f}".replace(".", "," if lang == "da" else "."),
            rate=count(round(written / seconds), lang) if seconds else "-",
            db=store.describe(),
        )
    )
    return 0


def cmd_desk(args: argparse.Namespace) -> int:
    from triage.visits import valid_desk_name

    lang = args.lang
    if not valid_desk_name(args.desk):
        # Not repeated back: it may be a person's name or CPR number.
        print(t("bad_desk_name", lang), file=sys.stderr)
        return 1
    if args.training and args.db:
        print(t("training_db_given", lang), file=sys.stderr)
        return 2
    spool_dir = args.spool_dir
    if args.training:  # a practice database and spool of their own, never the real ones
        args.db = str(paths.training_db_path())
        spool_dir = paths.training_spool_dir()
        paths.training_db_path().parent.mkdir(parents=True, exist_ok=True)
    flow = _usable_flow(args, check_cases=True, keep_parsed=True)  # as triage validate checks
    site = args.site or (flow.sites.default_site if flow else "")
    if flow is None or not _site_known(flow, site, lang):
        return 1
    if (
        refuse_memory_db(args)
        or not _server_url_usable(args)
        or _refuse_folder(args)
        or _not_a_database(args, must_hold_one=False)
    ):
        return 1
    from triage.app import (
        TriageApp,  # Textual loads only now
        theme_names,
    )
    from triage.desklog import DeskLog

    if args.theme and args.theme not in theme_names():
        print(
            t("unknown_theme", lang, theme=args.theme, themes=", ".join(theme_names())),
            file=sys.stderr,
        )
        return 1
    app = TriageApp(
        flow,
        site=site,
        desk=args.desk,
        lang=lang,
        theme=args.theme,
        log=DeskLog(args.db, site, args.desk, spool_dir, training=args.training),
        channel=args.channel,
        training=args.training,
        data_dir=args.data or paths.default_data_dir(),  # its queues.toml, read in a worker
        settings_file=getattr(args, "settings_file", None),
    )
    return _run_app(app, lang)


# --- board15: the waiting-room board -------------------------------------------------------


def cmd_board(args: argparse.Namespace) -> int:
    """The board only reads: a database file that does not exist is named, never created. A
    server that does not answer is said on the board itself, which keeps trying."""
    lang = args.lang
    data = args.data or paths.default_data_dir()
    loaded = load(data, check_cases=False, queues=True)
    if not loaded.ok or loaded.flow is None or loaded.queues is None:
        _print_problems(loaded.errors, lang, sys.stderr)
        print(t("flow_invalid", lang, data=data), file=sys.stderr)
        return 1
    flow, queues = loaded.flow, loaded.queues
    site = args.site or flow.sites.default_site
    if not _site_known(flow, site, lang):
        return 1
    if not queues.at(site):
        print(t("board_site_has_no_queues", lang, site=site, data=data), file=sys.stderr)
        return 1
    target = paths.sqlite_file(args.db)
    if refuse_memory_db(args) or not _server_url_usable(args):
        return 1
    if isinstance(target, Path) and not target.exists():
        print(t("db_missing", lang, path=target, source=_db_source(args)), file=sys.stderr)
        return 1
    if _refuse_folder(args) or _not_a_database(args, must_hold_one=True):
        return 1
    from triage.app import BoardApp
    from triage.db.store import Store

    store = Store(args.db, spool_dir=args.spool_dir)
    try:
        return _run_app(BoardApp(store, flow.sites, site, queues.at(site), lang=lang), lang)
    finally:
        store.dispose()


# --- kiosk15: the citizens' own check-in screen --------------------------------------------


def cmd_kiosk(args: argparse.Namespace) -> int:
    """The kiosk at a site's entrance: the flow and the queues as validated, then the screen."""
    lang = args.lang
    data = args.data or paths.default_data_dir()
    loaded = load(data, check_cases=False, queues=True, keep_parsed=True)
    if not loaded.ok or loaded.flow is None or loaded.queues is None:
        _print_problems(loaded.errors, lang, sys.stderr)
        print(t("flow_invalid", lang, data=data), file=sys.stderr)
        return 1
    flow, queues = loaded.flow, loaded.queues
    site = flow.sites.default_site if args.site is None else args.site  # "" is refused
    if not _site_known(flow, site, lang):
        return 1
    if not queues.at(site):
        print(t("kiosk_site_no_queues", lang, site=site, data=data), file=sys.stderr)
        return 1
    if (
        refuse_memory_db(args)
        or not _server_url_usable(args)
        or _refuse_folder(args)
        or _not_a_database(args, must_hold_one=False)
    ):
        return 1
    from triage.app import KioskApp  # Textual loads only now
    from triage.desklog import DeskLog
    from triage.visits import KIOSK_DESK

    log = DeskLog(args.db, site, KIOSK_DESK, spool_dir=args.spool_dir)
    app = KioskApp(flow, site, queues, log, lang=lang)
    return _run_app(app, lang)


# --- serve16: the roles in a browser ------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    """The desk, kiosk, board and overview served to browsers until Ctrl+C."""
    from triage import config, serve

    lang = args.lang
    if not serve.installed():
        print(t("serve_not_installed", lang), file=sys.stderr)
        return 1
    works = {"first": serve.WORKS_FROM, "before": serve.WORKS_BEFORE, "spec": serve.WORKS_WITH}
    found, missing = serve.installed_version(), serve.missing_parts()
    if missing:  # another version than pyproject.toml's: a page would fail, not the start
        parts = ", ".join(missing)
        print(t("serve_unfit", lang, version=found, missing=parts, **works), file=sys.stderr)
        return 1
    if not serve.version_works(found):  # all it uses is there: said, and tried
        print(t("serve_untried", lang, version=found, **works), file=sys.stderr)
    if args.serve_db and config.url_password(args.serve_db):
        print(t("cfg_password_typed_refused", lang), file=sys.stderr)
        return 1
    if args.serve_desk is not None:
        from triage.visits import valid_desk_name

        if not valid_desk_name(args.serve_desk):
            print(t("bad_desk_name", lang), file=sys.stderr)
            return 1
    if not 1 <= args.port <= 65535 - len(serve.ROLES):
        print(t("serve_bad_port", lang, port=args.port), file=sys.stderr)
        return 1
    # What every page would refuse, refused once here, before any address is given out.
    data = _served_data(args)
    loaded = load(data, check_cases=False, keep_parsed=True)
    if not loaded.ok or loaded.flow is None:
        _print_problems(loaded.errors, lang, sys.stderr)
        print(t("flow_invalid", lang, data=data), file=sys.stderr)
        return 1
    if args.serve_site is not None and not _site_known(loaded.flow, args.serve_site, lang):
        return 1
    # A database every page would refuse (TRIAGE_DB_URL and --db apply to every role alike).
    given = args.serve_db or os.environ.get(config.ENV_URL)
    origin = "option" if args.serve_db else "environment"
    probe = argparse.Namespace(db=given, lang=lang, db_origin=origin)
    if given and (
        refuse_memory_db(probe) or not _server_url_usable(probe) or _refuse_folder(probe)
    ):
        return 1
    if _serve_login_refused(args.config, given, lang):
        return 1
    db = args.serve_db
    if db and isinstance(paths.sqlite_file(db), Path):  # the children may start elsewhere
        db = str(Path(db).expanduser().resolve())
    options = {
        "data": str(args.serve_data.resolve()) if args.serve_data else None,
        "db": db,
        "site": args.serve_site,
        "desk": args.serve_desk,
    }
    served = serve.plan(
        args.role or list(serve.ROLES),
        options,
        args.config,
        host=args.host,
        base_port=args.port,
        public_url=args.public_url,
        data=data,
    )

    said = {
        "desk": "serve_role_desk",
        "kiosk": "serve_role_kiosk",
        "board": "serve_role_board",
        "overview": "serve_role_overview",
    }

    def ready() -> None:
        for one in served:
            print(t(said[one.role], lang, url=one.public_url), flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            roles = _and_list([t(_ROLE_NAMES[one.role], lang) for one in served], lang)
            said_open = t("serve_not_loopback", lang, host=args.host, roles=roles)
            print(said_open, file=sys.stderr, flush=True)
        print(t("serve_stop_hint", lang), flush=True)

    try:
        serve.run(served, args.host, ready)
    except serve.PortsInUse as error:
        ports = [f"{port} ({t(_ROLE_NAMES[role], lang)})" for role, port in error.busy]
        if len(ports) == 1:
            (role, port), *_ = error.busy
            name = t(_ROLE_NAMES[role], lang)
            print(t("serve_port_in_use", lang, port=port, role=name), file=sys.stderr)
        else:
            print(t("serve_ports_in_use", lang, ports=_and_list(ports, lang)), file=sys.stderr)
        return 1
    except OSError as error:  # e.g. an address this machine does not have
        print(_listen_failure(error, args.host, served[0].port, lang), file=sys.stderr)
        return 1
    return 0


# A role as a sentence names it ("Port 8002 (tavlen) er optaget").
_ROLE_NAMES = {
    "desk": "serve_role_name_desk",
    "kiosk": "serve_role_name_kiosk",
    "board": "serve_role_name_board",
    "overview": "serve_role_name_overview",
}


def _served_data(args: argparse.Namespace) -> Path:
    """The data folder the served pages read: --data, else the settings file's, else the
    default (the pages' own triage reads the settings file the same way)."""
    if args.serve_data:
        return args.serve_data
    from triage import config

    configured = config.read(args.config).values("desk").get("data")
    return Path(configured).expanduser() if configured else paths.default_data_dir()


def _and_list(words: list[str], lang: str) -> str:
    """ "a, b og c" (Danish) or "a, b and c"."""
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {t('serve_and', lang)} {words[-1]}"


def _listen_failure(error: OSError, host: str, port: int, lang: str) -> str:
    """Why triage serve cannot listen, said plainly; the system's own (English) words only
    when the cause is not one of the usual ones."""
    import errno
    import socket

    if isinstance(error, socket.gaierror):  # a name that cannot be looked up
        return t("serve_host_unknown", lang, host=host)
    if error.errno == errno.EADDRNOTAVAIL:
        return t("serve_host_not_here", lang, host=host)
    if error.errno in (errno.EACCES, errno.EPERM):
        return t("serve_port_denied", lang, port=port)
    return t("serve_cannot_listen", lang, host=host, reason=_reason(error))


# --- config16: the settings file --------------------------------------------------------


def _settled(
    parser: argparse.ArgumentParser, argv: list[str], args: argparse.Namespace
) -> argparse.Namespace | int:
    """The command line again, with the settings file's values (and TRIAGE_DB_URL's) as the
    defaults of the options not typed; or an exit code after saying why it cannot be used."""
    from triage import config

    typed_db = getattr(args, "db", None)
    password = config.url_password(typed_db) if typed_db else None
    if password:
        config.remember_secret(password)
        if args.command in LONG_RUNNING:  # hours in the process list: refused
            print(t("cfg_password_typed_refused", args.lang), file=sys.stderr)
            return 1
        print(t("cfg_password_typed", args.lang), file=sys.stderr)
    if args.command == "config":
        return args  # it reads the file itself, to say what is wrong with it
    settings = config.read(args.config)
    args.settings_file = settings.path
    if not settings.ok:
        _print_problems(settings.problems, args.lang, sys.stderr)
        print(t("cfg_invalid", args.lang, path=settings.path), file=sys.stderr)
        return 1
    values = settings.values(args.command)
    values.pop("db_password_file", None)
    origin = "option" if typed_db else "default"
    if "db" in values:
        values["db"] = settings.database(args.command)
        origin = "file" if origin == "default" else origin
    from_environment = os.environ.get(config.ENV_URL)
    if from_environment:
        config.remember_secret(config.url_password(from_environment))
        values["db"] = from_environment
        origin = "environment" if origin != "option" else origin
    if getattr(args, "training", False):  # the practice database, never the configured one
        values.pop("db", None)
        values.pop("spool_dir", None)
        origin = "default"
    section = args.command if "db" in settings.tables.get(args.command, {}) else ""
    where = {"db_origin": origin, "db_line": settings.lines.get((section, "db"))}
    command = _subparser(parser, args.command)
    assert command is not None
    if getattr(args, "action", None) and _subparser(command, args.action) is not None:
        command = _subparser(command, args.action)  # `db roles`: the options are roles'
        assert command is not None
    # Single-valued options only: --site and --channel of summary and export are filters.
    defaults = {
        action.dest: values[action.dest]
        for action in command._actions
        if action.dest in values and type(action) is argparse._StoreAction
    }
    if not defaults:
        vars(args).update(where)
        return args
    command.set_defaults(**defaults)
    settled = parser.parse_args(argv)
    settled.settings_file = settings.path
    vars(settled).update(where)
    return settled


def cmd_config(args: argparse.Namespace) -> int:
    """check: every problem of the settings file, with its line, and whether its site, data
    folder, database URL and theme can be used; exit 1 on errors. show: what applies."""
    from triage import config

    lang = args.lang
    settings = config.read(args.config)
    environment = os.environ.get(config.ENV_URL)
    bad_environment = None
    if args.action == "check" and environment:
        bad_environment = _url_problem(environment, lang)
        if bad_environment is not None:  # it wins over the file's db: a desk would fail on it
            print(t("cfg_bad_environment", lang, name=config.ENV_URL, reason=bad_environment))
    if args.action == "show":
        return _show_settings(settings, args)
    if settings.path is None:
        print(t("cfg_none", lang, path=config.default_file()))
        return 1 if bad_environment else 0
    if settings.tables:  # the file could be read: check what it names too
        for scope in ("", *(s for s in config.SECTIONS if s in settings.tables)):
            _check_usable(settings, scope, lang)
        if not settings.problems and not bad_environment:
            _check_logins(settings, environment, lang)
    if settings.problems:
        _print_problems(settings.problems, lang)
        print(
            t("cfg_check_failed", lang, path=settings.path, n=len(settings.problems)),
            file=sys.stderr,
        )
        return 1
    if bad_environment:
        return 1
    print(t("cfg_check_ok", lang, path=settings.path))
    return 0


def _serve_login_refused(config_path: Path | None, given: str | None, lang: str) -> bool:
    """Whether a database server refuses the login every page would use (a wrong or missing
    password): said once, before any address is given out. A server that does not answer
    now may answer later, and a settings file with problems is each page's to tell."""
    from triage import config

    urls: list[str | None] = [given]
    if not given:
        settings = config.read(config_path)
        if settings.problems:
            return False
        try:
            scopes = ("", *(s for s in config.SECTIONS if s in settings.tables))
            urls = [settings.database(scope or "desk") for scope in scopes]
        except OSError:  # an unreadable password file: each page says so
            return False
    for url in dict.fromkeys(urls):
        if not url or "://" not in url or url.startswith("sqlite"):
            continue
        found, _ = config.try_login(url)
        if found == "login":
            db, user = _hide_password(url), _url_user(url)
            print(t("serve_db_login_refused", lang, db=db, user=user), file=sys.stderr)
            return True
    return False


def _check_logins(settings, environment: str | None, lang: str) -> None:
    """Log in once to each database server the file's commands would use, as they would (the
    environment's URL before the file's db): a refused login is an error at the line that sets
    the password; a server that does not answer now is only a warning."""
    from triage import config

    tried: set[str] = set()
    for scope in ("", *(s for s in config.SECTIONS if s in settings.tables)):
        values = settings.values(scope or "desk")
        url = environment or settings.database(scope or "desk")
        if not url or "://" not in url or url.startswith("sqlite") or url in tried:
            continue
        tried.add(url)
        found, error = config.try_login(url)
        db = _hide_password(url)
        user = _url_user(url)
        if found == "ok":
            print(t("cfg_db_login_ok", lang, db=db, user=user))
        elif found in ("down", "other"):  # it may answer later: the file itself is not wrong
            if found == "down":
                print(t("cfg_db_not_answering", lang, db=db))
            else:
                reason = _why(error, lang) if error is not None else ""
                print(t("cfg_db_login_untried", lang, db=db, reason=reason))
        elif found == "no_database":
            own = settings.tables.get(scope, {})
            settings.error(scope if "db" in own else "", "db", "cfg_db_no_database", db=db)
        else:
            own = settings.tables.get(scope, {})
            setting = "db"  # the line the error is told at: where the password comes from
            if environment:
                where = t("cfg_password_where_environment", lang)
            elif "db_password_file" in values:
                setting = "db_password_file"
                where = t("cfg_password_where_file", lang, path=values[setting])
            elif config.url_password(url):
                where = t("cfg_password_where_db", lang)
            else:
                where = t("cfg_password_where_pgpass", lang)
            scope_of = scope if setting in own else ""
            settings.error(scope_of, setting, "cfg_db_login_refused", db=db, user=user, where=where)


def _url_user(url: str) -> str:
    """The user a database URL logs in as ("" when it names none)."""
    from sqlalchemy.engine import make_url

    return make_url(url).username or ""


def _check_usable(settings, scope: str, lang: str) -> None:
    """What reading the file alone cannot tell: the data folder and its sites, the database
    URL, the theme (each named at the line that sets it)."""
    values = settings.values(scope or "desk")
    own = settings.tables.get(scope, {})

    def where(key: str) -> str:
        return scope if key in own else ""

    data = Path(values.get("data") or paths.default_data_dir())
    loaded = load(data, check_cases=False)
    if not loaded.ok or loaded.flow is None:
        settings.error(where("data"), "data", "cfg_data_invalid", data=data)
    elif "site" in values and values["site"] not in loaded.flow.sites:
        known = ", ".join(loaded.flow.sites.sites)
        settings.error(where("site"), "site", "cfg_unknown_site", site=values["site"], sites=known)
    db = values.get("db")
    reason = _url_problem(db, lang) if db else None
    if reason is not None:
        settings.error(where("db"), "db", "cfg_bad_db", reason=reason)
    if "theme" in values:
        from triage.app import theme_names  # Textual: only to know its themes

        if values["theme"] not in theme_names():
            themes = ", ".join(theme_names())
            theme = values["theme"]
            settings.error(where("theme"), "theme", "unknown_theme", theme=theme, themes=themes)


def _show_settings(settings, args: argparse.Namespace) -> int:
    """Each setting the command takes, its value (no password) and where it comes from."""
    from triage import config

    lang = args.lang
    if not settings.ok:
        _print_problems(settings.problems, lang, sys.stderr)
        print(t("cfg_invalid", lang, path=settings.path), file=sys.stderr)
        return 1
    role = args.role
    values = settings.values(role)
    if settings.path is None:  # the standards alone, and the command line over them
        print(t("cfg_none", lang, path=config.default_file()))
    else:
        print(t("desk_settings", lang, path=settings.path))
    keys = config.KEYS if role == "desk" else config.SECTION_KEYS
    environment = os.environ.get(config.ENV_URL)
    for key in keys:
        if key == "db" and environment:
            value, source = environment, t("cfg_from_environment", lang, name=config.ENV_URL)
        elif key == "db_password_file" and environment and key in values:
            # TRIAGE_DB_URL names the database, password and all: the file's is not read.
            print(f"  {key} = -  ({t('cfg_password_file_unused', lang, path=values[key])})")
            continue
        elif key in values:
            where = role if key in settings.tables.get(role, {}) else ""
            line = settings.lines.get((where, key))
            value, source = values[key], t("cfg_from_file", lang, line=line or "?")
        else:
            value, source = _default_setting(key, lang), t("cfg_from_default", lang)
        print(f"  {key} = {_hide_password(str(value)) or '-'}  ({source})")
    return 0


def _url_problem(db: str, lang: str) -> str | None:
    """Why a database URL cannot be used (no password in it), or None; a path is a file."""
    if "://" not in db or db.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(db)
        url.port  # noqa: B018 - a port that is no number raises here
        url.get_dialect().import_dbapi()
    except (ArgumentError, ImportError, ValueError) as error:
        return _hide_password(_url_reason(error, argparse.Namespace(db=db, lang=lang)))
    return None


def _default_setting(key: str, lang: str) -> str:
    """What a setting is when neither the file nor the command line says: the value itself
    where there is one, else what decides it."""
    found = {
        "data": str(paths.default_data_dir()),
        "db": str(paths.default_db_path()),
        "spool_dir": str(paths.user_data_dir() / "spool"),
        "desk": "skranke-1",
        "channel": "in_person",
        "lang": "da",
        "site": t("cfg_default_site", lang),
        "theme": t("cfg_default_theme", lang),
    }
    return found.get(key, "")


def cmd_db_roles(args: argparse.Namespace) -> int:
    """`triage db roles`: print the SQL for the four roles, or with --apply run it."""
    lang = args.lang
    if not re.match(r"postgres(ql)?(\+\w+)?://", args.db or ""):
        print(
            _about_db("roles_postgres_only", args),
            file=sys.stderr,
        )
        return 1
    from triage.db.roles import PREFIX_PATTERN, apply_roles, role_names, roles_script

    if not PREFIX_PATTERN.fullmatch(args.prefix):
        print(t("roles_bad_prefix", lang, prefix=args.prefix), file=sys.stderr)
        return 1
    if not args.apply:
        sys.stdout.write(roles_script(args.prefix))
        return 0
    if not _server_url_usable(args):
        return 1
    store = _opened(args)  # opening brings the database up to this version: the owner migrates
    if store is None:
        return 1
    from sqlalchemy.exc import DBAPIError

    from triage.db.connect import UNAVAILABLE

    try:
        apply_roles(store, args.prefix)
    except UNAVAILABLE as error:
        print(
            _about_db("db_unreachable", args, reason=_why(error, lang)),
            file=sys.stderr,
        )
        return 1
    except DBAPIError as error:  # not allowed to make roles, or not the tables' owner
        print(
            # the driver's English only for an unknown cause
            _about_db("roles_failed", args, reason=_why(error, lang)),
            file=sys.stderr,
        )
        return 1
    finally:
        store.dispose()
    owner, desk, supervisor, kiosk = role_names(args.prefix)
    print(
        t(
            "roles_applied",
            lang,
            db=_db_label(args),
            owner=owner,
            desk=desk,
            supervisor=supervisor,
            kiosk=kiosk,
        )
    )
    return 0


# The commands `triage serve` runs for a page (the overview is `summary --tui`).
SERVED_COMMANDS = ("desk", "kiosk", "board", "summary")


class _HeldComplaints(io.StringIO):
    """A served command's stderr until its screen starts (see _run_served)."""

    def __init__(self, real: TextIO) -> None:
        super().__init__()
        self.real = real


def _run_served(args: argparse.Namespace, argv: list[str]) -> int:
    """A command for a page of `triage serve`. One that stops before its screen starts (an
    unknown site, no database yet) would leave the page on its splash for good, the reason
    only in the server's terminal: the page shows what it said instead, until it is closed."""
    held = _HeldComplaints(sys.stderr)
    sys.stderr = held
    try:
        code = args.func(args)
    except Exception as error:  # noqa: BLE001 - said in the page, as main would say it
        code = _failed(error, args, argv)
    finally:
        started = sys.stderr is not held  # _run_app gave the real stderr back
        if not started:
            sys.stderr = held.real
            held.real.write(held.getvalue())  # the server's log has it too
    if started or code == 0 or not held.getvalue().strip():
        return code
    from triage.app import ServedFailureApp

    _run_app(ServedFailureApp(held.getvalue(), getattr(args, "lang", "da")), args.lang)
    return code


def _run_app(app, lang: str) -> int:
    """Run a Textual app; without a terminal, say so and exit 1 instead of spinning."""
    from triage.app import NoTerminal

    if isinstance(sys.stderr, _HeldComplaints):  # a served command's screen starts
        held, sys.stderr = sys.stderr, sys.stderr.real
        sys.stderr.write(held.getvalue())

    try:
        app.run()
    except NoTerminal:
        print(t("no_terminal", lang), file=sys.stderr)
        return 1
    if app._exception is not None:  # the app stopped on an unexpected error: the last resort
        raise app._exception
    return 0


def _database_trouble(error: BaseException) -> str | None:
    """The message for a database that failed while a command used it, or None: locked, made
    read-only, gone away (db_failed), or damaged under it (db_damaged). Bugs in the SQL
    itself (ProgrammingError, IntegrityError) are not among these."""
    import sqlite3  # the export reads visit rows with the driver's own cursor

    from triage.db.errors import db_cause

    if db_cause(error) == "denied":  # e.g. a desk's database role asked for statistics
        return "db_denied"
    found = sys.modules.get("sqlalchemy.exc")  # imported only if a command used the database
    if found is not None and isinstance(error, (found.OperationalError, found.InterfaceError)):
        return "db_failed"
    if isinstance(error, sqlite3.OperationalError):
        return "db_failed"
    damaged = (sqlite3.DatabaseError,) + ((found.DatabaseError,) if found is not None else ())
    if type(error) in damaged:  # the base class itself: "file is not a database", "malformed"
        return "db_damaged"
    return None


def _lang_of(argv: list[str]) -> str:
    """--lang read from the words themselves, for a failure before the parser had read them."""
    pairs = zip(argv, argv[1:], strict=False)
    return "en" if "--lang=en" in argv or ("--lang", "en") in pairs else "da"


def _failed(error: Exception, args: argparse.Namespace | None, argv: list[str]) -> int:
    """What a command raised and did not handle. A database that broke down under it, and a
    file that could not be used, get their message and exit 1; anything else is a fault in
    triage: exit 70 after one line saying where its full report is."""
    lang = getattr(args, "lang", None) or _lang_of(argv)
    trouble = _database_trouble(error)
    if trouble == "db_damaged" and args is not None:
        print(_said_damaged(error, args), file=sys.stderr)
        return 1
    if trouble and args is not None:
        print(
            t(trouble, lang, db=_db_label(args), source=_db_source(args), reason=_why(error, lang)),
            file=sys.stderr,
        )
        return 1
    if isinstance(error, OSError) and error.filename is not None:
        print(
            t("file_failed", lang, path=error.filename, reason=_why(error, lang)), file=sys.stderr
        )
        return 1
    return _last_resort(error, argv, lang)


def _last_resort(error: BaseException, argv: list[str], lang: str) -> int:
    """Write the full report (the traceback) to a file in the user's state folder, say in one
    line where it is, and exit 70."""
    import tempfile
    import traceback
    from datetime import datetime

    said = _hide_password(" ".join(str(error).split()))[:200]
    what = f"{type(error).__name__}: {said}" if said else type(error).__name__
    now = datetime.now().astimezone()
    report = (
        f"triage {package_version()}, {now:%Y-%m-%d %H:%M:%S %z}, "
        f"Python {sys.version.split()[0]}, "
        f"{sys.platform}\ncommand: triage {_hide_password(' '.join(argv))}\n\n"
        + _hide_password("".join(traceback.format_exception(error)))
    )
    name = f"crash-{now:%Y%m%d-%H%M%S}-{os.getpid()}.txt"
    problem: OSError | None = None
    for folder in (paths.user_state_dir, lambda: Path(tempfile.gettempdir())):
        try:
            place = folder()
            place.mkdir(parents=True, exist_ok=True)
            path = place / name
            path.write_text(report, encoding="utf-8")
        except OSError as failure:
            problem = problem or failure
            continue
        print(t("crash", lang, error=what, path=path), file=sys.stderr)
        return CRASH_EXIT
    assert problem is not None
    print(t("crash_unsaved", lang, error=what, reason=problem.strerror or problem), file=sys.stderr)
    return CRASH_EXIT


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `triage` and `triage --site x` mean the desk: the command most people type.
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "desk")
    args = None
    try:
        parser = build_parser(only=argv[0])
        _with_config_option(parser)
        args = parser.parse_args(argv)
        if not _dates_readable(args):
            return 1
        settled = _settled(parser, argv, args)
        if isinstance(settled, int):
            return settled
        args = settled
        if args.command in SERVED_COMMANDS and paths.served_to_browser():
            return _run_served(args, argv)
        return args.func(args)
    except UsageError as error:  # raised by the parser only, before any command runs
        print(_usage_text(error, _lang_of(argv), parser, argv), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 1
    except BrokenPipeError:
        # Output piped into e.g. `head`, which stopped reading: not an error worth a traceback.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces stdout until exit
        return 0
    except Exception as error:  # noqa: BLE001 - the last resort: a person never sees a traceback
        return _failed(error, args, argv)


if __name__ == "__main__":
    sys.exit(main())
