"""Reading data/ (flow, sites, cases) into a validated Flow, with every problem reported at once."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage.flow import FLOW_FILE, Flow, content_version, parse_flow
from triage.model import Problem, Report, check_fields
from triage.sites import SITES_FILE, parse_sites
from triage.walk import AnswerError, route

CASES_FILE = "cases.toml"

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"]+?)\s*\]\]?\s*(#.*)?$")
_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


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

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return self.flow is not None and not self.errors


def header_lines(source: str) -> dict[str, int]:
    """Line of each `[table]` header, so a problem can point at the line to edit."""
    lines: dict[str, int] = {}
    for number, text in enumerate(source.splitlines(), 1):
        match = _HEADER.match(text)
        if match:
            lines.setdefault(match.group(1).replace('"', ""), number)
    return lines


def read_toml(path: Path, report: Report) -> tuple[dict | None, str]:
    """The parsed file and its text (for line numbers), or (None, "") after reporting why not."""
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
        report.error(name, name, "file_unreadable", path=str(path), reason=error.strerror or str(error))
        return None, ""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _AT.search(message)
        line, column = (int(match.group(1)), int(match.group(2))) if match else (None, None)
        detail = _AT.sub("", message).strip()
        report.add(Problem("error", name, name, "toml_syntax", {"detail": detail}, line, column))
        return None, ""
    return data, source


def load(data_dir: Path, check_cases: bool = True) -> Loaded:
    """Read and check everything in data_dir. Never raises for bad content: see Loaded.problems."""
    report = Report()
    raw_sites, sites_source = read_toml(data_dir / SITES_FILE, report)
    raw_flow, flow_source = read_toml(data_dir / FLOW_FILE, report)
    if raw_sites is None or raw_flow is None:
        return Loaded(None, problems=report.problems)
    sites = parse_sites(raw_sites, report, header_lines(sites_source))
    flow = parse_flow(raw_flow, sites, report, header_lines(flow_source),
                      content_version(raw_flow, raw_sites))
    cases: list[Case] = []
    cases_path = data_dir / CASES_FILE
    if check_cases and cases_path.exists():
        raw_cases, cases_source = read_toml(cases_path, report)
        if raw_cases is not None:
            cases = parse_cases(raw_cases, report, cases_source)
    if check_cases and not report.errors:
        run_cases(flow, cases, report)
    return Loaded(flow, cases, report.problems)


def load_or_raise(data_dir: Path) -> Flow:
    """For the app and commands that need a usable flow: FlowInvalid unless there are no errors."""
    loaded = load(data_dir, check_cases=False)
    if not loaded.ok:
        raise FlowInvalid(loaded.errors)
    assert loaded.flow is not None
    return loaded.flow


CASE_FIELDS = {"name", "answers", "expect", "site", "here"}


def parse_cases(raw: dict, report: Report, source: str) -> list[Case]:
    check_fields(raw, {"case"}, report, CASES_FILE, "cases.toml", None)
    # Cases are [[case]] entries: find each one's line by counting the headers.
    case_lines = [n for n, t in enumerate(source.splitlines(), 1) if t.strip().startswith("[[case]]")]
    cases: list[Case] = []
    for i, body in enumerate(raw.get("case", []) or []):
        line = case_lines[i] if i < len(case_lines) else None
        name = str(body.get("name", f"#{i + 1}")) if isinstance(body, dict) else f"#{i + 1}"
        node = f"case {name}"
        if not isinstance(body, dict):
            report.error(CASES_FILE, node, "not_table", line)
            continue
        check_fields(body, CASE_FIELDS, report, CASES_FILE, node, line)
        answers = body.get("answers")
        expect = body.get("expect")
        if not isinstance(answers, list) or not isinstance(expect, str):
            report.error(CASES_FILE, node, "case_incomplete", line)
            continue
        cases.append(Case(name, tuple(str(a) for a in answers), expect,
                          _opt_str(body.get("site")), _opt_str(body.get("here")), line))
    return cases


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def run_cases(flow: Flow, cases: list[Case], report: Report) -> None:
    """Each case is a little test of the flow: the answers must end in the expected outcome."""
    for case in cases:
        node = f"case {case.name}"
        if case.here is not None and case.here not in flow.sites:
            report.error(CASES_FILE, node, "unknown_site_ref", case.line, field="here", site=case.here)
            continue
        try:
            result = route(flow, list(case.answers), case.here)
        except AnswerError as error:
            report.error(CASES_FILE, node, "case_failed_answer", case.line,
                         answers=" ".join(case.answers), error=error.code, params=error.params)
            continue
        if result.outcome.id != case.expect:
            report.error(CASES_FILE, node, "case_wrong_outcome", case.line,
                         expected=case.expect, got=result.outcome.id)
        elif case.site is not None and result.destination.id != case.site:
            report.error(CASES_FILE, node, "case_wrong_site", case.line,
                         expected=case.site, got=result.destination.id)
