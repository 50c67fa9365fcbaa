"""Shared building blocks of the data files: translated texts and the problems a check reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

LANGUAGES = ("da", "en")
LOCAL_ZONE = ZoneInfo("Europe/Copenhagen")  # the municipality's clock: hours, weekdays, opening times

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

    def error(self, file: str, node: str, code: str, line: int | None = None, **params: Any) -> None:
        self.problems.append(Problem("error", file, node, code, params, line))

    def warning(self, file: str, node: str, code: str, line: int | None = None, **params: Any) -> None:
        self.problems.append(Problem("warning", file, node, code, params, line))

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def read_text(raw: Any, report: Report, file: str, node: str, what: str, line: int | None = None) -> Text:
    """Read a `{ da = "...", en = "..." }` table; a missing or empty language is a problem."""
    if isinstance(raw, str):
        # A bare string has only one language: say which one is missing rather than guess.
        report.error(file, node, "missing_translation", line, field=what, lang="en")
        return Text(raw, raw)
    if not isinstance(raw, dict):
        report.error(file, node, "missing_text", line, field=what)
        return Text("", "")
    values = {}
    for lang in LANGUAGES:
        value = raw.get(lang)
        if not isinstance(value, str) or not value.strip():
            report.error(file, node, "missing_translation", line, field=what, lang=lang)
            value = ""
        values[lang] = value.strip()
    extra = sorted(set(raw) - set(LANGUAGES))
    if extra:
        report.error(file, node, "unknown_language", line, field=what, langs=", ".join(extra))
    return Text(**values)


def check_fields(
    raw: dict, allowed: set[str], report: Report, file: str, node: str, line: int | None
) -> None:
    """A misspelt field name is silently ignored by TOML; say so instead."""
    for name in sorted(set(raw) - allowed):
        report.error(file, node, "unknown_field", line, field=name, allowed=", ".join(sorted(allowed)))
