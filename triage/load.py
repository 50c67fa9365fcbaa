"""Reading data/ (flow, sites, cases, searches) into a validated Flow, with every problem reported
at once."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage import paths
from triage.flow import FLOW_FILE, Flow, check_sites_against_flow, content_version, parse_flow
from triage.model import (
    CONTROL,
    MAX_NESTING,
    Flaw,
    Problem,
    Report,
    check_fields,
    is_kind,
    scan,
    shown,
    typed,
    visible,
)
from triage.sites import SITES_FILE, parse_sites
from triage.walk import AnswerError, route

if TYPE_CHECKING:  # the search loads only for `triage validate`: not on the desk's start path
    from triage.queue_data import Queues
    from triage.search import SearchCase, SearchCheck

CASES_FILE = "cases.toml"
SEARCH_FILE = "search.toml"

# A table header as written: `[site.ys]`, `[[case]]`, `[ catchment . "jobcenter" ]`.
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]#]+?)\s*\]\]?\s*(#.*)?$")
_TOP_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")
_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
# Escapes that TOML turns into characters: where a control character can hide in a string
# (compiled only when a file has one: not on every start).
_ESCAPE = r"\\(?:([bfr])|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))"
_BOM = "\ufeff"


class FlowInvalid(Exception):
    """The data files cannot be used; `problems` says why, file by file and node by node."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass(frozen=True)
class Case:
    name: str
    answers: tuple[str, ...]
    expect: str
    site: str | None = None
    here: str | None = None
    line: int | None = None


@dataclass
class Loaded:
    flow: Flow | None
    cases: list[Case] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    search: SearchCheck | None = None  # how the corpus of searches fared, when it was checked
    queues: Queues | None = None  # queues.toml, when it was asked for

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return self.flow is not None and not self.errors


def headers(source: str) -> list[tuple[int, str, bool]]:
    """(line, dotted name, is [[array]]) of each table header, in the order written."""
    return [(number, name, array) for number, name, array in _layout(source) if array is not None]


def header_lines(source: str) -> dict[str, int]:
    """Line of each `[table]` header, so a problem can point at the line to edit; and of each
    key written above the first header (`question = 5`, `site.extra = 5`)."""
    lines: dict[str, int] = {}
    for number, name, _ in _layout(source):
        lines.setdefault(name, number)
    return lines


def _layout(source: str) -> list[tuple[int, str, bool | None]]:
    """(line, dotted name, is [[array]]) of each header, and (line, dotted key, None) of each key
    above the first header. One pass: it runs on every start."""
    found: list[tuple[int, str, bool | None]] = []
    in_tables = False
    for number, text in enumerate(source.split("\n"), 1):  # TOML counts lines by \n only
        if "[" in text:
            match = _HEADER.match(text)
            if match:
                found.append((number, _dotted(match.group(2)), match.group(1) == "[["))
                in_tables = True
                continue
        if not in_tables and "=" in text:
            match = _TOP_KEY.match(text)
            if match:
                dotted = _dotted(match.group(1))
                found.append((number, dotted.split(".")[0], None))
                found.append((number, dotted, None))
    return found


def _dotted(name: str) -> str:
    """`catchment . "jobcenter"` → `catchment.jobcenter`."""
    return re.sub(r"\s*\.\s*", ".", name).replace('"', "").replace("'", "")


def _control_lines(source: str) -> list[int]:
    """Lines holding a control character, raw or written as an escape (a hint for the editor)."""
    found = []
    for number, text in enumerate(source.split("\n"), 1):
        if CONTROL.search(text) or any(_escaped_control(m) for m in re.finditer(_ESCAPE, text)):
            found.append(number)
    return found


def _escaped_control(match: re.Match[str]) -> bool:
    if match.group(1):
        return True  # \b, \f, \r
    code = int(match.group(2) or match.group(3), 16)
    return code < 0x110000 and CONTROL.match(chr(code)) is not None


# Tables of tables, named by their ids.
_KEYED = ("question", "outcome", "site", "catchment", "after_hours", "queue")


