"""Shared building blocks of the data files: translated texts and the problems a check reports."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

LANGUAGES = ("da", "en")
LOCAL_ZONE = ZoneInfo(
    "Europe/Copenhagen"
)  # the municipality's clock: hours, weekdays, opening times

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Text:
    """A text that exists in every UI language."""

    da: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.da

    def as_dict(self) -> dict[str, str]:
        return {"da": self.da, "en": self.en}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the data files, named by file and node so an editor can find it."""

    severity: Severity
    file: str
    node: str
    code: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)
    line: int | None = None
    column: int | None = None


class Report:
    """Collects problems while files are read, so every problem is reported at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(
        self, file: str, node: str, code: str, line: int | None = None, **params: Any
    ) -> None:
        self.problems.append(Problem("error", file, node, code, params, line))

    def warning(
        self, file: str, node: str, code: str, line: int | None = None, **params: Any
    ) -> None:
        self.problems.append(Problem("warning", file, node, code, params, line))

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def read_text(
    raw: Any, report: Report, file: str, node: str, what: str, line: int | None = None
) -> Text:
    """Read a `{ da = "...", en = "..." }` table; a missing or empty language is a problem."""
    if isinstance(raw, str):
        # A bare string has only one language: say which one is missing rather than guess.
        report.error(file, node, "missing_translation", line, field=what, lang="en")
        return Text(raw, raw)
    if raw is not None and not isinstance(raw, dict):
        report.error(file, node, "wrong_type", line, field=what, expected="texts", value=shown(raw))
        return Text("", "")
    if not isinstance(raw, dict):
        report.error(file, node, "missing_text", line, field=what)
        return Text("", "")
    values = {}
    for lang in LANGUAGES:
        value = raw.get(lang)
        if value is not None and not isinstance(value, str):
            report.error(
                file,
                node,
                "wrong_type",
                line,
                field=f"{what}.{lang}",
                expected="text",
                value=shown(value),
            )
            value = ""
        elif not isinstance(value, str) or not value.strip():
            report.error(file, node, "missing_translation", line, field=what, lang=lang)
            value = ""
        values[lang] = value.strip()
    extra = sorted(set(raw) - set(LANGUAGES))
    if extra:
        report.error(file, node, "unknown_language", line, field=what, langs=", ".join(extra))
    return Text(**values)


def check_fields(
    raw: dict[str, Any],
    allowed: set[str],
    report: Report,
    file: str,
    node: str,
    line: int | None,
    lines: dict[str, int] | None = None,
) -> None:
    """A misspelt field name is silently ignored by TOML; say so instead. `lines`: where each
    top-level name is written, for the fields of a whole file."""
    for name in sorted(set(raw) - allowed):
        report.error(
            file,
            node,
            "unknown_field",
            (lines or {}).get(name, line),
            field=name,
            allowed=", ".join(sorted(allowed)),
        )


# --- the type of each field ----------------------------------------------------------------

# What a field must hold; the i18n key `type_<kind>` says it in words for the editor.
_KINDS = {
    "id": lambda v: isinstance(v, str) and bool(v.strip()),
    "text": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: (
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ),
    "list": lambda v: isinstance(v, list),
    "table": lambda v: isinstance(v, dict),
    "id_list": lambda v: isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v),
    "bool": lambda v: isinstance(v, bool),
}


def is_kind(value: Any, kind: str) -> bool:
    return _KINDS[kind](value)


def typed(
    raw: dict[str, Any],
    name: str,
    kind: str,
    report: Report,
    file: str,
    node: str,
    line: int | None,
    required: bool = False,
) -> Any:
    """raw[name] when it holds the right kind of value; otherwise None, after naming the problem
    (a missing required field, or a value of the wrong kind, shown as it was written)."""
    value = raw.get(name)
    if value is None:
        if required:
            report.error(file, node, "missing_field", line, field=name)
        return None
    if not is_kind(value, kind):
        report.error(file, node, "wrong_type", line, field=name, expected=kind, value=shown(value))
        return None
    return value


def shown(value: Any, limit: int = 40) -> str:
    """A value as it would be written in TOML, cut short: what the editor will find in the file."""
    text = _toml(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _toml(value: Any, depth: int = 0) -> str:
    if depth > 3:
        return "…"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return visible(json.dumps(value, ensure_ascii=False))
    if isinstance(value, list):
        items = [_toml(v, depth + 1) for v in value[:5]] + (["…"] if len(value) > 5 else [])
        return "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        items = [f"{visible(k)} = {_toml(v, depth + 1)}" for k, v in list(value.items())[:5]]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    return str(value)


def visible(text: str) -> str:
    """Control characters written as escapes, so a message never moves the terminal's cursor."""
    return CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# --- control characters and nesting --------------------------------------------------------

# C0 controls but tab and newline, DEL and C1 (ESC [ … and CSI start terminal escape sequences).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MAX_NESTING = 12  # tables and lists inside each other: the data files need five at most


class Flaw(NamedTuple):  # a NamedTuple: cheaper to define than a dataclass, on the start path
    """A control character in a value or key, or nesting too deep, at a path in the parsed file."""

    path: tuple[str | int, ...]
    char: str | None  # the control character; None when the problem is the nesting


def scan(data: dict[str, Any], source: str) -> list[Flaw]:
    """Control characters in every key and string, and nesting deeper than MAX_NESTING, in
    the order written. Iterative, so no file can exhaust the stack."""
    # A control character gets into a value only as itself or as an escape (\u001b, \b):
    # a file with neither, like the shipped ones, needs only its nesting checked (quicker).
    texts = "\\" in source or CONTROL.search(source) is not None
    flaws: list[Flaw] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            found = CONTROL.search(value)
            if found:
                flaws.append(Flaw(path, found.group()))
            continue
        if len(path) >= MAX_NESTING:
            flaws.append(Flaw(path, None))
            continue
        items = value.items() if isinstance(value, dict) else enumerate(value)
        children = []
        for key, item in items:
            found = CONTROL.search(key) if texts and isinstance(key, str) else None
            if found:
                flaws.append(Flaw(path + (key,), found.group()))
            elif isinstance(item, (dict, list)) or (texts and isinstance(item, str)):
                children.append((path + (key,), item))
        stack.extend(reversed(children))  # popped in the order they are written
    return flaws
