"""Every fixed text a person sees, in Danish (the default) and English.

Texts of the flow itself (questions, options, reasons) live in data/flow.toml; this module's
catalogs, triage/locale/da.toml and en.toml, hold the rest: the app's labels, the command line,
and the validator's messages. A catalog is read the first time one of its texts is needed, so
importing this module reads no file, and a Danish desk never reads the English one.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

from triage.model import Problem

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("da", "en")
# A catalog line as the catalogs write them: key = "text" (\" and \\ the only escapes) or
# key = 'text'; a comment; or nothing.
_CATALOG_LINE = re.compile(
    r'([a-z][a-z0-9_]*) = (?:"((?:[^"\\\x00-\x1f\x7f]|\\["\\])*)"|'
    r"'([^'\x00-\x1f\x7f]*)')|#[^\x00-\x08\x0a-\x1f\x7f]*|"
)
_ESCAPED = re.compile(r'\\(["\\])')


@cache
def _load(lang: str) -> dict[str, str]:
    if lang not in LANGUAGES:
        raise KeyError(lang)
    text = (LOCALE_DIR / f"{lang}.toml").read_text(encoding="utf-8")
    if catalog := _read_catalog(text):
        return catalog
    import tomllib  # only for a catalog _read_catalog cannot read: not on the desk's start path

    return tomllib.loads(text)


def _read_catalog(text: str) -> dict[str, str] | None:
    """The catalog read line by line, in a third of the time tomllib takes (the desk reads one
    at start-up); None when any line is not one _CATALOG_LINE reads, for tomllib to read (and
    to say what is wrong)."""
    texts: dict[str, str] = {}
    for line in text.split("\n"):
        found = _CATALOG_LINE.fullmatch(line)
        if found is None:
            return None
        key, basic, literal = found.groups()
        if key is None:  # a comment or an empty line
            continue
        if key in texts:
            return None
        if literal is not None:
            texts[key] = literal
        else:
            texts[key] = _ESCAPED.sub(r"\1", basic) if "\\" in basic else basic
    return texts


class _Catalogs(Mapping[str, dict[str, str]]):
    """Language → {key: text}, each language's file read on first use."""

    def __getitem__(self, lang: str) -> dict[str, str]:
        return _load(lang)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


CATALOG: Mapping[str, dict[str, str]] = _Catalogs()


def __getattr__(name: str) -> dict[str, str]:
    """DA and EN, the two catalogs by name, read when first asked for."""
    if name in ("DA", "EN"):
        return CATALOG[name.lower()]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CountedWords(string.Formatter):
    """{name:one|other} in a text is the word for the count name: one when it is 1, else other.

    Danish and English both have just these two forms for whole numbers. A count may come as a
    number or already formatted for people (count() below: "1", "5.014.728").
    """

    def format_field(self, value: object, format_spec: str) -> str:
        if "|" not in format_spec:
            formatted: str = super().format_field(value, format_spec)
            return formatted
        one, other = format_spec.split("|", 1)
        is_one = value.strip() == "1" if isinstance(value, str) else value == 1
        return one if is_one else other


_COUNTED_WORDS = _CountedWords()


def count(number: int, lang: str = "da") -> str:
    """A whole number as people read it: 5.014.728 in Danish, 5,014,728 in English."""
    return f"{number:,}".replace(",", "." if lang == "da" else ",")


def change(value: float | None) -> str:
    """A relative change or difference for people: +25 %, -3 %, 0 % (never -0 %), or – for none."""
    if value is None:
        return "–"
    percent = round(value * 100)
    return f"{percent:+d} %" if percent else "0 %"


def t(key: str, lang: str = "da", /, **params: object) -> str:
    """The text for key in lang; an unknown key shows itself rather than crashing the desk."""
    texts = CATALOG[lang] if lang in LANGUAGES else CATALOG["da"]
    template = texts.get(key) or CATALOG["da"].get(key) or key
    try:
        if "|" in template:  # a count's word to choose: the slower, general formatter
            return _COUNTED_WORDS.vformat(template, (), params)
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


def problem_text(problem: Problem, lang: str = "da") -> str:
    """One line naming file, line and node, then what is wrong."""
    params = dict(problem.params)
    if problem.code == "case_failed_answer":
        params["error_text"] = t(params.get("error", ""), lang, **params.get("params", {}))
    if problem.code == "wrong_type":
        params["expected"] = t(f"type_{params.get('expected')}", lang)
    if problem.code == "unconfirmed":
        params["what"] = ", ".join(t(f"field_{f}", lang) for f in params.get("fields", []))
    where = problem.file
    if problem.line is not None:
        where += f":{problem.line}"
        if problem.column is not None:
            where += f":{problem.column}"
    node = "" if problem.node == problem.file else f" [{problem.node}]"
    return f"{where}{node}: {t(problem.code, lang, **params)}"