def _where(flaw: Flaw, file: str, source: str) -> tuple[str, str, int | None]:
    """(node, field, line) for a flaw found at a path in the parsed file."""
    path = [visible(p) if isinstance(p, str) else p for p in flaw.path]
    lines = header_lines(source)
    if len(path) >= 2 and path[0] in ("case", "search") and isinstance(path[1], int):
        cases = [n for n, name, array in headers(source) if array and name == path[0]]
        node, rest = f"{path[0]} #{path[1] + 1}", path[2:]
        line = cases[path[1]] if path[1] < len(cases) else None
    elif len(path) >= 2 and path[0] in _KEYED:
        node, rest = f"{path[0]} {path[1]}", path[2:]
        line = lines.get(f"{path[0]}.{path[1]}")
    elif len(path) >= 2:
        node, rest, line = str(path[0]), path[1:], lines.get(str(path[0]))
    else:
        node, rest, line = file, path, None
    field_name = "".join(f"[{p + 1}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
    if flaw.char is not None:
        # The first line from the table's header on that holds a control character.
        candidates = _control_lines(source)
        after = [n for n in candidates if n >= (line or 0)]
        line = after[0] if after else line
    return node, field_name or node, line


def read_toml(
    path: Path, report: Report, keep_parsed: bool = False
) -> tuple[dict[str, Any] | None, str]:
    """The parsed file and its text (for line numbers), or (None, "") after reporting why not.
    keep_parsed: the parse is kept in the user's cache for the next start (see _parse_toml)."""
    name = path.name
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        report.error(name, name, "file_missing", path=str(path))
        return None, ""
    except UnicodeDecodeError as error:
        report.error(name, name, "file_not_utf8", position=error.start)
        return None, ""
    except OSError as error:
        report.error(
            name, name, "file_unreadable", path=str(path), reason=error.strerror or str(error)
        )
        return None, ""
    source = source.removeprefix(_BOM)  # some Windows editors start a UTF-8 file with one
    try:
        data = _parse_toml(source, keep_parsed)
    except ValueError as error:  # tomllib.TOMLDecodeError (tomllib loads on a cache miss only)
        import tomllib

        if not isinstance(error, tomllib.TOMLDecodeError):
            raise
        message = str(error)
        match = _AT.search(message)
        line, column = (int(match.group(1)), int(match.group(2))) if match else (None, None)
        detail = CONTROL.sub("?", _AT.sub("", message).strip())
        report.add(Problem("error", name, name, "toml_syntax", {"detail": detail}, line, column))
        return None, ""
    except RecursionError:  # lists inside lists, hundreds deep
        report.error(name, name, "too_deep", None, max=MAX_NESTING)
        return None, ""
    flaws = scan(data, source)
    for flaw in flaws:
        # Refused before anything else reads the file: no message ever echoes such a text.
        node, field_name, line = _where(flaw, name, source)
        if flaw.char is None:
            report.error(name, node, "too_deep", line, max=MAX_NESTING)
        else:
            report.error(
                name,
                node,
                "control_character",
                line,
                field=field_name,
                char=f"U+{ord(flaw.char):04X}",
            )
    if flaws:
        return None, ""
    return data, source


# Parsed data files, as JSON, named by a hash of the text parsed: a text that changes gets a
# new name, so an entry is never stale. JSON reads in a tenth of the time TOML parses, and
# the desk reads its files on every start. At most this many entries are kept.
PARSED_CACHE_ENTRIES = 16


def _parse_toml(source: str, keep: bool = True) -> dict[str, Any]:
    """tomllib.loads(source), from the cache when this very text was parsed before (and kept
    there for next time). Raises as tomllib does; a cache that cannot be read or written is
    passed by, never an error."""
    if not keep:
        import tomllib

        return tomllib.loads(source)
    name = hashlib.sha256(source.encode("utf-8")).hexdigest() + ".json"
    folder = paths.user_cache_dir() / "parsed"
    try:
        cached = json.loads((folder / name).read_text(encoding="utf-8"), object_hook=_from_json)
        if isinstance(cached, dict):
            return cached
    except (OSError, ValueError, RecursionError):
        pass  # not cached yet (or unreadable): parse it
    import tomllib

    data = tomllib.loads(source)
    _remember(folder, name, data)
    return data


# TOML's dates and times, which JSON has not, as {_MOMENT: [type, ISO text]}.
_MOMENT = "\x00toml"
_MOMENTS: dict[str, type[datetime] | type[date] | type[time]] = {
    "datetime": datetime,
    "date": date,
    "time": time,
}


def _to_json(value: object) -> object:
    for kind, made in _MOMENTS.items():  # datetime first: a datetime is a date too
        if isinstance(value, (datetime, date, time)) and isinstance(value, made):
            return {_MOMENT: [kind, value.isoformat()]}
    raise TypeError(f"{type(value).__name__} is not kept")


def _from_json(table: dict[str, Any]) -> object:
    if len(table) == 1 and _MOMENT in table:
        kind, text = table[_MOMENT]
        return _MOMENTS[kind].fromisoformat(text)
    return table


def _remember(folder: Path, name: str, data: dict[str, Any]) -> None:
    """Keep data as JSON when JSON gives back exactly the same (checked here: no NaN, no
    table that reads as a date); written to a temporary file then renamed, so a reader sees
    all of it or nothing."""
    try:
        text = json.dumps(data, ensure_ascii=False, default=_to_json)
        if json.loads(text, object_hook=_from_json) != data:
            return
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{name}.{os.getpid()}"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, folder / name)
        entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[PARSED_CACHE_ENTRIES:]:
            old.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError, RecursionError):
        pass  # a cache that cannot be written only costs time


def load(
    data_dir: Path,
    check_cases: bool = True,
    check_searches: bool = False,
    queues: bool = False,
    keep_parsed: bool = False,
) -> Loaded:
    """Read and check everything in data_dir. Never raises for bad content: see Loaded.problems.
    The searches (search.toml) only `triage validate` checks: the desk does not need them; the
    queues (queues.toml) only what asks for them. keep_parsed (the desk and the kiosk, which
    read the same files on every start): the files' parse is kept in the user's cache."""
    report = Report()
    raw_sites, sites_source = read_toml(data_dir / SITES_FILE, report, keep_parsed)
    raw_flow, flow_source = read_toml(data_dir / FLOW_FILE, report, keep_parsed)
    if raw_sites is None or raw_flow is None:
        return Loaded(None, problems=report.problems)
    site_lines = header_lines(sites_source)
    sites = parse_sites(raw_sites, report, site_lines)
    flow = parse_flow(
        raw_flow, sites, report, header_lines(flow_source), content_version(raw_flow, raw_sites)
    )
    check_sites_against_flow(flow, report, site_lines)
    cases: list[Case] = []
    cases_path = data_dir / CASES_FILE
    if check_cases and cases_path.exists():
        raw_cases, cases_source = read_toml(cases_path, report, keep_parsed)
        if raw_cases is not None:
            cases = parse_cases(raw_cases, report, cases_source)
    if check_cases and not report.errors:
        run_cases(flow, cases, report)
    searches: list[SearchCase] = []
    search_path = data_dir / SEARCH_FILE
    if check_searches and search_path.exists():
        raw_searches, searches_source = read_toml(search_path, report)
        if raw_searches is not None:
            searches = parse_searches(raw_searches, report, searches_source)
    search = None
    if check_searches and searches and not report.errors:
        search = run_searches(flow, searches, report)
    found_queues = None
    if queues:
        from triage.queue_data import read_queues

        found_queues = read_queues(data_dir, flow, report)
    return Loaded(flow, cases, report.problems, search, found_queues)


def load_or_raise(data_dir: Path) -> Flow:
    """For the app and commands that need a usable flow: FlowInvalid unless there are no errors."""
    loaded = load(data_dir, check_cases=False)
    if not loaded.ok:
        raise FlowInvalid(loaded.errors)
    assert loaded.flow is not None
    return loaded.flow


CASE_FIELDS = {"name", "answers", "expect", "site", "here"}


def parse_cases(raw: dict[str, Any], report: Report, source: str) -> list[Case]:
    lines = header_lines(source)
    check_fields(raw, {"case"}, report, CASES_FILE, "cases.toml", None, lines)
    # Cases are [[case]] entries: find each one's line by counting the headers.
    case_lines = [n for n, name, array in headers(source) if array and name == "case"]
    raw_cases = raw.get("case", [])
    if not isinstance(raw_cases, list):
        report.error(
            CASES_FILE,
            "case",
            "wrong_type",
            lines.get("case"),
            field="case",
            expected="cases",
            value=shown(raw_cases),
        )
        return []
    cases: list[Case] = []
    for i, body in enumerate(raw_cases):
        line = case_lines[i] if i < len(case_lines) else None
        if not isinstance(body, dict):
            report.error(
                CASES_FILE,
                f"case #{i + 1}",
                "wrong_type",
                line,
                field="case",
                expected="table",
                value=shown(body),
            )
            continue
        name = body.get("name")
        node = f"case {name}" if is_kind(name, "id") else f"case #{i + 1}"
        check_fields(body, CASE_FIELDS, report, CASES_FILE, node, line)
        before = len(report.errors)
        typed(body, "name", "id", report, CASES_FILE, node, line)
        answers = typed(body, "answers", "list", report, CASES_FILE, node, line, required=True)
        expect = typed(body, "expect", "id", report, CASES_FILE, node, line, required=True)
        site = typed(body, "site", "id", report, CASES_FILE, node, line)
        here = typed(body, "here", "id", report, CASES_FILE, node, line)
        if answers is not None and not all(_is_answer(a) for a in answers):
            report.error(
                CASES_FILE,
                node,
                "wrong_type",
                line,
                field="answers",
                expected="answers",
                value=shown(answers),
            )
        if len(report.errors) > before:
            continue  # a case that is not written right is not run
        cases.append(
            Case(
                name if isinstance(name, str) else f"#{i + 1}",
                tuple(str(a) for a in answers),
                expect,
                site,
                here,
                line,
            )
        )
    return cases


def _is_answer(value: Any) -> bool:
    """A key (1-9), a postcode (best in quotes) or "-": an int or a text, nothing else."""
    return is_kind(value, "int") or isinstance(value, str)


def run_cases(flow: Flow, cases: list[Case], report: Report) -> None:
    """Each case is a little test of the flow: the answers must end in the expected outcome."""
    for case in cases:
        node = f"case {case.name}"
        if case.here is not None and case.here not in flow.sites:
            report.error(
                CASES_FILE, node, "unknown_site_ref", case.line, field="here", site=case.here
            )
            continue
        try:
            result = route(flow, list(case.answers), case.here)
        except AnswerError as error:
            report.error(
                CASES_FILE,
                node,
                "case_failed_answer",
                case.line,
                answers=" ".join(case.answers),
                error=error.code,
                params=error.params,
            )
            continue
        if result.outcome.id != case.expect:
            report.error(
                CASES_FILE,
                node,
                "case_wrong_outcome",
                case.line,
                expected=case.expect,
                got=result.outcome.id,
            )
        elif case.site is not None and result.destination.id != case.site:
            report.error(
                CASES_FILE,
                node,
                "case_wrong_site",
                case.line,
                expected=case.site,
                got=result.destination.id,
            )


SEARCH_FIELDS = {"query", "expect"}


def parse_searches(raw: dict[str, Any], report: Report, source: str) -> list[SearchCase]:
    """The [[search]] entries of search.toml; one not written right is named and left out."""
    from triage.search import SearchCase, query_words

    lines = header_lines(source)
    check_fields(raw, {"search"}, report, SEARCH_FILE, "search.toml", None, lines)
    entry_lines = [n for n, name, array in headers(source) if array and name == "search"]
    raw_searches = raw.get("search", [])
    if not isinstance(raw_searches, list):
        report.error(
            SEARCH_FILE,
            "search",
            "wrong_type",
            lines.get("search"),
            field="search",
            expected="searches",
            value=shown(raw_searches),
        )
        return []
    searches: list[SearchCase] = []
    for i, body in enumerate(raw_searches):
        line = entry_lines[i] if i < len(entry_lines) else None
        if not isinstance(body, dict):
            report.error(
                SEARCH_FILE,
                f"search #{i + 1}",
                "wrong_type",
                line,
                field="search",
                expected="table",
                value=shown(body),
            )
            continue
        query = body.get("query")
        node = f"search {shown(query)}" if is_kind(query, "id") else f"search #{i + 1}"
        check_fields(body, SEARCH_FIELDS, report, SEARCH_FILE, node, line)
        before = len(report.errors)
        query = typed(body, "query", "id", report, SEARCH_FILE, node, line, required=True)
        expect = typed(body, "expect", "id", report, SEARCH_FILE, node, line, required=True)
        if isinstance(query, str) and query.strip() and not query_words(query):
            report.error(SEARCH_FILE, node, "search_no_words", line)
        if len(report.errors) > before:
            continue  # a search that is not written right is not run
        searches.append(SearchCase(query, expect, line))
    return searches


def run_searches(flow: Flow, searches: list[SearchCase], report: Report) -> SearchCheck:
    """Search each entry as the desk does; name the ones whose node the search cannot give, and
    fail the check when fewer than SEARCH_GOAL of the rest find their node first."""
    from triage.search import SEARCH_GOAL, ErrandIndex, check_searches

    index = ErrandIndex(flow)
    searchable = {entry.node_id for entry in index.entries}
    runnable = []
    for case in searches:
        node = f"search {shown(case.query)}"
        if case.expect not in flow.questions and case.expect not in flow.outcomes:
            report.error(SEARCH_FILE, node, "search_unknown_node", case.line, expect=case.expect)
        elif case.expect not in searchable:
            report.error(SEARCH_FILE, node, "search_not_searchable", case.line, expect=case.expect)
        else:
            runnable.append(case)
    check = check_searches(index, runnable)
    if not check.met:
        report.error(
            SEARCH_FILE,
            "search.toml",
            "search_below_goal",
            None,
            right=check.right,
            total=check.total,
            percent=check.percent,
            goal=round(SEARCH_GOAL * 100),
        )
    return check
